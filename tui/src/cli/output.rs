//! Turning daemon responses and errors into what the command line prints:
//! one JSON document with `--json`, aligned tables and `key: value` lines
//! without.

use std::io::Write;

use latchkey_protocol::{
    ApiError, AuditPage, AuthorizationView, ClientError, ClientView, ClientWithSecret,
    DaemonStatus, GroupList, GroupView, LdapStatusView, LdapSyncReport, LoginCodeCreated,
    LoginCodeView, MailStatusView, PasskeyView, Response, SessionView, SettingView, SettingsView,
    SigningKeyView, UserPage, UserView,
};
use serde_json::{Value, json};

use crate::fmt::{thousands, timestamp, yes_no};

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
        Response::Status { status } => (to_json(status), status_lines(status)),
        Response::Users { page } => (to_json(page), users_table(page)),
        Response::User { user } => (to_json(user), user_lines(user)),
        Response::Groups { list } => (to_json(list), groups_table(list)),
        Response::Group { group } => (to_json(group), group_lines(group)),
        Response::Audit { page } => (to_json(page), audit_table(page)),
        Response::Settings { settings } => (settings.nested(), settings_table(settings)),
        Response::LoginCode { code } => (to_json(code), login_code_lines(code)),
        Response::LoginCodes { codes } => (json!({ "codes": codes }), login_codes_table(codes)),
        Response::Passkeys { passkeys } => {
            (json!({ "passkeys": passkeys }), passkeys_table(passkeys))
        }
        Response::Sessions { sessions } => {
            (json!({ "sessions": sessions }), sessions_table(sessions))
        }
        Response::Client { client } => (to_json(client), client_lines(client)),
        Response::ClientWithSecret { client } => {
            (to_json(client), client_with_secret_lines(client))
        }
        Response::Clients { clients } => (json!({ "clients": clients }), clients_table(clients)),
        Response::SigningKeys { keys } => (json!({ "keys": keys }), keys_table(keys)),
        Response::Claims { claims } => (claims_json(claims), claims_lines(claims)),
        Response::Authorizations { authorizations } => (
            json!({ "authorizations": authorizations }),
            authorizations_table(authorizations),
        ),
        Response::SignupToken { token } => (to_json(token), super::signup::token_lines(token)),
        Response::SignupTokens { tokens } => (
            json!({ "tokens": tokens }),
            super::signup::tokens_table(tokens),
        ),
        Response::LdapSyncReport { report } => (to_json(report), ldap_report_lines(report)),
        Response::LdapStatus { status } => (to_json(status), ldap_status_lines(status)),
        Response::MailStatus { status } => (to_json(status), mail_status_lines(status)),
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

fn to_json<T: serde::Serialize>(value: &T) -> Value {
    // View models are plain data; serialising them cannot fail.
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// Columns padded to their widest cell; the last column is not padded.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut text = String::new();
        for (i, (cell, width)) in cells.zip(&widths).enumerate() {
            if i > 0 {
                text.push_str("  ");
            }
            text.push_str(cell);
            text.extend(std::iter::repeat_n(' ', width - cell.chars().count()));
        }
        format!("{}\n", text.trim_end())
    };
    let mut out = line(&mut headers.iter().copied());
    for row in rows {
        out.push_str(&line(&mut row.iter().map(String::as_str)));
    }
    out
}

/// `key: value` lines with the values aligned.
pub fn key_values(pairs: &[(&str, String)]) -> String {
    let width = pairs.iter().map(|(k, _)| k.len() + 1).max().unwrap_or(0);
    pairs
        .iter()
        .map(|(k, v)| format!("{:width$} {v}\n", format!("{k}:")).replace(" \n", "\n"))
        .collect()
}

fn or_dash(value: &str) -> String {
    if value.is_empty() {
        "-".to_owned()
    } else {
        value.to_owned()
    }
}

pub fn user_lines(user: &UserView) -> String {
    let groups = if user.groups.is_empty() {
        "-".to_owned()
    } else {
        user.groups.join(", ")
    };
    key_values(&[
        ("username", user.username.clone()),
        ("id", user.id.clone()),
        ("email", or_dash(user.email.as_deref().unwrap_or(""))),
        ("email verified", yes_no(user.email_verified).to_owned()),
        ("first name", or_dash(&user.first_name)),
        ("last name", or_dash(&user.last_name)),
        ("display name", or_dash(&user.display_name)),
        ("admin", yes_no(user.is_admin).to_owned()),
        ("disabled", yes_no(user.disabled).to_owned()),
        ("source", user.source.to_string()),
        ("passkeys", user.passkey_count.to_string()),
        ("groups", groups),
        ("created", timestamp(user.created_at)),
        ("updated", timestamp(user.updated_at)),
    ])
}

