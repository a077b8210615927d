//! Which screen is up, and the tabs of the status bar.

use latchkey_protocol::UserView;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Screen {
    Users,
    /// `loading` until the full record (with groups) arrives.
    UserDetail {
        user: Box<UserView>,
        loading: bool,
    },
    Groups,
    GroupMembers {
        name: String,
    },
    /// OIDC clients and signing keys.
    Clients,
    Audit,
    Settings,
    /// Signup tokens, reached from Settings (`t`).
    SignupTokens,
    /// LDAP sync status, opened from Settings with `L`.
    Ldap,
}

/// The tabs in the status bar, in Tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Users,
    Groups,
    Audit,
    Clients,
    Settings,
}

impl Tab {
    pub const ALL: [Tab; 5] = [
        Tab::Users,
        Tab::Groups,
        Tab::Audit,
        Tab::Clients,
        Tab::Settings,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Tab::Users => "Users",
            Tab::Groups => "Groups",
            Tab::Clients => "Clients",
            Tab::Audit => "Audit",
            Tab::Settings => "Settings",
        }
    }
}

impl Screen {
    pub fn tab(&self) -> Tab {
        match self {
            Screen::Users | Screen::UserDetail { .. } => Tab::Users,
            Screen::Groups | Screen::GroupMembers { .. } => Tab::Groups,
            Screen::Clients => Tab::Clients,
            Screen::Audit => Tab::Audit,
            Screen::Settings | Screen::SignupTokens | Screen::Ldap => Tab::Settings,
        }
    }
}
