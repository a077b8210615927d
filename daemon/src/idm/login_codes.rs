//! Login codes: an admin gives a user a one-time code (or a link holding
//! it) to sign in without a passkey, typically to enrol one.
//!
//! A code is 16 characters of Crockford base32 without the ambiguous
//! letters I, L, O and U — 80 bits, shown as `XXXX-XXXX-XXXX-XXXX`. 80 bits
//! rather than 128 because people read it aloud and type it; with the web's
//! per-IP limit of 10 attempts per 15 minutes, guessing one of even a
//! million live codes would take longer than the universe has existed.
//! Input is forgiving: case, spaces and hyphens do not matter, and O, I, L
//! and U read as 0, 1, 1 and V. Only the SHA-256 of the normalised code is
//! stored; using it removes it in the same transaction that opens the
//! session, so a second use finds nothing.

use std::time::Duration;

use latchkey_protocol::{MAX_EXPIRY, SignInMethod};
use time::OffsetDateTime;

use super::audit::{self, Subject, detail};
use super::codes;
use super::device_notice::DeviceToken;
use super::email_verification::prove_address;
use super::sessions::{Session, SessionToken, open_session};
use super::sign_in_failures::audit_sign_in_failure;
use super::users::{User, resolve_user};
use super::{Actor, Idm, IdmError, SignInFailure, secrets, to_time};
use crate::store::LoginCodeRecord;

/// Characters in a code (5 bits each: 80 bits).
pub const CODE_LEN: usize = 16;

/// A code just made: the only time the code itself exists outside the
/// user's hands. `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct LoginCodeIssued {
    pub id: String,
    /// Grouped: `XXXX-XXXX-XXXX-XXXX`.
    pub code: String,
    pub expires_at: OffsetDateTime,
}

impl std::fmt::Debug for LoginCodeIssued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginCodeIssued")
            .field("id", &self.id)
            .field("code", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// An outstanding code, without the code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginCodeInfo {
    pub id: String,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub created_by: String,
}

impl LoginCodeInfo {
    fn from_record(record: LoginCodeRecord) -> Result<LoginCodeInfo, IdmError> {
        Ok(LoginCodeInfo {
            id: record.id,
            created_at: to_time(record.created_at)?,
            expires_at: to_time(record.expires_at)?,
            created_by: record.created_by,
        })
    }
}

/// The canonical form of what someone typed (see `codes`); `None` when it
/// cannot be a login code.
pub fn normalize_login_code(input: &str) -> Option<String> {
    codes::normalize(input, CODE_LEN)
}

impl Idm {
    /// Makes a code for an enabled user, valid for `expires_in` (more than
    /// zero, at most 31 days). Audited as `login_code_created`.
    pub fn create_login_code(
        &self,
        actor: &Actor,
        user_ref: &str,
        expires_in: Duration,
    ) -> Result<(User, LoginCodeIssued), IdmError> {
        self.create_login_code_then(actor, user_ref, expires_in, |_, _, _| Ok(None))
    }

