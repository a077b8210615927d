//! The user record's versions. V2 adds whether the address is verified.
//!
//! A V1 record read as it is counts as unverified: a flag nobody proved is
//! never claimed. Schema step 4 (`email_verified_step`) rewrites every V1
//! user once, with what the audit log shows about where the address came
//! from, so after start-up no V1 user is left.

use serde::{Deserialize, Serialize};

use super::records::{RecordSource, UserId, UserV1, WebauthnHandle, versioned_from};

/// A user, current version.
pub type UserRecord = UserV2;

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct UserV2 {
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
    /// The address was proven to reach the user, or set by someone trusted
    /// to (an admin, the directory) while `email.trust_admin_addresses` is
    /// on. Always false without an address.
    pub email_verified: bool,
}

impl UserV2 {
    /// A V1 user with `email_verified` decided by the caller (false without
    /// an address, whatever it says).
    pub(crate) fn from_v1(v1: UserV1, email_verified: bool) -> UserV2 {
        UserV2 {
            email_verified: email_verified && v1.email.is_some(),
            id: v1.id,
            username: v1.username,
            email: v1.email,
            first_name: v1.first_name,
            last_name: v1.last_name,
            display_name: v1.display_name,
            is_admin: v1.is_admin,
            disabled: v1.disabled,
            source: v1.source,
            webauthn_handle: v1.webauthn_handle,
            created_at: v1.created_at,
            updated_at: v1.updated_at,
        }
    }
}

#[derive(Serialize, Deserialize)]
pub(crate) enum StoredUser {
    V1(UserV1),
    V2(UserV2),
}

versioned_from!(UserV2, StoredUser, "user", V2 = 1, {
    V1(old) => UserV2::from_v1(old, false),
});

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::records::{decode, encode};

    fn v1() -> UserV1 {
        UserV1 {
            id: UserId::random(),
            username: "alice".into(),
            email: Some("alice@example.com".into()),
            first_name: "Alice".into(),
            last_name: "Liddell".into(),
            display_name: "Alice Liddell".into(),
            is_admin: false,
            disabled: false,
            source: RecordSource::Local,
            webauthn_handle: WebauthnHandle([3; 16]),
            created_at: 1_700_000_000,
            updated_at: 1_700_000_001,
        }
    }

    #[test]
    fn a_v1_user_reads_as_unverified_with_every_other_field_kept() {
        let old = v1();
        let bytes = postcard::to_stdvec(&StoredUser::V1(old.clone())).unwrap();
        let read: UserRecord = decode(&bytes).unwrap();
        assert!(!read.email_verified);
        assert_eq!(read, UserV2::from_v1(old, false));
        // Written back, it is a V2.
        assert_eq!(encode(&read).unwrap()[0], 1);
    }

    #[test]
    fn no_address_is_never_verified() {
        let mut old = v1();
        old.email = None;
        assert!(!UserV2::from_v1(old, true).email_verified);
    }
}
