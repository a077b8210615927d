//! Two daemons in-process on one fresh PostgreSQL database, as replicas: the jobs that must
//! run once (mail delivery, LDAP sync) run on one of them at a time, under a lease the other
//! takes over when its holder dies; mail goes out exactly once; the last LDAP sync shows on
//! both. Real SMTP (aiosmtpd) and real OpenLDAP (slapd).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use latchkey_daemon::idm::Job;
use latchkey_tests::TestDaemon;
use latchkey_tests::audit::audit_events;
use latchkey_tests::mail::{use_smtp, wait_status};
use latchkey_tests::postgres::TestPostgres;
use latchkey_tests::slapd::{ADMIN_DN, ADMIN_PASSWORD, BASE_DN, Slapd};
use latchkey_tests::smtp::SmtpServer;
use serde_json::Value;

/// The first replica, on a fresh database of the harness's PostgreSQL.
async fn first_replica() -> TestDaemon {
    let url = TestPostgres::shared().fresh_database();
    TestDaemon::start_with(move |config| {
        config.database_url = Some(url.parse().expect("a test database URL"));
    })
    .await
}

/// The replica holding `job`'s lease, as `t` reads the shared database.
fn holder(t: &TestDaemon, job: Job) -> Option<String> {
    t.daemon.idm().lease_holder(job).unwrap()
}

