//! WebAuthn ceremonies with webauthn-rs: enrolling a passkey and signing in
//! with one, usernameless (discoverable credentials, conditional UI).
//!
//! Ceremony state lives in memory (`ceremony_store.rs`), keyed by the SHA-256
//! of a random 128-bit ceremony id, for five minutes (by the injected clock),
//! bounded per client network and in all with fair eviction, and is consumed
//! by the first finish whatever its outcome. A daemon restart drops
//! ceremonies in flight: the browser just starts again.
//!
//! What webauthn-rs 0.6.2 does and does not check (read in its source):
//! - `start_passkey_registration` builds its challenge with
//!   `UserVerificationPolicy::Required` and `require_resident_key(false)`
//!   (so `residentKey: "discouraged"`); we override the *options sent to the
//!   browser* to `residentKey: "required"` and the `passkeys.user_verification`
//!   setting. The *server-side* policy kept in `PasskeyRegistration` stays
//!   `Required` (it is private and not settable), so registration refuses
//!   authenticator data without the UV flag, and the credential is stored
//!   with `registration_policy: Required`.
//! - `start_discoverable_authentication` also uses `Required`, and
//!   authentication enforces UV whenever the request policy *or* the
//!   credential's registration policy is `Required`. So with webauthn-rs's
//!   passkey API UV is always enforced server-side; the setting's
//!   `preferred` only relaxes what browsers are asked (the setting's
//!   warning says so).
//! - It cannot verify that a credential is discoverable. We refuse a
//!   registration whose (unsigned, browser-reported) `credProps.rk` is
//!   `false`; when absent we accept.
//! - Signature counters: a non-zero counter that does not increase fails
//!   with `CredentialPossibleCompromise` (`require_valid_counter_value` is
//!   on), which we report as `counter_regression`. A backup-eligibility
//!   change fails as well.

use std::sync::Arc;

use latchkey_protocol::SignInMethod;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, Passkey, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, Url, Uuid, Webauthn, WebauthnBuilder, WebauthnError,
};
use webauthn_rs_proto::{
    AuthenticatorSelectionCriteria, ResidentKeyRequirement, UserVerificationPolicy,
};

use super::audit::detail;
use super::ceremony_keeper::CeremonyKeeper;
use super::ceremony_store::CeremonyOwner;
use super::device_notice::DeviceToken;
use super::passkey_names::{aaguid_of, default_name};
use super::passkeys::{PasskeyInfo, validate_name};
use super::sessions::{PasskeyProof, Session, SessionToken, open_session};
use super::settings::{UserVerification, read_settings};
use super::users::User;
use super::{Actor, Idm, IdmError, SignInFailure, UserId, secrets};
use crate::store::{PasskeyRecord, StoreError};

#[derive(Serialize, Deserialize)]
enum State {
    SignIn(Box<DiscoverableAuthentication>),
    Registration {
        user_id: UserId,
        state: Box<PasskeyRegistration>,
    },
}

/// Starts and finishes WebAuthn ceremonies; cheap to clone.
#[derive(Clone)]
pub struct Passkeys {
    idm: Idm,
    rp_id: String,
    origin: Url,
    ceremonies: Arc<CeremonyKeeper<State>>,
}

impl std::fmt::Debug for Passkeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Passkeys")
            .field("rp_id", &self.rp_id)
            .field("origin", &self.origin.as_str())
            .finish_non_exhaustive()
    }
}

fn invalid_credential(e: &serde_json::Error) -> IdmError {
    IdmError::invalid(
        "credential",
        format!("is not a WebAuthn credential response: {e}"),
    )
}

/// A message for the user when webauthn-rs refuses a registration.
fn registration_error(e: &WebauthnError) -> IdmError {
    let message = match e {
        WebauthnError::UserNotVerified => {
            "your authenticator did not verify you (PIN, fingerprint or face); this site requires it"
                .to_owned()
        }
        WebauthnError::InvalidRPOrigin | WebauthnError::InvalidRPIDHash => {
            "this passkey response was made for another site".to_owned()
        }
        WebauthnError::MismatchedChallenge | WebauthnError::InvalidClientDataType => {
            "this response does not belong to this registration attempt; please try again"
                .to_owned()
        }
        other => format!("the passkey could not be registered: {other}"),
    };
    IdmError::Passkey(message)
}

/// `cred.backup_eligible` / `cred.backup_state` of a webauthn-rs
/// `Passkey`, read from its serialised form (the fields are private).
fn backup_flags(passkey: &Passkey) -> (bool, bool) {
    let json = serde_json::to_value(passkey).unwrap_or(Value::Null);
    let flag = |name: &str| {
        json.get("cred")
            .and_then(|c| c.get(name))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    };
    (flag("backup_eligible"), flag("backup_state"))
}

