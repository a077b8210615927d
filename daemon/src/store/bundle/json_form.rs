//! How each key and value type of the tables is written in an export bundle, and read back
//! to the exact bytes it was stored as.
//!
//! - Text is a string, numbers are numbers, `()` is `null`, a tuple key is an array.
//! - 16-byte ids (users, groups, WebAuthn handles, grants) are hyphenated UUIDs, as the
//!   console shows them; 32-byte hashes of secrets are hex; other bytes are base64url.
//! - A record (the postcard bytes of a `Stored*` envelope) is that envelope as JSON, variant
//!   name and all (`{"V2": {"id": …}}`), so a record an older release wrote keeps its version
//!   and comes back as the same bytes. Sealed secrets inside records stay sealed (arrays of
//!   bytes): a bundle is no more readable than the database without the encryption key.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use redb::Value;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value as Json;

use crate::store::address_records::{StoredEmailLink, StoredEmailVerification, StoredLoginCode};
use crate::store::job_records::StoredLdapSyncState;
use crate::store::mail_records::{StoredMailState, StoredOutboxMessage};
use crate::store::oidc_records::{StoredClient, StoredConsent, StoredRefreshToken};
use crate::store::records::{
    StoredAuditEvent, StoredClaims, StoredGroup, StoredPasskey, StoredSession, StoredSetting,
    StoredSignupToken,
};
use crate::store::secret_records::StoredSigningKey;
use crate::store::user_records::StoredUser;

/// A table key or value type with a JSON form in bundles.
pub(crate) trait JsonForm: Value {
    /// What the JSON form is read into before it is encoded.
    type Owned;

    fn to_json(value: &Self::SelfType<'_>) -> Json;

    fn from_json(json: &Json) -> Result<Self::Owned, String>;

    fn borrow(owned: &Self::Owned) -> Self::SelfType<'_>;

    /// The stored bytes of what `json` describes.
    fn encode_json(json: &Json) -> Result<Vec<u8>, String>
    where
        Self: Sized,
    {
        let owned = Self::from_json(json)?;
        Ok(Self::as_bytes(&Self::borrow(&owned)).as_ref().to_vec())
    }
}

impl JsonForm for &'static str {
    type Owned = String;

    fn to_json(value: &&str) -> Json {
        Json::String((*value).to_owned())
    }

    fn from_json(json: &Json) -> Result<String, String> {
        json.as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("expected a string, found {json}"))
    }

    fn borrow(owned: &String) -> &str {
        owned
    }
}

impl JsonForm for &'static [u8] {
    type Owned = Vec<u8>;

    fn to_json(value: &&[u8]) -> Json {
        Json::String(URL_SAFE_NO_PAD.encode(value))
    }

    fn from_json(json: &Json) -> Result<Vec<u8>, String> {
        let text = json
            .as_str()
            .ok_or_else(|| format!("expected base64url bytes, found {json}"))?;
        URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|e| format!("expected base64url bytes: {e}"))
    }

    fn borrow(owned: &Vec<u8>) -> &[u8] {
        owned
    }
}

impl JsonForm for [u8; 16] {
    type Owned = [u8; 16];

    fn to_json(value: &[u8; 16]) -> Json {
        Json::String(uuid::Uuid::from_bytes(*value).hyphenated().to_string())
    }

    fn from_json(json: &Json) -> Result<[u8; 16], String> {
        let text = json
            .as_str()
            .ok_or_else(|| format!("expected a UUID, found {json}"))?;
        uuid::Uuid::try_parse(text)
            .map(uuid::Uuid::into_bytes)
            .map_err(|e| format!("expected a UUID: {e}"))
    }

    fn borrow(owned: &[u8; 16]) -> [u8; 16] {
        *owned
    }
}

impl JsonForm for [u8; 32] {
    type Owned = [u8; 32];

    fn to_json(value: &[u8; 32]) -> Json {
        Json::String(hex::encode(value))
    }

    fn from_json(json: &Json) -> Result<[u8; 32], String> {
        let text = json
            .as_str()
            .ok_or_else(|| format!("expected 64 hex digits, found {json}"))?;
        let mut bytes = [0; 32];
        hex::decode_to_slice(text, &mut bytes)
            .map_err(|e| format!("expected 64 hex digits: {e}"))?;
        Ok(bytes)
    }

    fn borrow(owned: &[u8; 32]) -> [u8; 32] {
        *owned
    }
}

