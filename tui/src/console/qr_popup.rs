//! The pop-up that shows a link the daemon made, the only time it is
//! shown: a QR code of it on the left, for a phone to scan off the
//! terminal, and what the admin should know about it on the right.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Clear, Padding, Paragraph, Wrap};

use super::theme;

#[derive(Debug)]
pub struct QrPopup<'a> {
    pub title: String,
    /// The code as text lines (see [`crate::qr::lines`]).
    pub qr: &'a [String],
    pub text: Vec<Line<'a>>,
    /// The pop-up's width, shrunk to fit the screen.
    pub width: u16,
    /// Rows the text needs when the code is shorter than it.
    pub text_rows: u16,
}

impl QrPopup<'_> {
    pub fn render(self, frame: &mut Frame, area: Rect) {
        let qr_width = self
            .qr
            .first()
            .map_or(0, |l| u16::try_from(l.chars().count()).unwrap_or(0));
        let qr_height = u16::try_from(self.qr.len()).unwrap_or(0);
        let popup = super::centered(area, self.width, qr_height.max(self.text_rows) + 2);
        frame.render_widget(Clear, popup);
        let block = Block::bordered()
            .title(self.title)
            .border_style(theme::ok());
        let inner = block.inner(popup);
        frame.render_widget(block, popup);
        let [qr_area, text_area] =
            Layout::horizontal([Constraint::Length(qr_width + 1), Constraint::Min(20)])
                .areas(inner);
        // Explicit colours: light modules white, dark ones black, whatever the
        // terminal's theme.
        let qr_style = Style::new().fg(Color::White).bg(Color::Black);
        let qr: Vec<Line> = self
            .qr
            .iter()
            .map(|l| Line::styled(l.as_str(), qr_style))
            .collect();
        frame.render_widget(Paragraph::new(qr), qr_area);
        frame.render_widget(
            Paragraph::new(self.text)
                .block(Block::new().padding(Padding::horizontal(1)))
                .wrap(Wrap { trim: false }),
            text_area,
        );
    }
}
