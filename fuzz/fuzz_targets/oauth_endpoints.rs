//! The OAuth / OpenID Connect endpoints as HTTP: `/authorize`, `/authorize/consent`, `/token`,
//! `/introspect`, `/revoke`, `/userinfo`, `/end-session`, `/lc` and the passkey JSON API, served
//! by the real router over an in-memory store with one registered client. Whatever the query,
//! form, JSON body or credentials, the answer is never a 5xx: bad input gets a 4xx (or a
//! redirect), not a crash and not an internal error.
//!
//! The first input byte picks the endpoint; the rest is the query or body. The markers `CID`,
//! `SECRET` and `REDIR` are replaced with the registered client's id, secret and redirect URI,
//! so the fuzzer reaches past the client lookup.
#![no_main]

use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, header};
use latchkey_daemon::clock::SystemClock;
use latchkey_daemon::config::PublicUrl;
use latchkey_daemon::idm::{Actor, Idm, Oidc, Passkeys, SetupGate};
use latchkey_daemon::info::DaemonInfo;
use latchkey_daemon::store::Store;
use latchkey_daemon::web::{self, WebState};
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;

const PUBLIC_URL: &str = "http://localhost:1411";
const REDIRECT: &str = "http://localhost:9/cb";

struct Fixture {
    runtime: tokio::runtime::Runtime,
    router: Router,
    client_id: String,
    secret: String,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let idm = Idm::new(Store::memory().expect("a store"), Arc::new(SystemClock));
        let oidc = Oidc::new(idm.clone(), PUBLIC_URL).expect("a provider");
        let input = serde_json::from_value(serde_json::json!({
            "name": "Fuzz",
            "redirect_uris": [REDIRECT],
            "logout_redirect_uris": ["http://localhost:9/bye"],
        }))
        .expect("a client");
        let (client, secret) = oidc
            .create_client(&Actor::system(), input)
            .expect("client created");
        let public_url: PublicUrl = PUBLIC_URL.parse().expect("a public URL");
        let info = Arc::new(DaemonInfo {
            version: "fuzz",
            public_url: PUBLIC_URL.to_owned(),
            data_dir: std::env::temp_dir(),
            started_at: time::OffsetDateTime::now_utc(),
        });
        let passkeys = Passkeys::new(idm.clone(), PUBLIC_URL).ok();
        let (setup, _) = SetupGate::issue(&idm).expect("a setup gate");
        let state = WebState::new(idm, info, passkeys, setup, &public_url, &[]).with_oidc(oidc);
        Fixture {
            runtime,
            router: web::router(state),
            client_id: client.client_id,
            secret: secret.unwrap_or_default(),
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let f = fixture();
    let text = String::from_utf8_lossy(rest)
        .replace("CID", &f.client_id)
        .replace("SECRET", &f.secret)
        .replace("REDIR", REDIRECT);
    let form = "application/x-www-form-urlencoded";
    let json = "application/json";
    let (method, path, content_type, body) = match selector % 12 {
        0 => (
            Method::GET,
            format!("/authorize?{text}"),
            None,
            String::new(),
        ),
        1 => (Method::POST, "/authorize".to_owned(), Some(form), text),
        2 => (Method::POST, "/token".to_owned(), Some(form), text),
        3 => (Method::POST, "/introspect".to_owned(), Some(form), text),
        4 => (Method::POST, "/revoke".to_owned(), Some(form), text),
        5 => (Method::GET, "/userinfo".to_owned(), None, text),
        6 => (
            Method::GET,
            format!("/end-session?{text}"),
            None,
            String::new(),
        ),
        7 => (Method::POST, "/end-session".to_owned(), Some(form), text),
        8 => (Method::GET, format!("/lc?{text}"), None, String::new()),
        9 => (
            Method::POST,
            "/authorize/consent".to_owned(),
            Some(form),
            text,
        ),
        10 => (
            Method::POST,
            "/api/passkey/login/finish".to_owned(),
            Some(json),
            text,
        ),
        _ => (Method::POST, "/token".to_owned(), Some(form), text),
    };
    let mut request = Request::builder()
        .method(method)
        .uri(path.as_str())
        .header(header::HOST, "localhost:1411")
        .header(header::ORIGIN, PUBLIC_URL);
    if let Some(content_type) = content_type {
        request = request.header(header::CONTENT_TYPE, content_type);
    }
    // The bytes as client credentials too: Basic for the token endpoints, Bearer for userinfo.
    let credential = match selector % 12 {
        5 => Some(format!("Bearer {body}")),
        11 => Some(format!("Basic {}", body.lines().next().unwrap_or_default())),
        _ => None,
    };
    if let Some(credential) = credential
        && let Ok(value) = header::HeaderValue::from_str(&credential)
    {
        request = request.header(header::AUTHORIZATION, value);
    }
    // A URI the HTTP layer itself would refuse never reaches the router.
    let Ok(request) = request.body(Body::from(body)) else {
        return;
    };
    let response = f
        .runtime
        .block_on(f.router.clone().oneshot(request))
        .expect("the router is infallible");
    assert!(
        !response.status().is_server_error(),
        "{} for {selector} {path}",
        response.status()
    );
});
