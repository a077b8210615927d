//! The apply step on plain snapshots and an in-memory store. The reading
//! half is tested against a real slapd in `tests/tests/e2e/ldap.rs`.

use std::sync::Arc;

use latchkey_protocol::{AuditQuery, NewUser, Source};
use time::macros::datetime;

use super::*;
use crate::clock::ManualClock;
use crate::ldap::{DirectoryGroup, DirectoryUser, OnRemoved};
use crate::store::Store;

fn idm() -> Idm {
    let clock = ManualClock::new(datetime!(2026-11-23 08:00:00 UTC));
    Idm::new(Store::memory().unwrap(), Arc::new(clock))
}

fn person(uid: &str, mail: &str) -> DirectoryUser {
    DirectoryUser {
        dn: format!("uid={uid},ou=people,dc=example,dc=org"),
        unique_id: format!("id-{uid}"),
        username: uid.to_owned(),
        email: Some(mail.to_owned()),
        first_name: "First".to_owned(),
        last_name: uid.to_owned(),
        display_name: String::new(),
    }
}

fn group(name: &str, members: &[&str]) -> DirectoryGroup {
    DirectoryGroup {
        dn: format!("cn={name},ou=groups,dc=example,dc=org"),
        unique_id: format!("gid-{name}"),
        name: name.to_owned(),
        members: members
            .iter()
            .map(|uid| format!("uid={uid},ou=people,dc=example,dc=org"))
            .collect(),
    }
}

fn options(on_removed: OnRemoved) -> ApplyOptions {
    ApplyOptions {
        on_removed,
        admin_group: Some("admins".to_owned()),
        trigger: "test".to_owned(),
        holder: None,
    }
}

fn apply(idm: &Idm, snapshot: &DirectorySnapshot, on_removed: OnRemoved) -> LdapSyncReport {
    idm.apply_ldap_snapshot(snapshot, &options(on_removed), &mut |_, _| {})
        .unwrap()
}

fn audit_count(idm: &Idm) -> usize {
    let query = AuditQuery {
        limit: 1000,
        ..AuditQuery::default()
    };
    idm.list_audit(&query).unwrap().len()
}

#[test]
fn first_sync_creates_then_a_second_changes_nothing() {
    let idm = idm();
    let snapshot = DirectorySnapshot {
        users: vec![
            person("alice", "alice@example.org"),
            person("bob", "bob@example.org"),
        ],
        groups: vec![
            group("admins", &["alice"]),
            group("Staff Team", &["alice", "bob"]),
        ],
        skipped: Vec::new(),
    };
    let report = apply(&idm, &snapshot, OnRemoved::Disable);
    assert_eq!((report.created, report.groups_created), (2, 2));
    let alice = idm.get_user("alice").unwrap();
    assert_eq!(alice.user.source, Source::Ldap);
    assert!(alice.user.is_admin);
    assert_eq!(alice.user.display_name, "First alice");
    assert_eq!(alice.groups, vec!["admins", "staff-team"]);
    assert!(!idm.get_user("bob").unwrap().user.is_admin);

    let before = idm.store().read().unwrap().ldap_user_ids().unwrap();
    let audit_before = audit_count(&idm);
    let report = apply(&idm, &snapshot, OnRemoved::Disable);
    assert_eq!(report, LdapSyncReport::default());
    // Only the `ldap_sync` event of the second run was written.
    assert_eq!(audit_count(&idm), audit_before + 1);
    assert_eq!(idm.store().read().unwrap().ldap_user_ids().unwrap(), before);
    assert_eq!(idm.get_user("alice").unwrap(), alice);
}

#[test]
fn leavers_are_disabled_or_deleted_and_come_back_enabled() {
    let idm = idm();
    let mut snapshot = DirectorySnapshot {
        users: vec![
            person("alice", "alice@example.org"),
            person("bob", "bob@example.org"),
        ],
        ..DirectorySnapshot::default()
    };
    apply(&idm, &snapshot, OnRemoved::Disable);
    let bob = snapshot.users.pop().unwrap();
    assert_eq!(apply(&idm, &snapshot, OnRemoved::Disable).disabled, 1);
    assert!(idm.get_user("bob").unwrap().user.disabled);
    snapshot.users.push(bob.clone());
    let report = apply(&idm, &snapshot, OnRemoved::Disable);
    assert_eq!((report.enabled, report.created), (1, 0));
    assert!(!idm.get_user("bob").unwrap().user.disabled);
    snapshot.users.pop();
    assert_eq!(apply(&idm, &snapshot, OnRemoved::Delete).deleted, 1);
    assert!(idm.get_user("bob").is_err());
    snapshot.users.push(bob);
    assert_eq!(apply(&idm, &snapshot, OnRemoved::Delete).created, 1);
}

#[test]
fn clashes_with_local_users_are_skipped_with_the_reason() {
    let idm = idm();
    let admin = Actor::admin_socket(0);
    let local = NewUser {
        username: "carol".into(),
        email: Some("shared@example.org".into()),
        ..NewUser::default()
    };
    idm.create_user(&admin, local).unwrap();
    let snapshot = DirectorySnapshot {
        users: vec![
            person("carol", "carol@example.org"),
            person("dave", "shared@example.org"),
        ],
        ..DirectorySnapshot::default()
    };
    let report = apply(&idm, &snapshot, OnRemoved::Disable);
    assert_eq!(report.created, 0);
    let reasons: Vec<&str> = report.skipped.iter().map(|s| s.reason.as_str()).collect();
    assert_eq!(
        reasons,
        vec![
            "username \"carol\" belongs to a local user; local and directory accounts are never merged",
            "email \"shared@example.org\" belongs to a local user; local and directory accounts are never merged",
        ]
    );
    assert_eq!(idm.get_user("carol").unwrap().user.source, Source::Local);
}

#[test]
fn invalid_and_duplicate_entries_are_skipped() {
    let idm = idm();
    let mut twin = person("erin", "other@example.org");
    twin.unique_id = "id-other".into();
    let snapshot = DirectorySnapshot {
        users: vec![
            person("erin", "erin@example.org"),
            twin,
            person("bad name", "bad@example.org"),
        ],
        ..DirectorySnapshot::default()
    };
    let report = apply(&idm, &snapshot, OnRemoved::Disable);
    assert_eq!(report.created, 1);
    assert_eq!(report.skipped.len(), 2, "{:?}", report.skipped);
}

#[test]
fn memberships_follow_the_directory_by_dn_or_username() {
    let idm = idm();
    let mut snapshot = DirectorySnapshot {
        users: vec![
            person("alice", "alice@example.org"),
            person("bob", "bob@example.org"),
        ],
        groups: vec![DirectoryGroup {
            members: vec!["alice".into()],
            ..group("posix", &[])
        }],
        skipped: Vec::new(),
    };
    apply(&idm, &snapshot, OnRemoved::Disable);
    let members = |idm: &Idm| -> Vec<String> {
        idm.get_group("posix")
            .unwrap()
            .members
            .into_iter()
            .map(|(_, name)| name)
            .collect()
    };
    assert_eq!(members(&idm), vec!["alice"]);
    if let Some(g) = snapshot.groups.first_mut() {
        g.members = vec!["UID=bob, ou=People,dc=example,dc=org".into()];
    }
    let report = apply(&idm, &snapshot, OnRemoved::Disable);
    assert_eq!(report.groups_updated, 1);
    assert_eq!(members(&idm), vec!["bob"]);
    snapshot.groups.clear();
    assert_eq!(apply(&idm, &snapshot, OnRemoved::Disable).groups_deleted, 1);
}
