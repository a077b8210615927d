//! `latchkey user …`: arguments to requests.

use latchkey_protocol::{NewUser, Request, UserPatch, UserQuery};

use super::Plan;
use super::args::{CreateUser, UserChanges, UserCommand};

pub fn plan(command: UserCommand) -> Plan {
    match command {
        UserCommand::List {
            filter,
            offset,
            limit,
        } => Plan::new(Request::ListUsers {
            query: UserQuery {
                filter,
                offset,
                limit,
            },
        }),
        UserCommand::Show { user } => Plan::new(Request::GetUser { user }),
        UserCommand::Create(create) => {
            let note = format!("Created user {}.", create.username);
            Plan::new(Request::CreateUser {
                user: new_user(create),
            })
            .note(note)
        }
        UserCommand::Update { user, changes } => {
            let note = format!("Updated user {user}.");
            Plan::new(Request::UpdateUser {
                user,
                patch: patch(changes),
            })
            .note(note)
        }
        UserCommand::Disable { user } => {
            let note = format!("Disabled user {user}.");
            Plan::new(Request::SetUserDisabled {
                user,
                disabled: true,
            })
            .note(note)
        }
        UserCommand::Enable { user } => {
            let note = format!("Enabled user {user}.");
            Plan::new(Request::SetUserDisabled {
                user,
                disabled: false,
            })
            .note(note)
        }
        UserCommand::Delete { user } => {
            let note = format!("Deleted user {user}.");
            Plan::new(Request::DeleteUser { user }).note(note)
        }
        UserCommand::Authorizations { user } => Plan::new(Request::ListAuthorizations { user }),
        UserCommand::RevokeAuthorization { user, client_id } => {
            let note = format!("Revoked {user}'s authorization of {client_id}.");
            Plan::new(Request::RevokeAuthorization { user, client_id }).note(note)
        }
    }
}

fn new_user(create: CreateUser) -> NewUser {
    NewUser {
        username: create.username,
        email: create.email,
        first_name: create.first_name.unwrap_or_default(),
        last_name: create.last_name.unwrap_or_default(),
        display_name: create.display_name,
        is_admin: create.admin,
    }
}

fn patch(changes: UserChanges) -> UserPatch {
    let email = match (changes.email, changes.no_email) {
        (Some(email), _) => Some(Some(email)),
        (None, true) => Some(None),
        (None, false) => None,
    };
    UserPatch {
        username: changes.username,
        email,
        first_name: changes.first_name,
        last_name: changes.last_name,
        display_name: changes.display_name,
        is_admin: changes.admin,
    }
}
