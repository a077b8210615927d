//! Test fixtures: an in-memory stand-in for the daemon's directory that
//! answers [`Request`]s, usable in-process (console tests) or behind a real
//! Unix socket speaking the protocol (command-line tests).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use latchkey_protocol::{
    ApiError, AuditEventView, AuditPage, ClientMessage, DaemonStatus, ErrorCode, GroupList,
    GroupMember, GroupSummary, GroupView, Outcome, PROTOCOL_VERSION, Request, Response,
    ServerHello, ServerMessage, Source, UserPage, UserView, read_frame, write_frame,
};
use time::OffsetDateTime;
use time::macros::datetime;

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

pub fn server_hello() -> ServerHello {
    ServerHello {
        protocol: PROTOCOL_VERSION,
        daemon_version: "0.1.0".to_owned(),
        public_url: "http://localhost:1411".to_owned(),
    }
}

#[derive(Debug, Default, Clone)]
pub struct FakeDirectory {
    pub users: Vec<UserView>,
    pub groups: Vec<GroupView>,
    pub requests: Vec<Request>,
}

fn err(code: ErrorCode, message: &str) -> ApiError {
    ApiError::new(code, message)
}

impl FakeDirectory {
    /// A few hand-made users with variety (admin, disabled, LDAP).
    pub fn small() -> FakeDirectory {
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
        let users = vec![ada, bob, grace, linus, user("margaret.hamilton")];
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
        FakeDirectory {
            users,
            groups: vec![
                group(
                    "admins",
                    "Administrators",
                    &["ada.lovelace", "grace.hopper"],
                ),
                group("navy", "US Navy", &["grace.hopper"]),
                group("empty", "", &[]),
            ],
            requests: Vec::new(),
        }
    }

    /// `n` generated users, `user000001`…, already in order.
    pub fn many(n: u64) -> FakeDirectory {
        let users = (1..=n).map(|i| user(&format!("user{i:06}"))).collect();
        FakeDirectory {
            users,
            ..FakeDirectory::default()
        }
    }

    fn find(&self, key: &str) -> Result<usize, ApiError> {
        self.users
            .iter()
            .position(|u| u.id == key || u.username == key || u.email.as_deref() == Some(key))
            .ok_or_else(|| err(ErrorCode::NotFound, &format!("no user {key}")))
    }

    fn group(&self, name: &str) -> Result<usize, ApiError> {
        self.groups
            .iter()
            .position(|g| g.name == name)
            .ok_or_else(|| err(ErrorCode::NotFound, &format!("no group {name}")))
    }

    fn summary(g: &GroupView) -> GroupSummary {
        GroupSummary {
            id: g.id.clone(),
            name: g.name.clone(),
            friendly_name: g.friendly_name.clone(),
            source: g.source,
            member_count: g.members.len() as u64,
        }
    }