    /// [`Idm::create_login_code`], running `also` in the same transaction
    /// once the code exists (email queues the mail that carries it there).
    /// `also` returns the address it mailed the code to, if it did: using
    /// the code then proves that address (`email_verification`).
    pub(crate) fn create_login_code_then(
        &self,
        actor: &Actor,
        user_ref: &str,
        expires_in: Duration,
        also: impl FnOnce(
            &mut crate::store::WriteTx<'_>,
            &User,
            &LoginCodeIssued,
        ) -> Result<Option<String>, IdmError>,
    ) -> Result<(User, LoginCodeIssued), IdmError> {
        if expires_in.is_zero() {
            return Err(IdmError::invalid("expires", "must be in the future"));
        }
        if expires_in > MAX_EXPIRY {
            return Err(IdmError::invalid("expires", "must be at most 31 days"));
        }
        let seconds = i64::try_from(expires_in.as_secs())
            .map_err(|_| IdmError::invalid("expires", "must be at most 31 days"))?
            .max(1);
        let code = codes::generate::<CODE_LEN>()?;
        let now = self.now();
        self.store.write(|tx| {
            let user = resolve_user(tx, user_ref)?;
            if user.disabled {
                return Err(IdmError::invalid(
                    "user",
                    format!("{} is disabled; enable the account first", user.username),
                ));
            }
            let mut record = LoginCodeRecord {
                id: secrets::public_id()?,
                user_id: user.id,
                created_at: now,
                expires_at: now.saturating_add(seconds),
                created_by: actor.to_string(),
                emailed_to: None,
            };
            let hash = secrets::sha256(code.as_bytes());
            tx.put_login_code(&hash, &record)?;
            let subject = Subject::linked(&user.username, user.id);
            let details = vec![
                detail("id", record.id.clone()),
                detail("expires_at", to_time(record.expires_at)?.to_string()),
            ];
            audit::append(tx, now, actor, "login_code_created", Some(subject), details)?;
            let user = User::from_record(user)?;
            let issued = LoginCodeIssued {
                id: record.id.clone(),
                code: codes::grouped(&code),
                expires_at: to_time(record.expires_at)?,
            };
            if let Some(address) = also(tx, &user, &issued)? {
                record.emailed_to = Some(address);
                tx.remove_login_code(&hash)?;
                tx.put_login_code(&hash, &record)?;
            }
            Ok((user, issued))
        })
    }

    /// The user's unexpired codes, soonest to expire first.
    pub fn list_login_codes(&self, user_ref: &str) -> Result<Vec<LoginCodeInfo>, IdmError> {
        let now = self.now();
        let tx = self.store.read()?;
        let user = resolve_user(&tx, user_ref)?;
        let mut codes = tx
            .user_login_codes(user.id)?
            .into_iter()
            .filter(|(_, c)| c.expires_at > now)
            .map(|(_, c)| LoginCodeInfo::from_record(c))
            .collect::<Result<Vec<_>, _>>()?;
        codes.sort_by_key(|c| c.expires_at);
        Ok(codes)
    }

    /// Removes one of the user's codes by id (`login_code_revoked`).
    pub fn revoke_login_code(
        &self,
        actor: &Actor,
        user_ref: &str,
        id: &str,
    ) -> Result<(), IdmError> {
        let now = self.now();
        let id = id.trim();
        self.store.write(|tx| {
            let user = resolve_user(tx, user_ref)?;
            let hash = tx
                .user_login_codes(user.id)?
                .into_iter()
                .find(|(_, c)| c.id.eq_ignore_ascii_case(id))
                .map(|(hash, _)| hash)
                .ok_or_else(|| IdmError::NotFound {
                    what: "login code",
                    key: id.to_owned(),
                })?;
            tx.remove_login_code(&hash)?;
            let subject = Subject::linked(&user.username, user.id);
            let details = vec![detail("id", id)];
            audit::append(tx, now, actor, "login_code_revoked", Some(subject), details)?;
            Ok(())
        })
    }

