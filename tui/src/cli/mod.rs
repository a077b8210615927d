//! The scriptable subcommands: parse, turn the arguments into one request,
//! send it, print the answer. Exit status: 0 success, 1 the daemon refused
//! (API error), 2 usage error, 3 the daemon could not be reached.

pub mod access;
pub mod args;
pub mod audit;
pub mod backup;
pub mod error;
pub mod group;
pub mod oidc;
pub mod output;
pub mod signup;
pub mod user;

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Parser;
use latchkey_protocol::{Request, Response};

pub use args::Cli;
use args::Noun;
use error::CliError;
use output::{Rendered, render};

/// What one subcommand asks of the daemon, and the sentence to print for
/// people when it succeeds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub request: Request,
    pub note: Option<String>,
    /// Print only the note for people, not the whole answer (`config set`
    /// answers with every setting).
    pub brief: bool,
}

impl Plan {
    fn new(request: Request) -> Plan {
        Plan {
            request,
            note: None,
            brief: false,
        }
    }

    fn brief(mut self) -> Plan {
        self.brief = true;
        self
    }

    fn note(mut self, note: String) -> Plan {
        self.note = Some(note);
        self
    }
}

/// The request a parsed subcommand sends.
pub fn plan(noun: Noun) -> Plan {
    match noun {
        Noun::User(command) => user::plan(command),
        Noun::Group(command) => group::plan(command),
        Noun::Passkey(command) => access::passkey(command),
        Noun::LoginCode(command) => access::login_code(command),
        Noun::Session(command) => access::session(command),
        Noun::SignupToken(command) => signup::plan(command),
        Noun::Config(command) => access::config(command),
        Noun::Audit(command) => audit::plan(command),
        Noun::Client(command) => oidc::client(command),
        Noun::Key(command) => oidc::key(command),
        Noun::Claims(command) => oidc::claims(command),
        Noun::Ldap(args::LdapCommand::Sync) => Plan::new(Request::LdapSync),
        Noun::Ldap(args::LdapCommand::Status) => Plan::new(Request::LdapStatus),
        Noun::Email(command) => access::email(command),
        Noun::Status => Plan::new(Request::Status),
        // Several requests, not one: `run_cli` sends it to `backup::run`.
        Noun::Backup { .. } => Plan::new(Request::BackupBegin),
        Noun::Export { .. } => Plan::new(Request::ExportBegin),
    }
}

/// `Some(socket flag)` when the arguments parse and name no subcommand: the
/// caller should open the console. Anything else is for [`run_cli`].
pub fn console_requested(args: impl IntoIterator<Item = OsString>) -> Option<Option<PathBuf>> {
    match Cli::try_parse_from(args) {
        Ok(Cli {
            command: None,
            socket,
            ..
        }) => Some(socket),
        _ => None,
    }
}

/// Runs one subcommand and returns the process exit status. Never exits the
/// process and writes only to `out` and `err`, so tests call it in-process.
pub async fn run_cli(
    args: impl IntoIterator<Item = OsString>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version are "errors" that belong on stdout.
            if e.use_stderr() {
                let _ = write!(err, "{}", e.render());
                return 2;
            }
            let _ = write!(out, "{}", e.render());
            return 0;
        }
    };
    let Some(noun) = cli.command else {
        let _ = writeln!(
            err,
            "latchkey: no command given. Run `latchkey` in a terminal for the console, \
             or `latchkey --help` for the commands."
        );
        return 2;
    };
    let path = crate::socket::resolve(cli.socket.as_deref());
    let result = match noun {
        Noun::Backup { out } => backup::run(&path, &out, backup::Snapshot::Backup).await,
        Noun::Export { out } => backup::run(&path, &out, backup::Snapshot::Export).await,
        noun => execute(&path, plan(noun)).await,
    };
    let written = match &result {
        Ok(rendered) => rendered.write(out, cli.json),
        Err(error) => error.write(err, cli.json),
    };
    match (result, written) {
        (Ok(_), Ok(())) => 0,
        // stdout went away (a closed pipe); the work was done but the
        // caller did not see it, so do not claim success.
        (Ok(_), Err(_)) => 1,
        (Err(error), _) => error.exit_code(),
    }
}

/// Connects, sends the plan's request and renders the answer.
pub async fn execute(path: &Path, plan: Plan) -> Result<Rendered, CliError> {
    let client = crate::socket::connect(path)
        .await
        .map_err(|e| CliError::from_client(path, e))?;
    let response: Response = client
        .call(plan.request)
        .await
        .map_err(|e| CliError::from_client(path, e))?;
    let mut rendered = render(&response, plan.note.clone());
    if let (true, Some(note)) = (plan.brief, plan.note) {
        rendered.human = format!("{note}\n");
    }
    Ok(rendered)
}

#[cfg(test)]
mod tests;
