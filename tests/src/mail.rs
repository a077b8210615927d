//! The daemon's mail as the tests drive and observe it: pointing it at the test SMTP server
//! ([`crate::smtp`]), reading links out of received mail, and the outbox's state as
//! `latchkey email status` reports it.

use std::time::{Duration, Instant};

use latchkey_protocol::{MailStatusView, Request, Response};

use crate::TestDaemon;

/// Points the daemon at a plain SMTP server on `port` on loopback.
pub async fn use_smtp(t: &TestDaemon, port: u16) {
    t.config_set("smtp.host", "127.0.0.1").await;
    t.config_set("smtp.port", &port.to_string()).await;
    t.config_set("smtp.from", "Latchkey <id@example.com>").await;
    t.config_set("smtp.tls", "none").await;
}

/// The outbox's state, as `latchkey email status` shows it.
pub async fn mail_status(t: &TestDaemon) -> MailStatusView {
    match t.client().await.call(Request::MailStatus).await.unwrap() {
        Response::MailStatus { status } => status,
        other => panic!("unexpected {other:?}"),
    }
}

/// Polls the mail status (bounded) until `done` holds.
pub async fn wait_status(t: &TestDaemon, done: impl Fn(&MailStatusView) -> bool) -> MailStatusView {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let status = mail_status(t).await;
        if done(&status) {
            return status;
        }
        assert!(Instant::now() < deadline, "mail status stuck at {status:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The first `http://…` line of a mail's text that contains `marker`.
pub fn link_in(text: &str, marker: &str) -> String {
    text.lines()
        .map(str::trim)
        .find(|l| l.starts_with("http") && l.contains(marker))
        .unwrap_or_else(|| panic!("no {marker} link in:\n{text}"))
        .to_owned()
}
