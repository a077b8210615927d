//! What is stored: typed ids and the versioned records kept as postcard bytes.
//!
//! Records are `enum Stored* { V1(..) }` so a later version can add a
//! variant and upgrade old bytes on read; the rest of the daemon sees only the
//! current version (`UserRecord` etc.). Times are whole UTC seconds.

use serde::{Deserialize, Serialize};

use super::StoreError;
use super::schema::IdBytes;
pub use super::secret_records::{KeyAlg, KeyState, SigningKeyRecord};

pub use super::address_records::{EmailLinkRecord, EmailVerificationRecord, LoginCodeRecord};
pub use super::job_records::{
    LdapSyncCountsV1 as LdapSyncCountsRecord, LdapSyncStateRecord, LeaseRecord, SkippedEntryRecord,
};
pub use super::mail_records::{MailClaim, MailStateRecord, OutboxRecord};
pub use super::user_records::UserRecord;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord, Serialize, Deserialize)]
        pub struct $name(uuid::Uuid);

        impl $name {
            /// A fresh random (v4) id.
            pub fn random() -> $name {
                $name(uuid::Uuid::new_v4())
            }

            pub fn from_uuid(id: uuid::Uuid) -> $name {
                $name(id)
            }

            pub fn as_uuid(&self) -> uuid::Uuid {
                self.0
            }

            pub(crate) fn to_bytes(self) -> IdBytes {
                self.0.into_bytes()
            }

            pub(crate) fn from_bytes(bytes: IdBytes) -> $name {
                $name(uuid::Uuid::from_bytes(bytes))
            }
        }

        /// The hyphenated UUID.
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        /// Any UUID spelling, case-insensitively.
        impl std::str::FromStr for $name {
            type Err = uuid::Error;

            fn from_str(s: &str) -> Result<$name, uuid::Error> {
                uuid::Uuid::parse_str(s).map($name)
            }
        }
    };
}

id_type!(
    /// Identifies a user for its whole life; never shown to relying parties
    /// as the WebAuthn handle.
    UserId
);
id_type!(
    /// Identifies a group; its name can be looked up in `GROUP_NAME_TO_GROUP_ID`.
    GroupId
);

/// The random per-user WebAuthn user handle: 16 bytes, so it is exactly
/// the `Uuid` webauthn-rs takes (`Uuid::from_bytes(handle.0)`). Not secret
/// in the cryptographic sense, but it links a passkey to an account, so
/// `Debug` hides it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct WebauthnHandle(pub [u8; 16]);

impl WebauthnHandle {
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl std::fmt::Debug for WebauthnHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebauthnHandle(<redacted>)")
    }
}

/// Where a user or group comes from, as stored.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum RecordSource {
    Local,
    Ldap,
}

/// A user, version 1 (the current version and its envelope are in `user_records`).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct UserV1 {
    pub id: UserId,
    /// As the admin typed it; the index holds the lowercased form.
    pub username: String,
    pub email: Option<String>,
    pub first_name: String,
    pub last_name: String,
    pub display_name: String,
    pub is_admin: bool,
    pub disabled: bool,
    pub source: RecordSource,
    pub webauthn_handle: WebauthnHandle,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A group, current version.
pub type GroupRecord = GroupV1;

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct GroupV1 {
    pub id: GroupId,
    pub name: String,
    pub friendly_name: String,
    pub source: RecordSource,
    pub created_at: i64,
}

#[derive(Serialize, Deserialize)]
pub(crate) enum StoredGroup {
    V1(GroupV1),
}

/// One audit event, current version. Names are kept as they were at the
/// time; the user ids let a user's history be found after a rename.
pub type AuditRecord = AuditV1;

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct AuditV1 {
    pub at: i64,
    pub event: String,
    pub actor: String,
    pub actor_user: Option<UserId>,
    pub subject: Option<String>,
    pub subject_user: Option<UserId>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub details: Vec<(String, String)>,
}

