//! What each key does, screen by screen and in the modals.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use latchkey_protocol::{ClaimOwner, NewLoginCode, Request, Source};

use super::{App, Flash, Link, Modal, Purpose, Screen, Tab};
use crate::console::access::{AccessView, Item, Part};
use crate::console::audit::AuditKey;
use crate::console::clients;
use crate::console::confirm::{Confirm, ConfirmAction, ConfirmKey};
use crate::console::event::Command;
use crate::console::form::{Form, FormKey};
use crate::console::loaded::Loaded;
use crate::console::login_code::{ExpiryPicker, PickerKey};
use crate::console::selection::step;
use crate::console::signup_tokens::{DialogKey, SignupTokenDialog};
use crate::console::users::UsersKey;

impl App {
    pub(super) fn on_key(&mut self, key: KeyEvent) {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl && key.code == KeyCode::Char('c') {
            self.outbox.push(Command::Quit);
            return;
        }
        self.flash = None;
        if !matches!(self.link, Link::Up { .. }) {
            match key.code {
                KeyCode::Char('q') | KeyCode::Esc => self.outbox.push(Command::Quit),
                KeyCode::Char('r') if !matches!(self.link, Link::Connecting { .. }) => {
                    self.retry_now();
                }
                _ => {}
            }
            return;
        }
        match self.modal.take() {
            Some(Modal::Help | Modal::LoginCode(_) | Modal::SignupTokenShown(_)) => return,
            Some(Modal::Secret(shown)) => {
                // Only a deliberate key closes it: the secret is shown once.
                if !matches!(key.code, KeyCode::Enter | KeyCode::Esc) {
                    self.modal = Some(Modal::Secret(shown));
                }
                return;
            }
            Some(Modal::SignupToken(dialog)) => return self.on_signup_dialog_key(dialog, key),
            Some(Modal::Form(form)) => return self.on_form_key(form, key),
            Some(Modal::Expiry(picker)) => return self.on_picker_key(picker, key),
            Some(Modal::Confirm(confirm)) => {
                match confirm.on_key(key) {
                    ConfirmKey::Yes => self.confirmed(confirm.action),
                    ConfirmKey::No => {}
                    ConfirmKey::Ignored => self.modal = Some(Modal::Confirm(confirm)),
                }
                return;
            }
            None => {}
        }
        match self.screen {
            Screen::Users => match self.users.on_key(key) {
                UsersKey::Moved | UsersKey::FilterChanged => return self.fetch_user_pages(),
                UsersKey::Handled => return,
                UsersKey::Ignored if self.users.filter_focused => return,
                UsersKey::Ignored => {}
            },
            Screen::Audit => {
                let page = usize::from(self.height.saturating_sub(7).max(1));
                match self.audit.on_key(key, page) {
                    AuditKey::Apply => return self.load_audit(),
                    AuditKey::Handled => return,
                    AuditKey::Ignored if self.audit.filter_focused => return,
                    AuditKey::Ignored => {}
                }
            }
            _ => {}
        }
        match key.code {
            KeyCode::Char('q') => self.outbox.push(Command::Quit),
            KeyCode::Char('?') => self.modal = Some(Modal::Help),
            KeyCode::Char('r') => self.reload_all(),
            KeyCode::Tab => self.switch_tab(1),
            KeyCode::BackTab => self.switch_tab(Tab::ALL.len() - 1),
            _ => match self.screen.clone() {
                Screen::Users | Screen::UserDetail { .. } => self.on_user_key(key),
                Screen::Groups => self.on_groups_key(key),
                Screen::GroupMembers { name } => self.on_members_key(key, name),
                Screen::Audit => {}
                Screen::Clients => self.on_clients_key(key),
                Screen::Settings => self.on_settings_key(key),
                Screen::SignupTokens => self.on_signup_tokens_key(key),
                Screen::Ldap => self.on_ldap_key(key),
            },
        }
    }

    fn retry_now(&mut self) {
        let after_error = match &self.link {
            Link::Down { error, .. } => Some(error.clone()),
            _ => None,
        };
        self.link = Link::Connecting { after_error };
        self.outbox.push(Command::Connect);
    }

