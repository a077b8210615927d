//! The OpenID Connect provider with a stock relying party: the `openidconnect` crate
//! (4.1) does discovery, builds the authorization requests, exchanges codes, verifies ID
//! tokens against the JWKS (signature, iss, aud, exp, nonce; `at_hash` as its docs
//! recommend), calls userinfo, refreshes, introspects and revokes. The "browser" is a
//! reqwest client with a cookie jar that signs in with a login code and follows the
//! daemon's redirects until one leaves for the RP's redirect URI, where the test reads
//! `code`, `state` and `iss`. The test daemon's clock is manual, so the RP's verifier is
//! given the same clock.
//!
//! Raw HTTP is used only where the library hides what is checked: status codes,
//! `WWW-Authenticate`, `Cache-Control`, and error pages that must not redirect.

use std::time::Duration;

use latchkey_daemon::idm::Actor;
use latchkey_protocol::oidc::{ClaimOwner, NewClient};
use latchkey_protocol::{AuditQuery, Request, Response};
use latchkey_tests::html::{Landing, consent_form, forms};
use latchkey_tests::rp::{
    App, Callback, Fixture, LOGOUT_URI, REDIRECT_URI, chrono_now, client, jwt_header, jwt_payload,
    oauth_error,
};
use openidconnect::core::{
    CoreAuthPrompt, CoreAuthenticationFlow, CoreJwsSigningAlgorithm, CoreRevocableToken,
    CoreUserInfoClaims,
};
use openidconnect::{
    AccessToken, AuthType, CsrfToken, EndSessionUrl, LogoutRequest, Nonce, OAuth2TokenResponse,
    PkceCodeVerifier, PostLogoutRedirectUrl, RedirectUrl, Scope, SubjectIdentifier,
    TokenIntrospectionResponse, TokenResponse,
};
use reqwest::Url;
use reqwest::header::{CACHE_CONTROL, LOCATION, WWW_AUTHENTICATE};
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------
// Discovery and the code flow

