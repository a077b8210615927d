//! A software WebAuthn authenticator with resident (discoverable) keys, for
//! driving the daemon's passkey ceremonies from Rust tests.
//!
//! It plays both the authenticator and the browser: it takes the options JSON
//! the server hands the page (`CreationChallengeResponse` /
//! `RequestChallengeResponse`, with or without the `{"publicKey": …}`
//! wrapper) and returns the JSON a browser's `PublicKeyCredential.toJSON()`
//! posts back (`RegisterPublicKeyCredential` / `PublicKeyCredential` in
//! webauthn-rs-proto): base64url without padding, "none" attestation, an
//! ES256 (P-256) key, and the stored user handle on every assertion, which is
//! what usernameless sign-in needs.
//!
//! Deliberate differences from a real authenticator, so that tests can reach
//! the server's checks:
//! - the UV flag is whatever [`SoftAuthenticator::with_user_verification`]
//!   says, even when the options require verification (a real one would
//!   refuse); a test can so check that the server refuses a response without UV;
//! - [`SoftAuthenticator::sign_in_with`] signs with any stored credential, even
//!   one of another site (a browser would never offer it).
//!
//! Like a real authenticator, registering a second resident credential for the
//! same rp id and user handle replaces the first.

mod cbor;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use cbor::Cbor;

/// COSE algorithm identifier of ES256.
const ES256: i64 = -7;

/// Authenticator data flags (WebAuthn §6.1).
const FLAG_UP: u8 = 0x01;
const FLAG_UV: u8 = 0x04;
const FLAG_BE: u8 = 0x08;
const FLAG_BS: u8 = 0x10;
const FLAG_AT: u8 = 0x40;

/// Why the authenticator (or the "browser" in front of it) refused.
#[derive(Debug, thiserror::Error)]
pub enum AuthenticatorError {
    #[error("malformed options: {0}")]
    Options(String),
    #[error("the options offer no ES256 (-7) algorithm")]
    NoSupportedAlgorithm,
    #[error("a credential in excludeCredentials is on this authenticator: {0}")]
    Excluded(String),
    #[error("no credential for rp id {0:?}")]
    NoCredential(String),
    #[error("no credential with id {0}")]
    UnknownCredential(String),
    #[error("malformed credential JSON: {0}")]
    Credential(String),
}

/// One credential the authenticator holds.
#[derive(Clone)]
pub struct SoftCredential {
    id: Vec<u8>,
    rp_id: String,
    user_handle: Vec<u8>,
    user_name: String,
    counter: u32,
    key: SigningKey,
}

impl std::fmt::Debug for SoftCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SoftCredential")
            .field("id", &self.id_b64())
            .field("rp_id", &self.rp_id)
            .field("user_handle", &URL_SAFE_NO_PAD.encode(&self.user_handle))
            .field("user_name", &self.user_name)
            .field("counter", &self.counter)
            .finish_non_exhaustive()
    }
}

impl SoftCredential {
    /// The raw credential id.
    pub fn id(&self) -> &[u8] {
        &self.id
    }

    /// The credential id as it appears in JSON (`id`, `rawId`): base64url.
    pub fn id_b64(&self) -> String {
        URL_SAFE_NO_PAD.encode(&self.id)
    }

    pub fn rp_id(&self) -> &str {
        &self.rp_id
    }

    /// The WebAuthn user handle (`user.id` at registration) it returns.
    pub fn user_handle(&self) -> &[u8] {
        &self.user_handle
    }

    pub fn user_name(&self) -> &str {
        &self.user_name
    }

    /// The signature counter of the last response.
    pub fn counter(&self) -> u32 {
        self.counter
    }
}

