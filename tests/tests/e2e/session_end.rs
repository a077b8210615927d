//! How a browser session ends, over real HTTP: RP-initiated logout with an `id_token_hint`
//! that must sign nobody out (forged, issued to another client, or about another user), and an
//! admin revoking one browser's session from the CLI.
//!
//! What a hint must be is written in `daemon/src/idm/oidc/end_session.rs`; what the browser
//! sees in `daemon/src/web/oidc/end_session.rs`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use latchkey_tests::TestDaemon;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

use super::oidc_grant_end::{offline_tokens, refreshed, text};
use latchkey_tests::audit::audit_events;
use latchkey_tests::http::{browser, create_user, csrf_of, location};
use latchkey_tests::oidc::{
    BYE, CB, authorize_url, claims, consent, create_client, exchange, param, sign_in, token_refresh,
};

/// `GET /end-session` with these parameters, from `b`.
async fn end_session(t: &TestDaemon, b: &Client, query: &[(&str, &str)]) -> reqwest::Response {
    b.get(format!("{}/end-session", t.base_url))
        .query(query)
        .send()
        .await
        .unwrap()
}

/// Asserts the end-session request was refused with the error page naming `says`.
async fn refused_with_a_page(res: reqwest::Response, says: &str) {
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let page = res.text().await.unwrap();
    assert!(page.contains(says), "{page}");
}

/// The username on `b`'s account page, or `None` when `/account` sends it to sign in.
async fn signed_in_as(t: &TestDaemon, b: &Client) -> Option<String> {
    let res = b
        .get(format!("{}/account", t.base_url))
        .send()
        .await
        .unwrap();
    if res.status() == StatusCode::SEE_OTHER {
        let to = res.headers()["location"].to_str().unwrap().to_owned();
        assert_eq!(to, "/login?next=/account");
        return None;
    }
    assert_eq!(res.status(), StatusCode::OK);
    let page = res.text().await.unwrap();
    ["alice", "bob"]
        .into_iter()
        .find(|name| page.contains(&format!("{name}@example.com")))
        .map(str::to_owned)
}

/// How many times `event` is in the audit log.
async fn count(t: &TestDaemon, event: &str) -> usize {
    audit_events(t)
        .await
        .iter()
        .filter(|e| e["event"] == event)
        .count()
}

/// A JWT with `header` and `claims`, signed ES256 by a key that is not the daemon's.
fn signed_by_a_stranger(header: &Value, claims: &Value) -> String {
    let b64 = |v: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap());
    let input = format!("{}.{}", b64(header), b64(claims));
    let key = SigningKey::from_bytes(&[7u8; 32].into()).unwrap();
    let signature: Signature = key.sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
}

#[tokio::test]
async fn a_forged_hint_is_refused_and_signs_nobody_out() {
    let t = TestDaemon::start().await;
    create_user(t.daemon.idm(), "alice");
    let rp = create_client(&t, &[]).await;
    let b = browser();
    let tokens = offline_tokens(&t, &b, &rp).await;
    let id_token = text(&tokens, "id_token");
    let real_claims = claims(id_token);
    let header = URL_SAFE_NO_PAD.decode(id_token.split('.').next().unwrap());
    let kid = serde_json::from_slice::<Value>(&header.unwrap()).unwrap()["kid"].clone();
    assert!(kid.is_string(), "the real header names its key");

    let forged = [
        // The real claims with no signature at all.
        format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
            id_token.split('.').nth(1).unwrap()
        ),
        // The real claims, signed by another key that claims to be ours.
        signed_by_a_stranger(
            &json!({"alg": "ES256", "kid": kid, "typ": "JWT"}),
            &real_claims,
        ),
        // The real claims, signed by another key under its own name.
        signed_by_a_stranger(
            &json!({"alg": "ES256", "kid": "stranger", "typ": "JWT"}),
            &real_claims,
        ),
        // The real header and claims with another key's signature.
        format!(
            "{}.{}",
            id_token.rsplit_once('.').unwrap().0,
            signed_by_a_stranger(&json!({}), &json!({}))
                .rsplit_once('.')
                .unwrap()
                .1
        ),
    ];
    for hint in &forged {
        let res = end_session(
            &t,
            &b,
            &[("id_token_hint", hint), ("post_logout_redirect_uri", BYE)],
        )
        .await;
        refused_with_a_page(res, "id_token_hint").await;
    }
    // Nobody was signed out and nothing was revoked.
    assert_eq!(signed_in_as(&t, &b).await.as_deref(), Some("alice"));
    assert_eq!(count(&t, "signed_out").await, 0);
    assert_eq!(count(&t, "oidc_refresh_tokens_revoked").await, 0);
    refreshed(&t, &rp, &tokens).await;
}

