//! `Actor`: who did something and from where, as the audit log records it.

use std::fmt;

use crate::store::UserId;

/// Who is acting, from where. Recorded in the audit log.
#[derive(Clone, Debug)]
pub struct Actor {
    pub kind: ActorKind,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

#[derive(Clone, Debug)]
pub enum ActorKind {
    /// A local admin over the admin socket, identified by the peer's uid.
    AdminSocket { uid: u32 },
    /// A signed-in user acting on their own account.
    User { id: UserId, username: String },
    /// The daemon itself (LDAP sync, expiry sweeps).
    System,
    /// A web visitor who is not signed in (sign-in attempts, setup).
    Anonymous,
}

impl Actor {
    pub fn admin_socket(uid: u32) -> Actor {
        Actor::new(ActorKind::AdminSocket { uid })
    }

    pub fn system() -> Actor {
        Actor::new(ActorKind::System)
    }

    /// A web visitor who is not signed in, from `ip` with `user_agent`.
    pub fn anonymous(ip: Option<String>, user_agent: Option<String>) -> Actor {
        Actor {
            kind: ActorKind::Anonymous,
            ip,
            user_agent,
        }
    }

    /// The same client (IP, user agent) acting as `user`: who a sign-in is
    /// recorded as.
    pub fn as_user(&self, id: UserId, username: impl Into<String>) -> Actor {
        Actor {
            kind: ActorKind::User {
                id,
                username: username.into(),
            },
            ip: self.ip.clone(),
            user_agent: self.user_agent.clone(),
        }
    }

    pub fn user(id: UserId, username: impl Into<String>) -> Actor {
        Actor::new(ActorKind::User {
            id,
            username: username.into(),
        })
    }

    fn new(kind: ActorKind) -> Actor {
        Actor {
            kind,
            ip: None,
            user_agent: None,
        }
    }

    /// The user behind the action, if it is one.
    pub fn user_id(&self) -> Option<UserId> {
        match &self.kind {
            ActorKind::User { id, .. } => Some(*id),
            ActorKind::AdminSocket { .. } | ActorKind::System | ActorKind::Anonymous => None,
        }
    }
}

/// "admin-socket (uid 1000)", the username, "system" or "anonymous".
impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ActorKind::AdminSocket { uid } => write!(f, "admin-socket (uid {uid})"),
            ActorKind::User { username, .. } => f.write_str(username),
            ActorKind::System => f.write_str("system"),
            ActorKind::Anonymous => f.write_str("anonymous"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actors_display_as_the_audit_log_shows_them() {
        assert_eq!(
            Actor::admin_socket(1000).to_string(),
            "admin-socket (uid 1000)"
        );
        assert_eq!(Actor::system().to_string(), "system");
        assert_eq!(Actor::anonymous(None, None).to_string(), "anonymous");
        let id = UserId::random();
        let actor = Actor::user(id, "alice");
        assert_eq!(actor.to_string(), "alice");
        assert_eq!(actor.user_id(), Some(id));
    }
}
