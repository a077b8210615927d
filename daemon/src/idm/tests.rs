//! Business-rule tests against an in-memory store and a manual clock.

use std::sync::Arc;

use latchkey_protocol::{AuditQuery, NewGroup, NewUser, UserPatch, UserQuery};
use time::macros::datetime;

use super::*;
use crate::clock::ManualClock;
use crate::store::RecordSource;

fn idm() -> (Idm, ManualClock) {
    let clock = ManualClock::new(datetime!(2026-03-01 09:30:15.75 UTC));
    let idm = Idm::new(Store::memory().unwrap(), Arc::new(clock.clone()));
    (idm, clock)
}

fn admin() -> Actor {
    Actor::admin_socket(1000)
}

fn new_user(username: &str) -> NewUser {
    NewUser {
        username: username.into(),
        ..NewUser::default()
    }
}

fn events(idm: &Idm, user: Option<&str>) -> Vec<String> {
    let query = AuditQuery {
        user: user.map(str::to_owned),
        ..AuditQuery::default()
    };
    idm.list_audit(&query)
        .unwrap()
        .into_iter()
        .map(|e| e.event)
        .collect()
}

/// Makes a user LDAP-owned the way a future sync would.
fn make_ldap(idm: &Idm, username: &str) {
    idm.store()
        .write(|tx| {
            let id = tx.user_id_by_username(username)?.unwrap();
            let mut record = tx.user(id)?.unwrap();
            record.source = RecordSource::Ldap;
            tx.put_user(&record)
        })
        .unwrap();
}

#[test]
fn create_user_fills_defaults_and_records_an_event() {
    let (idm, _) = idm();
    let entry = idm
        .create_user(
            &admin(),
            NewUser {
                username: " Alice ".into(),
                email: Some(" Alice@Example.com ".into()),
                first_name: "Alice".into(),
                last_name: "Liddell".into(),
                is_admin: true,
                ..NewUser::default()
            },
        )
        .unwrap();
    let user = &entry.user;
    assert_eq!(user.username, "Alice");
    assert_eq!(user.email.as_deref(), Some("Alice@Example.com"));
    assert_eq!(user.display_name, "Alice Liddell");
    assert_eq!(user.source, Source::Local);
    assert!(user.is_admin && !user.disabled);
    assert_eq!(user.created_at, datetime!(2026-03-01 09:30:15 UTC));
    assert_eq!(user.updated_at, user.created_at);
    assert_ne!(
        user.webauthn_handle.as_bytes()[..16],
        *user.id.as_uuid().as_bytes()
    );
    assert!(format!("{user:?}").contains("<redacted>"));
    assert_eq!(entry.passkey_count, 0);
    assert!(entry.groups.is_empty());
    assert_eq!(idm.get_user("alice").unwrap(), entry);

    let audit = idm.list_audit(&AuditQuery::default()).unwrap();
    assert_eq!(audit.len(), 1);
    let event = &audit[0];
    assert_eq!(event.event, "user_created");
    assert_eq!(event.actor, "admin-socket (uid 1000)");
    assert_eq!(event.subject.as_deref(), Some("Alice"));
    assert_eq!(event.at, user.created_at);

    let plain = idm.create_user(&admin(), new_user("bob")).unwrap();
    assert_eq!(plain.user.display_name, "bob");
    assert_eq!(plain.user.email, None);
    assert_ne!(plain.user.webauthn_handle, user.webauthn_handle);
}