/// What an LDAP sync did, one count per line, then the skipped entries.
pub fn ldap_report_lines(report: &LdapSyncReport) -> String {
    let mut text = key_values(&[
        ("created", thousands(report.created)),
        ("updated", thousands(report.updated)),
        ("enabled", thousands(report.enabled)),
        ("disabled", thousands(report.disabled)),
        ("deleted", thousands(report.deleted)),
        ("groups created", thousands(report.groups_created)),
        ("groups updated", thousands(report.groups_updated)),
        ("groups deleted", thousands(report.groups_deleted)),
        ("skipped", thousands(report.skipped.len() as u64)),
    ]);
    for skipped in &report.skipped {
        text.push_str(&format!("  {}: {}\n", skipped.entry, skipped.reason));
    }
    text
}

pub fn mail_status_lines(status: &MailStatusView) -> String {
    key_values(&[
        ("configured", yes_no(status.configured).to_owned()),
        ("queued", thousands(status.queued)),
        ("retrying", thousands(status.retrying)),
        ("failed", thousands(status.failed)),
        (
            "last sent",
            status.last_sent_at.map_or("never".to_owned(), timestamp),
        ),
        (
            "last error",
            or_dash(status.last_error.as_deref().unwrap_or("")),
        ),
    ])
}

pub fn ldap_status_lines(status: &LdapStatusView) -> String {
    let mut text = key_values(&[
        ("enabled", yes_no(status.enabled).to_owned()),
        ("running", yes_no(status.running).to_owned()),
        (
            "last sync",
            status
                .last_sync_at
                .map_or("never (since the daemon started)".to_owned(), timestamp),
        ),
        (
            "last error",
            or_dash(status.last_error.as_deref().unwrap_or("")),
        ),
    ]);
    if let Some(report) = &status.last_report {
        text.push_str("\nlast report:\n");
        text.push_str(&ldap_report_lines(report));
    }
    text
}

pub fn users_table(page: &UserPage) -> String {
    if page.users.is_empty() {
        return format!("No users here ({} in all).\n", thousands(page.total));
    }
    let rows: Vec<Vec<String>> = page
        .users
        .iter()
        .map(|u| {
            vec![
                u.username.clone(),
                or_dash(&u.display_name),
                or_dash(u.email.as_deref().unwrap_or("")),
                yes_no(u.is_admin).to_owned(),
                yes_no(u.disabled).to_owned(),
                u.passkey_count.to_string(),
                u.source.to_string(),
            ]
        })
        .collect();
    let first = page.offset + 1;
    let last = page.offset + page.users.len() as u64;
    format!(
        "{}\n{}–{} of {} users\n",
        table(
            &[
                "USERNAME", "NAME", "EMAIL", "ADMIN", "DISABLED", "PASSKEYS", "SOURCE"
            ],
            &rows
        ),
        thousands(first),
        thousands(last),
        thousands(page.total)
    )
}

pub fn groups_table(list: &GroupList) -> String {
    if list.groups.is_empty() {
        return "No groups yet.\n".to_owned();
    }
    let rows: Vec<Vec<String>> = list
        .groups
        .iter()
        .map(|g| {
            vec![
                g.name.clone(),
                or_dash(&g.friendly_name),
                g.member_count.to_string(),
                g.source.to_string(),
            ]
        })
        .collect();
    table(&["NAME", "FRIENDLY NAME", "MEMBERS", "SOURCE"], &rows)
}

