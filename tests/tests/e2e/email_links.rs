//! Sign-in links by email (`email.one_time_access`), against a real SMTP server: the link and
//! its short code sign in only the browser that asked, once, within fifteen minutes; known and
//! unknown addresses get the same answer and the same work; requests and wrong codes are
//! limited; and a link asked for just before shutdown is still queued.

use std::time::{Duration, Instant};

use latchkey_tests::TestDaemon;
use latchkey_tests::audit::{audit_detail, audit_events};
use latchkey_tests::http::{
    browser, create_user, csrf_of, get, location, set_cookies, sets_session, split,
};
use latchkey_tests::mail::{link_in, mail_status, use_smtp, wait_status};
use latchkey_tests::smtp::{SmtpServer, free_port};
use reqwest::{Client, StatusCode};

/// The short code after "Or enter this code on the page where you asked: ".
fn code_in(text: &str) -> String {
    let marker = "where you asked: ";
    let start = text.find(marker).expect("the mail has a code") + marker.len();
    text[start..].split_whitespace().next().unwrap().to_owned()
}

/// A page without what legitimately differs per browser (the CSRF token).
fn without_csrf(html: &str) -> String {
    let token = csrf_of(html);
    html.replace(&token, "<csrf>")
}

/// GETs the alternative page (for a CSRF cookie), then asks for a link.
async fn ask_for_link(t: &TestDaemon, client: &Client, email: &str) -> (StatusCode, String) {
    let (status, _, page) = get(client, &format!("{}/login/alternative", t.base_url)).await;
    assert_eq!(status, StatusCode::OK);
    let token = csrf_of(&page);
    let res = client
        .post(format!("{}/login/email", t.base_url))
        .form(&[("_csrf", token.as_str()), ("email", email)])
        .send()
        .await
        .unwrap();
    let (status, _, body) = split(res).await;
    (status, body)
}

/// Posts a token or code from `page`'s form to `/login/email/verify`.
async fn verify(
    t: &TestDaemon,
    client: &Client,
    field: &str,
    value: &str,
) -> (StatusCode, reqwest::header::HeaderMap, String) {
    let (_, _, page) = get(client, &format!("{}/login/alternative", t.base_url)).await;
    let token = csrf_of(&page);
    let res = client
        .post(format!("{}/login/email/verify", t.base_url))
        .form(&[("_csrf", token.as_str()), (field, value)])
        .send()
        .await
        .unwrap();
    split(res).await
}

async fn email_links_on(t: &TestDaemon, smtp: &SmtpServer) {
    use_smtp(t, smtp.port).await;
    t.config_set("email.one_time_access", "true").await;
}