#[test]
fn refused_creates_write_nothing() {
    let (idm, _) = idm();
    let alice = NewUser {
        email: Some("alice@example.com".into()),
        ..new_user("Alice")
    };
    idm.create_user(&admin(), alice).unwrap();

    let err = idm.create_user(&admin(), new_user("ALICE")).unwrap_err();
    assert!(
        matches!(&err, IdmError::Conflict { field: "username", value } if value == "ALICE"),
        "{err}"
    );
    let err = idm
        .create_user(
            &admin(),
            NewUser {
                email: Some("ALICE@example.com".into()),
                ..new_user("alice2")
            },
        )
        .unwrap_err();
    assert!(
        matches!(err, IdmError::Conflict { field: "email", .. }),
        "{err}"
    );
    let err = idm.create_user(&admin(), new_user("-bad")).unwrap_err();
    assert!(matches!(
        err,
        IdmError::Invalid {
            field: "username",
            ..
        }
    ));
    let err = idm
        .create_user(
            &admin(),
            NewUser {
                first_name: "x".repeat(101),
                ..new_user("carol")
            },
        )
        .unwrap_err();
    assert!(matches!(
        err,
        IdmError::Invalid {
            field: "first_name",
            ..
        }
    ));

    assert_eq!(idm.counts().unwrap().users, 1);
    assert_eq!(events(&idm, None), ["user_created"]);
    assert!(matches!(
        idm.get_user("alice2"),
        Err(IdmError::NotFound { what: "user", .. })
    ));
}

#[test]
fn users_are_found_by_id_username_or_email() {
    let (idm, _) = idm();
    let created = idm
        .create_user(
            &admin(),
            NewUser {
                email: Some("Dana@Example.com".into()),
                ..new_user("dana")
            },
        )
        .unwrap();
    let id = created.user.id.to_string();
    for user_ref in [
        id.as_str(),
        &id.to_uppercase(),
        "DANA",
        "dana@example.COM",
        " dana ",
    ] {
        assert_eq!(
            idm.get_user(user_ref).unwrap().user.id,
            created.user.id,
            "{user_ref}"
        );
    }
    let err = idm.get_user("nobody").unwrap_err();
    assert_eq!(err.to_string(), "user \"nobody\" does not exist");
}

#[test]
fn updates_change_only_what_is_asked_and_keep_history_across_renames() {
    let (idm, clock) = idm();
    let created = idm
        .create_user(
            &admin(),
            NewUser {
                email: Some("erin@example.com".into()),
                first_name: "Erin".into(),
                ..new_user("erin")
            },
        )
        .unwrap();
    clock.advance(time::Duration::minutes(5));

    let patch = UserPatch {
        username: Some("Erin.K".into()),
        email: Some(None),
        last_name: Some("Kay".into()),
        first_name: Some("Erin".into()),
        ..UserPatch::default()
    };
    let updated = idm.update_user(&admin(), "ERIN", patch).unwrap();
    let user = &updated.user;
    assert_eq!(user.username, "Erin.K");
    assert_eq!(user.email, None);
    assert_eq!(user.last_name, "Kay");
    assert_eq!(
        user.display_name, "Erin Kay",
        "a display name nobody chose follows the names"
    );
    assert_eq!(user.created_at, created.user.created_at);
    assert_eq!(
        user.updated_at,
        created.user.created_at + time::Duration::minutes(5)
    );
    assert!(idm.get_user("erin").is_err());

    let audit = idm.list_audit(&AuditQuery::default()).unwrap();
    assert_eq!(audit[0].event, "user_updated");
    assert_eq!(
        audit[0].details,
        [
            (
                "changed".to_owned(),
                "username,email,last_name,display_name".to_owned()
            ),
            ("previous_username".to_owned(), "erin".to_owned()),
            ("email_verified".to_owned(), "false".to_owned()),
        ]
    );
    // History follows the user, not the name.
    assert_eq!(
        events(&idm, Some("erin.k")),
        ["user_updated", "user_created"]
    );

    // An empty display name derives it again (here: unchanged); no-op
    // patches record nothing.
    let patch = UserPatch {
        display_name: Some(String::new()),
        ..UserPatch::default()
    };
    let again = idm.update_user(&admin(), "erin.k", patch).unwrap();
    assert_eq!(again.user.display_name, "Erin Kay");
    let patch = UserPatch {
        last_name: Some("Kay".into()),
        ..UserPatch::default()
    };
    idm.update_user(&admin(), "erin.k", patch).unwrap();
    assert_eq!(events(&idm, None).len(), 2);

    idm.create_user(&admin(), new_user("frank")).unwrap();
    let patch = UserPatch {
        username: Some("FRANK".into()),
        ..UserPatch::default()
    };
    let err = idm.update_user(&admin(), "erin.k", patch).unwrap_err();
    assert!(matches!(
        err,
        IdmError::Conflict {
            field: "username",
            ..
        }
    ));
}

