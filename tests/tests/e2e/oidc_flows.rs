//! The OpenID Connect endpoints over real HTTP against the real daemon: discovery, the code
//! flow with consent and PKCE, every prompt, the token endpoint's grants and errors, refresh
//! rotation and reuse, userinfo, introspection, revocation, RP-initiated logout, form_post,
//! group restriction and the account page's authorized apps. (The stock relying-party tests
//! with `openidconnect` live in their own files.)

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use latchkey_tests::TestDaemon;

use latchkey_tests::http::{browser, create_user, csrf_of};
use latchkey_tests::oidc::{
    BYE, CB, Rp, VERIFIER, authorize, authorize_url, claims, consent, create_client, exchange,
    hidden, location, param, params_of, setup, sign_in, token, token_refresh, userinfo,
};
use reqwest::header::{CACHE_CONTROL, LOCATION, WWW_AUTHENTICATE};
use reqwest::{Client, StatusCode};
use serde_json::Value;

#[tokio::test]
async fn discovery_and_jwks_are_served_cacheable() {
    let t = TestDaemon::start().await;
    let c = Client::new();
    let res = c
        .get(format!("{}/.well-known/openid-configuration", t.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()[CACHE_CONTROL]
            .to_str()
            .unwrap()
            .contains("max-age")
    );
    let doc: Value = res.json().await.unwrap();
    assert_eq!(doc["issuer"], t.base_url.as_str());
    assert_eq!(doc["token_endpoint"], format!("{}/token", t.base_url));
    assert_eq!(doc["id_token_signing_alg_values_supported"][0], "RS256");
    let same: Value = c
        .get(format!(
            "{}/.well-known/oauth-authorization-server",
            t.base_url
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc, same);
    let jwks: Value = c
        .get(format!("{}/.well-known/jwks.json", t.base_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks["keys"][0]["alg"], "RS256");
}

#[tokio::test]
async fn the_code_flow_signs_in_asks_consent_and_issues_verified_tokens() {
    let (t, rp) = setup().await;
    let b = browser();
    // Not signed in: to the sign-in page, carrying the request.
    let res = b.get(authorize_url(&t, &rp, &[])).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(
        location(&res).starts_with("/login?next=/authorize%3F"),
        "{}",
        location(&res)
    );
    let back = authorize(&t, &b, &authorize_url(&t, &rp, &[])).await;
    assert_eq!(param(&back, "state").as_deref(), Some("st-1"));
    assert_eq!(param(&back, "iss").as_deref(), Some(t.base_url.as_str()));
    let code = param(&back, "code").unwrap();
    let (status, tokens) = exchange(&t, &rp, &code).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["scope"], "openid profile email groups");
    assert!(
        tokens.get("refresh_token").is_none(),
        "no offline_access, no refresh token"
    );
    let id = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["iss"], t.base_url.as_str());
    assert_eq!(id["aud"], rp.id.as_str());
    assert_eq!(id["azp"], rp.id.as_str());
    assert_eq!(id["nonce"], "n-1");
    assert_eq!(id["amr"], serde_json::json!(["otp"]));
    assert_eq!(id["email"], "alice@example.com");
    assert_eq!(id["email_verified"], true);
    assert_eq!(id["preferred_username"], "alice");
    assert!(id["sid"].is_string() && id["auth_time"].is_i64() && id["at_hash"].is_string());
    let access = tokens["access_token"].as_str().unwrap();
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(access.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["typ"], "at+jwt");
    let at = claims(access);
    assert_eq!(at["client_id"], rp.id.as_str());
    assert_eq!(at["sub"], id["sub"]);
    let res = userinfo(&t, access).await;
    assert_eq!(res.status(), 200);
    let info: Value = res.json().await.unwrap();
    assert_eq!(info["sub"], id["sub"]);
    assert_eq!(info["name"], "Alice Example");
    // The code is single use, and a replay revokes what it issued.
    let (status, err) = exchange(&t, &rp, &code).await;
    assert_eq!(
        (status, err["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let res = userinfo(&t, access).await;
    assert_eq!(res.status(), 401);
    assert!(
        res.headers()[WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .contains("error=\"invalid_token\"")
    );
    // Consent is remembered: a second authorization goes straight back.
    let res = b.get(authorize_url(&t, &rp, &[])).send().await.unwrap();
    assert!(location(&res).starts_with(CB), "{}", location(&res));
    // Each authorization is in the audit log (recorded before its code was handed out),
    // and so is the replay.
    let audit = t.cli(&["audit", "list", "--user", "alice", "--json"]).await;
    assert_eq!(audit.code, 0, "{audit:?}");
    assert_eq!(
        audit.stdout.matches("\"oidc_authorized\"").count(),
        2,
        "{}",
        audit.stdout
    );
    assert!(
        audit.stdout.contains("\"oidc_code_replay\""),
        "{}",
        audit.stdout
    );
}

#[tokio::test]
async fn prompts_are_honoured() {
    let (t, rp) = setup().await;
    let b = browser();
    // prompt=none without a session: login_required, back to the client with iss.
    let res = b
        .get(authorize_url(&t, &rp, &[("prompt", "none")]))
        .send()
        .await
        .unwrap();
    let to = location(&res);
    assert!(to.starts_with(CB), "{to}");
    assert_eq!(param(&to, "error").as_deref(), Some("login_required"));
    assert_eq!(param(&to, "iss").as_deref(), Some(t.base_url.as_str()));
    assert_eq!(param(&to, "state").as_deref(), Some("st-1"));
    // Signed in, no consent yet: consent_required.
    sign_in(&t, &b, "alice", "/account").await;
    let res = b
        .get(authorize_url(&t, &rp, &[("prompt", "none")]))
        .send()
        .await
        .unwrap();
    assert_eq!(
        param(&location(&res), "error").as_deref(),
        Some("consent_required")
    );
    // Deny: access_denied.
    let html = b
        .get(authorize_url(&t, &rp, &[]))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let to = consent(&t, &b, &html, "deny").await;
    assert_eq!(param(&to, "error").as_deref(), Some("access_denied"));
    // Allow once; then prompt=none issues a code, prompt=consent asks again, prompt=login
    // sends to sign-in, and none with another value is invalid_request.
    authorize(&t, &b, &authorize_url(&t, &rp, &[])).await;
    let res = b
        .get(authorize_url(&t, &rp, &[("prompt", "none")]))
        .send()
        .await
        .unwrap();
    assert!(
        param(&location(&res), "code").is_some(),
        "{}",
        location(&res)
    );
    let res = b
        .get(authorize_url(&t, &rp, &[("prompt", "consent")]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("consent-allow"));
    let res = b
        .get(authorize_url(&t, &rp, &[("prompt", "login")]))
        .send()
        .await
        .unwrap();
    assert!(
        location(&res).starts_with("/login?next="),
        "{}",
        location(&res)
    );
    assert!(
        !location(&res).contains("prompt%3Dlogin"),
        "{}",
        location(&res)
    );
    let res = b
        .get(authorize_url(&t, &rp, &[("prompt", "none login")]))
        .send()
        .await
        .unwrap();
    assert_eq!(
        param(&location(&res), "error").as_deref(),
        Some("invalid_request")
    );
    // max_age: an old sign-in must be repeated.
    t.clock.advance(time::Duration::seconds(120));
    let res = b
        .get(authorize_url(&t, &rp, &[("max_age", "60")]))
        .send()
        .await
        .unwrap();
    assert!(
        location(&res).starts_with("/login?next="),
        "{}",
        location(&res)
    );
    // POST /authorize is the same request as a GET.
    let res = b
        .post(format!("{}/authorize", t.base_url))
        .form(&params_of(&authorize_url(&t, &rp, &[])))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(
        location(&res).starts_with("/authorize?client_id="),
        "{}",
        location(&res)
    );
}

#[tokio::test]
async fn bad_authorization_requests_get_a_page_or_an_error_redirect() {
    let (t, rp) = setup().await;
    let b = browser();
    let unknown = Rp {
        id: "nope".into(),
        secret: String::new(),
    };
    for url in [
        authorize_url(&t, &unknown, &[]),
        authorize_url(&t, &rp, &[("redirect_uri", "http://evil.example/cb")]),
        authorize_url(&t, &rp, &[("redirect_uri", "")]),
    ] {
        let res = b.get(&url).send().await.unwrap();
        assert_eq!(res.status(), 400, "{url}");
        assert!(res.headers().get(LOCATION).is_none());
        assert!(res.text().await.unwrap().contains("error-message"));
    }
    let res = b
        .get(authorize_url(&t, &rp, &[("response_type", "token")]))
        .send()
        .await
        .unwrap();
    let to = location(&res);
    assert_eq!(
        param(&to, "error").as_deref(),
        Some("unsupported_response_type")
    );
    assert_eq!(param(&to, "iss").as_deref(), Some(t.base_url.as_str()));
}

#[tokio::test]
async fn the_token_endpoint_answers_rfc_errors_and_client_credentials() {
    let (t, rp) = setup().await;
    let c = Client::new();
    let url = format!("{}/token", t.base_url);
    let res = c
        .post(&url)
        .basic_auth(&rp.id, Some("wrong"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(res.headers()[WWW_AUTHENTICATE], "Basic realm=\"latchkey\"");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");
    // client_secret_post works too; a JSON body does not.
    let res = c
        .post(&url)
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", rp.id.as_str()),
            ("client_secret", rp.secret.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let cc: Value = res.json().await.unwrap();
    assert_eq!(
        claims(cc["access_token"].as_str().unwrap())["sub"],
        rp.id.as_str()
    );
    let res = c
        .post(&url)
        .basic_auth(&rp.id, Some(&rp.secret))
        .json(&serde_json::json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "invalid_request"
    );
    for (form, status, error) in [
        (
            vec![("grant_type", "password")],
            400,
            "unsupported_grant_type",
        ),
        (vec![], 400, "invalid_request"),
        (
            vec![("grant_type", "authorization_code")],
            400,
            "invalid_request",
        ),
        (
            vec![
                ("grant_type", "authorization_code"),
                ("code", "nope"),
                ("redirect_uri", CB),
            ],
            400,
            "invalid_grant",
        ),
        (
            vec![("grant_type", "refresh_token"), ("refresh_token", "nope")],
            400,
            "invalid_grant",
        ),
        (
            vec![("grant_type", "client_credentials"), ("scope", "openid")],
            400,
            "invalid_scope",
        ),
    ] {
        let (got, body) = token(&t, &rp, &form).await;
        assert_eq!(
            (got.as_u16(), body["error"].as_str()),
            (status, Some(error)),
            "{form:?}"
        );
    }
    // A wrong PKCE verifier fails, and burns the code.
    let b = browser();
    let back = authorize(&t, &b, &authorize_url(&t, &rp, &[])).await;
    let code = param(&back, "code").unwrap();
    let (status, body) = token(
        &t,
        &rp,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CB),
            ("code_verifier", "x".repeat(43).as_str()),
        ],
    )
    .await;
    assert_eq!(
        (status.as_u16(), body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (status, _) = exchange(&t, &rp, &code).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn refresh_tokens_rotate_and_reuse_revokes_the_family() {
    let (t, rp) = setup().await;
    let b = browser();
    let back = authorize(
        &t,
        &b,
        &authorize_url(&t, &rp, &[("scope", "openid offline_access")]),
    )
    .await;
    let (status, first) = exchange(&t, &rp, &param(&back, "code").unwrap()).await;
    assert_eq!(status, 200, "{first}");
    let r1 = first["refresh_token"].as_str().unwrap().to_owned();
    let refresh = |token: String| {
        let t = &t;
        let rp = &rp;
        async move { token_refresh(t, rp, &token).await }
    };
    let (status, second) = refresh(r1.clone()).await;
    assert_eq!(status, 200, "{second}");
    let r2 = second["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(r1, r2);
    assert_eq!(claims(second["id_token"].as_str().unwrap())["nonce"], "n-1");
    // Reusing the rotated token fails and ends the family: r2 dies too.
    let (status, body) = refresh(r1).await;
    assert_eq!(
        (status.as_u16(), body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (status, _) = refresh(r2).await;
    assert_eq!(status, 400);
    let res = userinfo(&t, second["access_token"].as_str().unwrap()).await;
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn introspection_and_revocation_see_only_the_clients_own_tokens() {
    let (t, rp) = setup().await;
    let other = create_client(&t, &[]).await;
    let b = browser();
    let back = authorize(
        &t,
        &b,
        &authorize_url(&t, &rp, &[("scope", "openid offline_access")]),
    )
    .await;
    let (_, tokens) = exchange(&t, &rp, &param(&back, "code").unwrap()).await;
    let access = tokens["access_token"].as_str().unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let introspect = |who: &Rp, token: &str| {
        let req = Client::new()
            .post(format!("{}/introspect", t.base_url))
            .basic_auth(&who.id, Some(&who.secret))
            .form(&[("token", token)]);
        async move {
            let res = req.send().await.unwrap();
            (res.status(), res.json::<Value>().await.unwrap())
        }
    };
    let (status, info) = introspect(&rp, access).await;
    assert_eq!(status, 200);
    assert_eq!(info["active"], true);
    assert_eq!(info["username"], "alice");
    assert_eq!(introspect(&rp, refresh).await.1["active"], true);
    assert_eq!(introspect(&other, access).await.1["active"], false);
    assert_eq!(introspect(&rp, "garbage").await.1["active"], false);
    // Revoking the access token: inactive, userinfo refuses it; unknown tokens are fine.
    let revoke = |token: &str| {
        let req = Client::new()
            .post(format!("{}/revoke", t.base_url))
            .basic_auth(&rp.id, Some(&rp.secret))
            .form(&[("token", token)]);
        async move { req.send().await.unwrap().status() }
    };
    assert_eq!(revoke(access).await, 200);
    assert_eq!(revoke("unknown").await, 200);
    assert_eq!(introspect(&rp, access).await.1["active"], false);
    assert_eq!(userinfo(&t, access).await.status(), 401);
    // Revoking the refresh token ends the grant.
    assert_eq!(revoke(refresh).await, 200);
    assert_eq!(introspect(&rp, refresh).await.1["active"], false);
    assert_eq!(token_refresh(&t, &rp, refresh).await.0, 400);
    // Missing token: invalid_request; bad secret: invalid_client.
    let res = Client::new()
        .post(format!("{}/introspect", t.base_url))
        .basic_auth(&rp.id, Some("bad"))
        .form(&[("token", access)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let res = Client::new()
        .post(format!("{}/revoke", t.base_url))
        .basic_auth(&rp.id, Some(&rp.secret))
        .form(&[("x", "y")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn end_session_with_a_hint_signs_out_and_revokes_that_clients_tokens() {
    let (t, rp) = setup().await;
    let b = browser();
    let back = authorize(&t, &b, &authorize_url(&t, &rp, &[])).await;
    let (_, tokens) = exchange(&t, &rp, &param(&back, "code").unwrap()).await;
    let id_token = tokens["id_token"].as_str().unwrap();
    // An unregistered post-logout URI is refused with a page.
    let res = b
        .get(format!("{}/end-session", t.base_url))
        .query(&[
            ("id_token_hint", id_token),
            ("post_logout_redirect_uri", "http://evil.example/"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let res = b
        .get(format!("{}/end-session", t.base_url))
        .query(&[
            ("id_token_hint", id_token),
            ("post_logout_redirect_uri", BYE),
            ("state", "bye-1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), format!("{BYE}?state=bye-1"));
    let res = b
        .get(format!("{}/account", t.base_url))
        .send()
        .await
        .unwrap();
    assert!(location(&res).starts_with("/login"), "signed out");
    assert_eq!(
        userinfo(&t, tokens["access_token"].as_str().unwrap())
            .await
            .status(),
        401
    );
}

#[tokio::test]
async fn end_session_without_a_hint_asks_first() {
    let (t, rp) = setup().await;
    let b = browser();
    sign_in(&t, &b, "alice", "/account").await;
    let res = b
        .get(format!("{}/end-session", t.base_url))
        .query(&[
            ("client_id", rp.id.as_str()),
            ("post_logout_redirect_uri", BYE),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("form-action 'self' http://localhost:9"),
        "{csp}"
    );
    let html = res.text().await.unwrap();
    assert!(html.contains("Sign out of Grafana?"), "{html}");
    // Without the CSRF token the confirmation is refused.
    let res = b
        .post(format!("{}/end-session/confirm", t.base_url))
        .form(&[("client_id", rp.id.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let res = b
        .post(format!("{}/end-session/confirm", t.base_url))
        .form(&[
            ("_csrf", csrf_of(&html).as_str()),
            ("client_id", rp.id.as_str()),
            ("post_logout_redirect_uri", BYE),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&res), BYE);
    let res = b
        .get(format!("{}/account", t.base_url))
        .send()
        .await
        .unwrap();
    assert!(location(&res).starts_with("/login"));
}

#[tokio::test]
async fn form_post_answers_with_an_auto_submitting_page() {
    let (t, rp) = setup().await;
    let skip = create_client(&t, &["--skip-consent"]).await;
    let b = browser();
    sign_in(&t, &b, "alice", "/account").await;
    let res = b
        .get(authorize_url(&t, &skip, &[("response_mode", "form_post")]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("form-action 'self' http://localhost:9"),
        "{csp}"
    );
    let html = res.text().await.unwrap();
    assert!(html.contains(r#"action="http://localhost:9/cb""#), "{html}");
    assert!(html.contains(r#"data-autosubmit="true""#));
    let code = hidden(&html, "code").unwrap();
    assert_eq!(hidden(&html, "iss").unwrap(), t.base_url);
    assert_eq!(exchange(&t, &skip, &code).await.0, 200);
    // Fragment mode puts the response after '#'.
    let res = b
        .get(authorize_url(&t, &skip, &[("response_mode", "fragment")]))
        .send()
        .await
        .unwrap();
    assert!(
        location(&res).starts_with(&format!("{CB}#code=")),
        "{}",
        location(&res)
    );
    let _ = rp;
}

#[tokio::test]
async fn a_group_restricted_client_refuses_others_with_a_page() {
    let t = TestDaemon::start().await;
    create_user(t.daemon.idm(), "alice");
    let out = t.cli(&["group", "create", "staff"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    let rp = create_client(&t, &["--group", "staff"]).await;
    let b = browser();
    sign_in(&t, &b, "alice", "/account").await;
    let res = b.get(authorize_url(&t, &rp, &[])).send().await.unwrap();
    assert_eq!(res.status(), 403);
    assert!(res.headers().get(LOCATION).is_none());
    assert!(res.text().await.unwrap().contains("have access to Grafana"));
    let audit = t.cli(&["audit", "list", "--json"]).await;
    assert!(
        audit.stdout.contains("oidc_access_denied"),
        "{}",
        audit.stdout
    );
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

#[tokio::test]
async fn public_clients_need_pkce_and_no_secret() {
    let (t, _) = setup().await;
    let public = create_client(&t, &["--public", "--skip-consent"]).await;
    let b = browser();
    sign_in(&t, &b, "alice", "/account").await;
    let res = b
        .get(authorize_url(
            &t,
            &public,
            &[("code_challenge", ""), ("code_challenge_method", "")],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        param(&location(&res), "error").as_deref(),
        Some("invalid_request")
    );
    let res = b.get(authorize_url(&t, &public, &[])).send().await.unwrap();
    let code = param(&location(&res), "code").unwrap();
    let res = Client::new()
        .post(format!("{}/token", t.base_url))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", public.id.as_str()),
            ("code", code.as_str()),
            ("redirect_uri", CB),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
}
