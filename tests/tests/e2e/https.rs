//! Built-in HTTPS, against the real `latchkeyd` binary with certificates made at test time:
//! discovery names the https issuer; a login-code sign-in sets `__Host-` Secure cookies and
//! every answer carries HSTS; plain HTTP on the port gets nothing; SIGHUP swaps in a renewed
//! certificate without dropping an open connection, and keeps the old one when the new files
//! do not load; a certificate that does not load stops the start with a clear message.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use latchkey_tests::certificate::self_signed;
use latchkey_tests::http::{csrf_of, set_cookies};
use latchkey_tests::process::{self, DaemonProcess};
use reqwest::StatusCode;
use reqwest::header::STRICT_TRANSPORT_SECURITY;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const BIN: &str = env!("CARGO_BIN_EXE_latchkeyd-under-test");

/// A certificate and key made in their own directory under `dir`.
fn certificate(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let own = dir.join(name);
    std::fs::create_dir_all(&own).unwrap();
    self_signed(&own)
}

/// A client that trusts `cert` alone (not the system's roots) and keeps connections open.
fn trusting(cert: &Path) -> reqwest::Client {
    let pem = std::fs::read(cert).unwrap();
    reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .pool_idle_timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

async fn discovery(client: &reqwest::Client, base: &str) -> Result<Value, reqwest::Error> {
    client
        .get(format!("{base}/.well-known/openid-configuration"))
        .send()
        .await?
        .json()
        .await
}

/// Waits until the daemon's output contains `line` (bounded).
async fn logged(daemon: &DaemonProcess, line: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !daemon.output().contains(line) {
        assert!(
            Instant::now() < deadline,
            "no {line:?} in the daemon's output:\n{}",
            daemon.output()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_signs_in_with_secure_cookies_and_a_renewed_certificate_keeps_connections() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = certificate(dir.path(), "first");
    let (live_cert, live_key) = (
        dir.path().join("live-cert.pem"),
        dir.path().join("live-key.pem"),
    );
    std::fs::copy(&cert, &live_cert).unwrap();
    std::fs::copy(&key, &live_key).unwrap();
    let daemon = DaemonProcess::start_https(
        BIN.as_ref(),
        &dir.path().join("data"),
        &live_cert,
        &live_key,
        &[],
    )
    .await;
    let base = daemon.base_url();
    assert!(base.starts_with("https://localhost:"), "{base}");
    logged(
        &daemon,
        &format!("listening on https://127.0.0.1:{}", daemon.port),
    )
    .await;

    let first = trusting(&cert);
    let config = discovery(&first, &base).await.unwrap();
    assert_eq!(config["issuer"], base.as_str());
    assert_eq!(config["token_endpoint"], format!("{base}/token"));

    // A sign-in with a login code: the cookies are __Host- and Secure, HSTS on every answer.
    let out = daemon.cli(&["user", "create", "--username", "alice"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    let out = daemon
        .cli(&["login-code", "create", "alice", "--json"])
        .await;
    assert_eq!(out.code, 0, "{out:?}");
    let link = out.json()["url"].as_str().unwrap().to_owned();
    assert!(link.starts_with(&base), "{link}");
    let code = link.rsplit('/').next().unwrap().to_owned();
    let page = first.get(&link).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(
        page.headers()[STRICT_TRANSPORT_SECURITY],
        "max-age=31536000",
        "HSTS"
    );
    let csrf_cookies = set_cookies(page.headers());
    assert!(
        csrf_cookies
            .iter()
            .any(|c| c.starts_with("__Host-latchkey_csrf=") && c.contains("Secure")),
        "{csrf_cookies:?}"
    );
    let html = page.text().await.unwrap();
    let res = first
        .post(format!("{base}/lc"))
        .form(&[("_csrf", csrf_of(&html).as_str()), ("code", code.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let cookies = set_cookies(res.headers());
    let session = cookies
        .iter()
        .find(|c| c.starts_with("__Host-latchkey_session="))
        .unwrap_or_else(|| panic!("a __Host- session cookie: {cookies:?}"));
    for flag in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(session.contains(flag), "{flag} in {session}");
    }
    assert!(!session.contains("Domain="), "{session}");
    let account = first.get(format!("{base}/account")).send().await.unwrap();
    assert_eq!(account.status(), StatusCode::OK);
    assert!(account.text().await.unwrap().contains("alice"));

    // Plain HTTP on the HTTPS port is not served.
    let mut plain = tokio::net::TcpStream::connect(("127.0.0.1", daemon.port))
        .await
        .unwrap();
    plain
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), plain.read_to_end(&mut answer)).await;
    assert!(
        !String::from_utf8_lossy(&answer).contains("HTTP/1.1 200"),
        "plain HTTP answered: {answer:?}"
    );

    // A renewed certificate: written over the files, then SIGHUP.
    let (renewed, renewed_key) = certificate(dir.path(), "renewed");
    std::fs::copy(&renewed, &live_cert).unwrap();
    std::fs::copy(&renewed_key, &live_key).unwrap();
    daemon.signal("HUP");
    logged(&daemon, "SIGHUP: reloaded the TLS certificate").await;
    // New connections get the renewed certificate: a client trusting only it connects, a new
    // client trusting only the first is refused.
    let config = discovery(&trusting(&renewed), &base).await.unwrap();
    assert_eq!(config["issuer"], base.as_str());
    let refused = discovery(&trusting(&cert), &base).await;
    assert!(
        refused.is_err(),
        "the first certificate is no longer served"
    );
    // The connection opened before the reload is still open and still signed in.
    let account = first.get(format!("{base}/account")).send().await.unwrap();
    assert_eq!(account.status(), StatusCode::OK);

    // Files that do not load: reported, and the renewed certificate stays in use.
    std::fs::write(&live_cert, "not a certificate\n").unwrap();
    daemon.signal("HUP");
    logged(&daemon, "still serving the certificate loaded before").await;
    assert!(
        daemon
            .output()
            .contains(&format!("{} holds no certificate", live_cert.display())),
        "{}",
        daemon.output()
    );
    discovery(&trusting(&renewed), &base).await.unwrap();

    assert!(daemon.terminate(), "a clean exit");
}

#[test]
fn a_certificate_that_does_not_load_stops_the_start_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, _) = certificate(dir.path(), "cert");
    let (_, other_key) = certificate(dir.path(), "other");
    let data = dir.path().join("data");
    let env = |cert: &Path, key: &Path| {
        [
            ("LATCHKEY_DATA_DIR", data.display().to_string()),
            ("LATCHKEY_LISTEN", "127.0.0.1:0".to_owned()),
            ("LATCHKEY_PUBLIC_URL", "https://localhost:8443".to_owned()),
            ("LATCHKEY_TLS_CERT", cert.display().to_string()),
            ("LATCHKEY_TLS_KEY", key.display().to_string()),
        ]
    };
    let run = |cert: &Path, key: &Path| {
        let env = env(cert, key);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let out = process::run(BIN.as_ref(), &[], &env);
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };

    let missing = dir.path().join("missing.pem");
    let (code, stderr) = run(&missing, &other_key);
    assert_ne!(code, Some(0));
    assert!(
        stderr.contains(&format!(
            "cannot read the TLS certificate chain {}",
            missing.display()
        )),
        "{stderr}"
    );
    let (code, stderr) = run(&cert, &other_key);
    assert_ne!(code, Some(0));
    assert!(
        stderr.contains("cannot be used together"),
        "a key of another certificate: {stderr}"
    );
}