#[tokio::test]
async fn an_emailed_link_signs_in_only_the_browser_that_asked_and_asks_for_a_passkey() {
    let smtp = SmtpServer::start();
    let t = TestDaemon::start().await;
    create_user(t.daemon.idm(), "alice");

    // Off by default: no form, and the endpoint is not there.
    let asker = browser();
    let (_, _, page) = get(&asker, &format!("{}/login/alternative", t.base_url)).await;
    assert!(!page.contains("/login/email"));
    let (status, _) = ask_for_link(&t, &asker, "alice@example.com").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    email_links_on(&t, &smtp).await;
    let (_, _, page) = get(&asker, &format!("{}/login/alternative", t.base_url)).await;
    assert!(page.contains("Email me a sign-in link"));
    let (status, body) = ask_for_link(&t, &asker, "Alice@Example.com").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("If an account uses that address"));

    let mail = smtp.wait_for(1).await.remove(0);
    assert_eq!(mail.rcpt, vec!["alice@example.com"]);
    assert_eq!(mail.subject, "Sign in to Latchkey");
    let text = mail.text.unwrap();
    let link = link_in(&text, "/login/email/");
    assert!(mail.html.unwrap().contains(&link));
    let token = link.rsplit('/').next().unwrap().to_owned();

    // Opening the link consumes nothing; it shows a Continue button.
    let (status, _, page) = get(&asker, &link).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("email-continue"));

    // Another browser (another cookie jar) cannot use it.
    let other = browser();
    let (status, headers, page) = verify(&t, &other, "token", &token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(!sets_session(&headers));
    assert!(page.contains("different browser"));

    // The browser that asked can, once.
    let (status, headers, _) = verify(&t, &asker, "token", &token).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location(&headers), "/account?done=email_link");
    assert!(sets_session(&headers));
    let account_url = format!("{}{}", t.base_url, location(&headers));
    let (status, _, account) = get(&asker, &account_url).await;
    assert_eq!(status, StatusCode::OK);
    assert!(account.contains("Add a passkey"));
    assert!(account.contains("signed in with a link from your email"));
    let (status, _, _) = verify(&t, &asker, "token", &token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "single use");

    let events = audit_events(&t).await;
    let sign_in = events
        .iter()
        .find(|e| e["event"] == "email_link_sign_in")
        .unwrap();
    assert_eq!(sign_in["subject"], "alice");
    let sent = events.iter().find(|e| e["event"] == "mail_sent").unwrap();
    assert_eq!(audit_detail(sent, "kind"), Some("email_link"));
    assert!(!sent.to_string().contains("alice@example.com"));

    // The short code works too, also only in the asking browser; wrong codes count.
    let asker2 = browser();
    let (status, _) = ask_for_link(&t, &asker2, "alice@example.com").await;
    assert_eq!(status, StatusCode::OK);
    let code = code_in(&smtp.wait_for(2).await[1].text.clone().unwrap());
    let (status, _, _) = verify(&t, &other, "code", &code).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = verify(&t, &asker2, "code", "ZZZZ-ZZZZ").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, headers, _) = verify(&t, &asker2, "code", &code.to_lowercase()).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(sets_session(&headers));

    // Fifteen minutes later a link is dead.
    let asker3 = browser();
    ask_for_link(&t, &asker3, "alice@example.com").await;
    let late = smtp.wait_for(3).await[2].text.clone().unwrap();
    let token = link_in(&late, "/login/email/")
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    t.clock.advance(time::Duration::minutes(15));
    let (status, _, _) = verify(&t, &asker3, "token", &token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

/// One `POST /login/email` from a fresh browser: the page without its CSRF token and the cookies
/// it set without their values (what legitimately differs per browser), and how long the answer
/// took.
async fn ask_from_a_new_browser(t: &TestDaemon, address: &str) -> (String, Vec<String>, Duration) {
    let client = browser();
    let (_, _, page) = get(&client, &format!("{}/login/alternative", t.base_url)).await;
    let token = csrf_of(&page);
    let started = Instant::now();
    let res = client
        .post(format!("{}/login/email", t.base_url))
        .form(&[("_csrf", token.as_str()), ("email", address)])
        .send()
        .await
        .unwrap();
    let (status, headers, body) = split(res).await;
    let elapsed = started.elapsed();
    assert_eq!(status, StatusCode::OK, "{body}");
    let cookies = set_cookies(&headers)
        .iter()
        .map(|cookie| {
            let (pair, attributes) = cookie.split_once(';').unwrap_or((cookie, ""));
            let name = pair.split_once('=').map_or(pair, |(name, _)| name);
            format!("{name}=<value>;{attributes}")
        })
        .collect();
    (without_csrf(&body), cookies, elapsed)
}

/// The `email_link_requested` events (what each background lookup found), newest first.
async fn lookups(t: &TestDaemon) -> Vec<serde_json::Value> {
    audit_events(t)
        .await
        .into_iter()
        .filter(|e| e["event"] == "email_link_requested")
        .collect()
}

/// Waits until the background lookup of the request just answered has recorded what it found
/// (the lookup runs after the answer), and returns its event.
async fn next_lookup(t: &TestDaemon, seen: usize) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let found = lookups(t).await;
        if found.len() > seen {
            assert_eq!(found.len(), seen + 1, "one lookup per request: {found:?}");
            return found[0].clone();
        }
        assert!(Instant::now() < deadline, "no lookup recorded: {found:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn known_and_unknown_addresses_get_the_same_answer_and_the_same_work() {
    let smtp = SmtpServer::start();
    let t = TestDaemon::start().await;
    create_user(t.daemon.idm(), "alice");
    email_links_on(&t, &smtp).await;

    let rounds = 3;
    let mut answers = Vec::new();
    for round in 0..rounds {
        // Past both rate-limit windows.
        t.clock.advance(time::Duration::minutes(61));
        // Alternate which goes first, so neither always follows the other's work.
        let mut order = ["alice@example.com", "nobody@example.com"];
        if round % 2 == 1 {
            order.reverse();
        }
        for address in order {
            let seen = lookups(&t).await.len();
            let (page, cookies, _) = ask_from_a_new_browser(&t, address).await;
            answers.push((page, cookies));
            // Both answers start the same background lookup; only what it finds differs.
            let lookup = next_lookup(&t, seen).await;
            if address == "alice@example.com" {
                assert_eq!(lookup["subject"], "alice", "{lookup}");
                assert_eq!(audit_detail(&lookup, "account"), Some("found"), "{lookup}");
                assert!(
                    audit_detail(&lookup, "mail").is_some(),
                    "one mail: {lookup}"
                );
            } else {
                assert!(lookup["subject"].is_null(), "{lookup}");
                assert_eq!(audit_detail(&lookup, "account"), Some("none"), "{lookup}");
                assert_eq!(audit_detail(&lookup, "mail"), None, "no mail: {lookup}");
            }
            assert!(!lookup.to_string().contains(address), "never the address");
        }
    }
    assert!(
        answers.windows(2).all(|w| w[0] == w[1]),
        "one answer, the same cookies, for all: {:?}",
        answers
            .iter()
            .map(|(_, cookies)| cookies)
            .collect::<Vec<_>>()
    );
    assert!(
        answers[0]
            .1
            .iter()
            .any(|c| c.starts_with("latchkey_email_link=")),
        "{:?}",
        answers[0].1
    );
    // Every lookup above has committed what it queued, so once the outbox is empty every mail
    // there will ever be for these requests has gone out: one per request for alice, none for
    // the unknown address.
    let status = wait_status(&t, |s| s.queued == 0 && s.retrying == 0).await;
    assert_eq!(status.failed, 0, "{status:?}");
    let mails = smtp.messages();
    assert_eq!(mails.len(), rounds, "{mails:?}");
    assert!(mails.iter().all(|m| m.rcpt == vec!["alice@example.com"]));
    let sent = audit_events(&t)
        .await
        .into_iter()
        .filter(|e| e["event"] == "mail_sent")
        .count();
    assert_eq!(sent, rounds);
}

/// How long `POST /login/email` takes to answer for a known and an unknown address: the same
/// answer must not take measurably longer for one of them (the lookup, the link and the mail
/// run after it). A measurement, not a test (timing on a shared machine is no assertion):
/// `cargo test -p latchkey-tests --test e2e -- --ignored --nocapture bench_email_link_answer_times`
#[tokio::test]
#[ignore = "a measurement, not a test"]
async fn bench_email_link_answer_times() {
    let smtp = SmtpServer::start();
    let t = TestDaemon::start().await;
    create_user(t.daemon.idm(), "alice");
    email_links_on(&t, &smtp).await;
    let rounds = 40;
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for round in 0..rounds {
        t.clock.advance(time::Duration::minutes(61));
        let mut order = [
            ("alice@example.com", &mut known),
            ("nobody@example.com", &mut unknown),
        ];
        if round % 2 == 1 {
            order.reverse();
        }
        for (address, times) in order {
            let (_, _, elapsed) = ask_from_a_new_browser(&t, address).await;
            // The first round warms up connections and caches.
            if round > 0 {
                times.push(elapsed);
            }
        }
    }
    for (name, times) in [("known", &mut known), ("unknown", &mut unknown)] {
        times.sort();
        eprintln!(
            "{name} address: median {:?}, min {:?}, max {:?} over {} requests",
            times[times.len() / 2],
            times[0],
            times[times.len() - 1],
            times.len()
        );
    }
}

#[tokio::test]
async fn link_requests_are_limited_per_address_and_per_ip() {
    let smtp = SmtpServer::start();
    let t = TestDaemon::start().await;
    create_user(t.daemon.idm(), "alice");
    email_links_on(&t, &smtp).await;
    let client = browser();
    for _ in 0..3 {
        let (status, _) = ask_for_link(&t, &client, "alice@example.com").await;
        assert_eq!(status, StatusCode::OK);
    }
    // The fourth for the same address within the hour is refused…
    let (status, body) = ask_for_link(&t, &client, "ALICE@example.com").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(body.contains("Try again"));
    // …another address still works from this IP, until the IP's budget (5) is spent.
    let (status, _) = ask_for_link(&t, &client, "bob@example.com").await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = ask_for_link(&t, &client, "carol@example.com").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(smtp.wait_for(3).await.len(), 3);
    // Wrong codes are limited per IP as well.
    t.clock.advance(time::Duration::minutes(61));
    let mut last = StatusCode::OK;
    for _ in 0..11 {
        (last, _, _) = verify(&t, &client, "code", "AAAA-AAAA").await;
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn a_link_asked_for_just_before_shutdown_is_still_queued() {
    let port = free_port();
    let t = TestDaemon::start().await;
    create_user(t.daemon.idm(), "alice");
    use_smtp(&t, port).await;
    t.config_set("email.one_time_access", "true").await;
    let (status, _) = ask_for_link(&t, &browser(), "alice@example.com").await;
    assert_eq!(status, StatusCode::OK);
    // The lookup runs in the background after the answer; a clean stop
    // waits for it instead of dropping the request.
    let dir = t.stop().await;
    let t = TestDaemon::start_in(dir).await;
    let status = mail_status(&t).await;
    assert_eq!(status.queued + status.retrying, 1, "{status:?}");
}
