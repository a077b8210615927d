//! The update logic, event by event.

use std::time::{Duration, Instant};

use crossterm::event::KeyCode;
use latchkey_protocol::{
    ApiError, AuditPage, ClaimOwner, ErrorCode, GroupList, Request, Response, SettingsView,
    UserPage, UserQuery,
};

use super::fixtures::*;
use crate::console::access::Item;
use crate::console::app::{Flash, Link, Modal, Screen};
use crate::console::claims::parse_claims;
use crate::console::loaded::Loaded;
use crate::console::{App, AppEvent, Command};

fn list_queries(commands: &[Command]) -> Vec<(u64, UserQuery)> {
    commands
        .iter()
        .filter_map(|c| match c {
            Command::Send {
                tag,
                request: Request::ListUsers { query },
            } => Some((*tag, query.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn scrolling_past_the_loaded_window_fetches_the_next_page() {
    let mut h = Harness::numbered(1000);
    assert_eq!(h.app.users().total(), Some(1000));
    assert_eq!(h.app.users().loaded_pages().collect::<Vec<_>>(), [0]);
    // Page down until the window nears row 100; only then is page 1 asked for.
    let mut asked = Vec::new();
    for _ in 0..10 {
        asked = list_queries(&h.key(KeyCode::PageDown));
        if !asked.is_empty() {
            break;
        }
    }
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert_eq!(asked[0].1.offset, 100);
    assert_eq!(asked[0].1.limit, 100);
    assert!(h.app.users().selected() < 100);
}

#[test]
fn end_on_100k_users_fetches_only_the_last_page() {
    let mut h = Harness::numbered(100_000);
    let asked = list_queries(&h.key(KeyCode::End));
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert_eq!(asked[0].1.offset, 99_900);
    h.answer_users();
    assert_eq!(h.app.users().selected(), 99_999);
    assert_eq!(
        h.app.users().selected_user().map(|u| u.username.as_str()),
        Some("user100000")
    );
    // Memory stays bounded: far-away pages were dropped.
    assert!(h.app.users().loaded_pages().all(|p| p >= 989));
}

#[test]
fn filter_typing_sends_filtered_requests_and_drops_stale_replies() {
    let mut h = Harness::connected(small());
    h.key(KeyCode::Char('/'));
    let first = h.key(KeyCode::Char('a'));
    let second = h.key(KeyCode::Char('d'));
    let (tag_a, query_a) = list_queries(&first)[0].clone();
    let (tag_ad, query_ad) = list_queries(&second)[0].clone();
    assert_eq!((query_a.filter.as_str(), query_a.offset), ("a", 0));
    assert_eq!(query_ad.filter, "ad");

    // The newer reply lands first; the older one must not overwrite it.
    let ada = UserPage {
        users: vec![user("ada.lovelace")],
        total: 1,
        offset: 0,
    };
    let everyone = page_of(&small(), &query_a);
    for (tag, page) in [(tag_ad, ada), (tag_a, everyone)] {
        h.app.update(AppEvent::Reply {
            tag,
            result: Ok(Response::Users { page }),
        });
    }
    assert_eq!(h.app.users().total(), Some(1));
    assert_eq!(
        h.app.users().selected_user().map(|u| u.username.as_str()),
        Some("ada.lovelace")
    );
}

#[test]
fn a_create_error_keeps_the_typed_input_and_points_at_the_field() {
    let mut h = Harness::connected(small());
    h.key(KeyCode::Char('n'));
    h.type_text("zoe");
    h.key(KeyCode::Tab);
    h.type_text("not-an-email");
    h.key(KeyCode::Tab);
    h.type_text("Zoe");
    h.key(KeyCode::Enter);
    h.reply(
        |r| matches!(r, Request::CreateUser { user } if user.email.as_deref() == Some("not-an-email")),
        Err(ApiError::new(ErrorCode::InvalidInput, "not an email address").with_field("email")),
    );
    let Some(Modal::Form(form)) = h.app.modal() else {
        panic!("the form should stay open");
    };
    assert_eq!(form.text("username"), "zoe");
    assert_eq!(form.text("email"), "not-an-email");
    assert_eq!(form.text("first_name"), "Zoe");
    assert_eq!(form.focus, 1, "focus moves to the field in error");
    assert!(!form.busy);
    let error = form.error.as_ref().unwrap();
    assert_eq!(
        (error.field, error.message.as_str()),
        (Some(1), "not an email address")
    );

    // Fix it and submit again: the form closes and the list reloads.
    for _ in 0.."not-an-email".len() {
        h.key(KeyCode::Backspace);
    }
    h.type_text("zoe@example.com");
    h.key(KeyCode::Enter);
    let mut zoe = user("zoe");
    zoe.first_name = "Zoe".into();
    h.users.push(zoe.clone());
    h.reply(
        |r| matches!(r, Request::CreateUser { user } if user.email.as_deref() == Some("zoe@example.com")),
        Ok(Response::User { user: zoe }),
    );
    h.answer_users();
    assert!(h.app.modal().is_none());
    assert_eq!(h.app.flash(), Some(&Flash::Info("Created zoe.".into())));
    assert_eq!(h.app.users().total(), Some(6));
}

#[test]
fn edit_sends_only_changed_fields_and_ldap_users_are_read_only() {
    let mut h = Harness::connected(small());
    h.key(KeyCode::Char('e'));
    h.key(KeyCode::Down);
    h.key(KeyCode::Down);
    h.key(KeyCode::End);
    h.type_text("ine");
    let commands = h.key(KeyCode::Enter);
    let Some(Command::Send {
        request: Request::UpdateUser { user, patch },
        ..
    }) = commands.first()
    else {
        panic!("expected an update, got {commands:?}");
    };
    assert_eq!(user, "u-ada.lovelace");
    assert_eq!(patch.first_name.as_deref(), Some("Adaine"));
    assert_eq!(patch.username, None);
    assert_eq!(patch.email, None);

    let mut h = Harness::connected(small());
    h.key(KeyCode::Char('j'));
    h.key(KeyCode::Char('j'));
    h.key(KeyCode::Char('e'));
    assert!(h.app.modal().is_none());
    assert!(matches!(h.app.flash(), Some(Flash::Error(m)) if m.contains("LDAP")));
}

#[test]
fn d_toggles_disabled_and_delete_needs_a_typed_y() {
    let mut h = Harness::connected(small());
    h.key(KeyCode::Down); // bob.builder, disabled
    let commands = h.key(KeyCode::Char('d'));
    assert!(matches!(
        commands.as_slice(),
        [Command::Send {
            request: Request::SetUserDisabled {
                disabled: false,
                ..
            },
            ..
        }]
    ));
    h.key(KeyCode::Char('D'));
    assert!(matches!(h.app.modal(), Some(Modal::Confirm(_))));
    assert!(h.key(KeyCode::Enter).is_empty());
    assert!(
        matches!(h.app.modal(), Some(Modal::Confirm(_))),
        "Enter does not confirm"
    );
    let commands = h.key(KeyCode::Char('y'));
    assert!(matches!(
        commands.as_slice(),
        [Command::Send { request: Request::DeleteUser { user }, .. }] if user == "u-bob.builder"
    ));
}

#[test]
fn a_lost_connection_retries_every_two_seconds_then_reloads() {
    let mut h = Harness::connected(small());
    h.feed(AppEvent::ConnectionLost {
        error: "the connection to the daemon was lost".into(),
    });
    assert!(matches!(h.app.link(), Link::Down { .. }));
    let t0 = Instant::now();
    assert!(h.feed(AppEvent::Tick { now: t0 }).is_empty());
    let later = t0 + Duration::from_millis(1900);
    assert!(h.feed(AppEvent::Tick { now: later }).is_empty());
    let due = t0 + Duration::from_secs(2);
    assert_eq!(h.feed(AppEvent::Tick { now: due }), [Command::Connect]);

    h.sent.clear();
    let commands = h.feed(AppEvent::Connected {
        server: server_hello(),
    });
    assert!(commands.iter().any(|c| matches!(
        c,
        Command::Send {
            request: Request::Status,
            ..
        }
    )));
    assert_eq!(list_queries(&commands).len(), 1);
    h.answer_users();
    assert_eq!(h.app.users().total(), Some(5));
}

#[test]
fn r_retries_at_once_and_q_quits_while_unreachable() {
    let mut app = App::new("/nowhere.sock", H);
    app.update(AppEvent::ConnectFailed {
        error: "No such file or directory (os error 2)".into(),
    });
    assert_eq!(app.update(press(KeyCode::Char('r'))), [Command::Connect]);
    assert_eq!(app.update(press(KeyCode::Char('q'))), [Command::Quit]);
}

#[test]
fn replies_to_a_lost_connection_are_ignored() {
    let mut h = Harness::connected(small());
    h.key(KeyCode::Char('r'));
    h.feed(AppEvent::ConnectionLost {
        error: "gone".into(),
    });
    assert_eq!(h.app.pending_count(), 0);
    let users = small();
    for (tag, request) in std::mem::take(&mut h.sent) {
        let result = match request {
            Request::ListUsers { query } => Ok(Response::Users {
                page: page_of(&users, &query),
            }),
            _ => Ok(Response::Status { status: status(5) }),
        };
        assert!(h.app.update(AppEvent::Reply { tag, result }).is_empty());
    }
}

#[test]
fn api_errors_on_actions_show_in_the_footer() {
    let mut h = Harness::connected(small());
    h.key(KeyCode::Char('d'));
    h.reply(
        |r| matches!(r, Request::SetUserDisabled { .. }),
        Err(ApiError::new(ErrorCode::ReadOnly, "managed by LDAP")),
    );
    assert_eq!(h.app.flash(), Some(&Flash::Error("managed by LDAP".into())));
}

#[test]
fn tab_cycles_through_the_five_screens_and_loads_each() {
    let mut h = Harness::connected(small());
    h.key(KeyCode::Tab);
    assert_eq!(h.app.screen(), &Screen::Groups);
    assert!(h.asked(|r| matches!(r, Request::ListGroups)));
    h.key(KeyCode::Tab);
    assert_eq!(h.app.screen(), &Screen::Audit);
    assert!(h.asked(|r| matches!(r, Request::ListAudit { query } if query.user.is_none())));
    h.key(KeyCode::Tab);
    assert_eq!(h.app.screen(), &Screen::Clients);
    assert!(h.asked(|r| matches!(r, Request::ListClients)));
    assert!(h.asked(|r| matches!(r, Request::ListSigningKeys)));
    h.key(KeyCode::Tab);
    assert_eq!(h.app.screen(), &Screen::Settings);
    assert!(h.asked(|r| matches!(r, Request::GetSettings)));
    h.key(KeyCode::Tab);
    assert_eq!(h.app.screen(), &Screen::Users);
    h.key(KeyCode::BackTab);
    assert_eq!(h.app.screen(), &Screen::Settings);
}

#[test]
fn login_code_picks_an_expiry_then_shows_link_code_and_qr() {
    let mut h = Harness::connected(small());
    h.key(KeyCode::Char('l'));
    assert!(matches!(h.app.modal(), Some(Modal::Expiry(p)) if p.username == "ada.lovelace"));
    h.key(KeyCode::Down);
    h.key(KeyCode::Down);
    let commands = h.key(KeyCode::Enter);
    let Some(Command::Send {
        request: Request::CreateLoginCode { code },
        ..
    }) = commands.first()
    else {
        panic!("expected a login code request, got {commands:?}");
    };
    assert_eq!(code.user, "u-ada.lovelace");
    assert_eq!(code.expires_in_secs, 24 * 3600);
    assert!(!code.send_email);
    h.reply(
        |r| matches!(r, Request::CreateLoginCode { .. }),
        Ok(Response::LoginCode {
            code: created_code(),
        }),
    );
    let Some(Modal::LoginCode(shown)) = h.app.modal() else {
        panic!("the code should be shown, not {:?}", h.app.modal());
    };
    assert_eq!(shown.label, "1 day");
    assert!(shown.qr.len() > 10);
    // Any key closes it; the code is not kept anywhere.
    h.key(KeyCode::Esc);
    assert!(h.app.modal().is_none());
}

#[test]
fn a_custom_expiry_is_checked_before_anything_is_sent() {
    let mut h = Harness::connected(small());
    h.key(KeyCode::Char('l'));
    // Typing digits jumps to the custom field.
    h.type_text("40d");
    assert!(h.key(KeyCode::Enter).is_empty());
    let Some(Modal::Expiry(picker)) = h.app.modal() else {
        panic!("the picker stays open");
    };
    assert!(picker.error.as_deref().unwrap().contains("31 days"));
    for _ in 0..3 {
        h.key(KeyCode::Backspace);
    }
    h.type_text("90min");
    let commands = h.key(KeyCode::Enter);
    assert!(matches!(
        commands.as_slice(),
        [Command::Send { request: Request::CreateLoginCode { code }, .. }] if code.expires_in_secs == 5400
    ));
    // A refusal from the daemon shows in the picker.
    h.reply(
        |r| matches!(r, Request::CreateLoginCode { .. }),
        Err(ApiError::new(
            ErrorCode::InvalidInput,
            "the user is disabled",
        )),
    );
    assert!(
        matches!(h.app.modal(), Some(Modal::Expiry(p)) if !p.busy && p.error.as_deref() == Some("the user is disabled"))
    );
}

#[test]
fn no_login_code_for_a_disabled_user() {
    let mut h = Harness::connected(small());
    h.key(KeyCode::Down); // bob.builder, disabled
    assert!(h.key(KeyCode::Char('l')).is_empty());
    assert!(h.app.modal().is_none());
    assert!(matches!(h.app.flash(), Some(Flash::Error(m)) if m.contains("disabled")));
}

/// Opens ada's detail view and answers everything it asks for.
fn ada_detail() -> Harness {
    let mut h = Harness::connected(small());
    h.key(KeyCode::Enter);
    let ada = small().remove(0);
    h.reply(
        |r| matches!(r, Request::GetUser { user } if user == "u-ada.lovelace"),
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
        |r| matches!(r, Request::ListAuthorizations { user } if user == "u-ada.lovelace"),
        Ok(Response::Authorizations {
            authorizations: authorizations(),
        }),
    );
    h.reply(
        |r| matches!(r, Request::GetClaims { owner: ClaimOwner::User(user) } if user == "u-ada.lovelace"),
        Ok(Response::Claims { claims: claims() }),
    );
    h.reply(
        |r| matches!(r, Request::ListAudit { query } if query.user.as_deref() == Some("u-ada.lovelace")),
        Ok(Response::Audit {
            page: AuditPage {
                events: vec![
                    audit_event(2, "user_updated", "ada.lovelace"),
                    audit_event(1, "user_created", "ada.lovelace"),
                ],
            },
        }),
    );
    h.answer_users();
    h
}

#[test]
fn the_detail_view_loads_passkeys_codes_sessions_and_recent_events() {
    let h = ada_detail();
    let access = h.app.access();
    assert_eq!(access.user, "u-ada.lovelace");
    assert_eq!(access.items().len(), 5);
    assert!(matches!(&access.claims, Loaded::Ready(c) if c.len() == 2));
    assert!(matches!(&access.audit, Loaded::Ready(events) if events.len() == 2));
    assert!(h.sent.is_empty(), "{:?}", h.sent);
}

#[test]
fn revoking_a_passkey_asks_first_and_reloads_the_lists() {
    let mut h = ada_detail();
    h.key(KeyCode::Down); // the second passkey
    assert!(h.key(KeyCode::Char('x')).is_empty());
    assert!(
        matches!(h.app.modal(), Some(Modal::Confirm(c)) if c.message.contains("iCloud Keychain"))
    );
    assert!(h.key(KeyCode::Enter).is_empty(), "Enter does not confirm");
    let commands = h.key(KeyCode::Char('y'));
    assert!(matches!(
        commands.as_slice(),
        [Command::Send { request: Request::RevokePasskey { user, id }, .. }]
            if user == "u-ada.lovelace" && id == "cred-2"
    ));
    h.reply(
        |r| matches!(r, Request::RevokePasskey { .. }),
        Ok(Response::Done),
    );
    assert!(matches!(h.app.flash(), Some(Flash::Info(m)) if m.contains("iCloud Keychain")));
    assert!(h.asked(|r| matches!(r, Request::ListPasskeys { .. })));
    assert!(h.asked(|r| matches!(r, Request::ListAudit { .. })));
    assert!(h.asked(|r| matches!(r, Request::GetUser { .. })));

    // Sessions come just before the authorized apps; x there signs that
    // browser out.
    h.key(KeyCode::End);
    h.key(KeyCode::Up);
    h.key(KeyCode::Char('x'));
    let commands = h.key(KeyCode::Char('y'));
    assert!(matches!(
        commands.as_slice(),
        [Command::Send { request: Request::RevokeSession { id, .. }, .. }] if id == "s-1"
    ));
}

#[test]
fn a_refused_list_shows_its_message_in_place() {
    let mut h = Harness::connected(small());
    h.key(KeyCode::Enter);
    h.reply(
        |r| matches!(r, Request::ListSessions { .. }),
        Err(ApiError::new(
            ErrorCode::Internal,
            "this daemon does not support that request yet",
        )),
    );
    assert!(matches!(&h.app.access().sessions, Loaded::Failed(m) if m.contains("support")));
    assert_eq!(h.app.flash(), None);
}

#[test]
fn revoking_an_authorized_app_asks_first_and_reloads_the_apps() {
    let mut h = ada_detail();
    h.key(KeyCode::End);
    assert!(matches!(
        h.app.access().selected_item(),
        Some(Item::Authorization(a)) if a.client_id == "c-wiki"
    ));
    assert!(h.key(KeyCode::Char('x')).is_empty());
    assert!(matches!(h.app.modal(), Some(Modal::Confirm(c)) if c.message.contains("Team wiki")));
    assert!(h.key(KeyCode::Enter).is_empty(), "Enter does not confirm");
    let commands = h.key(KeyCode::Char('y'));
    assert!(matches!(
        commands.as_slice(),
        [Command::Send { request: Request::RevokeAuthorization { user, client_id }, .. }]
            if user == "u-ada.lovelace" && client_id == "c-wiki"
    ));
    h.reply(
        |r| matches!(r, Request::RevokeAuthorization { .. }),
        Ok(Response::Done),
    );
    assert!(matches!(h.app.flash(), Some(Flash::Info(m)) if m.contains("Team wiki")));
    assert!(h.asked(|r| matches!(r, Request::ListAuthorizations { .. })));
    assert!(h.asked(|r| matches!(r, Request::ListAudit { .. })));
    h.reply(
        |r| matches!(r, Request::ListAuthorizations { .. }),
        Ok(Response::Authorizations {
            authorizations: Vec::new(),
        }),
    );
    assert_eq!(h.app.access().items().len(), 4);
    assert!(h.screen().contains("Authorized apps (0)"));
}

#[test]
fn n_on_an_authorization_does_nothing_and_revoke_is_cancellable() {
    let mut h = ada_detail();
    h.key(KeyCode::End);
    h.key(KeyCode::Char('x'));
    assert!(h.key(KeyCode::Char('n')).is_empty());
    assert!(h.app.modal().is_none());
    assert!(!h.asked(|r| matches!(r, Request::RevokeAuthorization { .. })));
}

#[test]
fn claims_show_in_the_detail_view_and_c_edits_them() {
    let mut h = ada_detail();
    let screen = h.screen();
    assert!(screen.contains("Custom claims (2)"), "{screen}");
    assert!(screen.contains("department = \"research\""), "{screen}");
    assert!(screen.contains("Team wiki"), "{screen}");

    h.key(KeyCode::Char('c'));
    let Some(Modal::Form(form)) = h.app.modal() else {
        panic!("c opens the claims form");
    };
    assert_eq!(form.text("claims"), "department=\"research\"; clearance=3");
    // Clear it and type new claims: a non-JSON value is a string.
    for _ in 0..form.text("claims").chars().count() {
        h.key(KeyCode::Backspace);
    }
    h.type_text("team=blue; roles=[\"a\";\"b\"]; level=2");
    let commands = h.key(KeyCode::Enter);
    let expected = vec![
        ("team".to_owned(), serde_json::json!("blue")),
        ("roles".to_owned(), serde_json::json!("[\"a\";\"b\"]")),
        ("level".to_owned(), serde_json::json!(2)),
    ];
    assert!(
        matches!(
            commands.as_slice(),
            [Command::Send { request: Request::SetClaims { owner: ClaimOwner::User(id), claims }, .. }]
                if id == "u-ada.lovelace" && *claims == expected
        ),
        "{commands:?}"
    );

    // The daemon refuses a reserved name: shown in the form, text kept.
    h.reply(
        |r| matches!(r, Request::SetClaims { .. }),
        Err(ApiError::new(
            ErrorCode::InvalidInput,
            "claim name \"sub\" is reserved",
        )),
    );
    let Some(Modal::Form(form)) = h.app.modal() else {
        panic!("the form stays open on an error");
    };
    assert!(!form.busy);
    assert_eq!(
        form.text("claims"),
        "team=blue; roles=[\"a\";\"b\"]; level=2"
    );
    let error = form.error.as_ref().unwrap();
    assert_eq!(error.field, Some(0));
    assert!(error.message.contains("reserved"));
    assert!(h.screen().contains("is reserved"));

    // Submitted again and accepted: the view shows what the daemon kept.
    h.key(KeyCode::Enter);
    h.reply(
        |r| matches!(r, Request::SetClaims { .. }),
        Ok(Response::Claims {
            claims: vec![("team".to_owned(), serde_json::json!("blue"))],
        }),
    );
    assert!(h.app.modal().is_none());
    assert!(matches!(h.app.flash(), Some(Flash::Info(m)) if m.contains("ada.lovelace")));
    assert!(matches!(&h.app.access().claims, Loaded::Ready(c) if c.len() == 1));
    assert!(h.screen().contains("team = \"blue\""));
}

#[test]
fn claims_text_is_parsed_before_anything_is_sent() {
    let mut h = ada_detail();
    h.key(KeyCode::Char('c'));
    h.type_text("; =5");
    assert!(h.key(KeyCode::Enter).is_empty());
    let Some(Modal::Form(form)) = h.app.modal() else {
        panic!("the form stays open");
    };
    assert!(
        form.error
            .as_ref()
            .unwrap()
            .message
            .contains("no claim name")
    );
}

#[test]
fn claims_cannot_be_edited_before_they_load() {
    let mut h = Harness::connected(small());
    h.key(KeyCode::Enter);
    assert!(h.key(KeyCode::Char('c')).is_empty());
    assert!(h.app.modal().is_none());
    assert!(matches!(h.app.flash(), Some(Flash::Error(m)) if m.contains("not loaded")));
}

#[test]
fn parse_claims_reads_pairs_json_and_strings() {
    assert_eq!(parse_claims("").unwrap(), Vec::new());
    assert_eq!(
        parse_claims(" a = 1 ;b=x y;c={\"k\":\"v;w\"}\nd=true;").unwrap(),
        vec![
            ("a".to_owned(), serde_json::json!(1)),
            ("b".to_owned(), serde_json::json!("x y")),
            ("c".to_owned(), serde_json::json!({"k": "v;w"})),
            ("d".to_owned(), serde_json::json!(true)),
        ]
    );
    assert_eq!(
        parse_claims("url=https://x.example/?a=b").unwrap(),
        vec![(
            "url".to_owned(),
            serde_json::json!("https://x.example/?a=b")
        )]
    );
    assert!(parse_claims("novalue").is_err());
    assert!(parse_claims("a=1; a=2").unwrap_err().contains("twice"));
}

#[test]
fn group_members_view_loads_shows_and_edits_group_claims() {
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
    h.key(KeyCode::Enter);
    let group = groups().remove(0);
    let name = group.name.clone();
    h.reply(
        |r| matches!(r, Request::GetGroup { .. }),
        Ok(Response::Group { group }),
    );
    // Not loaded yet: c refuses rather than replace them blind.
    h.key(KeyCode::Char('c'));
    assert!(h.app.modal().is_none());
    h.reply(
        |r| matches!(r, Request::GetClaims { owner: ClaimOwner::Group(g) } if *g == name),
        Ok(Response::Claims { claims: claims() }),
    );
    let screen = h.screen();
    assert!(screen.contains("Custom claims (2)"), "{screen}");
    assert!(screen.contains("clearance = 3"), "{screen}");

    h.key(KeyCode::Char('c'));
    assert!(
        matches!(h.app.modal(), Some(Modal::Form(f)) if f.text("claims").contains("clearance=3"))
    );
    h.type_text("; extra=ok");
    let commands = h.key(KeyCode::Enter);
    assert!(matches!(
        commands.as_slice(),
        [Command::Send { request: Request::SetClaims { owner: ClaimOwner::Group(g), claims }, .. }]
            if *g == name && claims.len() == 3
    ));
    h.reply(
        |r| matches!(r, Request::SetClaims { .. }),
        Ok(Response::Claims { claims: Vec::new() }),
    );
    assert!(h.app.modal().is_none());
    assert!(h.screen().contains("Custom claims (0)"));

    // r reloads the claims along with the members.
    h.key(KeyCode::Char('r'));
    assert!(h.asked(|r| matches!(
        r,
        Request::GetClaims {
            owner: ClaimOwner::Group(_)
        }
    )));
}

fn on_audit_screen() -> Harness {
    let mut h = Harness::connected(small());
    h.key(KeyCode::Tab);
    h.key(KeyCode::Tab);
    h.reply(
        |r| matches!(r, Request::ListAudit { .. }),
        Ok(Response::Audit {
            page: AuditPage {
                events: vec![
                    audit_event(2, "user_updated", "ada.lovelace"),
                    audit_event(1, "user_created", "ada.lovelace"),
                ],
            },
        }),
    );
    h
}

#[test]
fn the_audit_screen_puts_new_events_on_top_live() {
    let mut h = on_audit_screen();
    h.key(KeyCode::Down);
    let commands = h.feed(AppEvent::AuditAppended {
        event: audit_event(3, "login_code_created", "bob.builder"),
    });
    assert!(commands.is_empty(), "appending needs no request");
    let events = h.app.audit().events.as_ref().unwrap();
    assert_eq!(events.iter().map(|e| e.id).collect::<Vec<_>>(), [3, 2, 1]);
    // The selection stays on the event it was on.
    assert_eq!(h.app.audit().selected, 2);
    // The same event twice (a reload raced the push) is shown once.
    h.feed(AppEvent::AuditAppended {
        event: audit_event(3, "login_code_created", "bob.builder"),
    });
    assert_eq!(h.app.audit().events.as_ref().unwrap().len(), 3);
}

#[test]
fn the_audit_filter_asks_the_daemon_and_reloads_on_news() {
    let mut h = on_audit_screen();
    h.key(KeyCode::Char('/'));
    h.type_text("bob");
    let commands = h.key(KeyCode::Enter);
    assert!(matches!(
        commands.as_slice(),
        [Command::Send { request: Request::ListAudit { query }, .. }] if query.user.as_deref() == Some("bob")
    ));
    h.reply(
        |r| matches!(r, Request::ListAudit { .. }),
        Ok(Response::Audit {
            page: AuditPage { events: vec![] },
        }),
    );
    // With a filter on, only the daemon knows whom an event is about:
    // news makes the next tick reload.
    assert!(
        h.feed(AppEvent::AuditAppended {
            event: audit_event(4, "user_disabled", "bob.builder"),
        })
        .is_empty()
    );
    h.feed(AppEvent::Tick {
        now: Instant::now(),
    });
    assert!(h.asked(
        |r| matches!(r, Request::ListAudit { query } if query.user.as_deref() == Some("bob"))
    ));
    // Esc goes back to everyone.
    h.sent.clear();
    h.key(KeyCode::Esc);
    assert!(h.asked(|r| matches!(r, Request::ListAudit { query } if query.user.is_none())));
}

fn on_settings_screen() -> Harness {
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
    h
}

#[test]
fn editing_a_setting_sends_the_text_and_shows_field_errors_inline() {
    let mut h = on_settings_screen();
    h.key(KeyCode::Down); // session.minutes
    h.key(KeyCode::Enter);
    let Some(Modal::Form(form)) = h.app.modal() else {
        panic!("Enter opens the editor");
    };
    assert_eq!(form.text("value"), "60");
    h.key(KeyCode::Backspace);
    h.key(KeyCode::Backspace);
    h.type_text("1");
    let commands = h.key(KeyCode::Enter);
    assert!(matches!(
        commands.as_slice(),
        [Command::Send { request: Request::SetSetting { key, value }, .. }]
            if key == "session.minutes" && value == "1"
    ));
    h.reply(
        |r| matches!(r, Request::SetSetting { .. }),
        Err(ApiError::new(
            ErrorCode::InvalidInput,
            "must be between 5 and 43200 minutes",
        )
        .with_field("session.minutes")),
    );
    let Some(Modal::Form(form)) = h.app.modal() else {
        panic!("the editor stays open");
    };
    assert_eq!(form.error.as_ref().unwrap().field, Some(0));

    h.key(KeyCode::Backspace);
    h.type_text("30");
    h.key(KeyCode::Enter);
    h.reply(
        |r| matches!(r, Request::SetSetting { .. }),
        Ok(Response::Done),
    );
    assert!(h.app.modal().is_none());
    assert_eq!(
        h.app.flash(),
        Some(&Flash::Info("Saved session.minutes.".into()))
    );
    assert!(h.asked(|r| matches!(r, Request::GetSettings)));
}

#[test]
fn a_secret_setting_starts_empty() {
    let mut h = on_settings_screen();
    for _ in 0..4 {
        h.key(KeyCode::Down);
    }
    h.key(KeyCode::Enter);
    let Some(Modal::Form(form)) = h.app.modal() else {
        panic!("Enter opens the editor");
    };
    assert_eq!(form.title, "smtp.password · text");
    assert_eq!(form.text("value"), "");
}
