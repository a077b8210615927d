//! What each reply means, by the [`Purpose`] its request was sent with.

use latchkey_protocol::{
    ApiError, ClaimOwner, ErrorCode, NewGroup, NewUser, Request, Response, UserPatch,
};

use super::{App, Flash, Modal, Purpose, Screen};
use crate::console::access::Part;
use crate::console::claims::parse_claims;
use crate::console::clients::SecretShown;
use crate::console::form::{Form, FormKind};
use crate::console::loaded::Loaded;
use crate::console::login_code::LoginCodeShown;
use crate::console::signup_tokens::SignupTokenShown;

impl App {
    pub(super) fn on_reply(&mut self, purpose: Purpose, result: Result<Response, ApiError>) {
        let response = match (result, &purpose) {
            (Ok(response), _) => response,
            (Err(error), purpose) => return self.on_error(purpose, error),
        };
        match (purpose, response) {
            (Purpose::Status, Response::Status { status }) => self.status = Some(status),
            (Purpose::UsersPage { generation, page }, Response::Users { page: users }) => {
                if self.users.accept(generation, page, users) {
                    // The total may have moved the window; fill any gaps.
                    self.fetch_user_pages();
                }
            }
            (Purpose::UserDetail { id }, Response::User { user }) => {
                if let Screen::UserDetail {
                    user: shown,
                    loading,
                } = &mut self.screen
                    && shown.id == id
                {
                    **shown = user;
                    *loading = false;
                }
            }
            (Purpose::Access { user, part }, response) if user == self.access.user => {
                self.on_access(part, response);
            }
            (Purpose::Access { .. }, _) => {}
            (Purpose::SaveForm, response) => self.saved(response),
            (Purpose::SetDisabled { username, disabled }, response) => {
                let verb = if disabled { "Disabled" } else { "Enabled" };
                self.flash = Some(Flash::Info(format!("{verb} {username}.")));
                self.changed_user(response);
            }
            (Purpose::DeleteUser { username }, _) => {
                self.flash = Some(Flash::Info(format!("Deleted {username}.")));
                if matches!(self.screen, Screen::UserDetail { .. }) {
                    self.screen = Screen::Users;
                }
                self.send(Purpose::Status, Request::Status);
                self.reload_users();
            }
            (Purpose::Groups, Response::Groups { list }) => self.groups.set_groups(list.groups),
            (Purpose::GroupMembers { name }, Response::Group { group }) if group.name == name => {
                self.groups.set_members(group);
            }
            (Purpose::GroupClaims { name }, Response::Claims { claims }) => {
                self.groups.claims = Some((name, Loaded::Ready(claims)));
            }
            (Purpose::DeleteGroup { name }, _) => {
                self.flash = Some(Flash::Info(format!("Deleted group {name}.")));
                self.send(Purpose::Status, Request::Status);
                self.send(Purpose::Groups, Request::ListGroups);
            }
            (Purpose::RemoveMember { group, username }, _) => {
                self.flash = Some(Flash::Info(format!("Removed {username} from {group}.")));
                self.send(
                    Purpose::GroupMembers {
                        name: group.clone(),
                    },
                    Request::GetGroup { name: group },
                );
            }
            (Purpose::CreateLoginCode { username, label }, Response::LoginCode { code }) => {
                let shown = LoginCodeShown::new(username, label, code);
                self.modal = Some(Modal::LoginCode(Box::new(shown)));
                if let Screen::UserDetail { user, .. } = &self.screen {
                    let id = user.id.clone();
                    self.load_part(&id, Part::Codes);
                    self.load_part(&id, Part::Audit);
                }
            }
            (Purpose::Revoked { user, part, done }, _) => {
                self.flash = Some(Flash::Info(done));
                if user == self.access.user {
                    self.load_part(&user, part);
                    self.load_part(&user, Part::Audit);
                    if part == Part::Passkeys {
                        self.send(
                            Purpose::UserDetail { id: user.clone() },
                            Request::GetUser { user },
                        );
                    }
                }
            }
            (Purpose::Audit { filter }, Response::Audit { page }) => {
                if filter == self.audit.applied {
                    self.audit.set(page.events);
                }
            }
            (Purpose::Settings, Response::Settings { settings }) => {
                self.settings.set(Ok(settings.settings));
            }
            (Purpose::Clients, Response::Clients { clients }) => {
                self.clients.set_clients(Ok(clients));
            }
            (Purpose::SigningKeys, Response::SigningKeys { keys }) => {
                self.clients.keys = Some(Ok(keys));
            }
            (Purpose::RotateSecret { name }, Response::ClientWithSecret { client }) => {
                self.flash = Some(Flash::Info(format!("New secret for {name}.")));
                self.show_secret(client);
            }
            (Purpose::SignupTokens, Response::SignupTokens { tokens }) => {
                self.signup_tokens.set(Ok(tokens));
            }
            (Purpose::CreateSignupToken { label }, Response::SignupToken { token }) => {
                let shown = SignupTokenShown::new(label, token);
                self.modal = Some(Modal::SignupTokenShown(Box::new(shown)));
                self.send(Purpose::SignupTokens, Request::ListSignupTokens);
            }
            (Purpose::RevokeSignupToken { prefix }, _) => {
                self.flash = Some(Flash::Info(format!("Revoked signup link {prefix}….")));
                self.send(Purpose::SignupTokens, Request::ListSignupTokens);
            }
            (Purpose::LdapStatus, Response::LdapStatus { status }) => {
                self.ldap.status = Some(Ok(status));
            }
            (Purpose::LdapSync, Response::LdapSyncReport { report }) => {
                self.ldap.syncing = false;
                self.ldap.progress = None;
                self.flash = Some(Flash::Info(format!(
                    "LDAP sync done: {} created, {} updated, {} disabled, {} skipped.",
                    report.created,
                    report.updated,
                    report.disabled,
                    report.skipped.len()
                )));
                self.send(Purpose::LdapStatus, Request::LdapStatus);
            }
            (Purpose::MailStatus, Response::MailStatus { status }) => {
                self.settings.mail = Some(status);
            }
            (_, other) => {
                self.flash = Some(Flash::Error(format!(
                    "The daemon sent an unexpected answer: {other:?}"
                )));
            }
        }
    }

