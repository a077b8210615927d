//! The real `latchkeyd` binary as users run it (`latchkeyd-under-test`, built from
//! `daemon/src/main.rs`): configured by `LATCHKEY_*` environment variables, serving on its
//! multi-thread runtime, stopped by a signal. A sign-in with a login code over HTTP; SIGTERM and
//! SIGINT let a request in flight finish and remove the socket; a bad environment value is
//! refused with exit code 2 and the variable's name; `--check-config` prints the effective
//! configuration with the secret redacted.

use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use latchkey_tests::http::{browser, csrf_of, get, location, sets_session};
use latchkey_tests::process::{self, DaemonProcess};
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const BIN: &str = env!("CARGO_BIN_EXE_latchkeyd-under-test");

/// How long a step the daemon takes on its own (start, shutdown) may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(15);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_code_signs_in_over_http_against_the_process() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = DaemonProcess::start(BIN.as_ref(), &dir.path().join("data")).await;
    let out = daemon
        .cli(&[
            "user",
            "create",
            "--username",
            "alice",
            "--email",
            "alice@example.com",
        ])
        .await;
    assert_eq!(out.code, 0, "{out:?}");
    let out = daemon
        .cli(&["login-code", "create", "alice", "--json"])
        .await;
    assert_eq!(out.code, 0, "{out:?}");
    let link = out.json()["url"].as_str().unwrap().to_owned();
    assert!(
        link.starts_with(&daemon.base_url()),
        "the public URL from the environment: {link}"
    );
    let code = link.rsplit('/').next().unwrap().to_owned();

    // The link shows the code; posting it signs in and the account page shows the user.
    let client = browser();
    let (status, _, page) = get(&client, &link).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let res = client
        .post(format!("{}/lc", daemon.base_url()))
        .form(&[("_csrf", csrf_of(&page).as_str()), ("code", code.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(res.headers()), "/account");
    assert!(sets_session(res.headers()));
    let (status, _, account) = get(&client, &format!("{}/account", daemon.base_url())).await;
    assert_eq!(status, StatusCode::OK);
    assert!(account.contains("alice@example.com"), "{account}");

    assert!(daemon.terminate(), "a clean exit");
}

/// The half of `POST /lc` a client has sent when the signal comes: the head, asking to be told
/// to go on (`Expect: 100-continue`) before it sends the body.
const HEAD: &[u8] = b"POST /lc HTTP/1.1\r\nHost: localhost\r\n\
    Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 9\r\n\
    Expect: 100-continue\r\n\r\n";

/// Reads from `stream` until the bytes read so far contain `marker` (bounded by [`PATIENCE`]).
async fn read_until(stream: &mut TcpStream, marker: &str) -> String {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + PATIENCE;
    while !String::from_utf8_lossy(&seen).contains(marker) {
        let left = deadline.saturating_duration_since(Instant::now());
        let n = tokio::time::timeout(left, stream.read(&mut buf))
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "no {marker:?} within {PATIENCE:?}: {:?}",
                    String::from_utf8_lossy(&seen)
                )
            })
            .unwrap();
        assert!(
            n > 0,
            "closed before {marker:?}: {:?}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&seen).into_owned()
}

