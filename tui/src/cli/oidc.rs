//! `latchkey client|key|claims …`: arguments to requests.

use latchkey_protocol::{ClaimOwner, ClientPatch, NewClient, Request, TokenLifetimes};

use super::Plan;
use super::args::{
    ClaimsCommand, ClientChanges, ClientCommand, CreateClient, KeyCommand, LifetimeArgs, OwnerKind,
};

/// Printed with every secret, for people (scripts read the JSON).
pub const SECRET_WARNING: &str =
    "Copy the client secret now: it is stored only as a hash and is not shown again.";

pub fn client(command: ClientCommand) -> Plan {
    match command {
        ClientCommand::Create(create) => {
            let note = format!("Created client {}. {SECRET_WARNING}", create.name.trim());
            Plan::new(Request::CreateClient {
                client: new_client(create),
            })
            .note(note)
        }
        ClientCommand::List => Plan::new(Request::ListClients),
        ClientCommand::Show { client_id } => Plan::new(Request::GetClient { client_id }),
        ClientCommand::Update { client_id, changes } => {
            let note = format!("Updated client {client_id}.");
            Plan::new(Request::UpdateClient {
                client_id,
                patch: patch(changes),
            })
            .note(note)
        }
        ClientCommand::RotateSecret { client_id } => {
            let note = format!("New secret for client {client_id}. {SECRET_WARNING}");
            Plan::new(Request::RotateClientSecret { client_id }).note(note)
        }
        ClientCommand::Delete { client_id } => {
            let note = format!("Deleted client {client_id} and revoked its tokens.");
            Plan::new(Request::DeleteClient { client_id }).note(note)
        }
    }
}

fn lifetimes(args: LifetimeArgs) -> TokenLifetimes {
    TokenLifetimes {
        code_secs: args.code_lifetime,
        access_token_secs: args.access_token_lifetime,
        refresh_token_secs: args.refresh_token_lifetime,
        refresh_max_secs: args.refresh_max_lifetime,
    }
}

fn new_client(create: CreateClient) -> NewClient {
    NewClient {
        name: create.name,
        redirect_uris: create.redirect_uris,
        logout_redirect_uris: create.logout_uris,
        public: create.public,
        require_pkce: create.require_pkce,
        require_par: create.require_par,
        skip_consent: create.skip_consent,
        allow_wildcard_redirects: create.allow_wildcard_redirects,
        allowed_groups: create.groups,
        lifetimes: lifetimes(create.lifetimes),
    }
}

/// Only the lifetimes given are sent; the daemon leaves the others alone
/// (0 puts the default back).
fn patch(changes: ClientChanges) -> ClientPatch {
    let given = changes.code_lifetime.is_some()
        || changes.access_token_lifetime.is_some()
        || changes.refresh_token_lifetime.is_some()
        || changes.refresh_max_lifetime.is_some();
    ClientPatch {
        name: changes.name,
        redirect_uris: changes.redirect_uris,
        logout_redirect_uris: if changes.no_logout_uris {
            Some(Vec::new())
        } else {
            changes.logout_uris
        },
        require_pkce: changes.require_pkce,
        require_par: changes.require_par,
        skip_consent: changes.skip_consent,
        allow_wildcard_redirects: changes.allow_wildcard_redirects,
        allowed_groups: if changes.all_users {
            Some(Vec::new())
        } else {
            changes.groups
        },
        lifetimes: given.then_some(TokenLifetimes {
            code_secs: changes.code_lifetime,
            access_token_secs: changes.access_token_lifetime,
            refresh_token_secs: changes.refresh_token_lifetime,
            refresh_max_secs: changes.refresh_max_lifetime,
        }),
    }
}

pub fn key(command: KeyCommand) -> Plan {
    match command {
        KeyCommand::List => Plan::new(Request::ListSigningKeys),
        KeyCommand::Rotate { alg } => {
            let note = "Rotated the signing key; the previous key stays published until its tokens expire.".to_owned();
            Plan::new(Request::RotateSigningKey { alg }).note(note)
        }
    }
}

fn owner(kind: OwnerKind, name: String) -> ClaimOwner {
    match kind {
        OwnerKind::User => ClaimOwner::User(name),
        OwnerKind::Group => ClaimOwner::Group(name),
    }
}

pub fn claims(command: ClaimsCommand) -> Plan {
    match command {
        ClaimsCommand::Show { kind, name } => Plan::new(Request::GetClaims {
            owner: owner(kind, name),
        }),
        ClaimsCommand::Set { kind, name, claims } => {
            let note = format!("Set the custom claims of {name}.");
            Plan::new(Request::SetClaims {
                owner: owner(kind, name),
                claims,
            })
            .note(note)
        }
    }
}
