//! The Audit screen: the newest events first, following new ones live as
//! the daemon pushes them, optionally only those about one user.

use crossterm::event::{KeyCode, KeyEvent};
use latchkey_protocol::{AuditEventView, AuditQuery};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, HighlightSpacing, Paragraph, Row, Table, TableState};

use super::audit_rows::{COLUMNS, event_row, header};
use super::input::{Edit, TextInput};
use super::theme;

/// Events loaded and kept; live events push the oldest out.
pub const AUDIT_LIMIT: u32 = 200;

#[derive(Debug, Default)]
pub struct AuditView {
    /// `None` until the first page arrives.
    pub events: Option<Vec<AuditEventView>>,
    pub selected: usize,
    /// The user filter being typed.
    pub filter: TextInput,
    pub filter_focused: bool,
    /// The filter the shown events were asked for ("" for everyone).
    pub applied: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditKey {
    /// The filter changed: ask again.
    Apply,
    Handled,
    Ignored,
}

impl AuditView {
    pub fn query(&self) -> AuditQuery {
        AuditQuery {
            user: Some(self.applied.clone()).filter(|u| !u.is_empty()),
            limit: AUDIT_LIMIT,
            before: None,
        }
    }

    pub fn set(&mut self, events: Vec<AuditEventView>) {
        self.selected = self.selected.min(events.len().saturating_sub(1));
        self.events = Some(events);
    }

    /// A new event from the daemon. Returns `true` when the list must be
    /// asked for again instead (a filter is on, and only the daemon knows
    /// which users a name, email or id means).
    pub fn appended(&mut self, event: AuditEventView) -> bool {
        if !self.applied.is_empty() {
            return true;
        }
        let Some(events) = &mut self.events else {
            return false;
        };
        if events.iter().any(|e| e.id == event.id) {
            return false;
        }
        let at = events
            .iter()
            .position(|e| e.id < event.id)
            .unwrap_or(events.len());
        events.insert(at, event);
        events.truncate(AUDIT_LIMIT as usize);
        // Keep the selected event under the cursor unless following the top.
        if self.selected > 0 && at <= self.selected {
            self.selected = (self.selected + 1).min(events.len().saturating_sub(1));
        }
        false
    }

    pub fn on_key(&mut self, key: KeyEvent, page: usize) -> AuditKey {
        if self.filter_focused {
            return match key.code {
                KeyCode::Enter | KeyCode::Down | KeyCode::Tab => {
                    self.filter_focused = false;
                    self.apply()
                }
                KeyCode::Esc => {
                    self.filter_focused = false;
                    self.filter = TextInput::new(self.applied.clone());
                    AuditKey::Handled
                }
                _ => match self.filter.on_key(key) {
                    Edit::Changed | Edit::Moved => AuditKey::Handled,
                    Edit::NotMine => AuditKey::Ignored,
                },
            };
        }
        let len = self.events.as_ref().map_or(0, Vec::len);
        if let Some(next) = super::selection::step(self.selected, len, key, page) {
            self.selected = next;
            return AuditKey::Handled;
        }
        match key.code {
            KeyCode::Char('/') => {
                self.filter_focused = true;
                AuditKey::Handled
            }
            KeyCode::Esc if !self.applied.is_empty() => {
                self.filter = TextInput::default();
                self.apply()
            }
            _ => AuditKey::Ignored,
        }
    }

    fn apply(&mut self) -> AuditKey {
        let wanted = self.filter.value().trim().to_owned();
        if wanted == self.applied {
            return AuditKey::Handled;
        }
        self.applied = wanted;
        self.events = None;
        self.selected = 0;
        AuditKey::Apply
    }
}

pub fn render(view: &AuditView, frame: &mut Frame, area: Rect) {
    let [filter_area, table_area] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(3)]).areas(area);
    let label = Span::styled(
        " User: ",
        if view.filter_focused {
            theme::focused()
        } else {
            theme::dim()
        },
    );
    let text = if view.filter.value().is_empty() && !view.filter_focused {
        Span::styled(
            "everyone · press / to show one user's events (username, email or id)",
            theme::dim(),
        )
    } else {
        Span::raw(view.filter.value().to_owned())
    };
    frame.render_widget(Paragraph::new(Line::from(vec![label, text])), filter_area);
    if view.filter_focused {
        let x = filter_area.x + 7 + u16::try_from(view.filter.cursor()).unwrap_or(u16::MAX);
        frame.set_cursor_position((x.min(filter_area.right().saturating_sub(1)), filter_area.y));
    }

    let Some(events) = &view.events else {
        let block = Block::bordered().title(" Audit ");
        frame.render_widget(Paragraph::new("Loading…").block(block), table_area);
        return;
    };
    let who = if view.applied.is_empty() {
        String::new()
    } else {
        format!(" · {}", view.applied)
    };
    let block = Block::bordered().title(format!(
        " Audit{who} · {} newest first · live ",
        events.len()
    ));
    if events.is_empty() {
        frame.render_widget(
            Paragraph::new("No events.")
                .style(theme::dim())
                .block(block),
            table_area,
        );
        return;
    }
    let rows: Vec<Row> = events.iter().map(event_row).collect();
    let table = Table::new(rows, COLUMNS)
        .header(header())
        .block(block)
        .row_highlight_style(theme::selected())
        .highlight_symbol("▶ ")
        .highlight_spacing(HighlightSpacing::Always);
    let mut state = TableState::default();
    if !view.filter_focused {
        state.select(Some(view.selected));
    }
    frame.render_stateful_widget(table, table_area, &mut state);
}