    /// Moves `by` tabs to the right (wrapping) and loads what the tab shows.
    fn switch_tab(&mut self, by: usize) {
        let current = Tab::ALL
            .iter()
            .position(|t| *t == self.screen.tab())
            .unwrap_or(0);
        let next = Tab::ALL
            .get((current + by) % Tab::ALL.len())
            .copied()
            .unwrap_or(Tab::Users);
        self.screen = match next {
            Tab::Users => Screen::Users,
            Tab::Groups => {
                self.send(Purpose::Groups, Request::ListGroups);
                Screen::Groups
            }
            Tab::Clients => {
                self.load_clients();
                Screen::Clients
            }
            Tab::Audit => {
                self.load_audit();
                Screen::Audit
            }
            Tab::Settings => {
                self.send(Purpose::Settings, Request::GetSettings);
                self.send(Purpose::MailStatus, Request::MailStatus);
                Screen::Settings
            }
        };
    }

    /// The user the user keys act on: the one in the detail view, or the
    /// selected row.
    fn current_user(&self) -> Option<&latchkey_protocol::UserView> {
        match &self.screen {
            Screen::UserDetail { user, .. } => Some(user),
            _ => self.users.selected_user(),
        }
    }

    fn on_user_key(&mut self, key: KeyEvent) {
        let in_detail = matches!(self.screen, Screen::UserDetail { .. });
        if in_detail {
            if matches!(key.code, KeyCode::Esc | KeyCode::Backspace | KeyCode::Left) {
                self.screen = Screen::Users;
                return;
            }
            if self.access.step(key) {
                return;
            }
        }
        if key.code == KeyCode::Char('n') {
            self.modal = Some(Modal::Form(Form::create_user()));
            return;
        }
        let Some(user) = self.current_user().cloned() else {
            return;
        };
        match key.code {
            KeyCode::Enter if !in_detail => {
                let id = user.id.clone();
                self.access = AccessView::new(&id);
                self.screen = Screen::UserDetail {
                    user: Box::new(user),
                    loading: true,
                };
                self.load_user(id);
            }
            KeyCode::Char('l') if user.disabled => {
                self.flash = Some(Flash::Error(format!(
                    "{} is disabled; enable them first (d), or the code will not work.",
                    user.username
                )));
            }
            KeyCode::Char('l') => self.modal = Some(Modal::Expiry(ExpiryPicker::new(&user))),
            KeyCode::Char('x') | KeyCode::Delete if in_detail => self.revoke_selected(&user),
            KeyCode::Char('c') if in_detail => match self.access.claims.ready() {
                Some(claims) => {
                    let form = Form::edit_claims(
                        ClaimOwner::User(user.id.clone()),
                        &user.username,
                        claims,
                    );
                    self.modal = Some(Modal::Form(form));
                }
                None => self.claims_not_loaded(),
            },
            KeyCode::Char('e') if user.source == Source::Ldap => {
                self.flash = Some(Flash::Error(format!(
                    "{} comes from LDAP and is read-only here; change it in the directory.",
                    user.username
                )));
            }
            KeyCode::Char('e') => self.modal = Some(Modal::Form(Form::edit_user(&user))),
            KeyCode::Char('d') => {
                let disabled = !user.disabled;
                self.send(
                    Purpose::SetDisabled {
                        username: user.username.clone(),
                        disabled,
                    },
                    Request::SetUserDisabled {
                        user: user.id,
                        disabled,
                    },
                );
            }
            KeyCode::Char('D') | KeyCode::Delete => {
                self.modal = Some(Modal::Confirm(Confirm::new(ConfirmAction::DeleteUser {
                    id: user.id,
                    username: user.username,
                })));
            }
            _ => {}
        }
    }

    /// Editing claims that are not loaded would replace them blind.
    fn claims_not_loaded(&mut self) {
        self.flash = Some(Flash::Error(
            "The claims have not loaded; press r to reload, then c.".to_owned(),
        ));
    }

