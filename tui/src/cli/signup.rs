//! `latchkey signup-token create|list|revoke`: arguments to requests.

use latchkey_protocol::{NewSignupToken, Request};

use super::Plan;
use super::args::SignupTokenCommand;

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
