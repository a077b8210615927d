//! The Signup tokens screen (under the Settings tab, key `t`): the links that
//! can still create accounts — token prefix, uses / limit, expiry, groups,
//! created — with `n` to create one (expiry, usage limit, groups; then the
//! link and its QR code, shown once) and `x` to revoke one after a
//! confirmation.

use crossterm::event::{KeyCode, KeyEvent};
use latchkey_protocol::{EXPIRY_PRESETS, NewSignupToken, SignupTokenCreated, SignupTokenView};
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Padding, Paragraph, Row, Table, TableState};

use super::expiry::{self, CUSTOM};
use super::input::{Edit, TextInput};
use super::qr_popup::QrPopup;
use super::theme;
use crate::fmt::timestamp;

/// The most accounts one token may create.
pub const MAX_USES: u32 = 100;
/// The preset selected when the dialog opens: 1 day.
const DEFAULT_EXPIRY: usize = 2;

#[derive(Debug, Default)]
pub struct SignupTokensView {
    /// `None` until loaded; `Err` when the daemon refused.
    pub tokens: Option<Result<Vec<SignupTokenView>, String>>,
    pub selected: usize,
}

impl SignupTokensView {
    pub fn list(&self) -> &[SignupTokenView] {
        match &self.tokens {
            Some(Ok(list)) => list,
            _ => &[],
        }
    }

    pub fn selected_token(&self) -> Option<&SignupTokenView> {
        self.list().get(self.selected)
    }

    pub fn set(&mut self, tokens: Result<Vec<SignupTokenView>, String>) {
        if let Ok(list) = &tokens {
            self.selected = self.selected.min(list.len().saturating_sub(1));
        }
        self.tokens = Some(tokens);
    }
}

/// Which part of the create dialog has the keyboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Expiry,
    Uses,
    Groups,
}

/// Creating a signup token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignupTokenDialog {
    pub focus: Focus,
    /// Index into the presets, or `CUSTOM`.
    pub expiry: usize,
    pub custom: TextInput,
    pub uses: TextInput,
    /// Comma-separated group names.
    pub groups: TextInput,
    pub error: Option<String>,
    /// Sent; waiting for the link.
    pub busy: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DialogKey {
    Cancel,
    Submit {
        token: NewSignupToken,
        /// The expiry for people ("1 day").
        label: String,
    },
    Handled,
}

impl Default for SignupTokenDialog {
    fn default() -> Self {
        SignupTokenDialog {
            focus: Focus::Expiry,
            expiry: DEFAULT_EXPIRY,
            custom: TextInput::default(),
            uses: TextInput::new("1"),
            groups: TextInput::default(),
            error: None,
            busy: false,
        }
    }
}

impl SignupTokenDialog {
    pub fn on_key(&mut self, key: KeyEvent) -> DialogKey {
        if key.code == KeyCode::Esc {
            return DialogKey::Cancel;
        }
        if self.busy {
            return DialogKey::Handled;
        }
        match key.code {
            KeyCode::Enter => return self.submit(),
            KeyCode::Tab => {
                self.focus = match self.focus {
                    Focus::Expiry => Focus::Uses,
                    Focus::Uses => Focus::Groups,
                    Focus::Groups => Focus::Expiry,
                };
                return DialogKey::Handled;
            }
            KeyCode::BackTab => {
                self.focus = match self.focus {
                    Focus::Expiry => Focus::Groups,
                    Focus::Uses => Focus::Expiry,
                    Focus::Groups => Focus::Uses,
                };
                return DialogKey::Handled;
            }
            _ => {}
        }
        let on_custom = self.expiry == CUSTOM;
        let edited = match self.focus {
            Focus::Expiry => match key.code {
                KeyCode::Up => {
                    self.expiry = self.expiry.saturating_sub(1);
                    Edit::Moved
                }
                KeyCode::Down => {
                    self.expiry = (self.expiry + 1).min(CUSTOM);
                    Edit::Moved
                }
                KeyCode::Char(c) if !on_custom && c.is_ascii_digit() => {
                    self.expiry = CUSTOM;
                    self.custom = TextInput::new(c.to_string());
                    Edit::Changed
                }
                _ if on_custom => self.custom.on_key(key),
                _ => Edit::NotMine,
            },
            Focus::Uses => self.uses.on_key(key),
            Focus::Groups => self.groups.on_key(key),
        };
        if edited == Edit::Changed {
            self.error = None;
        }
        DialogKey::Handled
    }

