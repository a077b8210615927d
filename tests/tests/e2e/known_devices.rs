//! Known browsers across every way in: signup and first-admin setup record
//! the browser in the transaction that opens their session, as the other
//! sign-in methods do, so a later sign-in from that browser is quiet and one
//! from another browser mails a new-device notice (real SMTP).

use std::time::{Duration, Instant};

use latchkey_tests::TestDaemon;
use latchkey_tests::smtp::{ReceivedMail, SmtpServer};
use reqwest::{Client, StatusCode};

use latchkey_tests::http::{browser, csrf_of, get, login_code, post_code, set_cookies, split};
use latchkey_tests::mail::use_smtp;

/// SMTP on, notices on.
async fn notices_on(t: &TestDaemon, smtp: &SmtpServer) {
    use_smtp(t, smtp.port).await;
    t.config_set("email.new_device_notice", "true").await;
}

/// Signs `username` in with a fresh login code from `client`.
async fn sign_in(t: &TestDaemon, client: &Client, username: &str) {
    let code = login_code(t.daemon.idm(), username);
    let (status, _, _) = post_code(t, client, &code, None).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
}

/// The new-device notices the SMTP server has, once the outbox is empty: a
/// notice is queued in the sign-in's own transaction, so every notice of the
/// sign-ins so far is then on the server.
async fn notices(t: &TestDaemon, smtp: &SmtpServer) -> Vec<ReceivedMail> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let status = t.daemon.idm().mail_status().unwrap();
        if status.queued == 0 && status.retrying == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the outbox stays at {status:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    smtp.messages()
        .into_iter()
        .filter(|m| m.subject.starts_with("New sign-in"))
        .collect()
}

/// Posts `form` (with the page's CSRF token) to `url` from `client`; the
/// sign-in must succeed and give the browser a device cookie.
async fn post_signing_in(client: &Client, url: &str, form: &[(&str, &str)]) {
    let (status, _, page) = get(client, url).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let csrf = csrf_of(&page);
    let mut body = form.to_vec();
    body.push(("_csrf", csrf.as_str()));
    let (status, headers, page) = split(client.post(url).form(&body).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    let cookies = set_cookies(&headers);
    assert!(
        cookies.iter().any(|c| c.starts_with("latchkey_device=")),
        "{cookies:?}"
    );
}

#[tokio::test]
async fn a_signup_remembers_its_browser() {
    let smtp = SmtpServer::start();
    let t = TestDaemon::start().await;
    notices_on(&t, &smtp).await;
    t.config_set("signups.mode", "open").await;

    let signup_browser = browser();
    let form = [
        ("username", "alice"),
        ("email", "alice@example.com"),
        ("first_name", "Alice"),
        ("last_name", "Liddell"),
    ];
    let url = format!("{}/signup", t.base_url);
    post_signing_in(&signup_browser, &url, &form).await;
    assert!(notices(&t, &smtp).await.is_empty(), "signing up is no news");

    // Another browser is news: the signup's browser is the baseline.
    sign_in(&t, &browser(), "alice").await;
    let mails = notices(&t, &smtp).await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(mails[0].rcpt, vec!["alice@example.com"]);
    assert!(mails[0].text.as_deref().unwrap().contains("login_code"));

    // The signup's browser is known: signing in there again is quiet.
    sign_in(&t, &signup_browser, "alice").await;
    assert_eq!(notices(&t, &smtp).await.len(), 1);
}

#[tokio::test]
async fn the_first_admin_setup_remembers_its_browser() {
    let smtp = SmtpServer::start();
    let t = TestDaemon::start().await;
    notices_on(&t, &smtp).await;
    let link = t.daemon.setup_link().expect("a setup link").to_owned();

    let setup_browser = browser();
    let form = [
        ("username", "root"),
        ("email", "root@example.com"),
        ("first_name", "Ada"),
        ("last_name", "Admin"),
    ];
    post_signing_in(&setup_browser, &link, &form).await;

    sign_in(&t, &browser(), "root").await;
    let mails = notices(&t, &smtp).await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(mails[0].rcpt, vec!["root@example.com"]);

    sign_in(&t, &setup_browser, "root").await;
    assert_eq!(notices(&t, &smtp).await.len(), 1);
}
