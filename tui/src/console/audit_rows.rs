//! An audit event as a table row: the same columns on the Audit screen and
//! in a user's recent activity.

use latchkey_protocol::AuditEventView;
use ratatui::layout::Constraint;
use ratatui::widgets::{Cell, Row};

use super::theme;
use crate::fmt::short_time;

/// The columns' widths, the same wherever events are listed.
pub const COLUMNS: [Constraint; 5] = [
    Constraint::Length(16),
    Constraint::Length(20),
    Constraint::Length(23),
    Constraint::Length(18),
    Constraint::Fill(1),
];

pub fn header() -> Row<'static> {
    Row::new(vec!["AT (UTC)", "EVENT", "ACTOR", "SUBJECT", "DETAILS"]).style(theme::header())
}

pub fn event_row(event: &AuditEventView) -> Row<'static> {
    let mut details: Vec<String> = event
        .details
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    if let Some(ip) = &event.ip {
        details.push(format!("ip={ip}"));
    }
    Row::new(vec![
        Cell::from(short_time(event.at)),
        Cell::from(event.event.clone()),
        Cell::from(event.actor.clone()),
        Cell::from(event.subject.clone().unwrap_or_default()),
        Cell::from(details.join(" ")),
    ])
}