    fn submit(&mut self) -> DialogKey {
        let (expires, label) = match expiry::chosen(self.expiry, &self.custom) {
            Ok(chosen) => chosen,
            Err(e) => {
                self.focus = Focus::Expiry;
                self.error = Some(format!("Expires: {e}"));
                return DialogKey::Handled;
            }
        };
        let usage_limit = match self.uses.value().trim().parse::<u32>() {
            Ok(n) if (1..=MAX_USES).contains(&n) => n,
            _ => {
                self.focus = Focus::Uses;
                self.error = Some(format!("Uses: a whole number from 1 to {MAX_USES}"));
                return DialogKey::Handled;
            }
        };
        let groups = self
            .groups
            .value()
            .split(',')
            .map(str::trim)
            .filter(|g| !g.is_empty())
            .map(str::to_owned)
            .collect();
        self.error = None;
        DialogKey::Submit {
            token: NewSignupToken {
                expires_in_secs: expires.as_secs(),
                usage_limit,
                groups,
            },
            label,
        }
    }
}

/// A token the daemon just made: the only time its link is shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignupTokenShown {
    pub label: String,
    pub token: SignupTokenCreated,
    /// The link as QR lines, drawn once.
    pub qr: Vec<String>,
}

impl SignupTokenShown {
    pub fn new(label: String, token: SignupTokenCreated) -> SignupTokenShown {
        let qr = crate::qr::lines(&token.url).unwrap_or_default();
        SignupTokenShown { label, token, qr }
    }
}

fn groups_text(groups: &[String]) -> String {
    if groups.is_empty() {
        "—".to_owned()
    } else {
        groups.join(", ")
    }
}

pub fn render_list(view: &SignupTokensView, frame: &mut Frame, area: Rect) {
    let tokens = match &view.tokens {
        None => {
            let block = Block::bordered().title(" Signup tokens ");
            frame.render_widget(Paragraph::new("Loading…").block(block), area);
            return;
        }
        Some(Err(error)) => {
            let block = Block::bordered().title(" Signup tokens ");
            let text = Paragraph::new(format!("Could not list signup tokens: {error}"))
                .style(theme::error())
                .block(block);
            frame.render_widget(text, area);
            return;
        }
        Some(Ok(tokens)) => tokens,
    };
    let block = Block::bordered()
        .title(format!(" Signup tokens · {} active ", tokens.len()))
        .title_bottom(Line::styled(
            " links work only while the setting signups.mode is \"token\" ",
            theme::dim(),
        ));
    if tokens.is_empty() {
        let text = Paragraph::new("No active signup tokens. Press n to create one.")
            .style(theme::dim())
            .block(block);
        frame.render_widget(text, area);
        return;
    }
    let rows = tokens.iter().map(|t| {
        Row::new(vec![
            format!("{}…", t.prefix),
            format!("{} / {}", t.uses, t.usage_limit),
            timestamp(t.expires_at),
            groups_text(&t.groups),
            timestamp(t.created_at),
        ])
    });
    let table = Table::new(
        rows,
        [
            Constraint::Length(9),
            Constraint::Length(9),
            Constraint::Length(20),
            Constraint::Fill(1),
            Constraint::Length(20),
        ],
    )
    .header(Row::new(vec!["TOKEN", "USES", "EXPIRES", "GROUPS", "CREATED"]).style(theme::header()))
    .block(block)
    .row_highlight_style(theme::selected())
    .highlight_symbol("▶ ");
    let mut state = TableState::default().with_selected(Some(view.selected));
    frame.render_stateful_widget(table, area, &mut state);
}

fn choice(selected: bool, focused: bool, label: &str) -> Line<'static> {
    let (marker, style) = match (selected, focused) {
        (true, true) => ("▸ ", theme::focused()),
        (true, false) => ("▸ ", Style::new()),
        _ => ("  ", Style::new()),
    };
    Line::from(vec![Span::styled(format!("{marker}{label}"), style)])
}

