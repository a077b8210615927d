//! Every screen and dialog at 100×30, as text.

use std::time::Instant;

use crossterm::event::KeyCode;
use latchkey_protocol::{
    ApiError, AuditPage, ErrorCode, GroupList, Request, Response, SettingsView, UserPage,
};

use super::fixtures::*;
use crate::console::{App, AppEvent, render_to_text};

#[test]
fn users_screen() {
    let h = Harness::connected(small());
    insta::assert_snapshot!("users", h.screen());
}

#[test]
fn users_screen_with_100k_users_at_the_end() {
    let mut h = Harness::numbered(100_000);
    h.key(KeyCode::End);
    h.answer_users();
    insta::assert_snapshot!("users_100k_end", h.screen());
}

/// The console asks the daemon for the filter typed and shows the page it
/// answers; which users match is tested against the real daemon
/// (`tests/tests/e2e/console_runner.rs`).
#[test]
fn filter_active() {
    let mut h = Harness::connected(small());
    h.key(KeyCode::Char('/'));
    h.type_text("ho");
    let Some((_, Request::ListUsers { query })) = h.sent.last().cloned() else {
        panic!("no page asked for: {:?}", h.sent);
    };
    assert_eq!((query.filter.as_str(), query.offset), ("ho", 0));
    let grace = small().remove(2);
    h.reply(
        |r| matches!(r, Request::ListUsers { query } if query.filter == "ho"),
        Ok(Response::Users {
            page: UserPage {
                users: vec![grace],
                total: 1,
                offset: 0,
            },
        }),
    );
    insta::assert_snapshot!("users_filter", h.screen());
}

#[test]
fn user_detail_of_an_ldap_user_while_lists_load() {
    let mut h = Harness::connected(small());
    h.key(KeyCode::Down);
    h.key(KeyCode::Down);
    h.key(KeyCode::Enter);
    let grace = small().remove(2);
    h.reply(
        |r| matches!(r, Request::GetUser { .. }),
        Ok(Response::User { user: grace }),
    );
    h.reply(
        |r| matches!(r, Request::ListSessions { .. }),
        Err(ApiError::new(
            ErrorCode::Internal,
            "this daemon does not support that request yet",
        )),
    );
    insta::assert_snapshot!("user_detail_ldap", h.screen());
}

#[test]
fn user_detail_with_passkeys_codes_sessions_and_activity() {
    let mut h = Harness::connected(small());
    h.key(KeyCode::Enter);
    let ada = small().remove(0);
    h.reply(
        |r| matches!(r, Request::GetUser { .. }),
        Ok(Response::User { user: ada }),
    );
    h.reply(
        |r| matches!(r, Request::ListPasskeys { .. }),
        Ok(Response::Passkeys {
            passkeys: passkeys(),
        }),
    );
    h.reply(
        |r| matches!(r, Request::ListLoginCodes { .. }),
        Ok(Response::LoginCodes { codes: codes() }),
    );
    h.reply(
        |r| matches!(r, Request::ListSessions { .. }),
        Ok(Response::Sessions {
            sessions: sessions(),
        }),
    );
    h.reply(
        |r| matches!(r, Request::ListAuthorizations { .. }),
        Ok(Response::Authorizations {
            authorizations: authorizations(),
        }),
    );
    h.reply(
        |r| matches!(r, Request::GetClaims { .. }),
        Ok(Response::Claims { claims: claims() }),
    );
    h.reply(
        |r| matches!(r, Request::ListAudit { .. }),
        Ok(Response::Audit {
            page: AuditPage {
                events: (1..=12)
                    .rev()
                    .map(|i| audit_event(i, "user_updated", "ada.lovelace"))
                    .collect(),
            },
        }),
    );
    h.key(KeyCode::Down);
    h.key(KeyCode::Down);
    insta::assert_snapshot!("user_detail_access", h.screen());
    h.key(KeyCode::Up);
    h.key(KeyCode::Char('x'));
    insta::assert_snapshot!("revoke_passkey_confirm", h.screen());
}

#[test]
fn create_form_with_a_field_error() {
    let mut h = Harness::connected(small());
    h.key(KeyCode::Char('n'));
    h.type_text("ada.lovelace");
    h.key(KeyCode::Tab);
    h.type_text("ada2@example.com");
    h.key(KeyCode::Enter);
    h.reply(
        |r| matches!(r, Request::CreateUser { .. }),
        Err(ApiError::new(ErrorCode::Conflict, "that username is taken").with_field("username")),
    );
    insta::assert_snapshot!("create_form_error", h.screen());
}

