//! Turning daemon responses into what the command line prints: one JSON
//! document with `--json`, aligned tables and `key: value` lines without.
//! This module picks the shape for each response; its submodules draw them.

mod access;
mod directory;
mod layout;
mod oidc;
mod state;

use std::io::Write;

use latchkey_protocol::Response;
use serde_json::{Value, json};

pub use layout::{key_values, table};

/// A command's result in both shapes; which one is printed is decided last.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub json: Value,
    pub human: String,
}

impl Rendered {
    pub fn write(&self, out: &mut dyn Write, json: bool) -> std::io::Result<()> {
        if json {
            writeln!(out, "{}", serde_json::to_string_pretty(&self.json)?)
        } else {
            write!(out, "{}", self.human)?;
            if !self.human.ends_with('\n') {
                writeln!(out)?;
            }
            Ok(())
        }
    }
}

/// Renders any response. `note` is a sentence for people ("Deleted user
/// alice.") printed before the details; scripts get the JSON alone.
pub fn render(response: &Response, note: Option<String>) -> Rendered {
    let (json, details) = match response {
        Response::Status { status } => (to_json(status), state::status_lines(status)),
        Response::Users { page } => (to_json(page), directory::users_table(page)),
        Response::User { user } => (to_json(user), directory::user_lines(user)),
        Response::Groups { list } => (to_json(list), directory::groups_table(list)),
        Response::Group { group } => (to_json(group), directory::group_lines(group)),
        Response::Audit { page } => (to_json(page), state::audit_table(page)),
        Response::Settings { settings } => (settings.nested(), state::settings_table(settings)),
        Response::LoginCode { code } => (to_json(code), access::login_code_lines(code)),
        Response::LoginCodes { codes } => {
            (json!({ "codes": codes }), access::login_codes_table(codes))
        }
        Response::Passkeys { passkeys } => (
            json!({ "passkeys": passkeys }),
            access::passkeys_table(passkeys),
        ),
        Response::Sessions { sessions } => (
            json!({ "sessions": sessions }),
            access::sessions_table(sessions),
        ),
        Response::Client { client } => (to_json(client), oidc::client_lines(client)),
        Response::ClientWithSecret { client } => {
            (to_json(client), oidc::client_with_secret_lines(client))
        }
        Response::Clients { clients } => {
            (json!({ "clients": clients }), oidc::clients_table(clients))
        }
        Response::SigningKeys { keys } => (json!({ "keys": keys }), oidc::keys_table(keys)),
        Response::Claims { claims } => (oidc::claims_json(claims), oidc::claims_lines(claims)),
        Response::Authorizations { authorizations } => (
            json!({ "authorizations": authorizations }),
            access::authorizations_table(authorizations),
        ),
        Response::SignupToken { token } => (to_json(token), access::token_lines(token)),
        Response::SignupTokens { tokens } => {
            (json!({ "tokens": tokens }), access::tokens_table(tokens))
        }
        Response::LdapSyncReport { report } => (to_json(report), state::ldap_report_lines(report)),
        Response::LdapStatus { status } => (to_json(status), state::ldap_status_lines(status)),
        Response::MailStatus { status } => (to_json(status), state::mail_status_lines(status)),
        Response::BackupReady { backup } => (to_json(backup), String::new()),
        Response::BackupChunk { data } => (json!({ "base64_bytes": data.len() }), String::new()),
        Response::Done => (json!({ "ok": true }), String::new()),
    };
    let human = match (note, details.is_empty()) {
        (Some(note), true) => format!("{note}\n"),
        (Some(note), false) => format!("{note}\n\n{details}"),
        (None, true) => "Done.\n".to_owned(),
        (None, false) => details,
    };
    Rendered { json, human }
}

pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> Value {
    // View models are plain data; serialising them cannot fail.
    serde_json::to_value(value).unwrap_or(Value::Null)
}