#[test]
fn disabling_enabling_and_admin_counts() {
    let (idm, _) = idm();
    let admin_user = NewUser {
        is_admin: true,
        ..new_user("root")
    };
    idm.create_user(&admin(), admin_user).unwrap();
    idm.create_user(&admin(), new_user("gina")).unwrap();
    assert!(
        idm.set_user_disabled(&admin(), "gina", true)
            .unwrap()
            .user
            .disabled
    );
    assert!(
        idm.set_user_disabled(&admin(), "gina", true)
            .unwrap()
            .user
            .disabled
    );
    assert!(
        !idm.set_user_disabled(&admin(), "gina", false)
            .unwrap()
            .user
            .disabled
    );
    assert_eq!(
        events(&idm, Some("gina")),
        ["user_enabled", "user_disabled", "user_created"]
    );
    let patch = UserPatch {
        is_admin: Some(true),
        ..UserPatch::default()
    };
    idm.update_user(&admin(), "gina", patch).unwrap();
    assert_eq!(
        idm.counts().unwrap(),
        Counts {
            users: 2,
            admins: 2,
            groups: 0
        }
    );
}

#[test]
fn ldap_users_and_groups_are_read_only() {
    let (idm, _) = idm();
    idm.create_user(&admin(), new_user("lara")).unwrap();
    make_ldap(&idm, "lara");
    let read_only = |r: Result<_, IdmError>| matches!(r, Err(IdmError::ReadOnly { .. }));
    assert!(read_only(
        idm.update_user(&admin(), "lara", UserPatch::default())
            .map(|_| ())
    ));
    assert!(read_only(
        idm.set_user_disabled(&admin(), "lara", true).map(|_| ())
    ));
    assert!(read_only(idm.delete_user(&admin(), "lara").map(|_| ())));
    assert_eq!(idm.get_user("lara").unwrap().user.source, Source::Ldap);

    let group = idm
        .create_group(
            &admin(),
            NewGroup {
                name: "synced".into(),
                friendly_name: None,
            },
        )
        .unwrap();
    idm.store()
        .write(|tx| {
            let mut record = tx.group(group.group.id)?.unwrap();
            record.source = RecordSource::Ldap;
            tx.put_group(&record)
        })
        .unwrap();
    let err = idm.delete_group(&admin(), "synced").unwrap_err();
    assert_eq!(
        err.to_string(),
        "group \"synced\" comes from LDAP and is read-only here"
    );
    assert!(read_only(
        idm.add_group_member(&admin(), "synced", "lara").map(|_| ())
    ));
}

