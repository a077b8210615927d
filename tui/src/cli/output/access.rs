//! How a user gets in, as the command line prints it: login codes (with a
//! QR code of the link), passkeys, sessions, authorized apps and signup
//! links.

use latchkey_protocol::{
    AuthorizationView, LoginCodeCreated, LoginCodeView, PasskeyView, SessionView,
    SignupTokenCreated, SignupTokenView,
};

use super::layout::{key_values, or_dash, table};
use crate::fmt::{timestamp, yes_no};

/// The link, the code and when it expires, then the link as a QR code to
/// scan from the terminal.
pub fn login_code_lines(code: &LoginCodeCreated) -> String {
    let mut text = key_values(&[
        ("link", code.url.clone()),
        ("code", code.code.clone()),
        ("expires", timestamp(code.expires_at)),
        ("emailed", yes_no(code.emailed).to_owned()),
    ]);
    text.push_str(&crate::qr::printed(&code.url));
    text
}

pub fn login_codes_table(codes: &[LoginCodeView]) -> String {
    if codes.is_empty() {
        return "No outstanding login codes.\n".to_owned();
    }
    let rows: Vec<Vec<String>> = codes
        .iter()
        .map(|c| {
            vec![
                c.id.clone(),
                timestamp(c.created_at),
                timestamp(c.expires_at),
                c.created_by.clone(),
            ]
        })
        .collect();
    table(&["ID", "CREATED", "EXPIRES", "CREATED BY"], &rows)
}

pub fn passkeys_table(passkeys: &[PasskeyView]) -> String {
    if passkeys.is_empty() {
        return "No passkeys.\n".to_owned();
    }
    let rows: Vec<Vec<String>> = passkeys
        .iter()
        .map(|p| {
            vec![
                p.id.clone(),
                p.name.clone(),
                if p.synced { "synced" } else { "device-bound" }.to_owned(),
                timestamp(p.created_at),
                p.last_used_at.map_or_else(|| "never".to_owned(), timestamp),
            ]
        })
        .collect();
    table(&["ID", "NAME", "KIND", "CREATED", "LAST USED"], &rows)
}

pub fn sessions_table(sessions: &[SessionView]) -> String {
    if sessions.is_empty() {
        return "No active sessions.\n".to_owned();
    }
    let rows: Vec<Vec<String>> = sessions
        .iter()
        .map(|s| {
            vec![
                s.id.clone(),
                format!("{:?}", s.method).to_lowercase(),
                or_dash(s.ip.as_deref().unwrap_or("")),
                timestamp(s.created_at),
                timestamp(s.expires_at),
                or_dash(s.user_agent.as_deref().unwrap_or("")),
            ]
        })
        .collect();
    table(
        &["ID", "METHOD", "IP", "SIGNED IN", "EXPIRES", "BROWSER"],
        &rows,
    )
}

pub fn authorizations_table(authorizations: &[AuthorizationView]) -> String {
    if authorizations.is_empty() {
        return "No authorized apps.\n".to_owned();
    }
    let rows: Vec<Vec<String>> = authorizations
        .iter()
        .map(|a| {
            vec![
                a.client_id.clone(),
                a.client_name.clone(),
                a.scopes.join(" "),
                timestamp(a.granted_at),
            ]
        })
        .collect();
    table(&["CLIENT ID", "APP", "SCOPES", "GRANTED"], &rows)
}

fn groups_text(groups: &[String]) -> String {
    if groups.is_empty() {
        "-".to_owned()
    } else {
        groups.join(", ")
    }
}

/// The new link, what it allows, and a QR code of it.
pub fn token_lines(token: &SignupTokenCreated) -> String {
    let mut text = key_values(&[
        ("link", token.url.clone()),
        ("id", token.id.clone()),
        ("expires", timestamp(token.expires_at)),
        ("uses", format!("0 / {}", token.usage_limit)),
        ("groups", groups_text(&token.groups)),
    ]);
    text.push_str(&crate::qr::printed(&token.url));
    text
}

pub fn tokens_table(tokens: &[SignupTokenView]) -> String {
    if tokens.is_empty() {
        return "No active signup tokens.\n".to_owned();
    }
    let rows: Vec<Vec<String>> = tokens
        .iter()
        .map(|t| {
            vec![
                t.id.clone(),
                format!("{}…", t.prefix),
                format!("{} / {}", t.uses, t.usage_limit),
                timestamp(t.expires_at),
                groups_text(&t.groups),
                timestamp(t.created_at),
            ]
        })
        .collect();
    table(
        &["ID", "TOKEN", "USES", "EXPIRES", "GROUPS", "CREATED"],
        &rows,
    )
}
