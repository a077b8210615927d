//! The first admin: while no admin exists, the daemon makes a one-time
//! setup token at start-up (128 bits, kept in memory as its SHA-256 only)
//! and logs a link holding it. Whoever opens the link creates the first
//! admin account and is signed in to add a passkey. The token dies once an
//! admin exists, however that happened, and a restart makes a new one.
//!
//! Replicas sharing a database each log a link at start, and the link may be opened on
//! any of them: there the token is sealed with the deployment's key (`sealed_tokens`)
//! instead, so every replica recognises every replica's link, until an admin exists.

use std::sync::{Arc, Mutex, PoisonError};

use latchkey_protocol::{NewUser, SignInMethod};

use super::device_notice::DeviceToken;
use super::email_verification::AddressFrom;
use super::sessions::{Session, SessionToken, open_session};
use super::users::{User, insert_user, new_record};
use super::{Actor, Idm, IdmError, secrets};
use crate::store::TokenHash;

/// Guards the one-time setup link; cheap to clone (clones share the token).
#[derive(Clone, Default)]
pub struct SetupGate {
    hash: Arc<Mutex<Option<TokenHash>>>,
    /// The store is shared: tokens are sealed, and any replica's opens.
    sealed: bool,
}

/// The sealing label of setup tokens.
const LABEL: &str = "setup link";

impl std::fmt::Debug for SetupGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let open = self
            .hash
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some();
        f.debug_struct("SetupGate")
            .field("open", &open)
            .field("sealed", &self.sealed)
            .finish()
    }
}

impl SetupGate {
    /// A gate with a fresh token when no admin exists (the token is
    /// returned for the daemon to log as `<public_url>/setup/<token>`), or
    /// a closed gate and `None`.
    pub fn issue(idm: &Idm) -> Result<(SetupGate, Option<String>), IdmError> {
        if idm.counts()?.admins > 0 {
            return Ok((SetupGate::default(), None));
        }
        if idm.store().is_shared() {
            let token = idm.seal_token(LABEL, &idm.now().to_be_bytes())?;
            let gate = SetupGate {
                sealed: true,
                ..SetupGate::default()
            };
            return Ok((gate, Some(token)));
        }
        let token = secrets::random_token::<16>()?;
        let gate = SetupGate {
            hash: Arc::new(Mutex::new(Some(secrets::sha256(token.as_bytes())))),
            sealed: false,
        };
        Ok((gate, Some(token)))
    }

    fn matches(&self, idm: &Idm, token: &str) -> bool {
        if self.sealed {
            return idm.open_token(LABEL, token.trim()).is_some();
        }
        let stored = *self.hash.lock().unwrap_or_else(PoisonError::into_inner);
        stored.is_some_and(|hash| hash == secrets::sha256(token.trim().as_bytes()))
    }