pub fn group_lines(group: &GroupView) -> String {
    let members = if group.members.is_empty() {
        "-".to_owned()
    } else {
        group
            .members
            .iter()
            .map(|m| m.username.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    key_values(&[
        ("name", group.name.clone()),
        ("id", group.id.clone()),
        ("friendly name", or_dash(&group.friendly_name)),
        ("source", group.source.to_string()),
        ("created", timestamp(group.created_at)),
        ("members", members),
    ])
}

pub fn audit_table(page: &AuditPage) -> String {
    if page.events.is_empty() {
        return "No audit events.\n".to_owned();
    }
    let rows: Vec<Vec<String>> = page
        .events
        .iter()
        .map(|e| {
            let details = e
                .details
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" ");
            vec![
                timestamp(e.at),
                e.event.clone(),
                e.actor.clone(),
                or_dash(e.subject.as_deref().unwrap_or("")),
                or_dash(e.ip.as_deref().unwrap_or("")),
                details,
            ]
        })
        .collect();
    table(&["AT", "EVENT", "ACTOR", "SUBJECT", "IP", "DETAILS"], &rows)
}

pub fn settings_table(settings: &SettingsView) -> String {
    let rows: Vec<Vec<String>> = settings
        .settings
        .iter()
        .map(|s| {
            let meaning = match &s.warning {
                Some(warning) => format!("{} (warning: {warning})", s.description),
                None => s.description.clone(),
            };
            vec![s.key.clone(), setting_value(s), meaning]
        })
        .collect();
    table(&["KEY", "VALUE", "MEANING"], &rows)
}

/// The link, the code and when it expires, then the link as a QR code to
/// scan from the terminal.
/// A setting's value as people read it: text bare, lists comma-separated,
/// write-only secrets as `set` or `unset`.
pub fn setting_value(setting: &SettingView) -> String {
    match (&setting.value, setting.write_only) {
        (Value::Null, true) => "unset".to_owned(),
        (_, true) => "set".to_owned(),
        (Value::Null, false) => "-".to_owned(),
        (Value::String(text), false) => text.clone(),
        (Value::Array(items), false) => {
            let items: Vec<String> = items
                .iter()
                .map(|item| match item {
                    Value::String(text) => text.clone(),
                    other => other.to_string(),
                })
                .collect();
            if items.is_empty() {
                "-".to_owned()
            } else {
                items.join(", ")
            }
        }
        (other, false) => other.to_string(),
    }
}

pub fn login_code_lines(code: &LoginCodeCreated) -> String {
    let mut text = key_values(&[
        ("link", code.url.clone()),
        ("code", code.code.clone()),
        ("expires", timestamp(code.expires_at)),
        ("emailed", yes_no(code.emailed).to_owned()),
    ]);
    if let Some(lines) = crate::qr::lines(&code.url) {
        text.push('\n');
        for line in lines {
            text.push_str(&line);
            text.push('\n');
        }
    }
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

pub fn status_lines(status: &DaemonStatus) -> String {
    key_values(&[
        ("daemon", format!("latchkeyd {}", status.daemon_version)),
        ("public url", status.public_url.clone()),
        ("data dir", status.data_dir.clone()),
        ("users", thousands(status.user_count)),
        ("admins", thousands(status.admin_count)),
        ("groups", thousands(status.group_count)),
        ("started", timestamp(status.started_at)),
    ])
}

/// Why a command failed, and the exit status that says so.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The daemon is not running or the socket is wrong (exit 3).
    #[error("cannot reach latchkeyd at {path}: {reason}")]
    Unreachable { path: String, reason: String },
    /// The daemon answered with an error (exit 1).
    #[error("{0}")]
    Api(ApiError),
    /// The daemon said something we cannot use (exit 1).
    #[error("{0}")]
    Daemon(String),
}

impl CliError {
    pub fn from_client(path: &std::path::Path, error: ClientError) -> CliError {
        match error {
            ClientError::Api(api) | ClientError::Rejected(api) => CliError::Api(api),
            ClientError::Connect { source, .. } => CliError::Unreachable {
                path: path.display().to_string(),
                reason: source.to_string(),
            },
            e @ (ClientError::Closed | ClientError::Frame(_)) => CliError::Unreachable {
                path: path.display().to_string(),
                reason: e.to_string(),
            },
            e @ ClientError::Protocol(_) => CliError::Daemon(e.to_string()),
        }
    }

    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Unreachable { .. } => 3,
            CliError::Api(_) | CliError::Daemon(_) => 1,
        }
    }

    /// The `{"error":{…}}` document printed on stderr with `--json`.
    pub fn to_json(&self) -> Value {
        let (code, field) = match self {
            CliError::Unreachable { .. } => (json!("unreachable"), None),
            CliError::Api(api) => (to_json(&api.code), api.field.clone()),
            CliError::Daemon(_) => (json!("protocol"), None),
        };
        let message = match self {
            CliError::Api(api) => api.message.clone(),
            other => other.to_string(),
        };
        json!({ "error": { "code": code, "message": message, "field": field } })
    }

    pub fn write(&self, err: &mut dyn Write, json: bool) -> std::io::Result<()> {
        if json {
            return writeln!(err, "{}", self.to_json());
        }
        match self {
            CliError::Api(ApiError {
                field: Some(field),
                message,
                ..
            }) => writeln!(err, "latchkey: {field}: {message}"),
            CliError::Unreachable { .. } => writeln!(
                err,
                "latchkey: {self}\n  Is the daemon running? Start it with `latchkeyd`, or point at \
                 its socket with --socket PATH or LATCHKEY_SOCKET."
            ),
            other => writeln!(err, "latchkey: {other}"),
        }
    }
}

