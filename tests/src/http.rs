//! HTTP helpers for the tests that act as a browser: a cookie-keeping client that does not
//! follow redirects, users and login codes to sign in with, CSRF tokens from pages, and response
//! pieces.

use std::time::Duration;

use crate::TestDaemon;
use latchkey_daemon::idm::{Actor, Idm};
use latchkey_protocol::NewUser;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use reqwest::{Client, Response, StatusCode};

/// A browser-like client: keeps cookies, does not follow redirects (so tests see them).
pub fn browser() -> Client {
    Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub fn new_user(username: &str) -> NewUser {
    NewUser {
        username: username.to_owned(),
        email: Some(format!("{username}@example.com")),
        first_name: "Alice".to_owned(),
        last_name: "Example".to_owned(),
        display_name: None,
        is_admin: false,
    }
}

pub fn create_user(idm: &Idm, username: &str) {
    idm.create_user(&Actor::system(), new_user(username))
        .unwrap();
}

/// A fresh login code for `username`, valid for an hour.
pub fn login_code(idm: &Idm, username: &str) -> String {
    let (_, issued) = idm
        .create_login_code(&Actor::system(), username, Duration::from_secs(3600))
        .unwrap();
    issued.code
}

/// The CSRF token the page embeds in `<meta name="csrf-token">`.
pub fn csrf_of(html: &str) -> String {
    let marker = r#"<meta name="csrf-token" content=""#;
    let start = html.find(marker).expect("the page has a CSRF meta tag") + marker.len();
    let end = start + html[start..].find('"').unwrap();
    html[start..end].to_owned()
}

pub async fn get(client: &Client, url: &str) -> (StatusCode, HeaderMap, String) {
    let res = client.get(url).send().await.unwrap();
    split(res).await
}

pub async fn split(res: Response) -> (StatusCode, HeaderMap, String) {
    let status = res.status();
    let headers = res.headers().clone();
    (status, headers, res.text().await.unwrap())
}

/// GETs `/lc` to get a CSRF cookie and token, then posts `code`.
pub async fn post_code(
    t: &TestDaemon,
    client: &Client,
    code: &str,
    next: Option<&str>,
) -> (StatusCode, HeaderMap, String) {
    let (_, _, page) = get(client, &format!("{}/lc", t.base_url)).await;
    let token = csrf_of(&page);
    let mut form = vec![("_csrf", token.as_str()), ("code", code)];
    if let Some(next) = next {
        form.push(("next", next));
    }
    let res = client
        .post(format!("{}/lc", t.base_url))
        .form(&form)
        .send()
        .await
        .unwrap();
    split(res).await
}

pub fn location(headers: &HeaderMap) -> &str {
    headers
        .get(LOCATION)
        .map(|v| v.to_str().unwrap())
        .unwrap_or("")
}

pub fn set_cookies(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// Whether the response sets a (non-empty) session cookie.
pub fn sets_session(headers: &HeaderMap) -> bool {
    set_cookies(headers)
        .iter()
        .any(|c| c.starts_with("latchkey_session=") && !c.starts_with("latchkey_session=;"))
}
