//! The OpenID Connect endpoints as a relying party reaches them by hand, over raw HTTP: a client
//! registered with the CLI, authorization URLs with PKCE, the front channel through sign-in (a
//! login code) and consent, and the token, userinfo and refresh requests. For the stock relying
//! party (the `openidconnect` crate) see [`crate::rp`].

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use latchkey_daemon::idm::Actor;
use reqwest::header::{CACHE_CONTROL, LOCATION};
use reqwest::{Client, StatusCode};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::TestDaemon;
use crate::http::{create_user, csrf_of};

pub const CB: &str = "http://localhost:9/cb";
pub const BYE: &str = "http://localhost:9/bye";
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

pub fn challenge() -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(VERIFIER.as_bytes()))
}

/// A client registered with `latchkey client create`.
#[derive(Debug)]
pub struct Rp {
    pub id: String,
    pub secret: String,
}

pub async fn create_client(t: &TestDaemon, extra: &[&str]) -> Rp {
    let mut args = vec![
        "client",
        "create",
        "--name",
        "Grafana",
        "--redirect-uri",
        CB,
        "--logout-uri",
        BYE,
        "--json",
    ];
    args.extend_from_slice(extra);
    let out = t.cli(&args).await;
    assert_eq!(out.code, 0, "{out:?}");
    let json = out.json();
    Rp {
        id: json["client_id"].as_str().unwrap().to_owned(),
        secret: json["client_secret"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    }
}

/// The value of the first hidden input called `name`.
pub fn hidden(html: &str, name: &str) -> Option<String> {
    let marker = format!(r#"name="{name}" value=""#);
    let start = html.find(&marker)? + marker.len();
    let end = start + html[start..].find('"')?;
    Some(
        html[start..end]
            .replace("&#38;", "&")
            .replace("&amp;", "&")
            .replace("&#61;", "=")
            .replace("&#37;", "%")
            .replace("&#43;", "+")
            .replace("&#34;", "\"")
            .replace("&#39;", "'"),
    )
}

pub fn location(res: &reqwest::Response) -> String {
    res.headers()
        .get(LOCATION)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// The query (or fragment) parameters of a URL.
pub fn params_of(url: &str) -> Vec<(String, String)> {
    let query = url.split_once(['?', '#']).map_or("", |(_, q)| q);
    url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

pub fn param(url: &str, name: &str) -> Option<String> {
    params_of(url)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// Signs `browser` in as `username` with a login code, going to `next`; returns where the
/// sign-in redirected to.
pub async fn sign_in(t: &TestDaemon, browser: &Client, username: &str, next: &str) -> String {
    let (_, issued) = t
        .daemon
        .idm()
        .create_login_code(&Actor::system(), username, Duration::from_secs(3600))
        .unwrap();
    let page = browser
        .get(format!("{}/lc", t.base_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let res = browser
        .post(format!("{}/lc", t.base_url))
        .form(&[
            ("_csrf", csrf_of(&page).as_str()),
            ("code", issued.code.as_str()),
            ("next", next),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    location(&res)
}

pub fn authorize_url(t: &TestDaemon, rp: &Rp, extra: &[(&str, &str)]) -> String {
    let challenge = challenge();
    let mut params = vec![
        ("client_id", rp.id.as_str()),
        ("redirect_uri", CB),
        ("response_type", "code"),
        ("scope", "openid profile email groups"),
        ("state", "st-1"),
        ("nonce", "n-1"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    for (k, v) in extra {
        params.retain(|(pk, _)| pk != k);
        params.push((k, v));
    }
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        if !v.is_empty() {
            s.append_pair(k, v);
        }
    }
    format!("{}/authorize?{}", t.base_url, s.finish())
}

/// Follows an authorization through sign-in (if needed) and consent (if asked); returns the
/// final redirect to the client.
pub async fn authorize(t: &TestDaemon, browser: &Client, url: &str) -> String {
    let mut url = url.to_owned();
    for _ in 0..4 {
        let res = browser.get(&url).send().await.unwrap();
        match res.status() {
            StatusCode::SEE_OTHER => {
                let to = location(&res);
                if to.starts_with(CB) {
                    return to;
                }
                if let Some(next) = to.strip_prefix("/login?next=") {
                    let next = url::form_urlencoded::parse(format!("n={next}").as_bytes())
                        .next()
                        .unwrap()
                        .1
                        .into_owned();
                    let back = sign_in(t, browser, "alice", &next).await;
                    url = format!("{}{back}", t.base_url);
                } else {
                    panic!("unexpected redirect to {to}");
                }
            }
            StatusCode::OK => {
                let html = res.text().await.unwrap();
                assert!(html.contains("consent-allow"), "{html}");
                return consent(t, browser, &html, "allow").await;
            }
            other => panic!("{other}: {}", res.text().await.unwrap()),
        }
    }
    panic!("too many steps");
}

pub async fn consent(t: &TestDaemon, browser: &Client, html: &str, decision: &str) -> String {
    let res = browser
        .post(format!("{}/authorize/consent", t.base_url))
        .form(&[
            ("_csrf", csrf_of(html).as_str()),
            ("request", hidden(html, "request").unwrap().as_str()),
            ("decision", decision),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "{:?}",
        res.text().await
    );
    location(&res)
}

pub async fn token(t: &TestDaemon, rp: &Rp, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let res = Client::new()
        .post(format!("{}/token", t.base_url))
        .basic_auth(&rp.id, Some(&rp.secret))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = res.status();
    if status == StatusCode::OK {
        assert_eq!(res.headers()[CACHE_CONTROL], "no-store");
    }
    (status, res.json().await.unwrap())
}

pub async fn exchange(t: &TestDaemon, rp: &Rp, code: &str) -> (StatusCode, Value) {
    token(
        t,
        rp,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", CB),
            ("code_verifier", VERIFIER),
        ],
    )
    .await
}

pub fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

pub async fn userinfo(t: &TestDaemon, access: &str) -> reqwest::Response {
    Client::new()
        .get(format!("{}/userinfo", t.base_url))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
}

pub async fn setup() -> (TestDaemon, Rp) {
    let t = TestDaemon::start().await;
    create_user(t.daemon.idm(), "alice");
    let rp = create_client(&t, &[]).await;
    (t, rp)
}

pub async fn token_refresh(t: &TestDaemon, rp: &Rp, refresh: &str) -> (StatusCode, Value) {
    token(
        t,
        rp,
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
    )
    .await
}
