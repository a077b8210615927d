//! The Users screen: a virtualised table over however many users the daemon
//! holds. Only pages of [`PAGE`] rows around the visible window are fetched
//! and kept; `total` from the daemon sets the scroll extent. Each filter
//! change starts a new generation, and replies from older generations are
//! dropped, so typing fast never shows stale rows.

use std::collections::{BTreeMap, BTreeSet};

use crossterm::event::{KeyCode, KeyEvent};
use latchkey_protocol::{UserPage, UserView};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, HighlightSpacing, Paragraph, Row, Table, TableState};

use super::input::{Edit, TextInput};
use super::theme;
use crate::fmt::thousands;

/// Rows per request. Big enough that scrolling rarely waits, small enough
/// that a page is a quick frame.
pub const PAGE: u64 = 100;

/// Pages this far (in pages) from the window are dropped, bounding memory.
const KEEP_PAGES: u64 = 10;

/// Lines the users screen uses around the table rows: status bar, filter,
/// table borders (2), header, footer.
pub const CHROME_ROWS: u16 = 6;

#[derive(Debug, Default)]
pub struct UsersView {
    pub filter: TextInput,
    pub filter_focused: bool,
    generation: u64,
    total: Option<u64>,
    pages: BTreeMap<u64, Vec<UserView>>,
    in_flight: BTreeSet<u64>,
    selected: u64,
    /// First visible row.
    top: u64,
    /// Visible table rows.
    rows: u64,
}

/// What a key meant on the Users screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsersKey {
    /// Selection or window moved; pages may be needed.
    Moved,
    /// The filter text changed: start a new generation.
    FilterChanged,
    /// Consumed without further effect.
    Handled,
    /// Not a key this screen owns.
    Ignored,
}

impl UsersView {
    pub fn new(terminal_height: u16) -> UsersView {
        let mut view = UsersView::default();
        view.resize(terminal_height);
        view
    }

    pub fn resize(&mut self, terminal_height: u16) {
        self.rows = u64::from(terminal_height.saturating_sub(CHROME_ROWS).max(1));
        self.scroll_to_selection();
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }

    pub fn total(&self) -> Option<u64> {
        self.total
    }

    pub fn selected(&self) -> u64 {
        self.selected
    }

    pub fn top(&self) -> u64 {
        self.top
    }

    /// Forgets every loaded page and starts a new generation, keeping the
    /// selection where it is (clamped once the new total arrives).
    pub fn invalidate(&mut self) {
        self.generation += 1;
        self.pages.clear();
        self.in_flight.clear();
    }

    /// A new filter: new generation, back to the top, total unknown.
    fn restart(&mut self) {
        self.invalidate();
        self.total = None;
        self.selected = 0;
        self.top = 0;
    }

    /// After a lost connection nothing is in flight any more.
    pub fn forget_in_flight(&mut self) {
        self.in_flight.clear();
    }

    /// Pages the window needs that are neither loaded nor requested; the
    /// caller requests them and they are marked in flight.
    pub fn take_wanted_pages(&mut self) -> Vec<u64> {
        let first = self.top.saturating_sub(self.rows) / PAGE;
        let mut last = (self.top + 2 * self.rows) / PAGE;
        if let Some(total) = self.total {
            last = last.min(total.saturating_sub(1) / PAGE);
        } else {
            // Until the first reply we do not know how far to look.
            last = first;
        }
        let wanted: Vec<u64> = (first..=last)
            .filter(|p| !self.pages.contains_key(p) && !self.in_flight.contains(p))
            .collect();
        self.in_flight.extend(&wanted);
        wanted
    }

    /// Stores a page if it belongs to the current generation. Returns
    /// whether it did.
    pub fn accept(&mut self, generation: u64, page_index: u64, page: UserPage) -> bool {
        if generation != self.generation {
            return false;
        }
        self.in_flight.remove(&page_index);
        self.total = Some(page.total);
        self.pages.insert(page_index, page.users);
        let centre = self.top / PAGE;
        self.pages.retain(|p, _| p.abs_diff(centre) <= KEEP_PAGES);
        self.clamp();
        true
    }

    /// A page request failed; let it be asked for again later.
    pub fn failed(&mut self, generation: u64, page_index: u64) {
        if generation == self.generation {
            self.in_flight.remove(&page_index);
        }
    }

    pub fn row(&self, index: u64) -> Option<&UserView> {
        let page = self.pages.get(&(index / PAGE))?;
        page.get(usize::try_from(index % PAGE).ok()?)
    }

    pub fn selected_user(&self) -> Option<&UserView> {
        self.row(self.selected)
    }

