//! Prometheus metrics from the real binary with `LATCHKEY_METRICS_LISTEN`: the text parses
//! as Prometheus's exposition format, and the figures follow what happened — HTTP requests
//! by route template and status, sign-ins by method and outcome, tokens by grant, rate-limit
//! refusals, mail deliveries and failures with the queue (a real SMTP server that goes away),
//! LDAP syncs, timed, with their last success (a real slapd), the database's size, the
//! process's memory.

use std::collections::HashMap;

use latchkey_tests::http::{browser, csrf_of, get};
use latchkey_tests::process::{DaemonProcess, free_port};
use reqwest::StatusCode;

const BIN: &str = env!("CARGO_BIN_EXE_latchkeyd-under-test");

/// Prints every sample of the exposition text on stdin as JSON lines, parsed by Prometheus's
/// own Python client (`text_string_to_metric_families`), and fails on a family without HELP.
const PARSE: &str = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
for family in text_string_to_metric_families(sys.stdin.read()):
    if not family.documentation:
        sys.exit("no HELP for " + family.name)
    for s in family.samples:
        print(json.dumps({"name": s.name, "labels": s.labels, "value": s.value}))
"#;

/// One sample of `/metrics`.
#[derive(Debug, serde::Deserialize)]
struct Sample {
    name: String,
    labels: HashMap<String, String>,
    value: f64,
}

/// Every sample of `/metrics`, as Prometheus's parser reads them.
struct Samples(Vec<Sample>);

impl Samples {
    async fn scrape(addr: &str) -> Samples {
        let res = reqwest::get(format!("http://{addr}/metrics"))
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let content_type = res.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(
            content_type.starts_with("text/plain; version=0.0.4"),
            "{content_type}"
        );
        let text = res.text().await.unwrap();
        let parsed = tokio::task::spawn_blocking(move || {
            use std::io::Write;
            let mut child = std::process::Command::new(latchkey_tests::smtp::python())
                .args(["-c", PARSE])
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("python3 with prometheus_client: run scripts/install-test-deps");
            child
                .stdin
                .take()
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap();
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "Prometheus's parser refused /metrics: {}\n{text}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8(out.stdout).unwrap()
        })
        .await
        .unwrap();
        Samples(
            parsed
                .lines()
                .map(|line| serde_json::from_str(line).unwrap())
                .collect(),
        )
    }

    /// The sum of `name`'s samples that have at least `labels`.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.0
            .iter()
            .filter(|s| s.name == name)
            .filter(|s| {
                labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|s| s.value)
            .sum()
    }

    fn routes(&self) -> HashMap<String, f64> {
        let mut routes = HashMap::new();
        for s in self
            .0
            .iter()
            .filter(|s| s.name == "latchkey_http_requests_total")
        {
            if let Some(route) = s.labels.get("route") {
                *routes.entry(route.clone()).or_insert(0.0) += s.value;
            }
        }
        routes
    }
}