    /// Asks before revoking the passkey, code, session or app under the cursor.
    fn revoke_selected(&mut self, user: &latchkey_protocol::UserView) {
        let (id, username) = (user.id.clone(), user.username.clone());
        let action = match self.access.selected_item() {
            Some(Item::Passkey(p)) => ConfirmAction::RevokePasskey {
                user: id,
                username,
                id: p.id.clone(),
                name: p.name.clone(),
            },
            Some(Item::Code(c)) => ConfirmAction::RevokeLoginCode {
                user: id,
                username,
                id: c.id.clone(),
            },
            Some(Item::Session(s)) => ConfirmAction::RevokeSession {
                user: id,
                username,
                id: s.id.clone(),
            },
            Some(Item::Authorization(a)) => ConfirmAction::RevokeAuthorization {
                user: id,
                username,
                client_id: a.client_id.clone(),
                client_name: a.client_name.clone(),
            },
            None => {
                self.flash = Some(Flash::Info(
                    "Nothing to revoke: select a passkey, login code, session or app.".to_owned(),
                ));
                return;
            }
        };
        self.modal = Some(Modal::Confirm(Confirm::new(action)));
    }

    fn on_picker_key(&mut self, mut picker: ExpiryPicker, key: KeyEvent) {
        match picker.on_key(key) {
            PickerKey::Cancel => return,
            PickerKey::Handled => {}
            PickerKey::Submit { expires, label } => {
                picker.busy = true;
                self.send(
                    Purpose::CreateLoginCode {
                        username: picker.username.clone(),
                        label,
                    },
                    Request::CreateLoginCode {
                        code: NewLoginCode {
                            user: picker.user.clone(),
                            expires_in_secs: expires.as_secs(),
                            send_email: picker.email,
                        },
                    },
                );
            }
        }
        self.modal = Some(Modal::Expiry(picker));
    }

    /// `s` syncs now (progress arrives as events); Esc goes back.
    fn on_ldap_key(&mut self, key: KeyEvent) {
        match key.code {
            KeyCode::Char('s') if !self.ldap.syncing => {
                self.ldap.syncing = true;
                self.ldap.progress = None;
                self.send(Purpose::LdapSync, Request::LdapSync);
            }
            KeyCode::Esc | KeyCode::Backspace | KeyCode::Left => {
                self.send(Purpose::Settings, Request::GetSettings);
                self.screen = Screen::Settings;
            }
            _ => {}
        }
    }

    fn on_settings_key(&mut self, key: KeyEvent) {
        if key.code == KeyCode::Char('L') {
            self.send(Purpose::LdapStatus, Request::LdapStatus);
            self.screen = Screen::Ldap;
            return;
        }
        let len = self.settings.list().len();
        let page = usize::from(self.height.saturating_sub(10).max(1));
        if let Some(next) = step(self.settings.selected, len, key, page) {
            self.settings.selected = next;
            return;
        }
        if key.code == KeyCode::Char('t') {
            self.screen = Screen::SignupTokens;
            self.send(Purpose::SignupTokens, Request::ListSignupTokens);
            return;
        }
        if key.code == KeyCode::Char('m') {
            // A test message, so the SMTP settings on this screen can be
            // checked without leaving it.
            self.modal = Some(Modal::Form(crate::console::settings::test_email_form()));
            return;
        }
        if let (KeyCode::Enter | KeyCode::Char('e'), Some(setting)) =
            (key.code, self.settings.selected_setting())
        {
            self.modal = Some(Modal::Form(crate::console::settings::edit_form(setting)));
        }
    }