    fn on_error(&mut self, purpose: &Purpose, error: ApiError) {
        match purpose {
            Purpose::SaveForm => match &mut self.modal {
                Some(Modal::Form(form)) => show_form_error(form, error),
                _ => self.flash = Some(Flash::Error(error.message)),
            },
            Purpose::CreateLoginCode { .. } => match &mut self.modal {
                Some(Modal::Expiry(picker)) => {
                    picker.busy = false;
                    picker.error = Some(error.message);
                }
                _ => self.flash = Some(Flash::Error(error.message)),
            },
            Purpose::UsersPage { generation, page } => {
                self.users.failed(*generation, *page);
                self.flash = Some(Flash::Error(format!(
                    "Could not list users: {}",
                    error.message
                )));
            }
            // Shown in place of the list rather than as a flash, so one
            // refused list does not hide the others' news.
            Purpose::Access { user, part } => {
                if *user == self.access.user {
                    self.access.fail(*part, error.message);
                }
            }
            Purpose::Settings => self.settings.set(Err(error.message)),
            Purpose::Clients => self.clients.set_clients(Err(error.message)),
            Purpose::SigningKeys => self.clients.keys = Some(Err(error.message)),
            Purpose::SignupTokens => self.signup_tokens.set(Err(error.message)),
            Purpose::CreateSignupToken { .. } => match &mut self.modal {
                Some(Modal::SignupToken(dialog)) => {
                    dialog.busy = false;
                    dialog.error = Some(error.message);
                }
                _ => self.flash = Some(Flash::Error(error.message)),
            },
            Purpose::GroupClaims { name } => {
                self.groups.claims = Some((name.clone(), Loaded::Failed(error.message)));
            }
            Purpose::LdapStatus => self.ldap.status = Some(Err(error.message)),
            Purpose::LdapSync => {
                self.ldap.syncing = false;
                self.ldap.progress = None;
                self.flash = Some(Flash::Error(format!("LDAP sync failed: {}", error.message)));
                self.send(Purpose::LdapStatus, Request::LdapStatus);
            }
            _ => self.flash = Some(Flash::Error(error.message)),
        }
    }

