//! Users and groups as the command line prints them.

use latchkey_protocol::{GroupList, GroupView, UserPage, UserView};

use super::layout::{key_values, or_dash, table};
use crate::fmt::{thousands, timestamp, yes_no};

pub fn user_lines(user: &UserView) -> String {
    let groups = if user.groups.is_empty() {
        "-".to_owned()
    } else {
        user.groups.join(", ")
    };
    key_values(&[
        ("username", user.username.clone()),
        ("id", user.id.clone()),
        ("email", or_dash(user.email.as_deref().unwrap_or(""))),
        ("email verified", yes_no(user.email_verified).to_owned()),
        ("first name", or_dash(&user.first_name)),
        ("last name", or_dash(&user.last_name)),
        ("display name", or_dash(&user.display_name)),
        ("admin", yes_no(user.is_admin).to_owned()),
        ("disabled", yes_no(user.disabled).to_owned()),
        ("source", user.source.to_string()),
        ("passkeys", user.passkey_count.to_string()),
        ("groups", groups),
        ("created", timestamp(user.created_at)),
        ("updated", timestamp(user.updated_at)),
    ])
}

pub fn users_table(page: &UserPage) -> String {
    if page.users.is_empty() {
        return format!("No users here ({} in all).\n", thousands(page.total));
    }
    let rows: Vec<Vec<String>> = page
        .users
        .iter()
        .map(|u| {
            vec![
                u.username.clone(),
                or_dash(&u.display_name),
                or_dash(u.email.as_deref().unwrap_or("")),
                yes_no(u.is_admin).to_owned(),
                yes_no(u.disabled).to_owned(),
                u.passkey_count.to_string(),
                u.source.to_string(),
            ]
        })
        .collect();
    let first = page.offset + 1;
    let last = page.offset + page.users.len() as u64;
    format!(
        "{}\n{}–{} of {} users\n",
        table(
            &[
                "USERNAME", "NAME", "EMAIL", "ADMIN", "DISABLED", "PASSKEYS", "SOURCE"
            ],
            &rows
        ),
        thousands(first),
        thousands(last),
        thousands(page.total)
    )
}

pub fn groups_table(list: &GroupList) -> String {
    if list.groups.is_empty() {
        return "No groups yet.\n".to_owned();
    }
    let rows: Vec<Vec<String>> = list
        .groups
        .iter()
        .map(|g| {
            vec![
                g.name.clone(),
                or_dash(&g.friendly_name),
                g.member_count.to_string(),
                g.source.to_string(),
            ]
        })
        .collect();
    table(&["NAME", "FRIENDLY NAME", "MEMBERS", "SOURCE"], &rows)
}

pub fn group_lines(group: &GroupView) -> String {
    let members = if group.members.is_empty() {
        "-".to_owned()
    } else {
        group
            .members
            .iter()
            .map(|m| m.username.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    key_values(&[
        ("name", group.name.clone()),
        ("id", group.id.clone()),
        ("friendly name", or_dash(&group.friendly_name)),
        ("source", group.source.to_string()),
        ("created", timestamp(group.created_at)),
        ("members", members),
    ])
}
