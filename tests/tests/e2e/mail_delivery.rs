//! Mail delivery against a real SMTP server (aiosmtpd on loopback): the test message and the
//! server's exact errors, and the outbox retrying until the server is back, across a restart,
//! and giving up after a day — by the test clock, never by sleeping.

use std::time::{Duration, Instant};

use latchkey_tests::TestDaemon;
use latchkey_tests::smtp::{SmtpOptions, SmtpServer, SmtpTlsMode, free_port};

use latchkey_tests::audit::{audit_detail, audit_events, wait_for_audit};
use latchkey_tests::http::create_user;
use latchkey_tests::mail::{mail_status, use_smtp, wait_status};

#[tokio::test]
async fn the_test_email_arrives_as_html_and_text_with_the_app_name() {
    let smtp = SmtpServer::start();
    let t = TestDaemon::start().await;
    // Before SMTP is configured the command says what to set.
    let out = t.cli(&["email", "test", "--to", "admin@example.com"]).await;
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("smtp.host"), "{out:?}");

    use_smtp(&t, smtp.port).await;
    t.config_set("app.name", "Acme ID").await;
    let out = t.cli(&["email", "test", "--to", "admin@example.com"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    let mail = smtp.wait_for(1).await.remove(0);
    assert_eq!(mail.rcpt, vec!["admin@example.com"]);
    assert_eq!(mail.subject, "Test message from Acme ID");
    assert_eq!(mail.content_type, "multipart/alternative");
    assert!(mail.text.as_deref().unwrap().contains("Acme ID"));
    assert!(mail.html.as_deref().unwrap().contains("Acme ID"));
    assert!(!mail.raw.contains("<img"), "no tracking pixels");
    // Audited without the address.
    let events = audit_events(&t).await;
    let test = events.iter().find(|e| e["event"] == "mail_test").unwrap();
    assert_eq!(audit_detail(test, "result"), Some("sent"));
    assert!(!test.to_string().contains("admin@example.com"));
}

#[tokio::test]
async fn the_test_email_reports_the_servers_exact_error() {
    let t = TestDaemon::start().await;
    // Nobody listening.
    use_smtp(&t, free_port()).await;
    let out = t.cli(&["email", "test", "--to", "admin@example.com"]).await;
    assert_eq!(out.code, 1, "{out:?}");
    eprintln!("connection refused: {}", out.stderr.trim());
    assert!(
        out.stderr.to_lowercase().contains("connection refused"),
        "{out:?}"
    );

    // Implicit TLS against a plain server: a TLS mismatch.
    let plain = SmtpServer::start();
    t.config_set("smtp.port", &plain.port.to_string()).await;
    t.config_set("smtp.tls", "tls").await;
    let out = t.cli(&["email", "test", "--to", "admin@example.com"]).await;
    assert_eq!(out.code, 1, "{out:?}");
    eprintln!("TLS mismatch: {}", out.stderr.trim());
    assert!(out.stderr.contains("smtp.tls"), "{out:?}");
    assert!(plain.messages().is_empty());

    // STARTTLS with a self-signed certificate is refused unless told to skip verification.
    let secure = SmtpServer::start_with(SmtpOptions {
        tls: Some(SmtpTlsMode::StartTls),
        auth: Some(("mailer".into(), "right horse".into())),
        port: None,
    });
    t.config_set("smtp.port", &secure.port.to_string()).await;
    t.config_set("smtp.tls", "starttls").await;
    t.config_set("smtp.username", "mailer").await;
    t.config_set("smtp.password", "wrong battery").await;
    let out = t.cli(&["email", "test", "--to", "admin@example.com"]).await;
    assert_eq!(out.code, 1, "{out:?}");
    eprintln!("untrusted certificate: {}", out.stderr.trim());
    assert!(out.stderr.to_lowercase().contains("certificate"), "{out:?}");

    // Bad credentials: the server's 535 in its own words.
    t.config_set("smtp.skip_cert_verify", "true").await;
    let out = t.cli(&["email", "test", "--to", "admin@example.com"]).await;
    assert_eq!(out.code, 1, "{out:?}");
    eprintln!("bad credentials: {}", out.stderr.trim());
    assert!(out.stderr.contains("535"), "{out:?}");
    assert!(!out.stderr.contains("wrong battery"), "never the password");

    t.config_set("smtp.password", "right horse").await;
    let out = t.cli(&["email", "test", "--to", "admin@example.com"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(secure.wait_for(1).await.len(), 1);

    // The password is write-only and never in the audit log.
    let shown = t.cli(&["config", "show", "--json"]).await;
    assert!(!shown.stdout.contains("right horse"));
    assert_eq!(shown.json()["smtp"]["password"], "set");
    let events = audit_events(&t).await;
    assert!(!serde_json::to_string(&events).unwrap().contains("horse"));
}

#[tokio::test]
async fn queued_mail_is_retried_until_the_server_is_back() {
    let port = free_port();
    let t = TestDaemon::start().await;
    create_user(t.daemon.idm(), "alice");
    use_smtp(&t, port).await;
    t.config_set("email.admin_login_codes", "true").await;

    // Queued at once; the first attempt fails: connection refused.
    let started = Instant::now();
    let out = t.cli(&["login-code", "create", "alice", "--email"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    let status = wait_status(&t, |s| s.retrying == 1).await;
    assert!(status.configured);
    assert!(
        status.last_error.as_deref().unwrap().contains("refused"),
        "{status:?}"
    );
    let out = t.cli(&["email", "status", "--json"]).await;
    assert_eq!(out.json()["retrying"], 1);
    let events = audit_events(&t).await;
    let failed = events.iter().find(|e| e["event"] == "mail_failed").unwrap();
    assert_eq!(audit_detail(failed, "kind"), Some("login_code"));
    assert!(!failed.to_string().contains("alice@example.com"));

    // The server comes back; nothing is sent before the retry time. A code for bob, queued
    // then, is due at once: the worker delivers the outbox oldest first, so by the time bob's
    // mail is recorded as sent, alice's would have gone before it had it been taken for due.
    let smtp = SmtpServer::start_with(SmtpOptions {
        port: Some(port),
        ..SmtpOptions::default()
    });
    t.clock.advance(time::Duration::seconds(10));
    create_user(t.daemon.idm(), "bob");
    let out = t.cli(&["login-code", "create", "bob", "--email"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    wait_for_audit(&t, |e| e["event"] == "mail_sent" && e["subject"] == "bob").await;
    let mails = smtp.messages();
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(mails[0].rcpt, vec!["bob@example.com"]);
    assert_eq!(mail_status(&t).await.retrying, 1, "alice's still waits");
    // …and alice's goes out once its retry is due.
    t.clock.advance(time::Duration::seconds(25));
    t.daemon.wake_mail();
    let mails = smtp.wait_for(2).await;
    assert_eq!(mails[1].rcpt, vec!["alice@example.com"]);
    assert_eq!(mails[1].subject, "Your login code for Latchkey");
    let status = wait_status(&t, |s| s.retrying == 0 && s.queued == 0).await;
    assert!(status.last_sent_at.is_some());
    assert_eq!(status.last_error, None);
    let events = audit_events(&t).await;
    let sent = events
        .iter()
        .find(|e| e["event"] == "mail_sent" && e["subject"] == "alice")
        .unwrap();
    assert_eq!(audit_detail(sent, "attempts"), Some("2"));
}

#[tokio::test]
async fn queued_mail_survives_a_restart() {
    let port = free_port();
    let t = TestDaemon::start().await;
    create_user(t.daemon.idm(), "alice");
    use_smtp(&t, port).await;
    t.config_set("email.admin_login_codes", "true").await;
    let out = t.cli(&["login-code", "create", "alice", "--email"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    wait_status(&t, |s| s.retrying == 1).await;

    let dir = t.stop().await;
    let smtp = SmtpServer::start_with(SmtpOptions {
        port: Some(port),
        ..SmtpOptions::default()
    });
    let t = TestDaemon::start_in(dir).await;
    assert_eq!(
        mail_status(&t).await.retrying,
        1,
        "still queued after the restart"
    );
    t.clock.advance(time::Duration::minutes(1));
    t.daemon.wake_mail();
    let mails = smtp.wait_for(1).await;
    assert_eq!(mails[0].rcpt, vec!["alice@example.com"]);
    wait_status(&t, |s| s.retrying == 0 && s.queued == 0).await;
}

#[tokio::test]
async fn undeliverable_mail_is_given_up_after_a_day() {
    let t = TestDaemon::start().await;
    create_user(t.daemon.idm(), "alice");
    use_smtp(&t, free_port()).await;
    t.config_set("email.admin_login_codes", "true").await;
    let out = t.cli(&["login-code", "create", "alice", "--email"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    wait_status(&t, |s| s.retrying == 1).await;
    t.clock.advance(time::Duration::hours(25));
    t.daemon.wake_mail();
    let status = wait_status(&t, |s| s.failed == 1).await;
    assert_eq!(status.retrying, 0);
    let events = audit_events(&t).await;
    let gave_up = events
        .iter()
        .find(|e| e["event"] == "mail_failed" && audit_detail(e, "gave_up") == Some("true"));
    assert!(gave_up.is_some(), "{events:?}");
}
