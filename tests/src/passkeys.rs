//! Passkey ceremonies as the tests drive them over HTTP: a browser (reqwest with a cookie jar and
//! the CSRF token of the last page it loaded) in front of a [`SoftAuthenticator`], enrolling and
//! signing in through the daemon's JSON API, and the checks every sign-in test makes (signed in;
//! refused with the generic message, no session and a `sign_in_failed` event).

use reqwest::header::HeaderMap;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

use crate::TestDaemon;
use crate::audit::{audit_detail, audit_events};
use crate::authenticator::SoftAuthenticator;
use crate::http::{browser, csrf_of, get, location, sets_session, split};

/// A JSON answer from `/api/*`.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

/// One browser (its own cookie jar) and the CSRF token of the last page it loaded.
#[derive(Debug)]
pub struct Browser<'a> {
    pub t: &'a TestDaemon,
    pub client: Client,
    pub csrf: String,
}

impl<'a> Browser<'a> {
    /// A fresh browser that has loaded `path` (for its CSRF cookie and token).
    pub async fn open(t: &'a TestDaemon, path: &str) -> Browser<'a> {
        let mut b = Browser {
            t,
            client: browser(),
            csrf: String::new(),
        };
        b.load(path).await;
        b
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.t.base_url)
    }

    /// GETs a page, keeps its CSRF token, returns the HTML.
    pub async fn load(&mut self, path: &str) -> String {
        let (status, _, page) = get(&self.client, &self.url(path)).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {page}");
        self.csrf = csrf_of(&page);
        page
    }

    /// POSTs JSON to `/api/…` with this page's token in `X-CSRF-Token`.
    pub async fn api(&self, path: &str, body: &Value) -> Reply {
        self.api_with(path, Some(&self.csrf), body).await
    }

    pub async fn api_with(&self, path: &str, token: Option<&str>, body: &Value) -> Reply {
        let mut req = self.client.post(self.url(path)).json(body);
        if let Some(token) = token {
            req = req.header("x-csrf-token", token);
        }
        reply(req.send().await.unwrap()).await
    }

    /// POSTs raw bytes with a content type to `/api/…`, token in the header.
    pub async fn api_raw(&self, path: &str, content_type: &str, body: &'static str) -> Reply {
        let res = self
            .client
            .post(self.url(path))
            .header("x-csrf-token", self.csrf.as_str())
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        reply(res).await
    }

    /// POSTs a form (add `_csrf` yourself).
    pub async fn form(
        &self,
        path: &str,
        fields: &[(&str, &str)],
    ) -> (StatusCode, HeaderMap, String) {
        let res = self
            .client
            .post(self.url(path))
            .form(fields)
            .send()
            .await
            .unwrap();
        split(res).await
    }
}

pub async fn reply(res: reqwest::Response) -> Reply {
    let status = res.status();
    let headers = res.headers().clone();
    let text = res.text().await.unwrap();
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{status}: not JSON ({e}): {text:?}"));
    Reply {
        status,
        headers,
        body,
    }
}

/// `latchkey user create` for a plain user.
pub async fn create_user(t: &TestDaemon, username: &str) {
    let email = format!("{username}@example.com");
    let out = t
        .cli(&[
            "user",
            "create",
            "--username",
            username,
            "--email",
            &email,
            "--first-name",
            "Alice",
            "--last-name",
            "Example",
        ])
        .await;
    assert_eq!(out.code, 0, "{out:?}");
}

