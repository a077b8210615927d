//! The authorization code flow with a stock relying party over real HTTP: the `openidconnect`
//! crate ([`latchkey_tests::rp`]) reads discovery, runs the code flow with PKCE and nonce through
//! sign-in and consent, and verifies what comes back; the response modes, public clients, and a
//! replayed code. Raw HTTP only where the library hides what is checked (status codes, headers,
//! the raw documents).

use latchkey_protocol::oidc::NewClient;
use latchkey_tests::html::{Landing, forms};
use latchkey_tests::rp::{
    Callback, Fixture, REDIRECT_URI, chrono_now, client, jwt_header, jwt_payload, oauth_error,
};
use openidconnect::core::{CoreAuthenticationFlow, CoreJwsSigningAlgorithm, CoreUserInfoClaims};
use openidconnect::{
    CsrfToken, Nonce, OAuth2TokenResponse, PkceCodeVerifier, SubjectIdentifier,
    TokenIntrospectionResponse, TokenResponse,
};
use reqwest::Url;
use reqwest::header::{CACHE_CONTROL, WWW_AUTHENTICATE};
use serde_json::{Value, json};

#[tokio::test]
async fn discovery_is_read_by_the_library_and_advertises_the_contract() {
    let f = Fixture::start().await;
    let m = &f.meta;
    assert_eq!(m.issuer().as_str(), f.t.base_url);
    let base = &f.t.base_url;
    assert!(m.authorization_endpoint().as_str().starts_with(base));
    assert_eq!(
        m.token_endpoint().unwrap().as_str(),
        format!("{base}/token")
    );
    assert!(m.userinfo_endpoint().unwrap().as_str().starts_with(base));
    assert_eq!(
        m.jwks_uri().as_str(),
        format!("{base}/.well-known/jwks.json")
    );
    assert!(!m.jwks().keys().is_empty(), "the library fetched the JWKS");
    assert_eq!(
        m.id_token_signing_alg_values_supported().first(),
        Some(&CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256),
        "RS256 by default"
    );
    let extra = m.additional_metadata();
    assert_eq!(
        extra.authorization_response_iss_parameter_supported,
        Some(true)
    );
    assert!(extra.end_session_endpoint.is_some());
    assert!(extra.introspection_endpoint.is_some());
    assert!(extra.revocation_endpoint.is_some());
    let pkce = extra.code_challenge_methods_supported.clone().unwrap();
    assert_eq!(pkce.first().map(String::as_str), Some("S256"));

    // The raw documents: the same at both well-known names, cacheable, and the JWKS keys
    // carry kid, alg and use.
    let get = |path: &str| f.http.get(format!("{base}{path}")).send();
    let oidc = get("/.well-known/openid-configuration").await.unwrap();
    assert_eq!(oidc.status(), 200);
    let cache = oidc.headers()[CACHE_CONTROL].to_str().unwrap().to_owned();
    assert!(cache.contains("max-age"), "{cache}");
    let oidc: Value = oidc.json().await.unwrap();
    let oauth: Value = get("/.well-known/oauth-authorization-server")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(oidc, oauth);
    for field in [
        "scopes_supported",
        "response_types_supported",
        "response_modes_supported",
        "grant_types_supported",
        "token_endpoint_auth_methods_supported",
        "claims_supported",
        "prompt_values_supported",
    ] {
        assert!(oidc[field].is_array(), "{field} in {oidc:#}");
    }
    for scope in ["openid", "profile", "email", "groups", "offline_access"] {
        assert!(
            oidc["scopes_supported"]
                .as_array()
                .unwrap()
                .contains(&json!(scope)),
            "{scope}"
        );
    }
    let jwks: Value = get("/.well-known/jwks.json")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks["keys"][0]["alg"], "RS256", "RS256 by default: {jwks}");
    for key in jwks["keys"].as_array().unwrap() {
        assert!(key["kid"].is_string() && key["alg"].is_string(), "{key}");
        assert_eq!(key["use"], "sig");
        assert!(
            key.get("d").is_none() && key.get("p").is_none(),
            "no private parts: {key}"
        );
    }
}

