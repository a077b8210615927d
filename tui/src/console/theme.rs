//! Colours and emphasis in one place, so screens agree and a palette change
//! is one edit. Plain attributes first: the console must stay readable on
//! terminals without colour.

use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};

pub fn bar() -> Style {
    Style::new().fg(Color::Black).bg(Color::Cyan)
}

pub fn tab_active() -> Style {
    bar().add_modifier(Modifier::BOLD | Modifier::REVERSED)
}

pub fn header() -> Style {
    Style::new().add_modifier(Modifier::BOLD)
}

pub fn selected() -> Style {
    Style::new().add_modifier(Modifier::REVERSED)
}

pub fn dim() -> Style {
    Style::new().fg(Color::DarkGray)
}

pub fn key() -> Style {
    Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD)
}

pub fn error() -> Style {
    Style::new().fg(Color::Red).add_modifier(Modifier::BOLD)
}

pub fn ok() -> Style {
    Style::new().fg(Color::Green)
}

pub fn warning() -> Style {
    Style::new().fg(Color::Yellow)
}

pub fn focused() -> Style {
    Style::new().fg(Color::Yellow)
}

/// A line of key hints, `Enter save  Esc cancel`: each key emphasised, items
/// two spaces apart. Every dialog and the footer draw their keys this way.
pub fn key_hints(items: &[(&'static str, &'static str)]) -> Line<'static> {
    let mut spans = Vec::with_capacity(items.len() * 2);
    for (i, (name, what)) in items.iter().enumerate() {
        let gap = if i + 1 < items.len() { "  " } else { "" };
        spans.push(Span::styled(*name, key()));
        spans.push(Span::raw(format!(" {what}{gap}")));
    }
    Line::from(spans)
}

/// Draws a dialog's lines, wrapped, in its block over `area`; the area inside the border
/// (where a dialog puts its cursor).
pub fn draw_dialog(
    frame: &mut ratatui::Frame<'_>,
    block: ratatui::widgets::Block<'_>,
    lines: Vec<Line<'_>>,
    area: ratatui::layout::Rect,
) -> ratatui::layout::Rect {
    let inner = block.inner(area);
    frame.render_widget(
        ratatui::widgets::Paragraph::new(lines)
            .block(block)
            .wrap(ratatui::widgets::Wrap { trim: false }),
        area,
    );
    inner
}

/// A dialog's last line but one: its error, or blank so the layout does not jump.
pub fn error_line(error: Option<&str>) -> Line<'static> {
    match error {
        Some(error) => Line::styled(format!("✗ {error}"), self::error()),
        None => Line::raw(""),
    }
}

/// A dialog's last line: "Creating…" while its request is out, else its key hints.
pub fn creating_or(busy: bool, hints: &[(&'static str, &'static str)]) -> Line<'static> {
    if busy {
        Line::styled("Creating…", dim())
    } else {
        key_hints(hints)
    }
}