    fn burn(&self) {
        *self.hash.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// Whether `token` is the live setup token and still no admin exists.
    /// Burns the token if an admin has appeared meanwhile.
    pub fn check(&self, idm: &Idm, token: &str) -> Result<bool, IdmError> {
        if !self.matches(idm, token) {
            return Ok(false);
        }
        if idm.counts()?.admins > 0 {
            self.burn();
            return Ok(false);
        }
        Ok(true)
    }

    /// Creates the first admin from `user` (made an admin whatever it says)
    /// and signs them in (method `setup`), in one write transaction that
    /// re-checks that no admin exists, then burns the token. A wrong or
    /// spent token is `SignInFailed`.
    pub fn create_first_admin(
        &self,
        idm: &Idm,
        actor: &Actor,
        token: &str,
        user: NewUser,
        device: Option<&DeviceToken>,
    ) -> Result<(User, SessionToken, Session), IdmError> {
        if !self.check(idm, token)? {
            return Err(IdmError::SignInFailed {
                reason: super::SignInFailure::UnknownCode,
            });
        }
        let now = idm.now();
        let mut record = new_record(
            NewUser {
                is_admin: true,
                ..user
            },
            now,
        )?;
        let created = idm.store.write(|tx| {
            if tx.admin_count()? > 0 {
                return Ok(None);
            }
            // The first admin's own address counts as set by an admin.
            insert_user(tx, now, actor, &mut record, AddressFrom::Admin)?;
            let user = User::from_record(record.clone())?;
            let method = SignInMethod::Setup;
            let (token, session) = open_session(tx, now, actor, &user, method, device, Vec::new())?;
            Ok::<_, IdmError>(Some((user, token, session)))
        })?;
        self.burn();
        created.ok_or(IdmError::SignInFailed {
            reason: super::SignInFailure::UnknownCode,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use time::macros::datetime;

    use super::*;
    use crate::clock::ManualClock;
    use crate::store::Store;

    fn idm() -> Idm {
        let clock = ManualClock::new(datetime!(2026-03-01 09:30:00 UTC));
        Idm::new(Store::memory().unwrap(), Arc::new(clock))
    }

    fn new_user(username: &str) -> NewUser {
        NewUser {
            username: username.into(),
            email: Some(format!("{username}@example.com")),
            ..NewUser::default()
        }
    }

    fn visitor() -> Actor {
        Actor::anonymous(Some("192.0.2.1".into()), None)
    }

    #[test]
    fn the_gate_opens_only_without_an_admin_and_works_once() {
        let idm = idm();
        let (gate, token) = SetupGate::issue(&idm).unwrap();
        let token = token.unwrap();
        assert_eq!(token.len(), 22, "128 bits of base64url");
        assert!(!format!("{gate:?}").contains(&token));
        assert!(gate.check(&idm, &token).unwrap());
        assert!(!gate.check(&idm, "wrong").unwrap());
        assert!(
            gate.create_first_admin(&idm, &visitor(), "wrong", new_user("eve"), None)
                .is_err()
        );

        let (admin, session_token, session) = gate
            .create_first_admin(&idm, &visitor(), &token, new_user("root"), None)
            .unwrap();
        assert!(admin.is_admin);
        assert_eq!(session.method, SignInMethod::Setup);
        assert!(idm.session_user(&session_token).unwrap().is_some());
        let events: Vec<String> = idm
            .list_audit(&latchkey_protocol::AuditQuery::default())
            .unwrap()
            .into_iter()
            .map(|e| e.event)
            .collect();
        assert_eq!(events, ["setup_sign_in", "user_created"]);

        // Single use.
        assert!(!gate.check(&idm, &token).unwrap());
        let again = gate.create_first_admin(&idm, &visitor(), &token, new_user("second"), None);
        assert!(matches!(again, Err(IdmError::SignInFailed { .. })));
        assert_eq!(idm.counts().unwrap().admins, 1);

        // With an admin, no gate is issued.
        let (closed, none) = SetupGate::issue(&idm).unwrap();
        assert!(none.is_none());
        assert!(!closed.check(&idm, &token).unwrap());
    }

    #[test]
    fn the_token_dies_when_an_admin_appears_another_way() {
        let idm = idm();
        let (gate, token) = SetupGate::issue(&idm).unwrap();
        let token = token.unwrap();
        let cli_admin = NewUser {
            is_admin: true,
            ..new_user("cli")
        };
        idm.create_user(&Actor::admin_socket(0), cli_admin).unwrap();
        assert!(!gate.check(&idm, &token).unwrap());
        let late = gate.create_first_admin(&idm, &visitor(), &token, new_user("late"), None);
        assert!(late.is_err());
        assert_eq!(idm.counts().unwrap().users, 1);
    }

    #[test]
    fn invalid_input_keeps_the_gate_open() {
        let idm = idm();
        let (gate, token) = SetupGate::issue(&idm).unwrap();
        let token = token.unwrap();
        let err = gate
            .create_first_admin(&idm, &visitor(), &token, new_user("bad name!"), None)
            .unwrap_err();
        assert!(matches!(
            err,
            IdmError::Invalid {
                field: "username",
                ..
            }
        ));
        assert!(gate.check(&idm, &token).unwrap());
    }
}