/// A software platform authenticator plus the bits of a browser that build
/// `clientDataJSON`. See the module documentation.
#[derive(Debug, Clone)]
pub struct SoftAuthenticator {
    aaguid: [u8; 16],
    user_verification: bool,
    backup_eligible: bool,
    backup_state: bool,
    counting: bool,
    /// Oldest first; "the most recent" is the last one for an rp id.
    credentials: Vec<SoftCredential>,
    last_assertion: Option<Value>,
}

impl Default for SoftAuthenticator {
    fn default() -> Self {
        Self::new()
    }
}

impl SoftAuthenticator {
    /// An authenticator with an all-zero AAGUID that verifies the user, is
    /// device-bound (no BE/BS flags) and increments its signature counter on
    /// every assertion (registration returns 0).
    pub fn new() -> Self {
        SoftAuthenticator {
            aaguid: [0; 16],
            user_verification: true,
            backup_eligible: false,
            backup_state: false,
            counting: true,
            credentials: Vec::new(),
            last_assertion: None,
        }
    }

    /// Whether responses carry the UV (user verified) flag.
    pub fn with_user_verification(mut self, uv: bool) -> Self {
        self.user_verification = uv;
        self
    }

    /// The BE (backup eligible) and BS (backed up) flags: `(true, true)` looks
    /// like a synced passkey.
    pub fn with_backup(mut self, eligible: bool, state: bool) -> Self {
        self.backup_eligible = eligible;
        self.backup_state = state;
        self
    }

    pub fn with_aaguid(mut self, aaguid: [u8; 16]) -> Self {
        self.aaguid = aaguid;
        self
    }

    /// A signature counter that stays 0, as synced passkeys (iCloud Keychain,
    /// Google Password Manager) do.
    pub fn with_zero_counter(mut self) -> Self {
        self.counting = false;
        self
    }

    /// The credentials it holds, oldest first.
    pub fn credentials(&self) -> &[SoftCredential] {
        &self.credentials
    }

    /// Forgets a credential (the user deleted the passkey on their device).
    pub fn remove_credential(&mut self, id: &[u8]) -> bool {
        let before = self.credentials.len();
        self.credentials.retain(|c| c.id != id);
        self.credentials.len() != before
    }

    /// Sets a credential's counter, e.g. back to an older value to look
    /// like a cloned authenticator.
    pub fn set_counter(&mut self, id: &[u8], counter: u32) -> Result<(), AuthenticatorError> {
        let cred = self
            .credentials
            .iter_mut()
            .find(|c| c.id == id)
            .ok_or_else(|| AuthenticatorError::UnknownCredential(URL_SAFE_NO_PAD.encode(id)))?;
        cred.counter = counter;
        Ok(())
    }

    /// The JSON of the last successful [`sign_in`](Self::sign_in), to replay.
    pub fn last_assertion(&self) -> Option<&Value> {
        self.last_assertion.as_ref()
    }

    /// Creates a resident credential for any rp id without a registration
    /// ceremony — "a passkey from another site" — and returns its id. Sign in
    /// with it through [`sign_in_with`](Self::sign_in_with).
    pub fn add_credential(&mut self, rp_id: &str, user_handle: &[u8], user_name: &str) -> Vec<u8> {
        let cred = new_credential(rp_id, user_handle, user_name);
        let id = cred.id.clone();
        self.store(cred);
        id
    }