#[test]
fn delete_confirmation() {
    let mut h = Harness::connected(small());
    h.key(KeyCode::Char('D'));
    insta::assert_snapshot!("delete_confirm", h.screen());
}

#[test]
fn groups_and_members() {
    let mut h = Harness::connected(small());
    h.key(KeyCode::Tab);
    h.reply(
        |r| matches!(r, Request::ListGroups),
        Ok(Response::Groups {
            list: GroupList {
                groups: groups().iter().map(summary).collect(),
            },
        }),
    );
    insta::assert_snapshot!("groups", h.screen());
    h.key(KeyCode::Enter);
    h.reply(
        |r| matches!(r, Request::GetGroup { .. }),
        Ok(Response::Group {
            group: groups().remove(0),
        }),
    );
    h.reply(
        |r| matches!(r, Request::GetClaims { .. }),
        Ok(Response::Claims { claims: claims() }),
    );
    insta::assert_snapshot!("group_members", h.screen());
}

#[test]
fn help_overlay() {
    let mut h = Harness::connected(small());
    h.key(KeyCode::Char('?'));
    insta::assert_snapshot!("help", h.screen());
}

#[test]
fn daemon_unreachable() {
    let mut app = App::new("/run/latchkey/latchkey.sock", H);
    app.update(AppEvent::ConnectFailed {
        error: "No such file or directory (os error 2)".into(),
    });
    app.update(AppEvent::Tick {
        now: Instant::now(),
    });
    insta::assert_snapshot!("unreachable", render_to_text(&app, W, H));
}

#[test]
fn status_bar_and_flash() {
    let mut h = Harness::connected(small());
    h.key(KeyCode::Char('d'));
    h.reply(
        |r| matches!(r, Request::SetUserDisabled { .. }),
        Ok(Response::User {
            user: small().remove(0),
        }),
    );
    let text = h.screen();
    let lines: Vec<&str> = text.lines().collect();
    insta::assert_snapshot!("status_bar", format!("{}\n{}", lines[0], lines[29]));
}

#[test]
fn expiry_picker() {
    let mut h = Harness::connected(small());
    h.key(KeyCode::Char('l'));
    h.key(KeyCode::Down);
    insta::assert_snapshot!("expiry_picker", h.screen());
    h.type_text("45d");
    h.key(KeyCode::Enter);
    insta::assert_snapshot!("expiry_picker_error", h.screen());
}

#[test]
fn login_code_dialog_with_qr() {
    let mut h = Harness::connected(small());
    h.key(KeyCode::Char('l'));
    h.key(KeyCode::Enter);
    h.reply(
        |r| matches!(r, Request::CreateLoginCode { .. }),
        Ok(Response::LoginCode {
            code: created_code(),
        }),
    );
    insta::assert_snapshot!("login_code", h.screen());
}

#[test]
fn audit_screen() {
    let mut h = Harness::connected(small());
    h.key(KeyCode::Tab);
    h.key(KeyCode::Tab);
    h.reply(
        |r| matches!(r, Request::ListAudit { .. }),
        Ok(Response::Audit {
            page: AuditPage {
                events: vec![
                    audit_event(3, "user_disabled", "bob.builder"),
                    audit_event(2, "user_updated", "ada.lovelace"),
                    audit_event(1, "user_created", "ada.lovelace"),
                ],
            },
        }),
    );
    h.feed(AppEvent::AuditAppended {
        event: audit_event(4, "login_code_created", "ada.lovelace"),
    });
    insta::assert_snapshot!("audit", h.screen());
    h.key(KeyCode::Char('/'));
    h.type_text("ada");
    insta::assert_snapshot!("audit_filter_typing", h.screen());
}

#[test]
fn settings_screen_and_editor() {
    let mut h = Harness::connected(small());
    h.key(KeyCode::BackTab);
    h.reply(
        |r| matches!(r, Request::GetSettings),
        Ok(Response::Settings {
            settings: SettingsView {
                settings: settings(),
            },
        }),
    );
    h.key(KeyCode::Down);
    h.key(KeyCode::Down);
    insta::assert_snapshot!("settings", h.screen());
    h.key(KeyCode::Up);
    h.key(KeyCode::Enter);
    h.type_text("0");
    h.key(KeyCode::Enter);
    h.reply(
        |r| matches!(r, Request::SetSetting { .. }),
        Err(ApiError::new(
            ErrorCode::InvalidInput,
            "must be between 5 and 43200 minutes",
        )
        .with_field("session.minutes")),
    );
    insta::assert_snapshot!("settings_edit_error", h.screen());
}
