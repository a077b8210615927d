//! Reading ahead on PostgreSQL (the code flow's hot reads): rows asked together answer the
//! reads that follow from the snapshot they were asked in, and a read that was not asked
//! ahead is answered afresh, never from a wrong row.

use latchkey_daemon::idm::UserId;
use latchkey_daemon::store::{Store, StoreError};
use latchkey_tests::postgres::TestPostgres;

#[test]
fn rows_read_ahead_answer_from_their_snapshot_and_other_reads_are_fresh() {
    let store = Store::open_postgres(&TestPostgres::shared().fresh_database()).unwrap();
    let (user, other) = (UserId::random(), UserId::random());
    store
        .write(|tx| {
            tx.bump_grant_epoch(user, "app")?;
            tx.revoke_grant("s:gone", i64::MAX)
        })
        .unwrap();

    let tx = store.read().unwrap();
    tx.read_ahead_grant(user, "app", &["g:live", "s:live"])
        .unwrap();
    // A writer moves on once the rows were read.
    store
        .write(|tx| {
            tx.bump_grant_epoch(user, "app")?;
            tx.bump_grant_epoch(other, "app")?;
            tx.revoke_grant("g:live", i64::MAX)?;
            Ok::<_, StoreError>(())
        })
        .unwrap();

    // What was asked ahead answers as of the snapshot, each row under its own key.
    assert_eq!(tx.grant_epoch(user, "app").unwrap(), 1);
    assert!(!tx.any_grant_revoked(&["g:live", "s:live"]).unwrap());
    assert_eq!(tx.user(user).unwrap(), None);
    // What was not is read now: another user's epoch, another set of selectors.
    assert_eq!(tx.grant_epoch(other, "app").unwrap(), 1);
    assert!(tx.any_grant_revoked(&["s:gone"]).unwrap());
    assert!(tx.any_grant_revoked(&["g:live"]).unwrap());
    assert_eq!(store.read().unwrap().grant_epoch(user, "app").unwrap(), 2);
}

#[test]
fn a_token_spent_with_its_grant_check_read_ahead_is_spent_once() {
    let store = Store::open_postgres(&TestPostgres::shared().fresh_database()).unwrap();
    let user = UserId::random();
    store.write(|tx| tx.bump_grant_epoch(user, "app")).unwrap();
    let hash = [7; 32];
    let spend = || {
        store
            .spend_token_reading_grant(hash, i64::MAX, user, "app", &["g:live"])
            .unwrap()
    };

    let (fresh, tx) = spend();
    assert!(fresh);
    // A writer moves on once the call returned: the rows were read by the call itself, as
    // they stood then.
    store
        .write(|tx| {
            tx.bump_grant_epoch(user, "app")?;
            tx.revoke_grant("g:live", i64::MAX)
        })
        .unwrap();
    assert_eq!(tx.grant_epoch(user, "app").unwrap(), 1);
    assert!(!tx.any_grant_revoked(&["g:live"]).unwrap());
    // A second use, either way, is a replay.
    assert!(!spend().0);
    assert!(!store.spend_token(hash, i64::MAX).unwrap());
    assert!(store.spend_token([8; 32], i64::MAX).unwrap());
}
