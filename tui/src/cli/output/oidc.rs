//! OpenID Connect clients, signing keys and custom claims as the command
//! line prints them.

use latchkey_protocol::{ClientView, ClientWithSecret, SigningKeyView};
use serde_json::{Value, json};

use super::layout::{key_values, list_or_dash, table};
use crate::fmt::{timestamp, yes_no};

/// `10 minutes (default)` or `5 minutes`.
pub fn lifetime_text(secs: Option<u64>, default: u64) -> String {
    match secs {
        Some(secs) => crate::fmt::duration(secs),
        None => format!("{} (default)", crate::fmt::duration(default)),
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
        ("par required", yes_no(client.require_par).to_owned()),
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
pub fn claims_json(claims: &[(String, Value)]) -> Value {
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