fn corrupt_passkey(e: &serde_json::Error) -> IdmError {
    IdmError::Store(StoreError::Corrupt(format!(
        "a stored passkey cannot be read: {e}"
    )))
}

impl Passkeys {
    /// `public_url` is the daemon's public URL; its origin is the WebAuthn
    /// origin and its host the RP id. WebAuthn refuses IP addresses, so
    /// the host must be a name (`localhost` works for development).
    pub fn new(idm: Idm, public_url: &str) -> Result<Passkeys, IdmError> {
        let url = Url::parse(public_url).map_err(|e| {
            IdmError::Passkey(format!("the public URL {public_url:?} is not a URL: {e}"))
        })?;
        let rp_id = url
            .domain()
            .ok_or_else(|| {
                IdmError::Passkey(format!(
                    "passkeys need a public URL with a host name, not an IP address (WebAuthn refuses those): {public_url}; for local use try http://localhost"
                ))
            })?
            .to_owned();
        let origin = Url::parse(&url.origin().ascii_serialization())
            .map_err(|e| IdmError::Passkey(format!("the public URL has no usable origin: {e}")))?;
        let shared = idm.store().is_shared();
        let passkeys = Passkeys {
            idm,
            rp_id,
            origin,
            ceremonies: Arc::new(CeremonyKeeper::for_store(shared)),
        };
        passkeys.webauthn("Latchkey")?;
        Ok(passkeys)
    }

    fn webauthn(&self, rp_name: &str) -> Result<Webauthn, IdmError> {
        WebauthnBuilder::new(&self.rp_id, &self.origin)
            .and_then(|builder| builder.rp_name(rp_name).build())
            .map_err(|e| {
                IdmError::Passkey(format!("cannot set up WebAuthn for {}: {e}", self.origin))
            })
    }

    fn ceremonies(&self) -> &CeremonyKeeper<State> {
        &self.ceremonies
    }

    fn now(&self) -> i64 {
        self.idm.now()
    }

    /// Starts a usernameless sign-in. Returns the ceremony id and the
    /// `RequestChallengeResponse` JSON (`{"publicKey": …, "mediation":
    /// "conditional"}` — webauthn-rs always sets conditional mediation;
    /// a button-triggered sign-in uses `publicKey` alone). `owner` is the
    /// client network asking: its ceremonies are bounded on their own.
    pub fn start_sign_in(&self, owner: CeremonyOwner) -> Result<(String, Value), IdmError> {
        let settings = self.idm.settings()?;
        let webauthn = self.webauthn(&settings.app_name)?;
        let (mut options, state) = webauthn
            .start_discoverable_authentication()
            .map_err(|e| IdmError::Passkey(format!("cannot start a passkey sign-in: {e}")))?;
        options.public_key.user_verification = uv_policy(settings.user_verification);
        let json = serde_json::to_value(&options)
            .map_err(|e| IdmError::Passkey(format!("cannot encode the sign-in options: {e}")))?;
        let id = self.ceremonies().insert(
            &self.idm,
            self.now(),
            owner,
            State::SignIn(Box::new(state)),
        )?;
        Ok((id, json))
    }

    /// The account a sign-in response claims by its user handle, if any,
    /// before anything is verified: for per-account limits. Reads only; a
    /// response that names no known handle is `None`.
    pub fn sign_in_account(&self, credential: &Value) -> Result<Option<UserId>, IdmError> {
        let handle = credential
            .get("response")
            .and_then(|r| r.get("userHandle"))
            .and_then(Value::as_str)
            .and_then(secrets::from_b64url)
            .and_then(|bytes| <[u8; 16]>::try_from(bytes.as_slice()).ok());
        let Some(handle) = handle else {
            return Ok(None);
        };
        Ok(self.idm.store.read()?.user_id_by_webauthn_handle(&handle)?)
    }

