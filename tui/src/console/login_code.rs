//! The Login code action: pick how long the code lives, then show the link,
//! the code (grouped for reading aloud), when it expires and a QR code of the
//! link that a phone can scan off the terminal.

use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent};
use latchkey_protocol::{EXPIRY_PRESETS, LoginCodeCreated, UserView};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Padding};

use super::expiry::{self, CUSTOM};
use super::input::{Edit, TextInput};
use super::qr_popup::QrPopup;
use super::theme;
use crate::fmt::{grouped_code, timestamp};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiryPicker {
    /// The user's id (what the request names) and username (what we show).
    pub user: String,
    pub username: String,
    pub selected: usize,
    pub custom: TextInput,
    pub error: Option<String>,
    /// Sent; waiting for the code.
    pub busy: bool,
    /// Also email the code to the user (`m` toggles).
    pub email: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PickerKey {
    Cancel,
    /// Create a code valid this long; `label` says it for people.
    Submit {
        expires: Duration,
        label: String,
    },
    Handled,
}

impl ExpiryPicker {
    pub fn new(user: &UserView) -> ExpiryPicker {
        ExpiryPicker {
            user: user.id.clone(),
            username: user.username.clone(),
            selected: 0,
            custom: TextInput::default(),
            error: None,
            busy: false,
            email: false,
        }
    }

    pub fn on_key(&mut self, key: KeyEvent) -> PickerKey {
        if key.code == KeyCode::Esc {
            return PickerKey::Cancel;
        }
        if self.busy {
            return PickerKey::Handled;
        }
        let on_custom = self.selected == CUSTOM;
        match key.code {
            KeyCode::Up => self.selected = self.selected.saturating_sub(1),
            KeyCode::Down | KeyCode::Tab => self.selected = (self.selected + 1).min(CUSTOM),
            KeyCode::Char('k') if !on_custom => self.selected = self.selected.saturating_sub(1),
            KeyCode::Char('j') if !on_custom => self.selected = (self.selected + 1).min(CUSTOM),
            KeyCode::Enter => return self.submit(),
            KeyCode::Char('m') if !on_custom => {
                self.email = !self.email;
                self.error = None;
            }
            KeyCode::Char(c) if !on_custom && c.is_ascii_digit() => {
                // Typing a number jumps to the custom field.
                self.selected = CUSTOM;
                self.custom = TextInput::new(c.to_string());
                self.error = None;
            }
            _ if on_custom && self.custom.on_key(key) == Edit::Changed => self.error = None,
            _ => {}
        }
        PickerKey::Handled
    }

    fn submit(&mut self) -> PickerKey {
        match expiry::chosen(self.selected, &self.custom) {
            Ok((expires, label)) => {
                self.error = None;
                PickerKey::Submit { expires, label }
            }
            Err(e) => {
                self.error = Some(e.to_string());
                PickerKey::Handled
            }
        }
    }
}

/// A code the daemon just made: the only time it is shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginCodeShown {
    pub username: String,
    pub label: String,
    pub code: LoginCodeCreated,
    /// The link as QR lines, drawn once.
    pub qr: Vec<String>,
}

impl LoginCodeShown {
    pub fn new(username: String, label: String, code: LoginCodeCreated) -> LoginCodeShown {
        let qr = crate::qr::lines(&code.url).unwrap_or_default();
        LoginCodeShown {
            username,
            label,
            code,
            qr,
        }
    }
}

pub fn render_picker(picker: &ExpiryPicker, frame: &mut Frame, area: Rect) {
    let popup = super::centered(area, 60, 15);
    frame.render_widget(Clear, popup);
    let block = Block::bordered()
        .title(format!(" Login code for {} ", picker.username))
        .border_style(theme::focused())
        .padding(Padding::horizontal(1));
    let mut lines = vec![Line::raw("How long may the code be used?"), Line::raw("")];
    for (i, (_, label)) in EXPIRY_PRESETS.iter().enumerate() {
        lines.push(choice(i == picker.selected, label));
    }
    let custom_selected = picker.selected == CUSTOM;
    let mut custom = choice(custom_selected, "Other: ");
    custom.spans.push(if picker.custom.value().is_empty() {
        Span::styled("e.g. 90min, 3d, 2w (at most 31 days)", theme::dim())
    } else {
        Span::raw(picker.custom.value().to_owned())
    });
    lines.push(custom);
    lines.push(Line::from(vec![
        Span::raw(if picker.email { "[x] " } else { "[ ] " }),
        Span::raw("Also email it to the user "),
        Span::styled("m", theme::key()),
    ]));
    lines.push(theme::error_line(picker.error.as_deref()));
    let hints = [("↑↓", "choose"), ("Enter", "create"), ("Esc", "cancel")];
    lines.push(theme::creating_or(picker.busy, &hints));
    let inner = theme::draw_dialog(frame, block, lines, popup);
    if custom_selected && !picker.busy {
        // "▸ Other: " is 9 cells; the custom row is the 8th line.
        let x = inner.x + 9 + u16::try_from(picker.custom.cursor()).unwrap_or(0);
        let y = inner.y + 2 + u16::try_from(CUSTOM).unwrap_or(0);
        frame.set_cursor_position((x.min(inner.right().saturating_sub(1)), y));
    }
}

fn choice(selected: bool, label: &str) -> Line<'static> {
    let (marker, style) = if selected {
        ("▸ ", theme::focused())
    } else {
        ("  ", Style::new())
    };
    Line::from(vec![Span::styled(format!("{marker}{label}"), style)])
}

pub fn render_shown(shown: &LoginCodeShown, frame: &mut Frame, area: Rect) {
    let label = |text: &'static str| Line::styled(text, theme::header());
    let mut lines = vec![
        Line::raw(""),
        label("Link"),
        Line::raw(shown.code.url.as_str()),
        Line::raw(""),
        label("Code (to type at /lc)"),
        Line::styled(grouped_code(&shown.code.code), theme::key()),
        Line::raw(""),
        label("Expires"),
        Line::raw(format!(
            "{} ({})",
            timestamp(shown.code.expires_at),
            shown.label
        )),
        Line::raw(""),
    ];
    if shown.code.emailed {
        lines.push(Line::styled("Also sent by email.", theme::ok()));
    }
    lines.push(Line::styled(
        format!(
            "Single use. Give it to {} only; it is not shown again.",
            shown.username
        ),
        theme::dim(),
    ));
    lines.push(Line::raw(""));
    lines.push(theme::key_hints(&[("Esc", "close")]));
    QrPopup {
        title: format!(" Login code for {} ", shown.username),
        qr: &shown.qr,
        text: lines,
        width: 96,
        text_rows: 14,
    }
    .render(frame, area);
}
