//! Bundles: a round trip is exact, and a damaged, cut-short or misplaced bundle is refused
//! with nothing written.

use std::any::TypeId;

use redb::Value;

use super::json_form::record_form;
use super::*;
use crate::store::kv::{OrderedKey, ReadableTable};
use crate::store::records::{
    AuditRecord, GroupRecord, RecordSource, SessionMethod, SessionRecord, UserId, UserRecord,
    UserV1, WebauthnHandle,
};
use crate::store::tx::FormVisitor;
use crate::store::user_records::StoredUser;
use crate::store::{SCHEMA_VERSION, Store};

fn user(name: &str) -> UserRecord {
    UserRecord {
        id: UserId::random(),
        username: name.to_owned(),
        email: Some(format!("{name}@example.com")),
        first_name: "First".to_owned(),
        last_name: "Last \"quoted\" ✓".to_owned(),
        display_name: name.to_owned(),
        is_admin: name == "alice",
        disabled: false,
        source: RecordSource::Local,
        webauthn_handle: WebauthnHandle(rand::random()),
        created_at: 1_700_000_000,
        updated_at: 1_700_000_001,
        email_verified: true,
    }
}

/// A store with users (one stored by an older release, as version 1), a group, a session,
/// audit events and a key id: records, indexes, tuple keys and unit values.
fn with_data() -> Store {
    let store = Store::memory().unwrap();
    store
        .write(|tx| {
            let alice = user("alice");
            tx.put_user(&alice)?;
            tx.put_user(&user("bob"))?;
            let old = UserV1 {
                id: UserId::random(),
                username: "carol".to_owned(),
                email: None,
                first_name: String::new(),
                last_name: String::new(),
                display_name: "Carol".to_owned(),
                is_admin: false,
                disabled: true,
                source: RecordSource::Ldap,
                webauthn_handle: WebauthnHandle(rand::random()),
                created_at: 1,
                updated_at: 2,
            };
            let bytes = postcard::to_stdvec(&StoredUser::V1(old.clone())).unwrap();
            tx.t.users_mut()?
                .insert(old.id.to_bytes(), bytes.as_slice())
                .unwrap();
            let group = GroupRecord {
                id: crate::store::records::GroupId::random(),
                name: "staff".to_owned(),
                friendly_name: "Staff".to_owned(),
                source: RecordSource::Local,
                created_at: 3,
            };
            tx.put_group(&group)?;
            tx.add_group_member(group.id, alice.id)?;
            tx.put_session(
                &[7; 32],
                &SessionRecord {
                    public_id: "s1".to_owned(),
                    user_id: alice.id,
                    method: SessionMethod::LoginCode,
                    ip: Some("127.0.0.1".to_owned()),
                    user_agent: None,
                    created_at: 10,
                    last_seen_at: 11,
                    expires_at: i64::MAX,
                    passkey: None,
                },
            )?;
            tx.set_encryption_key_id(*b"key id 8")?;
            for _ in 0..3 {
                tx.append_audit(&AuditRecord {
                    subject_user: Some(alice.id),
                    ..AuditRecord::named("user_created")
                })?;
            }
            Ok::<_, StoreError>(())
        })
        .unwrap();
    store
}

fn export(store: &Store) -> Vec<u8> {
    let mut out = Vec::new();
    store.export_to(&mut out).unwrap();
    out
}

fn import(bundle: &[u8]) -> (Store, Result<ImportSummary, BundleError>) {
    let store = Store::memory().unwrap();
    let result = store.write(|tx| tx.import_bundle(bundle));
    (store, result)
}

fn lines(bundle: &[u8]) -> Vec<String> {
    String::from_utf8(bundle.to_vec())
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Joins `body` (header and entries) and a closing line that fits it: a bundle whose damage
/// the checksum does not catch, to reach the checks behind it.
fn resealed(body: &[String]) -> Vec<u8> {
    let mut text = String::new();
    for line in body {
        text.push_str(line);
        text.push('\n');
    }
    let sha256 = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(text.as_bytes()));
    let end = serde_json::json!({"end": {"entries": body.len() - 1, "sha256": sha256}});
    text.push_str(&end.to_string());
    text.push('\n');
    text.into_bytes()
}

fn assert_untouched(store: &Store) {
    let tx = store.read().unwrap();
    assert!(tx.is_empty().unwrap(), "{:?}", tx.first_non_empty_table());
    assert_eq!(tx.encryption_key_id().unwrap(), None);
}