    /// `navigator.credentials.create()`: makes a resident credential for the
    /// options' `rp.id` and `user`, and returns the
    /// `RegisterPublicKeyCredential` JSON. Refuses when a credential listed in
    /// `excludeCredentials` is on this authenticator.
    pub fn register(
        &mut self,
        origin: &str,
        creation_options: &Value,
    ) -> Result<Value, AuthenticatorError> {
        let opts = public_key(creation_options);
        let rp_id = str_at(opts, &["rp", "id"])?.to_owned();
        let user_handle = b64_at(opts, &["user", "id"])?;
        let user_name = str_at(opts, &["user", "name"])
            .unwrap_or_default()
            .to_owned();
        let challenge = b64_at(opts, &["challenge"])?;

        let es256 = opts
            .get("pubKeyCredParams")
            .and_then(Value::as_array)
            .is_some_and(|ps| ps.iter().any(|p| p.get("alg") == Some(&json!(ES256))));
        if !es256 {
            return Err(AuthenticatorError::NoSupportedAlgorithm);
        }

        for excluded in descriptor_ids(opts.get("excludeCredentials"))? {
            if self
                .credentials
                .iter()
                .any(|c| c.id == excluded && c.rp_id == rp_id)
            {
                return Err(AuthenticatorError::Excluded(
                    URL_SAFE_NO_PAD.encode(&excluded),
                ));
            }
        }

        let cred = new_credential(&rp_id, &user_handle, &user_name);
        let client_data = client_data_json("webauthn.create", &challenge, origin);

        let point = cred.key.verifying_key().to_encoded_point(false);
        let (Some(x), Some(y)) = (point.x(), point.y()) else {
            return Err(AuthenticatorError::Options(
                "P-256 public key has no coordinates".into(),
            ));
        };
        // COSE_Key (RFC 9053): kty EC2, alg ES256, crv P-256, x, y.
        let cose_key = Cbor::Map(vec![
            (Cbor::Int(1), Cbor::Int(2)),
            (Cbor::Int(3), Cbor::Int(ES256)),
            (Cbor::Int(-1), Cbor::Int(1)),
            (Cbor::Int(-2), Cbor::Bytes(x.to_vec())),
            (Cbor::Int(-3), Cbor::Bytes(y.to_vec())),
        ])
        .to_vec();

        let mut auth_data = self.auth_data_prefix(&rp_id, FLAG_AT, cred.counter);
        auth_data.extend_from_slice(&self.aaguid);
        let id_len = u16::try_from(cred.id.len())
            .map_err(|_| AuthenticatorError::Options("credential id too long".into()))?;
        auth_data.extend_from_slice(&id_len.to_be_bytes());
        auth_data.extend_from_slice(&cred.id);
        auth_data.extend_from_slice(&cose_key);

        let attestation_object = Cbor::Map(vec![
            (Cbor::text("fmt"), Cbor::text("none")),
            (Cbor::text("attStmt"), Cbor::Map(vec![])),
            (Cbor::text("authData"), Cbor::Bytes(auth_data.clone())),
        ])
        .to_vec();

        let mut extensions = json!({});
        if opts.pointer("/extensions/credProps") == Some(&json!(true)) {
            extensions = json!({ "credProps": { "rk": true } });
        }

        let id = cred.id_b64();
        self.store(cred);
        Ok(json!({
            "id": id,
            "rawId": id,
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "response": {
                "clientDataJSON": URL_SAFE_NO_PAD.encode(client_data.as_bytes()),
                "attestationObject": URL_SAFE_NO_PAD.encode(&attestation_object),
                "authenticatorData": URL_SAFE_NO_PAD.encode(&auth_data),
                "publicKeyAlgorithm": ES256,
                "transports": ["internal"],
            },
            "clientExtensionResults": extensions,
        }))
    }

    /// `navigator.credentials.get()`: with an empty (or absent)
    /// `allowCredentials`, signs with the most recent resident credential for
    /// the options' `rpId`; otherwise with the most recent one listed. Returns
    /// the `PublicKeyCredential` JSON, user handle included.
    pub fn sign_in(
        &mut self,
        origin: &str,
        request_options: &Value,
    ) -> Result<Value, AuthenticatorError> {
        let opts = public_key(request_options);
        let rp_id = str_at(opts, &["rpId"])?;
        let allowed = descriptor_ids(opts.get("allowCredentials"))?;
        let id = self
            .credentials
            .iter()
            .rev()
            .find(|c| c.rp_id == rp_id && (allowed.is_empty() || allowed.contains(&c.id)))
            .map(|c| c.id.clone())
            .ok_or_else(|| AuthenticatorError::NoCredential(rp_id.to_owned()))?;
        self.sign_in_with(&id, origin, request_options)
    }

