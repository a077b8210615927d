//! Server-side browser sessions. The cookie holds 32 random bytes
//! (base64url); the store keeps only their SHA-256. A session lasts
//! `session.minutes` from sign-in — absolute, not sliding, so its end is
//! predictable and a stolen cookie cannot be kept alive by use.
//! Every sign-in method opens its session here ([`open_session`]), which
//! also records the browser it came from (`device_notice`).

use latchkey_protocol::SignInMethod;
use time::OffsetDateTime;

use super::audit::{self, Subject, detail};
use super::device_notice::{DeviceToken, note_device};
use super::settings::read_settings;
use super::users::{User, resolve_user};
use super::{Actor, Idm, IdmError, Snapshot, UserId, oidc, secrets, to_time};
use crate::store::{
    PasskeyUse, ReadTx, SessionMethod, SessionRecord, TokenHash, UserRecord, WriteTx,
};

/// `last_seen_at` is written at most this often, so that reading a session
/// on every request is not a write on every request.
const LAST_SEEN_GRANULARITY_SECS: i64 = 300;

/// Longer user agents are cut: they are shown, not parsed.
const USER_AGENT_MAX: usize = 512;
const IP_MAX: usize = 64;

fn touch_due(record: &SessionRecord, now: i64) -> bool {
    now - record.last_seen_at >= LAST_SEEN_GRANULARITY_SECS
}

/// What [`Idm::peek_session`] found.
#[derive(Debug)]
#[expect(
    clippy::large_enum_variant,
    reason = "returned once per request and matched at once, never stored"
)]
pub enum SessionPeek {
    /// No live session: unknown, expired, or its user is disabled or gone.
    None,
    Live(Session, User),
    /// Live, and `last_seen_at` is due its refresh (a write).
    TouchDue,
}

secrets::cookie_secret!(
    /// The session cookie's value. `Debug` hides it.
    SessionToken
);

/// A browser session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    /// Shown in the console and used to revoke; not the cookie.
    pub public_id: String,
    pub user_id: UserId,
    pub method: SignInMethod,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: OffsetDateTime,
    pub last_seen_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    /// What the passkey that started the session proved; `None` for other methods, and for
    /// sessions from before this was recorded.
    pub passkey: Option<PasskeyProof>,
}

/// The flags of the passkey assertion that started a session (for `amr`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PasskeyProof {
    /// Backup eligible: a synced passkey, not bound to one device's hardware.
    pub synced: bool,
    /// The authenticator verified the user (PIN, pattern or biometric).
    pub user_verified: bool,
}

impl Session {
    fn from_record(record: SessionRecord) -> Result<Session, IdmError> {
        Ok(Session {
            public_id: record.public_id,
            user_id: record.user_id,
            method: method_view(record.method),
            ip: record.ip,
            user_agent: record.user_agent,
            created_at: to_time(record.created_at)?,
            last_seen_at: to_time(record.last_seen_at)?,
            expires_at: to_time(record.expires_at)?,
            passkey: record.passkey.map(|p| PasskeyProof {
                synced: p.backup_eligible,
                user_verified: p.user_verified,
            }),
        })
    }
}

fn method_view(method: SessionMethod) -> SignInMethod {
    match method {
        SessionMethod::Passkey => SignInMethod::Passkey,
        SessionMethod::LoginCode => SignInMethod::LoginCode,
        SessionMethod::EmailLink => SignInMethod::EmailLink,
        SessionMethod::Signup => SignInMethod::Signup,
        SessionMethod::Setup => SignInMethod::Setup,
    }
}

fn method_record(method: SignInMethod) -> SessionMethod {
    match method {
        SignInMethod::Passkey => SessionMethod::Passkey,
        SignInMethod::LoginCode => SessionMethod::LoginCode,
        SignInMethod::EmailLink => SessionMethod::EmailLink,
        SignInMethod::Signup => SessionMethod::Signup,
        SignInMethod::Setup => SessionMethod::Setup,
    }
}

/// `passkey`, `login_code`, …: the method as audit events name it.
pub(crate) fn method_name(method: SignInMethod) -> &'static str {
    match method {
        SignInMethod::Passkey => "passkey",
        SignInMethod::LoginCode => "login_code",
        SignInMethod::EmailLink => "email_link",
        SignInMethod::Signup => "signup",
        SignInMethod::Setup => "setup",
    }
}

fn clip(value: Option<&String>, max: usize) -> Option<String> {
    value.map(|v| v.chars().take(max).collect())
}

/// How a session was signed in: the method, and what a passkey proved.
pub(crate) struct SignedInWith {
    method: SignInMethod,
    passkey: Option<PasskeyUse>,
}

