//! Self-service signup: the `signups.*` settings, signup tokens, and the
//! one write transaction that turns a signup form into an account.
//!
//! A signup token is 128 random bits (base64url, 22 characters) in the link
//! `<public_url>/st/<token>`; only its SHA-256 is stored, with a public id
//! and the first characters (`prefix`) for the console. Tokens are kept
//! after they are revoked, expire or are used up, so the page can say which;
//! the sweeper drops them 30 days after they expired.
//!
//! Use counting is atomic: the token's record is read, checked and written
//! back with `uses + 1` in the same redb write transaction that inserts the
//! user. redb runs one write transaction at a time, so N concurrent signups
//! on a token with limit L create at most L accounts, and a signup refused
//! for any reason (a taken username, a bad email) rolls back and leaves the
//! count alone.

use std::time::Duration;

use latchkey_protocol::{MAX_EXPIRY, NewSignupToken, NewUser, SignInMethod};
use time::OffsetDateTime;

use super::audit::{self, Subject, detail};
use super::device_notice::DeviceToken;
use super::email_verification::{AddressFrom, queue_verification};
use super::groups::group_ids;
use super::sessions::{Session, SessionToken, open_session};
use super::setting_registry::{SIGNUPS_DEFAULT_GROUPS, SIGNUPS_MODE, SIGNUPS_REQUIRE_EMAIL};
use super::setting_values::value_of;
use super::users::{User, insert_user, new_record};
use super::{Actor, GroupId, Idm, IdmError, secrets, to_time};
use crate::store::{Access, SettingValue, SignupTokenRecord, StoreError, Tables, WriteTx};

/// The most accounts one token may create.
pub const MAX_USAGE_LIMIT: u32 = 100;
/// Characters of the token shown in lists.
const PREFIX_LEN: usize = 6;
/// Spent tokens are kept this long after they expire, then swept.
const KEEP_AFTER_EXPIRY_SECS: i64 = 30 * 86_400;

/// `signups.mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignupMode {
    Disabled,
    Token,
    Open,
}

/// The `signups.*` settings, typed, with defaults applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignupSettings {
    pub mode: SignupMode,
    pub require_email: bool,
    pub default_groups: Vec<String>,
}

/// How someone is signing up.
#[derive(Clone, Copy, Debug)]
pub enum SignupVia<'a> {
    /// With the token from a `/st/<token>` link.
    Token(&'a str),
    /// At `/signup`.
    Open,
}

/// Why a signup page or form is refused as a whole (not a field).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignupRefusal {
    /// Signup is off, or this way of signing up is not the one allowed.
    WrongMode,
    /// No such token (mistyped, or swept long after it expired).
    UnknownToken,
    Expired,
    Revoked,
    UsedUp,
}

impl SignupRefusal {
    pub fn as_str(self) -> &'static str {
        match self {
            SignupRefusal::WrongMode => "wrong_mode",
            SignupRefusal::UnknownToken => "unknown_token",
            SignupRefusal::Expired => "expired",
            SignupRefusal::Revoked => "revoked",
            SignupRefusal::UsedUp => "used_up",
        }
    }
}

/// What the signup form asks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SignupForm {
    pub username: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
}

/// A problem with one field of the form, for the person filling it in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// `username`, `email`, `first_name` or `last_name`.
    pub field: &'static str,
    pub message: String,
}

/// What a signup attempt came to.
#[derive(Debug)]
pub enum SignupOutcome {
    /// The account exists and its first session is open (method `signup`).
    Created {
        user: Box<User>,
        token: SessionToken,
        session: Box<Session>,
    },
    /// The form needs changes; nothing was written.
    Invalid(Vec<FieldError>),
    /// Signup is not possible this way; nothing was written.
    Refused(SignupRefusal),
}

/// A token just made: the only time the token itself exists. `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct SignupTokenIssued {
    pub id: String,
    /// For the link `<public_url>/st/<token>`.
    pub token: String,
    pub expires_at: OffsetDateTime,
    pub usage_limit: u32,
    pub groups: Vec<String>,
}

impl std::fmt::Debug for SignupTokenIssued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignupTokenIssued")
            .field("id", &self.id)
            .field("token", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .field("usage_limit", &self.usage_limit)
            .field("groups", &self.groups)
            .finish()
    }
}

/// A token as the console lists it, without the secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignupTokenInfo {
    pub id: String,
    pub prefix: String,
    pub uses: u32,
    pub usage_limit: u32,
    pub groups: Vec<String>,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub created_by: String,
}

fn mode_of(value: Option<SettingValue>) -> SignupMode {
    match value {
        Some(SettingValue::Text(text)) if text == "token" => SignupMode::Token,
        Some(SettingValue::Text(text)) if text == "open" => SignupMode::Open,
        _ => SignupMode::Disabled,
    }
}

