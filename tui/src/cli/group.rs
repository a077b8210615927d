//! `latchkey group …`: arguments to requests.

use latchkey_protocol::{NewGroup, Request};

use super::Plan;
use super::args::GroupCommand;

pub fn plan(command: GroupCommand) -> Plan {
    match command {
        GroupCommand::Create {
            name,
            friendly_name,
        } => {
            let note = format!("Created group {name}.");
            Plan::new(Request::CreateGroup {
                group: NewGroup {
                    name,
                    friendly_name,
                },
            })
            .note(note)
        }
        GroupCommand::List => Plan::new(Request::ListGroups),
        GroupCommand::Show { name } => Plan::new(Request::GetGroup { name }),
        GroupCommand::Delete { name } => {
            let note = format!("Deleted group {name}.");
            Plan::new(Request::DeleteGroup { name }).note(note)
        }
        GroupCommand::AddMember { name, user } => {
            let note = format!("Added {user} to {name}.");
            Plan::new(Request::AddGroupMember { group: name, user }).note(note)
        }
        GroupCommand::RemoveMember { name, user } => {
            let note = format!("Removed {user} from {name}.");
            Plan::new(Request::RemoveGroupMember { group: name, user }).note(note)
        }
    }
}
