//! Plain data for the console tests, and a harness that feeds replies to
//! an [`App`]. Nothing here decides anything a daemon would: a test that
//! needs a refusal feeds the error itself.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use latchkey_protocol::{
    AuditEventView, AuthorizationView, DaemonStatus, GroupMember, GroupSummary, GroupView,
    LoginCodeCreated, LoginCodeView, PROTOCOL_VERSION, PasskeyView, Request, Response, ServerHello,
    SessionView, SettingView, SignInMethod, Source, UserPage, UserQuery, UserView,
};
use serde_json::json;
use time::OffsetDateTime;
use time::macros::datetime;

use crate::console::{App, AppEvent, Command, render_to_text};

pub const W: u16 = 100;
pub const H: u16 = 30;
pub const T0: OffsetDateTime = datetime!(2026-11-01 09:30:00 UTC);

pub fn user(username: &str) -> UserView {
    let (first, last) = username.split_once('.').unwrap_or((username, ""));
    let cap = |s: &str| {
        let mut c = s.chars();
        c.next()
            .map(|f| f.to_uppercase().chain(c).collect())
            .unwrap_or_default()
    };
    let (first, last): (String, String) = (cap(first), cap(last));
    UserView {
        id: format!("u-{username}"),
        username: username.to_owned(),
        email: Some(format!("{username}@example.com")),
        email_verified: true,
        display_name: crate::fmt::full_name(&first, &last),
        first_name: first,
        last_name: last,
        is_admin: false,
        disabled: false,
        source: Source::Local,
        passkey_count: 1,
        groups: Vec::new(),
        created_at: T0,
        updated_at: T0,
    }
}

/// A few users with variety: admin, disabled, LDAP, no email.
pub fn small() -> Vec<UserView> {
    let mut ada = user("ada.lovelace");
    ada.is_admin = true;
    ada.passkey_count = 2;
    ada.groups = vec!["admins".to_owned()];
    let mut bob = user("bob.builder");
    bob.disabled = true;
    bob.passkey_count = 0;
    let mut grace = user("grace.hopper");
    grace.source = Source::Ldap;
    grace.groups = vec!["admins".to_owned(), "navy".to_owned()];
    let mut linus = user("linus");
    linus.email = None;
    linus.email_verified = false;
    vec![ada, bob, grace, linus, user("margaret.hamilton")]
}

/// The page a query asks for out of `users`. The filter is not applied:
/// which users match is the daemon's to decide, so a test that filters
/// answers with the page it expects the daemon to send.
pub fn page_of(users: &[UserView], query: &UserQuery) -> UserPage {
    UserPage {
        users: users
            .iter()
            .skip(query.offset as usize)
            .take(query.limit as usize)
            .cloned()
            .collect(),
        total: users.len() as u64,
        offset: query.offset,
    }
}

/// A page of `total` numbered users (`user000001`…), made on demand.
pub fn numbered_page(total: u64, query: &UserQuery) -> UserPage {
    let end = (query.offset + u64::from(query.limit)).min(total);
    UserPage {
        users: (query.offset..end)
            .map(|i| user(&format!("user{:06}", i + 1)))
            .collect(),
        total,
        offset: query.offset,
    }
}

pub fn server_hello() -> ServerHello {
    ServerHello {
        protocol: PROTOCOL_VERSION,
        daemon_version: "0.1.0".to_owned(),
        public_url: "http://localhost:1411".to_owned(),
    }
}

pub fn status(users: u64) -> DaemonStatus {
    DaemonStatus {
        daemon_version: "0.1.0".to_owned(),
        public_url: "http://localhost:1411".to_owned(),
        data_dir: "/var/lib/latchkey".to_owned(),
        database: "/var/lib/latchkey/latchkey.redb".to_owned(),
        user_count: users,
        admin_count: 1,
        group_count: 3,
        started_at: T0,
    }
}