#[test]
fn a_round_trip_gives_the_same_database_and_the_same_bundle() {
    let source = with_data();
    let first = export(&source);

    let (target, imported) = import(&first);
    let imported = imported.unwrap();
    assert_eq!(imported.schema_version, SCHEMA_VERSION);
    assert_eq!(
        imported.encryption_key_id.as_deref(),
        Some("6b65792069642038")
    );
    let row_count = |name| {
        imported
            .tables
            .iter()
            .find(|(table, _)| *table == name)
            .map(|(_, rows)| *rows)
    };
    assert_eq!(row_count("users_v1"), Some(3));
    assert_eq!(row_count("audit_log_v1"), Some(3));
    assert_eq!(row_count("group_members_v1"), Some(1));

    assert_eq!(
        source
            .digest()
            .unwrap()
            .differing_tables(&target.digest().unwrap()),
        Vec::<&str>::new(),
        "every table, META included, reads back byte for byte"
    );
    let second = export(&target);
    assert_eq!(
        String::from_utf8(second).unwrap(),
        String::from_utf8(first).unwrap()
    );
}

#[test]
fn the_bundle_is_readable_json_lines() {
    let bundle = lines(&export(&with_data()));
    let header: serde_json::Value = serde_json::from_str(&bundle[0]).unwrap();
    assert_eq!(header["format"], "latchkey-export");
    assert_eq!(header["version"], 1);
    assert_eq!(header["schema_version"], SCHEMA_VERSION);
    assert_eq!(header["encryption_key_id"], "6b65792069642038");

    let entries: Vec<serde_json::Value> = bundle[1..bundle.len() - 1]
        .iter()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let alice = entries
        .iter()
        .find(|entry| entry["table"] == "users_v1" && entry["value"]["V2"]["username"] == "alice")
        .expect("alice's record");
    assert_eq!(alice["key"], alice["value"]["V2"]["id"], "ids are UUIDs");
    assert!(
        entries.iter().any(
            |entry| entry["table"] == "users_v1" && entry["value"]["V1"]["username"] == "carol"
        ),
        "a record of an older version keeps it"
    );
    let index = entries
        .iter()
        .find(|entry| entry["table"] == "username_to_user_id_v1" && entry["key"] == "alice")
        .unwrap();
    assert_eq!(index["value"], alice["key"]);
    let member = entries
        .iter()
        .find(|entry| entry["table"] == "group_members_v1")
        .unwrap();
    assert_eq!(member["key"][1], alice["key"], "a tuple key is an array");
    assert_eq!(member["value"], serde_json::Value::Null);
    assert!(
        entries
            .iter()
            .any(|entry| entry["table"] == "sessions_v1" && entry["key"] == "07".repeat(32)),
        "hashes are hex"
    );
    assert!(entries.iter().all(|entry| entry["table"] != "meta"));

    let end: serde_json::Value = serde_json::from_str(bundle.last().unwrap()).unwrap();
    assert_eq!(end["end"]["entries"], entries.len());
}

/// Every table whose values are records has a record form, so none is exported as opaque
/// bytes; a table added later without one fails here.
#[test]
fn every_record_table_has_a_record_form() {
    struct Check(Vec<&'static str>);
    impl FormVisitor for Check {
        type Error = StoreError;
        fn visit<K: OrderedKey + JsonForm, V: Value + JsonForm + 'static>(
            &mut self,
            name: &'static str,
            _: &impl ReadableTable<K, V>,
        ) -> Result<(), StoreError> {
            let bytes = TypeId::of::<V>() == TypeId::of::<&'static [u8]>();
            if bytes && !left_out(name) && record_form(name).is_none() {
                self.0.push(name);
            }
            Ok(())
        }
    }
    let store = Store::memory().unwrap();
    let mut check = Check(Vec::new());
    store
        .read()
        .unwrap()
        .t
        .each_table_in_form(&mut check)
        .unwrap();
    assert_eq!(check.0, Vec::<&str>::new());
}

#[test]
fn a_bundle_cut_short_is_refused_and_nothing_is_written() {
    let bundle = export(&with_data());
    // Without its closing line.
    let body: Vec<u8> = lines(&bundle)[..lines(&bundle).len() - 1]
        .iter()
        .flat_map(|line| format!("{line}\n").into_bytes())
        .collect();
    let (target, result) = import(&body);
    let err = result.unwrap_err();
    assert!(matches!(err, BundleError::Truncated(_)), "{err:?}");
    assert!(err.to_string().contains("cut short"), "{err}");
    assert_untouched(&target);

    // Cut inside a line.
    let (target, result) = import(&bundle[..bundle.len() / 2]);
    assert!(
        matches!(result, Err(BundleError::Truncated(_))),
        "{result:?}"
    );
    assert_untouched(&target);

    let (target, result) = import(b"");
    assert!(
        matches!(result, Err(BundleError::NotABundle(_))),
        "{result:?}"
    );
    assert_untouched(&target);
}

