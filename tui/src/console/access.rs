//! What the user detail view shows besides the user's fields: their
//! passkeys, outstanding login codes, sessions and authorized apps (each
//! revocable, never addable: users enrol their own passkeys and consent to
//! apps themselves), their custom claims and their recent audit events.

use crossterm::event::KeyEvent;
use latchkey_protocol::{
    AuditEventView, AuditQuery, AuthorizationView, ClaimOwner, LoginCodeView, PasskeyView, Request,
    SessionView,
};

use super::claims::Claims;
use super::loaded::Loaded;

/// One of the lists the detail view loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Part {
    Passkeys,
    Codes,
    Sessions,
    /// The OIDC clients the user consented to.
    Authorizations,
    Claims,
    Audit,
}

impl Part {
    pub const ALL: [Part; 6] = [
        Part::Passkeys,
        Part::Codes,
        Part::Sessions,
        Part::Authorizations,
        Part::Claims,
        Part::Audit,
    ];

    /// The request that loads this part for `user` (an id).
    pub fn request(self, user: &str) -> Request {
        let user = user.to_owned();
        match self {
            Part::Passkeys => Request::ListPasskeys { user },
            Part::Codes => Request::ListLoginCodes { user },
            Part::Sessions => Request::ListSessions { user },
            Part::Authorizations => Request::ListAuthorizations { user },
            Part::Claims => Request::GetClaims {
                owner: ClaimOwner::User(user),
            },
            Part::Audit => Request::ListAudit {
                query: AuditQuery {
                    user: Some(user),
                    limit: RECENT_AUDIT,
                    before: None,
                },
            },
        }
    }
}

/// How many of the user's audit events the detail view shows.
pub const RECENT_AUDIT: u32 = 10;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessView {
    /// Whose lists these are (a user id).
    pub user: String,
    pub passkeys: Loaded<Vec<PasskeyView>>,
    pub codes: Loaded<Vec<LoginCodeView>>,
    pub sessions: Loaded<Vec<SessionView>>,
    pub authorizations: Loaded<Vec<AuthorizationView>>,
    /// Shown, not selectable: `c` edits them all at once.
    pub claims: Loaded<Claims>,
    pub audit: Loaded<Vec<AuditEventView>>,
    /// Index into [`AccessView::items`].
    pub selected: usize,
}

/// A revocable thing in the detail view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Item<'a> {
    Passkey(&'a PasskeyView),
    Code(&'a LoginCodeView),
    Session(&'a SessionView),
    Authorization(&'a AuthorizationView),
}

impl AccessView {
    pub fn new(user: &str) -> AccessView {
        AccessView {
            user: user.to_owned(),
            passkeys: Loaded::Loading,
            codes: Loaded::Loading,
            sessions: Loaded::Loading,
            authorizations: Loaded::Loading,
            claims: Loaded::Loading,
            audit: Loaded::Loading,
            selected: 0,
        }
    }

    /// Passkeys, then login codes, then sessions, then authorized apps: the
    /// order they are drawn.
    pub fn items(&self) -> Vec<Item<'_>> {
        let mut items = Vec::new();
        if let Some(passkeys) = self.passkeys.ready() {
            items.extend(passkeys.iter().map(Item::Passkey));
        }
        if let Some(codes) = self.codes.ready() {
            items.extend(codes.iter().map(Item::Code));
        }
        if let Some(sessions) = self.sessions.ready() {
            items.extend(sessions.iter().map(Item::Session));
        }
        if let Some(authorizations) = self.authorizations.ready() {
            items.extend(authorizations.iter().map(Item::Authorization));
        }
        items
    }

    pub fn selected_item(&self) -> Option<Item<'_>> {
        self.items().get(self.selected).copied()
    }

    /// Moves the selection; `false` when the key is not a movement.
    pub fn step(&mut self, key: KeyEvent) -> bool {
        match super::selection::step(self.selected, self.items().len(), key, 5) {
            Some(next) => {
                self.selected = next;
                true
            }
            None => false,
        }
    }

    fn clamp(&mut self) {
        self.selected = self.selected.min(self.items().len().saturating_sub(1));
    }

    pub fn set_passkeys(&mut self, value: Loaded<Vec<PasskeyView>>) {
        self.passkeys = value;
        self.clamp();
    }

    pub fn set_codes(&mut self, value: Loaded<Vec<LoginCodeView>>) {
        self.codes = value;
        self.clamp();
    }

    pub fn set_sessions(&mut self, value: Loaded<Vec<SessionView>>) {
        self.sessions = value;
        self.clamp();
    }

    pub fn set_authorizations(&mut self, value: Loaded<Vec<AuthorizationView>>) {
        self.authorizations = value;
        self.clamp();
    }

    /// Marks a part as failed with the daemon's message.
    pub fn fail(&mut self, part: Part, message: String) {
        match part {
            Part::Passkeys => self.set_passkeys(Loaded::Failed(message)),
            Part::Codes => self.set_codes(Loaded::Failed(message)),
            Part::Sessions => self.set_sessions(Loaded::Failed(message)),
            Part::Authorizations => self.set_authorizations(Loaded::Failed(message)),
            Part::Claims => self.claims = Loaded::Failed(message),
            Part::Audit => self.audit = Loaded::Failed(message),
        }
    }
}