    /// Signs the options' challenge with one chosen credential, whatever its
    /// rp id and whatever `allowCredentials` says. The authenticator data
    /// carries the hash of the credential's own rp id.
    pub fn sign_in_with(
        &mut self,
        credential_id: &[u8],
        origin: &str,
        request_options: &Value,
    ) -> Result<Value, AuthenticatorError> {
        let opts = public_key(request_options);
        let challenge = b64_at(opts, &["challenge"])?;
        let counting = self.counting;
        let cred = self
            .credentials
            .iter_mut()
            .find(|c| c.id == credential_id)
            .ok_or_else(|| {
                AuthenticatorError::UnknownCredential(URL_SAFE_NO_PAD.encode(credential_id))
            })?;
        if counting {
            cred.counter = cred.counter.wrapping_add(1);
        }
        let cred = cred.clone();

        let client_data = client_data_json("webauthn.get", &challenge, origin);
        let auth_data = self.auth_data_prefix(&cred.rp_id, 0, cred.counter);
        let mut signed = auth_data.clone();
        signed.extend_from_slice(&Sha256::digest(client_data.as_bytes()));
        // ES256: ECDSA P-256 over SHA-256 of the message, DER encoded.
        let signature: Signature = cred.key.sign(&signed);

        let id = cred.id_b64();
        let assertion = json!({
            "id": id,
            "rawId": id,
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "response": {
                "clientDataJSON": URL_SAFE_NO_PAD.encode(client_data.as_bytes()),
                "authenticatorData": URL_SAFE_NO_PAD.encode(&auth_data),
                "signature": URL_SAFE_NO_PAD.encode(signature.to_der().as_bytes()),
                "userHandle": URL_SAFE_NO_PAD.encode(&cred.user_handle),
            },
            "clientExtensionResults": {},
        });
        self.last_assertion = Some(assertion.clone());
        Ok(assertion)
    }

    /// rpIdHash ‖ flags ‖ signCount: the authenticator data without
    /// attested credential data.
    fn auth_data_prefix(&self, rp_id: &str, extra_flags: u8, counter: u32) -> Vec<u8> {
        let mut flags = FLAG_UP | extra_flags;
        if self.user_verification {
            flags |= FLAG_UV;
        }
        if self.backup_eligible {
            flags |= FLAG_BE;
        }
        if self.backup_state {
            flags |= FLAG_BS;
        }
        let mut data = Sha256::digest(rp_id.as_bytes()).to_vec();
        data.push(flags);
        data.extend_from_slice(&counter.to_be_bytes());
        data
    }

    fn store(&mut self, cred: SoftCredential) {
        self.credentials
            .retain(|c| !(c.rp_id == cred.rp_id && c.user_handle == cred.user_handle));
        self.credentials.push(cred);
    }
}

/// A copy of a credential JSON (either kind) with one bit of its signature
/// flipped, so the signature no longer verifies but still parses.
pub fn tamper_signature(credential: &Value) -> Result<Value, AuthenticatorError> {
    tamper_field(credential, "signature", |sig| {
        // Flip a bit in the last byte: inside the DER integer S, so the DER
        // still parses and only the value is wrong.
        if let Some(b) = sig.last_mut() {
            *b ^= 0x01;
        }
    })
}

/// A copy of an assertion JSON with the user handle replaced.
pub fn with_user_handle(
    credential: &Value,
    user_handle: &[u8],
) -> Result<Value, AuthenticatorError> {
    tamper_field(credential, "userHandle", |h| *h = user_handle.to_vec())
}

