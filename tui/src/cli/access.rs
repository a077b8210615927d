//! `latchkey passkey|login-code|session|config|email …`: arguments to
//! requests.

use latchkey_protocol::{NewLoginCode, Request};

use super::Plan;
use super::args::{ConfigCommand, LoginCodeCommand, PasskeyCommand, SessionCommand};

pub fn passkey(command: PasskeyCommand) -> Plan {
    match command {
        PasskeyCommand::List { user } => Plan::new(Request::ListPasskeys { user }),
        PasskeyCommand::Revoke { user, passkey_id } => {
            let note = format!("Revoked passkey {passkey_id} of {user}.");
            Plan::new(Request::RevokePasskey {
                user,
                id: passkey_id,
            })
            .note(note)
        }
    }
}

pub fn login_code(command: LoginCodeCommand) -> Plan {
    match command {
        LoginCodeCommand::Create {
            user,
            expires,
            email,
        } => {
            let note = format!("Login code for {user}:");
            Plan::new(Request::CreateLoginCode {
                code: NewLoginCode {
                    user,
                    expires_in_secs: expires.as_secs(),
                    send_email: email,
                },
            })
            .note(note)
        }
        LoginCodeCommand::List { user } => Plan::new(Request::ListLoginCodes { user }),
        LoginCodeCommand::Revoke { user, id } => {
            let note = format!("Revoked login code {id} of {user}.");
            Plan::new(Request::RevokeLoginCode { user, id }).note(note)
        }
    }
}

pub fn session(command: SessionCommand) -> Plan {
    match command {
        SessionCommand::List { user } => Plan::new(Request::ListSessions { user }),
        SessionCommand::Revoke { user, id } => {
            let note = format!("Signed {user} out of session {id}.");
            Plan::new(Request::RevokeSession { user, id }).note(note)
        }
    }
}

pub fn config(command: ConfigCommand) -> Plan {
    match command {
        ConfigCommand::Show => Plan::new(Request::GetSettings),
        ConfigCommand::Set { key, value } => {
            let note = format!("Set {key}.");
            Plan::new(Request::SetSetting { key, value })
                .note(note)
                .brief()
        }
    }
}

/// `latchkey email …`: the outgoing mail queue, and a test message to check
/// the SMTP settings.
pub fn email(command: super::args::EmailCommand) -> Plan {
    match command {
        super::args::EmailCommand::Test { to } => {
            let note = format!("Sent a test message to {to}.");
            Plan::new(Request::SendTestEmail { to }).note(note)
        }
        super::args::EmailCommand::Status => Plan::new(Request::MailStatus),
    }
}