pub fn groups() -> Vec<GroupView> {
    let group = |name: &str, friendly: &str, members: &[&str]| GroupView {
        id: format!("g-{name}"),
        name: name.to_owned(),
        friendly_name: friendly.to_owned(),
        source: Source::Local,
        members: members
            .iter()
            .map(|m| GroupMember {
                id: format!("u-{m}"),
                username: (*m).to_owned(),
            })
            .collect(),
        created_at: T0,
    };
    vec![
        group(
            "admins",
            "Administrators",
            &["ada.lovelace", "grace.hopper"],
        ),
        group("navy", "US Navy", &["grace.hopper"]),
        group("empty", "", &[]),
    ]
}

pub fn summary(g: &GroupView) -> GroupSummary {
    GroupSummary {
        id: g.id.clone(),
        name: g.name.clone(),
        friendly_name: g.friendly_name.clone(),
        source: g.source,
        member_count: g.members.len() as u64,
    }
}

/// An event whose details (`n=<id>`) are its own, so a screen that drew one
/// event's details on another's row would show it.
pub fn audit_event(id: u64, event: &str, subject: &str) -> AuditEventView {
    AuditEventView {
        id,
        at: T0 + time::Duration::minutes(id as i64),
        event: event.to_owned(),
        actor: "admin-socket (uid 1000)".to_owned(),
        subject: Some(subject.to_owned()),
        ip: None,
        user_agent: None,
        details: vec![("n".to_owned(), id.to_string())],
    }
}

pub fn passkeys() -> Vec<PasskeyView> {
    vec![
        PasskeyView {
            id: "cred-1".to_owned(),
            name: "YubiKey 5 NFC".to_owned(),
            aaguid: None,
            synced: false,
            created_at: T0,
            last_used_at: Some(T0 + time::Duration::days(3)),
        },
        PasskeyView {
            id: "cred-2".to_owned(),
            name: "iCloud Keychain".to_owned(),
            aaguid: None,
            synced: true,
            created_at: T0,
            last_used_at: None,
        },
    ]
}

pub fn codes() -> Vec<LoginCodeView> {
    vec![LoginCodeView {
        id: "lc-1".to_owned(),
        created_at: T0,
        expires_at: T0 + time::Duration::hours(12),
        created_by: "admin-socket (uid 1000)".to_owned(),
    }]
}

pub fn sessions() -> Vec<SessionView> {
    vec![SessionView {
        id: "s-1".to_owned(),
        method: SignInMethod::Passkey,
        ip: Some("203.0.113.7".to_owned()),
        user_agent: Some("Firefox".to_owned()),
        created_at: T0,
        last_seen_at: T0,
        expires_at: T0 + time::Duration::hours(1),
    }]
}

pub fn authorizations() -> Vec<AuthorizationView> {
    vec![AuthorizationView {
        client_id: "c-wiki".to_owned(),
        client_name: "Team wiki".to_owned(),
        scopes: vec![
            "openid".to_owned(),
            "profile".to_owned(),
            "email".to_owned(),
        ],
        granted_at: T0 + time::Duration::days(1),
        implied: false,
    }]
}

pub fn claims() -> Vec<(String, serde_json::Value)> {
    vec![
        ("department".to_owned(), json!("research")),
        ("clearance".to_owned(), json!(3)),
    ]
}

pub fn created_code() -> LoginCodeCreated {
    LoginCodeCreated {
        id: "lc-2".to_owned(),
        url: "http://localhost:1411/lc/K7QD-M2XH-9PRT-WC4A".to_owned(),
        code: "K7QD-M2XH-9PRT-WC4A".to_owned(),
        expires_at: T0 + time::Duration::hours(1),
        emailed: false,
    }
}

