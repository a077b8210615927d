//! The LDAP screen (from Settings, `L`): whether sync is on, the last sync's
//! time, report and error, and `s` to sync now with live progress.

use latchkey_protocol::{LdapStatusView, LdapSyncProgress, LdapSyncReport};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Wrap};

use super::theme;
use crate::fmt::{thousands, timestamp, yes_no};

#[derive(Debug, Default)]
pub struct LdapScreen {
    /// `None` until loaded; `Err` when the daemon refused.
    pub status: Option<Result<LdapStatusView, String>>,
    /// A sync this console asked for is running.
    pub syncing: bool,
    /// The latest progress event of a running sync.
    pub progress: Option<LdapSyncProgress>,
}

impl LdapScreen {
    pub fn progress_text(progress: &LdapSyncProgress) -> String {
        match progress.total {
            Some(total) => format!(
                "{}: {} of {}",
                progress.phase,
                thousands(progress.done),
                thousands(total)
            ),
            None => format!("{}: {}", progress.phase, thousands(progress.done)),
        }
    }
}

fn report_lines(report: &LdapSyncReport) -> Vec<Line<'static>> {
    let mut lines = vec![Line::raw(format!(
        " created {} · updated {} · enabled {} · disabled {} · deleted {}",
        thousands(report.created),
        thousands(report.updated),
        thousands(report.enabled),
        thousands(report.disabled),
        thousands(report.deleted),
    ))];
    lines.push(Line::raw(format!(
        " groups: created {} · updated {} · deleted {}",
        thousands(report.groups_created),
        thousands(report.groups_updated),
        thousands(report.groups_deleted),
    )));
    lines.push(Line::raw(format!(
        " skipped {}",
        thousands(report.skipped.len() as u64)
    )));
    for skipped in &report.skipped {
        lines.push(Line::styled(
            format!("   {}: {}", skipped.entry, skipped.reason),
            theme::warning(),
        ));
    }
    lines
}

pub fn render(screen: &LdapScreen, frame: &mut Frame, area: Rect) {
    let mut lines: Vec<Line<'static>> = Vec::new();
    match &screen.status {
        None => lines.push(Line::raw(" Loading…")),
        Some(Err(error)) => lines.push(Line::styled(format!(" {error}"), theme::error())),
        Some(Ok(status)) => {
            lines.push(Line::raw(format!(" Enabled    {}", yes_no(status.enabled))));
            let last = status
                .last_sync_at
                .map_or("never since the daemon started".to_owned(), timestamp);
            lines.push(Line::raw(format!(" Last sync  {last}")));
            if let Some(error) = &status.last_error {
                lines.push(Line::styled(format!(" Last error {error}"), theme::error()));
            }
            if let Some(report) = &status.last_report {
                lines.push(Line::raw(""));
                lines.push(Line::raw(" Last report"));
                lines.extend(report_lines(report));
            }
            if !status.enabled {
                lines.push(Line::raw(""));
                lines.push(Line::styled(
                    " Turn it on in Settings: ldap.url, ldap.base_dn, … then ldap.enabled.",
                    theme::dim(),
                ));
            }
        }
    }
    if screen.syncing {
        lines.push(Line::raw(""));
        let text = screen
            .progress
            .as_ref()
            .map_or("starting".to_owned(), LdapScreen::progress_text);
        lines.push(Line::styled(format!(" Syncing… {text}"), theme::ok()));
    }
    let block = Block::bordered().title(" LDAP sync ");
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        area,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draw(screen: &LdapScreen) -> String {
        let backend = ratatui::backend::TestBackend::new(80, 12);
        let mut terminal = ratatui::Terminal::new(backend).unwrap();
        terminal
            .draw(|frame| render(screen, frame, frame.area()))
            .unwrap();
        crate::console::buffer_text(terminal.backend().buffer())
    }

    #[test]
    fn a_running_sync_shows_its_live_progress() {
        let mut screen = LdapScreen {
            status: Some(Ok(LdapStatusView {
                enabled: true,
                running: true,
                last_sync_at: None,
                last_report: None,
                last_error: Some("bind as cn=x failed: invalidCredentials".into()),
            })),
            syncing: true,
            progress: None,
        };
        assert!(draw(&screen).contains("Syncing… starting"));
        screen.progress = Some(LdapSyncProgress {
            phase: "users".into(),
            done: 1500,
            total: None,
        });
        let text = draw(&screen);
        assert!(text.contains("Syncing… users: 1,500"), "{text}");
        assert!(text.contains("Last error bind as cn=x failed"), "{text}");
        screen.progress = Some(LdapSyncProgress {
            phase: "applying".into(),
            done: 2000,
            total: Some(10_000),
        });
        assert!(draw(&screen).contains("Syncing… applying: 2,000 of 10,000"));
    }
}
