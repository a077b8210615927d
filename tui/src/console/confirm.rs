//! A yes/no question before something that cannot be undone. Only a typed
//! `y` confirms; Enter does not, so a stray keypress never deletes anything.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Padding, Paragraph, Wrap};

use super::theme;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfirmAction {
    DeleteUser {
        id: String,
        username: String,
    },
    DeleteGroup {
        name: String,
    },
    RemoveMember {
        group: String,
        username: String,
    },
    /// `user` is the owner's id; `username` and `name` are for people.
    RevokePasskey {
        user: String,
        username: String,
        id: String,
        name: String,
    },
    RevokeLoginCode {
        user: String,
        username: String,
        id: String,
    },
    RevokeSession {
        user: String,
        username: String,
        id: String,
    },
    /// An app's access to the user; `client_name` is for people.
    RevokeAuthorization {
        user: String,
        username: String,
        client_id: String,
        client_name: String,
    },
    RotateClientSecret {
        client_id: String,
        name: String,
    },
    /// A signup token, by id; `prefix` is for people.
    RevokeSignupToken {
        id: String,
        prefix: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirm {
    pub title: String,
    pub message: String,
    pub action: ConfirmAction,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfirmKey {
    Yes,
    No,
    Ignored,
}

impl Confirm {
    pub fn new(action: ConfirmAction) -> Confirm {
        let (title, message) = match &action {
            ConfirmAction::DeleteUser { username, .. } => (
                "Delete user",
                format!(
                    "Delete {username}? Their passkeys, sessions and group memberships go too. \
                     This cannot be undone."
                ),
            ),
            ConfirmAction::DeleteGroup { name } => (
                "Delete group",
                format!("Delete the group {name}? Its members stay; only the group goes."),
            ),
            ConfirmAction::RemoveMember { group, username } => {
                ("Remove member", format!("Remove {username} from {group}?"))
            }
            ConfirmAction::RevokePasskey { username, name, .. } => (
                "Revoke passkey",
                format!(
                    "Revoke {username}'s passkey \"{name}\"? They can no longer sign in with it; \
                     only they can add a new one."
                ),
            ),
            ConfirmAction::RevokeLoginCode { username, .. } => (
                "Revoke login code",
                format!("Revoke this login code for {username}? Its link stops working."),
            ),
            ConfirmAction::RevokeAuthorization {
                username,
                client_name,
                ..
            } => (
                "Revoke app access",
                format!(
                    "Revoke {client_name}'s access to {username}? Its tokens stop working; \
                     the app asks for consent again next time."
                ),
            ),
            ConfirmAction::RotateClientSecret { name, .. } => (
                "Rotate client secret",
                format!(
                    "Give {name} a new secret? The current one stops working at once; \
                     the application needs the new one."
                ),
            ),
            ConfirmAction::RevokeSession { username, .. } => (
                "Sign out",
                format!("End this session of {username}? That browser is signed out."),
            ),
            ConfirmAction::RevokeSignupToken { prefix, .. } => (
                "Revoke signup token",
                format!("Revoke the signup link {prefix}…? It stops creating accounts at once."),
            ),
        };
        Confirm {
            title: title.to_owned(),
            message,
            action,
        }
    }

    pub fn on_key(&self, key: KeyEvent) -> ConfirmKey {
        match key.code {
            KeyCode::Char('y') | KeyCode::Char('Y') => ConfirmKey::Yes,
            KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc | KeyCode::Char('q') => {
                ConfirmKey::No
            }
            _ => ConfirmKey::Ignored,
        }
    }
}

pub fn render(confirm: &Confirm, frame: &mut Frame, area: Rect) {
    let popup = super::centered(area, 58, 7);
    frame.render_widget(Clear, popup);
    let block = Block::bordered()
        .title(format!(" {} ", confirm.title))
        .border_style(theme::error())
        .padding(Padding::horizontal(1));
    let text = vec![
        Line::raw(confirm.message.as_str()),
        Line::raw(""),
        Line::from(vec![
            Span::raw("Type "),
            Span::styled("y", theme::key()),
            Span::raw(" to confirm, "),
            Span::styled("n", theme::key()),
            Span::raw(" or "),
            Span::styled("Esc", theme::key()),
            Span::raw(" to cancel."),
        ]),
    ];
    frame.render_widget(
        Paragraph::new(text).block(block).wrap(Wrap { trim: true }),
        popup,
    );
}