#[tokio::test]
async fn the_code_flow_with_pkce_and_nonce_passes_the_library_s_checks() {
    let f = Fixture::start().await;
    let sub = f.user("alice");
    let app = f.confidential("Wiki").await;

    // Not signed in: the authorization request goes through the sign-in page and back.
    let browser = f.browser();
    let req = f.authorize(&app, &["profile", "email"], |r| r);
    let login = browser.go(req.url.as_str()).await;
    let Landing::Page { url: login_url, .. } = &login else {
        panic!("expected the sign-in page, got {login:?}")
    };
    let next = login_url
        .query_pairs()
        .find(|(k, _)| k == "next")
        .map(|(_, v)| v.into_owned());
    assert!(
        next.as_deref()
            .is_some_and(|n| n.starts_with("/authorize?")),
        "the sign-in page carries the request: {login_url}"
    );
    let after = browser.sign_in_at(f.idm(), "alice", &login).await;
    let (url, status, body) = after.page();
    assert_eq!(status, 200, "{url}");
    assert!(
        body.contains("Wiki"),
        "the consent page names the app:\n{body}"
    );
    let landing = browser
        .consent(&Landing::Page { url, status, body }, true)
        .await;
    let cb = landing.callback();
    f.check_callback(&cb, &req);

    let nonce = req.nonce.clone();
    let tokens = f.exchange(&app, req, &cb).await.unwrap();
    assert_eq!(tokens.token_type().as_ref(), "bearer");
    assert!(tokens.expires_in().is_some());
    let mut granted: Vec<String> = tokens
        .scopes()
        .map(|v| v.iter().map(|s| s.to_string()).collect())
        .unwrap_or_default();
    granted.sort();
    assert_eq!(granted, ["email", "openid", "profile"]);
    assert!(
        tokens.refresh_token().is_none(),
        "no offline_access, no refresh token"
    );
    let claims = f.verify(&app, &tokens, &nonce);
    assert_eq!(claims["sub"], sub);
    assert!(
        claims["aud"] == json!(app.id) || claims["aud"] == json!([app.id]),
        "aud: {claims}"
    );
    assert_eq!(claims["azp"], json!(app.id), "azp: {claims}");
    assert!(claims["auth_time"].is_i64(), "auth_time: {claims}");
    assert!(claims["sid"].is_string(), "sid: {claims}");
    assert_eq!(
        claims["amr"],
        json!(["otp"]),
        "a login code is an OTP (RFC 8176)"
    );
    assert_eq!(claims["email"], "alice@example.com");
    assert_eq!(claims["email_verified"], true);
    assert_eq!(claims["preferred_username"], "alice");

    // The library's own view of the same claims.
    let id_token = tokens.id_token().unwrap();
    let clock = f.t.clock.clone();
    let verifier = app
        .rp
        .id_token_verifier()
        .set_time_fn(move || chrono_now(&clock));
    let lib = id_token.claims(&verifier, &nonce).unwrap();
    assert_eq!(lib.subject().as_str(), sub);
    assert_eq!(lib.audiences().len(), 1);
    assert_eq!(lib.audiences()[0].as_str(), app.id);
    assert!(lib.auth_time().is_some());
    assert_eq!(lib.email().map(|e| e.as_str()), Some("alice@example.com"));

    // A wrong nonce is refused by the library.
    assert!(
        id_token
            .claims(&verifier, &Nonce::new("other".into()))
            .is_err()
    );

    // The access token is an RFC 9068 JWT.
    let at = tokens.access_token().secret();
    assert_eq!(jwt_header(at)["typ"], "at+jwt");
    let at_claims = jwt_payload(at);
    assert_eq!(at_claims["sub"], sub);
    assert_eq!(at_claims["client_id"], app.id);
    assert_eq!(at_claims["iss"], f.t.base_url);

    // Userinfo through the library, bound to the ID token's subject.
    let info: CoreUserInfoClaims = app
        .rp
        .user_info(
            tokens.access_token().clone(),
            Some(SubjectIdentifier::new(sub.clone())),
        )
        .unwrap()
        .request_async(&f.http)
        .await
        .unwrap();
    assert_eq!(info.subject().as_str(), sub);
    assert_eq!(info.email().map(|e| e.as_str()), Some("alice@example.com"));
    assert_eq!(info.preferred_username().map(|u| u.as_str()), Some("alice"));
    assert_eq!(
        info.name().and_then(|n| n.get(None)).map(|n| n.as_str()),
        Some("Alice Example")
    );

    // Userinfo also by POST with the token in the body.
    let res = f
        .http
        .post(app.rp.user_info_url().unwrap().as_str())
        .form(&[("access_token", at.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["sub"], sub);

    // Consent is remembered: a second authorization goes straight back. Each authorization
    // is in the audit log, recorded before its code was handed out.
    let again = f.authorize(&app, &["profile", "email"], |r| r);
    let landing = browser.go(again.url.as_str()).await;
    assert!(matches!(landing, Landing::Left(_)), "{landing:?}");
    let audit =
        f.t.cli(&["audit", "list", "--user", "alice", "--json"])
            .await;
    assert_eq!(audit.code, 0, "{audit:?}");
    assert_eq!(
        audit.stdout.matches("\"oidc_authorized\"").count(),
        2,
        "{}",
        audit.stdout
    );
}

#[tokio::test]
async fn response_modes_fragment_and_form_post_carry_code_state_and_iss() {
    let f = Fixture::start().await;
    f.user("alice");
    let app = f
        .app(NewClient {
            skip_consent: true,
            ..client("Wiki")
        })
        .await;
    let browser = f.signed_in("alice").await;

    let req = f.authorize(&app, &[], |r| {
        r.add_extra_param("response_mode", "fragment")
    });
    let landing = browser.go(req.url.as_str()).await;
    let Landing::Left(url) = &landing else {
        panic!("{landing:?}")
    };
    assert!(url.query().is_none() && url.fragment().is_some(), "{url}");
    assert!(
        url.as_str().starts_with(&format!("{REDIRECT_URI}#code=")),
        "{url}"
    );
    let cb = landing.callback();
    f.check_callback(&cb, &req);
    let nonce = req.nonce.clone();
    let tokens = f.exchange(&app, req, &cb).await.unwrap();
    f.verify(&app, &tokens, &nonce);

    let req = f.authorize(&app, &[], |r| {
        r.add_extra_param("response_mode", "form_post")
    });
    // A page that posts the answer to the RP by itself: its CSP lets the form go there.
    let res = browser.http.get(req.url.as_str()).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("form-action 'self' http://localhost:9"),
        "{csp}"
    );
    let body = res.text().await.unwrap();
    assert!(body.contains(r#"data-autosubmit="true""#), "{body}");
    let form = forms(&body)
        .into_iter()
        .find(|f| f.action == REDIRECT_URI)
        .unwrap_or_else(|| panic!("a form posting to the RP:\n{body}"));
    assert_eq!(form.method, "post");
    let field = |n: &str| {
        form.fields
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(field("state").as_deref(), Some(req.state.secret().as_str()));
    assert_eq!(field("iss").as_deref(), Some(f.t.base_url.as_str()));
    let cb = Callback {
        url: Url::parse(REDIRECT_URI).unwrap(),
        params: form.fields.clone(),
    };
    let nonce = req.nonce.clone();
    let tokens = f.exchange(&app, req, &cb).await.unwrap();
    f.verify(&app, &tokens, &nonce);
}

#[tokio::test]
async fn a_public_client_must_use_pkce_and_authenticates_with_none() {
    let f = Fixture::start().await;
    f.user("alice");
    let app = f
        .app(NewClient {
            public: true,
            skip_consent: true,
            ..client("SPA")
        })
        .await;
    assert!(app.secret.is_none());
    let browser = f.signed_in("alice").await;

    // Without PKCE: refused, no code.
    let (url, _, _) = app
        .rp
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .url();
    let cb = browser.go(url.as_str()).await.callback();
    assert_eq!(cb.get("error"), Some("invalid_request"), "{:?}", cb.url);
    assert_eq!(cb.get("code"), None);

    // With PKCE: works with no client secret.
    let tokens = f.login(&app, &browser, &[]).await;
    assert!(tokens.tokens.id_token().is_some());

    // A public client cannot use client_credentials.
    let err = app
        .rp
        .exchange_client_credentials()
        .unwrap()
        .request_async(&f.http)
        .await
        .unwrap_err();
    let code = oauth_error(&err);
    assert!(
        code == "unauthorized_client" || code == "invalid_client",
        "{code}"
    );
}

#[tokio::test]
async fn a_replayed_code_fails_and_revokes_what_it_issued() {
    let f = Fixture::start().await;
    f.user("alice");
    let app = f
        .app(NewClient {
            skip_consent: true,
            ..client("Wiki")
        })
        .await;
    let browser = f.signed_in("alice").await;
    let req = f.authorize(&app, &["offline_access"], |r| r);
    let cb = f.front_channel(&browser, &req).await;
    let verifier = req.verifier.as_ref().unwrap().secret().clone();
    let tokens = f.exchange(&app, req, &cb).await.unwrap();

    let again = app
        .rp
        .exchange_code(cb.code())
        .unwrap()
        .set_pkce_verifier(PkceCodeVerifier::new(verifier))
        .request_async(&f.http)
        .await
        .unwrap_err();
    assert_eq!(oauth_error(&again), "invalid_grant");
    assert!(
        !app.rp
            .introspect(tokens.access_token())
            .request_async(&f.http)
            .await
            .unwrap()
            .active()
    );
    let err = app
        .rp
        .exchange_refresh_token(tokens.refresh_token().unwrap())
        .unwrap()
        .request_async(&f.http)
        .await
        .unwrap_err();
    assert_eq!(oauth_error(&err), "invalid_grant");
    let res = f
        .http
        .get(app.rp.user_info_url().unwrap().as_str())
        .bearer_auth(tokens.access_token().secret())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let www = res.headers()[WWW_AUTHENTICATE].to_str().unwrap();
    assert!(www.contains(r#"error="invalid_token""#), "{www}");
    let audit =
        f.t.cli(&["audit", "list", "--user", "alice", "--json"])
            .await;
    assert!(
        audit.stdout.contains("\"oidc_code_replay\""),
        "{}",
        audit.stdout
    );
}