/// `latchkey login-code create USER --json`: the code (its link is checked too).
pub async fn login_code(t: &TestDaemon, username: &str) -> String {
    let out = t.cli(&["login-code", "create", username, "--json"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    let doc = out.json();
    let code = doc["code"].as_str().unwrap().to_owned();
    assert_eq!(doc["url"], format!("{}/lc/{code}", t.base_url), "{doc}");
    code
}

/// Opens the login-code link and posts the code: a browser with a session.
pub async fn signed_in_with_code<'a>(t: &'a TestDaemon, username: &str) -> Browser<'a> {
    let code = login_code(t, username).await;
    let mut b = Browser::open(t, &format!("/lc/{code}")).await;
    let (status, headers, page) = b
        .form(
            "/lc",
            &[("_csrf", b.csrf.as_str()), ("code", code.as_str())],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    assert_eq!(location(&headers), "/account");
    assert!(sets_session(&headers));
    b.load("/account").await;
    b
}

/// `POST /api/passkey/register/start`: the ceremony id and the options.
pub async fn register_start(b: &Browser<'_>) -> (String, Value) {
    let start = b.api("/api/passkey/register/start", &json!({})).await;
    assert_eq!(start.status, StatusCode::OK, "{start:?}");
    let ceremony = start.body["ceremony"].as_str().unwrap().to_owned();
    (ceremony, start.body["options"].clone())
}

pub async fn register_finish(b: &Browser<'_>, ceremony: &str, credential: &Value) -> Reply {
    b.api(
        "/api/passkey/register/finish",
        &json!({"ceremony": ceremony, "credential": credential}),
    )
    .await
}

/// Enrols a passkey on `auth` for the signed-in browser: `{"id", "name"}`.
pub async fn register(b: &Browser<'_>, auth: &mut SoftAuthenticator) -> Value {
    let (ceremony, options) = register_start(b).await;
    let credential = auth.register(&b.t.base_url, &options).unwrap();
    let done = register_finish(b, &ceremony, &credential).await;
    assert_eq!(done.status, StatusCode::OK, "{done:?}");
    done.body
}

/// A fresh browser on `/login` and a started usernameless sign-in.
pub async fn sign_in_start(t: &TestDaemon) -> (Browser<'_>, String, Value) {
    let b = Browser::open(t, "/login").await;
    let start = b.api("/api/passkey/login/start", &json!({})).await;
    assert_eq!(start.status, StatusCode::OK, "{start:?}");
    let ceremony = start.body["ceremony"].as_str().unwrap().to_owned();
    let options = start.body["options"].clone();
    (b, ceremony, options)
}

pub async fn sign_in_finish(b: &Browser<'_>, ceremony: &str, credential: &Value) -> Reply {
    b.api(
        "/api/passkey/login/finish",
        &json!({"ceremony": ceremony, "credential": credential}),
    )
    .await
}

/// A whole usernameless sign-in with `auth` from a fresh browser.
pub async fn sign_in<'a>(t: &'a TestDaemon, auth: &mut SoftAuthenticator) -> (Browser<'a>, Reply) {
    let (b, ceremony, options) = sign_in_start(t).await;
    let assertion = auth.sign_in(&t.base_url, &options).unwrap();
    let done = sign_in_finish(&b, &ceremony, &assertion).await;
    (b, done)
}

/// Asserts a successful sign-in: `{"redirect": "/account"}`, a session cookie, and an
/// account page for `username`.
pub async fn assert_signed_in(b: &Browser<'_>, done: &Reply, username: &str) {
    assert_eq!(done.status, StatusCode::OK, "{done:?}");
    assert_eq!(done.body, json!({"redirect": "/account"}));
    assert!(sets_session(&done.headers), "{:?}", done.headers);
    let (status, _, page) = get(&b.client, &b.url("/account")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(&format!("{username}@example.com")), "{page}");
}

/// Asserts a refused sign-in: 401 `sign_in_failed` with the generic message, no session
/// cookie, no account page, and the newest audit event is `sign_in_failed` with `reason`.
pub async fn assert_sign_in_failed(b: &Browser<'_>, done: &Reply, reason: &str) {
    assert_eq!(done.status, StatusCode::UNAUTHORIZED, "{reason}: {done:?}");
    assert_eq!(done.body["error"], "sign_in_failed", "{done:?}");
    assert_eq!(
        done.body["message"],
        latchkey_daemon::web::error::SIGN_IN_FAILED,
        "never says why"
    );
    assert!(!sets_session(&done.headers), "{:?}", done.headers);
    assert_not_signed_in(b).await;
    let events = audit_events(b.t).await;
    let newest = &events[0];
    assert_eq!(newest["event"], "sign_in_failed", "{newest}");
    assert_eq!(audit_detail(newest, "reason"), Some(reason), "{newest}");
    assert_eq!(newest["ip"], "127.0.0.1", "{newest}");
}

pub async fn assert_not_signed_in(b: &Browser<'_>) {
    let (status, headers, _) = get(&b.client, &b.url("/account")).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location(&headers), "/login?next=/account");
}

/// `latchkey passkey list USER --json`.
pub async fn passkeys_of(t: &TestDaemon, username: &str) -> Vec<Value> {
    let out = t.cli(&["passkey", "list", username, "--json"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    out.json()["passkeys"].as_array().unwrap().clone()
}

pub async fn count_events(t: &TestDaemon, event: &str) -> usize {
    audit_events(t)
        .await
        .iter()
        .filter(|e| e["event"] == event)
        .count()
}

/// An enabled user "alice" with one passkey on the returned authenticator.
pub async fn alice_with_a_passkey(t: &TestDaemon) -> (SoftAuthenticator, String) {
    create_user(t, "alice").await;
    let b = signed_in_with_code(t, "alice").await;
    let mut auth = SoftAuthenticator::new();
    let added = register(&b, &mut auth).await;
    (auth, added["id"].as_str().unwrap().to_owned())
}