/// The real binary with metrics on a port of their own: (its temp dir, it, that address).
async fn with_metrics() -> (tempfile::TempDir, DaemonProcess, String) {
    let dir = tempfile::tempdir().unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    let daemon = DaemonProcess::start_with_env(
        BIN.as_ref(),
        &dir.path().join("data"),
        &[("LATCHKEY_METRICS_LISTEN", addr.as_str())],
    )
    .await;
    (dir, daemon, addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_parse_and_follow_sign_ins_tokens_and_requests() {
    let (_dir, daemon, addr) = with_metrics().await;
    let base = daemon.base_url();
    let before = Samples::scrape(&addr).await;
    assert_eq!(before.value("latchkey_sign_ins_total", &[]), 0.0);
    assert_eq!(before.value("latchkey_database_up", &[]), 1.0);
    assert!(before.value("latchkey_database_size_bytes", &[]) > 0.0);
    let rss = before.value("process_resident_memory_bytes", &[]);
    assert!(rss > 1e6 && rss < 1e9, "{rss}");

    // A wrong login code, then the right one.
    let out = daemon.cli(&["user", "create", "--username", "alice"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    let out = daemon
        .cli(&["login-code", "create", "alice", "--json"])
        .await;
    let link = out.json()["url"].as_str().unwrap().to_owned();
    let code = link.rsplit('/').next().unwrap().to_owned();
    let client = browser();
    let (_, _, page) = get(&client, &format!("{base}/lc")).await;
    let csrf = csrf_of(&page);
    for attempt in ["wrong-code-0000", code.as_str()] {
        client
            .post(format!("{base}/lc"))
            .form(&[("_csrf", csrf.as_str()), ("code", attempt)])
            .send()
            .await
            .unwrap();
    }
    let (status, _, _) = get(&client, &format!("{base}/account")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, body) = get(&client, &format!("{base}/st/not-a-token")).await;
    assert_ne!(status, StatusCode::OK, "{body}");

    // Two client_credentials tokens and one refused grant.
    let (id, secret) = daemon.create_client("Metrics").await;
    let http = reqwest::Client::new();
    for grant in ["client_credentials", "client_credentials", "password"] {
        http.post(format!("{base}/token"))
            .basic_auth(&id, Some(&secret))
            .form(&[("grant_type", grant)])
            .send()
            .await
            .unwrap();
    }

    let after = Samples::scrape(&addr).await;
    let ok = [("method", "login_code"), ("outcome", "success")];
    assert_eq!(after.value("latchkey_sign_ins_total", &ok), 1.0);
    assert_eq!(
        after.value("latchkey_sign_ins_total", &[("outcome", "failure")]),
        1.0
    );
    assert_eq!(after.value("latchkey_sign_in_failures_total", &[]), 1.0);
    let cc = [("grant", "client_credentials")];
    assert_eq!(after.value("latchkey_tokens_issued_total", &cc), 2.0);
    assert_eq!(
        after.value(
            "latchkey_token_errors_total",
            &[("grant", "other"), ("error", "unsupported_grant_type")]
        ),
        1.0
    );
    // Requests by route template, never by the path a client made up.
    let routes = after.routes();
    assert_eq!(routes.get("/lc"), Some(&3.0), "{routes:?}");
    assert_eq!(routes.get("/st/{token}"), Some(&1.0), "{routes:?}");
    assert!(!routes.contains_key("/st/not-a-token"), "{routes:?}");
    assert_eq!(
        after.value(
            "latchkey_http_requests_total",
            &[("route", "/token"), ("method", "POST"), ("status", "200")]
        ),
        2.0
    );
    assert_eq!(
        after.value(
            "latchkey_http_request_duration_seconds_count",
            &[("route", "/token")]
        ),
        3.0,
        "a histogram count per request"
    );
    assert!(after.value("latchkey_database_write_seconds_count", &[]) >= 2.0);
    assert_eq!(
        after.value("latchkey_mail_queue", &[("state", "queued")]),
        0.0
    );

    assert!(daemon.terminate());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limit_refusal_is_counted() {
    let (_dir, daemon, addr) = with_metrics().await;
    let base = daemon.base_url();
    let client = browser();
    let (_, _, page) = get(&client, &format!("{base}/lc")).await;
    let csrf = csrf_of(&page);
    let mut refused = 0;
    for i in 0..40 {
        let res = client
            .post(format!("{base}/lc"))
            .form(&[("_csrf", csrf.as_str()), ("code", &format!("wrong-{i}"))])
            .send()
            .await
            .unwrap();
        if res.status() == StatusCode::TOO_MANY_REQUESTS {
            refused += 1;
        }
    }
    assert!(
        refused > 0,
        "40 wrong codes from one address meet the limit"
    );
    let samples = Samples::scrape(&addr).await;
    assert_eq!(
        samples.value(
            "latchkey_rate_limit_refusals_total",
            &[("limit", "LoginCode")]
        ),
        f64::from(refused)
    );
    assert!(daemon.terminate());
}

/// Scrapes until `done` holds (bounded): mail goes out in the background.
async fn scrape_until(addr: &str, done: impl Fn(&Samples) -> bool) -> Samples {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let samples = Samples::scrape(addr).await;
        if done(&samples) {
            return samples;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "metrics never got there: {:?}",
            samples.0
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_deliveries_and_failures_are_counted_and_the_queue_shown() {
    let (_dir, daemon, addr) = with_metrics().await;
    let smtp = latchkey_tests::smtp::SmtpServer::start();
    for (key, value) in [
        ("smtp.host", "127.0.0.1".to_owned()),
        ("smtp.port", smtp.port.to_string()),
        ("smtp.from", "Latchkey <id@example.com>".to_owned()),
        ("smtp.tls", "none".to_owned()),
        ("email.admin_login_codes", "true".to_owned()),
    ] {
        daemon.cli_ok(&["config", "set", key, &value]).await;
    }
    daemon.create_user("alice").await;
    daemon
        .cli_ok(&["login-code", "create", "alice", "--email"])
        .await;
    smtp.wait_for(1).await;
    // The attempt is counted as it ends; the message leaves the outbox just after.
    let sent = scrape_until(&addr, |s| {
        s.value("latchkey_mail_attempts_total", &[("outcome", "sent")]) == 1.0
            && s.value("latchkey_mail_queue", &[("state", "queued")]) == 0.0
    })
    .await;
    assert_eq!(
        sent.value("latchkey_mail_attempts_total", &[("outcome", "failed")]),
        0.0
    );

    // The server goes: the next message fails and waits in the queue for its retry
    // (state "retrying" once an attempt failed).
    smtp.stop();
    daemon
        .cli_ok(&["login-code", "create", "alice", "--email"])
        .await;
    let failed = scrape_until(&addr, |s| {
        s.value("latchkey_mail_attempts_total", &[("outcome", "failed")]) >= 1.0
            && s.value("latchkey_mail_queue", &[("state", "retrying")]) == 1.0
    })
    .await;
    assert_eq!(
        failed.value("latchkey_mail_attempts_total", &[("outcome", "sent")]),
        1.0
    );
    assert_eq!(
        failed.value("latchkey_mail_queue", &[("state", "queued")]),
        0.0
    );
    assert!(daemon.terminate());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ldap_syncs_are_timed_and_their_last_success_kept() {
    use latchkey_tests::slapd::{ADMIN_DN, ADMIN_PASSWORD, BASE_DN, Slapd};

    let (_dir, daemon, addr) = with_metrics().await;
    let slapd = Slapd::start().await;
    slapd
        .add_user("alice", "Alice", "Liddell", "alice@example.org")
        .await;
    let set = |key: &'static str, value: String| {
        let daemon = &daemon;
        async move {
            daemon.cli_ok(&["config", "set", key, &value]).await;
        }
    };
    set("ldap.url", slapd.url()).await;
    set("ldap.bind_dn", ADMIN_DN.to_owned()).await;
    set("ldap.bind_password", ADMIN_PASSWORD.to_owned()).await;
    set("ldap.base_dn", BASE_DN.to_owned()).await;
    set("ldap.enabled", "true".to_owned()).await;

    let before = Samples::scrape(&addr).await;
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    daemon.cli_ok(&["ldap", "sync"]).await;
    let synced = Samples::scrape(&addr).await;
    let successes = |s: &Samples| s.value("latchkey_ldap_syncs_total", &[("outcome", "success")]);
    assert!(successes(&synced) >= successes(&before) + 1.0);
    assert!(
        synced.value("latchkey_ldap_sync_duration_seconds_count", &[])
            >= before.value("latchkey_ldap_sync_duration_seconds_count", &[]) + 1.0
    );
    assert_eq!(synced.value("latchkey_ldap_last_sync_success", &[]), 1.0);
    let last_success = synced.value("latchkey_ldap_last_success_timestamp_seconds", &[]);
    assert!(
        last_success >= started.floor() - 1.0 && last_success <= started + 60.0,
        "{last_success} vs {started}"
    );

    // A sync that fails: counted, and the last success stays where it was.
    set("ldap.bind_password", "not-the-password".to_owned()).await;
    let out = daemon.cli(&["ldap", "sync"]).await;
    assert_ne!(out.code, 0, "{out:?}");
    let failed = Samples::scrape(&addr).await;
    assert!(failed.value("latchkey_ldap_syncs_total", &[("outcome", "failure")]) >= 1.0);
    assert_eq!(failed.value("latchkey_ldap_last_sync_success", &[]), 0.0);
    assert_eq!(
        failed.value("latchkey_ldap_last_success_timestamp_seconds", &[]),
        last_success
    );
    assert!(daemon.terminate());
}