#[tokio::test]
async fn a_hint_issued_to_another_client_is_refused_and_signs_nobody_out() {
    let t = TestDaemon::start().await;
    create_user(t.daemon.idm(), "alice");
    let grafana = create_client(&t, &[]).await;
    let wiki_bye = "http://localhost:9/wiki-bye";
    let out = t
        .cli(&[
            "client",
            "create",
            "--name",
            "Wiki",
            "--redirect-uri",
            CB,
            "--logout-uri",
            wiki_bye,
            "--json",
        ])
        .await;
    assert_eq!(out.code, 0, "{out:?}");
    let wiki_id = out.json()["client_id"].as_str().unwrap().to_owned();
    let b = browser();
    let tokens = offline_tokens(&t, &b, &grafana).await;
    let grafana_hint = text(&tokens, "id_token");
    assert_eq!(claims(grafana_hint)["aud"], grafana.id.as_str());

    // The wiki names itself, but the hint was issued to Grafana.
    let res = end_session(
        &t,
        &b,
        &[("id_token_hint", grafana_hint), ("client_id", &wiki_id)],
    )
    .await;
    refused_with_a_page(res, "client_id does not match the id_token_hint").await;
    // Grafana's hint, sending the browser to the wiki's post-logout address: the address must
    // be registered for the hint's client, so this would be an open redirect through us.
    let res = end_session(
        &t,
        &b,
        &[
            ("id_token_hint", grafana_hint),
            ("post_logout_redirect_uri", wiki_bye),
        ],
    )
    .await;
    refused_with_a_page(res, "post_logout_redirect_uri").await;

    assert_eq!(signed_in_as(&t, &b).await.as_deref(), Some("alice"));
    assert_eq!(count(&t, "signed_out").await, 0);
    assert_eq!(count(&t, "oidc_refresh_tokens_revoked").await, 0);
    refreshed(&t, &grafana, &tokens).await;
}