impl From<SignInMethod> for SignedInWith {
    fn from(method: SignInMethod) -> SignedInWith {
        SignedInWith {
            method,
            passkey: None,
        }
    }
}

/// A passkey sign-in, with what the assertion proved.
impl From<PasskeyProof> for SignedInWith {
    fn from(proof: PasskeyProof) -> SignedInWith {
        let passkey = PasskeyUse {
            backup_eligible: proof.synced,
            user_verified: proof.user_verified,
        };
        SignedInWith {
            method: SignInMethod::Passkey,
            passkey: Some(passkey),
        }
    }
}

/// Creates a session for `user` inside the caller's transaction, with the
/// `<method>_sign_in` audit event, and records the browser holding `device`
/// (`device_notice`), queueing a new-device notice when it is new for them.
/// `how` is the method, or for a passkey the assertion's proof.
/// `actor` supplies IP and user agent; the event is recorded as the user.
/// `device` is `None` only where no browser signs in (tests, tools).
pub(crate) fn open_session(
    tx: &mut WriteTx<'_>,
    now: i64,
    actor: &Actor,
    user: &User,
    how: impl Into<SignedInWith>,
    device: Option<&DeviceToken>,
    mut details: Vec<(String, String)>,
) -> Result<(SessionToken, Session), IdmError> {
    let SignedInWith { method, passkey } = how.into();
    let minutes = i64::from(read_settings(tx)?.session_minutes);
    let token = SessionToken::generate()?;
    let record = SessionRecord {
        public_id: secrets::public_id()?,
        user_id: user.id,
        method: method_record(method),
        ip: clip(actor.ip.as_ref(), IP_MAX),
        user_agent: clip(actor.user_agent.as_ref(), USER_AGENT_MAX),
        created_at: now,
        last_seen_at: now,
        expires_at: now.saturating_add(minutes.saturating_mul(60)),
        passkey,
    };
    tx.put_session(&token.hash(), &record)?;
    details.insert(0, detail("session", record.public_id.clone()));
    let as_user = actor.as_user(user.id, user.username.clone());
    let subject = Subject::linked(&user.username, user.id);
    let event = format!("{}_sign_in", method_name(method));
    audit::append(tx, now, &as_user, &event, Some(subject), details)?;
    if let Some(device) = device {
        note_device(tx, now, actor, user, method_name(method), device)?;
    }
    Ok((token, Session::from_record(record)?))
}

impl Idm {
    /// The session's user, or `None` when the token is unknown or expired,
    /// or the user is disabled or gone. Refreshes `last_seen_at` at most
    /// every five minutes.
    pub fn session_user(&self, token: &SessionToken) -> Result<Option<(Session, User)>, IdmError> {
        let now = self.now();
        let hash = token.hash();
        let Some((record, user)) = live_session(&self.store.read()?, &hash, now, None)? else {
            return Ok(None);
        };
        let record = if touch_due(&record, now) {
            // Another request may have ended the session in between: only
            // touch it if it is still there.
            let touched = self.store.write(|tx| {
                let Some(mut current) = tx.session(&hash)? else {
                    return Ok::<_, IdmError>(None);
                };
                current.last_seen_at = now;
                tx.put_session(&hash, &current)?;
                Ok(Some(current))
            })?;
            match touched {
                Some(record) => record,
                None => return Ok(None),
            }
        } else {
            record
        };
        Ok(Some((
            Session::from_record(record)?,
            User::from_record(user)?,
        )))
    }

    /// [`Idm::session_user`] without writing, for callers on an async thread:
    /// [`SessionPeek::TouchDue`] means `last_seen_at` is due its refresh, and
    /// the caller should call `session_user` where it may block.
    pub fn peek_session(&self, token: &SessionToken) -> Result<SessionPeek, IdmError> {
        self.peek_session_in(&self.snapshot()?, token, None)
    }

    /// [`Idm::peek_session`] in `snapshot`. `next_client`: the client the caller asks about
    /// next in the same snapshot (`Oidc::standing_in`), whose rows are then read with the
    /// user's, in one round trip on PostgreSQL.
    pub fn peek_session_in(
        &self,
        snapshot: &Snapshot,
        token: &SessionToken,
        next_client: Option<&str>,
    ) -> Result<SessionPeek, IdmError> {
        let now = self.now();
        let tx = snapshot.tx();
        Ok(match live_session(tx, &token.hash(), now, next_client)? {
            None => SessionPeek::None,
            Some((record, _)) if touch_due(&record, now) => SessionPeek::TouchDue,
            Some((record, user)) => {
                SessionPeek::Live(Session::from_record(record)?, User::from_record(user)?)
            }
        })
    }