/// Polls (bounded by [`PATIENCE`]) until `done` holds.
async fn wait_until(what: &str, daemon: &DaemonProcess, done: impl Fn() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "{what}: not within {PATIENCE:?}\n{}",
            daemon.output()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Sends `signal` while a request is in flight: the daemon stops taking work (its socket goes,
/// new connections are refused), finishes the request, and exits successfully.
async fn a_signal_lets_the_request_in_flight_finish(signal: &str) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let daemon = DaemonProcess::start(BIN.as_ref(), &data).await;
    let socket = daemon.socket();
    assert!(socket.exists());
    let port = daemon.port;

    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    stream.write_all(HEAD).await.unwrap();
    // The server says go on once a handler waits for the body: the request is in flight.
    read_until(&mut stream, "HTTP/1.1 100 Continue\r\n\r\n").await;

    daemon.signal(signal);
    wait_until("the admin socket is removed", &daemon, || !socket.exists()).await;
    wait_until("new connections are refused", &daemon, || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err()
    })
    .await;

    // The rest of the body: the request is answered (refused by the CSRF check, but answered),
    // not dropped.
    stream.write_all(b"code=AAAA").await.unwrap();
    let answer = read_until(&mut stream, "\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");

    let log = daemon.log.clone();
    let status = tokio::task::spawn_blocking(move || daemon.wait())
        .await
        .unwrap();
    let output = std::fs::read_to_string(log).unwrap();
    assert!(status.success(), "{status}\n{output}");
    assert!(
        output.contains(&format!("SIG{signal} received, shutting down")),
        "{output}"
    );
    assert!(output.contains("stopped"), "{output}");
    assert!(!socket.exists());
    assert!(data.join("latchkey.redb").exists(), "the data stays");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_the_request_in_flight_and_removes_the_socket() {
    a_signal_lets_the_request_in_flight_finish("TERM").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_finishes_the_request_in_flight_and_removes_the_socket() {
    a_signal_lets_the_request_in_flight_finish("INT").await;
}

/// A stop asked for the moment the daemon's socket appears, before it even answers (a service
/// manager's stop during start-up): still a clean stop, with the socket removed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signal_during_start_up_is_a_clean_stop() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let daemon = DaemonProcess::spawn(BIN.as_ref(), &data, &[]);
    let socket = daemon.socket();
    let deadline = Instant::now() + PATIENCE;
    while !socket.exists() {
        assert!(Instant::now() < deadline, "no socket:\n{}", daemon.output());
        std::thread::yield_now();
    }
    daemon.signal("TERM");
    let log = daemon.log.clone();
    let status = tokio::task::spawn_blocking(move || daemon.wait())
        .await
        .unwrap();
    let output = std::fs::read_to_string(log).unwrap();
    assert!(status.success(), "{status}\n{output}");
    assert!(
        output.contains("SIGTERM received, shutting down"),
        "{output}"
    );
    assert!(!socket.exists(), "the socket is removed");
}

#[tokio::test]
async fn a_bad_environment_value_exits_2_naming_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_arg = data.display().to_string();
    let out = process::run(
        BIN.as_ref(),
        &[],
        &[
            ("LATCHKEY_DATA_DIR", data_arg.as_str()),
            ("LATCHKEY_LISTEN", "localhost"),
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(
        stderr,
        "latchkeyd: LATCHKEY_LISTEN: expected an address like 127.0.0.1:1411, got \"localhost\"\n"
    );
    assert!(out.stdout.is_empty());
    assert!(!data.exists(), "nothing was started or written");
}

#[tokio::test]
async fn check_config_prints_the_effective_configuration_with_the_secrets_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_arg = data.display().to_string();
    let key = STANDARD.encode([7u8; 32]);
    let out = process::run(
        BIN.as_ref(),
        &["--check-config"],
        &[
            ("LATCHKEY_DATA_DIR", data_arg.as_str()),
            ("LATCHKEY_LISTEN", "127.0.0.1:1999"),
            ("LATCHKEY_PUBLIC_URL", "https://id.example.com"),
            ("LATCHKEY_ENCRYPTION_KEY", key.as_str()),
            (
                "LATCHKEY_DATABASE_URL",
                "postgres://latchkey:hunter2@db.example.com/latchkey",
            ),
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.starts_with("# Effective latchkeyd configuration (secrets redacted).\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("# The encryption key comes from LATCHKEY_ENCRYPTION_KEY."),
        "{stdout}"
    );
    assert!(
        !stdout.contains(&key),
        "the key itself is never printed: {stdout}"
    );
    assert!(
        !stdout.contains("hunter2"),
        "the database password is never printed: {stdout}"
    );
    for line in [
        "listen = \"127.0.0.1:1999\"",
        "database_url = \"postgres://latchkey:***@db.example.com/latchkey\"",
        "public_url = \"https://id.example.com\"",
        &format!("data_dir = \"{data_arg}\""),
        &format!(
            "socket = \"{}\"",
            Path::new(&data_arg).join("latchkey.sock").display()
        ),
    ] {
        assert!(stdout.lines().any(|l| l == line), "{line} in:\n{stdout}");
    }
    assert!(!stdout.contains("encryption_key_file"), "{stdout}");
    assert!(!data.exists(), "checking starts nothing");
}

/// Run as systemd runs a `Type=notify` service: `NOTIFY_SOCKET` names a datagram socket, the
/// daemon sends `READY=1` once it serves and `STOPPING=1` when a stop begins. With
/// `LATCHKEY_LOG_FORMAT=json` every line it writes is one JSON object.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn it_tells_systemd_when_it_is_ready_and_stopping_and_logs_json() {
    let dir = tempfile::tempdir().unwrap();
    let notify_path = dir.path().join("notify.sock");
    let notify = std::os::unix::net::UnixDatagram::bind(&notify_path).unwrap();
    notify.set_read_timeout(Some(PATIENCE)).unwrap();
    let notify_env = notify_path.display().to_string();
    let daemon = DaemonProcess::start_with_env(
        BIN.as_ref(),
        &dir.path().join("data"),
        &[
            ("NOTIFY_SOCKET", notify_env.as_str()),
            ("LATCHKEY_LOG_FORMAT", "json"),
        ],
    )
    .await;
    let mut buf = [0u8; 256];
    let n = notify.recv(&mut buf).expect("READY=1 within the patience");
    assert_eq!(&buf[..n], b"READY=1\n");
    // It was sent once serving: the HTTP port answers.
    let health = reqwest::get(format!("{}/healthz", daemon.base_url()))
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);

    daemon.signal("TERM");
    let n = notify.recv(&mut buf).expect("STOPPING=1 on SIGTERM");
    assert_eq!(&buf[..n], b"STOPPING=1\n");
    let output = daemon.output();
    assert!(daemon.wait().success());

    let lines: Vec<serde_json::Value> = output
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect();
    let listening = lines
        .iter()
        .find(|line| {
            line["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("latchkeyd ") && m.contains("listening on"))
        })
        .unwrap_or_else(|| panic!("no start line in {output}"));
    assert_eq!(listening["level"], "INFO");
    assert!(listening["timestamp"].is_string(), "{listening}");
    assert!(
        lines
            .iter()
            .any(|line| line["message"] == "SIGTERM received, shutting down"),
        "{output}"
    );
}
