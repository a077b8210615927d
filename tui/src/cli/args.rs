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
    /// Show and change the application settings
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Read the audit log
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Send a test email, or show the outgoing mail queue
    #[command(subcommand)]
    Email(EmailCommand),
    /// Show the daemon's version, public URL and counts
    Status,
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
