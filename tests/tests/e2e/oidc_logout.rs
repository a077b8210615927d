//! RP-initiated logout (`/end-session`) over real HTTP with a stock relying party: with an
//! `id_token_hint` it signs out, redirects only to a registered URI and ends the client's tokens
//! for that session; without one it asks first, behind CSRF.

use latchkey_tests::html::{Landing, forms};
use latchkey_tests::rp::{Fixture, LOGOUT_URI, oauth_error};
use openidconnect::{
    CsrfToken, EndSessionUrl, LogoutRequest, PostLogoutRedirectUrl, TokenIntrospectionResponse,
};

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
    let (_, status, _) = browser.go(url.as_str()).await.page();
    assert_eq!(status, 400);

    let state = CsrfToken::new_random();
    let url = LogoutRequest::from(end_session)
        .set_id_token_hint(tokens.id_token())
        .set_post_logout_redirect_uri(PostLogoutRedirectUrl::new(LOGOUT_URI.into()).unwrap())
        .set_state(state.clone())
        .http_get_url();
    match browser.go(url.as_str()).await {
        Landing::Left(to) => {
            assert_eq!(
                to.as_str(),
                format!("{LOGOUT_URI}?state={}", state.secret())
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
    let res = f
        .http
        .get(app.rp.user_info_url().unwrap().as_str())
        .bearer_auth(tokens.access().secret())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
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

    // Naming the client and where to go afterwards: the page names the app, its form may
    // post on to the client's origin, and confirming goes there.
    browser.sign_in(f.idm(), "alice", None).await;
    let res = browser
        .http
        .get(&end_session)
        .query(&[
            ("client_id", app.id.as_str()),
            ("post_logout_redirect_uri", LOGOUT_URI),
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
    let url = res.url().clone();
    let body = res.text().await.unwrap();
    assert!(body.contains("Sign out of Wiki?"), "{body}");
    let form = forms(&body)
        .into_iter()
        .find(|f| f.method == "post" && f.fields.iter().any(|(n, _)| n == "_csrf"))
        .unwrap_or_else(|| panic!("a confirmation form with CSRF:\n{body}"));
    match browser.submit(&url, &form, None).await {
        Landing::Left(to) => assert_eq!(to.as_str(), LOGOUT_URI),
        other => panic!("expected the redirect to the logout URI, got {other:?}"),
    }
    let (account, _, _) = browser
        .go(&format!("{}/account", f.t.base_url))
        .await
        .page();
    assert_eq!(account.path(), "/login", "signed out after confirming");
}
