//! Mail that tells users about their account (real SMTP): a sign-in from a new browser, when
//! asked for; and a passkey added, saying which passkey, when, from where and how the session
//! was signed in (`passkey_added` records that method). Without SMTP nothing is queued and
//! enrolment works as before.

use latchkey_tests::TestDaemon;
use latchkey_tests::authenticator::SoftAuthenticator;
use latchkey_tests::http::{self, browser, login_code, post_code};
use latchkey_tests::smtp::SmtpServer;
use reqwest::StatusCode;

use latchkey_tests::audit::{audit_detail, audit_events, wait_for_audit};
use latchkey_tests::mail::{use_smtp, wait_status};
use latchkey_tests::passkeys::{create_user, register, signed_in_with_code};

#[tokio::test]
async fn a_passkey_added_after_a_login_code_is_mailed_to_its_owner_with_the_method() {
    let smtp = SmtpServer::start();
    let t = TestDaemon::start().await;
    use_smtp(&t, smtp.port).await;
    create_user(&t, "alice").await;
    let b = signed_in_with_code(&t, "alice").await;
    let mut auth = SoftAuthenticator::new();
    let added = register(&b, &mut auth).await;

    let mail = smtp.wait_for(1).await.remove(0);
    assert_eq!(mail.rcpt, vec!["alice@example.com"]);
    assert_eq!(mail.subject, "A passkey was added to your Latchkey account");
    let text = mail.text.unwrap();
    for expected in [
        "Passkey: Passkey",
        "When:    2026-11-23 08:00 UTC",
        "Signed in with: a login code from an administrator",
        "Address: 127.0.0.1",
        "tell your administrator",
    ] {
        assert!(text.contains(expected), "{expected:?} in:\n{text}");
    }
    assert!(
        mail.html
            .unwrap()
            .contains("a login code from an administrator")
    );

    let events = audit_events(&t).await;
    let event = events
        .iter()
        .find(|e| e["event"] == "passkey_added")
        .unwrap();
    assert_eq!(audit_detail(event, "id"), added["id"].as_str());
    assert_eq!(audit_detail(event, "method"), Some("login_code"));
    assert!(audit_detail(event, "mail").is_some(), "{event}");
    // The worker records `mail_sent` after the server has the message.
    wait_for_audit(&t, |e| {
        e["event"] == "mail_sent" && audit_detail(e, "kind") == Some("passkey_added")
    })
    .await;
}

#[tokio::test]
async fn without_smtp_a_passkey_is_added_quietly_and_still_audited_with_the_method() {
    let t = TestDaemon::start().await;
    create_user(&t, "alice").await;
    let b = signed_in_with_code(&t, "alice").await;
    let mut auth = SoftAuthenticator::new();
    register(&b, &mut auth).await;

    let events = audit_events(&t).await;
    let event = &events[0];
    assert_eq!(event["event"], "passkey_added", "{event}");
    assert_eq!(audit_detail(event, "method"), Some("login_code"));
    assert_eq!(audit_detail(event, "mail"), None);
    let out = t.cli(&["email", "status", "--json"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    let status = out.json();
    assert_eq!(
        (status["queued"].as_u64(), status["retrying"].as_u64()),
        (Some(0), Some(0))
    );
}

#[tokio::test]
async fn a_sign_in_from_a_new_browser_is_announced_when_asked_for() {
    let smtp = SmtpServer::start();
    let t = TestDaemon::start().await;
    http::create_user(t.daemon.idm(), "alice");
    use_smtp(&t, smtp.port).await;
    t.config_set("email.new_device_notice", "true").await;

    // The first browser is the baseline; signing in again from it is quiet.
    let first = browser();
    for _ in 0..2 {
        let code = login_code(t.daemon.idm(), "alice");
        let (status, _, _) = post_code(&t, &first, &code, None).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
    }
    // A second browser is news.
    let second = browser();
    let code = login_code(t.daemon.idm(), "alice");
    let (status, _, _) = post_code(&t, &second, &code, None).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let mails = smtp.wait_for(1).await;
    assert_eq!(mails[0].subject, "New sign-in to Latchkey");
    assert!(mails[0].text.as_deref().unwrap().contains("login_code"));
    // Notices are queued in the sign-in's own transaction, before its answer: all three are
    // answered, so once the outbox is empty every notice they caused has gone out.
    let status = wait_status(&t, |s| s.queued == 0 && s.retrying == 0).await;
    assert_eq!(status.failed, 0, "{status:?}");
    assert_eq!(
        smtp.messages().len(),
        1,
        "the first browser is the baseline"
    );
    let sent: Vec<_> = audit_events(&t)
        .await
        .into_iter()
        .filter(|e| e["event"] == "mail_sent")
        .collect();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(audit_detail(&sent[0], "kind"), Some("new_device"));
}
