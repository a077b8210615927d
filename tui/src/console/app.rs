//! The console's state and its update logic, free of I/O: [`App::update`]
//! takes an [`AppEvent`] and returns the [`Command`]s for the runner to carry
//! out. Every request is sent with a tag, and the tag's [`Purpose`] says what
//! its reply means, so a reply nobody waits for any more is simply dropped.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use latchkey_protocol::{
    ApiError, DaemonStatus, NewGroup, NewUser, Request, Response, ServerHello, Source, UserPatch,
    UserQuery, UserView,
};

use super::confirm::{Confirm, ConfirmAction, ConfirmKey};
use super::event::{AppEvent, Command};
use super::form::{Form, FormKey, FormKind};
use super::groups::{self, GroupsView};
use super::users::{PAGE, UsersKey, UsersView};

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
pub enum Screen {
    Users,
    /// `loading` until the full record (with groups) arrives.
    UserDetail {
        user: Box<UserView>,
        loading: bool,
    },
    Groups,
    GroupMembers {
        name: String,
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
}

/// What a reply is for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Purpose {
    Status,
    UsersPage { generation: u64, page: u64 },
    UserDetail { id: String },
    SaveForm,
    SetDisabled { username: String, disabled: bool },
    DeleteUser { username: String },
    Groups,
    GroupMembers { name: String },
    DeleteGroup { name: String },
    RemoveMember { group: String, username: String },
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
                if let Some(Modal::Form(form)) = &mut self.modal {
                    form.busy = false;
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
        }
        std::mem::take(&mut self.outbox)
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
                self.send(
                    Purpose::UserDetail { id: id.clone() },
                    Request::GetUser { user: id },
                );
            }
            Screen::Groups => self.send(Purpose::Groups, Request::ListGroups),
            Screen::GroupMembers { name } => {
                let name = name.clone();
                self.send(
                    Purpose::GroupMembers { name: name.clone() },
                    Request::GetGroup { name },
                );
            }
        }
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

    fn on_key(&mut self, key: KeyEvent) {
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
            Some(Modal::Help) => return,
            Some(Modal::Form(form)) => return self.on_form_key(form, key),
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
        if self.screen == Screen::Users {
            match self.users.on_key(key) {
                UsersKey::Moved | UsersKey::FilterChanged => return self.fetch_user_pages(),
                UsersKey::Handled => return,
                UsersKey::Ignored if self.users.filter_focused => return,
                UsersKey::Ignored => {}
            }
        }
        match key.code {
            KeyCode::Char('q') => self.outbox.push(Command::Quit),
            KeyCode::Char('?') => self.modal = Some(Modal::Help),
            KeyCode::Char('r') => self.reload_all(),
            KeyCode::Tab | KeyCode::BackTab => self.switch_tab(),
            _ => match self.screen.clone() {
                Screen::Users | Screen::UserDetail { .. } => self.on_user_key(key),
                Screen::Groups => self.on_groups_key(key),
                Screen::GroupMembers { name } => self.on_members_key(key, name),
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

    fn switch_tab(&mut self) {
        self.screen = match self.screen {
            Screen::Users | Screen::UserDetail { .. } => {
                self.send(Purpose::Groups, Request::ListGroups);
                Screen::Groups
            }
            Screen::Groups | Screen::GroupMembers { .. } => Screen::Users,
        };
    }

    /// The user the user keys act on: the one in the detail view, or the
    /// selected row.
    fn current_user(&self) -> Option<&UserView> {
        match &self.screen {
            Screen::UserDetail { user, .. } => Some(user),
            _ => self.users.selected_user(),
        }
    }

    fn on_user_key(&mut self, key: KeyEvent) {
        if let (Screen::UserDetail { .. }, KeyCode::Esc | KeyCode::Backspace | KeyCode::Left) =
            (&self.screen, key.code)
        {
            self.screen = Screen::Users;
            return;
        }
        if key.code == KeyCode::Char('n') {
            self.modal = Some(Modal::Form(Form::create_user()));
            return;
        }
        let Some(user) = self.current_user().cloned() else {
            return;
        };
        match key.code {
            KeyCode::Enter if self.screen == Screen::Users => {
                let id = user.id.clone();
                self.screen = Screen::UserDetail {
                    user: Box::new(user),
                    loading: true,
                };
                self.send(
                    Purpose::UserDetail { id: id.clone() },
                    Request::GetUser { user: id },
                );
            }
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

    fn on_groups_key(&mut self, key: KeyEvent) {
        let len = self.groups.groups.as_ref().map_or(0, Vec::len);
        let page = usize::from(self.height.saturating_sub(6).max(1));
        if let Some(next) = groups::step(self.groups.selected, len, key, page) {
            self.groups.selected = next;
            return;
        }
        match key.code {
            KeyCode::Char('n') => self.modal = Some(Modal::Form(Form::create_group())),
            KeyCode::Enter => {
                if let Some(group) = self.groups.selected_group() {
                    let name = group.name.clone();
                    self.groups.member_selected = 0;
                    self.screen = Screen::GroupMembers { name: name.clone() };
                    self.send(
                        Purpose::GroupMembers { name: name.clone() },
                        Request::GetGroup { name },
                    );
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
        if let Some(next) = groups::step(self.groups.member_selected, members.len(), key, page) {
            self.groups.member_selected = next;
            return;
        }
        match key.code {
            KeyCode::Esc | KeyCode::Backspace | KeyCode::Left => {
                self.screen = Screen::Groups;
                self.send(Purpose::Groups, Request::ListGroups);
            }
            KeyCode::Char('a') => self.modal = Some(Modal::Form(Form::add_member(&name))),
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
                match form_request(&form) {
                    Some(request) => {
                        form.busy = true;
                        self.send(Purpose::SaveForm, request);
                    }
                    None => {
                        self.flash = Some(Flash::Info("Nothing changed.".to_owned()));
                        return;
                    }
                }
            }
        }
        self.modal = Some(Modal::Form(form));
    }

    fn confirmed(&mut self, action: ConfirmAction) {
        match action {
            ConfirmAction::DeleteUser { id, username } => {
                self.send(
                    Purpose::DeleteUser { username },
                    Request::DeleteUser { user: id },
                );
            }
            ConfirmAction::DeleteGroup { name } => {
                self.send(
                    Purpose::DeleteGroup { name: name.clone() },
                    Request::DeleteGroup { name },
                );
            }
            ConfirmAction::RemoveMember { group, username } => self.send(
                Purpose::RemoveMember {
                    group: group.clone(),
                    username: username.clone(),
                },
                Request::RemoveGroupMember {
                    group,
                    user: username,
                },
            ),
        }
    }

    fn on_reply(&mut self, purpose: Purpose, result: Result<Response, ApiError>) {
        let response = match (result, &purpose) {
            (Ok(response), _) => response,
            (Err(error), Purpose::SaveForm) => {
                if let Some(Modal::Form(form)) = &mut self.modal {
                    form.show_error(&error);
                } else {
                    self.flash = Some(Flash::Error(error.message));
                }
                return;
            }
            (Err(error), Purpose::UsersPage { generation, page }) => {
                self.users.failed(*generation, *page);
                self.flash = Some(Flash::Error(format!(
                    "Could not list users: {}",
                    error.message
                )));
                return;
            }
            (Err(error), _) => {
                self.flash = Some(Flash::Error(error.message));
                return;
            }
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
            (_, other) => {
                self.flash = Some(Flash::Error(format!(
                    "The daemon sent an unexpected answer: {other:?}"
                )));
            }
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
        }
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

/// The request a submitted form makes; `None` when an edit changed nothing.
fn form_request(form: &Form) -> Option<Request> {
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
    }
}
