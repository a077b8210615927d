//! Starting, refusing to start, serving HTTP, and stopping cleanly.

use latchkey_tests::{TestDaemon, test_config};

#[tokio::test]
async fn healthz_answers_over_http() {
    let t = TestDaemon::start().await;
    let res = reqwest::get(format!("{}/healthz", t.base_url))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["status"], "ok");
}

#[tokio::test]
async fn readyz_says_ready_with_the_schema_version() {
    let t = TestDaemon::start().await;
    let res = reqwest::get(format!("{}/readyz", t.base_url))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    assert_eq!(body["schema"], latchkey_daemon::store::SCHEMA_VERSION);
}

#[tokio::test]
async fn a_second_daemon_on_the_same_data_dir_refuses() {
    let t = TestDaemon::start().await;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let config = test_config(&t.config.data_dir, port);
    let clock = std::sync::Arc::new(t.clock.clone());
    let err = latchkey_daemon::start_on(&config, clock, listener)
        .await
        .expect_err("a second daemon must not start");
    let message = err.to_string();
    if latchkey_tests::on_postgres() {
        // The database is meant to be shared; the data directory's admin socket is not.
        assert!(
            message.contains("another latchkeyd") && message.contains("latchkey.sock"),
            "{message}"
        );
    } else {
        assert!(
            message.contains("already open") && message.contains("latchkey.redb"),
            "{message}"
        );
    }
    // The first one is unharmed.
    assert_eq!(t.cli(&["user", "list", "--json"]).await.code, 0);
}

#[tokio::test]
async fn shutdown_removes_the_socket_and_keeps_the_data() {
    let t = TestDaemon::start().await;
    t.cli(&["user", "create", "--username", "frank", "--json"])
        .await;
    let socket = t.socket();
    assert!(socket.exists());
    let dir = t.stop().await;
    assert!(!socket.exists(), "socket file left behind");

    let t = TestDaemon::start_in(dir).await;
    let frank = t.cli(&["user", "show", "frank", "--json"]).await;
    assert_eq!(frank.code, 0, "{frank:?}");
}

#[tokio::test]
async fn a_data_dir_that_is_a_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("data");
    std::fs::write(&file, b"not a directory").unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let config = test_config(&file, 1);
    let clock = latchkey_daemon::clock::ManualClock::new(time::OffsetDateTime::UNIX_EPOCH);
    let err = latchkey_daemon::start_on(&config, std::sync::Arc::new(clock), listener)
        .await
        .expect_err("must refuse");
    assert!(err.to_string().contains(file.to_str().unwrap()), "{err}");
}

/// The systemd unit in dist/ is one systemd accepts (`systemd-analyze verify`, with the
/// binary under test in place of the installed one), waits for the daemon's readiness
/// notice, and keeps its hardening.
#[test]
fn the_systemd_unit_verifies() {
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../dist/latchkeyd.service"
    ))
    .unwrap();
    for line in [
        "Type=notify",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "StateDirectory=latchkey",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "CapabilityBoundingSet=",
    ] {
        assert!(unit.lines().any(|l| l == line), "{line} in the unit");
    }
    let Ok(analyze) = which("systemd-analyze") else {
        panic!("systemd-analyze is missing: run scripts/install-test-deps (package systemd)");
    };
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("latchkeyd.service");
    let bin = env!("CARGO_BIN_EXE_latchkeyd-under-test");
    std::fs::write(&copy, unit.replace("/usr/local/bin/latchkeyd", bin)).unwrap();
    let out = std::process::Command::new(analyze)
        .arg("verify")
        .arg(&copy)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.trim().is_empty(), "systemd-analyze warns: {stderr}");
}

fn which(name: &str) -> Result<std::path::PathBuf, ()> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .ok_or(())
}
