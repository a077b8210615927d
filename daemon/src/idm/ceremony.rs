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

use std::sync::{Arc, Mutex, PoisonError};

use latchkey_protocol::SignInMethod;
use serde_json::Value;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, Passkey, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, Url, Uuid, Webauthn, WebauthnBuilder, WebauthnError,
};
use webauthn_rs_proto::{
    AuthenticatorSelectionCriteria, ResidentKeyRequirement, UserVerificationPolicy,
};

use super::audit::detail;
use super::ceremony_store::{Ceremonies, CeremonyOwner};
use super::passkeys::{PasskeyInfo, validate_name};
use super::sessions::{PasskeyProof, Session, SessionToken, open_passkey_session};
use super::settings::{UserVerification, read_settings};
use super::users::User;
use super::{Actor, Idm, IdmError, SignInFailure, UserId, secrets};
use crate::store::{PasskeyRecord, StoreError};

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
    ceremonies: Arc<Mutex<Ceremonies<State>>>,
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

/// Reads the AAGUID from a registration's attestation object (CBOR) without
/// a CBOR library: find the `authData` byte string, then the attested
/// credential data. Only a naming hint, so anything odd gives `None`.
fn aaguid_of(attestation_object: &[u8]) -> Option<[u8; 16]> {
    const KEY: &[u8] = b"\x68authData";
    let at = attestation_object
        .windows(KEY.len())
        .position(|w| w == KEY)?
        .checked_add(KEY.len())?;
    let head = *attestation_object.get(at)?;
    let (len, start) = match head {
        0x40..=0x57 => (usize::from(head & 0x1f), at + 1),
        0x58 => (usize::from(*attestation_object.get(at + 1)?), at + 2),
        0x59 => {
            let b = attestation_object.get(at + 1..at + 3)?;
            (
                usize::from(u16::from_be_bytes([*b.first()?, *b.get(1)?])),
                at + 3,
            )
        }
        _ => return None,
    };
    let auth_data = attestation_object.get(start..start.checked_add(len)?)?;
    // rpIdHash (32) | flags (1) | signCount (4) | aaguid (16) …
    let flags = *auth_data.get(32)?;
    if flags & 0x40 == 0 {
        return None;
    }
    auth_data.get(37..53)?.try_into().ok()
}

/// Authenticator names by AAGUID, for a passkey's default name.
const KNOWN_AUTHENTICATORS: &[(&str, &str)] = &[
    ("fbfc3007-154e-4ecc-8c0b-6e020557d7bd", "iCloud Keychain"),
    (
        "ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4",
        "Google Password Manager",
    ),
    ("08987058-cadc-4b81-b6e1-30de50dcbe96", "Windows Hello"),
    ("9ddd1817-af5a-4672-a2b9-3e3dd95000a9", "Windows Hello"),
    ("6028b017-b1d4-4c02-b4b3-afcdafc96bb2", "Windows Hello"),
    ("bada5566-a7aa-401f-bd96-45619a55120d", "1Password"),
    ("d548826e-79b4-db40-a3d8-11116f7e8349", "Bitwarden"),
    ("cb69481e-8ff7-4039-93ec-0a2729a154a8", "YubiKey 5"),
    ("ee882879-721c-4913-9775-3dfcce97072a", "YubiKey 5"),
    ("fa2b99dc-9e39-4257-8f92-4a30d23c4118", "YubiKey 5"),
    ("2fc0579f-8113-47ea-b116-bb5a8db9202a", "YubiKey 5"),
    ("adce0002-35bc-c60a-648b-0b25f1f05503", "Chrome on Mac"),
];

