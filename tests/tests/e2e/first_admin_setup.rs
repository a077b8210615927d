//! First-admin setup over real HTTP: while no admin exists the daemon offers a one-time link
//! that creates the first admin and signs them in, exactly once.

use latchkey_tests::TestDaemon;
use latchkey_tests::http::{browser, csrf_of, get, location};
use reqwest::StatusCode;

#[tokio::test]
async fn the_setup_link_creates_the_first_admin_exactly_once() {
    let t = TestDaemon::start().await;
    let link = t
        .daemon
        .setup_link()
        .expect("no admin yet: a setup link")
        .to_owned();
    assert!(
        link.starts_with(&format!("{}/setup/", t.base_url)),
        "{link}"
    );

    // A wrong token is a 404 page.
    let (status, _, _) = get(&browser(), &format!("{}/setup/wrong", t.base_url)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let client = browser();
    let (status, _, page) = get(&client, &link).await;
    assert_eq!(status, 200);
    let token = csrf_of(&page);
    // Bad input shows the form again with a message.
    let res = client
        .post(&link)
        .form(&[("_csrf", token.as_str()), ("username", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.unwrap().contains("alert error"));

    let form = [
        ("_csrf", token.as_str()),
        ("username", "root"),
        ("email", "root@example.com"),
        ("first_name", "Ada"),
        ("last_name", "Admin"),
    ];
    let res = client.post(&link).form(&form).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(res.headers()), "/account?done=welcome");
    let (status, _, account) = get(&client, &format!("{}/account", t.base_url)).await;
    assert_eq!(status, 200);
    assert!(account.contains("root@example.com") && account.contains("Administrator"));

    // The link is dead now.
    let res = client.post(&link).form(&form).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let (status, _, _) = get(&client, &link).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(t.daemon.idm().counts().unwrap().admins, 1);
}
