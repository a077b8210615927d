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
