//! Pushed authorization requests (RFC 9126) over real HTTP: a client pushes its request to
//! `/par` and sends the browser to `/authorize` with only `client_id` and the `request_uri`;
//! the request survives sign-in and consent, its own parameters (state, nonce, PKCE) are the
//! ones that count, and it is used once. Refused: unauthenticated pushes, pushed request
//! objects and request URIs, a request URI that was altered, expired, used or belongs to
//! another client, and — for a client with `require_par` — a request that was not pushed.

use latchkey_tests::http::browser;
use latchkey_tests::oidc::{
    CB, Rp, authorize, authorize_url, claims, create_client, exchange, location, param, params_of,
    setup,
};
use reqwest::{Client, StatusCode};
use serde_json::Value;

/// Pushes `params` (an authorization request's) as `rp`; the status and the JSON answer.
async fn push(base: &str, rp: &Rp, params: &[(String, String)]) -> (StatusCode, Value) {
    let res = Client::new()
        .post(format!("{base}/par"))
        .basic_auth(&rp.id, Some(&rp.secret))
        .form(params)
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, res.json().await.unwrap())
}

/// The parameters of an ordinary authorization request of `rp` (state `st-1`, nonce `n-1`,
/// PKCE), with `extra` replacing or adding some, without `client_id` (the client
/// authenticates instead).
fn request_of(
    t: &latchkey_tests::TestDaemon,
    rp: &Rp,
    extra: &[(&str, &str)],
) -> Vec<(String, String)> {
    params_of(&authorize_url(t, rp, extra))
        .into_iter()
        .filter(|(k, _)| k != "client_id")
        .collect()
}

fn front(base: &str, client_id: &str, request_uri: &str) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", client_id)
        .append_pair("request_uri", request_uri)
        .finish();
    format!("{base}/authorize?{query}")
}

#[tokio::test]
async fn a_pushed_request_goes_through_sign_in_and_consent_and_is_used_once() {
    let (t, rp) = setup().await;
    let doc: Value = reqwest::get(format!("{}/.well-known/openid-configuration", t.base_url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        doc["pushed_authorization_request_endpoint"],
        format!("{}/par", t.base_url)
    );
    assert_eq!(doc["require_pushed_authorization_requests"], false);
    assert_eq!(doc["request_parameter_supported"], false);

    let (status, pushed) = push(&t.base_url, &rp, &request_of(&t, &rp, &[])).await;
    assert_eq!(status, StatusCode::CREATED, "{pushed}");
    assert_eq!(pushed["expires_in"], 60);
    let request_uri = pushed["request_uri"].as_str().unwrap().to_owned();
    assert!(request_uri.starts_with("urn:ietf:params:oauth:request_uri:"));
    assert!(
        !request_uri.contains("st-1") && !request_uri.contains(CB),
        "the request is sealed, not readable: {request_uri}"
    );

    // Only client_id and request_uri travel; a front-channel redirect_uri or state is ignored.
    let url = format!(
        "{}&redirect_uri=https%3A%2F%2Fevil.example%2Fcb&state=forged",
        front(&t.base_url, &rp.id, &request_uri)
    );
    let browser = browser();
    let callback = authorize(&t, &browser, &url).await;
    assert!(callback.starts_with(CB), "{callback}");
    assert_eq!(param(&callback, "state").as_deref(), Some("st-1"));
    let code = param(&callback, "code").expect("a code");
    let (status, tokens) = exchange(&t, &rp, &code).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(
        claims(tokens["id_token"].as_str().unwrap())["nonce"],
        "n-1",
        "the pushed nonce"
    );

    // Used once: the same request_uri again, consent remembered, gives no second code.
    let res = browser.get(&url).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.unwrap().contains("used already"));

    // prompt=login in a pushed request: one sign-in, then the code (no loop). The session
    // began before the push (a sign-in in the same second counts as made for it).
    t.clock.advance(time::Duration::seconds(5));
    let (_, pushed) = push(
        &t.base_url,
        &rp,
        &request_of(&t, &rp, &[("prompt", "login")]),
    )
    .await;
    let url = front(&t.base_url, &rp.id, pushed["request_uri"].as_str().unwrap());
    let res = browser.get(&url).send().await.unwrap();
    assert!(location(&res).starts_with("/login?next="), "{res:?}");
    let callback = authorize(&t, &browser, &url).await;
    assert!(param(&callback, "code").is_some(), "{callback}");
}

