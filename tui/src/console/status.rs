//! The top status bar (which screen, which daemon) and the bottom footer
//! (the main keys, or the last message).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::app::{App, Flash, Screen, Tab};
use super::theme;
use crate::fmt::thousands;

pub fn render_bar(app: &App, frame: &mut Frame, area: Rect) {
    let current = app.screen().tab();
    let tab = |name: &str, active: bool| {
        Span::styled(
            format!(" {name} "),
            if active {
                theme::tab_active()
            } else {
                theme::bar()
            },
        )
    };
    let mut left = vec![Span::styled(
        " Latchkey ",
        theme::bar().add_modifier(ratatui::style::Modifier::BOLD),
    )];
    left.extend(Tab::ALL.iter().map(|t| tab(t.name(), *t == current)));
    let left = Line::from(left);
    let right = match (app.server(), app.status()) {
        (_, Some(status)) => format!(
            "latchkeyd {} · {} · {} users ",
            status.daemon_version,
            status.public_url,
            thousands(status.user_count),
        ),
        (Some(server), None) => {
            format!(
                "latchkeyd {} · {} ",
                server.daemon_version, server.public_url
            )
        }
        (None, None) => "not connected ".to_owned(),
    };
    frame.render_widget(Paragraph::new("").style(theme::bar()), area);
    frame.render_widget(Paragraph::new(left), area);
    frame.render_widget(
        Paragraph::new(right)
            .style(theme::bar())
            .alignment(ratatui::layout::Alignment::Right),
        Rect {
            x: area.x + area.width / 3,
            width: area.width - area.width / 3,
            ..area
        },
    );
}

pub fn render_footer(app: &App, frame: &mut Frame, area: Rect) {
    if let Some(flash) = app.flash() {
        let (text, style) = match flash {
            Flash::Info(text) => (text, theme::ok()),
            Flash::Error(text) => (text, theme::error()),
        };
        frame.render_widget(Paragraph::new(format!(" {text}")).style(style), area);
        return;
    }
    let keys: &[(&str, &str)] = match app.screen() {
        Screen::Users if app.users().filter_focused => &[
            ("type", "filter"),
            ("Enter/Esc", "done"),
            ("Ctrl-U", "clear"),
        ],
        Screen::Users => &[
            ("↑↓", "move"),
            ("/", "filter"),
            ("Enter", "open"),
            ("n", "new"),
            ("e", "edit"),
            ("l", "login code"),
            ("d", "disable"),
            ("D", "delete"),
            ("Tab", "tabs"),
            ("?", "help"),
        ],
        Screen::UserDetail { .. } => &[
            ("Esc", "back"),
            ("↑↓", "select"),
            ("x", "revoke"),
            ("l", "login code"),
            ("e", "edit"),
            ("d", "disable/enable"),
            ("D", "delete"),
            ("?", "help"),
        ],
        Screen::Audit if app.audit().filter_focused => &[
            ("type", "username, email or id"),
            ("Enter", "apply"),
            ("Esc", "cancel"),
        ],
        Screen::Audit => &[
            ("↑↓", "move"),
            ("/", "user"),
            ("Esc", "everyone"),
            ("r", "reload"),
            ("Tab", "next tab"),
            ("?", "help"),
            ("q", "quit"),
        ],
        Screen::Settings => &[
            ("↑↓", "move"),
            ("Enter", "change"),
            ("t", "test email"),
            ("r", "reload"),
            ("Tab", "next tab"),
            ("?", "help"),
            ("q", "quit"),
        ],
        Screen::Groups => &[
            ("↑↓", "move"),
            ("Enter", "members"),
            ("n", "new"),
            ("D", "delete"),
            ("Tab", "next tab"),
            ("?", "help"),
            ("q", "quit"),
        ],
        Screen::GroupMembers { .. } => &[
            ("Esc", "back"),
            ("a", "add member"),
            ("x", "remove member"),
            ("?", "help"),
            ("q", "quit"),
        ],
    };
    let mut spans = vec![Span::raw(" ")];
    for (key, what) in keys {
        spans.push(Span::styled(*key, theme::key()));
        spans.push(Span::raw(format!(" {what}  ")));
        // Two spaces between items, one between a key and its label.
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}