    fn on_access(&mut self, part: Part, response: Response) {
        match (part, response) {
            (Part::Passkeys, Response::Passkeys { passkeys }) => {
                self.access.set_passkeys(Loaded::Ready(passkeys));
            }
            (Part::Codes, Response::LoginCodes { codes }) => {
                self.access.set_codes(Loaded::Ready(codes));
            }
            (Part::Sessions, Response::Sessions { sessions }) => {
                self.access.set_sessions(Loaded::Ready(sessions));
            }
            (Part::Authorizations, Response::Authorizations { authorizations }) => {
                self.access
                    .set_authorizations(Loaded::Ready(authorizations));
            }
            (Part::Claims, Response::Claims { claims }) => {
                self.access.claims = Loaded::Ready(claims);
            }
            (Part::Audit, Response::Audit { page }) => {
                self.access.audit = Loaded::Ready(page.events);
            }
            (part, other) => self
                .access
                .fail(part, format!("unexpected answer: {other:?}")),
        }
    }

    /// A form's request succeeded: close it and refresh what it changed.
    fn saved(&mut self, response: Response) {
        let Some(Modal::Form(form)) = self.modal.take() else {
            return;
        };
        match &form.kind {
            FormKind::CreateUser => {
                self.flash = Some(Flash::Info(format!("Created {}.", form.text("username"))));
                self.send(Purpose::Status, Request::Status);
                self.changed_user(response);
            }
            FormKind::EditUser { .. } => {
                self.flash = Some(Flash::Info(format!("Saved {}.", form.text("username"))));
                self.changed_user(response);
            }
            FormKind::CreateGroup => {
                self.flash = Some(Flash::Info(format!("Created group {}.", form.text("name"))));
                self.send(Purpose::Status, Request::Status);
                self.send(Purpose::Groups, Request::ListGroups);
            }
            FormKind::AddMember { group } => {
                self.flash = Some(Flash::Info(format!(
                    "Added {} to {group}.",
                    form.text("user")
                )));
                let name = group.clone();
                self.send(
                    Purpose::GroupMembers { name: name.clone() },
                    Request::GetGroup { name },
                );
            }
            FormKind::Setting { key } => {
                self.flash = Some(Flash::Info(format!("Saved {key}.")));
                match response {
                    Response::Settings { settings } => self.settings.set(Ok(settings.settings)),
                    _ => self.send(Purpose::Settings, Request::GetSettings),
                }
                self.send(Purpose::MailStatus, Request::MailStatus);
            }
            FormKind::TestEmail => {
                let to = form.text("to").trim().to_owned();
                self.flash = Some(Flash::Info(format!("Sent a test message to {to}.")));
                self.send(Purpose::MailStatus, Request::MailStatus);
            }
            FormKind::CreateClient => {
                self.flash = Some(Flash::Info(format!(
                    "Created client {}.",
                    form.text("name").trim()
                )));
                if let Response::ClientWithSecret { client } = response {
                    self.show_secret(client);
                }
                self.send(Purpose::Clients, Request::ListClients);
            }
            FormKind::EditClient { original } => {
                self.flash = Some(Flash::Info(format!("Saved {}.", original.name)));
                self.send(Purpose::Clients, Request::ListClients);
            }
            FormKind::DeleteClient { name, .. } => {
                self.flash = Some(Flash::Info(format!(
                    "Deleted client {name} and revoked its tokens."
                )));
                self.send(Purpose::Clients, Request::ListClients);
            }
            FormKind::EditClaims { owner } => self.saved_claims(owner.clone(), response),
            FormKind::RotateKey => {
                self.flash = Some(Flash::Info(
                    "Rotated the signing key; the previous one stays published until its tokens expire."
                        .to_owned(),
                ));
                match response {
                    Response::SigningKeys { keys } => self.clients.keys = Some(Ok(keys)),
                    _ => self.send(Purpose::SigningKeys, Request::ListSigningKeys),
                }
            }
        }
    }

    /// Claims were replaced: show what the daemon kept.
    fn saved_claims(&mut self, owner: ClaimOwner, response: Response) {
        let claims = match response {
            Response::Claims { claims } => Some(claims),
            _ => None,
        };
        match owner {
            ClaimOwner::User(id) => {
                let username = match &self.screen {
                    Screen::UserDetail { user, .. } if user.id == id => user.username.clone(),
                    _ => id.clone(),
                };
                self.flash = Some(Flash::Info(format!("Saved the claims of {username}.")));
                if id == self.access.user {
                    match claims {
                        Some(claims) => self.access.claims = Loaded::Ready(claims),
                        None => self.load_part(&id, Part::Claims),
                    }
                    self.load_part(&id, Part::Audit);
                }
            }
            ClaimOwner::Group(name) => {
                self.flash = Some(Flash::Info(format!("Saved the claims of group {name}.")));
                match claims {
                    Some(claims) => self.groups.claims = Some((name, Loaded::Ready(claims))),
                    None => self.load_group_claims(name),
                }
            }
        }
    }

