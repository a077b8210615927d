//! `email_verified` tells the truth, over real HTTP with a real SMTP server: an address typed
//! at signup goes out unverified in ID tokens and userinfo until the mailed link is used
//! (GET shows a button and consumes nothing, the POST works once), a link for an address the
//! account no longer has is refused, admin-set addresses follow
//! `email.trust_admin_addresses`, an emailed sign-in link proves the address, changing it
//! unverifies it, and the account page offers a new link.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use latchkey_tests::TestDaemon;
use latchkey_tests::smtp::SmtpServer;
use reqwest::header::LOCATION;
use reqwest::{Client, StatusCode};
use serde_json::Value;
use sha2::{Digest, Sha256};

use latchkey_tests::audit::{audit_detail, audit_events, wait_for_audit};
use latchkey_tests::http::{browser, csrf_of, get, location, post_code, sets_session, split};
use latchkey_tests::mail::{link_in, use_smtp};

const CB: &str = "http://localhost:9/cb";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

/// A confidential client that skips consent: `(client_id, secret)`.
async fn relying_app(t: &TestDaemon) -> (String, String) {
    let out = t
        .cli(&[
            "client",
            "create",
            "--name",
            "Nextcloud",
            "--redirect-uri",
            CB,
            "--skip-consent",
            "--json",
        ])
        .await;
    assert_eq!(out.code, 0, "{out:?}");
    let json = out.json();
    (
        json["client_id"].as_str().unwrap().to_owned(),
        json["client_secret"].as_str().unwrap().to_owned(),
    )
}

fn payload(jwt: &str) -> Value {
    let part = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// Runs the code flow for `b`'s signed-in user with scope `openid email`: the ID token's
/// claims and userinfo's answer.
async fn email_claims(t: &TestDaemon, app: &(String, String), b: &Client) -> (Value, Value) {
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(VERIFIER.as_bytes()));
    let url = format!(
        "{}/authorize?{}",
        t.base_url,
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("client_id", &app.0)
            .append_pair("redirect_uri", CB)
            .append_pair("response_type", "code")
            .append_pair("scope", "openid email")
            .append_pair("state", "s")
            .append_pair("nonce", "n")
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256")
            .finish()
    );
    let res = b.get(&url).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let back = res.headers()[LOCATION].to_str().unwrap().to_owned();
    assert!(back.starts_with(CB), "{back}");
    let code = url::Url::parse(&back)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let tokens: Value = Client::new()
        .post(format!("{}/token", t.base_url))
        .basic_auth(&app.0, Some(&app.1))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", CB),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = payload(tokens["id_token"].as_str().expect("an ID token"));
    let access = tokens["access_token"].as_str().unwrap();
    let info: Value = Client::new()
        .get(format!("{}/userinfo", t.base_url))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (id, info)
}

/// Asserts what both the ID token and userinfo say.
async fn assert_claims(t: &TestDaemon, app: &(String, String), b: &Client, email: &str, ok: bool) {
    let (id, info) = email_claims(t, app, b).await;
    for (what, claims) in [("ID token", &id), ("userinfo", &info)] {
        assert_eq!(claims["email"], email, "{what}: {claims}");
        assert_eq!(claims["email_verified"], ok, "{what}: {claims}");
    }
}