#[tokio::test]
async fn pushes_and_pushed_request_uris_that_cannot_be_trusted_are_refused() {
    let (t, rp) = setup().await;
    let base = t.base_url.clone();
    let request = request_of(&t, &rp, &[]);

    // The client must authenticate as at the token endpoint.
    let res = Client::new()
        .post(format!("{base}/par"))
        .form(&request)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let wrong = Rp {
        id: rp.id.clone(),
        secret: "not-the-secret".to_owned(),
    };
    let (status, body) = push(&base, &wrong, &request).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "invalid_client");

    // What an authorization request may not carry, pushed or not.
    for (extra, error) in [
        (
            ("request", "eyJhbGciOiJub25lIn0.e30."),
            "request_not_supported",
        ),
        (
            ("request_uri", "urn:ietf:params:oauth:request_uri:x"),
            "invalid_request",
        ),
        (
            ("redirect_uri", "https://evil.example/cb"),
            "invalid_request",
        ),
        (("response_type", "token"), "unsupported_response_type"),
    ] {
        let mut bad = request.clone();
        bad.retain(|(k, _)| k != extra.0);
        bad.push((extra.0.to_owned(), extra.1.to_owned()));
        let (status, body) = push(&base, &rp, &bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{extra:?}: {body}");
        assert_eq!(body["error"], error, "{extra:?}: {body}");
    }

    let (_, pushed) = push(&base, &rp, &request).await;
    let request_uri = pushed["request_uri"].as_str().unwrap().to_owned();
    let browser = browser();
    let refused = |url: String| {
        let browser = browser.clone();
        async move {
            let res = browser.get(&url).send().await.unwrap();
            assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{url}");
            res.text().await.unwrap()
        }
    };
    // Altered by one character.
    let mut altered = request_uri.clone().into_bytes();
    let last = altered.len() - 2;
    altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
    let page = refused(front(&base, &rp.id, &String::from_utf8(altered).unwrap())).await;
    assert!(page.contains("start again"), "{page}");
    // Another client's id.
    let other = create_client(&t, &[]).await;
    let page = refused(front(&base, &other.id, &request_uri)).await;
    assert!(page.contains("another application"), "{page}");
    // Not one of ours at all.
    refused(front(&base, &rp.id, "https://rp.example/request.jwt")).await;
    // Expired.
    t.clock.advance(time::Duration::seconds(61));
    refused(front(&base, &rp.id, &request_uri)).await;
}

#[tokio::test]
async fn a_client_that_requires_pushed_requests_refuses_others() {
    let (t, _) = setup().await;
    let rp = create_client(&t, &["--require-par"]).await;
    let shown = t.cli(&["client", "show", &rp.id, "--json"]).await;
    assert_eq!(shown.json()["require_par"], true, "{shown:?}");

    let browser = browser();
    let res = browser
        .get(authorize_url(&t, &rp, &[]))
        .send()
        .await
        .unwrap();
    let to = location(&res);
    assert!(to.starts_with(CB), "an error for the client: {to}");
    assert_eq!(param(&to, "error").as_deref(), Some("invalid_request"));
    assert!(param(&to, "error_description").unwrap().contains("/par"));

    let (status, pushed) = push(&t.base_url, &rp, &request_of(&t, &rp, &[])).await;
    assert_eq!(status, StatusCode::CREATED, "{pushed}");
    let url = front(&t.base_url, &rp.id, pushed["request_uri"].as_str().unwrap());
    let callback = authorize(&t, &browser, &url).await;
    let (status, tokens) = exchange(&t, &rp, &param(&callback, "code").unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");

    // Switched off again from the CLI: direct requests work.
    let out = t
        .cli(&["client", "update", &rp.id, "--require-par", "false"])
        .await;
    assert_eq!(out.code, 0, "{out:?}");
    let callback = authorize(&t, &browser, &authorize_url(&t, &rp, &[])).await;
    assert!(param(&callback, "code").is_some(), "{callback}");
}