/// Waits (bounded) until `job`'s lease names `t` as its holder.
async fn wait_until_holder(observer: &TestDaemon, job: Job, t: &TestDaemon) {
    let want = t.daemon.replica_id().as_str().to_owned();
    let deadline = Instant::now() + Duration::from_secs(15);
    while holder(observer, job).as_ref() != Some(&want) {
        assert!(
            Instant::now() < deadline,
            "{job:?} lease never reached {want}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Makes `name` (mail to `name@example.com`) and queues a login code mail for them, both
/// through `t`'s socket.
async fn queue_login_code_mail(t: &TestDaemon, name: &str) {
    let email = format!("{name}@example.com");
    let out = t
        .cli(&["user", "create", "--username", name, "--email", &email])
        .await;
    assert_eq!(out.code, 0, "{out:?}");
    let out = t.cli(&["login-code", "create", name, "--email"]).await;
    assert_eq!(out.code, 0, "{out:?}");
}

/// Waits for `n` messages at `smtp`. A send that failed (a loaded machine can time one out)
/// is retried by the daemons' clocks, which tests move by hand: when nothing has arrived for a
/// while, both replicas' clocks move past the first retries and their jobs are woken. Never
/// past a send's claim (five minutes), so a message being sent cannot be claimed again.
async fn wait_for_mail(smtp: &SmtpServer, n: usize, replicas: [&TestDaemon; 2]) {
    const NUDGES: u32 = 4;
    const NUDGE: time::Duration = time::Duration::seconds(31);
    let deadline = Instant::now() + Duration::from_secs(60);
    let (mut nudges, mut last_count, mut last_change) = (0, 0, Instant::now());
    loop {
        let count = smtp.messages().len();
        if count >= n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "expected {n} messages, got {count} within 60 s"
        );
        if count != last_count {
            (last_count, last_change) = (count, Instant::now());
        } else if last_change.elapsed() > Duration::from_secs(3) && nudges < NUDGES {
            for t in replicas {
                t.clock.advance(NUDGE);
                t.daemon.wake_mail();
            }
            (nudges, last_change) = (nudges + 1, Instant::now());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_queued_on_both_replicas_is_delivered_exactly_once() {
    let smtp = SmtpServer::start();
    let a = first_replica().await;
    let b = TestDaemon::start_replica_of(&a).await;
    assert_ne!(a.daemon.replica_id(), b.daemon.replica_id());
    use_smtp(&a, smtp.port).await;
    a.config_set("email.admin_login_codes", "true").await;

    let mut expected = BTreeSet::new();
    for n in 0..4 {
        for (t, side) in [(&a, "a"), (&b, "b")] {
            let name = format!("{side}{n}");
            queue_login_code_mail(t, &name).await;
            expected.insert(format!("{name}@example.com"));
        }
    }
    wait_for_mail(&smtp, expected.len(), [&a, &b]).await;
    // Both see the outbox empty: every message was sent and its outcome written.
    for t in [&a, &b] {
        wait_status(t, |s| s.queued == 0 && s.retrying == 0 && s.failed == 0).await;
    }
    let received: Vec<String> = smtp.messages().into_iter().flat_map(|m| m.rcpt).collect();
    assert_eq!(received.len(), expected.len(), "each once: {received:?}");
    assert_eq!(received.into_iter().collect::<BTreeSet<_>>(), expected);
    let sent = audit_events(&b)
        .await
        .into_iter()
        .filter(|e| e["event"] == "mail_sent")
        .count();
    assert_eq!(sent, expected.len());
    // One replica delivered, under the lease.
    let ids = [a.daemon.replica_id(), b.daemon.replica_id()].map(|r| r.as_str().to_owned());
    let holder = holder(&b, Job::MailDelivery).expect("someone holds the mail lease");
    assert!(ids.contains(&holder), "{holder} is one of {ids:?}");

    b.stop().await;
    a.stop().await;
}

#[test]
fn when_the_mail_replica_dies_the_other_takes_over_once_its_lease_has_ended() {
    // Replica A runs on a runtime of its own, so that it can die the way a killed process
    // does: its tasks vanish mid-await, nothing is given back, the lease just stays.
    let doomed = tokio::runtime::Runtime::new().unwrap();
    let a = doomed.block_on(first_replica());
    let test = tokio::runtime::Runtime::new().unwrap();
    test.block_on(async {
        wait_until_holder(&a, Job::MailDelivery, &a).await;
        let smtp = SmtpServer::start();
        let b = TestDaemon::start_replica_of(&a).await;
        let a_id = a.daemon.replica_id().as_str().to_owned();

        // A dies holding the lease; B's mail waits for it.
        doomed.shutdown_background();
        use_smtp(&b, smtp.port).await;
        b.config_set("email.admin_login_codes", "true").await;
        queue_login_code_mail(&b, "carol").await;
        b.daemon.wake_mail();
        assert_eq!(holder(&b, Job::MailDelivery), Some(a_id.clone()));
        assert_eq!(wait_status(&b, |s| s.queued == 1).await.queued, 1);
        assert!(
            smtp.messages().is_empty(),
            "nobody may send under A's lease"
        );

        // Past the lease's end by B's clock, B takes the job over and delivers.
        b.clock.advance(time::Duration::seconds(31));
        b.daemon.wake_mail();
        let mail = smtp.wait_for(1).await;
        assert_eq!(mail[0].rcpt, vec!["carol@example.com"]);
        wait_until_holder(&b, Job::MailDelivery, &b).await;
        wait_status(&b, |s| s.queued == 0 && s.retrying == 0).await;
        assert_eq!(smtp.messages().len(), 1);
        b.stop().await;
    });
    // A's directory and socket go with it; its tasks are gone already.
    drop(a);
}

/// Points the daemon at `slapd` and turns LDAP on (settings live in the shared database).
async fn configure_ldap(t: &TestDaemon, slapd: &Slapd) {
    t.config_set("ldap.url", &slapd.url()).await;
    t.config_set("ldap.bind_dn", ADMIN_DN).await;
    t.config_set("ldap.bind_password", ADMIN_PASSWORD).await;
    t.config_set("ldap.base_dn", BASE_DN).await;
    t.config_set("ldap.enabled", "true").await;
}

async fn ldap_status(t: &TestDaemon) -> Value {
    let out = t.cli(&["ldap", "status", "--json"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    out.json()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_ldap_sync_shows_on_every_replica_and_one_replica_syncs_at_a_time() {
    let slapd = Slapd::start().await;
    slapd
        .add_user("alice", "Alice", "Liddell", "alice@example.org")
        .await;
    slapd
        .add_user("bob", "Bob", "Builder", "bob@example.org")
        .await;
    let a = first_replica().await;
    let b = TestDaemon::start_replica_of(&a).await;
    // The bind password is sealed by A and opened by B: one key.
    configure_ldap(&a, &slapd).await;
    let before = ldap_status(&b).await;
    assert_eq!(before["last_sync_at"], Value::Null, "{before}");

    let out = a.cli(&["ldap", "sync", "--json"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.json()["created"], 2);
    let seen_on_b = ldap_status(&b).await;
    assert_eq!(seen_on_b["enabled"], true, "{seen_on_b}");
    assert_eq!(seen_on_b["running"], false, "{seen_on_b}");
    assert_eq!(seen_on_b["last_report"]["created"], 2, "{seen_on_b}");
    assert_eq!(seen_on_b["last_error"], Value::Null, "{seen_on_b}");
    assert_eq!(
        seen_on_b["last_sync_at"], "2026-11-23T08:00:00Z",
        "{seen_on_b}"
    );
    assert_eq!(ldap_status(&a).await, seen_on_b);

    // While A holds the sync's lease, a sync asked of B is refused, saying why.
    let a_id = a.daemon.replica_id().clone();
    a.daemon.idm().acquire_lease(Job::LdapSync, &a_id).unwrap();
    let refused = b.cli(&["ldap", "sync"]).await;
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(refused.stderr.contains("another replica"), "{refused:?}");
    assert!(refused.stderr.contains(a_id.as_str()), "{refused:?}");
    assert_eq!(ldap_status(&b).await["running"], true);
    assert!(a.daemon.idm().release_lease(Job::LdapSync, &a_id).unwrap());

    // Once it is free B syncs, and A shows B's result.
    slapd
        .add_user("carol", "Carol", "Danvers", "carol@example.org")
        .await;
    b.clock.advance(time::Duration::minutes(3));
    let out = b.cli(&["ldap", "sync", "--json"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    let seen_on_a = ldap_status(&a).await;
    assert_eq!(seen_on_a["last_report"]["created"], 1, "{seen_on_a}");
    assert_eq!(
        seen_on_a["last_sync_at"], "2026-11-23T08:03:00Z",
        "{seen_on_a}"
    );
    assert_eq!(seen_on_a["running"], false, "{seen_on_a}");
    let users = a.cli(&["user", "list", "--json"]).await.json();
    assert_eq!(users["users"].as_array().unwrap().len(), 3, "{users}");

    b.stop().await;
    a.stop().await;
}
