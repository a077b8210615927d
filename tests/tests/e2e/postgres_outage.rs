//! PostgreSQL going away under a running daemon: requests fail fast and say so (503 for the
//! browser and the load balancer's health check, the reason on the admin socket), nothing
//! committed is lost, and when the server is back the daemon serves again by itself.

use std::time::{Duration, Instant};

use latchkey_tests::TestDaemon;
use latchkey_tests::oidc;
use latchkey_tests::passkeys::{create_user, signed_in_with_code};
use latchkey_tests::postgres::TestPostgres;
use reqwest::StatusCode;

async fn health(t: &TestDaemon) -> (StatusCode, String) {
    let res = reqwest::get(format!("{}/healthz", t.base_url))
        .await
        .unwrap();
    (res.status(), res.text().await.unwrap())
}

#[tokio::test]
async fn an_outage_is_answered_clearly_and_the_daemon_recovers_by_itself() {
    // A server of its own: this test stops it.
    let postgres = TestPostgres::start();
    // Durable commits, as on a production server (the test servers trade them for speed).
    postgres.psql(&postgres.url(), "ALTER SYSTEM SET synchronous_commit = on");
    postgres.psql(&postgres.url(), "SELECT pg_reload_conf()");
    let url = postgres.fresh_database();
    let config_url = url.clone();
    let t = TestDaemon::start_with(|config| {
        config.database_url = Some(config_url.parse().unwrap());
    })
    .await;
    create_user(&t, "alice").await;
    let rp = oidc::create_client(&t, &[]).await;
    let client_credentials = [("grant_type", "client_credentials")];
    let mut browser = signed_in_with_code(&t, "alice").await;
    assert_eq!(health(&t).await.0, StatusCode::OK);

    postgres.pause();
    let (status, body) = health(&t).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body.contains("PostgreSQL"), "{body}");
    let res = reqwest::get(format!("{}/readyz", t.base_url))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["reason"], "database", "{body}");
    let res = browser
        .client
        .get(browser.url("/account"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("cannot reach its database")
    );
    // Relying apps hear the OAuth way: retry later. (A refresh reads the database; the
    // client's own record may come from the replica's memory, see store/kv/cache.rs.)
    let refresh = [
        ("grant_type", "refresh_token"),
        ("refresh_token", "unknown"),
    ];
    let (status, error) = oidc::token(&t, &rp, &refresh).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{error}");
    assert_eq!(error["error"], "temporarily_unavailable");
    let out = t.cli(&["user", "create", "--username", "bob"]).await;
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("PostgreSQL"), "{out:?}");

    postgres.resume();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = health(&t).await;
        if status == StatusCode::OK {
            break;
        }
        assert!(Instant::now() < deadline, "still failing: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, tokens) = oidc::token(&t, &rp, &client_credentials).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    // The session made before the outage is still there, and writes work again.
    assert!(browser.load("/account").await.contains("alice@example.com"));
    let out = t
        .cli(&["user", "create", "--username", "bob", "--json"])
        .await;
    assert_eq!(out.code, 0, "{out:?}");
    let out = t.cli(&["user", "list", "--json"]).await;
    assert!(out.stdout.contains("alice") && out.stdout.contains("bob"));
}
