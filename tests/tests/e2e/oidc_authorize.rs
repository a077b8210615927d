//! The authorization endpoint's choices over real HTTP, driven by a stock relying party:
//! `prompt` (none, login, select_account, consent), `max_age`, remembered and revoked consent,
//! and the refusals — a group-restricted client, an unregistered redirect URI or unknown client
//! (a page, never a redirect), and errors that go back to a valid redirect URI with `iss`.

use std::time::Duration;

use latchkey_protocol::oidc::NewClient;
use latchkey_protocol::{Request, Response};
use latchkey_tests::html::{Landing, consent_form};
use latchkey_tests::rp::{Fixture, REDIRECT_URI, client, jwt_payload};
use openidconnect::core::{CoreAuthPrompt, CoreAuthenticationFlow};
use openidconnect::{CsrfToken, Nonce, RedirectUrl};
use reqwest::StatusCode;
use reqwest::header::LOCATION;
use serde_json::json;

#[tokio::test]
async fn prompt_none_answers_login_required_or_consent_required_without_a_page() {
    let f = Fixture::start().await;
    f.user("alice");
    let app = f.confidential("Wiki").await;

    let browser = f.browser();
    let req = f.authorize(&app, &[], |r| r.add_prompt(CoreAuthPrompt::None));
    let cb = browser.go(req.url.as_str()).await.callback();
    f.check_callback(&cb, &req);
    assert_eq!(cb.get("error"), Some("login_required"));
    assert_eq!(cb.get("code"), None);

    browser.sign_in(f.idm(), "alice", None).await;
    let req = f.authorize(&app, &[], |r| r.add_prompt(CoreAuthPrompt::None));
    let cb = browser.go(req.url.as_str()).await.callback();
    f.check_callback(&cb, &req);
    assert_eq!(cb.get("error"), Some("consent_required"));

    // After consent, prompt=none gives a code silently.
    f.login(&app, &browser, &[]).await;
    let req = f.authorize(&app, &[], |r| r.add_prompt(CoreAuthPrompt::None));
    let cb = browser.go(req.url.as_str()).await.callback();
    f.check_callback(&cb, &req);
    let nonce = req.nonce.clone();
    let tokens = f.exchange(&app, req, &cb).await.unwrap();
    f.verify(&app, &tokens, &nonce);

    // none with another value is invalid_request.
    let req = f.authorize(&app, &[], |r| {
        r.add_prompt(CoreAuthPrompt::None)
            .add_prompt(CoreAuthPrompt::Login)
    });
    let cb = browser.go(req.url.as_str()).await.callback();
    f.check_callback(&cb, &req);
    assert_eq!(cb.get("error"), Some("invalid_request"));
}

#[tokio::test]
async fn prompt_login_and_select_account_force_a_new_sign_in() {
    let f = Fixture::start().await;
    f.user("alice");
    let app = f
        .app(NewClient {
            skip_consent: true,
            ..client("Wiki")
        })
        .await;
    let browser = f.signed_in("alice").await;
    let first = f.login(&app, &browser, &[]).await;
    let first_auth = jwt_payload(&first.id_token().to_string())["auth_time"]
        .as_i64()
        .unwrap();

    for prompt in [CoreAuthPrompt::Login, CoreAuthPrompt::SelectAccount] {
        f.t.clock.advance(time::Duration::minutes(5));
        let req = f.authorize(&app, &[], |r| r.add_prompt(prompt.clone()));
        let login = browser.go(req.url.as_str()).await;
        let (url, _, _) = match &login {
            Landing::Page { url, status, body } => (url.clone(), *status, body.clone()),
            other => panic!("{prompt:?}: expected the sign-in page, got {other:?}"),
        };
        assert_eq!(url.path(), "/login", "{prompt:?}");
        // The sign-in satisfies the prompt: coming back must not ask again, or it would loop.
        let next = url
            .query_pairs()
            .find(|(k, _)| k == "next")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        assert!(!next.contains("prompt"), "{prompt:?}: {next}");
        let cb = browser
            .sign_in_at(f.idm(), "alice", &login)
            .await
            .callback();
        f.check_callback(&cb, &req);
        let nonce = req.nonce.clone();
        let tokens = f.exchange(&app, req, &cb).await.unwrap();
        let claims = f.verify(&app, &tokens, &nonce);
        assert!(
            claims["auth_time"].as_i64().unwrap() >= first_auth + 300,
            "{prompt:?}: auth_time is the new sign-in: {claims}"
        );
    }
}

