//! Writers that create users over the admin socket of a daemon process as fast as it answers,
//! remembering each acknowledged one, for tests that kill the process in the middle.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use latchkey_protocol::{AuditQuery, NewUser, Request, Response, UserQuery};

use crate::process::DaemonProcess;

/// `writers` connections to `daemon`, each creating users `{prefix}{writer}-{n}` until its
/// connection fails. Resolves once `enough` creations are acknowledged (the writers keep
/// going); [`Writers::finish`] waits for them all to stop and gives the acknowledged names.
#[derive(Debug)]
pub struct Writers {
    acked: Arc<Mutex<Vec<String>>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Writers {
    pub async fn start(
        daemon: &DaemonProcess,
        writers: usize,
        prefix: &str,
        enough: usize,
    ) -> Writers {
        let acked = Arc::new(Mutex::new(Vec::<String>::new()));
        let (enough_tx, enough_rx) = tokio::sync::oneshot::channel::<()>();
        let enough_tx = Arc::new(Mutex::new(Some(enough_tx)));
        let mut tasks = Vec::new();
        for w in 0..writers {
            let client = daemon.client().await;
            let (acked, enough_tx) = (Arc::clone(&acked), Arc::clone(&enough_tx));
            let prefix = prefix.to_owned();
            tasks.push(tokio::spawn(async move {
                for n in 0.. {
                    let username = format!("{prefix}{w}-{n:05}");
                    // After the kill the connection fails: that writer is done.
                    let Ok(response) = client.call(create_user(&username)).await else {
                        return;
                    };
                    assert!(matches!(response, Response::User { .. }), "{response:?}");
                    let count = {
                        let mut acked = acked.lock().unwrap();
                        acked.push(username);
                        acked.len()
                    };
                    if count >= enough
                        && let Some(tx) = enough_tx.lock().unwrap().take()
                    {
                        let _ = tx.send(());
                    }
                }
            }));
        }
        enough_rx.await.unwrap();
        Writers { acked, tasks }
    }

    /// Waits for every writer to stop (its connection gone); the acknowledged usernames.
    pub async fn finish(self) -> BTreeSet<String> {
        for task in self.tasks {
            task.await.unwrap();
        }
        self.acked.lock().unwrap().iter().cloned().collect()
    }
}

pub fn create_user(username: &str) -> Request {
    Request::CreateUser {
        user: NewUser {
            username: username.to_owned(),
            ..NewUser::default()
        },
    }
}

/// The usernames starting with `prefix` that the daemon behind `client` has, and those its
/// audit log says were created: equal when no operation was half written.
pub async fn stored_and_audited(
    client: &latchkey_protocol::Client,
    prefix: &str,
) -> (BTreeSet<String>, BTreeSet<String>) {
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
    assert_eq!(page.users.len() as u64, page.total);
    let stored = page
        .users
        .iter()
        .map(|u| u.username.clone())
        .filter(|name| name.starts_with(prefix))
        .collect();
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
    let audited = page
        .events
        .iter()
        .filter(|e| e.event == "user_created")
        .filter_map(|e| e.subject.clone())
        .filter(|name| name.starts_with(prefix))
        .collect();
    (stored, audited)
}
