//! Two replicas on one PostgreSQL database (each its own data dir, port and socket, the same
//! encryption key): what one changes, the other hears about within seconds, through
//! LISTEN/NOTIFY (audit events: polled while a console follows them). Signing keys rotated on one are published and used by the other; a client
//! changed or deleted on one (which replicas keep in memory) is changed on the other; audit
//! events, directory changes and LDAP sync progress on one reach consoles on the other; and
//! after PostgreSQL drops every connection, both recover by themselves.

use std::future::Future;
use std::time::Duration;

use latchkey_protocol::{Client, Event, Request, Response};
use latchkey_tests::TestDaemon;
use latchkey_tests::oidc;
use latchkey_tests::postgres::TestPostgres;
use latchkey_tests::rp::{client, jwt_header};
use reqwest::StatusCode;
use serde_json::Value;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::Instant;

/// How long a replica may take to hear about a change.
const DEADLINE: Duration = Duration::from_secs(5);
const POLL: Duration = Duration::from_millis(50);

/// Polls `check` every 50 ms until it gives a value; fails after [`DEADLINE`].
async fn eventually<T, F: Future<Output = Option<T>>>(
    what: &str,
    mut check: impl FnMut() -> F,
) -> T {
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}: not within {DEADLINE:?}");
        tokio::time::sleep(POLL).await;
    }
}

