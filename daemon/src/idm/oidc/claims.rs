//! Custom claims: key/value pairs (values are any JSON) set on users and
//! groups and added to ID tokens and userinfo with the `profile` scope.
//!
//! Precedence: the user's own value wins over any group's; between groups,
//! the group whose name sorts first wins (deterministic, and easy to
//! explain). Names that the protocol or Latchkey's standard claims use are
//! reserved ([`RESERVED_CLAIMS`], compared case-insensitively, since some
//! relying parties fold claim names).

use latchkey_protocol::ClaimOwner;
use serde_json::{Map, Value};

use super::Oidc;
use crate::idm::audit::{self, Subject, detail};
use crate::idm::users::resolve_user;
use crate::idm::{Actor, IdmError, User};
use crate::store::{Access, ClaimsOwner, ClaimsRecord, Tables, WriteTx};

/// Claim names no custom claim may use.
pub const RESERVED_CLAIMS: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "exp",
    "nbf",
    "iat",
    "auth_time",
    "nonce",
    "acr",
    "amr",
    "azp",
    "at_hash",
    "c_hash",
    "sid",
    "jti",
    "scope",
    "client_id",
    "email",
    "email_verified",
    "name",
    "given_name",
    "family_name",
    "preferred_username",
    "groups",
    "updated_at",
];

/// Most custom claims per user or group.
pub const MAX_CLAIMS: usize = 50;
/// Longest claim name, in bytes.
pub const MAX_CLAIM_NAME: usize = 64;
/// Largest claim value, as JSON text, in bytes.
pub const MAX_CLAIM_VALUE_BYTES: usize = 4096;

/// A claim name: 1–64 ASCII letters, digits, `_ - . :`, starting with a
/// letter or `_`, and not reserved.
pub(crate) fn validate_claim_name(name: &str) -> Result<(), IdmError> {
    let invalid = |message: String| Err(IdmError::invalid("claims", message));
    if name.is_empty() || name.len() > MAX_CLAIM_NAME {
        return invalid(format!(
            "claim name {name:?} must be 1 to {MAX_CLAIM_NAME} characters"
        ));
    }
    if !name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'))
    {
        return invalid(format!(
            "claim name {name:?} may contain only ASCII letters, digits and _ - . : and must start with a letter or _"
        ));
    }
    if RESERVED_CLAIMS
        .iter()
        .any(|reserved| reserved.eq_ignore_ascii_case(name))
    {
        return invalid(format!(
            "claim name {name:?} is reserved (the standard claims and protocol fields are set by Latchkey)"
        ));
    }
    Ok(())
}

/// Checks a full set of claims and encodes the values as JSON text.
pub(crate) fn validate_claims(
    claims: &[(String, Value)],
) -> Result<Vec<(String, String)>, IdmError> {
    if claims.len() > MAX_CLAIMS {
        return Err(IdmError::invalid(
            "claims",
            format!("at most {MAX_CLAIMS} custom claims are allowed"),
        ));
    }
    let mut out: Vec<(String, String)> = Vec::with_capacity(claims.len());
    for (name, value) in claims {
        let name = name.trim();
        validate_claim_name(name)?;
        if out.iter().any(|(seen, _)| seen == name) {
            return Err(IdmError::invalid(
                "claims",
                format!("claim {name:?} is given twice"),
            ));
        }
        let text = serde_json::to_string(value)
            .map_err(|e| IdmError::invalid("claims", format!("claim {name:?}: {e}")))?;
        if text.len() > MAX_CLAIM_VALUE_BYTES {
            return Err(IdmError::invalid(
                "claims",
                format!("the value of claim {name:?} is longer than {MAX_CLAIM_VALUE_BYTES} bytes"),
            ));
        }
        out.push((name.to_owned(), text));
    }
    Ok(out)
}

fn decode_claims(record: ClaimsRecord) -> Result<Vec<(String, Value)>, IdmError> {
    record
        .claims
        .into_iter()
        .map(|(name, text)| {
            let value = serde_json::from_str(&text).map_err(|e| {
                IdmError::Store(crate::store::StoreError::Corrupt(format!(
                    "custom claim {name:?} is not JSON: {e}"
                )))
            })?;
            Ok((name, value))
        })
        .collect()
}

