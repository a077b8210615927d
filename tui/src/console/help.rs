//! The `?` overlay: every key, grouped by where it works.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Padding, Paragraph};

use super::theme;

const SECTIONS: &[(&str, &[(&str, &str)])] = &[
    (
        "Everywhere",
        &[
            ("Tab / Shift-Tab", "next tab / previous tab"),
            ("? r q", "help, reload, quit (also Ctrl-C)"),
        ],
    ),
    (
        "Users",
        &[
            ("↑↓ j k PgUp PgDn", "move (Home, End: first, last)"),
            ("/", "filter (Esc clears)"),
            ("Enter", "user details"),
            ("n e", "new user, edit user"),
            ("l", "login code (link, code and QR)"),
            ("d", "disable / enable"),
            ("D / Delete", "delete user"),
            ("x", "revoke passkey/code/session/app (details)"),
            ("c", "edit custom claims (details)"),
        ],
    ),
    (
        "Groups",
        &[
            ("n D", "new group, delete group"),
            ("Enter", "members: a add, x remove, c claims; Esc back"),
        ],
    ),
    (
        "Clients",
        &[
            ("n Enter D", "new (secret shown once), edit, delete"),
            ("s K", "rotate client secret, rotate signing key"),
        ],
    ),
    (
        "Audit and Settings",
        &[
            ("/", "audit: one user's events (Esc: all)"),
            ("Enter", "settings: change the selected one"),
            ("t", "settings: signup tokens (n new, x revoke)"),
            ("L m", "settings: LDAP sync; send a test email"),
        ],
    ),
];

pub fn render(frame: &mut Frame, area: Rect) {
    let mut lines = Vec::new();
    for (section, keys) in SECTIONS {
        lines.push(Line::styled(*section, theme::header()));
        for (key, what) in *keys {
            lines.push(Line::from(vec![
                Span::styled(format!("  {key:<20}"), theme::key()),
                Span::raw(*what),
            ]));
        }
    }
    let height = u16::try_from(lines.len())
        .unwrap_or(u16::MAX)
        .saturating_add(2);
    let popup = super::centered(area, 70, height);
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines).block(
            Block::bordered()
                .title(" Keys ")
                .title_bottom(Line::styled(" any key closes this help ", theme::dim()))
                .padding(Padding::horizontal(1)),
        ),
        popup,
    );
}