#[cfg(test)]
impl AuditV1 {
    /// A bare system event named `event`, for tests.
    pub fn named(event: &str) -> AuditV1 {
        AuditV1 {
            at: 0,
            event: event.to_owned(),
            actor: "system".to_owned(),
            actor_user: None,
            subject: None,
            subject_user: None,
            ip: None,
            user_agent: None,
            details: Vec::new(),
        }
    }
}

#[derive(Serialize, Deserialize)]
pub(crate) enum StoredAuditEvent {
    V1(AuditV1),
}

/// How a browser session was started, as stored.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum SessionMethod {
    Passkey,
    LoginCode,
    EmailLink,
    Signup,
    Setup,
}

/// A browser session, current version. Keyed by the SHA-256 of the cookie
/// value, which is never stored.
pub type SessionRecord = SessionV2;

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct SessionV1 {
    pub public_id: String,
    pub user_id: UserId,
    pub method: SessionMethod,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
}

/// Version 2 adds what a passkey sign-in proved (for the `amr` claim).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct SessionV2 {
    /// Random, shown in the console and used to revoke; not the cookie.
    pub public_id: String,
    pub user_id: UserId,
    pub method: SessionMethod,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    /// For a passkey sign-in: the assertion's flags. `None` for other methods, and for
    /// sessions stored before version 2 (what they proved is unknown).
    pub passkey: Option<PasskeyUse>,
}

/// The flags of the passkey assertion a session was started with.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct PasskeyUse {
    /// BE: the credential may be synced to other devices (not bound to one piece of hardware).
    pub backup_eligible: bool,
    /// UV: the authenticator verified the user (PIN, pattern or biometric).
    pub user_verified: bool,
}

impl From<SessionV1> for SessionV2 {
    fn from(old: SessionV1) -> SessionV2 {
        SessionV2 {
            public_id: old.public_id,
            user_id: old.user_id,
            method: old.method,
            ip: old.ip,
            user_agent: old.user_agent,
            created_at: old.created_at,
            last_seen_at: old.last_seen_at,
            expires_at: old.expires_at,
            passkey: None,
        }
    }
}

#[derive(Serialize, Deserialize)]
pub(crate) enum StoredSession {
    V1(SessionV1),
    V2(SessionV2),
}

/// An outstanding login code, version 1 (the current version and its
/// envelope are in `address_records`). Keyed by the SHA-256 of the
/// normalised code, which is never stored.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct LoginCodeV1 {
    /// Random, shown in the console and used to revoke; not the code.
    pub id: String,
    pub user_id: UserId,
    pub created_at: i64,
    pub expires_at: i64,
    /// Who made it, as the audit log names actors.
    pub created_by: String,
}

/// A registered passkey, current version.
pub type PasskeyRecord = PasskeyV1;

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct PasskeyV1 {
    pub credential_id: Vec<u8>,
    pub user_id: UserId,
    pub name: String,
    /// The authenticator model, when it told us (all zeros means it did not).
    pub aaguid: Option<[u8; 16]>,
    pub backup_eligible: bool,
    pub backup_state: bool,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    /// webauthn-rs's `Passkey` (public key, counter, flags) as its own JSON,
    /// so a webauthn-rs upgrade that changes its shape stays its concern.
    pub credential_json: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
pub(crate) enum StoredPasskey {
    V1(PasskeyV1),
}

/// A setting's value as stored; which variant a key uses is up to the
/// registry in `idm::setting_registry`.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum SettingValue {
    Text(String),
    Integer(i64),
    Bool(bool),
    List(Vec<String>),
    /// A write-only setting, sealed by `idm` (see `crate::sealing`). Added after the first
    /// release: postcard numbers variants, so older values still read as they were, and
    /// schema version 6 keeps older binaries from opening a file that may hold this one.
    Sealed(Vec<u8>),
}

/// A setting, current version.
pub type SettingRecord = SettingV1;

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct SettingV1 {
    pub value: SettingValue,
    pub updated_at: i64,
}

#[derive(Serialize, Deserialize)]
pub(crate) enum StoredSetting {
    V1(SettingV1),
}

