//! When a grant must end, over real HTTP: the client's group rule, the user's state and the
//! client's state are checked at every refresh, userinfo and introspection; signing out (one
//! session, everywhere, or by an admin) and disabling a user end the refresh-token families
//! issued in those sessions; skip-consent apps are listed and revocable like the others; and a
//! refresh-token chain has an absolute limit however often it is rotated. A disabled user's and a
//! deleted client's tokens stop working, and revoking an app on the account page ends its tokens.

use latchkey_daemon::clock::Clock;
use latchkey_daemon::idm::Actor;
use latchkey_protocol::oidc::NewClient;
use latchkey_protocol::{Request, Response};
use latchkey_tests::TestDaemon;
use latchkey_tests::rp::{Fixture, client, oauth_error};
use openidconnect::TokenIntrospectionResponse;
use reqwest::header::WWW_AUTHENTICATE;
use reqwest::{Client, StatusCode};
use serde_json::Value;

use latchkey_tests::audit::{audit_detail, audit_events};
use latchkey_tests::http::{browser, create_user, csrf_of};
use latchkey_tests::oidc::{
    Rp, authorize, authorize_url, claims, create_client, exchange, location, param, setup, sign_in,
    token_refresh, userinfo,
};

const DAY: time::Duration = time::Duration::days(1);

/// An authorization with `offline_access` in `b` (signing in as alice if it has no session):
/// the token response.
pub(crate) async fn offline_tokens(t: &TestDaemon, b: &Client, rp: &Rp) -> Value {
    let url = authorize_url(t, rp, &[("scope", "openid profile offline_access")]);
    let back = authorize(t, b, &url).await;
    let code = param(&back, "code").unwrap_or_else(|| panic!("no code in {back}"));
    let (status, tokens) = exchange(t, rp, &code).await;
    assert_eq!(status, 200, "{tokens}");
    assert!(tokens["refresh_token"].is_string(), "{tokens}");
    tokens
}

pub(crate) fn text<'a>(tokens: &'a Value, name: &str) -> &'a str {
    tokens[name]
        .as_str()
        .unwrap_or_else(|| panic!("no {name} in {tokens}"))
}

/// Refreshes and expects success; the new token response.
pub(crate) async fn refreshed(t: &TestDaemon, rp: &Rp, tokens: &Value) -> Value {
    let (status, next) = token_refresh(t, rp, text(tokens, "refresh_token")).await;
    assert_eq!(status, 200, "{next}");
    next
}