#[test]
fn an_edited_bundle_is_refused() {
    let bundle = String::from_utf8(export(&with_data())).unwrap();
    let edited = bundle.replacen("\"bob\"", "\"eve\"", 1);
    assert_ne!(edited, bundle);
    let (target, result) = import(edited.as_bytes());
    let err = result.unwrap_err();
    assert!(matches!(err, BundleError::Damaged(_)), "{err:?}");
    assert!(err.to_string().contains("changed or damaged"), "{err}");
    assert_untouched(&target);

    let (target, result) = import(format!("{bundle}{{}}\n").as_bytes());
    let err = result.unwrap_err();
    assert!(
        err.to_string().contains("more after the closing line"),
        "{err}"
    );
    assert_untouched(&target);
}

#[test]
fn a_bad_entry_is_named_by_its_line() {
    let mut body = lines(&export(&with_data()));
    body.pop();
    let at = body
        .iter()
        .position(|line| line.contains("\"sessions_v1\""))
        .unwrap();
    body[at] = body[at].replace("\"LoginCode\"", "\"Telepathy\"");
    let (target, result) = import(&resealed(&body));
    let err = result.unwrap_err().to_string();
    assert!(
        err.starts_with(&format!(
            "line {}: the value of an entry of sessions_v1",
            at + 1
        )),
        "{err}"
    );
    assert!(err.contains("Telepathy"), "{err}");
    assert_untouched(&target);

    let mut unknown = lines(&export(&with_data()));
    unknown.pop();
    unknown[1] = unknown[1].replacen("\"table\":\"", "\"table\":\"nope_", 1);
    let (target, result) = import(&resealed(&unknown));
    let err = result.unwrap_err().to_string();
    assert!(
        err.starts_with("line 2: there is no table \"nope_"),
        "{err}"
    );
    assert_untouched(&target);

    let mut leases = lines(&export(&with_data()));
    leases.pop();
    leases[1] = r#"{"table":"leases_v1","key":"expiry_sweep","value":null}"#.to_owned();
    let (target, result) = import(&resealed(&leases));
    assert!(
        result
            .unwrap_err()
            .to_string()
            .contains("no table \"leases_v1\"")
    );
    assert_untouched(&target);
}

#[test]
fn a_key_given_twice_is_refused_not_dropped() {
    let mut body = lines(&export(&with_data()));
    body.pop();
    let at = body
        .iter()
        .position(|line| line.contains("\"users_v1\""))
        .unwrap();
    body.insert(at, body[at].clone());
    let (target, result) = import(&resealed(&body));
    let err = result.unwrap_err().to_string();
    assert!(
        err.contains("users_v1 has 4 entries but 3 distinct keys"),
        "{err}"
    );
    assert_untouched(&target);
}

#[test]
fn tables_out_of_order_are_refused() {
    let mut body = lines(&export(&with_data()));
    body.pop();
    let user_line = body
        .iter()
        .position(|line| line.contains("\"users_v1\""))
        .unwrap();
    let moved = body.remove(user_line);
    body.push(moved);
    let (target, result) = import(&resealed(&body));
    let err = result.unwrap_err().to_string();
    assert!(err.contains("an entry of users_v1 after those of"), "{err}");
    assert_untouched(&target);
}

#[test]
fn only_an_empty_database_of_the_same_schema_version_takes_a_bundle() {
    let bundle = export(&with_data());
    let target = with_data();
    let before = target.digest().unwrap();
    let err = target
        .write(|tx| tx.import_bundle(bundle.as_slice()))
        .unwrap_err();
    assert!(matches!(err, BundleError::TargetNotEmpty { .. }), "{err:?}");
    assert!(err.to_string().contains("empty database only"), "{err}");
    assert_eq!(target.digest().unwrap(), before);

    let mut body = lines(&bundle);
    body.pop();
    body[0] = body[0].replace(
        &format!("\"schema_version\":{SCHEMA_VERSION}"),
        &format!("\"schema_version\":{}", SCHEMA_VERSION + 1),
    );
    let (target, result) = import(&resealed(&body));
    let err = result.unwrap_err();
    assert!(matches!(err, BundleError::SchemaVersion { .. }), "{err:?}");
    assert_untouched(&target);

    body[0] = body[0].replace("\"version\":1", "\"version\":2");
    let (target, result) = import(&resealed(&body));
    assert!(
        matches!(result, Err(BundleError::FormatVersion(2))),
        "{result:?}"
    );
    assert_untouched(&target);

    let (target, result) = import(b"{\"hello\": 1}\n");
    let err = result.unwrap_err();
    assert!(
        err.to_string()
            .starts_with("this is not a latchkey export bundle"),
        "{err}"
    );
    assert_untouched(&target);
}