    /// Finishes a sign-in: verifies the assertion against the stored
    /// passkey its user handle and credential id name, updates the
    /// passkey's counter and flags, and opens a session (method `passkey`),
    /// all in one write. Malformed JSON is `Invalid { field: "credential" }`
    /// and an unknown, expired or spent ceremony `CeremonyExpired`; those and
    /// every verification failure (`SignInFailed`) write a `sign_in_failed`
    /// audit event saying why.
    pub fn finish_sign_in(
        &self,
        actor: &Actor,
        ceremony: &str,
        credential: Value,
        device: Option<&DeviceToken>,
    ) -> Result<(User, SessionToken, Session), IdmError> {
        let fail = |subject: Option<&str>, reason| self.idm.sign_in_failed(actor, subject, reason);
        let taken = self.ceremonies().take(&self.idm, self.now(), ceremony)?;
        let Some(State::SignIn(state)) = taken else {
            // Audited like any failed sign-in: a replayed request lands here.
            fail(None, SignInFailure::ExpiredCeremony);
            return Err(IdmError::CeremonyExpired);
        };
        let credential: PublicKeyCredential = serde_json::from_value(credential).map_err(|e| {
            fail(None, SignInFailure::MalformedResponse);
            invalid_credential(&e)
        })?;
        let webauthn = self.webauthn(&self.idm.settings()?.app_name)?;

        let Ok((handle, credential_id)) =
            webauthn.identify_discoverable_authentication(&credential)
        else {
            return Err(fail(None, SignInFailure::UnknownCredential));
        };
        let credential_id = credential_id.to_vec();
        let (record, user) = {
            let tx = self.idm.store.read()?;
            let owner = tx.user_id_by_webauthn_handle(handle.as_bytes())?;
            let record = tx.passkey_by_credential(&credential_id)?;
            match (owner, record) {
                (Some(owner), Some(record)) if record.user_id == owner => {
                    let user = tx.user(owner)?.ok_or_else(|| {
                        StoreError::Corrupt(format!("passkey of a missing user {owner}"))
                    })?;
                    (record, user)
                }
                _ => return Err(fail(None, SignInFailure::UnknownCredential)),
            }
        };
        if user.disabled {
            return Err(fail(Some(&user.username), SignInFailure::UserDisabled));
        }
        let passkey: Passkey =
            serde_json::from_slice(&record.credential_json).map_err(|e| corrupt_passkey(&e))?;
        let result =
            match webauthn.finish_discoverable_authentication_v2(&credential, *state, &passkey) {
                Ok(result) => result,
                Err(WebauthnError::CredentialPossibleCompromise) => {
                    return Err(fail(Some(&user.username), SignInFailure::CounterRegression));
                }
                Err(e) => {
                    tracing::debug!("passkey assertion refused: {e}");
                    return Err(fail(Some(&user.username), SignInFailure::BadAssertion));
                }
            };

        let now = self.now();
        let passkey_id = secrets::b64url(&credential_id);
        let outcome = self.idm.store.write(|tx| {
            // Revoked or disabled while we verified: refuse.
            let Some(mut record) = tx.passkey_by_credential(&credential_id)? else {
                return Ok(Err(SignInFailure::UnknownCredential));
            };
            let Some(user) = tx.user(record.user_id)?.filter(|u| !u.disabled) else {
                return Ok(Err(SignInFailure::UserDisabled));
            };
            let mut current: Passkey =
                serde_json::from_slice(&record.credential_json).map_err(|e| corrupt_passkey(&e))?;
            current.update_credential(&result);
            record.credential_json = serde_json::to_vec(&current)
                .map_err(|e| IdmError::Store(StoreError::Corrupt(e.to_string())))?;
            record.backup_eligible = result.backup_eligible();
            record.backup_state = result.backup_state();
            record.last_used_at = Some(now);
            tx.put_passkey(&record)?;
            let user = User::from_record(user)?;
            let details = vec![
                detail("passkey", passkey_id.clone()),
                detail("name", record.name),
            ];
            let proof = PasskeyProof {
                synced: result.backup_eligible(),
                user_verified: result.user_verified(),
            };
            let (token, session) = open_session(tx, now, actor, &user, proof, device, details)?;
            Ok::<_, IdmError>(Ok((user, token, session)))
        })?;
        outcome.map_err(|reason| fail(Some(&user.username), reason))
    }