/// Refreshes and expects `invalid_grant`; its description.
async fn refused(t: &TestDaemon, rp: &Rp, tokens: &Value) -> String {
    let (status, body) = token_refresh(t, rp, text(tokens, "refresh_token")).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "{body}"
    );
    body["error_description"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Userinfo refuses the access token with 401 `invalid_token`.
async fn userinfo_refused(t: &TestDaemon, tokens: &Value) {
    let res = userinfo(t, text(tokens, "access_token")).await;
    assert_eq!(res.status(), 401);
    let challenge = res.headers()[WWW_AUTHENTICATE].to_str().unwrap().to_owned();
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
}

async fn introspect(t: &TestDaemon, rp: &Rp, token: &str) -> Value {
    Client::new()
        .post(format!("{}/introspect", t.base_url))
        .basic_auth(&rp.id, Some(&rp.secret))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn cli_ok(t: &TestDaemon, args: &[&str]) -> Value {
    let mut args = args.to_vec();
    args.push("--json");
    let out = t.cli(&args).await;
    assert_eq!(out.code, 0, "{args:?}: {out:?}");
    if out.stdout.trim().is_empty() {
        Value::Null
    } else {
        out.json()
    }
}

/// The `oidc_refresh_refused` events' reasons, newest first.
async fn refusal_reasons(t: &TestDaemon) -> Vec<String> {
    audit_events(t)
        .await
        .iter()
        .filter(|e| e["event"] == "oidc_refresh_refused")
        .filter_map(|e| audit_detail(e, "reason").map(str::to_owned))
        .collect()
}

/// Alice in group `staff`, and a client restricted to it.
async fn staff_only() -> (TestDaemon, Rp) {
    let t = TestDaemon::start().await;
    create_user(t.daemon.idm(), "alice");
    cli_ok(&t, &["group", "create", "staff"]).await;
    cli_ok(&t, &["group", "create", "ops"]).await;
    cli_ok(&t, &["group", "add-member", "staff", "alice"]).await;
    let rp = create_client(&t, &["--group", "staff"]).await;
    (t, rp)
}

#[tokio::test]
async fn leaving_the_clients_group_ends_refresh_userinfo_and_introspection() {
    let (t, rp) = staff_only().await;
    let b = browser();
    let tokens = offline_tokens(&t, &b, &rp).await;
    let tokens = refreshed(&t, &rp, &tokens).await;
    assert_eq!(
        introspect(&t, &rp, text(&tokens, "access_token")).await["active"],
        true
    );
    cli_ok(&t, &["group", "remove-member", "staff", "alice"]).await;
    userinfo_refused(&t, &tokens).await;
    assert_eq!(
        introspect(&t, &rp, text(&tokens, "access_token")).await["active"],
        false
    );
    assert_eq!(
        introspect(&t, &rp, text(&tokens, "refresh_token")).await["active"],
        false
    );
    let why = refused(&t, &rp, &tokens).await;
    assert!(why.contains("no longer use this application"), "{why}");
    assert_eq!(refusal_reasons(&t).await, ["not_in_allowed_group"]);
    // The family ended: joining again does not bring it back.
    cli_ok(&t, &["group", "add-member", "staff", "alice"]).await;
    refused(&t, &rp, &tokens).await;
}

#[tokio::test]
async fn changing_the_clients_groups_ends_refresh_and_userinfo() {
    let (t, rp) = staff_only().await;
    let b = browser();
    let tokens = offline_tokens(&t, &b, &rp).await;
    cli_ok(&t, &["client", "update", &rp.id, "--group", "ops"]).await;
    userinfo_refused(&t, &tokens).await;
    refused(&t, &rp, &tokens).await;
    // Opening the client to everyone does not revive the ended family.
    cli_ok(&t, &["client", "update", &rp.id, "--all-users"]).await;
    refused(&t, &rp, &tokens).await;
}

#[tokio::test]
async fn disabling_a_user_ends_their_refresh_tokens_for_good() {
    let (t, rp) = staff_only().await;
    let b = browser();
    let tokens = offline_tokens(&t, &b, &rp).await;
    cli_ok(&t, &["user", "disable", "alice"]).await;
    userinfo_refused(&t, &tokens).await;
    refused(&t, &rp, &tokens).await;
    // Enabled again, the old family stays ended: the user signs in anew.
    cli_ok(&t, &["user", "enable", "alice"]).await;
    refused(&t, &rp, &tokens).await;
    userinfo_refused(&t, &tokens).await;
    let events = audit_events(&t).await;
    let ended = events
        .iter()
        .find(|e| e["event"] == "oidc_refresh_tokens_revoked")
        .expect("the ended families are audited");
    assert_eq!(audit_detail(ended, "reason"), Some("user_disabled"));
    assert_eq!(audit_detail(ended, "families"), Some("1"));
}

/// Two browsers signed in as alice (two sessions), each with its own refresh-token family.
async fn two_sessions() -> (TestDaemon, Rp, [(Client, Value); 2]) {
    let t = TestDaemon::start().await;
    create_user(t.daemon.idm(), "alice");
    let rp = create_client(&t, &[]).await;
    let (a, b) = (browser(), browser());
    let tokens_a = offline_tokens(&t, &a, &rp).await;
    sign_in(&t, &b, "alice", "/account").await;
    let tokens_b = offline_tokens(&t, &b, &rp).await;
    let sid = |tokens: &Value| claims(text(tokens, "id_token"))["sid"].clone();
    assert_ne!(sid(&tokens_a), sid(&tokens_b), "two browser sessions");
    (t, rp, [(a, tokens_a), (b, tokens_b)])
}

async fn account_csrf(t: &TestDaemon, b: &Client) -> String {
    let html = b
        .get(format!("{}/account", t.base_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    csrf_of(&html)
}

#[tokio::test]
async fn signing_out_ends_that_sessions_families_and_no_others() {
    let (t, rp, [(a, tokens_a), (_b, tokens_b)]) = two_sessions().await;
    let csrf = account_csrf(&t, &a).await;
    let res = a
        .post(format!("{}/logout", t.base_url))
        .form(&[("_csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    refused(&t, &rp, &tokens_a).await;
    userinfo_refused(&t, &tokens_a).await;
    // The other session's family lives on.
    refreshed(&t, &rp, &tokens_b).await;
    let events = audit_events(&t).await;
    let ended = events
        .iter()
        .find(|e| e["event"] == "oidc_refresh_tokens_revoked")
        .expect("audited");
    assert_eq!(audit_detail(ended, "reason"), Some("signed_out"));
    let sid_a = claims(text(&tokens_a, "id_token"))["sid"].clone();
    assert_eq!(audit_detail(ended, "session"), sid_a.as_str());
}

#[tokio::test]
async fn signing_out_everywhere_ends_every_family() {
    let (t, rp, [(a, tokens_a), (_b, tokens_b)]) = two_sessions().await;
    let csrf = account_csrf(&t, &a).await;
    let res = a
        .post(format!("{}/logout/all", t.base_url))
        .form(&[("_csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    refused(&t, &rp, &tokens_a).await;
    refused(&t, &rp, &tokens_b).await;
    userinfo_refused(&t, &tokens_b).await;
    let events = audit_events(&t).await;
    let ended = events
        .iter()
        .find(|e| e["event"] == "oidc_refresh_tokens_revoked")
        .expect("audited");
    assert_eq!(audit_detail(ended, "reason"), Some("signed_out_everywhere"));
    assert_eq!(audit_detail(ended, "families"), Some("2"));
}

#[tokio::test]
async fn an_admin_revoking_a_session_ends_its_families() {
    let (t, rp, [(_a, tokens_a), (_b, tokens_b)]) = two_sessions().await;
    let sid_a = claims(text(&tokens_a, "id_token"))["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    cli_ok(&t, &["session", "revoke", "alice", &sid_a]).await;
    refused(&t, &rp, &tokens_a).await;
    userinfo_refused(&t, &tokens_a).await;
    refreshed(&t, &rp, &tokens_b).await;
}

#[tokio::test]
async fn a_skip_consent_app_is_listed_and_revoking_it_ends_its_tokens() {
    let t = TestDaemon::start().await;
    create_user(t.daemon.idm(), "alice");
    let rp = create_client(&t, &["--skip-consent"]).await;
    let b = browser();
    let tokens = offline_tokens(&t, &b, &rp).await;
    let listed = cli_ok(&t, &["user", "authorizations", "alice"]).await;
    let apps = listed["authorizations"].as_array().unwrap();
    assert_eq!(apps.len(), 1, "{listed}");
    assert_eq!(apps[0]["client_id"], rp.id.as_str());
    assert_eq!(apps[0]["implied"], true);
    let page = b
        .get(format!("{}/account", t.base_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(&format!("/account/apps/{}/revoke", rp.id)),
        "{page}"
    );
    // A second sign-in to the app records nothing new; asking for more scopes does.
    let granted = || async {
        audit_events(&t)
            .await
            .iter()
            .filter(|e| e["event"] == "oidc_consent_granted")
            .count()
    };
    let same = [("scope", "openid profile offline_access")];
    authorize(&t, &b, &authorize_url(&t, &rp, &same)).await;
    assert_eq!(granted().await, 1);
    authorize(
        &t,
        &b,
        &authorize_url(&t, &rp, &[("scope", "openid email")]),
    )
    .await;
    assert_eq!(granted().await, 2);
    let listed = cli_ok(&t, &["user", "authorizations", "alice"]).await;
    assert_eq!(
        listed["authorizations"][0]["scopes"],
        serde_json::json!(["email", "offline_access", "openid", "profile"])
    );
    cli_ok(&t, &["user", "revoke-authorization", "alice", &rp.id]).await;
    refused(&t, &rp, &tokens).await;
    userinfo_refused(&t, &tokens).await;
    let listed = cli_ok(&t, &["user", "authorizations", "alice"]).await;
    assert!(listed["authorizations"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn a_refresh_token_chain_ends_at_the_clients_limit_however_often_rotated() {
    let t = TestDaemon::start().await;
    create_user(t.daemon.idm(), "alice");
    let rp = create_client(&t, &[]).await;
    let b = browser();
    let mut tokens = offline_tokens(&t, &b, &rp).await;
    // Rotated every day, each token well within its 30-day lifetime: fine for 89 days.
    for _ in 0..89 {
        t.clock.advance(DAY);
        tokens = refreshed(&t, &rp, &tokens).await;
    }
    t.clock.advance(DAY * 2);
    let why = refused(&t, &rp, &tokens).await;
    assert!(why.contains("sign in again"), "{why}");

    // A client's own limit, set from the CLI.
    let short = create_client(&t, &["--refresh-max-lifetime", "2d"]).await;
    let shown = cli_ok(&t, &["client", "show", &short.id]).await;
    assert_eq!(shown["lifetimes"]["refresh_max_secs"], 2 * 86_400);
    let tokens = offline_tokens(&t, &b, &short).await;
    t.clock.advance(DAY);
    let tokens = refreshed(&t, &short, &tokens).await;
    // The newest token's expiry is capped at the chain's end, a day away.
    let exp = introspect(&t, &short, text(&tokens, "refresh_token")).await["exp"]
        .as_i64()
        .unwrap();
    let now = t.clock.now().unix_timestamp();
    assert_eq!(exp - now, 86_400);
    t.clock.advance(DAY - time::Duration::seconds(1));
    let tokens = refreshed(&t, &short, &tokens).await;
    t.clock.advance(time::Duration::seconds(1));
    let why = refused(&t, &short, &tokens).await;
    assert!(why.contains("sign in again"), "{why}");
    assert!(
        refusal_reasons(&t)
            .await
            .contains(&"refresh_chain_limit".to_owned())
    );
}

#[tokio::test]
async fn an_ldap_sync_that_drops_the_user_from_the_group_ends_refresh() {
    use latchkey_tests::slapd::{ADMIN_DN, ADMIN_PASSWORD, BASE_DN, Slapd};
    let slapd = Slapd::start().await;
    slapd
        .add_user("alice", "Alice", "Liddell", "alice@example.org")
        .await;
    slapd
        .add_user("bob", "Bob", "Builder", "bob@example.org")
        .await;
    slapd.add_group("staff", &["alice", "bob"]).await;
    let t = TestDaemon::start().await;
    for (key, value) in [
        ("ldap.url", slapd.url().as_str()),
        ("ldap.bind_dn", ADMIN_DN),
        ("ldap.bind_password", ADMIN_PASSWORD),
        ("ldap.base_dn", BASE_DN),
        ("ldap.enabled", "true"),
    ] {
        cli_ok(&t, &["config", "set", key, value]).await;
    }
    cli_ok(&t, &["ldap", "sync"]).await;
    let rp = create_client(&t, &["--group", "staff"]).await;
    let b = browser();
    let tokens = offline_tokens(&t, &b, &rp).await;
    let tokens = refreshed(&t, &rp, &tokens).await;
    let bob_only = Slapd::user_dn("bob");
    slapd
        .replace(&Slapd::group_dn("staff"), "member", &[bob_only.as_str()])
        .await;
    cli_ok(&t, &["ldap", "sync"]).await;
    refused(&t, &rp, &tokens).await;
    userinfo_refused(&t, &tokens).await;
    assert_eq!(refusal_reasons(&t).await, ["not_in_allowed_group"]);
}

#[tokio::test]
async fn a_disabled_user_s_tokens_stop_working() {
    let f = Fixture::start().await;
    f.user("alice");
    let app = f
        .app(NewClient {
            skip_consent: true,
            ..client("Wiki")
        })
        .await;
    let browser = f.signed_in("alice").await;
    let tokens = f.login(&app, &browser, &["offline_access"]).await;
    f.idm()
        .set_user_disabled(&Actor::system(), "alice", true)
        .unwrap();

    let res = f
        .http
        .get(app.rp.user_info_url().unwrap().as_str())
        .bearer_auth(tokens.access().secret())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let intro = app
        .rp
        .introspect(tokens.access())
        .request_async(&f.http)
        .await
        .unwrap();
    assert!(!intro.active());
    let err = app
        .rp
        .exchange_refresh_token(tokens.refresh())
        .unwrap()
        .request_async(&f.http)
        .await
        .unwrap_err();
    assert_eq!(oauth_error(&err), "invalid_grant");

    // Userinfo without any token: 401 and a Bearer challenge.
    let res = f
        .http
        .get(app.rp.user_info_url().unwrap().as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert!(
        res.headers()[WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
}

#[tokio::test]
async fn deleting_a_client_ends_its_tokens() {
    let f = Fixture::start().await;
    f.user("alice");
    let app = f.confidential("Wiki").await;
    let browser = f.signed_in("alice").await;
    let tokens = f.login(&app, &browser, &["offline_access"]).await;
    let Response::Done = f
        .admin(Request::DeleteClient {
            client_id: app.id.clone(),
        })
        .await
    else {
        panic!("DeleteClient")
    };
    let res = f
        .http
        .get(app.rp.user_info_url().unwrap().as_str())
        .bearer_auth(tokens.access().secret())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let err = app
        .rp
        .exchange_refresh_token(tokens.refresh())
        .unwrap()
        .request_async(&f.http)
        .await
        .unwrap_err();
    assert_eq!(oauth_error(&err), "invalid_client");
    // Its consents went with it: the user is no longer listed as having authorized it.
    let Response::Authorizations { authorizations } = f
        .admin(Request::ListAuthorizations {
            user: "alice".into(),
        })
        .await
    else {
        panic!("ListAuthorizations")
    };
    assert!(authorizations.is_empty(), "{authorizations:?}");
}

#[tokio::test]
async fn the_account_page_lists_authorized_apps_and_revoking_ends_their_tokens() {
    let (t, rp) = setup().await;
    let b = browser();
    let back = authorize(&t, &b, &authorize_url(&t, &rp, &[])).await;
    let (_, tokens) = exchange(&t, &rp, &param(&back, "code").unwrap()).await;
    let html = b
        .get(format!("{}/account", t.base_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("Authorized apps") && html.contains("Grafana"),
        "{html}"
    );
    let res = b
        .post(format!("{}/account/apps/{}/revoke", t.base_url, rp.id))
        .form(&[("_csrf", csrf_of(&html).as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&res), "/account?done=app_revoked");
    assert_eq!(
        userinfo(&t, tokens["access_token"].as_str().unwrap())
            .await
            .status(),
        401
    );
    // The next authorization asks again.
    let res = b.get(authorize_url(&t, &rp, &[])).send().await.unwrap();
    assert_eq!(res.status(), 200);
}