    fn on_clients_key(&mut self, key: KeyEvent) {
        let len = self.clients.list().len();
        let page = usize::from(self.height.saturating_sub(10).max(1));
        if let Some(next) = step(self.clients.selected, len, key, page) {
            self.clients.selected = next;
            return;
        }
        match key.code {
            KeyCode::Char('n') => {
                self.modal = Some(Modal::Form(clients::create_form()));
                return;
            }
            KeyCode::Char('K') => {
                let alg = self.clients.active_alg().to_owned();
                self.modal = Some(Modal::Form(clients::rotate_key_form(&alg)));
                return;
            }
            _ => {}
        }
        let Some(client) = self.clients.selected_client().cloned() else {
            return;
        };
        match key.code {
            KeyCode::Enter | KeyCode::Char('e') => {
                self.modal = Some(Modal::Form(clients::edit_form(&client)));
            }
            KeyCode::Char('s') if client.public => {
                self.flash = Some(Flash::Error(format!(
                    "{} is a public client: it has no secret.",
                    client.name
                )));
            }
            KeyCode::Char('s') => {
                self.modal = Some(Modal::Confirm(Confirm::new(
                    ConfirmAction::RotateClientSecret {
                        client_id: client.client_id,
                        name: client.name,
                    },
                )));
            }
            KeyCode::Char('D') | KeyCode::Delete => {
                self.modal = Some(Modal::Form(clients::delete_form(&client)));
            }
            _ => {}
        }
    }

    fn on_signup_tokens_key(&mut self, key: KeyEvent) {
        let len = self.signup_tokens.list().len();
        let page = usize::from(self.height.saturating_sub(6).max(1));
        if let Some(next) = step(self.signup_tokens.selected, len, key, page) {
            self.signup_tokens.selected = next;
            return;
        }
        match key.code {
            KeyCode::Esc | KeyCode::Backspace | KeyCode::Left => {
                self.screen = Screen::Settings;
                self.send(Purpose::Settings, Request::GetSettings);
            }
            KeyCode::Char('n') => {
                self.modal = Some(Modal::SignupToken(SignupTokenDialog::default()));
            }
            KeyCode::Char('x') | KeyCode::Char('D') | KeyCode::Delete => {
                match self.signup_tokens.selected_token() {
                    Some(token) => {
                        let action = ConfirmAction::RevokeSignupToken {
                            id: token.id.clone(),
                            prefix: token.prefix.clone(),
                        };
                        self.modal = Some(Modal::Confirm(Confirm::new(action)));
                    }
                    None => {
                        self.flash = Some(Flash::Info("No signup token to revoke.".to_owned()));
                    }
                }
            }
            _ => {}
        }
    }

    fn on_signup_dialog_key(&mut self, mut dialog: SignupTokenDialog, key: KeyEvent) {
        match dialog.on_key(key) {
            DialogKey::Cancel => return,
            DialogKey::Handled => {}
            DialogKey::Submit { token, label } => {
                dialog.busy = true;
                self.send(
                    Purpose::CreateSignupToken { label },
                    Request::CreateSignupToken { token },
                );
            }
        }
        self.modal = Some(Modal::SignupToken(dialog));
    }

    fn on_groups_key(&mut self, key: KeyEvent) {
        let len = self.groups.groups.as_ref().map_or(0, Vec::len);
        let page = usize::from(self.height.saturating_sub(6).max(1));
        if let Some(next) = step(self.groups.selected, len, key, page) {
            self.groups.selected = next;
            return;
        }
        match key.code {
            KeyCode::Char('n') => self.modal = Some(Modal::Form(Form::create_group())),
            KeyCode::Enter => {
                if let Some(group) = self.groups.selected_group() {
                    let name = group.name.clone();
                    self.groups.member_selected = 0;
                    self.groups.claims = None;
                    self.screen = Screen::GroupMembers { name: name.clone() };
                    self.load_members(name);
                }
            }
            KeyCode::Char('D') | KeyCode::Delete => {
                if let Some(group) = self.groups.selected_group() {
                    let name = group.name.clone();
                    self.modal = Some(Modal::Confirm(Confirm::new(ConfirmAction::DeleteGroup {
                        name,
                    })));
                }
            }
            _ => {}
        }
    }

