//! The console's state and its update logic, free of I/O: [`App::update`]
//! takes an [`AppEvent`] and returns the [`Command`]s for the runner to carry
//! out. Every request is sent with a tag, and the tag's [`Purpose`] says what
//! its reply means, so a reply nobody waits for any more is simply dropped.
//!
//! Keys are handled in `keys.rs`, replies in `replies.rs`.

mod keys;
mod replies;
mod screen;

pub use screen::{Screen, Tab};

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crossterm::event::KeyEventKind;
use latchkey_protocol::{DaemonStatus, Request, ServerHello, UserQuery};

use super::access::{AccessView, Part};
use super::audit::AuditView;
use super::clients::{ClientsView, SecretShown};
use super::confirm::Confirm;
use super::event::{AppEvent, Command};
use super::form::Form;
use super::groups::GroupsView;
use super::ldap::LdapScreen;
use super::login_code::{ExpiryPicker, LoginCodeShown};
use super::settings::SettingsScreen;
use super::signup_tokens::{SignupTokenDialog, SignupTokenShown, SignupTokensView};
use super::users::{PAGE, UsersView};

/// How long to wait between connection attempts while the daemon is away.
pub const RETRY_EVERY: Duration = Duration::from_secs(2);

/// The state of the connection, as the screens show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    /// An attempt is under way; `after_error` is the previous failure, kept
    /// on screen so the page does not flicker between attempts.
    Connecting {
        after_error: Option<String>,
    },
    Up {
        server: ServerHello,
    },
    Down {
        error: String,
        /// When the next attempt is due; set by the first tick after the failure.
        retry_at: Option<Instant>,
        /// Whole seconds until then, for display.
        retry_in: Option<u64>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flash {
    Info(String),
    Error(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Modal {
    Help,
    Form(Form),
    Confirm(Confirm),
    /// Choosing how long a new login code lives.
    Expiry(ExpiryPicker),
    /// A login code just made, with its QR code.
    LoginCode(Box<LoginCodeShown>),
    /// A client secret just made: shown once.
    Secret(Box<SecretShown>),
    /// Creating a signup token.
    SignupToken(SignupTokenDialog),
    /// A signup link just made, with its QR code.
    SignupTokenShown(Box<SignupTokenShown>),
}

/// What a reply is for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Purpose {
    Status,
    UsersPage {
        generation: u64,
        page: u64,
    },
    UserDetail {
        id: String,
    },
    Access {
        user: String,
        part: Part,
    },
    SaveForm,
    SetDisabled {
        username: String,
        disabled: bool,
    },
    DeleteUser {
        username: String,
    },
    Groups,
    GroupMembers {
        name: String,
    },
    GroupClaims {
        name: String,
    },
    DeleteGroup {
        name: String,
    },
    RemoveMember {
        group: String,
        username: String,
    },
    CreateLoginCode {
        username: String,
        label: String,
    },
    /// A passkey, login code or session was revoked; `done` is the message.
    Revoked {
        user: String,
        part: Part,
        done: String,
    },
    Audit {
        filter: String,
    },
    Settings,
    Clients,
    SigningKeys,
    RotateSecret {
        name: String,
    },
    SignupTokens,
    CreateSignupToken {
        label: String,
    },
    RevokeSignupToken {
        prefix: String,
    },
    LdapStatus,
    LdapSync,
    /// The outgoing mail queue, for the Settings screen.
    MailStatus,
}

#[derive(Debug)]
pub struct App {
    socket_path: PathBuf,
    height: u16,
    link: Link,
    status: Option<DaemonStatus>,
    screen: Screen,
    users: UsersView,
    groups: GroupsView,
    clients: ClientsView,
    access: AccessView,
    audit: AuditView,
    settings: SettingsScreen,
    signup_tokens: SignupTokensView,
    ldap: LdapScreen,
    modal: Option<Modal>,
    flash: Option<Flash>,
    pending: HashMap<u64, Purpose>,
    next_tag: u64,
    /// A change notice arrived; reload on the next tick (coalesces bursts).
    dirty: bool,
    outbox: Vec<Command>,
}

impl App {
    pub fn new(socket_path: impl Into<PathBuf>, height: u16) -> App {
        App {
            socket_path: socket_path.into(),
            height,
            link: Link::Connecting { after_error: None },
            status: None,
            screen: Screen::Users,
            users: UsersView::new(height),
            groups: GroupsView::default(),
            clients: ClientsView::default(),
            access: AccessView::new(""),
            audit: AuditView::default(),
            settings: SettingsScreen::default(),
            signup_tokens: SignupTokensView::default(),
            ldap: LdapScreen::default(),
            modal: None,
            flash: None,
            pending: HashMap::new(),
            next_tag: 1,
            dirty: false,
            outbox: Vec::new(),
        }
    }

    /// The commands to run first: connect.
    pub fn start(&mut self) -> Vec<Command> {
        vec![Command::Connect]
    }

    pub fn socket_path(&self) -> &Path {
        &self.socket_path
    }
    pub fn link(&self) -> &Link {
        &self.link
    }
    pub fn server(&self) -> Option<&ServerHello> {
        match &self.link {
            Link::Up { server } => Some(server),
            _ => None,
        }
    }
    pub fn status(&self) -> Option<&DaemonStatus> {
        self.status.as_ref()
    }
    pub fn screen(&self) -> &Screen {
        &self.screen
    }
    pub fn users(&self) -> &UsersView {
        &self.users
    }
    pub fn groups(&self) -> &GroupsView {
        &self.groups
    }
    pub fn clients(&self) -> &ClientsView {
        &self.clients
    }
    /// The lists of the user detail view.
    pub fn access(&self) -> &AccessView {
        &self.access
    }
    pub fn audit(&self) -> &AuditView {
        &self.audit
    }
    pub fn settings(&self) -> &SettingsScreen {
        &self.settings
    }
    pub fn signup_tokens(&self) -> &SignupTokensView {
        &self.signup_tokens
    }

    pub fn ldap(&self) -> &LdapScreen {
        &self.ldap
    }

    pub fn modal(&self) -> Option<&Modal> {
        self.modal.as_ref()
    }
    pub fn flash(&self) -> Option<&Flash> {
        self.flash.as_ref()
    }
    pub fn height(&self) -> u16 {
        self.height
    }
    /// Requests sent and not yet answered.
    pub fn pending_count(&self) -> usize {
        self.pending.len()
    }

    pub fn update(&mut self, event: AppEvent) -> Vec<Command> {
        match event {
            AppEvent::Key(key) if key.kind != KeyEventKind::Release => self.on_key(key),
            AppEvent::Key(_) => {}
            AppEvent::Resize { height, .. } => {
                self.height = height;
                self.users.resize(height);
                self.fetch_user_pages();
            }
            AppEvent::Tick { now } => self.on_tick(now),
            AppEvent::Connected { server } => {
                self.link = Link::Up { server };
                self.reload_all();
            }
            AppEvent::ConnectFailed { error } | AppEvent::ConnectionLost { error } => {
                self.pending.clear();
                self.users.forget_in_flight();
                match &mut self.modal {
                    Some(Modal::Form(form)) => form.busy = false,
                    Some(Modal::Expiry(picker)) => picker.busy = false,
                    Some(Modal::SignupToken(dialog)) => dialog.busy = false,
                    _ => {}
                }
                self.link = Link::Down {
                    error,
                    retry_at: None,
                    retry_in: None,
                };
            }
            AppEvent::Reply { tag, result } => {
                if let Some(purpose) = self.pending.remove(&tag) {
                    self.on_reply(purpose, result);
                }
            }
            AppEvent::DirectoryChanged => self.dirty = true,
            AppEvent::AuditAppended { event } => self.on_audit_event(event),
            AppEvent::LdapSyncProgress { progress } => {
                if self.ldap.syncing {
                    self.ldap.progress = Some(progress);
                }
            }
        }
        std::mem::take(&mut self.outbox)
    }

    fn on_audit_event(&mut self, event: latchkey_protocol::AuditEventView) {
        match &self.screen {
            Screen::Audit => self.dirty |= self.audit.appended(event),
            Screen::UserDetail { user, .. } => {
                let about = |name: &str| name.eq_ignore_ascii_case(&user.username);
                if about(&event.actor) || event.subject.as_deref().is_some_and(about) {
                    self.dirty = true;
                }
            }
            // Other screens load the log afresh when they are opened.
            _ => {}
        }
    }

    fn on_tick(&mut self, now: Instant) {
        match &mut self.link {
            Link::Down {
                retry_at,
                retry_in,
                error,
            } => {
                let due = *retry_at.get_or_insert(now + RETRY_EVERY);
                if now >= due {
                    self.link = Link::Connecting {
                        after_error: Some(error.clone()),
                    };
                    self.outbox.push(Command::Connect);
                } else {
                    *retry_in = Some((due - now).as_secs_f64().ceil() as u64);
                }
            }
            Link::Up { .. } if self.dirty => {
                self.dirty = false;
                self.reload_all();
            }
            _ => {}
        }
    }

    fn send(&mut self, purpose: Purpose, request: Request) {
        let tag = self.next_tag;
        self.next_tag += 1;
        self.pending.insert(tag, purpose);
        self.outbox.push(Command::Send { tag, request });
    }

    /// Everything the current screen shows, fetched afresh (after connecting,
    /// `r`, or a change notice).
    fn reload_all(&mut self) {
        self.send(Purpose::Status, Request::Status);
        self.reload_users();
        match &self.screen {
            Screen::Users => {}
            Screen::UserDetail { user, .. } => {
                let id = user.id.clone();
                self.load_user(id);
            }
            Screen::Groups => self.send(Purpose::Groups, Request::ListGroups),
            Screen::GroupMembers { name } => {
                let name = name.clone();
                self.load_members(name);
            }
            Screen::Clients => self.load_clients(),
            Screen::Audit => self.load_audit(),
            Screen::Settings => {
                self.send(Purpose::Settings, Request::GetSettings);
                self.send(Purpose::MailStatus, Request::MailStatus);
            }
            Screen::SignupTokens => self.send(Purpose::SignupTokens, Request::ListSignupTokens),
            Screen::Ldap => self.send(Purpose::LdapStatus, Request::LdapStatus),
        }
    }

    /// A group's members and custom claims.
    fn load_members(&mut self, name: String) {
        self.send(
            Purpose::GroupMembers { name: name.clone() },
            Request::GetGroup { name: name.clone() },
        );
        self.load_group_claims(name);
    }

    fn load_group_claims(&mut self, name: String) {
        self.send(
            Purpose::GroupClaims { name: name.clone() },
            Request::GetClaims {
                owner: latchkey_protocol::ClaimOwner::Group(name),
            },
        );
    }

    fn load_clients(&mut self) {
        self.send(Purpose::Clients, Request::ListClients);
        self.send(Purpose::SigningKeys, Request::ListSigningKeys);
    }

    /// The user's record and every list of the detail view.
    fn load_user(&mut self, id: String) {
        self.send(
            Purpose::UserDetail { id: id.clone() },
            Request::GetUser { user: id.clone() },
        );
        for part in Part::ALL {
            self.load_part(&id, part);
        }
    }

    fn load_part(&mut self, user: &str, part: Part) {
        self.send(
            Purpose::Access {
                user: user.to_owned(),
                part,
            },
            part.request(user),
        );
    }

    fn load_audit(&mut self) {
        let query = self.audit.query();
        self.send(
            Purpose::Audit {
                filter: self.audit.applied.clone(),
            },
            Request::ListAudit { query },
        );
    }

    fn reload_users(&mut self) {
        self.users.invalidate();
        self.fetch_user_pages();
    }

    fn fetch_user_pages(&mut self) {
        if !matches!(self.link, Link::Up { .. }) {
            return;
        }
        let generation = self.users.generation();
        for page in self.users.take_wanted_pages() {
            let query = UserQuery {
                filter: self.users.filter.value().to_owned(),
                offset: page * PAGE,
                limit: PAGE as u32,
            };
            self.send(
                Purpose::UsersPage { generation, page },
                Request::ListUsers { query },
            );
        }
    }
}