async fn jwks_kids(t: &TestDaemon) -> Vec<String> {
    let jwks: Value = reqwest::get(format!("{}/.well-known/jwks.json", t.base_url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

/// A confidential client, registered on `t` (so on every replica).
async fn register_client(t: &TestDaemon) -> (String, String) {
    let request = Request::CreateClient {
        client: client("Wiki"),
    };
    match t.client().await.call(request).await.unwrap() {
        Response::ClientWithSecret { client } => {
            (client.client.client_id, client.client_secret.unwrap())
        }
        other => panic!("CreateClient answered {other:?}"),
    }
}

/// The `kid` of an access token from `t`'s token endpoint (client credentials).
async fn token_kid(t: &TestDaemon, (id, secret): &(String, String)) -> String {
    let res = reqwest::Client::new()
        .post(format!("{}/token", t.base_url))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    let token = body["access_token"].as_str().unwrap();
    jwt_header(token)["kid"].as_str().unwrap().to_owned()
}

/// Rotates the signing key on `on` and waits until `other` publishes the new key and signs
/// with it.
async fn rotation_reaches(on: &TestDaemon, other: &TestDaemon, app: &(String, String)) {
    let out = on.cli(&["key", "rotate", "--json"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    let kid = out.json()["keys"][0]["kid"].as_str().unwrap().to_owned();
    eventually(
        "the other replica publishes and signs with the new key",
        || async {
            let published = jwks_kids(other).await.contains(&kid);
            (published && token_kid(other, app).await == kid).then_some(())
        },
    )
    .await;
    // The replica that rotated signs with it too (it did not wait for a notice).
    assert_eq!(token_kid(on, app).await, kid);
}

/// A console subscribed to a replica's events.
struct Console {
    /// Holds the connection open.
    _client: Client,
    events: UnboundedReceiver<Event>,
}

async fn console(t: &TestDaemon) -> Console {
    let client = t.client().await;
    let events = client.take_events().unwrap();
    client.call(Request::Subscribe).await.unwrap();
    Console {
        _client: client,
        events,
    }
}

/// Events on `console` until `done` says the last one was what it waits for.
async fn events_until(
    console: &mut Console,
    what: &str,
    mut done: impl FnMut(&Event) -> bool,
) -> Vec<Event> {
    let deadline = Instant::now() + DEADLINE;
    let mut seen = Vec::new();
    loop {
        let event = tokio::time::timeout_at(deadline, console.events.recv())
            .await
            .unwrap_or_else(|_| panic!("{what}: not within {DEADLINE:?}; saw {seen:?}"))
            .expect("the console's connection stays open");
        let last = done(&event);
        seen.push(event);
        if last {
            return seen;
        }
    }
}

fn user_created(event: &Event, username: &str) -> bool {
    matches!(event, Event::AuditAppended { audit }
        if audit.event == "user_created" && audit.subject.as_deref() == Some(username))
}

/// Creates `username` on `on` and checks that a console on `other` hears of it: the audit
/// event exactly once, and that the directory changed.
async fn user_creation_reaches(on: &TestDaemon, console: &mut Console, username: &str) {
    let out = on.cli(&["user", "create", "--username", username]).await;
    assert_eq!(out.code, 0, "{out:?}");
    // A second user after it: once its event arrives, a repeat of the first would have too.
    let marker = format!("{username}-after");
    let out = on.cli(&["user", "create", "--username", &marker]).await;
    assert_eq!(out.code, 0, "{out:?}");
    let seen = events_until(console, "the other replica's audit events", |e| {
        user_created(e, &marker)
    })
    .await;
    let created: Vec<usize> = (0..seen.len())
        .filter(|&i| user_created(&seen[i], username))
        .collect();
    assert_eq!(
        created.len(),
        1,
        "{username} once, before {marker}: {seen:?}"
    );
    assert!(seen.contains(&Event::DirectoryChanged), "{seen:?}");
}

#[tokio::test]
async fn a_key_rotated_on_one_replica_is_published_and_used_by_the_other() {
    let a = TestDaemon::start_on_postgres().await;
    let b = TestDaemon::start_replica_of(&a).await;
    let app = register_client(&a).await;
    let before = token_kid(&b, &app).await;
    assert_eq!(before, token_kid(&a, &app).await, "one key, shared");

    rotation_reaches(&a, &b, &app).await;
    assert_ne!(token_kid(&b, &app).await, before);
    // And the other way round.
    rotation_reaches(&b, &a, &app).await;
}

#[tokio::test]
async fn consoles_on_one_replica_follow_the_audit_log_and_directory_of_the_other() {
    let a = TestDaemon::start_on_postgres().await;
    let b = TestDaemon::start_replica_of(&a).await;
    // Written while no console on A follows the audit log: A does not read it, and moves on.
    let out = b.cli(&["user", "create", "--username", "early"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    let mut on_a = console(&a).await;
    user_creation_reaches(&b, &mut on_a, "bob").await;
    // And A's own writes after B's reach it too, once each.
    user_creation_reaches(&a, &mut on_a, "erin").await;

    // The replica's own events are announced once too, not again when it hears itself.
    let mut on_b = console(&b).await;
    user_creation_reaches(&b, &mut on_b, "carol").await;
}

#[tokio::test]
async fn ldap_sync_progress_on_one_replica_shows_on_the_others_consoles() {
    let a = TestDaemon::start_on_postgres().await;
    let b = TestDaemon::start_replica_of(&a).await;
    // A directory that is not there: the sync connects, fails, and says so as it goes.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ldap://127.0.0.1:{}", closed.local_addr().unwrap().port());
    drop(closed);
    b.config_set("ldap.url", &url).await;
    b.config_set("ldap.base_dn", "dc=example,dc=com").await;
    b.config_set("ldap.enabled", "true").await;
    let mut on_a = console(&a).await;

    let out = b.cli(&["ldap", "sync"]).await;
    assert_eq!(out.code, 1, "{out:?}");
    let seen = events_until(
        &mut on_a,
        "the other replica's sync progress",
        |e| matches!(e, Event::LdapSyncProgress { progress } if progress.phase == "failed"),
    )
    .await;
    let phases: Vec<&str> = seen
        .iter()
        .filter_map(|e| match e {
            Event::LdapSyncProgress { progress } => Some(progress.phase.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(phases, ["connecting", "failed"], "{seen:?}");
}

#[tokio::test]
async fn replicas_hear_each_other_again_after_postgresql_drops_their_connections() {
    let a = TestDaemon::start_on_postgres().await;
    let b = TestDaemon::start_replica_of(&a).await;
    let app = register_client(&a).await;
    let mut on_a = console(&a).await;
    rotation_reaches(&a, &b, &app).await;
    user_creation_reaches(&b, &mut on_a, "before").await;

    // Every connection of both replicas, the listening ones included (only this test's
    // database: other tests share the server).
    let url = a.config.database_url.as_ref().unwrap().expose().to_owned();
    let dropped = TestPostgres::shared().psql(
        &url,
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE application_name = 'latchkeyd' AND datname = current_database() \
         AND pid <> pg_backend_pid()",
    );
    let dropped: u32 = dropped.trim().parse().unwrap();
    assert!(
        dropped >= 4,
        "two listeners and pooled connections: {dropped}"
    );

    // Each replica hears the first change after the drop by its notice or by the catch-up
    // when its listener is back; either way it is listening again for the second, which
    // only a notice can bring.
    rotation_reaches(&a, &b, &app).await;
    user_creation_reaches(&b, &mut on_a, "after").await;
    rotation_reaches(&a, &b, &app).await;
    user_creation_reaches(&b, &mut on_a, "later").await;
}

#[tokio::test]
async fn a_client_changed_on_one_replica_is_changed_on_the_other_within_moments() {
    let replicas = TestDaemon::start_replicas(2).await;
    let (a, b) = (&replicas[0], &replicas[1]);
    let rp = oidc::create_client(a, &[]).await;
    let grant = [("grant_type", "client_credentials")];
    // `b` reads the client, and keeps it in memory (PostgreSQL replicas cache clients).
    for _ in 0..3 {
        assert_eq!(oidc::token(b, &rp, &grant).await.0, StatusCode::OK);
    }

    let rotated = a.cli(&["client", "rotate-secret", &rp.id, "--json"]).await;
    assert_eq!(rotated.code, 0, "{rotated:?}");
    let new = oidc::Rp {
        id: rp.id.clone(),
        secret: rotated.json()["client_secret"].as_str().unwrap().to_owned(),
    };
    // At once on the replica that wrote; on the other once the notice arrives, far sooner
    // than the cache's 30 s expiry.
    assert_eq!(
        oidc::token(a, &rp, &grant).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(oidc::token(a, &new, &grant).await.0, StatusCode::OK);
    eventually("the old secret refused on the other replica", || async {
        (oidc::token(b, &rp, &grant).await.0 == StatusCode::UNAUTHORIZED).then_some(())
    })
    .await;
    assert_eq!(oidc::token(b, &new, &grant).await.0, StatusCode::OK);

    let deleted = a.cli(&["client", "delete", &rp.id]).await;
    assert_eq!(deleted.code, 0, "{deleted:?}");
    eventually(
        "the deleted client refused on the other replica",
        || async {
            (oidc::token(b, &new, &grant).await.0 == StatusCode::UNAUTHORIZED).then_some(())
        },
    )
    .await;
}