fn stored_claims<A: Access>(
    tx: &Tables<A>,
    owner: ClaimsOwner,
) -> Result<Vec<(String, Value)>, IdmError> {
    tx.claims(owner)?
        .map(decode_claims)
        .transpose()
        .map(Option::unwrap_or_default)
}

/// The store key and the audit subject name for a protocol owner.
fn resolve_owner<A: Access>(
    tx: &Tables<A>,
    owner: &ClaimOwner,
) -> Result<(ClaimsOwner, String, Option<crate::idm::UserId>), IdmError> {
    match owner {
        ClaimOwner::User(user_ref) => {
            let user = resolve_user(tx, user_ref)?;
            Ok((ClaimsOwner::User(user.id), user.username, Some(user.id)))
        }
        ClaimOwner::Group(name) => {
            let key = name.trim().to_ascii_lowercase();
            let id = tx
                .group_id_by_name(&key)?
                .ok_or_else(|| IdmError::group_not_found(name.trim()))?;
            Ok((ClaimsOwner::Group(id), key, None))
        }
    }
}

fn put(
    tx: &mut WriteTx<'_>,
    owner: ClaimsOwner,
    claims: Vec<(String, String)>,
    now: i64,
) -> Result<(), IdmError> {
    let record = ClaimsRecord {
        claims,
        updated_at: now,
    };
    Ok(tx.put_claims(owner, &record)?)
}

impl Oidc {
    /// The custom claims for `user`, who is in `groups` (names): the user's
    /// own values over the groups', and between groups the first by name.
    pub fn custom_claims(
        &self,
        user: &User,
        groups: &[String],
    ) -> Result<Map<String, Value>, IdmError> {
        let tx = self.idm.store().read()?;
        let mut out: Map<String, Value> = stored_claims(&tx, ClaimsOwner::User(user.id))?
            .into_iter()
            .collect();
        let mut sorted: Vec<String> = groups.iter().map(|g| g.to_ascii_lowercase()).collect();
        sorted.sort_unstable();
        sorted.dedup();
        for name in sorted {
            let Some(id) = tx.group_id_by_name(&name)? else {
                continue;
            };
            for (claim, value) in stored_claims(&tx, ClaimsOwner::Group(id))? {
                out.entry(claim).or_insert(value);
            }
        }
        Ok(out)
    }

    /// A user's or group's own custom claims, in the order they were set.
    pub fn get_claims(&self, owner: &ClaimOwner) -> Result<Vec<(String, Value)>, IdmError> {
        let tx = self.idm.store().read()?;
        let (key, _, _) = resolve_owner(&tx, owner)?;
        stored_claims(&tx, key)
    }

    /// Replaces a user's or group's custom claims (`claims_changed`, with
    /// the names set and removed; values are not logged). Returns them.
    pub fn set_claims(
        &self,
        actor: &Actor,
        owner: &ClaimOwner,
        claims: Vec<(String, Value)>,
    ) -> Result<Vec<(String, Value)>, IdmError> {
        let encoded = validate_claims(&claims)?;
        let now = self.idm.now();
        self.idm.store().write(|tx| {
            let (key, subject_name, user) = resolve_owner(tx, owner)?;
            let before = stored_claims(tx, key)?;
            let after: Vec<(String, Value)> = encoded
                .iter()
                .zip(&claims)
                .map(|((name, _), (_, value))| (name.clone(), value.clone()))
                .collect();
            if before != after {
                put(tx, key, encoded, now)?;
                let names = |list: &[(String, Value)]| {
                    list.iter()
                        .map(|(n, _)| n.as_str())
                        .collect::<Vec<_>>()
                        .join(",")
                };
                let removed: Vec<(String, Value)> = before
                    .iter()
                    .filter(|(n, _)| !after.iter().any(|(m, _)| m == n))
                    .cloned()
                    .collect();
                let kind = match owner {
                    ClaimOwner::User(_) => "user",
                    ClaimOwner::Group(_) => "group",
                };
                let details = vec![
                    detail("owner", kind),
                    detail("claims", names(&after)),
                    detail("removed", names(&removed)),
                ];
                let subject = Subject {
                    name: &subject_name,
                    user,
                };
                audit::append(tx, now, actor, "claims_changed", Some(subject), details)?;
            }
            Ok(after)
        })
    }
}
