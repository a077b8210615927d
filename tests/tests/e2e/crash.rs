//! The real `latchkeyd` process killed with SIGKILL in the middle of acknowledged writes:
//! after a restart every acknowledged write is there, and every write that is there is whole.

use latchkey_tests::process::DaemonProcess;
use latchkey_tests::writers::{Writers, stored_and_audited};

const BIN: &str = env!("CARGO_BIN_EXE_latchkeyd-under-test");
const WRITERS: usize = 4;
/// Acknowledged creations to wait for before the kill; the writers keep going meanwhile, so
/// the kill lands between, during and before commits.
const ACKED_BEFORE_KILL: usize = 40;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let daemon = DaemonProcess::start(BIN.as_ref(), &data).await;
    let writers = Writers::start(&daemon, WRITERS, "w", ACKED_BEFORE_KILL).await;
    daemon.kill();
    let acked = writers.finish().await;
    assert!(acked.len() >= ACKED_BEFORE_KILL);

    // The stale socket file is replaced; the database opens after an unclean stop.
    let daemon = DaemonProcess::start(BIN.as_ref(), &data).await;
    let client = daemon.client().await;
    let (stored, audited) = stored_and_audited(&client, "w").await;
    let lost: Vec<_> = acked.difference(&stored).collect();
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
    // At most one write per writer was in flight when the process died.
    assert!(
        stored.len() <= acked.len() + WRITERS,
        "{} stored, {} acknowledged",
        stored.len(),
        acked.len()
    );
    // Every user that is there came with its audit event: no half-written operation.
    assert_eq!(audited, stored);
    assert!(
        daemon.terminate(),
        "a clean SIGTERM shutdown after recovery"
    );
}
