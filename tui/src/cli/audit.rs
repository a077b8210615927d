//! `latchkey audit …`: arguments to requests.

use latchkey_protocol::{AuditQuery, Request};

use super::Plan;
use super::args::AuditCommand;

pub fn plan(command: AuditCommand) -> Plan {
    match command {
        AuditCommand::List { user, limit } => Plan::new(Request::ListAudit {
            query: AuditQuery {
                user,
                limit,
                before: None,
            },
        }),
    }
}