// --- OpenID Connect administration records ---

pub use super::oidc_records::{ClientRecord, ConsentRecord, RefreshTokenRecord};

/// Custom claims of a user or group, current version. Values are JSON text
/// (postcard cannot carry `serde_json::Value` itself).
pub type ClaimsRecord = ClaimsV1;

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ClaimsV1 {
    /// (claim name, JSON text), in the order the admin gave them.
    pub claims: Vec<(String, String)>,
    pub updated_at: i64,
}

#[derive(Serialize, Deserialize)]
pub(crate) enum StoredClaims {
    V1(ClaimsV1),
}
/// A signup token, current version. Keyed by the SHA-256 of the token, which
/// is never stored.
pub type SignupTokenRecord = SignupTokenV1;

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct SignupTokenV1 {
    /// Random, shown in the console and used to revoke; not the token.
    pub id: String,
    /// The token's first characters, so an admin can recognise a link.
    pub prefix: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub usage_limit: u32,
    /// Accounts made with it so far; counted in the transaction that makes each.
    pub uses: u32,
    /// Groups the new accounts join (a group deleted since is skipped).
    pub groups: Vec<GroupId>,
    /// Who made it, as the audit log names actors.
    pub created_by: String,
    pub revoked_at: Option<i64>,
}

#[derive(Serialize, Deserialize)]
pub(crate) enum StoredSignupToken {
    V1(SignupTokenV1),
}

/// An emailed sign-in link, version 1 (the current version and its envelope
/// are in `address_records`). Keyed by the SHA-256 of the browser-binding
/// cookie; the link token and the code are stored hashed.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailLinkV1 {
    pub user_id: UserId,
    pub token_hash: [u8; 32],
    pub code_hash: [u8; 32],
    pub created_at: i64,
    pub expires_at: i64,
    /// Wrong codes tried with this browser's binding; too many ends the link.
    pub failures: u32,
}

impl std::fmt::Debug for EmailLinkV1 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailLinkV1")
            .field("user_id", &self.user_id)
            .field("expires_at", &self.expires_at)
            .field("failures", &self.failures)
            .finish_non_exhaustive()
    }
}

/// Maps the current record type to its versioned stored envelope.
pub(crate) trait Versioned: Serialize + Sized {
    type Stored: serde::de::DeserializeOwned;
    const WHAT: &'static str;
    /// The envelope's name, and the index and name of its newest variant:
    /// what `encode` writes so it need not clone the record into the enum.
    const ENVELOPE: &'static str;
    const CURRENT_INDEX: u32;
    const CURRENT_NAME: &'static str;
    fn upgrade(stored: Self::Stored) -> Self;
}

macro_rules! versioned {
    ($record:ty, $stored:ident, $what:literal) => {
        impl $crate::store::records::Versioned for $record {
            type Stored = $stored;
            const WHAT: &'static str = $what;
            const ENVELOPE: &'static str = stringify!($stored);
            const CURRENT_INDEX: u32 = 0;
            const CURRENT_NAME: &'static str = "V1";
            fn upgrade(stored: $stored) -> $record {
                match stored {
                    $stored::V1(record) => record,
                }
            }
        }
    };
}
pub(crate) use versioned;

/// For a record with more than one version: `$current` is the newest variant
/// (at `$index`), and each older variant names how it is upgraded.
macro_rules! versioned_from {
    ($record:ty, $stored:ident, $what:literal, $current:ident = $index:literal,
     { $($old:ident($value:ident) => $upgrade:expr),* $(,)? }) => {
        impl $crate::store::records::Versioned for $record {
            type Stored = $stored;
            const WHAT: &'static str = $what;
            const ENVELOPE: &'static str = stringify!($stored);
            const CURRENT_INDEX: u32 = $index;
            const CURRENT_NAME: &'static str = stringify!($current);
            fn upgrade(stored: $stored) -> $record {
                match stored {
                    $stored::$current(record) => record,
                    $($stored::$old($value) => $upgrade,)*
                }
            }
        }
    };
}
pub(crate) use versioned_from;

