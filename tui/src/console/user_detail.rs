//! One user, every field: what Enter on the Users screen opens. Beside the
//! fields, the user's passkeys, outstanding login codes, sessions and
//! authorized apps (one selectable list, `x` revokes) and their custom
//! claims (`c` edits); below, their recent audit events.

use latchkey_protocol::{AuditEventView, SignInMethod, Source, UserView};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Row, Table, Wrap};

use super::access::{AccessView, Item};
use super::audit_rows;
use super::claims::claim_lines;
use super::loaded::Loaded;
use super::theme;
use crate::fmt::{short_time, timestamp, yes_no};

fn short_date(at: time::OffsetDateTime) -> String {
    short_time(at).chars().take(10).collect()
}

/// Rows of the fields and access panes (with borders).
const TOP_ROWS: u16 = 16;

pub fn render(user: &UserView, loading: bool, access: &AccessView, frame: &mut Frame, area: Rect) {
    let [top, bottom] =
        Layout::vertical([Constraint::Length(TOP_ROWS), Constraint::Min(3)]).areas(area);
    let [fields_area, access_area] =
        Layout::horizontal([Constraint::Length(46), Constraint::Min(30)]).areas(top);
    render_fields(user, loading, frame, fields_area);
    render_access(access, frame, access_area);
    render_audit(&access.audit, frame, bottom);
}

fn or_dash(s: &str) -> String {
    if s.is_empty() {
        "-".to_owned()
    } else {
        s.to_owned()
    }
}

/// What relying apps are told about the address (`email_verified`).
fn email_status(user: &UserView) -> &'static str {
    match (&user.email, user.email_verified) {
        (None, _) => "-",
        (Some(_), true) => "verified",
        (Some(_), false) => "unverified",
    }
}

fn render_fields(user: &UserView, loading: bool, frame: &mut Frame, area: Rect) {
    let field = |label: &str, value: String| {
        Line::from(vec![
            Span::styled(format!(" {label:<14}"), theme::header()),
            Span::raw(value),
        ])
    };
    let groups = if loading {
        "…".to_owned()
    } else if user.groups.is_empty() {
        "-".to_owned()
    } else {
        user.groups.join(", ")
    };
    let mut lines = vec![
        field("Username", user.username.clone()),
        field("Display name", or_dash(&user.display_name)),
        field("First name", or_dash(&user.first_name)),
        field("Last name", or_dash(&user.last_name)),
        field("Email", or_dash(user.email.as_deref().unwrap_or(""))),
        field("Email status", email_status(user).to_owned()),
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
    ];
    if user.source == Source::Ldap {
        lines.push(Line::styled(
            " From LDAP: edit it in the directory.",
            theme::warning(),
        ));
    }
    let block = Block::bordered()
        .title(format!(" User · {} ", user.username))
        .title_bottom(Line::styled(format!(" id {} ", user.id), theme::dim()));
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        area,
    );
}

fn method(method: SignInMethod) -> &'static str {
    match method {
        SignInMethod::Passkey => "passkey",
        SignInMethod::LoginCode => "login code",
        SignInMethod::EmailLink => "email link",
        SignInMethod::Signup => "signup",
        SignInMethod::Setup => "setup",
    }
}

fn render_access(access: &AccessView, frame: &mut Frame, area: Rect) {
    let mut lines: Vec<Line> = Vec::new();
    let mut selected_line = 0;
    let items = access.items();
    let sections = [
        ("Passkeys", count(&access.passkeys)),
        ("Login codes", count(&access.codes)),
        ("Sessions", count(&access.sessions)),
        ("Authorized apps", count(&access.authorizations)),
    ];
    let mut index = 0;
    for (section, (title, state)) in sections.into_iter().enumerate() {
        let heading = match &state {
            Loaded::Ready(n) => format!("{title} ({n})"),
            Loaded::Failed(_) => title.to_owned(),
            Loaded::Loading => format!("{title} …"),
        };
        lines.push(Line::styled(heading, theme::header()));
        match state {
            Loaded::Failed(error) => lines.push(Line::styled(format!("  {error}"), theme::dim())),
            Loaded::Ready(0) => lines.push(Line::styled("  none", theme::dim())),
            _ => {}
        }
        for item in items.iter().filter(|i| section_of(i) == section) {
            let selected = index == access.selected;
            if selected {
                selected_line = lines.len();
            }
            let (marker, style) = if selected {
                ("▶ ", theme::selected())
            } else {
                ("  ", ratatui::style::Style::new())
            };
            lines.push(Line::styled(format!("{marker}{}", item_text(item)), style));
            index += 1;
        }
    }
    lines.extend(claim_lines("Custom claims", &access.claims));
    let inner_rows = usize::from(area.height.saturating_sub(2)).max(1);
    let scroll = (selected_line + 1).saturating_sub(inner_rows);
    let block = Block::bordered().title(" Access ");
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .scroll((u16::try_from(scroll).unwrap_or(0), 0)),
        area,
    );
}

fn count<T>(loaded: &Loaded<Vec<T>>) -> Loaded<usize> {
    match loaded {
        Loaded::Loading => Loaded::Loading,
        Loaded::Ready(list) => Loaded::Ready(list.len()),
        Loaded::Failed(error) => Loaded::Failed(error.clone()),
    }
}

fn section_of(item: &Item) -> usize {
    match item {
        Item::Passkey(_) => 0,
        Item::Code(_) => 1,
        Item::Session(_) => 2,
        Item::Authorization(_) => 3,
    }
}

fn item_text(item: &Item) -> String {
    match item {
        Item::Passkey(p) => format!(
            "{} · {} · {}",
            p.name,
            if p.synced { "synced" } else { "device-bound" },
            p.last_used_at.map_or_else(
                || "never used".to_owned(),
                |t| format!("used {}", short_date(t))
            )
        ),
        Item::Code(c) => format!("expires {} · by {}", short_time(c.expires_at), c.created_by),
        Item::Session(s) => format!(
            "{} · {} · until {}",
            method(s.method),
            s.ip.as_deref().unwrap_or("-"),
            short_time(s.expires_at)
        ),
        Item::Authorization(a) => format!(
            "{} · {} · since {}",
            a.client_name,
            if a.scopes.is_empty() {
                "-".to_owned()
            } else {
                a.scopes.join(" ")
            },
            short_date(a.granted_at)
        ),
    }
}

fn render_audit(audit: &Loaded<Vec<AuditEventView>>, frame: &mut Frame, area: Rect) {
    let block = Block::bordered().title(" Recent activity ");
    let events = match audit {
        Loaded::Loading => {
            frame.render_widget(Paragraph::new("Loading…").block(block), area);
            return;
        }
        Loaded::Failed(message) => {
            frame.render_widget(
                Paragraph::new(message.as_str())
                    .style(theme::dim())
                    .block(block),
                area,
            );
            return;
        }
        Loaded::Ready(events) => events,
    };
    if events.is_empty() {
        frame.render_widget(
            Paragraph::new("Nothing yet.")
                .style(theme::dim())
                .block(block),
            area,
        );
        return;
    }
    let rows: Vec<Row> = events.iter().map(audit_rows::event_row).collect();
    frame.render_widget(
        Table::new(rows, audit_rows::COLUMNS)
            .header(audit_rows::header())
            .block(block),
        area,
    );
}