macro_rules! number_form {
    ($($int:ty),*) => {$(
        impl JsonForm for $int {
            type Owned = $int;

            fn to_json(value: &$int) -> Json {
                Json::from(*value)
            }

            fn from_json(json: &Json) -> Result<$int, String> {
                serde_json::from_value(json.clone())
                    .map_err(|_| format!("expected a whole number that fits {}, found {json}", stringify!($int)))
            }

            fn borrow(owned: &$int) -> $int {
                *owned
            }
        }
    )*};
}
number_form!(u8, u64, i64);

impl JsonForm for () {
    type Owned = ();

    fn to_json(_: &()) -> Json {
        Json::Null
    }

    fn from_json(json: &Json) -> Result<(), String> {
        if json.is_null() {
            Ok(())
        } else {
            Err(format!("expected null, found {json}"))
        }
    }

    fn borrow(_: &()) {}
}

impl<A: JsonForm, B: JsonForm> JsonForm for (A, B) {
    type Owned = (A::Owned, B::Owned);

    fn to_json(value: &(A::SelfType<'_>, B::SelfType<'_>)) -> Json {
        Json::Array(vec![A::to_json(&value.0), B::to_json(&value.1)])
    }

    fn from_json(json: &Json) -> Result<Self::Owned, String> {
        match json.as_array().map(Vec::as_slice) {
            Some([a, b]) => Ok((A::from_json(a)?, B::from_json(b)?)),
            _ => Err(format!("expected an array of two, found {json}")),
        }
    }

    fn borrow(owned: &Self::Owned) -> (A::SelfType<'_>, B::SelfType<'_>) {
        (A::borrow(&owned.0), B::borrow(&owned.1))
    }
}

/// How the records of one table are read and written: as their `Stored*` envelope.
#[derive(Clone, Copy)]
pub(super) struct RecordForm {
    pub to_json: fn(&[u8]) -> Result<Json, String>,
    pub from_json: fn(&Json) -> Result<Vec<u8>, String>,
}

fn record<T: Serialize + DeserializeOwned>() -> RecordForm {
    RecordForm {
        to_json: record_to_json::<T>,
        from_json: record_from_json::<T>,
    }
}

fn record_to_json<T: Serialize + DeserializeOwned>(bytes: &[u8]) -> Result<Json, String> {
    let (stored, rest) = postcard::take_from_bytes::<T>(bytes)
        .map_err(|e| format!("the stored record does not decode: {e}"))?;
    if !rest.is_empty() {
        return Err(format!(
            "the stored record has {} bytes after its end",
            rest.len()
        ));
    }
    serde_json::to_value(&stored).map_err(|e| format!("the record has no JSON form: {e}"))
}

fn record_from_json<T: Serialize + DeserializeOwned>(json: &Json) -> Result<Vec<u8>, String> {
    let stored: T = serde_json::from_value(json.clone()).map_err(|e| e.to_string())?;
    postcard::to_stdvec(&stored).map_err(|e| format!("cannot encode the record: {e}"))
}

/// The record form of a table whose values are records; `None` for the others (their values
/// are keys of other tables, numbers or nothing).
pub(super) fn record_form(table: &str) -> Option<RecordForm> {
    Some(match table {
        "users_v1" => record::<StoredUser>(),
        "user_passkeys_v1" => record::<StoredPasskey>(),
        "sessions_v1" => record::<StoredSession>(),
        "login_codes_v1" => record::<StoredLoginCode>(),
        "settings_v1" => record::<StoredSetting>(),
        "groups_v1" => record::<StoredGroup>(),
        "audit_log_v1" => record::<StoredAuditEvent>(),
        "clients_v1" => record::<StoredClient>(),
        "signing_keys_v1" => record::<StoredSigningKey>(),
        "consents_v1" => record::<StoredConsent>(),
        "claims_v1" => record::<StoredClaims>(),
        "refresh_tokens_v1" => record::<StoredRefreshToken>(),
        "signup_tokens_v1" => record::<StoredSignupToken>(),
        "outbox_v1" => record::<StoredOutboxMessage>(),
        "mail_state_v1" => record::<StoredMailState>(),
        "email_links_v1" => record::<StoredEmailLink>(),
        "email_verifications_v1" => record::<StoredEmailVerification>(),
        "ldap_sync_state_v1" => record::<StoredLdapSyncState>(),
        _ => return None,
    })
}
