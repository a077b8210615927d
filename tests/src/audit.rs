//! The audit log as the tests read it: through `latchkey audit list --json`, as an admin would,
//! and waited for when the daemon records an event after the answer a test saw.

use crate::TestDaemon;

/// The audit log, newest first, as `latchkey audit list --json` prints it.
pub async fn audit_events(t: &TestDaemon) -> Vec<serde_json::Value> {
    let out = t.cli(&["audit", "list", "--limit", "500", "--json"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    out.json()["events"].as_array().cloned().unwrap_or_default()
}

/// Waits (up to 10 s) until the audit log holds an event for which `found` is true, and
/// returns it: for work the daemon finishes after the answer a test saw (mail delivery).
pub async fn wait_for_audit(
    t: &TestDaemon,
    found: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let events = audit_events(t).await;
        if let Some(event) = events.iter().find(|e| found(e)) {
            return event.clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no such audit event in {events:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// One detail of an audit event (`details` is a list of `[key, value]` pairs).
pub fn audit_detail<'a>(event: &'a serde_json::Value, key: &str) -> Option<&'a str> {
    event["details"]
        .as_array()?
        .iter()
        .find(|pair| pair[0] == key)
        .and_then(|pair| pair[1].as_str())
}
