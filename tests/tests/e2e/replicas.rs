//! Replicas of one deployment on one PostgreSQL database, each a daemon of its own: what a
//! browser or an app starts on one replica, another finishes — a login code and the session
//! it opens, a passkey enrolment and sign-in, an authorization code (single use across them),
//! the first-admin setup link.

use latchkey_tests::TestDaemon;
use latchkey_tests::authenticator::SoftAuthenticator;
use latchkey_tests::http::{browser, csrf_of, get, location, sets_session};
use latchkey_tests::oidc::{self, CB};
use latchkey_tests::passkeys::{
    Browser, assert_signed_in, create_user, login_code, register_finish, register_start,
    sign_in_finish, signed_in_with_code,
};
use reqwest::StatusCode;
use serde_json::json;

/// The same browser (cookie jar) pointed at another replica.
fn on<'a>(t: &'a TestDaemon, b: &Browser<'_>) -> Browser<'a> {
    Browser {
        t,
        client: b.client.clone(),
        csrf: b.csrf.clone(),
    }
}

#[tokio::test]
async fn a_login_code_made_on_one_replica_signs_in_on_another_and_the_session_holds_on_both() {
    let replicas = TestDaemon::start_replicas(2).await;
    let (a, b) = (&replicas[0], &replicas[1]);
    create_user(a, "alice").await;
    let code = login_code(a, "alice").await;

    let mut on_b = Browser::open(b, &format!("/lc/{code}")).await;
    let (status, headers, page) = on_b
        .form(
            "/lc",
            &[("_csrf", on_b.csrf.as_str()), ("code", code.as_str())],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    assert_eq!(location(&headers), "/account");
    assert!(sets_session(&headers));
    assert!(on_b.load("/account").await.contains("alice@example.com"));
    let mut on_a = on(a, &on_b);
    assert!(on_a.load("/account").await.contains("alice@example.com"));

    // Spent on every replica.
    let (status, _, _) = on_a
        .form(
            "/lc",
            &[("_csrf", on_a.csrf.as_str()), ("code", code.as_str())],
        )
        .await;
    assert_ne!(status, StatusCode::SEE_OTHER);

    // Signing out on one replica ends the session on the other.
    let (status, _, _) = on_a.form("/logout", &[("_csrf", on_a.csrf.as_str())]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let res = on_b.client.get(on_b.url("/account")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "signed out everywhere");
}

#[tokio::test]
async fn passkey_ceremonies_started_on_one_replica_finish_on_another_once() {
    let replicas = TestDaemon::start_replicas(2).await;
    let (a, b) = (&replicas[0], &replicas[1]);
    create_user(a, "alice").await;
    // The origin every replica expects is the deployment's public URL.
    let origin = a
        .config
        .public_url
        .as_str()
        .trim_end_matches('/')
        .to_owned();
    let mut auth = SoftAuthenticator::new();

    // Enrolment: started on A, finished on B.
    let signed_in = signed_in_with_code(a, "alice").await;
    let (ceremony, options) = register_start(&signed_in).await;
    let credential = auth.register(&origin, &options).unwrap();
    let done = register_finish(&on(b, &signed_in), &ceremony, &credential).await;
    assert_eq!(done.status, StatusCode::OK, "{done:?}");
    // The same ceremony again, on A: spent.
    let again = register_finish(&signed_in, &ceremony, &credential).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST, "{again:?}");
    assert_eq!(again.body["error"], "ceremony_expired", "{again:?}");

    // Sign-in: started on B, finished on A, then replayed on B.
    let on_b = Browser::open(b, "/login").await;
    let start = on_b.api("/api/passkey/login/start", &json!({})).await;
    assert_eq!(start.status, StatusCode::OK, "{start:?}");
    let ceremony = start.body["ceremony"].as_str().unwrap().to_owned();
    let assertion = auth.sign_in(&origin, &start.body["options"]).unwrap();
    let on_a = on(a, &on_b);
    let done = sign_in_finish(&on_a, &ceremony, &assertion).await;
    assert_signed_in(&on_a, &done, "alice").await;
    let replay = sign_in_finish(&on_b, &ceremony, &assertion).await;
    assert_ne!(replay.status, StatusCode::OK, "{replay:?}");
    assert!(!sets_session(&replay.headers));
}

#[tokio::test]
async fn an_authorization_code_from_one_replica_is_redeemed_on_another_and_only_once() {
    let replicas = TestDaemon::start_replicas(2).await;
    let (a, b) = (&replicas[0], &replicas[1]);
    create_user(a, "alice").await;
    let rp = oidc::create_client(a, &[]).await;
    let client = browser();
    let back = oidc::authorize(b, &client, &oidc::authorize_url(b, &rp, &[])).await;
    assert!(back.starts_with(CB), "{back}");
    let code = oidc::param(&back, "code").expect("a code");

    let (status, tokens) = oidc::exchange(a, &rp, &code).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let claims = oidc::claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(
        claims["iss"],
        a.config.public_url.as_str().trim_end_matches('/')
    );
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let userinfo = |t: &TestDaemon| {
        reqwest::Client::new()
            .get(format!("{}/userinfo", t.base_url))
            .bearer_auth(&access)
            .send()
    };
    assert_eq!(userinfo(b).await.unwrap().status(), StatusCode::OK);

    // Replayed on the other replica: refused, and what the first use issued is revoked.
    let (status, error) = oidc::exchange(b, &rp, &code).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["error"], "invalid_grant");
    assert_eq!(
        userinfo(a).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn the_setup_link_of_one_replica_opens_on_another_until_an_admin_exists() {
    let replicas = TestDaemon::start_replicas(2).await;
    let (a, b) = (&replicas[0], &replicas[1]);
    let link_of = |t: &TestDaemon| t.daemon.setup_link().expect("no admin yet").to_owned();
    let token_a = link_of(a).rsplit('/').next().unwrap().to_owned();
    let token_b = link_of(b).rsplit('/').next().unwrap().to_owned();

    let client = browser();
    let on_b = format!("{}/setup/{token_a}", b.base_url);
    let (status, _, page) = get(&client, &on_b).await;
    assert_eq!(status, StatusCode::OK);
    let form = [
        ("_csrf", csrf_of(&page)),
        ("username", "root".to_owned()),
        ("email", "root@example.com".to_owned()),
    ];
    let res = client.post(&on_b).form(&form).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(a.daemon.idm().counts().unwrap().admins, 1);

    // Every replica's link is dead now, on every replica.
    for (t, token) in [(a, &token_a), (a, &token_b), (b, &token_b)] {
        let (status, _, _) = get(&client, &format!("{}/setup/{token}", t.base_url)).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn every_replica_names_the_shared_database_without_its_password() {
    let replicas = TestDaemon::start_replicas(2).await;
    let password = latchkey_tests::postgres::TestPostgres::shared().password();
    for t in &replicas {
        let out = t.cli(&["status", "--json"]).await;
        assert_eq!(out.code, 0, "{out:?}");
        let database = out.json()["database"].as_str().unwrap().to_owned();
        assert!(
            database.starts_with("PostgreSQL postgres://latchkey:***@127.0.0.1:"),
            "{database}"
        );
        let text = t.cli(&["status"]).await;
        assert!(text.stdout.contains(&database), "{}", text.stdout);
        assert!(!out.stdout.contains(password) && !text.stdout.contains(password));
    }
    // One deployment: a user made through one replica's console is on the other's.
    let out = replicas[0]
        .cli(&["user", "create", "--username", "carol", "--json"])
        .await;
    assert_eq!(out.code, 0, "{out:?}");
    let list = replicas[1].cli(&["user", "list", "--json"]).await;
    assert!(list.stdout.contains("\"carol\""), "{}", list.stdout);
}

#[tokio::test]
async fn a_replica_without_the_deployments_key_refuses_to_start_and_says_where_to_get_it() {
    let replicas = TestDaemon::start_replicas(1).await;
    let url = replicas[0].config.database_url.clone();
    let dir = tempfile::tempdir().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut config = latchkey_tests::test_config(&dir.path().join("data"), port);
    config.database_url = url;
    let clock =
        latchkey_daemon::clock::ManualClock::new(time::macros::datetime!(2026-11-23 08:00:00 UTC));
    let err = latchkey_daemon::start_on(&config, std::sync::Arc::new(clock), listener)
        .await
        .expect_err("a replica without the key must not start");
    let message = err.to_string();
    assert!(
        message.contains("does not exist") && message.contains("copy it from another replica"),
        "{message}"
    );
}

#[tokio::test]
async fn a_refresh_token_raced_on_two_replicas_rotates_once_and_the_reuse_ends_the_family() {
    let replicas = TestDaemon::start_replicas(2).await;
    let (a, b) = (&replicas[0], &replicas[1]);
    create_user(a, "alice").await;
    let rp = oidc::create_client(a, &[]).await;
    let url = oidc::authorize_url(a, &rp, &[("scope", "openid offline_access")]);
    let back = oidc::authorize(a, &browser(), &url).await;
    let code = oidc::param(&back, "code").expect("a code");
    let (status, tokens) = oidc::exchange(b, &rp, &code).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let refresh = tokens["refresh_token"].as_str().expect("a refresh token");

    let form = [("grant_type", "refresh_token"), ("refresh_token", refresh)];
    let (on_a, on_b) = tokio::join!(oidc::token(a, &rp, &form), oidc::token(b, &rp, &form));
    let (winner, loser) = match (on_a.0, on_b.0) {
        (StatusCode::OK, StatusCode::BAD_REQUEST) => (on_a.1, on_b.1),
        (StatusCode::BAD_REQUEST, StatusCode::OK) => (on_b.1, on_a.1),
        other => panic!("one rotation and one refusal, not {other:?}: {on_a:?} {on_b:?}"),
    };
    assert_eq!(loser["error"], "invalid_grant", "{loser}");
    // The reuse was seen: the token the winner got is dead too, on either replica.
    let rotated = winner["refresh_token"].as_str().expect("a rotated token");
    let form = [("grant_type", "refresh_token"), ("refresh_token", rotated)];
    for t in [a, b] {
        let (status, error) = oidc::token(t, &rp, &form).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
        assert_eq!(error["error"], "invalid_grant");
    }
}
