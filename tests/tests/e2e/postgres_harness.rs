//! The PostgreSQL fixture itself (`latchkey_tests::postgres`): one shared server, a database
//! per test, each database isolated from the others.

use latchkey_tests::postgres::TestPostgres;

#[test]
fn fresh_databases_on_the_shared_server_are_isolated() {
    let postgres = TestPostgres::shared();
    let first = postgres.fresh_database();
    let second = postgres.fresh_database();
    assert_ne!(first, second);
    // Password authentication is on: the URL carries the password.
    assert!(first.contains(postgres.password()), "{first}");

    for (url, value) in [(&first, "first"), (&second, "second")] {
        postgres.psql(url, "CREATE TABLE probe (value text)");
        postgres.psql(url, &format!("INSERT INTO probe VALUES ('{value}')"));
    }
    assert_eq!(postgres.psql(&first, "SELECT value FROM probe"), "first\n");
    assert_eq!(
        postgres.psql(&second, "SELECT value FROM probe"),
        "second\n"
    );

    // The same server, not a second one, for every caller in this test binary.
    assert!(std::ptr::eq(postgres, TestPostgres::shared()));
}

#[tokio::test]
async fn a_stopped_daemon_leaves_no_connection_behind() {
    let postgres = TestPostgres::shared();
    let url = postgres.fresh_database();
    let config_url = url.clone();
    let t = latchkey_tests::TestDaemon::start_with(|config| {
        config.database_url = Some(config_url.parse().unwrap());
    })
    .await;
    latchkey_tests::passkeys::create_user(&t, "alice").await;
    let name = url.rsplit('/').next().unwrap().to_owned();
    let count = format!("SELECT count(*) FROM pg_stat_activity WHERE datname = '{name}'");
    assert_ne!(
        postgres.psql(&url, &count).trim(),
        "1",
        "the daemon holds connections"
    );

    drop(t.stop().await);
    // psql's own connection is the only one left, once the server has seen the others close.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let open = postgres.psql(&url, &count);
        if open.trim() == "1" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{open} connections still open"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