/// Signs up `username` at `/signup` in a fresh browser, which is then signed in.
async fn open_signup(t: &TestDaemon, username: &str) -> Client {
    let b = browser();
    let (status, _, page) = get(&b, &format!("{}/signup", t.base_url)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let email = format!("{username}@example.com");
    let res = b
        .post(format!("{}/signup", t.base_url))
        .form(&[
            ("_csrf", csrf_of(&page).as_str()),
            ("username", username),
            ("email", email.as_str()),
            ("first_name", "Sam"),
            ("last_name", "Ple"),
        ])
        .send()
        .await
        .unwrap();
    let (status, headers, body) = split(res).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    assert!(sets_session(&headers));
    b
}

/// `latchkey user show USER --json`'s `email_verified`.
async fn shown_verified(t: &TestDaemon, username: &str) -> Value {
    let out = t.cli(&["user", "show", username, "--json"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    out.json()["email_verified"].clone()
}

/// Loads `url` (for the CSRF token) and posts its confirmation button.
async fn confirm(t: &TestDaemon, b: &Client, link: &str) -> (StatusCode, String) {
    let token = link.rsplit('/').next().unwrap();
    let (_, _, page) = get(b, link).await;
    let res = b
        .post(format!("{}/email/verify", t.base_url))
        .form(&[("_csrf", csrf_of(&page).as_str()), ("token", token)])
        .send()
        .await
        .unwrap();
    let (status, _, body) = split(res).await;
    (status, body)
}

async fn with_open_signup(smtp: Option<&SmtpServer>) -> TestDaemon {
    let t = TestDaemon::start().await;
    t.config_set("signups.mode", "open").await;
    if let Some(smtp) = smtp {
        use_smtp(&t, smtp.port).await;
    }
    t
}

#[tokio::test]
async fn a_signed_up_address_is_unverified_in_tokens_until_its_mailed_link_is_used() {
    let smtp = SmtpServer::start();
    let t = with_open_signup(Some(&smtp)).await;
    let app = relying_app(&t).await;
    let sam = open_signup(&t, "sam").await;

    // What the person typed is not vouched for: this said true before.
    assert_claims(&t, &app, &sam, "sam@example.com", false).await;
    assert_eq!(shown_verified(&t, "sam").await, false);

    // The verification mail arrived, text and HTML, with a link.
    let mail = smtp.wait_for(1).await.remove(0);
    assert_eq!(mail.rcpt, vec!["sam@example.com"]);
    assert_eq!(mail.subject, "Confirm your email address for Latchkey");
    let link = link_in(mail.text.as_deref().unwrap(), "/email/verify/");
    assert!(mail.html.unwrap().contains(&link));
    assert_eq!(link.rsplit('/').next().unwrap().len(), 43, "256 bits");

    // Opening it (as a mail scanner would) consumes nothing.
    let scanner = Client::new();
    for _ in 0..2 {
        let (status, _, page) = get(&scanner, &link).await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains("email-verify"), "{page}");
    }
    assert_eq!(shown_verified(&t, "sam").await, false);

    // The button confirms it, from any browser, once.
    let elsewhere = browser();
    let (status, page) = confirm(&t, &elsewhere, &link).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("email-verified"), "{page}");
    assert_eq!(shown_verified(&t, "sam").await, true);
    assert_claims(&t, &app, &sam, "sam@example.com", true).await;
    let (status, page) = confirm(&t, &elsewhere, &link).await;
    assert_eq!(status, StatusCode::GONE, "{page}");
    assert!(page.contains("already been used"), "{page}");

    // A POST without the CSRF token is refused before anything is looked at.
    let res = Client::new()
        .post(format!("{}/email/verify", t.base_url))
        .form(&[("token", link.rsplit('/').next().unwrap())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    let events = audit_events(&t).await;
    let sent = events
        .iter()
        .find(|e| e["event"] == "email_verification_sent")
        .unwrap();
    assert_eq!(sent["subject"], "sam");
    let verified = events
        .iter()
        .find(|e| e["event"] == "email_verified")
        .unwrap();
    assert_eq!(audit_detail(verified, "via"), Some("link"));
    wait_for_audit(&t, |e| {
        e["event"] == "mail_sent" && audit_detail(e, "kind") == Some("email_verification")
    })
    .await;
}

#[tokio::test]
async fn a_link_for_an_address_the_account_no_longer_has_is_refused() {
    let smtp = SmtpServer::start();
    let t = with_open_signup(Some(&smtp)).await;
    open_signup(&t, "sam").await;
    let mail = smtp.wait_for(1).await.remove(0);
    let link = link_in(mail.text.as_deref().unwrap(), "/email/verify/");

    t.config_set("email.trust_admin_addresses", "false").await;
    let out = t
        .cli(&["user", "update", "sam", "--email", "sam@elsewhere.example"])
        .await;
    assert_eq!(out.code, 0, "{out:?}");
    let (status, page) = confirm(&t, &browser(), &link).await;
    assert_eq!(status, StatusCode::CONFLICT, "{page}");
    assert!(page.contains("no longer the address"), "{page}");
    assert_eq!(shown_verified(&t, "sam").await, false);
}

#[tokio::test]
async fn admin_addresses_are_verified_unless_the_trust_setting_is_off() {
    let t = TestDaemon::start().await;
    let app = relying_app(&t).await;
    let create = |name: &'static str| {
        let email = format!("{name}@example.com");
        let t = &t;
        async move {
            let out = t
                .cli(&["user", "create", "--username", name, "--email", &email])
                .await;
            assert_eq!(out.code, 0, "{out:?}");
        }
    };
    create("ada").await;
    assert_eq!(shown_verified(&t, "ada").await, true);
    let out = t.cli(&["user", "list", "--json"]).await;
    let listed = out.json();
    assert_eq!(listed["users"][0]["email_verified"], true, "{listed}");
    let human = t.cli(&["user", "show", "ada"]).await;
    let line = human
        .stdout
        .lines()
        .find(|l| l.starts_with("email verified:"));
    assert!(line.is_some_and(|l| l.ends_with(" yes")), "{human:?}");

    let ada = browser();
    let (status, _, _) = post_code(&t, &ada, &login_code(&t, "ada").await, None).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_claims(&t, &app, &ada, "ada@example.com", true).await;

    t.config_set("email.trust_admin_addresses", "false").await;
    create("bea").await;
    assert_eq!(shown_verified(&t, "bea").await, false);
    let bea = browser();
    post_code(&t, &bea, &login_code(&t, "bea").await, None).await;
    assert_claims(&t, &app, &bea, "bea@example.com", false).await;

    // Changing an address unverifies it while trust is off…
    let out = t
        .cli(&["user", "update", "ada", "--email", "ada2@example.com"])
        .await;
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(shown_verified(&t, "ada").await, false);
    assert_claims(&t, &app, &ada, "ada2@example.com", false).await;
    // …and an admin's change counts as verified when it is on.
    t.config_set("email.trust_admin_addresses", "true").await;
    let out = t
        .cli(&["user", "update", "bea", "--email", "bea2@example.com"])
        .await;
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(shown_verified(&t, "bea").await, true);
    let events = audit_events(&t).await;
    let updated = events
        .iter()
        .find(|e| e["event"] == "user_updated")
        .unwrap();
    assert_eq!(audit_detail(updated, "email_verified"), Some("true"));
}

async fn login_code(t: &TestDaemon, username: &str) -> String {
    let out = t.cli(&["login-code", "create", username, "--json"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    out.json()["code"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn an_emailed_sign_in_link_proves_the_address_it_was_sent_to() {
    // Signed up while no mail could be sent: unverified, and nothing queued.
    let t = with_open_signup(None).await;
    open_signup(&t, "sam").await;
    assert_eq!(shown_verified(&t, "sam").await, false);

    let smtp = SmtpServer::start();
    use_smtp(&t, smtp.port).await;
    t.config_set("email.one_time_access", "true").await;
    let b = browser();
    let (_, _, page) = get(&b, &format!("{}/login/alternative", t.base_url)).await;
    let res = b
        .post(format!("{}/login/email", t.base_url))
        .form(&[
            ("_csrf", csrf_of(&page).as_str()),
            ("email", "sam@example.com"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let mail = smtp.wait_for(1).await.remove(0);
    assert_eq!(
        mail.subject, "Sign in to Latchkey",
        "no verification mail before"
    );
    let link = link_in(mail.text.as_deref().unwrap(), "/login/email/");
    let (_, _, page) = get(&b, &link).await;
    let res = b
        .post(format!("{}/login/email/verify", t.base_url))
        .form(&[
            ("_csrf", csrf_of(&page).as_str()),
            ("token", link.rsplit('/').next().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(shown_verified(&t, "sam").await, true);
    let events = audit_events(&t).await;
    let verified = events
        .iter()
        .find(|e| e["event"] == "email_verified")
        .unwrap();
    assert_eq!(audit_detail(verified, "via"), Some("email_link"));
}

#[tokio::test]
async fn the_account_page_shows_an_unverified_address_and_sends_a_new_link() {
    let t = with_open_signup(None).await;
    let sam = open_signup(&t, "sam").await;
    let account = format!("{}/account", t.base_url);
    let (_, _, page) = get(&sam, &account).await;
    assert!(page.contains("Unverified"), "{page}");
    assert!(page.contains("email-verify-send"), "{page}");

    // Without SMTP it says so, clearly, and sends nothing.
    let send = async |b: &Client| {
        let (_, _, page) = get(b, &account).await;
        let res = b
            .post(format!("{}/account/email/verify", t.base_url))
            .form(&[("_csrf", csrf_of(&page).as_str())])
            .send()
            .await
            .unwrap();
        split(res).await
    };
    let (status, headers, _) = send(&sam).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location(&headers), "/account?done=verification_unavailable");
    let (_, _, page) = get(&sam, &format!("{account}?done=verification_unavailable")).await;
    assert!(page.contains("cannot send email"), "{page}");

    let smtp = SmtpServer::start();
    use_smtp(&t, smtp.port).await;
    for n in 1..=3 {
        let (status, headers, _) = send(&sam).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert_eq!(location(&headers), "/account?done=verification_sent");
        assert_eq!(smtp.wait_for(n).await.len(), n);
    }
    // The fourth within the hour is refused, saying why.
    let (status, headers, page) = send(&sam).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{page}");
    assert!(headers.contains_key("retry-after"));
    assert!(page.contains("confirmation links were sent"), "{page}");

    // Any of the links works; then the page says verified and offers nothing.
    let first = smtp.messages().remove(0);
    let link = link_in(first.text.as_deref().unwrap(), "/email/verify/");
    let (status, _) = confirm(&t, &sam, &link).await;
    assert_eq!(status, StatusCode::OK);
    let (_, _, page) = get(&sam, &account).await;
    assert!(page.contains("Verified"), "{page}");
    assert!(!page.contains("email-verify-send"), "{page}");
}