/// The `signups.*` settings from one snapshot.
pub(crate) fn read_signup_settings<A: Access>(tx: &Tables<A>) -> Result<SignupSettings, IdmError> {
    let mode = mode_of(value_of(tx, SIGNUPS_MODE)?);
    let require_email = !matches!(
        value_of(tx, SIGNUPS_REQUIRE_EMAIL)?,
        Some(SettingValue::Bool(false))
    );
    let default_groups = match value_of(tx, SIGNUPS_DEFAULT_GROUPS)? {
        Some(SettingValue::List(names)) => names,
        _ => Vec::new(),
    };
    Ok(SignupSettings {
        mode,
        require_email,
        default_groups,
    })
}

/// Names of the groups that still exist, in the token's order.
fn group_names<A: Access>(tx: &Tables<A>, ids: &[GroupId]) -> Result<Vec<String>, IdmError> {
    let mut names = Vec::new();
    for id in ids {
        if let Some(group) = tx.group(*id)? {
            names.push(group.name);
        }
    }
    Ok(names)
}

/// Whether the token can make an account at `now`.
fn token_state(token: &SignupTokenRecord, now: i64) -> Result<(), SignupRefusal> {
    if token.revoked_at.is_some() {
        Err(SignupRefusal::Revoked)
    } else if token.expires_at <= now {
        Err(SignupRefusal::Expired)
    } else if token.uses >= token.usage_limit {
        Err(SignupRefusal::UsedUp)
    } else {
        Ok(())
    }
}

/// The token's hash, if the text can be one of ours at all.
fn token_hash(token: &str) -> Option<crate::store::TokenHash> {
    let token = token.trim();
    let bytes = secrets::from_b64url(token)?;
    (bytes.len() == 16 && token.len() == 22).then(|| secrets::sha256(token.as_bytes()))
}

/// A token being used: its hash and record.
type Admitted = (
    SignupSettings,
    Option<(crate::store::TokenHash, SignupTokenRecord)>,
);

/// Checks the mode (and the token) inside `tx`: the token's record and hash
/// when signing up with one.
fn admit<A: Access>(
    tx: &Tables<A>,
    via: SignupVia<'_>,
    now: i64,
) -> Result<Result<Admitted, SignupRefusal>, IdmError> {
    let settings = read_signup_settings(tx)?;
    let wanted = match via {
        SignupVia::Token(_) => SignupMode::Token,
        SignupVia::Open => SignupMode::Open,
    };
    if settings.mode != wanted {
        return Ok(Err(SignupRefusal::WrongMode));
    }
    let SignupVia::Token(text) = via else {
        return Ok(Ok((settings, None)));
    };
    let Some(hash) = token_hash(text) else {
        return Ok(Err(SignupRefusal::UnknownToken));
    };
    let Some(record) = tx.signup_token(&hash)? else {
        return Ok(Err(SignupRefusal::UnknownToken));
    };
    if let Err(refusal) = token_state(&record, now) {
        return Ok(Err(refusal));
    }
    Ok(Ok((settings, Some((hash, record)))))
}

/// Every field checked on its own, so the page can show all problems at once.
fn check_form(form: &SignupForm, require_email: bool) -> (Vec<FieldError>, Option<NewUser>) {
    let mut errors = Vec::new();
    let mut keep = |result: Result<String, IdmError>, field: &'static str| match result {
        Ok(value) => value,
        Err(e) => {
            let message = match e {
                IdmError::Invalid { message, .. } => message,
                other => other.to_string(),
            };
            errors.push(FieldError { field, message });
            String::new()
        }
    };
    let username = keep(super::validate::username(&form.username), "username");
    let email = if form.email.trim().is_empty() && require_email {
        keep(Err(IdmError::invalid("email", "is required")), "email")
    } else {
        keep(
            super::validate::email(Some(&form.email)).map(Option::unwrap_or_default),
            "email",
        )
    };
    let first_name = keep(
        super::validate::name(
            "first_name",
            &form.first_name,
            super::validate::FIRST_NAME_MAX,
        ),
        "first_name",
    );
    let last_name = keep(
        super::validate::name("last_name", &form.last_name, super::validate::LAST_NAME_MAX),
        "last_name",
    );
    if !errors.is_empty() {
        return (errors, None);
    }
    let user = NewUser {
        username,
        email: (!email.is_empty()).then_some(email),
        first_name,
        last_name,
        display_name: None,
        is_admin: false,
    };
    (errors, Some(user))
}

fn taken(field: &'static str) -> FieldError {
    let message = match field {
        "username" => "is already taken; choose another",
        _ => "already belongs to an account; sign in instead, or use another address",
    };
    FieldError {
        field,
        message: message.to_owned(),
    }
}

