//! One user, every field: what Enter on the Users screen opens.

use latchkey_protocol::{Source, UserView};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};

use super::theme;
use crate::fmt::{timestamp, yes_no};

pub fn render(user: &UserView, loading: bool, frame: &mut Frame, area: Rect) {
    let field = |label: &str, value: String| {
        Line::from(vec![
            Span::styled(format!("  {label:<14}"), theme::header()),
            Span::raw(value),
        ])
    };
    let or_dash = |s: &str| {
        if s.is_empty() {
            "-".to_owned()
        } else {
            s.to_owned()
        }
    };
    let groups = if loading {
        "…".to_owned()
    } else if user.groups.is_empty() {
        "-".to_owned()
    } else {
        user.groups.join(", ")
    };
    let mut lines = vec![
        Line::raw(""),
        field("Username", user.username.clone()),
        field("Display name", or_dash(&user.display_name)),
        field("First name", or_dash(&user.first_name)),
        field("Last name", or_dash(&user.last_name)),
        field("Email", or_dash(user.email.as_deref().unwrap_or(""))),
        field("Administrator", yes_no(user.is_admin).to_owned()),
        field(
            "Status",
            if user.disabled { "disabled" } else { "active" }.to_owned(),
        ),
        field("Passkeys", user.passkey_count.to_string()),
        field("Groups", groups),
        field("Source", user.source.to_string()),
        field("Created", timestamp(user.created_at)),
        field("Updated", timestamp(user.updated_at)),
        field("Id", user.id.clone()),
    ];
    if user.source == Source::Ldap {
        lines.push(Line::raw(""));
        lines.push(Line::styled(
            "  This account comes from LDAP: edit it in the directory; changes arrive with the next sync.",
            theme::warning(),
        ));
    }
    let block = Block::bordered().title(format!(" User · {} ", user.username));
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        area,
    );
}