versioned!(GroupV1, StoredGroup, "group");
versioned!(AuditV1, StoredAuditEvent, "audit event");
versioned!(PasskeyV1, StoredPasskey, "passkey");
versioned!(SettingV1, StoredSetting, "setting");
versioned!(ClaimsV1, StoredClaims, "custom claims");
versioned!(SignupTokenV1, StoredSignupToken, "signup token");

impl Versioned for SessionV2 {
    type Stored = StoredSession;
    const WHAT: &'static str = "session";
    const ENVELOPE: &'static str = "StoredSession";
    const CURRENT_INDEX: u32 = 1;
    const CURRENT_NAME: &'static str = "V2";
    fn upgrade(stored: StoredSession) -> SessionV2 {
        match stored {
            StoredSession::V1(old) => old.into(),
            StoredSession::V2(record) => record,
        }
    }
}

/// Serializes `&R` exactly as its envelope's newest variant would be.
struct Current<'a, R>(&'a R);

impl<R: Versioned> Serialize for Current<'_, R> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_newtype_variant(R::ENVELOPE, R::CURRENT_INDEX, R::CURRENT_NAME, self.0)
    }
}

pub(crate) fn encode<R: Versioned>(record: &R) -> Result<Vec<u8>, StoreError> {
    postcard::to_stdvec(&Current(record))
        .map_err(|e| StoreError::Corrupt(format!("cannot encode a {}: {e}", R::WHAT)))
}

pub(crate) fn decode<R: Versioned>(bytes: &[u8]) -> Result<R, StoreError> {
    postcard::from_bytes::<R::Stored>(bytes)
        .map(R::upgrade)
        .map_err(|e| StoreError::Corrupt(format!("cannot decode a {}: {e}", R::WHAT)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::user_records::StoredUser;

    pub(crate) fn user_v1() -> UserV1 {
        UserV1 {
            id: UserId::random(),
            username: "Alice".into(),
            email: Some("alice@example.com".into()),
            first_name: "Alice".into(),
            last_name: "Liddell".into(),
            display_name: "Alice Liddell".into(),
            is_admin: true,
            disabled: false,
            source: RecordSource::Local,
            webauthn_handle: WebauthnHandle([7; 16]),
            created_at: 1_700_000_000,
            updated_at: 1_700_000_001,
        }
    }

    fn user() -> UserRecord {
        UserRecord::from_v1(user_v1(), true)
    }

    #[test]
    fn records_round_trip() {
        let record = user();
        let bytes = encode(&record).unwrap();
        assert_eq!(decode::<UserRecord>(&bytes).unwrap(), record);
    }

    #[test]
    fn garbage_is_corrupt_not_a_panic() {
        let err = decode::<UserRecord>(&[9, 9, 9]).unwrap_err();
        assert!(matches!(err, StoreError::Corrupt(m) if m.contains("user")));
    }

    #[test]
    fn encode_writes_what_the_envelope_reads() {
        // `encode` skips building the enum; its bytes must be the enum's.
        let record = user();
        let via_enum = postcard::to_stdvec(&StoredUser::V2(record.clone())).unwrap();
        assert_eq!(encode(&record).unwrap(), via_enum);
        assert_eq!(via_enum[0], 1, "V2 must stay variant 1 forever");
        let v1 = postcard::to_stdvec(&StoredUser::V1(user_v1())).unwrap();
        assert_eq!(v1[0], 0, "V1 must stay variant 0 forever");
    }

    #[test]
    fn debug_hides_the_webauthn_handle() {
        let shown = format!("{:?}", user());
        assert!(shown.contains("<redacted>"));
        assert!(!shown.contains("7, 7"));
    }

    #[test]
    fn ids_print_hyphenated_and_parse_any_case() {
        let id: UserId = "6F9619FF-8B86-D011-B42D-00CF4FC964FF".parse().unwrap();
        assert_eq!(id.to_string(), "6f9619ff-8b86-d011-b42d-00cf4fc964ff");
        assert!("nope".parse::<GroupId>().is_err());
    }
}
