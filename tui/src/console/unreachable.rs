//! The full screen shown while latchkeyd cannot be reached: which socket was
//! tried, the underlying error, how to start the daemon, and the retry clock.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Padding, Paragraph, Wrap};

use super::app::{App, Link};
use super::theme;

pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    let path = app.socket_path().display().to_string();
    let mut lines = Vec::new();
    match app.link() {
        Link::Connecting { after_error: None } => {
            lines.push(Line::styled("Connecting to latchkeyd…", theme::header()));
            lines.push(Line::raw(""));
            lines.push(Line::from(vec![Span::raw("Socket: "), Span::raw(path)]));
        }
        Link::Connecting {
            after_error: Some(error),
        }
        | Link::Down { error, .. } => {
            lines.push(Line::styled("Cannot reach latchkeyd", theme::error()));
            lines.push(Line::raw(""));
            lines.push(Line::from(vec![
                Span::styled("Socket tried: ", theme::header()),
                Span::raw(path),
            ]));
            lines.push(Line::from(vec![
                Span::styled("Error:        ", theme::header()),
                Span::raw(error.as_str()),
            ]));
            lines.push(Line::raw(""));
            lines.push(Line::raw(
                "Is the daemon running? Start it with `latchkeyd` (it makes its socket \
                 in its data directory, ./data unless LATCHKEY_DATA_DIR says otherwise), \
                 or point this console at the socket with --socket PATH or LATCHKEY_SOCKET.",
            ));
            lines.push(Line::raw(""));
            let retry = match app.link() {
                Link::Down {
                    retry_in: Some(secs),
                    ..
                } => format!("Retrying automatically every 2 s (next in {secs} s)."),
                _ => "Retrying now…".to_owned(),
            };
            lines.push(Line::styled(retry, theme::dim()));
        }
        Link::Up { .. } => return,
    }
    lines.push(Line::raw(""));
    lines.push(Line::from(vec![
        Span::styled("r", theme::key()),
        Span::raw(" retry now   "),
        Span::styled("q", theme::key()),
        Span::raw(" quit"),
    ]));
    let [_, middle, _] = Layout::vertical([
        Constraint::Fill(1),
        Constraint::Length(16),
        Constraint::Fill(1),
    ])
    .areas(area);
    let [_, centre, _] = Layout::horizontal([
        Constraint::Fill(1),
        Constraint::Max(84),
        Constraint::Fill(1),
    ])
    .areas(middle);
    let block = Block::bordered()
        .title(" Latchkey ")
        .padding(Padding::new(2, 2, 1, 0));
    frame.render_widget(
        Paragraph::new(lines).block(block).wrap(Wrap { trim: true }),
        centre,
    );
}
