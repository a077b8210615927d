//! `latchkey signup-token create|list|revoke`: arguments to requests, and how
//! the answers print for people.

use latchkey_protocol::{NewSignupToken, Request, SignupTokenCreated, SignupTokenView};

use super::Plan;
use super::args::SignupTokenCommand;
use super::output::{key_values, table};
use crate::fmt::timestamp;

pub fn plan(command: SignupTokenCommand) -> Plan {
    match command {
        SignupTokenCommand::Create {
            expires,
            uses,
            groups,
        } => Plan::new(Request::CreateSignupToken {
            token: NewSignupToken {
                expires_in_secs: expires.as_secs(),
                usage_limit: uses,
                groups,
            },
        })
        .note("Signup link (shown only now):".to_owned()),
        SignupTokenCommand::List => Plan::new(Request::ListSignupTokens),
        SignupTokenCommand::Revoke { id } => {
            let note = format!("Revoked signup token {id}.");
            Plan::new(Request::RevokeSignupToken { id }).note(note)
        }
    }
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
    if let Some(lines) = crate::qr::lines(&token.url) {
        text.push('\n');
        for line in lines {
            text.push_str(&line);
            text.push('\n');
        }
    }
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