pub fn render_dialog(dialog: &SignupTokenDialog, frame: &mut Frame, area: Rect) {
    let popup = super::centered(area, 64, 19);
    frame.render_widget(Clear, popup);
    let block = Block::bordered()
        .title(" New signup token ")
        .border_style(theme::focused())
        .padding(Padding::horizontal(1));
    let label = |text: &'static str, focus: Focus| {
        Line::styled(
            text,
            if dialog.focus == focus {
                theme::focused()
            } else {
                theme::header()
            },
        )
    };
    let expiry_focused = dialog.focus == Focus::Expiry;
    let mut lines = vec![label("Expires after", Focus::Expiry)];
    for (i, (_, text)) in EXPIRY_PRESETS.iter().enumerate() {
        lines.push(choice(i == dialog.expiry, expiry_focused, text));
    }
    let mut custom = choice(dialog.expiry == CUSTOM, expiry_focused, "Other: ");
    custom.spans.push(if dialog.custom.value().is_empty() {
        Span::styled("e.g. 90min, 3d, 2w (at most 31 days)", theme::dim())
    } else {
        Span::raw(dialog.custom.value().to_owned())
    });
    lines.push(custom);
    lines.push(Line::raw(""));
    let mut uses = vec![Span::styled(
        "Usage limit: ",
        if dialog.focus == Focus::Uses {
            theme::focused()
        } else {
            theme::header()
        },
    )];
    uses.push(Span::raw(dialog.uses.value().to_owned()));
    uses.push(Span::styled("  accounts (1–100)", theme::dim()));
    lines.push(Line::from(uses));
    let mut groups = vec![Span::styled(
        "Groups: ",
        if dialog.focus == Focus::Groups {
            theme::focused()
        } else {
            theme::header()
        },
    )];
    groups.push(if dialog.groups.value().is_empty() {
        Span::styled("none (comma-separated names)", theme::dim())
    } else {
        Span::raw(dialog.groups.value().to_owned())
    });
    lines.push(Line::from(groups));
    lines.push(Line::raw(""));
    lines.push(theme::error_line(dialog.error.as_deref()));
    let hints = [
        ("Tab", "next field"),
        ("↑↓", "expiry"),
        ("Enter", "create"),
        ("Esc", "cancel"),
    ];
    lines.push(theme::creating_or(dialog.busy, &hints));
    let inner = theme::draw_dialog(frame, block, lines, popup);
    if dialog.busy {
        return;
    }
    let at = |row: usize, col: usize, cursor: usize| {
        let x = inner.x + u16::try_from(col + cursor).unwrap_or(0);
        let y = inner.y + u16::try_from(row).unwrap_or(0);
        (x.min(inner.right().saturating_sub(1)), y)
    };
    match dialog.focus {
        Focus::Expiry if dialog.expiry == CUSTOM => {
            frame.set_cursor_position(at(1 + CUSTOM, 9, dialog.custom.cursor()));
        }
        Focus::Expiry => {}
        Focus::Uses => frame.set_cursor_position(at(CUSTOM + 3, 13, dialog.uses.cursor())),
        Focus::Groups => frame.set_cursor_position(at(CUSTOM + 4, 8, dialog.groups.cursor())),
    }
}

pub fn render_shown(shown: &SignupTokenShown, frame: &mut Frame, area: Rect) {
    let label = |text: &'static str| Line::styled(text, theme::header());
    let token = &shown.token;
    let lines = vec![
        Line::raw(""),
        label("Link"),
        Line::raw(token.url.as_str()),
        Line::raw(""),
        label("Expires"),
        Line::raw(format!("{} ({})", timestamp(token.expires_at), shown.label)),
        Line::raw(""),
        label("Usage limit"),
        Line::raw(format!("{} account(s)", token.usage_limit)),
        Line::raw(""),
        label("Groups"),
        Line::raw(groups_text(&token.groups)),
        Line::raw(""),
        Line::styled(
            "Anyone with this link can create an account. It is not shown again.",
            theme::dim(),
        ),
        Line::raw(""),
        theme::key_hints(&[("Esc", "close")]),
    ];
    QrPopup {
        title: " Signup link ".to_owned(),
        qr: &shown.qr,
        text: lines,
        width: 100,
        text_rows: 16,
    }
    .render(frame, area);
}
