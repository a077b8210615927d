//! The Groups screen (all groups; there are few enough to hold at once) and
//! the members view of one group.

use latchkey_protocol::{GroupSummary, GroupView};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Row, Table, TableState};

use super::claims::{Claims, claim_lines};
use super::loaded::Loaded;
use super::theme;
use crate::fmt::timestamp;

#[derive(Debug, Default)]
pub struct GroupsView {
    /// `None` until the first list arrives.
    pub groups: Option<Vec<GroupSummary>>,
    pub selected: usize,
    /// The group whose members are shown, once loaded.
    pub members: Option<GroupView>,
    pub member_selected: usize,
    /// The custom claims of the group named, as the members view shows them.
    pub claims: Option<(String, Loaded<Claims>)>,
}

impl GroupsView {
    pub fn selected_group(&self) -> Option<&GroupSummary> {
        self.groups.as_ref()?.get(self.selected)
    }

    pub fn set_groups(&mut self, groups: Vec<GroupSummary>) {
        self.selected = self.selected.min(groups.len().saturating_sub(1));
        self.groups = Some(groups);
    }

    /// The claims of `name`, if loaded.
    pub fn claims_of(&self, name: &str) -> Option<&Loaded<Claims>> {
        self.claims
            .as_ref()
            .filter(|(owner, _)| owner == name)
            .map(|(_, claims)| claims)
    }

    pub fn set_members(&mut self, group: GroupView) {
        self.member_selected = self
            .member_selected
            .min(group.members.len().saturating_sub(1));
        self.members = Some(group);
    }
}

pub fn render_list(view: &GroupsView, frame: &mut Frame, area: Rect) {
    let Some(groups) = &view.groups else {
        let block = Block::bordered().title(" Groups ");
        frame.render_widget(Paragraph::new("Loading…").block(block), area);
        return;
    };
    let block = Block::bordered().title(format!(" Groups · {} ", groups.len()));
    if groups.is_empty() {
        let text = Paragraph::new("No groups yet. Press n to create one.")
            .style(theme::dim())
            .block(block);
        frame.render_widget(text, area);
        return;
    }
    let rows = groups.iter().map(|g| {
        Row::new(vec![
            g.name.clone(),
            g.friendly_name.clone(),
            g.member_count.to_string(),
            g.source.to_string(),
        ])
    });
    let table = Table::new(
        rows,
        [
            Constraint::Fill(1),
            Constraint::Fill(2),
            Constraint::Length(8),
            Constraint::Length(6),
        ],
    )
    .header(Row::new(vec!["NAME", "FRIENDLY NAME", "MEMBERS", "SOURCE"]).style(theme::header()))
    .block(block)
    .row_highlight_style(theme::selected())
    .highlight_symbol("▶ ");
    let mut state = TableState::default().with_selected(Some(view.selected));
    frame.render_stateful_widget(table, area, &mut state);
}

pub fn render_members(view: &GroupsView, name: &str, frame: &mut Frame, area: Rect) {
    let claims = view.claims_of(name).unwrap_or(&Loaded::Loading);
    let lines = claim_lines("Custom claims", claims);
    let rows = u16::try_from(lines.len())
        .unwrap_or(u16::MAX)
        .saturating_add(2);
    let [members_area, claims_area] =
        Layout::vertical([Constraint::Min(5), Constraint::Length(rows.min(12))]).areas(area);
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" Claims (c edits) ")),
        claims_area,
    );
    render_member_table(view, name, frame, members_area);
}

fn render_member_table(view: &GroupsView, name: &str, frame: &mut Frame, area: Rect) {
    let Some(group) = view.members.as_ref().filter(|g| g.name == name) else {
        let block = Block::bordered().title(format!(" {name} "));
        frame.render_widget(Paragraph::new("Loading…").block(block), area);
        return;
    };
    let title = if group.friendly_name.is_empty() || group.friendly_name == group.name {
        format!(" {} · {} members ", group.name, group.members.len())
    } else {
        format!(
            " {} ({}) · {} members ",
            group.name,
            group.friendly_name,
            group.members.len()
        )
    };
    let block = Block::bordered().title(title).title_bottom(Line::styled(
        format!(
            " {} group · created {} ",
            group.source,
            timestamp(group.created_at)
        ),
        theme::dim(),
    ));
    if group.members.is_empty() {
        let text = Paragraph::new("No members. Press a to add one by username.")
            .style(theme::dim())
            .block(block);
        frame.render_widget(text, area);
        return;
    }
    let rows = group
        .members
        .iter()
        .map(|m| Row::new(vec![m.username.clone(), m.id.clone()]));
    let table = Table::new(rows, [Constraint::Fill(1), Constraint::Fill(2)])
        .header(Row::new(vec!["USERNAME", "ID"]).style(theme::header()))
        .block(block)
        .row_highlight_style(theme::selected())
        .highlight_symbol("▶ ");
    let mut state = TableState::default().with_selected(Some(view.member_selected));
    frame.render_stateful_widget(table, area, &mut state);
}