    /// Uses a code: removes it and opens a session (method `login_code`) in
    /// one write transaction, with `login_code_used` and
    /// `login_code_sign_in` events. Any failure writes `sign_in_failed`
    /// with the precise reason and returns `SignInFailed`.
    pub fn sign_in_with_login_code(
        &self,
        actor: &Actor,
        code: &str,
        device: Option<&DeviceToken>,
    ) -> Result<(User, SessionToken, Session), IdmError> {
        let now = self.now();
        let Some(normalized) = normalize_login_code(code) else {
            return Err(self.sign_in_failed(actor, None, SignInFailure::UnknownCode));
        };
        let hash = secrets::sha256(normalized.as_bytes());
        let outcome = self.store.write(|tx| {
            let Some(record) = tx.login_code(&hash)? else {
                return Ok(Err(SignInFailure::UnknownCode));
            };
            // From here on the code is spent whatever happens: expired and
            // refused codes go in the failure's own transaction.
            tx.remove_login_code(&hash)?;
            let user = tx.user(record.user_id)?;
            let refused = if record.expires_at <= now {
                Some(SignInFailure::ExpiredCode)
            } else if user.as_ref().is_none_or(|u| u.disabled) {
                Some(SignInFailure::UserDisabled)
            } else {
                None
            };
            let (Some(mut user), None) = (user.clone(), refused) else {
                let reason = refused.unwrap_or(SignInFailure::UserDisabled);
                audit_sign_in_failure(tx, now, actor, user.as_ref(), reason, Vec::new())?;
                return Ok(Err(reason));
            };
            // A code that travelled by mail proves the address it went to.
            let sent_to = record.emailed_to.as_deref();
            prove_address(tx, now, actor, &mut user, sent_to, "login_code")?;
            let user = User::from_record(user)?;
            let as_user = actor.as_user(user.id, user.username.clone());
            let subject = Subject::linked(&user.username, user.id);
            audit::append(
                tx,
                now,
                &as_user,
                "login_code_used",
                Some(subject),
                vec![detail("id", record.id.clone())],
            )?;
            let details = vec![detail("code", record.id)];
            let method = SignInMethod::LoginCode;
            let (token, session) = open_session(tx, now, actor, &user, method, device, details)?;
            Ok::<_, IdmError>(Ok((user, token, session)))
        })?;
        match outcome {
            Ok(done) => Ok(done),
            // Nothing was written for an unknown code: record it now.
            Err(SignInFailure::UnknownCode) => {
                Err(self.sign_in_failed(actor, None, SignInFailure::UnknownCode))
            }
            // The rest were recorded in the transaction above.
            Err(reason) => Err(IdmError::SignInFailed { reason }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_sixteen_unambiguous_characters_grouped_by_four() {
        let code = codes::generate::<CODE_LEN>().unwrap();
        assert_eq!(code.len(), CODE_LEN);
        assert!(code.bytes().all(|b| codes::ALPHABET.contains(&b)));
        let shown = codes::grouped(&code);
        assert_eq!(shown.len(), 19);
        assert_eq!(shown.matches('-').count(), 3);
        assert_eq!(normalize_login_code(&shown).as_deref(), Some(code.as_str()));
        // 32 symbols × 16 positions = 80 bits.
        assert_ne!(codes::generate::<CODE_LEN>().unwrap(), code);
    }

    #[test]
    fn generated_codes_use_the_whole_alphabet() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..64 {
            seen.extend(codes::generate::<CODE_LEN>().unwrap().into_bytes());
        }
        assert_eq!(seen.len(), 32);
    }

    #[test]
    fn typing_is_forgiving() {
        let canonical = "K7QD0M2XH9PRTWC1";
        for typed in [
            "K7QD-0M2X-H9PR-TWC1",
            "k7qd 0m2x h9pr twc1",
            "K7QDOM2XH9PRTWCI",
            "k7qd-om2x-h9pr-twcl",
            " K7QD--0M2X H9PR-TWC1 ",
        ] {
            assert_eq!(
                normalize_login_code(typed).as_deref(),
                Some(canonical),
                "{typed}"
            );
        }
        assert_eq!(
            normalize_login_code("UUUU-UUUU-UUUU-UUUU").as_deref(),
            Some("VVVVVVVVVVVVVVVV")
        );
        for bad in [
            "",
            "K7QD-0M2X-H9PR",
            "K7QD-0M2X-H9PR-TWC1-A",
            "K7QD-0M2X-H9PR-TWC!",
            "É7QD0M2XH9PRTWC1",
        ] {
            assert_eq!(normalize_login_code(bad), None, "{bad}");
        }
    }

    #[test]
    fn debug_hides_the_code() {
        let issued = LoginCodeIssued {
            id: "abc".into(),
            code: "K7QD-0M2X-H9PR-TWC1".into(),
            expires_at: OffsetDateTime::UNIX_EPOCH,
        };
        let shown = format!("{issued:?}");
        assert!(!shown.contains("K7QD"));
        assert!(shown.contains("<redacted>"));
    }
}