impl Idm {
    /// The `signups.*` settings with defaults applied.
    pub fn signup_settings(&self) -> Result<SignupSettings, IdmError> {
        read_signup_settings(&self.store.read()?)
    }

    /// Whether the signup page may be shown (for `GET`); the settings the
    /// form follows, or why not. Writes nothing.
    pub fn check_signup(
        &self,
        via: SignupVia<'_>,
    ) -> Result<Result<SignupSettings, SignupRefusal>, IdmError> {
        let tx = self.store.read()?;
        Ok(admit(&tx, via, self.now())?.map(|(settings, _)| settings))
    }

    /// Makes a signup token (`signup_token_created`). The expiry is more
    /// than zero and at most 31 days; the limit 1–100; the groups must exist.
    pub fn create_signup_token(
        &self,
        actor: &Actor,
        input: &NewSignupToken,
    ) -> Result<SignupTokenIssued, IdmError> {
        let expires_in = Duration::from_secs(input.expires_in_secs);
        if expires_in.is_zero() {
            return Err(IdmError::invalid("expires", "must be in the future"));
        }
        if expires_in > MAX_EXPIRY {
            return Err(IdmError::invalid("expires", "must be at most 31 days"));
        }
        if !(1..=MAX_USAGE_LIMIT).contains(&input.usage_limit) {
            return Err(IdmError::invalid(
                "usage_limit",
                format!("must be from 1 to {MAX_USAGE_LIMIT}"),
            ));
        }
        let seconds = i64::try_from(input.expires_in_secs)
            .map_err(|_| IdmError::invalid("expires", "must be at most 31 days"))?;
        let token = secrets::random_token::<16>()?;
        let hash = secrets::sha256(token.as_bytes());
        let now = self.now();
        self.store.write(|tx| {
            let groups = group_ids(tx, "groups", &input.groups)?;
            let record = SignupTokenRecord {
                id: secrets::public_id()?,
                prefix: token.chars().take(PREFIX_LEN).collect(),
                created_at: now,
                expires_at: now.saturating_add(seconds),
                usage_limit: input.usage_limit,
                uses: 0,
                groups: groups.iter().map(|(id, _)| *id).collect(),
                created_by: actor.to_string(),
                revoked_at: None,
            };
            if tx.signup_token(&hash)?.is_some() {
                return Err(IdmError::Store(StoreError::Conflict { field: "token" }));
            }
            tx.put_signup_token(&hash, &record)?;
            let names: Vec<String> = groups.into_iter().map(|(_, name)| name).collect();
            let details = vec![
                detail("id", record.id.clone()),
                detail("usage_limit", record.usage_limit.to_string()),
                detail("expires_at", to_time(record.expires_at)?.to_string()),
                detail("groups", names.join(",")),
            ];
            audit::append(tx, now, actor, "signup_token_created", None, details)?;
            Ok(SignupTokenIssued {
                id: record.id,
                token: token.clone(),
                expires_at: to_time(record.expires_at)?,
                usage_limit: record.usage_limit,
                groups: names,
            })
        })
    }

    /// Tokens that can still make accounts (not revoked, expired or used
    /// up), soonest to expire first.
    pub fn list_signup_tokens(&self) -> Result<Vec<SignupTokenInfo>, IdmError> {
        let now = self.now();
        let tx = self.store.read()?;
        let mut out = Vec::new();
        for (_, record) in tx.signup_tokens()? {
            if token_state(&record, now).is_err() {
                continue;
            }
            out.push(SignupTokenInfo {
                groups: group_names(&tx, &record.groups)?,
                created_at: to_time(record.created_at)?,
                expires_at: to_time(record.expires_at)?,
                id: record.id,
                prefix: record.prefix,
                uses: record.uses,
                usage_limit: record.usage_limit,
                created_by: record.created_by,
            });
        }
        out.sort_by(|a, b| a.expires_at.cmp(&b.expires_at).then(a.id.cmp(&b.id)));
        Ok(out)
    }

    /// Revokes a token by id (`signup_token_revoked`); its link then shows
    /// "revoked". Revoking twice is `NotFound` the second time.
    pub fn revoke_signup_token(&self, actor: &Actor, id: &str) -> Result<(), IdmError> {
        let now = self.now();
        let id = id.trim().to_ascii_lowercase();
        let not_found = || IdmError::NotFound {
            what: "signup token",
            key: id.clone(),
        };
        self.store.write(|tx| {
            let hash = tx.signup_token_hash(&id)?.ok_or_else(not_found)?;
            let mut record = tx.signup_token(&hash)?.ok_or_else(not_found)?;
            if record.revoked_at.is_some() {
                return Err(not_found());
            }
            record.revoked_at = Some(now);
            tx.put_signup_token(&hash, &record)?;
            let details = vec![
                detail("id", record.id.clone()),
                detail("uses", record.uses.to_string()),
            ];
            audit::append(tx, now, actor, "signup_token_revoked", None, details)?;
            Ok(())
        })
    }