#[test]
fn groups_members_and_deletion() {
    let (idm, _) = idm();
    for name in ["zed", "Amy", "mo"] {
        idm.create_user(&admin(), new_user(name)).unwrap();
    }
    let staff = idm
        .create_group(
            &admin(),
            NewGroup {
                name: "staff".into(),
                friendly_name: Some("The Staff".into()),
            },
        )
        .unwrap();
    assert_eq!(staff.group.friendly_name, "The Staff");
    idm.create_group(
        &admin(),
        NewGroup {
            name: "admins".into(),
            friendly_name: None,
        },
    )
    .unwrap();
    let err = idm
        .create_group(
            &admin(),
            NewGroup {
                name: "staff".into(),
                friendly_name: None,
            },
        )
        .unwrap_err();
    assert!(matches!(err, IdmError::Conflict { field: "name", .. }));
    let err = idm
        .create_group(
            &admin(),
            NewGroup {
                name: "Bad Name".into(),
                friendly_name: None,
            },
        )
        .unwrap_err();
    assert!(matches!(err, IdmError::Invalid { field: "name", .. }));

    for user in ["zed", "amy", "mo"] {
        idm.add_group_member(&admin(), "staff", user).unwrap();
    }
    let entry = idm.add_group_member(&admin(), "Staff", "AMY").unwrap();
    let members: Vec<_> = entry.members.iter().map(|(_, n)| n.as_str()).collect();
    assert_eq!(members, ["Amy", "mo", "zed"]);
    idm.add_group_member(&admin(), "admins", "amy").unwrap();
    assert_eq!(idm.get_user("amy").unwrap().groups, ["admins", "staff"]);

    let summaries: Vec<_> = idm
        .list_groups()
        .unwrap()
        .into_iter()
        .map(|s| (s.group.name, s.member_count))
        .collect();
    assert_eq!(summaries, [("admins".into(), 1), ("staff".into(), 3)]);

    let entry = idm.remove_group_member(&admin(), "staff", "mo").unwrap();
    assert_eq!(entry.members.len(), 2);
    idm.remove_group_member(&admin(), "staff", "mo").unwrap();
    assert_eq!(
        events(&idm, Some("mo")),
        ["group_member_removed", "group_member_added", "user_created"]
    );

    // Deleting a user removes their memberships; their history stays.
    let zed = idm.delete_user(&admin(), "zed").unwrap();
    assert_eq!(idm.get_group("staff").unwrap().members.len(), 1);
    let history = events(&idm, Some(&zed.id.to_string()));
    assert_eq!(
        history,
        ["user_deleted", "group_member_added", "user_created"]
    );
    assert!(matches!(
        idm.list_audit(&AuditQuery {
            user: Some("zed".into()),
            ..AuditQuery::default()
        }),
        Err(IdmError::NotFound { .. })
    ));

    let deleted = idm.delete_group(&admin(), "staff").unwrap();
    assert_eq!(deleted.name, "staff");
    assert_eq!(idm.get_user("amy").unwrap().groups, ["admins"]);
    assert!(matches!(
        idm.get_group("staff"),
        Err(IdmError::NotFound { what: "group", .. })
    ));
    assert_eq!(idm.counts().unwrap().groups, 1);
}

#[test]
fn audit_paging_and_recording_from_outside() {
    let (idm, _) = idm();
    let user = idm.create_user(&admin(), new_user("hank")).unwrap().user;
    let mut actor = Actor::user(user.id, "hank");
    actor.ip = Some("192.0.2.1".into());
    let id = idm
        .record_audit(
            &actor,
            "signed_in",
            Some("hank"),
            vec![("method".into(), "passkey".into())],
        )
        .unwrap();
    idm.record_audit(&Actor::system(), "ldap_sync", None, vec![])
        .unwrap();
    assert_eq!(id, 2);
    assert_eq!(events(&idm, Some("hank")), ["signed_in", "user_created"]);

    let page = idm
        .list_audit(&AuditQuery {
            before: Some(3),
            limit: 1,
            user: None,
        })
        .unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].id, 2);
    assert_eq!(page[0].actor, "hank");
    assert_eq!(page[0].ip.as_deref(), Some("192.0.2.1"));
    let everything = idm
        .list_audit(&AuditQuery {
            limit: 0,
            ..AuditQuery::default()
        })
        .unwrap();
    assert_eq!(everything.len(), 3);
}

