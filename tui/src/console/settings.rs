//! The Settings screen: every application setting the daemon knows, with
//! its value (write-only secrets as set/unset), what it means and any
//! warning; Enter edits the selected one.

use latchkey_protocol::{MailStatusView, SettingView};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, HighlightSpacing, Paragraph, Row, Table, TableState, Wrap};

use super::form::{Field, Form, FormKind};
use super::theme;
use crate::fmt::setting_value;

#[derive(Debug, Default)]
pub struct SettingsScreen {
    /// `None` until loaded; `Err` when the daemon refused.
    pub settings: Option<Result<Vec<SettingView>, String>>,
    pub selected: usize,
    /// The outgoing mail queue, shown under the settings.
    pub mail: Option<MailStatusView>,
}

impl SettingsScreen {
    pub fn list(&self) -> &[SettingView] {
        match &self.settings {
            Some(Ok(list)) => list,
            _ => &[],
        }
    }

    pub fn selected_setting(&self) -> Option<&SettingView> {
        self.list().get(self.selected)
    }

    pub fn set(&mut self, settings: Result<Vec<SettingView>, String>) {
        if let Ok(list) = &settings {
            self.selected = self.selected.min(list.len().saturating_sub(1));
        }
        self.settings = Some(settings);
    }
}

/// The form that edits one setting. A secret starts empty: its value is
/// never shown back.
pub fn edit_form(setting: &SettingView) -> Form {
    let initial = if setting.write_only {
        String::new()
    } else {
        match setting_value(setting).as_str() {
            "-" => String::new(),
            value => value.to_owned(),
        }
    };
    Form::new(
        FormKind::Setting {
            key: setting.key.clone(),
        },
        format!("{} · {}", setting.key, setting.kind),
        vec![Field::text("value", "Value", &initial)],
    )
}

/// The form that sends a test message (`m`).
pub fn test_email_form() -> Form {
    Form::new(
        FormKind::TestEmail,
        "Send a test email now".to_owned(),
        vec![Field::text("to", "To", "")],
    )
}

/// One line about the outgoing mail queue.
fn mail_line(mail: &MailStatusView) -> Line<'static> {
    if !mail.configured {
        return Line::styled(
            "Mail: not configured (set smtp.host and smtp.from) · m sends a test message",
            theme::dim(),
        );
    }
    let mut text = format!(
        "Mail: {} waiting · {} retrying · {} failed",
        mail.queued, mail.retrying, mail.failed
    );
    if let Some(at) = mail.last_sent_at {
        text.push_str(&format!(" · last sent {}", crate::fmt::timestamp(at)));
    }
    match &mail.last_error {
        Some(error) => Line::styled(format!("{text} · last error: {error}"), theme::error()),
        None => Line::raw(format!("{text} · m sends a test message")),
    }
}

pub fn render(view: &SettingsScreen, frame: &mut Frame, area: Rect) {
    let list = match &view.settings {
        None => {
            let block = Block::bordered().title(" Settings ");
            frame.render_widget(Paragraph::new("Loading…").block(block), area);
            return;
        }
        Some(Err(message)) => {
            let block = Block::bordered().title(" Settings ");
            frame.render_widget(
                Paragraph::new(format!("The daemon did not send its settings: {message}"))
                    .style(theme::error())
                    .wrap(Wrap { trim: true })
                    .block(block),
                area,
            );
            return;
        }
        Some(Ok(list)) => list,
    };
    let [table_area, detail_area] =
        Layout::vertical([Constraint::Min(5), Constraint::Length(6)]).areas(area);
    let rows: Vec<Row> = list
        .iter()
        .map(|s| {
            let mark = if s.warning.is_some() { "⚠ " } else { "" };
            let value = setting_value(s);
            let style = if s.value != s.default && !s.write_only {
                theme::header()
            } else {
                ratatui::style::Style::new()
            };
            Row::new(vec![
                Cell::from(s.key.clone()),
                Cell::from(Span::styled(value, style)),
                Cell::from(Line::from(vec![
                    Span::styled(mark, theme::warning()),
                    Span::raw(s.description.clone()),
                ])),
            ])
        })
        .collect();
    let table = Table::new(
        rows,
        [
            Constraint::Length(30),
            Constraint::Length(24),
            Constraint::Fill(1),
        ],
    )
    .header(Row::new(vec!["KEY", "VALUE", "MEANING"]).style(theme::header()))
    .block(Block::bordered().title(format!(" Settings · {} ", list.len())))
    .row_highlight_style(theme::selected())
    .highlight_symbol("▶ ")
    .highlight_spacing(HighlightSpacing::Always);
    let mut state = TableState::default();
    state.select(Some(view.selected));
    frame.render_stateful_widget(table, table_area, &mut state);

    let mut lines = Vec::new();
    if let Some(s) = view.selected_setting() {
        let default = match &s.default {
            serde_json::Value::Null => "none".to_owned(),
            serde_json::Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        lines.push(Line::from(vec![
            Span::styled(s.key.clone(), theme::header()),
            Span::raw(format!(" · {} · default {default}", s.kind)),
        ]));
        lines.push(Line::raw(s.description.clone()));
        if let Some(warning) = &s.warning {
            lines.push(Line::styled(format!("⚠ {warning}"), theme::warning()));
        }
    }
    if let Some(mail) = &view.mail {
        lines.push(mail_line(mail));
    }
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: true })
            .block(Block::bordered()),
        detail_area,
    );
}
