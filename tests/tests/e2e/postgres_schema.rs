//! The schema on PostgreSQL: replicas starting together on an empty database set it up once
//! (one first signing key, one recorded encryption key), and a database a newer release wrote
//! is refused by this one with advice, and a replica that runs while a newer one migrates the
//! schema past it stays alive but says, at `/readyz`, that it is not ready.

use std::sync::{Arc, Barrier};

use latchkey_daemon::clock::SystemClock;
use latchkey_daemon::config::{DatabaseUrl, Secret};
use latchkey_daemon::idm::{Idm, Oidc};
use latchkey_daemon::sealing::{EncryptionKey, Sealer};
use latchkey_daemon::store::{SCHEMA_VERSION, Store};
use latchkey_tests::TestDaemon;
use latchkey_tests::postgres::TestPostgres;

async fn replica(url: &DatabaseUrl, key: [u8; 32]) -> TestDaemon {
    let url = url.clone();
    TestDaemon::start_with(move |config| {
        config.database_url = Some(url);
        config.encryption_key = Some(Secret::new(key));
    })
    .await
}

async fn jwks(t: &TestDaemon) -> serde_json::Value {
    reqwest::get(format!("{}/.well-known/jwks.json", t.base_url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn replicas_starting_together_on_an_empty_database_set_it_up_once() {
    let url: DatabaseUrl = TestPostgres::shared().fresh_database().parse().unwrap();
    let key: [u8; 32] = rand::random();
    // Four replicas' start-up (schema steps, first signing key) at the same instant, each on
    // a thread of its own, as separate processes would.
    let barrier = Arc::new(Barrier::new(4));
    let starts: Vec<_> = (0..4)
        .map(|_| {
            let (url, barrier) = (url.clone(), Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait();
                let store = Store::open_postgres(url.expose()).unwrap();
                let sealer = Sealer::new(EncryptionKey::from_bytes(key));
                let idm = Idm::with_sealer(store, Arc::new(SystemClock), sealer);
                Oidc::new(idm, "http://localhost:1411").unwrap()
            })
        })
        .collect();
    let started: Vec<Oidc> = starts.into_iter().map(|s| s.join().unwrap()).collect();
    let keys = started[0].list_signing_keys().unwrap();
    assert_eq!(keys.len(), 1, "one first signing key: {keys:?}");
    for oidc in &started {
        assert_eq!(oidc.keys().active_kid(), Some(keys[0].kid.clone()));
    }
    // And a daemon on it starts and publishes that key.
    let t = replica(&url, key).await;
    let published = jwks(&t).await;
    assert_eq!(published["keys"].as_array().unwrap().len(), 1);
    assert_eq!(published["keys"][0]["kid"], keys[0].kid.as_str());
}

#[tokio::test]
async fn a_database_from_a_newer_release_is_refused_with_advice() {
    let postgres = TestPostgres::shared();
    let raw_url = postgres.fresh_database();
    let url: DatabaseUrl = raw_url.parse().unwrap();
    let key: [u8; 32] = rand::random();
    let running = replica(&url, key).await;
    let readyz = || async {
        let res = reqwest::get(format!("{}/readyz", running.base_url))
            .await
            .unwrap();
        (res.status(), res.json::<serde_json::Value>().await.unwrap())
    };
    let (status, body) = readyz().await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["schema"], SCHEMA_VERSION);
    // The version as a newer release would leave it: 8 bytes, little endian.
    let newer: String = (SCHEMA_VERSION + 1)
        .to_le_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    postgres.psql(
        &raw_url,
        &format!("UPDATE kv_meta SET v = '\\x{newer}' WHERE k = 'schema_version'::bytea"),
    );
    // The replica already running (a rolling upgrade left it behind): alive, not ready.
    let (status, body) = readyz().await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["reason"], "schema");
    assert_eq!(
        body["error"],
        format!(
            "the database schema is version {}, and this latchkeyd speaks version \
             {SCHEMA_VERSION}: upgrade this replica",
            SCHEMA_VERSION + 1
        )
    );
    let health = reqwest::get(format!("{}/healthz", running.base_url))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    drop(running);
    let dir = tempfile::tempdir().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut config = latchkey_tests::test_config(&dir.path().join("data"), port);
    config.database_url = Some(url);
    config.encryption_key = Some(Secret::new(key));
    let clock =
        latchkey_daemon::clock::ManualClock::new(time::macros::datetime!(2026-11-23 08:00:00 UTC));
    let err = latchkey_daemon::start_on(&config, std::sync::Arc::new(clock), listener)
        .await
        .expect_err("a newer schema must be refused");
    let message = err.to_string();
    assert!(
        message.contains("newer latchkeyd") && message.contains("upgrade latchkeyd"),
        "{message}"
    );
}