#[test]
fn list_limits_are_defaulted_and_clamped() {
    let (idm, _) = idm();
    let count = UserQuery::MAX_LIMIT as usize + 5;
    idm.create_users_bulk(
        &admin(),
        (0..count).map(|i| new_user(&format!("u{i:05}"))),
        400,
    )
    .unwrap();
    let page = |limit, offset| {
        idm.list_users(&UserQuery {
            filter: String::new(),
            offset,
            limit,
        })
        .unwrap()
    };
    assert_eq!(page(0, 0).users.len(), 100);
    assert_eq!(page(5000, 0).users.len(), UserQuery::MAX_LIMIT as usize);
    let last = page(10, 1000);
    assert_eq!(last.total, count as u64);
    assert_eq!(last.offset, 1000);
    assert_eq!(last.users.len(), 5);
    assert_eq!(last.users[0].user.username, "u01000");
}

/// Loads `n` users like a real directory and checks paging and filtering.
fn check_large_directory(n: usize) {
    let (idm, _) = idm();
    let started = std::time::Instant::now();
    let users = (0..n).map(|i| NewUser {
        username: format!("user{i:06}"),
        email: Some(format!("user{i:06}@example.com")),
        first_name: format!("First{i}"),
        // Every 1000th user is a Smith-Jones; everyone else a Miller.
        last_name: if i % 1000 == 7 {
            "Smith-Jones"
        } else {
            "Miller"
        }
        .into(),
        is_admin: i % 5000 == 0,
        ..NewUser::default()
    });
    assert_eq!(
        idm.create_users_bulk(&admin(), users, 10_000).unwrap(),
        n as u64
    );
    eprintln!("bulk load of {n} users: {:?}", started.elapsed());

    let timed = |label: &str, query: UserQuery| {
        let started = std::time::Instant::now();
        let page = idm.list_users(&query).unwrap();
        eprintln!(
            "{label}: {:?} ({} rows of {})",
            started.elapsed(),
            page.users.len(),
            page.total
        );
        page
    };
    let query = |filter: &str, offset: u64| UserQuery {
        filter: filter.into(),
        offset,
        limit: 100,
    };

    let first = timed("page 0", query("", 0));
    assert_eq!(first.total, n as u64);
    assert_eq!(first.users.len(), 100.min(n));
    assert_eq!(first.users[0].user.username, "user000000");
    assert_eq!(first.users[99].user.username, "user000099");

    let deep_offset = (n as u64 * 9) / 10;
    let deep = timed("deep page", query("", deep_offset));
    assert_eq!(deep.users[0].user.username, format!("user{deep_offset:06}"));
    assert_eq!(deep.users.len(), 100);

    let few = timed("filter matching few", query("SMITH", 0));
    assert_eq!(few.total, n as u64 / 1000);
    assert_eq!(few.users[0].user.username, "user000007");
    assert_eq!(few.users[1].user.username, "user001007");
    assert!(few.users.iter().all(|u| u.user.last_name == "Smith-Jones"));

    let many = timed("filter matching many", query("@example", 200));
    assert_eq!(many.total, n as u64);
    assert_eq!(many.users[0].user.username, "user000200");

    let one = timed("filter matching one", query("user000042@", 0));
    assert_eq!(one.total, 1);
    assert_eq!(one.users[0].user.first_name, "First42");

    let counts = idm.counts().unwrap();
    assert_eq!(counts.users, n as u64);
    assert_eq!(counts.admins, n.div_ceil(5000) as u64);
}

/// About 4 s in a debug build. For timings:
/// `cargo test -p latchkey-daemon --release -- hundred_thousand --nocapture`
#[test]
fn hundred_thousand_users_page_and_filter_fast() {
    check_large_directory(100_000);
}

#[test]
fn a_chosen_display_name_survives_name_changes() {
    let (idm, _) = idm();
    idm.create_user(
        &admin(),
        NewUser {
            first_name: "Frank".into(),
            display_name: Some("The Boss".into()),
            ..new_user("frank")
        },
    )
    .unwrap();
    let patch = UserPatch {
        last_name: Some("Castle".into()),
        ..UserPatch::default()
    };
    let updated = idm.update_user(&admin(), "frank", patch).unwrap();
    assert_eq!(updated.user.display_name, "The Boss");
}
