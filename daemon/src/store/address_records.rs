//! Records that carry an email address to its owner and so can prove it:
//! login codes an admin emailed, emailed sign-in links, and verification
//! links. Each remembers the exact address the mail went to, so using it
//! proves that address only while it is still the account's.

use serde::{Deserialize, Serialize};

use super::records::{EmailLinkV1, LoginCodeV1, UserId, versioned, versioned_from};

/// An outstanding login code, current version. Keyed by the SHA-256 of the
/// normalised code, which is never stored.
pub type LoginCodeRecord = LoginCodeV2;

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct LoginCodeV2 {
    /// Random, shown in the console and used to revoke; not the code.
    pub id: String,
    pub user_id: UserId,
    pub created_at: i64,
    pub expires_at: i64,
    /// Who made it, as the audit log names actors.
    pub created_by: String,
    /// The address the code was emailed to (`login-code create --email`).
    pub emailed_to: Option<String>,
}

#[derive(Serialize, Deserialize)]
pub(crate) enum StoredLoginCode {
    V1(LoginCodeV1),
    V2(LoginCodeV2),
}

versioned_from!(LoginCodeV2, StoredLoginCode, "login code", V2 = 1, {
    V1(old) => LoginCodeV2 {
        id: old.id,
        user_id: old.user_id,
        created_at: old.created_at,
        expires_at: old.expires_at,
        created_by: old.created_by,
        emailed_to: None,
    },
});

/// An emailed sign-in link, current version. Keyed by the SHA-256 of the
/// browser-binding cookie; the link token and the code are stored hashed.
pub type EmailLinkRecord = EmailLinkV2;

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailLinkV2 {
    pub user_id: UserId,
    pub token_hash: [u8; 32],
    pub code_hash: [u8; 32],
    pub created_at: i64,
    pub expires_at: i64,
    /// Wrong codes tried with this browser's binding; too many ends the link.
    pub failures: u32,
    /// The address the link was mailed to (`None` for a link asked for
    /// before addresses were recorded: it signs in but proves nothing).
    pub address: Option<String>,
}

impl std::fmt::Debug for EmailLinkV2 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailLinkV2")
            .field("user_id", &self.user_id)
            .field("expires_at", &self.expires_at)
            .field("failures", &self.failures)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize, Deserialize)]
pub(crate) enum StoredEmailLink {
    V1(EmailLinkV1),
    V2(EmailLinkV2),
}

versioned_from!(EmailLinkV2, StoredEmailLink, "email sign-in link", V2 = 1, {
    V1(old) => EmailLinkV2 {
        user_id: old.user_id,
        token_hash: old.token_hash,
        code_hash: old.code_hash,
        created_at: old.created_at,
        expires_at: old.expires_at,
        failures: old.failures,
        address: None,
    },
});

/// An outstanding email verification link, current version. Keyed by the
/// SHA-256 of the link's token, which is never stored.
pub type EmailVerificationRecord = EmailVerificationV1;

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct EmailVerificationV1 {
    pub user_id: UserId,
    /// Exactly the address the link was mailed to.
    pub address: String,
    pub created_at: i64,
    pub expires_at: i64,
}

#[derive(Serialize, Deserialize)]
pub(crate) enum StoredEmailVerification {
    V1(EmailVerificationV1),
}

versioned!(
    EmailVerificationV1,
    StoredEmailVerification,
    "email verification link"
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::records::{decode, encode};

    #[test]
    fn older_versions_read_without_an_address_and_write_back_as_v2() {
        let code = LoginCodeV1 {
            id: "c1".into(),
            user_id: UserId::random(),
            created_at: 1,
            expires_at: 2,
            created_by: "system".into(),
        };
        let bytes = postcard::to_stdvec(&StoredLoginCode::V1(code.clone())).unwrap();
        let read: LoginCodeRecord = decode(&bytes).unwrap();
        assert_eq!((read.id.as_str(), read.emailed_to), ("c1", None));
        let link = EmailLinkV1 {
            user_id: code.user_id,
            token_hash: [1; 32],
            code_hash: [2; 32],
            created_at: 1,
            expires_at: 2,
            failures: 3,
        };
        let bytes = postcard::to_stdvec(&StoredEmailLink::V1(link)).unwrap();
        let read: EmailLinkRecord = decode(&bytes).unwrap();
        assert_eq!((read.failures, read.address.as_deref()), (3, None));
        let again = encode(&read).unwrap();
        assert_eq!(again[0], 1);
        assert_eq!(decode::<EmailLinkRecord>(&again).unwrap(), read);
    }
}