    /// Creates an account from the signup form and signs its owner in
    /// (session method `signup`), all in one write transaction: the mode,
    /// the token (not revoked, expired or used up) and the form are checked,
    /// the user is inserted with their groups (the token's, or
    /// `signups.default_groups` for open signup), the token's use count goes
    /// up by one, and `user_created`, `user_signed_up` and `signup_sign_in`
    /// are recorded. The typed address is unverified; when SMTP is configured
    /// a verification link to `<public_url>/email/verify/…` is queued in the
    /// same transaction. Anything refused writes nothing.
    pub fn sign_up(
        &self,
        actor: &Actor,
        via: SignupVia<'_>,
        form: &SignupForm,
        public_url: &str,
        device: Option<&DeviceToken>,
    ) -> Result<SignupOutcome, IdmError> {
        let now = self.now();
        self.store.write(|tx| {
            let (settings, token) = match admit(tx, via, now)? {
                Ok(admitted) => admitted,
                Err(refusal) => return Ok(SignupOutcome::Refused(refusal)),
            };
            let (mut errors, input) = check_form(form, settings.require_email);
            // Taken values are checked even when another field is wrong, so
            // the person sees every problem at once.
            if !errors.iter().any(|e| e.field == "username")
                && tx.user_id_by_username(form.username.trim())?.is_some()
            {
                errors.push(taken("username"));
            }
            let email = form.email.trim();
            if !email.is_empty()
                && !errors.iter().any(|e| e.field == "email")
                && tx.user_id_by_email(email)?.is_some()
            {
                errors.push(taken("email"));
            }
            let (true, Some(input)) = (errors.is_empty(), input) else {
                errors.sort_by_key(|e| field_order(e.field));
                return Ok(SignupOutcome::Invalid(errors));
            };
            let mut record = new_record(input, now)?;
            match insert_user(tx, now, actor, &mut record, AddressFrom::User) {
                Ok(()) => {}
                Err(IdmError::Conflict { field, .. })
                    if field == "username" || field == "email" =>
                {
                    return Ok(SignupOutcome::Invalid(vec![taken(field)]));
                }
                Err(other) => return Err(other),
            }
            let (groups, mut details) = match &token {
                Some((hash, record_token)) => {
                    let mut spent = record_token.clone();
                    spent.uses = spent.uses.saturating_add(1);
                    tx.put_signup_token(hash, &spent)?;
                    let groups: Vec<GroupId> = record_token
                        .groups
                        .iter()
                        .copied()
                        .filter(|id| matches!(tx.group(*id), Ok(Some(_))))
                        .collect();
                    let details = vec![
                        detail("method", "token"),
                        detail("token", record_token.id.clone()),
                    ];
                    (groups, details)
                }
                None => {
                    // A default group deleted since it was set is skipped.
                    let mut groups = Vec::new();
                    for name in &settings.default_groups {
                        if let Some(id) = tx.group_id_by_name(&name.to_ascii_lowercase())? {
                            groups.push(id);
                        }
                    }
                    (groups, vec![detail("method", "open")])
                }
            };
            for group in &groups {
                tx.add_group_member(*group, record.id)?;
            }
            details.push(detail("groups", group_names(tx, &groups)?.join(",")));
            let as_user = actor.as_user(record.id, record.username.clone());
            let subject = Subject::linked(&record.username, record.id);
            audit::append(tx, now, &as_user, "user_signed_up", Some(subject), details)?;
            queue_verification(tx, now, &as_user, &record, public_url)?;
            let user = User::from_record(record)?;
            let method = SignInMethod::Signup;
            let (token, session) = open_session(tx, now, actor, &user, method, device, Vec::new())?;
            Ok(SignupOutcome::Created {
                user: Box::new(user),
                token,
                session: Box::new(session),
            })
        })
    }
}

fn field_order(field: &str) -> usize {
    ["username", "email", "first_name", "last_name"]
        .iter()
        .position(|f| *f == field)
        .unwrap_or(usize::MAX)
}

/// Drops tokens that expired more than 30 days before `now`.
pub(crate) fn sweep_signup_tokens(tx: &mut WriteTx<'_>, now: i64) -> Result<u64, IdmError> {
    Ok(tx.remove_signup_tokens_expired_before(now.saturating_sub(KEEP_AFTER_EXPIRY_SECS))?)
}

#[cfg(test)]
mod tests;