    /// Starts enrolling a passkey for a signed-in, enabled user. Returns the
    /// ceremony id and the `CreationChallengeResponse` JSON, which asks for
    /// a discoverable credential (`residentKey: "required"`) and user
    /// verification per the setting, and excludes the user's passkeys.
    pub fn start_registration(
        &self,
        user_id: UserId,
        owner: CeremonyOwner,
    ) -> Result<(String, Value), IdmError> {
        let (user, exclude, settings) = {
            let tx = self.idm.store.read()?;
            let user = tx
                .user(user_id)?
                .ok_or_else(|| IdmError::user_not_found(&user_id.to_string()))?;
            (user, tx.passkey_ids(user_id)?, read_settings(&tx)?)
        };
        if user.disabled {
            return Err(IdmError::invalid("user", "this account is disabled"));
        }
        let webauthn = self.webauthn(&settings.app_name)?;
        let exclude = (!exclude.is_empty()).then_some(exclude);
        let (mut options, state) = webauthn
            .start_passkey_registration(
                Uuid::from_bytes(user.webauthn_handle.0),
                &user.username,
                &user.display_name,
                exclude,
            )
            .map_err(|e| IdmError::Passkey(format!("cannot start a passkey registration: {e}")))?;
        let selection = options.public_key.authenticator_selection.get_or_insert(
            AuthenticatorSelectionCriteria {
                authenticator_attachment: None,
                resident_key: None,
                require_resident_key: false,
                user_verification: UserVerificationPolicy::Required,
            },
        );
        selection.resident_key = Some(ResidentKeyRequirement::Required);
        selection.require_resident_key = true;
        selection.user_verification = uv_policy(settings.user_verification);
        let json = serde_json::to_value(&options).map_err(|e| {
            IdmError::Passkey(format!("cannot encode the registration options: {e}"))
        })?;
        let id = self.ceremonies().insert(
            &self.idm,
            self.now(),
            owner,
            State::Registration {
                user_id,
                state: Box::new(state),
            },
        )?;
        Ok((id, json))
    }

    /// Finishes enrolling: verifies the response and stores the passkey
    /// (`passkey_added`, naming `method`, how the enrolling session was
    /// signed in; the user is mailed a notice: `passkey_notice`). `name`
    /// defaults to the authenticator's name when its AAGUID is known, else
    /// "Passkey", made unique among the user's.
    pub fn finish_registration(
        &self,
        actor: &Actor,
        user_id: UserId,
        ceremony: &str,
        credential: Value,
        name: Option<&str>,
        method: SignInMethod,
    ) -> Result<PasskeyInfo, IdmError> {
        let state = match self.ceremonies().take(&self.idm, self.now(), ceremony)? {
            Some(State::Registration {
                user_id: owner,
                state,
            }) if owner == user_id => state,
            _ => return Err(IdmError::CeremonyExpired),
        };
        let name = name
            .filter(|n| !n.trim().is_empty())
            .map(validate_name)
            .transpose()?;
        let credential: RegisterPublicKeyCredential =
            serde_json::from_value(credential).map_err(|e| invalid_credential(&e))?;
        if credential.extensions.cred_props.as_ref().and_then(|p| p.rk) == Some(false) {
            return Err(IdmError::Passkey(
                "this authenticator made a credential that cannot sign in without a username; use a passkey provider or a security key that stores passkeys".to_owned(),
            ));
        }
        let webauthn = self.webauthn(&self.idm.settings()?.app_name)?;
        let passkey = webauthn
            .finish_passkey_registration(&credential, &state)
            .map_err(|e| registration_error(&e))?;
        let aaguid = aaguid_of(&credential.response.attestation_object);
        let (backup_eligible, backup_state) = backup_flags(&passkey);
        let credential_json = serde_json::to_vec(&passkey)
            .map_err(|e| IdmError::Passkey(format!("cannot store the passkey: {e}")))?;
        let credential_id = passkey.cred_id().to_vec();

        let now = self.now();
        self.idm.store.write(|tx| {
            let user = tx
                .user(user_id)?
                .filter(|u| !u.disabled)
                .ok_or_else(|| IdmError::invalid("user", "this account is disabled or gone"))?;
            if tx.passkey_by_credential(&credential_id)?.is_some() {
                return Err(IdmError::Passkey(
                    "this passkey is already registered".to_owned(),
                ));
            }
            let taken: Vec<String> = tx
                .user_passkeys(user_id)?
                .into_iter()
                .map(|p| p.name)
                .collect();
            let record = PasskeyRecord {
                credential_id: credential_id.clone(),
                user_id,
                name: name.unwrap_or_else(|| default_name(aaguid, &taken)),
                aaguid,
                backup_eligible,
                backup_state,
                created_at: now,
                last_used_at: None,
                credential_json,
            };
            tx.put_passkey(&record)?;
            super::passkey_notice::passkey_added(tx, now, actor, &user, &record, method)?;
            PasskeyInfo::from_record(&record)
        })
    }
}

fn uv_policy(setting: UserVerification) -> UserVerificationPolicy {
    match setting {
        UserVerification::Required => UserVerificationPolicy::Required,
        UserVerification::Preferred => UserVerificationPolicy::Preferred,
    }
}

#[cfg(test)]
mod tests;