    /// Starts a session without any other check and without a browser (the
    /// caller has authenticated the user; tests use it). Refuses a disabled
    /// user.
    pub fn start_session(
        &self,
        actor: &Actor,
        user_id: UserId,
        method: SignInMethod,
    ) -> Result<(SessionToken, Session), IdmError> {
        let now = self.now();
        self.store.write(|tx| {
            let record = tx
                .user(user_id)?
                .ok_or_else(|| IdmError::user_not_found(&user_id.to_string()))?;
            if record.disabled {
                return Err(IdmError::invalid("user", "this account is disabled"));
            }
            let user = User::from_record(record)?;
            open_session(tx, now, actor, &user, method, None, Vec::new())
        })
    }

    /// Signs out: ends this session (`signed_out`) and the OIDC grants made in it. Unknown
    /// tokens are fine.
    pub fn end_session(&self, actor: &Actor, token: &SessionToken) -> Result<(), IdmError> {
        let now = self.now();
        self.store.write(|tx| {
            if let Some(session) = tx.remove_session(&token.hash())?
                && let Some(user) = tx.user(session.user_id)?
            {
                let as_user = actor.as_user(user.id, user.username.clone());
                let subject = Subject::linked(&user.username, user.id);
                let details = vec![detail("session", session.public_id.clone())];
                audit::append(tx, now, &as_user, "signed_out", Some(subject), details)?;
                let owner = (user.id, user.username.as_str());
                let sid = session.public_id.as_str();
                oidc::end_session_families(tx, now, &as_user, owner, sid, "signed_out")?;
            }
            Ok(())
        })
    }

    /// Ends every session of the user ("sign out everywhere"); returns how
    /// many there were.
    pub fn end_all_sessions(&self, actor: &Actor, user_id: UserId) -> Result<u32, IdmError> {
        let now = self.now();
        self.store.write(|tx| {
            let user = tx
                .user(user_id)?
                .ok_or_else(|| IdmError::user_not_found(&user_id.to_string()))?;
            let count = tx.remove_user_sessions(user_id)?;
            let subject = Subject::linked(&user.username, user.id);
            let details = vec![detail("all", "true"), detail("count", count.to_string())];
            audit::append(tx, now, actor, "signed_out", Some(subject), details)?;
            let owner = (user.id, user.username.as_str());
            oidc::end_user_families(tx, now, actor, owner, "signed_out_everywhere")?;
            Ok(count)
        })
    }

    /// The user's unexpired sessions, newest first.
    pub fn list_sessions(&self, user_ref: &str) -> Result<Vec<Session>, IdmError> {
        let now = self.now();
        let tx = self.store.read()?;
        let user = resolve_user(&tx, user_ref)?;
        let mut sessions = tx
            .user_sessions(user.id)?
            .into_iter()
            .filter(|(_, s)| s.expires_at > now)
            .map(|(_, s)| Session::from_record(s))
            .collect::<Result<Vec<_>, _>>()?;
        sessions.sort_by_key(|s| std::cmp::Reverse(s.created_at));
        Ok(sessions)
    }

    /// Ends one session by its public id (`session_revoked`).
    pub fn revoke_session(
        &self,
        actor: &Actor,
        user_ref: &str,
        public_id: &str,
    ) -> Result<(), IdmError> {
        let now = self.now();
        let public_id = public_id.trim();
        self.store.write(|tx| {
            let user = resolve_user(tx, user_ref)?;
            let hash = tx
                .user_sessions(user.id)?
                .into_iter()
                .find(|(_, s)| s.public_id.eq_ignore_ascii_case(public_id))
                .map(|(hash, _)| hash)
                .ok_or_else(|| IdmError::NotFound {
                    what: "session",
                    key: public_id.to_owned(),
                })?;
            let session = tx.remove_session(&hash)?;
            let subject = Subject::linked(&user.username, user.id);
            let details = vec![detail("session", public_id)];
            audit::append(tx, now, actor, "session_revoked", Some(subject), details)?;
            if let Some(session) = session {
                let owner = (user.id, user.username.as_str());
                let sid = session.public_id.as_str();
                oidc::end_session_families(tx, now, actor, owner, sid, "session_revoked")?;
            }
            Ok(())
        })
    }
}

/// The session and its enabled user, if the session is live (see `Idm::peek_session_in`
/// for `next_client`).
fn live_session(
    tx: &ReadTx,
    hash: &TokenHash,
    now: i64,
    next_client: Option<&str>,
) -> Result<Option<(SessionRecord, UserRecord)>, IdmError> {
    let Some(record) = tx.session(hash)? else {
        return Ok(None);
    };
    if record.expires_at <= now {
        return Ok(None);
    }
    if let Some(client_id) = next_client {
        tx.read_ahead_standing(record.user_id, client_id)?;
    }
    Ok(tx
        .user(record.user_id)?
        .filter(|user| !user.disabled)
        .map(|user| (record, user)))
}
