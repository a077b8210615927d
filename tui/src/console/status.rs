//! The top status bar (which screen, which daemon) and the bottom footer
//! (the main keys, or the last message).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::app::{App, Flash, Screen};
use super::theme;
use crate::fmt::thousands;

pub fn render_bar(app: &App, frame: &mut Frame, area: Rect) {
    let on_users = matches!(app.screen(), Screen::Users | Screen::UserDetail { .. });
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
    let left = Line::from(vec![
        Span::styled(
            " Latchkey ",
            theme::bar().add_modifier(ratatui::style::Modifier::BOLD),
        ),
        tab("Users", on_users),
        tab("Groups", !on_users),
    ]);
    let right = match (app.server(), app.status()) {
        (_, Some(status)) => format!(
            "latchkeyd {} · {} · {} users · {} groups ",
            status.daemon_version,
            status.public_url,
            thousands(status.user_count),
            thousands(status.group_count)
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
            ("d", "disable"),
            ("D", "delete"),
            ("Tab", "groups"),
            ("?", "help"),
            ("q", "quit"),
        ],
        Screen::UserDetail { .. } => &[
            ("Esc", "back"),
            ("e", "edit"),
            ("d", "disable/enable"),
            ("D", "delete"),
            ("?", "help"),
            ("q", "quit"),
        ],
        Screen::Groups => &[
            ("↑↓", "move"),
            ("Enter", "members"),
            ("n", "new"),
            ("D", "delete"),
            ("Tab", "users"),
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
