//! The command-line grammar (clap derive). Names here are part of the product:
//! add, never rename (see DESIGN.md, "The command-line contract").

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "latchkey",
    version,
    about = "The Latchkey admin console and command line",
    long_about = "Without a command, opens the console. With one, talks to latchkeyd over its \
                  admin socket and prints the result (one JSON document with --json)."
)]
pub struct Cli {
    /// The daemon's admin socket [default: $LATCHKEY_SOCKET, else
    /// $LATCHKEY_DATA_DIR/latchkey.sock, else ./data/latchkey.sock]
    #[arg(long, global = true, value_name = "PATH")]
    pub socket: Option<PathBuf>,
    /// Print one JSON document on stdout (errors as JSON on stderr)
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Option<Noun>,
}

#[derive(Debug, Subcommand)]
pub enum Noun {
    /// Manage user accounts
    #[command(subcommand)]
    User(UserCommand),
    /// Manage groups and their members
    #[command(subcommand)]
    Group(GroupCommand),
    /// List and revoke a user's passkeys (users enrol their own)
    #[command(subcommand)]
    Passkey(PasskeyCommand),
    /// Give a user a one-time sign-in link and code
    #[command(subcommand)]
    LoginCode(LoginCodeCommand),
    /// List and revoke a user's browser sessions
    #[command(subcommand)]
    Session(SessionCommand),
    /// Signup links people create their own accounts with (setting signups.mode = token)
    #[command(subcommand)]
    SignupToken(SignupTokenCommand),
    /// Show and change the application settings
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Read the audit log
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Manage OpenID Connect clients (relying applications)
    #[command(subcommand)]
    Client(ClientCommand),
    /// List and rotate the token signing keys
    #[command(subcommand)]
    Key(KeyCommand),
    /// Show and set custom ID-token claims of a user or group
    #[command(subcommand)]
    Claims(ClaimsCommand),
    /// Import users and groups from the LDAP directory
    #[command(subcommand)]
    Ldap(LdapCommand),
    /// Send a test email, or show the outgoing mail queue
    #[command(subcommand)]
    Email(EmailCommand),
    /// Show the daemon's version, public URL and counts
    Status,
    /// Copy the database, while the daemon serves, into a file (embedded database only; with
    /// PostgreSQL use pg_dump). The encryption key is not in it: keep the key apart
    Backup {
        /// The backup file to write (written whole or not at all; an existing file is replaced)
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Write everything the deployment holds (either backend) as a portable bundle of JSON
    /// lines, for `latchkeyd import` (docs/EXPORT.md). Secrets in it stay encrypted: keep the
    /// encryption key apart
    Export {
        /// The bundle file to write (written whole or not at all; an existing file is replaced)
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
}

/// `USER` is a username, an email address or a user id.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// List users, ordered by username
    List {
        /// Only users whose username, email or name contains this (any case)
        #[arg(long, default_value = "")]
        filter: String,
        #[arg(long, default_value_t = 0)]
        offset: u64,
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Show one user
    Show { user: String },
    /// Create a local user
    Create(CreateUser),
    /// Change a user's fields
    Update {
        user: String,
        #[command(flatten)]
        changes: UserChanges,
    },
    /// Disable a user: they can no longer sign in
    Disable { user: String },
    /// Enable a disabled user
    Enable { user: String },
    /// Delete a user and their passkeys
    Delete { user: String },
    /// List the apps (OIDC clients) a user has authorized
    Authorizations { user: String },
    /// Revoke a user's authorization of an app, and their tokens for it
    RevokeAuthorization { user: String, client_id: String },
}

#[derive(Debug, Args)]
pub struct CreateUser {
    #[arg(long)]
    pub username: String,
    #[arg(long)]
    pub email: Option<String>,
    #[arg(long)]
    pub first_name: Option<String>,
    #[arg(long)]
    pub last_name: Option<String>,
    /// Defaults to "first last", or the username
    #[arg(long)]
    pub display_name: Option<String>,
    /// Make the user an administrator
    #[arg(long)]
    pub admin: bool,
}

/// At least one change is required, so `user update alice` alone is a usage
/// error rather than a silent no-op.
#[derive(Debug, Args)]
#[group(id = "changes", required = true, multiple = true)]
pub struct UserChanges {
    #[arg(long)]
    pub username: Option<String>,
    #[arg(long, conflicts_with = "no_email")]
    pub email: Option<String>,
    /// Remove the user's email address
    #[arg(long)]
    pub no_email: bool,
    #[arg(long)]
    pub first_name: Option<String>,
    #[arg(long)]
    pub last_name: Option<String>,
    #[arg(long)]
    pub display_name: Option<String>,
    #[arg(long, value_name = "true|false")]
    pub admin: Option<bool>,
}

#[derive(Debug, Subcommand)]
pub enum GroupCommand {
    /// Create a group
    Create {
        name: String,
        #[arg(long)]
        friendly_name: Option<String>,
    },
    /// List groups
    List,
    /// Show a group and its members
    Show { name: String },
    /// Delete a group (its members stay)
    Delete { name: String },
    /// Add a user to a group
    AddMember { name: String, user: String },
    /// Remove a user from a group
    RemoveMember { name: String, user: String },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// List audit events, newest first
    List {
        /// Only events whose actor or subject is this user
        #[arg(long)]
        user: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
}

#[derive(Debug, Subcommand)]
pub enum PasskeyCommand {
    /// List a user's passkeys
    List { user: String },
    /// Revoke one of a user's passkeys; they can no longer sign in with it
    Revoke { user: String, passkey_id: String },
}

#[derive(Debug, Subcommand)]
pub enum LoginCodeCommand {
    /// Create a one-time code and link; prints the link, the code and a QR code
    Create {
        user: String,
        /// How long it stays valid: 1h, 12h, 1d, 1w, 1m (30 days), or a
        /// duration such as 90min or 3d, at most 31 days
        #[arg(long, default_value = "1h", value_parser = expiry)]
        expires: Duration,
        /// Also email it to the user (needs the setting email.admin_login_codes)
        #[arg(long)]
        email: bool,
    },
    /// List a user's outstanding login codes (without the codes)
    List { user: String },
    /// Revoke an outstanding login code
    Revoke { user: String, id: String },
}

fn expiry(text: &str) -> Result<Duration, String> {
    latchkey_protocol::parse_expiry(text).map_err(|e| e.to_string())
}

#[derive(Debug, Subcommand)]
pub enum SessionCommand {
    /// List a user's browser sessions
    List { user: String },
    /// Sign a user out of one session
    Revoke { user: String, id: String },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Show every setting (--json: nested by the dots in the keys)
    Show,
    /// Change a setting; the daemon checks the value
    Set { key: String, value: String },
}

/// `ID` is a client id as `client list` shows it.
#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register a client; prints its id and secret (the secret only now)
    Create(CreateClient),
    /// List clients (never their secrets)
    List,
    /// Show one client
    Show { client_id: String },
    /// Change a client's settings
    Update {
        client_id: String,
        #[command(flatten)]
        changes: ClientChanges,
    },
    /// Give a confidential client a new secret; the old one stops working
    RotateSecret { client_id: String },
    /// Delete a client, its consents and every token issued to it
    Delete { client_id: String },
}

#[derive(Debug, Args)]
pub struct CreateClient {
    /// The name users see on the consent page
    #[arg(long)]
    pub name: String,
    /// A redirect URI, matched exactly (repeat for more)
    #[arg(long = "redirect-uri", value_name = "URL", required = true, num_args = 1..)]
    pub redirect_uris: Vec<String>,
    /// A post-logout redirect URI (repeat for more)
    #[arg(long = "logout-uri", value_name = "URL", num_args = 1..)]
    pub logout_uris: Vec<String>,
    /// A public client (SPA, native app): no secret, PKCE required
    #[arg(long)]
    pub public: bool,
    /// Require PKCE from this confidential client too
    #[arg(long)]
    pub require_pkce: bool,
    /// Take authorization requests only pushed first to /par (RFC 9126)
    #[arg(long)]
    pub require_par: bool,
    /// Do not ask users to consent
    #[arg(long)]
    pub skip_consent: bool,
    /// Allow `*` as the leftmost host label of a redirect URI
    #[arg(long)]
    pub allow_wildcard_redirects: bool,
    /// Only members of this group may sign in (repeat for more)
    #[arg(long = "group", value_name = "GROUP")]
    pub groups: Vec<String>,
    #[command(flatten)]
    pub lifetimes: LifetimeArgs,
}

/// Lifetimes: a number and a unit, such as 90s, 10min, 10m, 2h, 30d.
#[derive(Debug, Args, Default)]
pub struct LifetimeArgs {
    /// Authorization code lifetime, 1 minute to 1 hour [default: 10m]
    #[arg(long, value_name = "DUR", value_parser = lifetime)]
    pub code_lifetime: Option<u64>,
    /// Access and ID token lifetime, 1 minute to 1 day [default: 1h]
    #[arg(long, value_name = "DUR", value_parser = lifetime)]
    pub access_token_lifetime: Option<u64>,
    /// Refresh token lifetime, 1 hour to 365 days [default: 30d]
    #[arg(long, value_name = "DUR", value_parser = lifetime)]
    pub refresh_token_lifetime: Option<u64>,
    /// Longest a chain of refresh tokens lasts from sign-in, however often it is rotated;
    /// then the user must sign in again. 1 hour to 3650 days [default: 90d]
    #[arg(long, value_name = "DUR", value_parser = lifetime)]
    pub refresh_max_lifetime: Option<u64>,
}

/// At least one change is required.
#[derive(Debug, Args)]
#[group(id = "client_changes", required = true, multiple = true)]
pub struct ClientChanges {
    #[arg(long)]
    pub name: Option<String>,
    /// Replace the redirect URIs (repeat for more)
    #[arg(long = "redirect-uri", value_name = "URL", num_args = 1..)]
    pub redirect_uris: Option<Vec<String>>,
    /// Replace the post-logout redirect URIs (repeat for more)
    #[arg(long = "logout-uri", value_name = "URL", num_args = 1.., conflicts_with = "no_logout_uris")]
    pub logout_uris: Option<Vec<String>>,
    /// Remove every post-logout redirect URI
    #[arg(long)]
    pub no_logout_uris: bool,
    #[arg(long, value_name = "true|false")]
    pub require_pkce: Option<bool>,
    #[arg(long, value_name = "true|false")]
    pub require_par: Option<bool>,
    #[arg(long, value_name = "true|false")]
    pub skip_consent: Option<bool>,
    #[arg(long, value_name = "true|false")]
    pub allow_wildcard_redirects: Option<bool>,
    /// Replace the allowed groups (repeat for more)
    #[arg(long = "group", value_name = "GROUP", conflicts_with = "all_users")]
    pub groups: Option<Vec<String>>,
    /// Let every user sign in (remove the group restriction)
    #[arg(long)]
    pub all_users: bool,
    /// Authorization code lifetime (or `default`)
    #[arg(long, value_name = "DUR", value_parser = lifetime_or_default)]
    pub code_lifetime: Option<u64>,
    /// Access and ID token lifetime (or `default`)
    #[arg(long, value_name = "DUR", value_parser = lifetime_or_default)]
    pub access_token_lifetime: Option<u64>,
    /// Refresh token lifetime (or `default`)
    #[arg(long, value_name = "DUR", value_parser = lifetime_or_default)]
    pub refresh_token_lifetime: Option<u64>,
    /// Longest refresh-token chain from sign-in (or `default`)
    #[arg(long, value_name = "DUR", value_parser = lifetime_or_default)]
    pub refresh_max_lifetime: Option<u64>,
}

/// `90s`, `10min`, `10m`, `2h`, `30d`, or plain seconds, as seconds.
pub fn lifetime(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let bad =
        || format!("{text:?} is not a duration; use a number and a unit, like 90s, 10m, 2h or 30d");
    let n: u64 = number.parse().map_err(|_| bad())?;
    let scale = match unit.trim() {
        "" | "s" | "sec" | "secs" | "second" | "seconds" => 1,
        "m" | "min" | "mins" | "minute" | "minutes" => 60,
        "h" | "hour" | "hours" => 3600,
        "d" | "day" | "days" => 86_400,
        _ => return Err(bad()),
    };
    n.checked_mul(scale).ok_or_else(bad)
}

/// Like [`lifetime`]; `default` is 0, which puts the default back.
fn lifetime_or_default(text: &str) -> Result<u64, String> {
    if text.trim().eq_ignore_ascii_case("default") {
        Ok(0)
    } else {
        lifetime(text)
    }
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// List the signing keys: the active one and previous ones still published
    List,
    /// Make a new signing key active; the old one stays published until
    /// every token it signed has expired
    Rotate {
        /// The new key's algorithm [default: the current key's]
        #[arg(long, value_parser = ["RS256", "ES256", "EdDSA"], ignore_case = true)]
        alg: Option<String>,
    },
}

/// Whose claims: a user (username, email or id) or a group (name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OwnerKind {
    User,
    Group,
}

#[derive(Debug, Subcommand)]
pub enum ClaimsCommand {
    /// Show a user's or group's own custom claims
    Show { kind: OwnerKind, name: String },
    /// Replace a user's or group's custom claims. Each is KEY=JSON; a value
    /// that is not JSON is a string (team=ops, level=3, tags='["a","b"]').
    /// With none, removes them all.
    Set {
        kind: OwnerKind,
        name: String,
        #[arg(value_name = "KEY=JSON", value_parser = claim)]
        claims: Vec<(String, serde_json::Value)>,
    },
}

/// `KEY=JSON`; a value that does not parse as JSON is taken as a string.
pub fn claim(text: &str) -> Result<(String, serde_json::Value), String> {
    let Some((key, value)) = text.split_once('=') else {
        return Err(format!("{text:?} is not KEY=VALUE"));
    };
    let key = key.trim();
    if key.is_empty() {
        return Err(format!("{text:?} has no claim name before the ="));
    }
    let value =
        serde_json::from_str(value).unwrap_or_else(|_| serde_json::Value::String(value.to_owned()));
    Ok((key.to_owned(), value))
}

#[derive(Debug, Subcommand)]
pub enum SignupTokenCommand {
    /// Create a signup link; prints the link and a QR code
    Create {
        /// How long it stays valid: 1h, 12h, 1d, 1w, 1m (30 days), or a
        /// duration such as 90min or 3d, at most 31 days
        #[arg(long, default_value = "1d", value_parser = expiry)]
        expires: Duration,
        /// How many accounts it may create (1–100)
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
        uses: u32,
        /// A group the new accounts join (repeat for more)
        #[arg(long = "group", value_name = "GROUP")]
        groups: Vec<String>,
    },
    /// List signup links that can still be used (without the links)
    List,
    /// Revoke a signup link by its id
    Revoke { id: String },
}

/// `latchkey ldap …`.
#[derive(Debug, Subcommand)]
pub enum LdapCommand {
    /// Sync now and print what changed (--json: the report)
    Sync,
    /// The last sync: when, what it did, its error
    Status,
}

#[derive(Debug, Subcommand)]
pub enum EmailCommand {
    /// Send a test message now (not through the queue) and report the SMTP
    /// server's exact error if it fails
    Test {
        /// Where to send it
        #[arg(long)]
        to: String,
    },
    /// Show the outgoing mail queue: waiting, retrying, failed, last error
    Status,
}
