//! Schema step 4: every V1 user is rewritten as V2 with `email_verified`
//! decided once from what the audit log says about where the address came
//! from.
//!
//! Before this version users could not type or change their own address
//! except at signup, so the rule is:
//! - no address: unverified;
//! - from LDAP: verified (the directory set it);
//! - otherwise the newest event about the user that set the address decides:
//!   `user_updated` with `email` among the changed fields (an admin changed
//!   it) or `user_created` without `user_signed_up` (an admin, the CLI, or
//!   first-admin setup made the account): verified; `user_signed_up` (the
//!   person typed it): unverified;
//! - no such event (it cannot be told): unverified. A self-typed address is
//!   never claimed verified.
//!
//! Idempotent: only V1 records are touched, and a rewritten user is V2.

use super::StoreError;
use super::error::db;
use super::kv::ReadableTable;
use super::records::{AuditRecord, RecordSource, UserId, UserV1, decode, encode};
use super::tx::WriteTx;
use super::user_records::{StoredUser, UserV2};

pub(super) fn apply(tx: &mut WriteTx<'_>) -> Result<(), StoreError> {
    let mut old: Vec<UserV1> = Vec::new();
    for entry in tx.t.users()?.iter().map_err(db("reading users"))? {
        let (_, bytes) = entry.map_err(db("reading users"))?;
        // A record that does not decode is left for the read that reports it.
        if let Ok(StoredUser::V1(user)) = postcard::from_bytes::<StoredUser>(bytes.value()) {
            old.push(user);
        }
    }
    let (mut verified, mut unverified) = (0u64, 0u64);
    for user in old {
        let proven = user.email.is_some()
            && (user.source == RecordSource::Ldap || set_by_admin(tx, user.id)?);
        let record = UserV2::from_v1(user, proven);
        if record.email_verified {
            verified += 1;
        } else {
            unverified += 1;
        }
        tx.t.users_mut()?
            .insert(record.id.to_bytes(), encode(&record)?.as_slice())
            .map_err(db("rewriting a user"))?;
    }
    if verified + unverified > 0 {
        tracing::info!(
            verified,
            unverified,
            "recorded whether each user's email address is verified"
        );
    }
    Ok(())
}

/// Whether the newest event that set the user's address says an admin set it.
fn set_by_admin(tx: &WriteTx<'_>, user: UserId) -> Result<bool, StoreError> {
    let id = user.to_bytes();
    let index = tx.t.user_audit_events()?;
    let log = tx.t.audit_log()?;
    for entry in index
        .range((id, 0)..=(id, u64::MAX))
        .map_err(db("reading the audit log"))?
        .rev()
    {
        let (key, _) = entry.map_err(db("reading the audit log"))?;
        let seq = key.value().1;
        let Some(bytes) = log.get(seq).map_err(db("reading the audit log"))? else {
            continue;
        };
        let event: AuditRecord = decode(bytes.value())?;
        if event.subject_user != Some(user) {
            continue;
        }
        match event.event.as_str() {
            "user_signed_up" => return Ok(false),
            "user_created" => return Ok(true),
            "user_updated" if changed_email(&event) => return Ok(true),
            _ => {}
        }
    }
    Ok(false)
}

fn changed_email(event: &AuditRecord) -> bool {
    event
        .details
        .iter()
        .any(|(key, value)| key == "changed" && value.split(',').any(|f| f == "email"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use crate::store::records::{AuditV1, WebauthnHandle};

    fn v1(name: &str, email: Option<&str>, source: RecordSource) -> UserV1 {
        UserV1 {
            id: UserId::random(),
            username: name.into(),
            email: email.map(str::to_owned),
            first_name: String::new(),
            last_name: String::new(),
            display_name: name.into(),
            is_admin: false,
            disabled: false,
            source,
            webauthn_handle: WebauthnHandle(rand::random()),
            created_at: 0,
            updated_at: 0,
        }
    }

    fn event(name: &str, user: &UserV1, details: &[(&str, &str)]) -> AuditRecord {
        AuditRecord {
            subject_user: Some(user.id),
            subject: Some(user.username.clone()),
            details: details
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            ..AuditV1::named(name)
        }
    }

    /// Writes V1 users (raw, as an older release did) with their events.
    fn old_file(users: &[(&UserV1, Vec<AuditRecord>)]) -> Store {
        let db = Store::memory().unwrap();
        db.write(|tx| {
            for (user, events) in users {
                for e in events {
                    tx.append_audit(e).unwrap();
                }
                let bytes = postcard::to_stdvec(&StoredUser::V1((*user).clone())).unwrap();
                tx.t.users_mut()
                    .unwrap()
                    .insert(user.id.to_bytes(), bytes.as_slice())
                    .unwrap();
            }
            Ok::<_, StoreError>(())
        })
        .unwrap();
        db
    }

    fn read(db: &Store, user: &UserV1) -> (u8, UserV2) {
        let tx = db.read().unwrap();
        let table = tx.t.users().unwrap();
        let bytes = table.get(user.id.to_bytes()).unwrap().unwrap();
        (bytes.value()[0], decode(bytes.value()).unwrap())
    }

    #[test]
    fn v1_users_get_what_their_history_shows_and_a_rerun_changes_nothing() {
        let admin_made = v1("ada", Some("ada@example.com"), RecordSource::Local);
        let signed_up = v1("sam", Some("sam@example.com"), RecordSource::Local);
        let fixed = v1("fay", Some("fay@example.com"), RecordSource::Local);
        let renamed = v1("ron", Some("ron@example.com"), RecordSource::Local);
        let ldap = v1("lee", Some("lee@example.com"), RecordSource::Ldap);
        let unknown = v1("una", Some("una@example.com"), RecordSource::Local);
        let none = v1("nob", None, RecordSource::Local);
        let db = old_file(&[
            (&admin_made, vec![event("user_created", &admin_made, &[])]),
            (
                &signed_up,
                vec![
                    event("user_created", &signed_up, &[]),
                    event("user_signed_up", &signed_up, &[("method", "open")]),
                    event("signup_sign_in", &signed_up, &[]),
                ],
            ),
            (
                &fixed,
                vec![
                    event("user_created", &fixed, &[]),
                    event("user_signed_up", &fixed, &[]),
                    event("user_updated", &fixed, &[("changed", "first_name,email")]),
                ],
            ),
            (
                &renamed,
                vec![
                    event("user_created", &renamed, &[]),
                    event("user_signed_up", &renamed, &[]),
                    event("user_updated", &renamed, &[("changed", "username")]),
                ],
            ),
            (&ldap, Vec::new()),
            (&unknown, Vec::new()),
            (&none, vec![event("user_created", &none, &[])]),
        ]);
        db.write(apply).unwrap();
        for (user, expected) in [
            (&admin_made, true),
            (&signed_up, false),
            (&fixed, true),
            (&renamed, false),
            (&ldap, true),
            (&unknown, false),
            (&none, false),
        ] {
            let (variant, record) = read(&db, user);
            assert_eq!(variant, 1, "{} is V2 now", user.username);
            assert_eq!(record.email_verified, expected, "{}", user.username);
            assert_eq!(record.email, user.email);
        }
        // A verified V2 user stays as it is when the step runs again.
        db.write(apply).unwrap();
        assert!(read(&db, &admin_made).1.email_verified);
        assert!(!read(&db, &signed_up).1.email_verified);
    }
}
