//! The real `latchkeyd` process killed with SIGKILL in the middle of acknowledged writes:
//! after a restart every acknowledged write is there, and every write that is there is whole.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use latchkey_protocol::{AuditQuery, NewUser, Request, Response};
use latchkey_tests::process::DaemonProcess;

const BIN: &str = env!("CARGO_BIN_EXE_latchkeyd-under-test");
const WRITERS: usize = 4;
/// Acknowledged creations to wait for before the kill; the writers keep going meanwhile, so
/// the kill lands between, during and before commits.
const ACKED_BEFORE_KILL: usize = 40;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let daemon = DaemonProcess::start(BIN.as_ref(), &data).await;

    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let (enough_tx, enough_rx) = tokio::sync::oneshot::channel::<()>();
    let enough_tx = Arc::new(Mutex::new(Some(enough_tx)));
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let client = daemon.client().await;
        let acked = Arc::clone(&acked);
        let enough_tx = Arc::clone(&enough_tx);
        writers.push(tokio::spawn(async move {
            for n in 0.. {
                let username = format!("w{w}-{n:05}");
                let request = Request::CreateUser {
                    user: NewUser {
                        username: username.clone(),
                        ..NewUser::default()
                    },
                };
                // After the kill the connection fails: that writer is done.
                let Ok(response) = client.call(request).await else {
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
    daemon.kill();
    for writer in writers {
        writer.await.unwrap();
    }
    let acked: BTreeSet<String> = acked.lock().unwrap().iter().cloned().collect();
    assert!(acked.len() >= ACKED_BEFORE_KILL);

    // The stale socket file is replaced; the database opens after an unclean stop.
    let daemon = DaemonProcess::start(BIN.as_ref(), &data).await;
    let client = daemon.client().await;
    let Response::Users { page } = client
        .call(Request::ListUsers {
            query: latchkey_protocol::UserQuery {
                filter: String::new(),
                offset: 0,
                limit: latchkey_protocol::UserQuery::MAX_LIMIT,
            },
        })
        .await
        .unwrap()
    else {
        panic!("expected users");
    };
    assert_eq!(page.users.len() as u64, page.total);
    let stored: BTreeSet<String> = page.users.iter().map(|u| u.username.clone()).collect();
    let lost: Vec<_> = acked.difference(&stored).collect();
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
    // At most one write per writer was in flight when the process died.
    assert!(
        stored.len() <= acked.len() + WRITERS,
        "{} stored, {} acknowledged",
        stored.len(),
        acked.len()
    );
    // Every user that is there came with its audit event: no half-written operation.
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
        .collect();
    assert_eq!(audited, stored);
    assert!(
        daemon.terminate(),
        "a clean SIGTERM shutdown after recovery"
    );
}