/// "iCloud Keychain", … or "Passkey"; with " 2", " 3", … if the user
/// already has one by that name.
fn default_name(aaguid: Option<[u8; 16]>, taken: &[String]) -> String {
    let base = aaguid
        .map(|a| Uuid::from_bytes(a).hyphenated().to_string())
        .and_then(|a| {
            KNOWN_AUTHENTICATORS
                .iter()
                .find(|(known, _)| *known == a)
                .map(|(_, name)| *name)
        })
        .unwrap_or("Passkey");
    let free = |name: &str| !taken.iter().any(|t| t.eq_ignore_ascii_case(name));
    if free(base) {
        return base.to_owned();
    }
    (2u32..)
        .map(|n| format!("{base} {n}"))
        .find(|name| free(name))
        .unwrap_or_else(|| base.to_owned())
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
        let passkeys = Passkeys {
            idm,
            rp_id,
            origin,
            ceremonies: Arc::new(Mutex::new(Ceremonies::default())),
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

    fn ceremonies(&self) -> std::sync::MutexGuard<'_, Ceremonies<State>> {
        self.ceremonies
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
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
        let id = self
            .ceremonies()
            .insert(self.now(), owner, State::SignIn(Box::new(state)))?;
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
    ) -> Result<(User, SessionToken, Session), IdmError> {
        let fail = |subject: Option<&str>, reason| self.idm.sign_in_failed(actor, subject, reason);
        let taken = self.ceremonies().take(self.now(), ceremony);
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
            let (token, session) = open_passkey_session(tx, now, actor, &user, proof, details)?;
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
        let state = match self.ceremonies().take(self.now(), ceremony) {
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
mod tests {
    use std::sync::Arc;

    use latchkey_protocol::NewUser;
    use serde_json::json;
    use time::Duration;
    use time::macros::datetime;

    use super::*;
    use crate::clock::ManualClock;
    use crate::store::Store;

    /// The enrolling session's sign-in method.
    const LC: SignInMethod = SignInMethod::LoginCode;

    fn setup() -> (Passkeys, ManualClock, User) {
        let clock = ManualClock::new(datetime!(2026-03-01 09:30:00 UTC));
        let idm = Idm::new(Store::memory().unwrap(), Arc::new(clock.clone()));
        let input = NewUser {
            username: "alice".into(),
            ..NewUser::default()
        };
        let user = idm
            .create_user(&Actor::admin_socket(0), input)
            .unwrap()
            .user;
        let passkeys = Passkeys::new(idm, "http://localhost:1411/").unwrap();
        (passkeys, clock, user)
    }

    fn here() -> CeremonyOwner {
        CeremonyOwner::new(std::net::IpAddr::from([192, 0, 2, 9]))
    }

    fn visitor() -> Actor {
        Actor::anonymous(Some("192.0.2.9".into()), None)
    }

    #[test]
    fn registration_asks_for_a_discoverable_credential_and_uv_per_setting() {
        let (passkeys, _, alice) = setup();
        let (id, options) = passkeys.start_registration(alice.id, here()).unwrap();
        assert_eq!(id.len(), 22, "128 bits of base64url");
        let selection = &options["publicKey"]["authenticatorSelection"];
        assert_eq!(selection["residentKey"], json!("required"));
        assert_eq!(selection["requireResidentKey"], json!(true));
        assert_eq!(selection["userVerification"], json!("required"));
        assert_eq!(options["publicKey"]["rp"]["id"], json!("localhost"));
        assert_eq!(options["publicKey"]["rp"]["name"], json!("Latchkey"));
        // The user handle is the random handle, not the user id.
        let handle = secrets::b64url(alice.webauthn_handle.as_bytes());
        assert_eq!(options["publicKey"]["user"]["id"], json!(handle));

        passkeys
            .idm
            .set_setting(
                &Actor::admin_socket(0),
                "passkeys.user_verification",
                "preferred",
            )
            .unwrap();
        passkeys
            .idm
            .set_setting(&Actor::admin_socket(0), "app.name", "Acme")
            .unwrap();
        let (_, options) = passkeys.start_registration(alice.id, here()).unwrap();
        let selection = &options["publicKey"]["authenticatorSelection"];
        assert_eq!(selection["residentKey"], json!("required"));
        assert_eq!(selection["userVerification"], json!("preferred"));
        assert_eq!(options["publicKey"]["rp"]["name"], json!("Acme"));
        let (_, sign_in) = passkeys.start_sign_in(here()).unwrap();
        assert_eq!(sign_in["publicKey"]["userVerification"], json!("preferred"));
    }

    #[test]
    fn sign_in_options_are_usernameless() {
        let (passkeys, _, _) = setup();
        let (id, options) = passkeys.start_sign_in(here()).unwrap();
        assert_eq!(id.len(), 22);
        assert_eq!(options["publicKey"]["rpId"], json!("localhost"));
        assert_eq!(options["publicKey"]["userVerification"], json!("required"));
        let allow = &options["publicKey"]["allowCredentials"];
        assert!(allow.is_null() || allow == &json!([]), "{allow}");
        assert_eq!(options["mediation"], json!("conditional"));
    }

    #[test]
    fn garbage_responses_are_clean_errors_and_use_up_the_ceremony() {
        let (passkeys, _, alice) = setup();
        let (id, _) = passkeys.start_sign_in(here()).unwrap();
        for junk in [json!(null), json!("x"), json!({"id": 1})] {
            let (id, _) = passkeys.start_sign_in(here()).unwrap();
            let err = passkeys.finish_sign_in(&visitor(), &id, junk).unwrap_err();
            assert!(
                matches!(
                    err,
                    IdmError::Invalid {
                        field: "credential",
                        ..
                    }
                ),
                "{err}"
            );
        }
        let err = passkeys
            .finish_sign_in(&visitor(), &id, json!({}))
            .unwrap_err();
        assert!(matches!(err, IdmError::Invalid { .. }));
        // Single use: the same id is gone now.
        let again = passkeys.finish_sign_in(&visitor(), &id, json!({}));
        assert!(matches!(again, Err(IdmError::CeremonyExpired)));

        let (id, _) = passkeys.start_registration(alice.id, here()).unwrap();
        let actor = Actor::user(alice.id, "alice");
        let err = passkeys
            .finish_registration(&actor, alice.id, &id, json!({"rawId": "!!"}), None, LC)
            .unwrap_err();
        assert!(matches!(
            err,
            IdmError::Invalid {
                field: "credential",
                ..
            }
        ));
        let again = passkeys.finish_registration(&actor, alice.id, &id, json!({}), None, LC);
        assert!(matches!(again, Err(IdmError::CeremonyExpired)));

        // Well-formed but bogus: refused by webauthn-rs, not a panic.
        let (id, _) = passkeys.start_registration(alice.id, here()).unwrap();
        let bogus = json!({
            "id": "AAAA", "rawId": "AAAA", "type": "public-key",
            "response": {"attestationObject": "AAAA", "clientDataJSON": "AAAA"}
        });
        let err = passkeys
            .finish_registration(&actor, alice.id, &id, bogus, None, LC)
            .unwrap_err();
        assert!(matches!(err, IdmError::Passkey(_)), "{err}");

        let (id, _) = passkeys.start_sign_in(here()).unwrap();
        let bogus = json!({
            "id": "AAAA", "rawId": "AAAA", "type": "public-key",
            "response": {"authenticatorData": "AAAA", "clientDataJSON": "AAAA",
                         "signature": "AAAA", "userHandle": "AAAAAAAAAAAAAAAAAAAAAA"}
        });
        let err = passkeys.finish_sign_in(&visitor(), &id, bogus).unwrap_err();
        assert!(matches!(
            err,
            IdmError::SignInFailed {
                reason: SignInFailure::UnknownCredential
            }
        ));
        let events = passkeys
            .idm
            .list_audit(&latchkey_protocol::AuditQuery::default())
            .unwrap();
        assert_eq!(events[0].event, "sign_in_failed");
        assert_eq!(events[0].ip.as_deref(), Some("192.0.2.9"));
    }

    #[test]
    fn ceremonies_expire_after_five_minutes_and_belong_to_one_user() {
        let (passkeys, clock, alice) = setup();
        let (id, _) = passkeys.start_sign_in(here()).unwrap();
        clock.advance(Duration::minutes(5));
        let late = passkeys.finish_sign_in(&visitor(), &id, json!({}));
        assert!(matches!(late, Err(IdmError::CeremonyExpired)));
        let events = passkeys
            .idm
            .list_audit(&latchkey_protocol::AuditQuery::default())
            .unwrap();
        assert_eq!(events[0].event, "sign_in_failed");
        let reason = ("reason".to_owned(), "expired_ceremony".to_owned());
        assert_eq!(events[0].details, vec![reason]);

        let (id, _) = passkeys.start_registration(alice.id, here()).unwrap();
        let actor = Actor::user(alice.id, "alice");
        // A registration ceremony is not a sign-in one, nor someone else's.
        let other = UserId::random();
        let wrong = passkeys.finish_registration(&actor, other, &id, json!({}), None, LC);
        assert!(matches!(wrong, Err(IdmError::CeremonyExpired)));
        let (id, _) = passkeys.start_registration(alice.id, here()).unwrap();
        let wrong = passkeys.finish_sign_in(&visitor(), &id, json!({}));
        assert!(matches!(wrong, Err(IdmError::CeremonyExpired)));
        let unknown = passkeys.finish_sign_in(&visitor(), "nonsense", json!({}));
        assert!(matches!(unknown, Err(IdmError::CeremonyExpired)));
    }

    #[test]
    fn a_sign_in_names_its_account_before_it_is_verified() {
        let (passkeys, _, alice) = setup();
        let handle = secrets::b64url(alice.webauthn_handle.as_bytes());
        let named = json!({"response": {"userHandle": handle}});
        assert_eq!(passkeys.sign_in_account(&named).unwrap(), Some(alice.id));
        let unknown = json!({"response": {"userHandle": secrets::b64url(&[7; 16])}});
        assert_eq!(passkeys.sign_in_account(&unknown).unwrap(), None);
        for junk in [
            json!(null),
            json!({"response": {"userHandle": "!!"}}),
            json!({}),
        ] {
            assert_eq!(passkeys.sign_in_account(&junk).unwrap(), None);
        }
    }

    #[test]
    fn an_ip_address_public_url_is_refused_with_advice() {
        let clock = ManualClock::new(datetime!(2026-03-01 09:30:00 UTC));
        let idm = Idm::new(Store::memory().unwrap(), Arc::new(clock));
        let err = Passkeys::new(idm.clone(), "http://127.0.0.1:1411").unwrap_err();
        assert!(err.to_string().contains("localhost"), "{err}");
        let ok = Passkeys::new(idm, "https://id.example.com/auth").unwrap();
        assert_eq!(ok.origin.as_str(), "https://id.example.com/");
        assert_eq!(ok.rp_id, "id.example.com");
    }

    #[test]
    fn aaguids_are_read_and_named() {
        let mut auth_data = vec![0u8; 32];
        auth_data.push(0x45); // UP | UV | AT
        auth_data.extend([0, 0, 0, 1]);
        let icloud = Uuid::parse_str("fbfc3007-154e-4ecc-8c0b-6e020557d7bd").unwrap();
        auth_data.extend(icloud.as_bytes());
        auth_data.extend([0, 2, 9, 9]);
        let mut object = vec![0xa3, 0x63];
        object.extend(b"fmt");
        object.extend([0x64]);
        object.extend(b"none");
        object.extend(b"\x68authData");
        object.push(0x58);
        object.push(u8::try_from(auth_data.len()).unwrap());
        object.extend(&auth_data);
        let aaguid = aaguid_of(&object);
        assert_eq!(aaguid, Some(*icloud.as_bytes()));
        assert_eq!(default_name(aaguid, &[]), "iCloud Keychain");
        let taken = vec!["iCloud Keychain".to_owned(), "iCloud Keychain 2".to_owned()];
        assert_eq!(default_name(aaguid, &taken), "iCloud Keychain 3");
        assert_eq!(default_name(Some([0; 16]), &[]), "Passkey");
        assert_eq!(default_name(None, &["passkey".to_owned()]), "Passkey 2");
        assert_eq!(aaguid_of(b"junk"), None);
        assert_eq!(aaguid_of(b"\x68authData\x58"), None);
    }
}