/// A copy of a credential JSON whose `clientDataJSON` is edited by `edit`
/// (e.g. to change the origin or the challenge); the signature is left as it
/// was, so it no longer matches.
pub fn tamper_client_data(
    credential: &Value,
    edit: impl FnOnce(&mut Value),
) -> Result<Value, AuthenticatorError> {
    let mut err = None;
    let out = tamper_field(
        credential,
        "clientDataJSON",
        |raw| match serde_json::from_slice::<Value>(raw) {
            Ok(mut cd) => {
                edit(&mut cd);
                *raw = cd.to_string().into_bytes();
            }
            Err(e) => err = Some(AuthenticatorError::Credential(e.to_string())),
        },
    )?;
    match err {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

fn tamper_field(
    credential: &Value,
    field: &str,
    edit: impl FnOnce(&mut Vec<u8>),
) -> Result<Value, AuthenticatorError> {
    let mut out = credential.clone();
    let slot = out
        .get_mut("response")
        .and_then(|r| r.get_mut(field))
        .ok_or_else(|| AuthenticatorError::Credential(format!("no response.{field}")))?;
    let mut bytes = slot
        .as_str()
        .and_then(|s| URL_SAFE_NO_PAD.decode(s).ok())
        .ok_or_else(|| {
            AuthenticatorError::Credential(format!("response.{field} is not base64url"))
        })?;
    edit(&mut bytes);
    *slot = Value::String(URL_SAFE_NO_PAD.encode(&bytes));
    Ok(out)
}

fn new_credential(rp_id: &str, user_handle: &[u8], user_name: &str) -> SoftCredential {
    SoftCredential {
        id: rand::random::<[u8; 32]>().to_vec(),
        rp_id: rp_id.to_owned(),
        user_handle: user_handle.to_vec(),
        user_name: user_name.to_owned(),
        counter: 0,
        key: random_key(),
    }
}

/// A P-256 key from 32 random bytes (rand 0.9's thread RNG, seeded from the
/// OS), which sidesteps rand_core version skew between rand and p256.
fn random_key() -> SigningKey {
    loop {
        // Fails only for 0 or a scalar ≥ the group order: about 2^-32.
        if let Ok(key) = SigningKey::from_bytes(&rand::random::<[u8; 32]>().into()) {
            return key;
        }
    }
}

/// The options inside `{"publicKey": …}`, or the value itself.
fn public_key(options: &Value) -> &Value {
    options.get("publicKey").unwrap_or(options)
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Result<&'a str, AuthenticatorError> {
    path.iter()
        .try_fold(v, |v, k| v.get(k))
        .and_then(Value::as_str)
        .ok_or_else(|| AuthenticatorError::Options(format!("missing string {}", path.join("."))))
}

fn b64_at(v: &Value, path: &[&str]) -> Result<Vec<u8>, AuthenticatorError> {
    decode_b64url(str_at(v, path)?)
        .ok_or_else(|| AuthenticatorError::Options(format!("{} is not base64url", path.join("."))))
}

/// Decodes base64url with or without padding.
fn decode_b64url(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok()
}

/// The ids of `[{type, id, transports?}, …]` (absent = none).
fn descriptor_ids(list: Option<&Value>) -> Result<Vec<Vec<u8>>, AuthenticatorError> {
    let Some(list) = list.filter(|l| !l.is_null()) else {
        return Ok(Vec::new());
    };
    let list = list
        .as_array()
        .ok_or_else(|| AuthenticatorError::Options("credential list is not an array".into()))?;
    list.iter()
        .map(|d| b64_at(d, &["id"]))
        .collect::<Result<Vec<_>, _>>()
}

/// `clientDataJSON` as Chromium writes it: this key order, no spaces.
fn client_data_json(kind: &str, challenge: &[u8], origin: &str) -> String {
    format!(
        r#"{{"type":{},"challenge":{},"origin":{},"crossOrigin":false}}"#,
        Value::from(kind),
        Value::from(URL_SAFE_NO_PAD.encode(challenge)),
        Value::from(origin),
    )
}

#[cfg(test)]
mod tests;
