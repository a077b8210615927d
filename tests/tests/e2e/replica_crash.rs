//! Two real `latchkeyd` processes on one PostgreSQL database; one is killed with SIGKILL in
//! the middle of acknowledged writes (and possibly inside a write transaction, holding the
//! deployment's write lock): the other keeps serving and finds every acknowledged write, each
//! whole with its audit event.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use latchkey_daemon::sealing::EncryptionKey;
use latchkey_protocol::{AuditQuery, NewUser, Request, Response, UserQuery};
use latchkey_tests::postgres::TestPostgres;
use latchkey_tests::process::DaemonProcess;

const BIN: &str = env!("CARGO_BIN_EXE_latchkeyd-under-test");
const WRITERS: usize = 4;
const ACKED_BEFORE_KILL: usize = 40;

fn create(username: &str) -> Request {
    Request::CreateUser {
        user: NewUser {
            username: username.to_owned(),
            ..NewUser::default()
        },
    }
}

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

    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let (enough_tx, enough_rx) = tokio::sync::oneshot::channel::<()>();
    let enough_tx = Arc::new(Mutex::new(Some(enough_tx)));
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let client = a.client().await;
        let (acked, enough_tx) = (Arc::clone(&acked), Arc::clone(&enough_tx));
        writers.push(tokio::spawn(async move {
            for n in 0.. {
                let username = format!("a{w}-{n:05}");
                // After the kill the connection fails: that writer is done.
                let Ok(response) = client.call(create(&username)).await else {
                    return;
                };
                assert!(matches!(response, Response::User { .. }), "{response:?}");
                let count = {
                    let mut acked = acked.lock().unwrap();
                    acked.push(username);
                    acked.len()
                };
                if count >= ACKED_BEFORE_KILL
                    && let Some(tx) = enough_tx.lock().unwrap().take()
                {
                    let _ = tx.send(());
                }
            }
        }));
    }
    enough_rx.await.unwrap();
    a.kill();
    for writer in writers {
        writer.await.unwrap();
    }
    let acked: BTreeSet<String> = acked.lock().unwrap().iter().cloned().collect();

    // The survivor writes at once: a transaction the dead replica left open (and the write
    // lock it held) died with its connection.
    let client = b.client().await;
    let created = client.call(create("after-the-crash")).await.unwrap();
    assert!(matches!(created, Response::User { .. }), "{created:?}");
    let health = reqwest::get(format!("{}/healthz", b.base_url()))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);

    let Response::Users { page } = client
        .call(Request::ListUsers {
            query: UserQuery {
                filter: String::new(),
                offset: 0,
                limit: UserQuery::MAX_LIMIT,
            },
        })
        .await
        .unwrap()
    else {
        panic!("expected users");
    };
    let stored: BTreeSet<String> = page
        .users
        .iter()
        .map(|u| u.username.clone())
        .filter(|name| name.starts_with('a'))
        .collect();
    let lost: Vec<_> = acked.difference(&stored).collect();
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
    assert!(stored.len() <= acked.len() + WRITERS);
    let Response::Audit { page } = client
        .call(Request::ListAudit {
            query: AuditQuery {
                user: None,
                limit: AuditQuery::MAX_LIMIT,
                before: None,
            },
        })
        .await
        .unwrap()
    else {
        panic!("expected audit events");
    };
    let audited: BTreeSet<String> = page
        .events
        .iter()
        .filter(|e| e.event == "user_created")
        .filter_map(|e| e.subject.clone())
        .filter(|name| name.starts_with('a'))
        .collect();
    assert_eq!(
        audited, stored,
        "every stored user came with its audit event"
    );
    assert!(b.terminate(), "a clean SIGTERM shutdown");
}