pub fn settings() -> Vec<SettingView> {
    let setting = |key: &str, value, default, kind: &str, description: &str| SettingView {
        key: key.to_owned(),
        value,
        default,
        kind: kind.to_owned(),
        description: description.to_owned(),
        write_only: false,
        warning: None,
    };
    let mut uv = setting(
        "passkeys.user_verification",
        json!("preferred"),
        json!("required"),
        "required | preferred",
        "Whether a passkey must check it is its owner (PIN, biometrics)",
    );
    uv.warning = Some("preferred lets a stolen security key sign in without a PIN".to_owned());
    let mut password = setting(
        "smtp.password",
        json!("set"),
        json!(null),
        "text",
        "SMTP password",
    );
    password.write_only = true;
    let mut bind = setting(
        "ldap.bind_password",
        json!(null),
        json!(null),
        "text",
        "LDAP bind password",
    );
    bind.write_only = true;
    vec![
        setting(
            "app.name",
            json!("Latchkey"),
            json!("Latchkey"),
            "text",
            "Shown on every page and in mail",
        ),
        setting(
            "session.minutes",
            json!(60),
            json!(60),
            "minutes 5–43200",
            "Browser session length",
        ),
        uv,
        setting(
            "signups.default_groups",
            json!(["staff", "wiki"]),
            json!([]),
            "list of groups",
            "Groups for accounts made by open signup",
        ),
        password,
        bind,
    ]
}

pub fn press(code: KeyCode) -> AppEvent {
    AppEvent::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

/// An app and the requests it sent that nobody has answered yet.
pub struct Harness {
    pub app: App,
    pub sent: Vec<(u64, Request)>,
    /// The users whose pages `answer_users` serves.
    pub users: Vec<UserView>,
    /// When set, pages are numbered users out of this many instead.
    pub numbered: Option<u64>,
}

impl Harness {
    /// Connected, with the status and the first page of `users` answered.
    pub fn connected(users: Vec<UserView>) -> Harness {
        Self::connect(users, None)
    }

    /// Connected to a directory of `total` numbered users.
    pub fn numbered(total: u64) -> Harness {
        Self::connect(Vec::new(), Some(total))
    }

    fn connect(users: Vec<UserView>, numbered: Option<u64>) -> Harness {
        let mut h = Harness {
            app: App::new("/run/latchkey/latchkey.sock", H),
            sent: Vec::new(),
            users,
            numbered,
        };
        let _ = h.app.start();
        h.feed(AppEvent::Connected {
            server: server_hello(),
        });
        h.answer_users();
        h
    }

    /// Feeds an event and keeps what it sends.
    pub fn feed(&mut self, event: AppEvent) -> Vec<Command> {
        let commands = self.app.update(event);
        for command in &commands {
            if let Command::Send { tag, request } = command {
                self.sent.push((*tag, request.clone()));
            }
        }
        commands
    }

    pub fn key(&mut self, code: KeyCode) -> Vec<Command> {
        self.feed(press(code))
    }

    pub fn type_text(&mut self, text: &str) {
        for c in text.chars() {
            self.key(KeyCode::Char(c));
        }
    }

    /// Answers the oldest unanswered request that `matches` with `result`.
    pub fn reply(
        &mut self,
        matches: impl Fn(&Request) -> bool,
        result: Result<Response, latchkey_protocol::ApiError>,
    ) {
        let Some(at) = self.sent.iter().position(|(_, r)| matches(r)) else {
            panic!("no such request in {:?}", self.sent);
        };
        let (tag, _) = self.sent.remove(at);
        self.feed(AppEvent::Reply { tag, result });
    }

    /// Answers every outstanding status and user-page request, repeatedly,
    /// until none are left.
    pub fn answer_users(&mut self) {
        loop {
            let Some(at) = self
                .sent
                .iter()
                .position(|(_, r)| matches!(r, Request::ListUsers { .. } | Request::Status))
            else {
                return;
            };
            let (tag, request) = self.sent.remove(at);
            let response = match request {
                Request::ListUsers { query } => Response::Users {
                    page: match self.numbered {
                        Some(total) => numbered_page(total, &query),
                        None => page_of(&self.users, &query),
                    },
                },
                _ => Response::Status {
                    status: status(self.numbered.unwrap_or(self.users.len() as u64)),
                },
            };
            self.feed(AppEvent::Reply {
                tag,
                result: Ok(response),
            });
        }
    }

    /// Whether a request that `matches` is waiting.
    pub fn asked(&self, matches: impl Fn(&Request) -> bool) -> bool {
        self.sent.iter().any(|(_, r)| matches(r))
    }

    pub fn screen(&self) -> String {
        render_to_text(&self.app, W, H)
    }
}