#[tokio::test]
async fn discovery_is_read_by_the_library_and_advertises_the_contract() {
    let f = Fixture::start().await;
    let m = &f.meta;
    assert_eq!(m.issuer().as_str(), f.t.base_url);
    let base = &f.t.base_url;
    assert!(m.authorization_endpoint().as_str().starts_with(base));
    assert!(m.token_endpoint().unwrap().as_str().starts_with(base));
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
    let claims = f.verify(&app, &tokens, &nonce);
    assert_eq!(claims["sub"], sub);
    assert!(
        claims["aud"] == json!(app.id) || claims["aud"] == json!([app.id]),
        "aud: {claims}"
    );
    assert!(claims["auth_time"].is_i64(), "auth_time: {claims}");
    assert!(claims["sid"].is_string(), "sid: {claims}");
    assert_eq!(
        claims["amr"],
        json!(["otp"]),
        "a login code is an OTP (RFC 8176)"
    );
    assert_eq!(claims["email"], "alice@example.com");
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
    assert!(info.name().is_some());

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

    // No offline_access: no refresh token (or, if the provider issues one anyway, it works).
    if let Some(rt) = tokens.refresh_token() {
        app.rp
            .exchange_refresh_token(rt)
            .unwrap()
            .request_async(&f.http)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn the_token_response_is_not_cached_and_client_secret_post_works() {
    let f = Fixture::start().await;
    f.user("alice");
    let mut app = f.confidential("Wiki").await;
    app.rp = app.rp.set_auth_type(AuthType::RequestBody);
    let browser = f.signed_in("alice").await;
    // An unknown scope is ignored (OpenID Connect Core §3.1.2.1), and the token
    // response says what was granted.
    let req = f.authorize(&app, &["wat"], |r| r);
    let cb = f.front_channel(&browser, &req).await;
    let nonce = req.nonce.clone();
    let tokens = f.exchange(&app, req, &cb).await.unwrap();
    f.verify(&app, &tokens, &nonce);
    let granted: Vec<String> = tokens
        .scopes()
        .map(|v| v.iter().map(|s| s.to_string()).collect())
        .unwrap_or_default();
    assert!(!granted.contains(&"wat".to_owned()), "{granted:?}");
    assert!(granted.contains(&"openid".to_owned()), "{granted:?}");

    // Raw: a token response is JSON with Cache-Control: no-store.
    let res = f
        .http
        .post(app.rp.token_uri().unwrap().as_str())
        .basic_auth(&app.id, app.secret.as_deref())
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()[CACHE_CONTROL], "no-store");
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
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
    let cb = landing.callback();
    f.check_callback(&cb, &req);
    let nonce = req.nonce.clone();
    let tokens = f.exchange(&app, req, &cb).await.unwrap();
    f.verify(&app, &tokens, &nonce);

    let req = f.authorize(&app, &[], |r| {
        r.add_extra_param("response_mode", "form_post")
    });
    let (_, status, body) = browser.go(req.url.as_str()).await.page();
    assert_eq!(status, 200);
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

// ---------------------------------------------------------------------------------------
// Refresh, introspection, revocation, end-session

#[tokio::test]
async fn refresh_tokens_rotate_and_reuse_revokes_the_whole_family() {
    let f = Fixture::start().await;
    let sub = f.user("alice");
    let app = f.confidential("Wiki").await;
    let browser = f.signed_in("alice").await;
    let first = f
        .login(&app, &browser, &["offline_access", "profile"])
        .await;
    let rt1 = first.refresh().clone();

    // Refresh: new access and refresh tokens, a new ID token for the same subject.
    let second = app
        .rp
        .exchange_refresh_token(&rt1)
        .unwrap()
        .request_async(&f.http)
        .await
        .unwrap();
    let rt2 = second
        .refresh_token()
        .expect("a rotated refresh token")
        .clone();
    assert_ne!(rt2.secret(), rt1.secret());
    assert_ne!(second.access_token().secret(), first.access().secret());
    if let Some(id) = second.id_token() {
        // A refreshed ID token has no nonce requirement; its subject is the same.
        let clock = f.t.clock.clone();
        let verifier = app
            .rp
            .id_token_verifier()
            .set_time_fn(move || chrono_now(&clock));
        let claims = id.claims(&verifier, |_: Option<&Nonce>| Ok(())).unwrap();
        assert_eq!(claims.subject().as_str(), sub);
    }
    let info: CoreUserInfoClaims = app
        .rp
        .user_info(second.access_token().clone(), None)
        .unwrap()
        .request_async(&f.http)
        .await
        .unwrap();
    assert_eq!(info.subject().as_str(), sub);

    // A refresh cannot widen the grant.
    let err = app
        .rp
        .exchange_refresh_token(&rt2)
        .unwrap()
        .add_scope(Scope::new("email".into()))
        .request_async(&f.http)
        .await
        .unwrap_err();
    assert_eq!(oauth_error(&err), "invalid_scope");

    // The rotated-out token fails…
    let err = app
        .rp
        .exchange_refresh_token(&rt1)
        .unwrap()
        .request_async(&f.http)
        .await
        .unwrap_err();
    assert_eq!(oauth_error(&err), "invalid_grant");
    // …and its reuse revoked the family: the newest refresh token is dead too, and so is
    // the access token of the grant.
    let err = app
        .rp
        .exchange_refresh_token(&rt2)
        .unwrap()
        .request_async(&f.http)
        .await
        .unwrap_err();
    assert_eq!(oauth_error(&err), "invalid_grant");
    let intro = app
        .rp
        .introspect(second.access_token())
        .request_async(&f.http)
        .await
        .unwrap();
    assert!(
        !intro.active(),
        "the grant's access token is revoked after refresh-token reuse"
    );

    // The audit log says why.
    let audit = f
        .admin(Request::ListAudit {
            query: AuditQuery {
                user: None,
                limit: 100,
                before: None,
            },
        })
        .await;
    assert!(
        format!("{audit:?}").contains("refresh_token_reuse"),
        "{audit:?}"
    );
}

#[tokio::test]
async fn introspection_shows_a_client_only_its_own_tokens() {
    let f = Fixture::start().await;
    let sub = f.user("alice");
    let a = f.confidential("A").await;
    let b = f.confidential("B").await;
    let browser = f.signed_in("alice").await;
    let tokens = f.login(&a, &browser, &["offline_access", "email"]).await;

    let intro =
        a.rp.introspect(tokens.access())
            .request_async(&f.http)
            .await
            .unwrap();
    assert!(intro.active());
    assert_eq!(intro.client_id().map(|c| c.as_str()), Some(a.id.as_str()));
    assert_eq!(intro.sub(), Some(sub.as_str()));
    assert!(intro.exp().is_some());
    let scopes: Vec<String> = intro
        .scopes()
        .map(|s| s.iter().map(|s| s.to_string()).collect())
        .unwrap_or_default();
    assert!(
        scopes.contains(&"openid".to_owned()) && scopes.contains(&"email".to_owned()),
        "{scopes:?}"
    );

    // The refresh token can be introspected too (as the token it is).
    let rt = AccessToken::new(tokens.refresh().secret().clone());
    let intro =
        a.rp.introspect(&rt)
            .set_token_type_hint("refresh_token")
            .request_async(&f.http)
            .await
            .unwrap();
    assert!(intro.active());

    // Another client sees nothing; nor does anyone for garbage.
    for token in [tokens.access(), &rt] {
        let intro = b.rp.introspect(token).request_async(&f.http).await.unwrap();
        assert!(!intro.active(), "B must not see A's tokens");
    }
    let junk = AccessToken::new("not-a-token".into());
    assert!(
        !a.rp
            .introspect(&junk)
            .request_async(&f.http)
            .await
            .unwrap()
            .active()
    );

    // Introspection needs client authentication.
    let url = f
        .meta
        .additional_metadata()
        .introspection_endpoint
        .clone()
        .unwrap();
    let res = f
        .http
        .post(&url)
        .form(&[("token", tokens.access().secret().as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "invalid_client"
    );
    let res = f
        .http
        .post(&url)
        .basic_auth(&a.id, Some("wrong"))
        .form(&[("token", tokens.access().secret().as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert!(res.headers().contains_key(WWW_AUTHENTICATE));
}

#[tokio::test]
async fn revocation_ends_access_and_refresh_tokens() {
    let f = Fixture::start().await;
    f.user("alice");
    let app = f.confidential("Wiki").await;
    let browser = f.signed_in("alice").await;
    let tokens = f.login(&app, &browser, &["offline_access"]).await;

    // The library refuses to revoke over plain http (RFC 7009 requires TLS), so the
    // request is made by hand, authenticated like the library would (client_secret_basic).
    let refused = app
        .rp
        .revoke_token(CoreRevocableToken::from(tokens.access().clone()));
    assert!(
        refused.is_err(),
        "openidconnect refuses an http revocation URL"
    );
    assert_eq!(
        f.revoke(&app, tokens.access().secret(), Some("access_token"))
            .await,
        200
    );
    assert!(
        !app.rp
            .introspect(tokens.access())
            .request_async(&f.http)
            .await
            .unwrap()
            .active()
    );
    let res = f
        .http
        .get(app.rp.user_info_url().unwrap().as_str())
        .bearer_auth(tokens.access().secret())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let www = res.headers()[WWW_AUTHENTICATE].to_str().unwrap().to_owned();
    assert!(
        www.starts_with("Bearer") && www.contains(r#"error="invalid_token""#),
        "{www}"
    );

    assert_eq!(f.revoke(&app, tokens.refresh().secret(), None).await, 200);
    let err = app
        .rp
        .exchange_refresh_token(tokens.refresh())
        .unwrap()
        .request_async(&f.http)
        .await
        .unwrap_err();
    assert_eq!(oauth_error(&err), "invalid_grant");

    // Unknown tokens: 200 all the same (RFC 7009 §2.2).
    assert_eq!(f.revoke(&app, "nonsense", None).await, 200);
    // Revocation needs client authentication.
    let url = f
        .meta
        .additional_metadata()
        .revocation_endpoint
        .clone()
        .unwrap();
    let res = f
        .http
        .post(&url)
        .form(&[("token", "nonsense")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    // Another client cannot revoke this client's tokens.
    let other = f.confidential("Other").await;
    let fresh = f.login(&app, &browser, &["offline_access"]).await;
    assert_eq!(f.revoke(&other, fresh.access().secret(), None).await, 200);
    assert!(
        app.rp
            .introspect(fresh.access())
            .request_async(&f.http)
            .await
            .unwrap()
            .active()
    );
}

#[tokio::test]
async fn end_session_with_a_hint_signs_out_redirects_and_ends_the_client_s_tokens() {
    let f = Fixture::start().await;
    f.user("alice");
    let app = f.confidential("Wiki").await;
    let browser = f.signed_in("alice").await;
    let tokens = f.login(&app, &browser, &["offline_access"]).await;
    let end_session = EndSessionUrl::new(
        f.meta
            .additional_metadata()
            .end_session_endpoint
            .clone()
            .unwrap(),
    )
    .unwrap();

    // An unregistered post_logout_redirect_uri is not followed.
    let url = LogoutRequest::from(end_session.clone())
        .set_id_token_hint(tokens.id_token())
        .set_post_logout_redirect_uri(
            PostLogoutRedirectUrl::new("http://localhost:9/elsewhere".into()).unwrap(),
        )
        .http_get_url();
    let landing = browser.go(url.as_str()).await;
    assert!(matches!(landing, Landing::Page { .. }), "{landing:?}");

    let state = CsrfToken::new_random();
    let url = LogoutRequest::from(end_session)
        .set_id_token_hint(tokens.id_token())
        .set_post_logout_redirect_uri(PostLogoutRedirectUrl::new(LOGOUT_URI.into()).unwrap())
        .set_state(state.clone())
        .http_get_url();
    match browser.go(url.as_str()).await {
        Landing::Left(to) => {
            assert!(to.as_str().starts_with(LOGOUT_URI), "{to}");
            assert_eq!(
                to.query_pairs()
                    .find(|(k, _)| k == "state")
                    .map(|(_, v)| v.into_owned()),
                Some(state.secret().clone())
            );
        }
        other => panic!("expected the redirect to the logout URI, got {other:?}"),
    }

    // The browser is signed out, and the client's tokens for that session are over.
    let (url, _, _) = browser
        .go(&format!("{}/account", f.t.base_url))
        .await
        .page();
    assert_eq!(url.path(), "/login");
    assert!(
        !app.rp
            .introspect(tokens.access())
            .request_async(&f.http)
            .await
            .unwrap()
            .active()
    );
    let err = app
        .rp
        .exchange_refresh_token(tokens.refresh())
        .unwrap()
        .request_async(&f.http)
        .await
        .unwrap_err();
    assert_eq!(oauth_error(&err), "invalid_grant");
}

#[tokio::test]
async fn end_session_without_a_hint_asks_for_confirmation() {
    let f = Fixture::start().await;
    f.user("alice");
    let app = f.confidential("Wiki").await;
    let browser = f.signed_in("alice").await;
    f.login(&app, &browser, &[]).await;
    let end_session = f
        .meta
        .additional_metadata()
        .end_session_endpoint
        .clone()
        .unwrap();

    let (url, status, body) = browser.go(&end_session).await.page();
    assert_eq!(status, 200);
    let form = forms(&body)
        .into_iter()
        .find(|f| f.method == "post" && f.fields.iter().any(|(n, _)| n == "_csrf"))
        .unwrap_or_else(|| panic!("a confirmation form with CSRF:\n{body}"));
    // Still signed in until confirmed.
    let (account, _, _) = browser
        .go(&format!("{}/account", f.t.base_url))
        .await
        .page();
    assert_eq!(account.path(), "/account");

    // Without the CSRF token: refused.
    let action = url.join(&form.action).unwrap_or(url.clone());
    let res = browser
        .http
        .post(action)
        .form(&[("x", "y")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);

    browser.submit(&url, &form, None).await;
    let (account, _, _) = browser
        .go(&format!("{}/account", f.t.base_url))
        .await
        .page();
    assert_eq!(account.path(), "/login", "signed out after confirming");
}

// ---------------------------------------------------------------------------------------
// prompt, max_age, consent

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

// ---------------------------------------------------------------------------------------
// Refusals

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
    let (_, status, body) = bob.go(req.url.as_str()).await.page();
    assert_eq!(status, 403);
    assert!(body.contains("Payroll"), "{body}");
    assert!(body.contains("access"), "{body}");

    let alice = f.signed_in("alice").await;
    let tokens = f.login(&app, &alice, &["groups"]).await;
    let claims = f.verify(&app, &tokens.tokens, &tokens.nonce);
    assert_eq!(claims["groups"], json!(["staff"]));
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
    match browser.go(url.as_str()).await {
        Landing::Left(to) => {
            let cb = Landing::Left(to).callback();
            assert_eq!(cb.get("error"), Some("invalid_request"), "{:?}", cb.url);
            assert_eq!(cb.get("code"), None);
        }
        Landing::Page { status, .. } => assert!(status.is_client_error()),
    }

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
async fn an_unregistered_redirect_uri_or_unknown_client_shows_a_page_and_never_redirects() {
    let f = Fixture::start().await;
    f.user("alice");
    let app = f.confidential("Wiki").await;
    let browser = f.signed_in("alice").await;

    let mut evil = app.rp.clone();
    evil = evil
        .set_redirect_uri(RedirectUrl::new("http://localhost:9/callback/../evil".into()).unwrap());
    for redirect in [
        "https://evil.example/callback",
        "http://localhost:9/callback/",
        "http://localhost:9/callbacK",
    ] {
        let rp = evil
            .clone()
            .set_redirect_uri(RedirectUrl::new(redirect.into()).unwrap());
        let (url, _, _) = rp
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .url();
        let res = browser.http.get(url.as_str()).send().await.unwrap();
        assert_eq!(res.status(), 400, "{redirect}");
        assert!(!res.headers().contains_key(LOCATION), "{redirect}");
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
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
    assert!(res.status().is_client_error());
    assert!(!res.headers().contains_key(LOCATION));
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
    let landing = browser.follow(authz, res).await;
    // Consent is needed the first time.
    let (_, status, body) = landing.page();
    assert_eq!(status, 200);
    assert!(consent_form(&body).is_some(), "{body}");
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
}

#[tokio::test]
async fn token_endpoint_errors_are_rfc_6749_shaped() {
    let f = Fixture::start().await;
    f.user("alice");
    let app = f
        .app(NewClient {
            skip_consent: true,
            ..client("Wiki")
        })
        .await;
    let other = f
        .app(NewClient {
            skip_consent: true,
            ..client("Other")
        })
        .await;
    let token_url = app.rp.token_uri().unwrap().as_str().to_owned();
    let secret = app.secret.clone().unwrap();
    let post = |auth: Option<(&str, &str)>, form: Vec<(&str, String)>| {
        let mut req = f.http.post(&token_url).form(&form);
        if let Some((id, s)) = auth {
            req = req.basic_auth(id, Some(s));
        }
        req.send()
    };
    async fn check(res: reqwest::Response, status: u16, error: &str) -> reqwest::header::HeaderMap {
        let headers = res.headers().clone();
        assert_eq!(res.status().as_u16(), status, "{error}");
        assert_eq!(headers[CACHE_CONTROL], "no-store", "{error}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"], error, "{body}");
        headers
    }

    // invalid_client: wrong secret by Basic → 401 with WWW-Authenticate Basic.
    let res = post(
        Some((&app.id, "wrong")),
        vec![("grant_type", "client_credentials".into())],
    )
    .await
    .unwrap();
    let headers = check(res, 401, "invalid_client").await;
    let www = headers[WWW_AUTHENTICATE].to_str().unwrap();
    assert!(www.starts_with("Basic"), "{www}");
    // …by client_secret_post → 401 too.
    let res = post(
        None,
        vec![
            ("grant_type", "client_credentials".into()),
            ("client_id", app.id.clone()),
            ("client_secret", "wrong".into()),
        ],
    )
    .await
    .unwrap();
    check(res, 401, "invalid_client").await;
    // …unknown client.
    let res = post(
        Some(("nobody", "x")),
        vec![("grant_type", "client_credentials".into())],
    )
    .await
    .unwrap();
    check(res, 401, "invalid_client").await;
    // …no authentication at all.
    let res = post(None, vec![("grant_type", "client_credentials".into())])
        .await
        .unwrap();
    check(res, 401, "invalid_client").await;

    let auth = Some((app.id.as_str(), secret.as_str()));
    let res = post(auth, vec![("grant_type", "password".into())])
        .await
        .unwrap();
    check(res, 400, "unsupported_grant_type").await;
    let res = post(auth, vec![]).await.unwrap();
    check(res, 400, "invalid_request").await;
    let res = post(
        auth,
        vec![
            ("grant_type", "client_credentials".into()),
            ("scope", "openid profile".into()),
        ],
    )
    .await
    .unwrap();
    check(res, 400, "invalid_scope").await;
    let res = post(
        auth,
        vec![
            ("grant_type", "authorization_code".into()),
            ("code", "nope".into()),
            ("redirect_uri", REDIRECT_URI.into()),
        ],
    )
    .await
    .unwrap();
    check(res, 400, "invalid_grant").await;
    let res = post(auth, vec![("grant_type", "authorization_code".into())])
        .await
        .unwrap();
    check(res, 400, "invalid_request").await;
    let res = post(
        auth,
        vec![
            ("grant_type", "refresh_token".into()),
            ("refresh_token", "nope".into()),
        ],
    )
    .await
    .unwrap();
    check(res, 400, "invalid_grant").await;
    // A JSON body is not a form.
    let res = f
        .http
        .post(&token_url)
        .basic_auth(&app.id, Some(&secret))
        .json(&json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .unwrap();
    check(res, 400, "invalid_request").await;

    // A code: wrong verifier, no verifier, wrong redirect_uri, wrong client — each invalid_grant.
    let browser = f.signed_in("alice").await;
    for what in ["wrong verifier", "missing verifier", "wrong redirect_uri"] {
        let req = f.authorize(&app, &[], |r| r);
        let cb = f.front_channel(&browser, &req).await;
        let code = cb.get("code").unwrap().to_owned();
        let verifier = req.verifier.as_ref().unwrap().secret().clone();
        let mut form = vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code.clone()),
        ];
        match what {
            "wrong verifier" => {
                form.push(("redirect_uri", REDIRECT_URI.into()));
                form.push(("code_verifier", "x".repeat(43)));
            }
            "missing verifier" => form.push(("redirect_uri", REDIRECT_URI.into())),
            _ => {
                form.push(("redirect_uri", LOGOUT_URI.into()));
                form.push(("code_verifier", verifier.clone()));
            }
        }
        let res = post(auth, form).await.unwrap();
        let status = res.status();
        let body: Value = res.json().await.unwrap();
        assert_eq!(
            (status.as_u16(), body["error"].as_str()),
            (400, Some("invalid_grant")),
            "{what}: {body}"
        );
    }
    // Another client's code.
    let req = f.authorize(&app, &[], |r| r);
    let cb = f.front_channel(&browser, &req).await;
    let err = other
        .rp
        .exchange_code(cb.code())
        .unwrap()
        .set_pkce_verifier(PkceCodeVerifier::new(
            req.verifier.as_ref().unwrap().secret().clone(),
        ))
        .request_async(&f.http)
        .await
        .unwrap_err();
    assert_eq!(oauth_error(&err), "invalid_grant");

    // Through the library, the same errors surface as typed errors.
    let err = f
        .rp(&app.id, Some("wrong"))
        .exchange_client_credentials()
        .unwrap()
        .request_async(&f.http)
        .await
        .unwrap_err();
    assert_eq!(oauth_error(&err), "invalid_client");
}

#[tokio::test]
async fn client_credentials_gives_an_access_token_only() {
    let f = Fixture::start().await;
    let app = f.confidential("Batch").await;
    let tokens = app
        .rp
        .exchange_client_credentials()
        .unwrap()
        .request_async(&f.http)
        .await
        .unwrap();
    assert!(tokens.refresh_token().is_none());
    assert!(tokens.id_token().is_none());
    let claims = jwt_payload(tokens.access_token().secret());
    assert_eq!(claims["client_id"], app.id);
    let intro = app
        .rp
        .introspect(tokens.access_token())
        .request_async(&f.http)
        .await
        .unwrap();
    assert!(intro.active());
}

// ---------------------------------------------------------------------------------------
// Keys

#[tokio::test]
async fn rotating_the_key_keeps_live_tokens_verifiable() {
    let mut f = Fixture::start().await;
    f.user("alice");
    let app = f
        .app(NewClient {
            skip_consent: true,
            ..client("Wiki")
        })
        .await;
    let browser = f.signed_in("alice").await;
    let before = f.login(&app, &browser, &["offline_access"]).await;
    let old_kid = jwt_header(&before.id_token().to_string())["kid"].clone();

    let out = f.t.cli(&["key", "rotate", "--json"]).await;
    assert_eq!(out.code, 0, "{out:?}");

    // The RP fetches the JWKS again: the old token still verifies, the new one too, with
    // a different key.
    f.rediscover().await;
    let app = App {
        rp: f.rp(&app.id, app.secret.as_deref()),
        ..app
    };
    f.verify(&app, &before.tokens, &before.nonce);
    assert!(
        app.rp
            .introspect(before.access())
            .request_async(&f.http)
            .await
            .unwrap()
            .active()
    );
    let after = f.login(&app, &browser, &[]).await;
    let new_kid = jwt_header(&after.id_token().to_string())["kid"].clone();
    assert_ne!(old_kid, new_kid);
    // A refresh after rotation is signed by the new key.
    let refreshed = app
        .rp
        .exchange_refresh_token(before.refresh())
        .unwrap()
        .request_async(&f.http)
        .await
        .unwrap();
    assert_eq!(
        jwt_header(refreshed.access_token().secret())["kid"],
        new_kid
    );

    let keys = f.t.cli(&["key", "list", "--json"]).await.json();
    let text = keys.to_string();
    assert!(
        text.contains("active") && text.contains("previous"),
        "{text}"
    );
}

#[tokio::test]
async fn es256_and_eddsa_keys_work_with_an_rp_that_allows_them() {
    let mut f = Fixture::start().await;
    f.user("alice");
    let browser = f.signed_in("alice").await;
    for (alg, lib_alg) in [
        ("ES256", CoreJwsSigningAlgorithm::EcdsaP256Sha256),
        ("EdDSA", CoreJwsSigningAlgorithm::EdDsa),
    ] {
        let out = f.t.cli(&["key", "rotate", "--alg", alg, "--json"]).await;
        assert_eq!(out.code, 0, "{out:?}");
        f.rediscover().await;
        assert!(
            f.meta
                .id_token_signing_alg_values_supported()
                .contains(&lib_alg),
            "{alg} advertised"
        );
        let app = f
            .app(NewClient {
                skip_consent: true,
                ..client(alg)
            })
            .await;
        let req = f.authorize(&app, &[], |r| r);
        let cb = f.front_channel(&browser, &req).await;
        let nonce = req.nonce.clone();
        let tokens = f.exchange(&app, req, &cb).await.unwrap();
        let id_token = tokens.id_token().unwrap();
        assert_eq!(jwt_header(&id_token.to_string())["alg"], alg);

        // An RP that allows only RS256 (the library's default without discovery) refuses…
        let clock = f.t.clock.clone();
        let rs256_only = app
            .rp
            .id_token_verifier()
            .set_allowed_algs([CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256])
            .set_time_fn(move || chrono_now(&clock));
        assert!(id_token.claims(&rs256_only, &nonce).is_err());
        // …one that allows the alg verifies signature, nonce and at_hash.
        let clock = f.t.clock.clone();
        let allowing = app
            .rp
            .id_token_verifier()
            .set_allowed_algs([lib_alg.clone()])
            .set_time_fn(move || chrono_now(&clock));
        id_token.claims(&allowing, &nonce).unwrap();
        f.verify(&app, &tokens, &nonce);
        let info: CoreUserInfoClaims = app
            .rp
            .user_info(tokens.access_token().clone(), None)
            .unwrap()
            .request_async(&f.http)
            .await
            .unwrap();
        assert!(!info.subject().as_str().is_empty());
    }
}

// ---------------------------------------------------------------------------------------
// Claims and the lives of users and clients

#[tokio::test]
async fn custom_claims_reach_the_id_token_and_userinfo_and_the_user_s_value_wins() {
    let f = Fixture::start().await;
    let sub = f.user("alice");
    f.group("staff", &["alice"]);
    let set = |owner: ClaimOwner, claims: Vec<(&str, Value)>| Request::SetClaims {
        owner,
        claims: claims.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
    };
    f.admin(set(
        ClaimOwner::Group("staff".into()),
        vec![("department", json!("ops")), ("level", json!(1))],
    ))
    .await;
    f.admin(set(
        ClaimOwner::User("alice".into()),
        vec![("level", json!(3)), ("badges", json!(["a", "b"]))],
    ))
    .await;
    let app = f
        .app(NewClient {
            skip_consent: true,
            ..client("Wiki")
        })
        .await;
    let browser = f.signed_in("alice").await;
    let tokens = f.login(&app, &browser, &["profile", "groups"]).await;
    let claims = f.verify(&app, &tokens.tokens, &tokens.nonce);
    assert_eq!(claims["department"], "ops", "{claims}");
    assert_eq!(claims["level"], 3, "the user's value wins: {claims}");
    assert_eq!(claims["badges"], json!(["a", "b"]));
    assert_eq!(claims["groups"], json!(["staff"]));

    let info: Value = f
        .http
        .get(app.rp.user_info_url().unwrap().as_str())
        .bearer_auth(tokens.access().secret())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["sub"], sub);
    assert_eq!(info["level"], 3, "{info}");
    assert_eq!(info["groups"], json!(["staff"]));

    // Without the profile scope, no custom claims.
    let plain = f.login(&app, &browser, &[]).await;
    let claims = f.verify(&app, &plain.tokens, &plain.nonce);
    assert!(claims.get("level").is_none(), "{claims}");

    // A reserved name is refused.
    let refused =
        f.t.client()
            .await
            .call(set(
                ClaimOwner::User("alice".into()),
                vec![("sub", json!("x"))],
            ))
            .await;
    assert!(refused.is_err(), "{refused:?}");
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