#[tokio::test]
async fn max_age_sends_an_old_session_back_to_sign_in() {
    let f = Fixture::start().await;
    f.user("alice");
    let app = f
        .app(NewClient {
            skip_consent: true,
            ..client("Wiki")
        })
        .await;
    let browser = f.signed_in("alice").await;

    // Fresh enough: a code straight away, and auth_time is in the ID token.
    let req = f.authorize(&app, &[], |r| r.set_max_age(Duration::from_secs(600)));
    let cb = f.front_channel(&browser, &req).await;
    let nonce = req.nonce.clone();
    let tokens = f.exchange(&app, req, &cb).await.unwrap();
    let claims = f.verify(&app, &tokens, &nonce);
    let auth_time = claims["auth_time"].as_i64().unwrap();

    f.t.clock.advance(time::Duration::minutes(11));
    let req = f.authorize(&app, &[], |r| r.set_max_age(Duration::from_secs(600)));
    let login = browser.go(req.url.as_str()).await;
    let cb = browser
        .sign_in_at(f.idm(), "alice", &login)
        .await
        .callback();
    f.check_callback(&cb, &req);
    let nonce = req.nonce.clone();
    let tokens = f.exchange(&app, req, &cb).await.unwrap();
    let claims = f.verify(&app, &tokens, &nonce);
    assert!(
        claims["auth_time"].as_i64().unwrap() >= auth_time + 660,
        "{claims}"
    );

    // max_age with prompt=none and a stale session: login_required.
    f.t.clock.advance(time::Duration::minutes(11));
    let req = f.authorize(&app, &[], |r| {
        r.set_max_age(Duration::from_secs(600))
            .add_prompt(CoreAuthPrompt::None)
    });
    let cb = browser.go(req.url.as_str()).await.callback();
    assert_eq!(cb.get("error"), Some("login_required"));
}

#[tokio::test]
async fn consent_is_remembered_asked_again_for_new_scopes_and_forced_by_prompt_consent() {
    let f = Fixture::start().await;
    f.user("alice");
    let app = f.confidential("Wiki").await;
    let browser = f.signed_in("alice").await;

    // First time: the consent page; denying sends access_denied back.
    let req = f.authorize(&app, &["profile"], |r| r);
    let page = browser.go(req.url.as_str()).await;
    let (_, _, body) = match &page {
        Landing::Page { url, status, body } => (url.clone(), *status, body.clone()),
        other => panic!("expected the consent page, got {other:?}"),
    };
    assert!(
        body.contains("Wiki") && consent_form(&body).is_some(),
        "{body}"
    );
    let cb = browser.consent(&page, false).await.callback();
    f.check_callback(&cb, &req);
    assert_eq!(cb.get("error"), Some("access_denied"));

    // Allowed once…
    f.login(&app, &browser, &["profile"]).await;
    // …remembered: straight to the callback.
    let req = f.authorize(&app, &["profile"], |r| r);
    let landing = browser.go(req.url.as_str()).await;
    assert!(
        matches!(landing, Landing::Left(_)),
        "consent remembered: {landing:?}"
    );

    // A new scope asks again.
    let req = f.authorize(&app, &["profile", "email"], |r| r);
    let (_, _, body) = browser.go(req.url.as_str()).await.page();
    assert!(
        consent_form(&body).is_some(),
        "new scope → consent page:\n{body}"
    );

    // prompt=consent asks even though it was granted.
    let req = f.authorize(&app, &["profile"], |r| {
        r.add_prompt(CoreAuthPrompt::Consent)
    });
    let (_, _, body) = browser.go(req.url.as_str()).await.page();
    assert!(
        consent_form(&body).is_some(),
        "prompt=consent → consent page:\n{body}"
    );

    // The grant is listed for the user and can be revoked, after which consent is asked again.
    let listed = f
        .admin(Request::ListAuthorizations {
            user: "alice".into(),
        })
        .await;
    let Response::Authorizations { authorizations } = listed else {
        panic!("{listed:?}")
    };
    assert_eq!(authorizations.len(), 1);
    assert_eq!(authorizations[0].client_id, app.id);
    f.admin(Request::RevokeAuthorization {
        user: "alice".into(),
        client_id: app.id.clone(),
    })
    .await;
    let req = f.authorize(&app, &["profile"], |r| r);
    let (_, _, body) = browser.go(req.url.as_str()).await.page();
    assert!(
        consent_form(&body).is_some(),
        "revoked → asked again:\n{body}"
    );

    // A skip-consent client never asks.
    let trusted = f
        .app(NewClient {
            skip_consent: true,
            ..client("Intranet")
        })
        .await;
    let req = f.authorize(&trusted, &["profile", "email", "groups"], |r| r);
    let landing = browser.go(req.url.as_str()).await;
    assert!(
        matches!(landing, Landing::Left(_)),
        "skip consent: {landing:?}"
    );
}