    pub fn handle(&mut self, request: Request) -> Result<Response, ApiError> {
        self.requests.push(request.clone());
        match request {
            Request::Status => Ok(Response::Status {
                status: DaemonStatus {
                    daemon_version: "0.1.0".to_owned(),
                    public_url: "http://localhost:1411".to_owned(),
                    data_dir: "./data".to_owned(),
                    user_count: self.users.len() as u64,
                    admin_count: self.users.iter().filter(|u| u.is_admin).count() as u64,
                    group_count: self.groups.len() as u64,
                    started_at: T0,
                },
            }),
            Request::ListUsers { query } => {
                let needle = query.filter.to_lowercase();
                let matching: Vec<&UserView> = self
                    .users
                    .iter()
                    .filter(|u| {
                        needle.is_empty()
                            || u.username.to_lowercase().contains(&needle)
                            || u.display_name.to_lowercase().contains(&needle)
                            || u.email.as_deref().unwrap_or("").contains(&needle)
                    })
                    .collect();
                let users = matching
                    .iter()
                    .skip(query.offset as usize)
                    .take(query.limit.min(1000) as usize)
                    .map(|u| (*u).clone())
                    .collect();
                Ok(Response::Users {
                    page: UserPage {
                        users,
                        total: matching.len() as u64,
                        offset: query.offset,
                    },
                })
            }
            Request::GetUser { user } => Ok(Response::User {
                user: self.users[self.find(&user)?].clone(),
            }),
            Request::CreateUser { user: new } => {
                if new.username.is_empty() {
                    return Err(err(ErrorCode::InvalidInput, "a username is required")
                        .with_field("username"));
                }
                if self.find(&new.username).is_ok() {
                    return Err(
                        err(ErrorCode::Conflict, "that username is taken").with_field("username")
                    );
                }
                if new.email.as_deref().is_some_and(|e| !e.contains('@')) {
                    return Err(
                        err(ErrorCode::InvalidInput, "not an email address").with_field("email")
                    );
                }
                let mut created = user(&new.username);
                created.id = format!("u-{}", new.username);
                created.email = new.email;
                created.first_name = new.first_name;
                created.last_name = new.last_name;
                created.display_name = new.display_name.unwrap_or_else(|| {
                    crate::fmt::full_name(&created.first_name, &created.last_name)
                });
                created.is_admin = new.is_admin;
                created.passkey_count = 0;
                self.users.push(created.clone());
                self.users.sort_by_key(|u| u.username.to_lowercase());
                Ok(Response::User { user: created })
            }
            Request::UpdateUser { user, patch } => {
                let i = self.find(&user)?;
                let u = &mut self.users[i];
                if u.source == Source::Ldap {
                    return Err(err(ErrorCode::ReadOnly, "this user comes from LDAP"));
                }
                if let Some(v) = patch.username {
                    u.username = v;
                }
                if let Some(v) = patch.email {
                    u.email = v;
                }
                if let Some(v) = patch.first_name {
                    u.first_name = v;
                }
                if let Some(v) = patch.last_name {
                    u.last_name = v;
                }
                if let Some(v) = patch.display_name {
                    u.display_name = v;
                }
                if let Some(v) = patch.is_admin {
                    u.is_admin = v;
                }
                Ok(Response::User { user: u.clone() })
            }
            Request::SetUserDisabled { user, disabled } => {
                let i = self.find(&user)?;
                self.users[i].disabled = disabled;
                Ok(Response::User {
                    user: self.users[i].clone(),
                })
            }
            Request::DeleteUser { user } => {
                let i = self.find(&user)?;
                self.users.remove(i);
                Ok(Response::Done)
            }
            Request::ListGroups => Ok(Response::Groups {
                list: GroupList {
                    groups: self.groups.iter().map(Self::summary).collect(),
                },
            }),
            Request::GetGroup { name } => Ok(Response::Group {
                group: self.groups[self.group(&name)?].clone(),
            }),
            Request::CreateGroup { group } => {
                if self.group(&group.name).is_ok() {
                    return Err(err(ErrorCode::Conflict, "that group exists").with_field("name"));
                }
                let view = GroupView {
                    id: format!("g-{}", group.name),
                    friendly_name: group.friendly_name.unwrap_or_else(|| group.name.clone()),
                    name: group.name,
                    source: Source::Local,
                    members: Vec::new(),
                    created_at: T0,
                };
                self.groups.push(view.clone());
                Ok(Response::Group { group: view })
            }
            Request::DeleteGroup { name } => {
                let i = self.group(&name)?;
                self.groups.remove(i);
                Ok(Response::Done)
            }
            Request::AddGroupMember { group, user } => {
                let u = self.users[self.find(&user).map_err(|e| e.with_field("user"))?].clone();
                let g = self.group(&group)?;
                self.groups[g].members.push(GroupMember {
                    id: u.id,
                    username: u.username,
                });
                Ok(Response::Group {
                    group: self.groups[g].clone(),
                })
            }
            Request::RemoveGroupMember { group, user } => {
                let g = self.group(&group)?;
                self.groups[g]
                    .members
                    .retain(|m| m.username != user && m.id != user);
                Ok(Response::Group {
                    group: self.groups[g].clone(),
                })
            }
            Request::ListAudit { query } => Ok(Response::Audit {
                page: AuditPage {
                    events: vec![AuditEventView {
                        id: 7,
                        at: T0,
                        event: "user_created".to_owned(),
                        actor: "admin-socket (uid 1000)".to_owned(),
                        subject: query.user.or(Some("ada.lovelace".to_owned())),
                        ip: None,
                        user_agent: None,
                        details: vec![("source".to_owned(), "local".to_owned())],
                    }],
                },
            }),
            Request::Subscribe => Ok(Response::Done),
            _ => Err(ApiError::new(ErrorCode::Internal, "not in the fake")),
        }
    }
}

/// A fake daemon on a real socket in a temporary directory. Dropping the
/// returned directory removes the socket.
pub async fn serve(
    directory: FakeDirectory,
) -> (tempfile::TempDir, PathBuf, Arc<Mutex<FakeDirectory>>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("latchkey.sock");
    let listener = tokio::net::UnixListener::bind(&path).unwrap();
    let shared = Arc::new(Mutex::new(directory));
    let state = Arc::clone(&shared);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let state = Arc::clone(&state);
            tokio::spawn(async move {
                let (mut reader, mut writer) = stream.into_split();
                let Ok(Some(ClientMessage::Hello(_))) = read_frame(&mut reader).await else {
                    return;
                };
                let hello = ServerMessage::Hello(server_hello());
                if write_frame(&mut writer, &hello).await.is_err() {
                    return;
                }
                while let Ok(Some(ClientMessage::Request { id, request })) =
                    read_frame(&mut reader).await
                {
                    let outcome = Outcome::from(state.lock().unwrap().handle(request));
                    let reply = ServerMessage::Response { id, outcome };
                    if write_frame(&mut writer, &reply).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (dir, path, shared)
}