/// Decision (`daemon/src/idm/oidc/end_session.rs`): a valid hint about someone other than the
/// browser's user is not that user's request to sign out. The browser's user is asked, as
/// without a hint, and the hint's user keeps their session and their grants.
#[tokio::test]
async fn a_hint_about_another_user_asks_first_and_ends_nothing_of_theirs() {
    let t = TestDaemon::start().await;
    create_user(t.daemon.idm(), "alice");
    create_user(t.daemon.idm(), "bob");
    let rp = create_client(&t, &[]).await;
    let alices = browser();
    let alice_tokens = offline_tokens(&t, &alices, &rp).await;
    let bobs = browser();
    sign_in(&t, &bobs, "bob", "/account").await;
    let url = authorize_url(&t, &rp, &[("scope", "openid profile offline_access")]);
    let page = bobs.get(&url).send().await.unwrap().text().await.unwrap();
    let back = consent(&t, &bobs, &page, "allow").await;
    let (status, bob_tokens) = exchange(&t, &rp, &param(&back, "code").unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{bob_tokens}");
    assert_eq!(signed_in_as(&t, &bobs).await.as_deref(), Some("bob"));

    // Bob's browser comes with Alice's ID token: Bob is asked, nobody is signed out yet.
    let alice_hint = text(&alice_tokens, "id_token");
    let res = end_session(
        &t,
        &bobs,
        &[
            ("id_token_hint", alice_hint),
            ("post_logout_redirect_uri", BYE),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let page = res.text().await.unwrap();
    assert!(page.contains("Sign out of Grafana?"), "{page}");
    assert!(page.contains("bob"), "{page}");
    assert_eq!(signed_in_as(&t, &bobs).await.as_deref(), Some("bob"));
    assert_eq!(signed_in_as(&t, &alices).await.as_deref(), Some("alice"));
    assert_eq!(count(&t, "signed_out").await, 0);
    assert_eq!(count(&t, "oidc_refresh_tokens_revoked").await, 0);

    // Bob says yes: his session ends, with its grants; Alice's does not.
    let res = bobs
        .post(format!("{}/end-session/confirm", t.base_url))
        .form(&[
            ("_csrf", csrf_of(&page).as_str()),
            ("client_id", rp.id.as_str()),
            ("post_logout_redirect_uri", BYE),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(res.headers()), BYE);
    assert_eq!(signed_in_as(&t, &bobs).await, None);
    let (status, _) = token_refresh(&t, &rp, text(&bob_tokens, "refresh_token")).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "bob's grant ended with his session"
    );
    assert_eq!(signed_in_as(&t, &alices).await.as_deref(), Some("alice"));
    refreshed(&t, &rp, &alice_tokens).await;
    let ended: Vec<Value> = audit_events(&t)
        .await
        .into_iter()
        .filter(|e| e["event"] == "signed_out")
        .collect();
    assert_eq!(ended.len(), 1, "{ended:?}");
    assert_eq!(ended[0]["subject"], "bob");
}

#[tokio::test]
async fn an_admin_revoking_a_browser_session_signs_that_browser_out() {
    let t = TestDaemon::start().await;
    create_user(t.daemon.idm(), "alice");
    let rp = create_client(&t, &[]).await;
    let revoked = browser();
    let tokens = offline_tokens(&t, &revoked, &rp).await;
    let listed = t.cli(&["session", "list", "alice", "--json"]).await;
    assert_eq!(listed.code, 0, "{listed:?}");
    let sessions = listed.json()["sessions"].as_array().unwrap().clone();
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    let sid = sessions[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(claims(text(&tokens, "id_token"))["sid"], sid.as_str());
    let kept = browser();
    sign_in(&t, &kept, "alice", "/account").await;

    let out = t.cli(&["session", "revoke", "alice", &sid]).await;
    assert_eq!(out.code, 0, "{out:?}");

    // That browser is refused everywhere a session counts; the other one is not.
    assert_eq!(signed_in_as(&t, &revoked).await, None);
    let res = revoked
        .get(authorize_url(&t, &rp, &[("prompt", "none")]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let back = location(res.headers()).to_owned();
    assert!(back.starts_with(CB), "{back}");
    assert_eq!(param(&back, "error").as_deref(), Some("login_required"));
    let res = revoked
        .get(authorize_url(&t, &rp, &[]))
        .send()
        .await
        .unwrap();
    assert!(
        location(res.headers()).starts_with("/login?next="),
        "{:?}",
        res.headers()
    );
    assert_eq!(signed_in_as(&t, &kept).await.as_deref(), Some("alice"));
    let (status, _) = token_refresh(&t, &rp, text(&tokens, "refresh_token")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "its grants ended with it");

    let listed = t.cli(&["session", "list", "alice", "--json"]).await;
    let sessions = listed.json()["sessions"].as_array().unwrap().clone();
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    assert_ne!(sessions[0]["id"], sid.as_str());
    let event = audit_events(&t)
        .await
        .into_iter()
        .find(|e| e["event"] == "session_revoked")
        .expect("audited");
    assert_eq!(event["subject"], "alice");
    assert!(
        event["actor"].as_str().unwrap().starts_with("admin-socket"),
        "{event}"
    );
    // Revoking it again names what is missing.
    let again = t.cli(&["session", "revoke", "alice", &sid]).await;
    assert_eq!(again.code, 1, "{again:?}");
    assert!(again.stderr.contains("session"), "{again:?}");

    let status = t.cli(&["status"]).await;
    assert_eq!(status.code, 0, "{status:?}");
    assert!(status.stdout.contains(&t.base_url), "{status:?}");
    let status = t.cli(&["status", "--json"]).await.json();
    assert_eq!(status["public_url"], t.base_url.as_str());
    assert_eq!(status["user_count"], 1);
}