    pub fn loaded_pages(&self) -> impl Iterator<Item = u64> + '_ {
        self.pages.keys().copied()
    }

    pub fn on_key(&mut self, key: KeyEvent) -> UsersKey {
        if self.filter_focused {
            return match key.code {
                KeyCode::Esc | KeyCode::Enter | KeyCode::Down | KeyCode::Tab => {
                    self.filter_focused = false;
                    UsersKey::Handled
                }
                _ => match self.filter.on_key(key) {
                    Edit::Changed => {
                        self.restart();
                        UsersKey::FilterChanged
                    }
                    Edit::Moved => UsersKey::Handled,
                    Edit::NotMine => UsersKey::Ignored,
                },
            };
        }
        let rows = self.rows.max(1);
        match key.code {
            KeyCode::Char('/') => {
                self.filter_focused = true;
                UsersKey::Handled
            }
            KeyCode::Esc if !self.filter.value().is_empty() => {
                self.filter = TextInput::default();
                self.restart();
                UsersKey::FilterChanged
            }
            KeyCode::Down | KeyCode::Char('j') => self.move_to(self.selected.saturating_add(1)),
            KeyCode::Up | KeyCode::Char('k') => self.move_to(self.selected.saturating_sub(1)),
            KeyCode::PageDown => self.move_to(self.selected.saturating_add(rows)),
            KeyCode::PageUp => self.move_to(self.selected.saturating_sub(rows)),
            KeyCode::Home | KeyCode::Char('g') => self.move_to(0),
            KeyCode::End | KeyCode::Char('G') => self.move_to(u64::MAX),
            _ => UsersKey::Ignored,
        }
    }

    fn move_to(&mut self, index: u64) -> UsersKey {
        self.selected = index;
        self.clamp();
        UsersKey::Moved
    }

    fn clamp(&mut self) {
        let last = self.total.unwrap_or(0).saturating_sub(1);
        self.selected = self.selected.min(last);
        self.scroll_to_selection();
    }

    fn scroll_to_selection(&mut self) {
        if self.selected < self.top {
            self.top = self.selected;
        } else if self.selected >= self.top + self.rows {
            self.top = self.selected + 1 - self.rows;
        }
        // Do not leave empty space below the last row when shrinking.
        if let Some(total) = self.total {
            self.top = self.top.min(total.saturating_sub(self.rows));
        }
    }
}

pub fn render(view: &UsersView, frame: &mut Frame, area: Rect) {
    let [filter_area, table_area] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(3)]).areas(area);
    render_filter(view, frame, filter_area);

    let title = match view.total {
        None => " Users · loading… ".to_owned(),
        Some(0) => " Users · none ".to_owned(),
        Some(total) => {
            let shown_to = (view.top + view.rows).min(total);
            format!(
                " Users · {}–{} of {} ",
                thousands(view.top + 1),
                thousands(shown_to),
                thousands(total)
            )
        }
    };
    let block = Block::bordered().title(title);
    let visible = view
        .rows
        .min(view.total.unwrap_or(0).saturating_sub(view.top));
    let rows: Vec<Row> = (view.top..view.top + visible)
        .map(|i| match view.row(i) {
            Some(user) => user_row(user),
            None => Row::new(vec![Cell::from("…")]).style(theme::dim()),
        })
        .collect();
    let header = Row::new(vec![
        "USERNAME", "NAME", "EMAIL", "ADMIN", "DISABLED", "PASSKEYS", "SOURCE",
    ])
    .style(theme::header());
    let table = Table::new(
        rows,
        [
            Constraint::Fill(2),
            Constraint::Fill(2),
            Constraint::Fill(3),
            Constraint::Length(5),
            Constraint::Length(8),
            Constraint::Length(8),
            Constraint::Length(6),
        ],
    )
    .header(header)
    .block(block)
    .row_highlight_style(theme::selected())
    .highlight_symbol("▶ ")
    // Keep the columns still when the selection is hidden (filter focused).
    .highlight_spacing(HighlightSpacing::Always);
    let mut state = TableState::default();
    if !view.filter_focused && view.total.is_some_and(|t| t > 0) {
        state.select(usize::try_from(view.selected - view.top).ok());
    }
    frame.render_stateful_widget(table, table_area, &mut state);

    if view.total == Some(0) {
        let inner = table_area.inner(ratatui::layout::Margin::new(2, 2));
        let text = if view.filter.value().is_empty() {
            "No users yet. Press n to create one."
        } else {
            "No users match the filter. Esc clears it."
        };
        frame.render_widget(Paragraph::new(text).style(theme::dim()), inner);
    }
}

fn render_filter(view: &UsersView, frame: &mut Frame, area: Rect) {
    let label = Span::styled(
        " Filter: ",
        if view.filter_focused {
            theme::focused()
        } else {
            theme::dim()
        },
    );
    let text = if view.filter.value().is_empty() && !view.filter_focused {
        Span::styled("press / to filter by username, name or email", theme::dim())
    } else {
        Span::raw(view.filter.value())
    };
    frame.render_widget(Paragraph::new(Line::from(vec![label, text])), area);
    if view.filter_focused {
        let x = area.x + 9 + u16::try_from(view.filter.cursor()).unwrap_or(u16::MAX);
        frame.set_cursor_position((x.min(area.right().saturating_sub(1)), area.y));
    }
}

fn user_row(user: &UserView) -> Row<'_> {
    let flag = |on: bool| if on { "yes" } else { "" };
    Row::new(vec![
        Cell::from(user.username.as_str()),
        Cell::from(user.display_name.as_str()),
        Cell::from(user.email.as_deref().unwrap_or("")),
        Cell::from(flag(user.is_admin)),
        Cell::from(flag(user.disabled)),
        Cell::from(user.passkey_count.to_string()),
        Cell::from(user.source.to_string()),
    ])
    .style(if user.disabled {
        theme::dim()
    } else {
        ratatui::style::Style::new()
    })
}
