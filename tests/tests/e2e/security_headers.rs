//! Response headers that protect every page, over real HTTP: HSTS when the public URL is
//! https, the Permissions-Policy, and a CSP `form-action` that only a registered redirect URI
//! may widen.

use latchkey_tests::TestDaemon;

use latchkey_tests::http::{browser, get};

fn header<'a>(headers: &'a reqwest::header::HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).map(|v| v.to_str().unwrap())
}

#[tokio::test]
async fn an_https_public_url_sends_hsts_and_plain_http_does_not() {
    let https = TestDaemon::start_with(|config| {
        config.public_url = format!("https://localhost:{}", config.listen.port())
            .parse()
            .unwrap();
    })
    .await;
    // The daemon itself speaks plain HTTP here, as it does behind a TLS-terminating proxy.
    let url = format!("http://localhost:{}/login", https.config.listen.port());
    let (status, headers, _) = get(&browser(), &url).await;
    assert_eq!(status, 200);
    assert_eq!(
        header(&headers, "strict-transport-security"),
        Some("max-age=31536000")
    );
    // Every response, errors and JSON included.
    let (status, headers, _) = get(
        &browser(),
        &format!("http://localhost:{}/nope", https.config.listen.port()),
    )
    .await;
    assert_eq!(status, 404);
    assert!(header(&headers, "strict-transport-security").is_some());

    let plain = TestDaemon::start().await;
    let (_, headers, _) = get(&browser(), &format!("{}/login", plain.base_url)).await;
    assert_eq!(header(&headers, "strict-transport-security"), None);
}

#[tokio::test]
async fn pages_allow_webauthn_and_no_other_powerful_feature() {
    let t = TestDaemon::start().await;
    for path in ["/login", "/lc", "/.well-known/openid-configuration"] {
        let (_, headers, _) = get(&browser(), &format!("{}{path}", t.base_url)).await;
        let policy = header(&headers, "permissions-policy").unwrap_or_else(|| panic!("{path}"));
        assert!(
            policy.contains("publickey-credentials-get=(self)"),
            "{policy}"
        );
        assert!(
            policy.contains("publickey-credentials-create=(self)"),
            "{policy}"
        );
        for off in ["camera=()", "microphone=()", "geolocation=()", "payment=()"] {
            assert!(policy.contains(off), "{off} in {policy}");
        }
    }
}

/// The `form-action` of the login-code page named whatever origin the `next` parameter's
/// `redirect_uri` had, registered or not.
#[tokio::test]
async fn only_a_registered_redirect_uri_widens_the_login_form_action() {
    let t = TestDaemon::start().await;
    let out = t
        .cli(&[
            "client",
            "create",
            "--name",
            "Wiki",
            "--redirect-uri",
            "http://localhost:9/cb",
            "--json",
        ])
        .await;
    assert_eq!(out.code, 0, "{out:?}");
    let client_id = out.json()["client_id"].as_str().unwrap().to_owned();
    let csp_for = |next: String| {
        let base = t.base_url.clone();
        async move {
            let res = browser()
                .get(format!("{base}/lc"))
                .query(&[("next", next.as_str())])
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200);
            header(res.headers(), "content-security-policy")
                .unwrap()
                .to_owned()
        }
    };
    let next = |client: &str, redirect: &str| {
        format!(
            "/authorize?{}",
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair("client_id", client)
                .append_pair("redirect_uri", redirect)
                .append_pair("response_type", "code")
                .finish()
        )
    };

    // A registered redirect URI: its origin is allowed.
    let csp = csp_for(next(&client_id, "http://localhost:9/cb")).await;
    assert!(
        csp.contains("form-action 'self' http://localhost:9;"),
        "{csp}"
    );
    // Anything else leaves `form-action 'self'` alone.
    for (client, redirect) in [
        (client_id.as_str(), "https://evil.example/cb"),
        (client_id.as_str(), "http://localhost:9/other"),
        ("no-such-client", "https://evil.example/cb"),
    ] {
        let csp = csp_for(next(client, redirect)).await;
        assert!(
            csp.contains("form-action 'self';"),
            "{client} {redirect}: {csp}"
        );
        assert!(!csp.contains("evil.example"), "{csp}");
    }
    // A repeated parameter is not a request /authorize would take either.
    let doubled = format!(
        "{}&redirect_uri=https%3A%2F%2Fevil.example%2Fcb",
        next(&client_id, "http://localhost:9/cb")
    );
    let csp = csp_for(doubled).await;
    assert!(csp.contains("form-action 'self';"), "{csp}");
}
