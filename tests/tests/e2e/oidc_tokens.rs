//! The token, introspection and revocation endpoints over real HTTP with a stock relying party:
//! the token response, refresh rotation and reuse detection, introspection that shows a client
//! only its own tokens, revocation, RFC 6749 errors, and client credentials.

use latchkey_protocol::oidc::NewClient;
use latchkey_protocol::{AuditQuery, Request};
use latchkey_tests::rp::{
    Fixture, LOGOUT_URI, REDIRECT_URI, chrono_now, client, jwt_payload, oauth_error,
};
use openidconnect::core::{CoreRevocableToken, CoreUserInfoClaims};
use openidconnect::{
    AccessToken, AuthType, Nonce, OAuth2TokenResponse, PkceCodeVerifier, Scope,
    TokenIntrospectionResponse, TokenResponse,
};
use reqwest::header::{CACHE_CONTROL, WWW_AUTHENTICATE};
use serde_json::{Value, json};

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
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer", "{body}");
}

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
    // A refreshed ID token: the same subject, and the nonce of the sign-in it continues.
    let id = second.id_token().expect("a refreshed ID token");
    let clock = f.t.clock.clone();
    let verifier = app
        .rp
        .id_token_verifier()
        .set_time_fn(move || chrono_now(&clock));
    let claims = id.claims(&verifier, |_: Option<&Nonce>| Ok(())).unwrap();
    assert_eq!(claims.subject().as_str(), sub);
    assert_eq!(
        claims.nonce().map(|n| n.secret()),
        Some(first.nonce.secret())
    );
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
    let res = f
        .http
        .get(app.rp.user_info_url().unwrap().as_str())
        .bearer_auth(second.access_token().secret())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);

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
    assert_eq!(intro.username(), Some("alice"));
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
    let rt = AccessToken::new(tokens.refresh().secret().clone());
    let intro = app
        .rp
        .introspect(&rt)
        .set_token_type_hint("refresh_token")
        .request_async(&f.http)
        .await
        .unwrap();
    assert!(!intro.active(), "a revoked refresh token is inactive");
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
    // …and a token to revoke.
    let res = f
        .http
        .post(&url)
        .basic_auth(&app.id, app.secret.as_deref())
        .form(&[("x", "y")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
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
    assert_eq!(headers[WWW_AUTHENTICATE], r#"Basic realm="latchkey""#);
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
        // The failed attempt used the code up: the right request fails now too.
        let res = post(
            auth,
            vec![
                ("grant_type", "authorization_code".to_owned()),
                ("code", code),
                ("redirect_uri", REDIRECT_URI.into()),
                ("code_verifier", verifier),
            ],
        )
        .await
        .unwrap();
        assert_eq!(res.status(), 400, "{what}: the code is spent");
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
    assert_eq!(claims["sub"], app.id, "the client is the subject");
    let intro = app
        .rp
        .introspect(tokens.access_token())
        .request_async(&f.http)
        .await
        .unwrap();
    assert!(intro.active());
}