    fn show_secret(&mut self, client: latchkey_protocol::ClientWithSecret) {
        self.modal = Some(Modal::Secret(Box::new(SecretShown {
            name: client.client.name,
            client_id: client.client.client_id,
            secret: client.client_secret,
        })));
    }

    /// A user changed: show the new record in the detail view and reload the list.
    fn changed_user(&mut self, response: Response) {
        if let (Screen::UserDetail { user: shown, .. }, Response::User { user }) =
            (&mut self.screen, response)
            && shown.id == user.id
        {
            **shown = user;
        }
        self.reload_users();
    }
}

/// A setting has one field, whatever name the daemon gives the error.
fn show_form_error(form: &mut Form, mut error: ApiError) {
    if matches!(form.kind, FormKind::Setting { .. }) && error.field.is_some() {
        error.field = Some("value".to_owned());
    }
    // One field holds every claim: any error (a reserved name…) is about it.
    if matches!(form.kind, FormKind::EditClaims { .. }) {
        error.field = Some("claims".to_owned());
    }
    form.show_error(&error);
}

/// The request a submitted form makes; `Ok(None)` when an edit changed
/// nothing, `Err` for input the console can already tell is wrong.
pub(super) fn form_request(form: &Form) -> Result<Option<Request>, ApiError> {
    match &form.kind {
        FormKind::CreateClient
        | FormKind::EditClient { .. }
        | FormKind::DeleteClient { .. }
        | FormKind::RotateKey => crate::console::clients::client_request(form),
        FormKind::EditClaims { owner } => match parse_claims(form.text("claims")) {
            Ok(claims) => Ok(Some(Request::SetClaims {
                owner: owner.clone(),
                claims,
            })),
            Err(message) => {
                Err(ApiError::new(ErrorCode::InvalidInput, message).with_field("claims"))
            }
        },
        _ => Ok(directory_request(form)),
    }
}

fn directory_request(form: &Form) -> Option<Request> {
    let text = |key: &str| form.text(key).trim().to_owned();
    let optional = |key: &str| Some(text(key)).filter(|v| !v.is_empty());
    match &form.kind {
        FormKind::CreateUser => Some(Request::CreateUser {
            user: NewUser {
                username: text("username"),
                email: optional("email"),
                first_name: text("first_name"),
                last_name: text("last_name"),
                display_name: optional("display_name"),
                is_admin: form.toggle("is_admin"),
            },
        }),
        FormKind::EditUser { original } => {
            let changed = |key: &str, old: &str| Some(text(key)).filter(|new| new != old);
            let email = optional("email");
            let patch = UserPatch {
                username: changed("username", &original.username),
                email: (email != original.email).then_some(email),
                first_name: changed("first_name", &original.first_name),
                last_name: changed("last_name", &original.last_name),
                display_name: changed("display_name", &original.display_name),
                is_admin: Some(form.toggle("is_admin")).filter(|a| *a != original.is_admin),
            };
            (!patch.is_empty()).then(|| Request::UpdateUser {
                user: original.id.clone(),
                patch,
            })
        }
        FormKind::CreateGroup => Some(Request::CreateGroup {
            group: NewGroup {
                name: text("name"),
                friendly_name: optional("friendly_name"),
            },
        }),
        FormKind::AddMember { group } => Some(Request::AddGroupMember {
            group: group.clone(),
            user: text("user"),
        }),
        FormKind::Setting { key } => Some(Request::SetSetting {
            key: key.clone(),
            value: text("value"),
        }),
        FormKind::CreateClient
        | FormKind::EditClient { .. }
        | FormKind::DeleteClient { .. }
        | FormKind::RotateKey
        | FormKind::EditClaims { .. } => None,
        FormKind::TestEmail => Some(Request::SendTestEmail { to: text("to") }),
    }
}