#[tokio::test]
async fn a_group_restricted_client_refuses_others_with_a_page() {
    let f = Fixture::start().await;
    f.user("alice");
    f.user("bob");
    f.group("staff", &["alice"]);
    let app = f
        .app(NewClient {
            allowed_groups: vec!["staff".into()],
            skip_consent: true,
            ..client("Payroll")
        })
        .await;

    let bob = f.signed_in("bob").await;
    let req = f.authorize(&app, &["groups"], |r| r);
    let res = bob.http.get(req.url.as_str()).send().await.unwrap();
    assert_eq!(res.status(), 403);
    assert!(!res.headers().contains_key(LOCATION));
    let body = res.text().await.unwrap();
    assert!(body.contains("have access to Payroll"), "{body}");
    let audit = f.t.cli(&["audit", "list", "--json"]).await;
    assert!(
        audit.stdout.contains("oidc_access_denied"),
        "{}",
        audit.stdout
    );

    let alice = f.signed_in("alice").await;
    let tokens = f.login(&app, &alice, &["groups"]).await;
    let claims = f.verify(&app, &tokens.tokens, &tokens.nonce);
    assert_eq!(claims["groups"], json!(["staff"]));
}

#[tokio::test]
async fn an_unregistered_redirect_uri_or_unknown_client_shows_a_page_and_never_redirects() {
    let f = Fixture::start().await;
    f.user("alice");
    let app = f.confidential("Wiki").await;
    let browser = f.signed_in("alice").await;

    let mut evil = app.rp.clone();
    evil = evil
        .set_redirect_uri(RedirectUrl::new("http://localhost:9/callback/../evil".into()).unwrap());
    for redirect in [
        "",
        "https://evil.example/callback",
        "http://localhost:9/callback/",
        "http://localhost:9/callbacK",
    ] {
        let (mut url, _, _) = evil
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .url();
        // Set by hand: the library always sends its own, and "" stands for none at all.
        let query: Vec<(String, String)> = url
            .query_pairs()
            .into_owned()
            .filter(|(k, _)| k != "redirect_uri")
            .collect();
        url.query_pairs_mut().clear().extend_pairs(query);
        if !redirect.is_empty() {
            url.query_pairs_mut().append_pair("redirect_uri", redirect);
        }
        let res = browser.http.get(url.as_str()).send().await.unwrap();
        assert_eq!(res.status(), 400, "{redirect}");
        assert!(!res.headers().contains_key(LOCATION), "{redirect}");
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let body = res.text().await.unwrap();
        assert!(body.contains("error-message"), "{redirect}: {body}");
    }

    let stranger = f.rp("no-such-client", Some("x"));
    let (url, _, _) = stranger
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .url();
    let res = browser.http.get(url.as_str()).send().await.unwrap();
    assert_eq!(res.status(), 400);
    assert!(!res.headers().contains_key(LOCATION));
    assert!(res.text().await.unwrap().contains("error-message"));
}

#[tokio::test]
async fn authorization_errors_go_back_to_a_valid_redirect_uri_with_iss() {
    let f = Fixture::start().await;
    f.user("alice");
    let app = f.confidential("Wiki").await;
    let browser = f.signed_in("alice").await;
    let authz = f.meta.authorization_endpoint().url().clone();

    let base = |extra: &[(&str, &str)]| {
        let mut url = authz.clone();
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("client_id", &app.id)
                .append_pair("redirect_uri", REDIRECT_URI)
                .append_pair("state", "st")
                .append_pair(
                    "code_challenge",
                    "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
                )
                .append_pair("code_challenge_method", "S256");
            for (k, v) in extra {
                q.append_pair(k, v);
            }
        }
        url
    };
    for (extra, error) in [
        (
            vec![("response_type", "token"), ("scope", "openid")],
            "unsupported_response_type",
        ),
        (vec![("scope", "openid")], "invalid_request"),
        (
            vec![
                ("response_type", "code"),
                ("scope", "openid"),
                ("request", "eyJhbGciOiJub25lIn0.e30."),
            ],
            "request_not_supported",
        ),
        (
            vec![
                ("response_type", "code"),
                ("scope", "openid"),
                ("scope", "openid"),
            ],
            "invalid_request",
        ),
        (
            vec![
                ("response_type", "code"),
                ("scope", "openid"),
                ("code_challenge_method", "S512"),
            ],
            "invalid_request",
        ),
    ] {
        let cb = browser.go(base(&extra).as_str()).await.callback();
        assert_eq!(cb.get("error"), Some(error), "{extra:?} → {}", cb.url);
        assert_eq!(cb.get("state"), Some("st"));
        assert_eq!(cb.get("iss"), Some(f.t.base_url.as_str()));
    }

    // POST works like GET.
    let form: Vec<(String, String)> = base(&[
        ("response_type", "code"),
        ("scope", "openid"),
        ("nonce", "n"),
    ])
    .query_pairs()
    .into_owned()
    .collect();
    let res = browser
        .http
        .post(authz.clone())
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let to = res.headers()[LOCATION].to_str().unwrap().to_owned();
    assert!(to.starts_with("/authorize?client_id="), "{to}");
    let landing = browser.follow(authz, res).await;
    // Consent is needed the first time.
    let (_, status, body) = landing.page();
    assert_eq!(status, 200);
    assert!(consent_form(&body).is_some(), "{body}");
}
