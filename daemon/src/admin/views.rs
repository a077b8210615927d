//! Domain types to the protocol's view models.

use latchkey_protocol::{AuditEventView, GroupMember, GroupSummary, GroupView, UserView};

use crate::idm::{AuditEvent, GroupEntry, GroupSummaryEntry, UserEntry};

pub(super) fn user(entry: UserEntry) -> UserView {
    let UserEntry {
        user,
        passkey_count,
        groups,
    } = entry;
    UserView {
        id: user.id.to_string(),
        username: user.username,
        email: user.email,
        first_name: user.first_name,
        last_name: user.last_name,
        display_name: user.display_name,
        is_admin: user.is_admin,
        disabled: user.disabled,
        source: user.source,
        passkey_count,
        groups,
        created_at: user.created_at,
        updated_at: user.updated_at,
    }
}

pub(super) fn group(entry: GroupEntry) -> GroupView {
    let GroupEntry { group, members } = entry;
    GroupView {
        id: group.id.to_string(),
        name: group.name,
        friendly_name: group.friendly_name,
        source: group.source,
        members: members
            .into_iter()
            .map(|(id, username)| GroupMember {
                id: id.to_string(),
                username,
            })
            .collect(),
        created_at: group.created_at,
    }
}

pub(super) fn group_summary(entry: GroupSummaryEntry) -> GroupSummary {
    let GroupSummaryEntry {
        group,
        member_count,
    } = entry;
    GroupSummary {
        id: group.id.to_string(),
        name: group.name,
        friendly_name: group.friendly_name,
        source: group.source,
        member_count,
    }
}

pub(super) fn audit_event(event: AuditEvent) -> AuditEventView {
    AuditEventView {
        id: event.id,
        at: event.at,
        event: event.event,
        actor: event.actor,
        subject: event.subject,
        ip: event.ip,
        user_agent: event.user_agent,
        details: event.details,
    }
}
