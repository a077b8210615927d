//! Optional authorization parameters a certified provider handles, over real HTTP:
//! `login_hint` suggests the account on the sign-in page (pushed or not); `ui_locales`,
//! `claims_locales`, `acr_values` and `display` are accepted without changing the outcome;
//! the `address` and `phone` scopes are answered cleanly (no claims, no error); `max_age=0`
//! asks for a new sign-in.

use latchkey_tests::http::{browser, get};
use latchkey_tests::oidc::{
    authorize, authorize_url, claims, exchange, location, param, params_of, setup,
};
use reqwest::{Client, StatusCode};
use serde_json::Value;

/// Where `url` sends a browser that is not signed in, and that page's HTML.
async fn sign_in_page(base: &str, url: &str) -> (String, String) {
    let browser = browser();
    let res = browser.get(url).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let to = location(&res);
    assert!(to.starts_with("/login?next="), "{to}");
    let (_, _, html) = get(&browser, &format!("{base}{to}")).await;
    (to, html)
}

#[tokio::test]
async fn login_hint_suggests_the_account_and_optional_parameters_change_nothing() {
    let (t, rp) = setup().await;
    let optional = [
        ("login_hint", "alice"),
        ("ui_locales", "de fr"),
        ("claims_locales", "fr"),
        ("acr_values", "urn:example:loa:2"),
        ("display", "popup"),
    ];
    let url = authorize_url(&t, &rp, &optional);
    let (to, html) = sign_in_page(&t.base_url, &url).await;
    assert_eq!(param(&to, "login_hint").as_deref(), Some("alice"));
    assert!(html.contains(r#"value="alice""#), "{html}");

    // Pushed, the hint is in the request_uri, and still reaches the sign-in page.
    let pushed: Value = Client::new()
        .post(format!("{}/par", t.base_url))
        .basic_auth(&rp.id, Some(&rp.secret))
        .form(
            &params_of(&authorize_url(&t, &rp, &[("login_hint", "al\"ice")]))
                .into_iter()
                .filter(|(k, _)| k != "client_id")
                .collect::<Vec<_>>(),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", &rp.id)
        .append_pair("request_uri", pushed["request_uri"].as_str().unwrap())
        .finish();
    let (_, html) = sign_in_page(&t.base_url, &format!("{}/authorize?{query}", t.base_url)).await;
    assert!(html.contains(r#"value="al&#34;ice""#), "escaped: {html}");

    // Through sign-in and consent to a code, as without them.
    let browser = browser();
    let callback = authorize(&t, &browser, &url).await;
    assert_eq!(param(&callback, "state").as_deref(), Some("st-1"));
    let (status, tokens) = exchange(&t, &rp, &param(&callback, "code").unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");

    // address and phone: no claims, no error, nothing more to consent to.
    let url = authorize_url(&t, &rp, &[("scope", "openid profile address phone")]);
    let callback = authorize(&t, &browser, &url).await;
    let (status, tokens) = exchange(&t, &rp, &param(&callback, "code").unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let id_token = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id_token["preferred_username"], "alice");
    for claim in ["address", "phone_number", "phone_number_verified"] {
        assert!(id_token.get(claim).is_none(), "{claim}: {id_token}");
    }
    let scope = tokens["scope"].as_str().unwrap_or_default();
    assert!(
        !scope.contains("address") && !scope.contains("phone"),
        "{scope}"
    );

    // max_age=0: a sign-in older than now is too old.
    t.clock.advance(time::Duration::seconds(2));
    let res = browser
        .get(authorize_url(&t, &rp, &[("max_age", "0")]))
        .send()
        .await
        .unwrap();
    assert!(location(&res).starts_with("/login?next="), "{res:?}");
    let callback = authorize(&t, &browser, &authorize_url(&t, &rp, &[("max_age", "0")])).await;
    assert!(param(&callback, "code").is_some(), "{callback}");
}
