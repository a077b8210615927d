//! Two real `latchkeyd` processes on one PostgreSQL database; one is killed with SIGKILL in
//! the middle of acknowledged writes (and possibly inside a write transaction, holding the
//! deployment's write lock): the other keeps serving and finds every acknowledged write, each
//! whole with its audit event.

use latchkey_daemon::sealing::EncryptionKey;
use latchkey_protocol::Response;
use latchkey_tests::postgres::TestPostgres;
use latchkey_tests::process::DaemonProcess;
use latchkey_tests::writers::{Writers, create_user, stored_and_audited};

const BIN: &str = env!("CARGO_BIN_EXE_latchkeyd-under-test");
const WRITERS: usize = 4;
const ACKED_BEFORE_KILL: usize = 40;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_killed_mid_write_loses_no_acknowledged_write_and_the_other_serves_on() {
    let postgres = TestPostgres::start();
    // Durable commits, as on a production server (the test servers trade them for speed).
    postgres.psql(&postgres.url(), "ALTER SYSTEM SET synchronous_commit = on");
    postgres.psql(&postgres.url(), "SELECT pg_reload_conf()");
    let url = postgres.fresh_database();
    let key = EncryptionKey::generate().unwrap().to_base64();
    let env = [
        ("LATCHKEY_DATABASE_URL", url.as_str()),
        ("LATCHKEY_ENCRYPTION_KEY", key.as_str()),
    ];
    let dir = tempfile::tempdir().unwrap();
    let a = DaemonProcess::start_with_env(BIN.as_ref(), &dir.path().join("a"), &env).await;
    let b = DaemonProcess::start_with_env(BIN.as_ref(), &dir.path().join("b"), &env).await;

    let writers = Writers::start(&a, WRITERS, "a", ACKED_BEFORE_KILL).await;
    a.kill();
    let acked = writers.finish().await;

    // The survivor writes at once: a transaction the dead replica left open (and the write
    // lock it held) died with its connection.
    let client = b.client().await;
    let created = client.call(create_user("after-the-crash")).await.unwrap();
    assert!(matches!(created, Response::User { .. }), "{created:?}");
    let health = reqwest::get(format!("{}/healthz", b.base_url()))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);

    let (stored, audited) = stored_and_audited(&client, "a").await;
    let lost: Vec<_> = acked.difference(&stored).collect();
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
    assert!(stored.len() <= acked.len() + WRITERS);
    assert_eq!(
        audited, stored,
        "every stored user came with its audit event"
    );
    assert!(b.terminate(), "a clean SIGTERM shutdown");
}
