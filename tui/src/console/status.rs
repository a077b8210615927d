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
    // The daemon facts take what the tabs leave, cut on the left if need be.
    let left_width = u16::try_from(left.width())
        .unwrap_or(area.width)
        .saturating_add(1);
    // The daemon facts take what the tabs leave: the version goes first
    // when they do not fit.
    let room = usize::from(area.width.saturating_sub(left_width));
    let facts: Vec<String> = match (app.server(), app.status()) {
        (_, Some(status)) => vec![
            format!("latchkeyd {}", status.daemon_version),
            status.public_url.clone(),
            format!("{} users", thousands(status.user_count)),
        ],
        (Some(server), None) => vec![
            format!("latchkeyd {}", server.daemon_version),
            server.public_url.clone(),
        ],
        (None, None) => vec!["not connected".to_owned()],
    };
    let full = format!("{} ", facts.join(" · "));
    let right = if full.chars().count() <= room || facts.len() < 2 {
        full
    } else {
        format!("{} ", facts.get(1..).unwrap_or_default().join(" · "))
    };
    frame.render_widget(Paragraph::new("").style(theme::bar()), area);
    frame.render_widget(Paragraph::new(left), area);
    frame.render_widget(
        Paragraph::new(right)
            .style(theme::bar())
            .alignment(ratatui::layout::Alignment::Right),
        Rect {
            x: area.x + left_width.min(area.width),
            width: area.width.saturating_sub(left_width),
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
            ("c", "claims"),
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
            ("t", "signup tokens"),
            ("L", "LDAP"),
            ("m", "test email"),
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
        Screen::Clients => &[
            ("↑↓", "move"),
            ("n", "new"),
            ("Enter", "edit"),
            ("s", "rotate secret"),
            ("D", "delete"),
            ("K", "rotate key"),
            ("?", "help"),
        ],
        Screen::SignupTokens => &[
            ("Esc", "settings"),
            ("↑↓", "move"),
            ("n", "new link"),
            ("x", "revoke"),
            ("r", "reload"),
            ("?", "help"),
            ("q", "quit"),
        ],
        Screen::Ldap if app.ldap().syncing => &[("", "syncing…"), ("q", "quit")],
        Screen::Ldap => &[
            ("s", "sync now"),
            ("r", "reload"),
            ("Esc", "back"),
            ("?", "help"),
            ("q", "quit"),
        ],
        Screen::GroupMembers { .. } => &[
            ("Esc", "back"),
            ("a", "add member"),
            ("x", "remove member"),
            ("c", "claims"),
            ("?", "help"),
            ("q", "quit"),
        ],
    };
    let mut line = theme::key_hints(keys);
    line.spans.insert(0, Span::raw(" "));
    frame.render_widget(Paragraph::new(line), area);
}
