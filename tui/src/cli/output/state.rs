//! The daemon's own state as the command line prints it: its status, the
//! settings, the audit log, the mail queue and the LDAP sync.

use latchkey_protocol::{
    AuditPage, DaemonStatus, LdapStatusView, LdapSyncReport, MailStatusView, SettingsView,
};

use super::layout::{key_values, or_dash, table};
use crate::fmt::{setting_value, thousands, timestamp, yes_no};

pub fn status_lines(status: &DaemonStatus) -> String {
    key_values(&[
        ("daemon", format!("latchkeyd {}", status.daemon_version)),
        ("public url", status.public_url.clone()),
        ("data dir", status.data_dir.clone()),
        ("database", or_dash(&status.database)),
        ("users", thousands(status.user_count)),
        ("admins", thousands(status.admin_count)),
        ("groups", thousands(status.group_count)),
        ("started", timestamp(status.started_at)),
    ])
}

pub fn settings_table(settings: &SettingsView) -> String {
    let rows: Vec<Vec<String>> = settings
        .settings
        .iter()
        .map(|s| {
            let meaning = match &s.warning {
                Some(warning) => format!("{} (warning: {warning})", s.description),
                None => s.description.clone(),
            };
            vec![s.key.clone(), setting_value(s), meaning]
        })
        .collect();
    table(&["KEY", "VALUE", "MEANING"], &rows)
}

pub fn audit_table(page: &AuditPage) -> String {
    if page.events.is_empty() {
        return "No audit events.\n".to_owned();
    }
    let rows: Vec<Vec<String>> = page
        .events
        .iter()
        .map(|e| {
            let details = e
                .details
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" ");
            vec![
                timestamp(e.at),
                e.event.clone(),
                e.actor.clone(),
                or_dash(e.subject.as_deref().unwrap_or("")),
                or_dash(e.ip.as_deref().unwrap_or("")),
                details,
            ]
        })
        .collect();
    table(&["AT", "EVENT", "ACTOR", "SUBJECT", "IP", "DETAILS"], &rows)
}

pub fn mail_status_lines(status: &MailStatusView) -> String {
    key_values(&[
        ("configured", yes_no(status.configured).to_owned()),
        ("queued", thousands(status.queued)),
        ("retrying", thousands(status.retrying)),
        ("failed", thousands(status.failed)),
        (
            "last sent",
            status.last_sent_at.map_or("never".to_owned(), timestamp),
        ),
        (
            "last error",
            or_dash(status.last_error.as_deref().unwrap_or("")),
        ),
    ])
}

/// What an LDAP sync did, one count per line, then the skipped entries.
pub fn ldap_report_lines(report: &LdapSyncReport) -> String {
    let mut text = key_values(&[
        ("created", thousands(report.created)),
        ("updated", thousands(report.updated)),
        ("enabled", thousands(report.enabled)),
        ("disabled", thousands(report.disabled)),
        ("deleted", thousands(report.deleted)),
        ("groups created", thousands(report.groups_created)),
        ("groups updated", thousands(report.groups_updated)),
        ("groups deleted", thousands(report.groups_deleted)),
        ("skipped", thousands(report.skipped.len() as u64)),
    ]);
    for skipped in &report.skipped {
        text.push_str(&format!("  {}: {}\n", skipped.entry, skipped.reason));
    }
    text
}

pub fn ldap_status_lines(status: &LdapStatusView) -> String {
    let mut text = key_values(&[
        ("enabled", yes_no(status.enabled).to_owned()),
        ("running", yes_no(status.running).to_owned()),
        (
            "last sync",
            status
                .last_sync_at
                .map_or("never (since the daemon started)".to_owned(), timestamp),
        ),
        (
            "last error",
            or_dash(status.last_error.as_deref().unwrap_or("")),
        ),
    ]);
    if let Some(report) = &status.last_report {
        text.push_str("\nlast report:\n");
        text.push_str(&ldap_report_lines(report));
    }
    text
}