/// `10 minutes (default)` or `5 minutes`.
pub fn lifetime_text(secs: Option<u64>, default: u64) -> String {
    match secs {
        Some(secs) => crate::fmt::duration(secs),
        None => format!("{} (default)", crate::fmt::duration(default)),
    }
}

fn list_or_dash(items: &[String], separator: &str) -> String {
    if items.is_empty() {
        "-".to_owned()
    } else {
        items.join(separator)
    }
}

pub fn client_kind(client: &ClientView) -> &'static str {
    if client.public {
        "public"
    } else {
        "confidential"
    }
}

pub fn client_lines(client: &ClientView) -> String {
    key_values(&client_pairs(client))
}

fn client_pairs(client: &ClientView) -> Vec<(&'static str, String)> {
    let groups = if client.allowed_groups.is_empty() {
        "everyone".to_owned()
    } else {
        client.allowed_groups.join(", ")
    };
    vec![
        ("name", client.name.clone()),
        ("client id", client.client_id.clone()),
        ("type", client_kind(client).to_owned()),
        ("redirect uris", list_or_dash(&client.redirect_uris, " ")),
        (
            "logout uris",
            list_or_dash(&client.logout_redirect_uris, " "),
        ),
        (
            "pkce required",
            yes_no(client.public || client.require_pkce).to_owned(),
        ),
        ("skip consent", yes_no(client.skip_consent).to_owned()),
        (
            "wildcards",
            yes_no(client.allow_wildcard_redirects).to_owned(),
        ),
        ("allowed groups", groups),
        (
            "code lifetime",
            lifetime_text(client.lifetimes.code_secs, 600),
        ),
        (
            "access token",
            lifetime_text(client.lifetimes.access_token_secs, 3600),
        ),
        (
            "refresh token",
            lifetime_text(client.lifetimes.refresh_token_secs, 30 * 86_400),
        ),
        (
            "refresh limit",
            lifetime_text(client.lifetimes.refresh_max_secs, 90 * 86_400),
        ),
        ("created", timestamp(client.created_at)),
    ]
}

/// The client, then its secret.
pub fn client_with_secret_lines(client: &ClientWithSecret) -> String {
    let mut pairs = client_pairs(&client.client);
    pairs.push((
        "client secret",
        client
            .client_secret
            .clone()
            .unwrap_or_else(|| "none (public client)".to_owned()),
    ));
    key_values(&pairs)
}

pub fn clients_table(clients: &[ClientView]) -> String {
    if clients.is_empty() {
        return "No clients yet. Create one with `latchkey client create`.\n".to_owned();
    }
    let rows: Vec<Vec<String>> = clients
        .iter()
        .map(|c| {
            let uris = match c.redirect_uris.as_slice() {
                [] => "-".to_owned(),
                [one] => one.clone(),
                [first, rest @ ..] => format!("{first} (+{})", rest.len()),
            };
            vec![
                c.client_id.clone(),
                c.name.clone(),
                client_kind(c).to_owned(),
                list_or_dash(&c.allowed_groups, ","),
                uris,
            ]
        })
        .collect();
    table(
        &["CLIENT ID", "NAME", "TYPE", "GROUPS", "REDIRECT URIS"],
        &rows,
    )
}

pub fn keys_table(keys: &[SigningKeyView]) -> String {
    if keys.is_empty() {
        return "No signing keys.\n".to_owned();
    }
    let rows: Vec<Vec<String>> = keys
        .iter()
        .map(|k| {
            vec![
                k.kid.clone(),
                k.alg.clone(),
                k.state.clone(),
                timestamp(k.created_at),
                k.retire_at.map_or_else(|| "-".to_owned(), timestamp),
            ]
        })
        .collect();
    table(&["KID", "ALG", "STATE", "CREATED", "RETIRES"], &rows)
}

/// `{"claims": {name: value, …}}`, in the order they were set.
fn claims_json(claims: &[(String, Value)]) -> Value {
    let map: serde_json::Map<String, Value> = claims.iter().cloned().collect();
    json!({ "claims": map })
}

/// `KEY=JSON` lines: what `claims set` takes back.
pub fn claims_lines(claims: &[(String, Value)]) -> String {
    if claims.is_empty() {
        return "No custom claims.\n".to_owned();
    }
    claims
        .iter()
        .map(|(name, value)| format!("{name}={value}\n"))
        .collect()
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