    fn on_members_key(&mut self, key: KeyEvent, name: String) {
        let members = self
            .groups
            .members
            .as_ref()
            .filter(|g| g.name == name)
            .map(|g| g.members.clone())
            .unwrap_or_default();
        let page = usize::from(self.height.saturating_sub(6).max(1));
        if let Some(next) = step(self.groups.member_selected, members.len(), key, page) {
            self.groups.member_selected = next;
            return;
        }
        match key.code {
            KeyCode::Esc | KeyCode::Backspace | KeyCode::Left => {
                self.screen = Screen::Groups;
                self.send(Purpose::Groups, Request::ListGroups);
            }
            KeyCode::Char('a') => self.modal = Some(Modal::Form(Form::add_member(&name))),
            KeyCode::Char('c') => match self.groups.claims_of(&name).and_then(Loaded::ready) {
                Some(claims) => {
                    let form = Form::edit_claims(ClaimOwner::Group(name.clone()), &name, claims);
                    self.modal = Some(Modal::Form(form));
                }
                None => self.claims_not_loaded(),
            },
            KeyCode::Char('x') | KeyCode::Char('D') | KeyCode::Delete => {
                if let Some(member) = members.get(self.groups.member_selected) {
                    self.modal = Some(Modal::Confirm(Confirm::new(ConfirmAction::RemoveMember {
                        group: name,
                        username: member.username.clone(),
                    })));
                }
            }
            _ => {}
        }
    }

    fn on_form_key(&mut self, mut form: Form, key: KeyEvent) {
        match form.on_key(key) {
            FormKey::Cancel => return,
            FormKey::Handled => {}
            FormKey::Submit => {
                form.error = None;
                match super::replies::form_request(&form) {
                    Ok(Some(request)) => {
                        form.busy = true;
                        self.send(Purpose::SaveForm, request);
                    }
                    Ok(None) => {
                        self.flash = Some(Flash::Info("Nothing changed.".to_owned()));
                        return;
                    }
                    Err(error) => form.show_error(&error),
                }
            }
        }
        self.modal = Some(Modal::Form(form));
    }

    fn confirmed(&mut self, action: ConfirmAction) {
        let (purpose, request) = match action {
            ConfirmAction::DeleteUser { id, username } => (
                Purpose::DeleteUser { username },
                Request::DeleteUser { user: id },
            ),
            ConfirmAction::DeleteGroup { name } => (
                Purpose::DeleteGroup { name: name.clone() },
                Request::DeleteGroup { name },
            ),
            ConfirmAction::RemoveMember { group, username } => (
                Purpose::RemoveMember {
                    group: group.clone(),
                    username: username.clone(),
                },
                Request::RemoveGroupMember {
                    group,
                    user: username,
                },
            ),
            ConfirmAction::RevokePasskey {
                user,
                username,
                id,
                name,
            } => (
                Purpose::Revoked {
                    user: user.clone(),
                    part: Part::Passkeys,
                    done: format!("Revoked {username}'s passkey \"{name}\"."),
                },
                Request::RevokePasskey { user, id },
            ),
            ConfirmAction::RevokeLoginCode { user, username, id } => (
                Purpose::Revoked {
                    user: user.clone(),
                    part: Part::Codes,
                    done: format!("Revoked a login code of {username}."),
                },
                Request::RevokeLoginCode { user, id },
            ),
            ConfirmAction::RevokeAuthorization {
                user,
                username,
                client_id,
                client_name,
            } => (
                Purpose::Revoked {
                    user: user.clone(),
                    part: Part::Authorizations,
                    done: format!("Revoked {client_name}'s access to {username}."),
                },
                Request::RevokeAuthorization { user, client_id },
            ),
            ConfirmAction::RotateClientSecret { client_id, name } => (
                Purpose::RotateSecret { name },
                Request::RotateClientSecret { client_id },
            ),
            ConfirmAction::RevokeSession { user, username, id } => (
                Purpose::Revoked {
                    user: user.clone(),
                    part: Part::Sessions,
                    done: format!("Signed {username} out of that session."),
                },
                Request::RevokeSession { user, id },
            ),
            ConfirmAction::RevokeSignupToken { id, prefix } => (
                Purpose::RevokeSignupToken { prefix },
                Request::RevokeSignupToken { id },
            ),
        };
        self.send(purpose, request);
    }
}
