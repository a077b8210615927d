//! Console tests: the update logic driven event by event against an
//! in-memory directory, and snapshots of every screen at 100×30.

use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use latchkey_protocol::{ErrorCode, Request, UserQuery};

use super::app::{Flash, Link, Modal, Screen};
use super::{App, AppEvent, Command, Driver, render_to_text};
use crate::testing::{FakeDirectory, serve, server_hello};

const W: u16 = 100;
const H: u16 = 30;

/// An app wired to a [`FakeDirectory`]: commands are answered at once.
struct Harness {
    app: App,
    dir: FakeDirectory,
}

impl Harness {
    fn connected(dir: FakeDirectory) -> Harness {
        let mut h = Harness {
            app: App::new("/run/latchkey/latchkey.sock", H),
            dir,
        };
        let commands = h.app.start();
        h.answer(commands);
        h
    }

    fn answer(&mut self, mut queue: Vec<Command>) {
        while !queue.is_empty() {
            let mut next = Vec::new();
            for command in queue {
                let event = match command {
                    Command::Connect => AppEvent::Connected {
                        server: server_hello(),
                    },
                    Command::Send { tag, request } => AppEvent::Reply {
                        tag,
                        result: self.dir.handle(request),
                    },
                    Command::Quit => continue,
                };
                next.extend(self.app.update(event));
            }
            queue = next;
        }
    }

    /// Presses a key and answers what it asked for.
    fn key(&mut self, code: KeyCode) {
        let commands = self.app.update(press(code));
        self.answer(commands);
    }

    fn type_text(&mut self, text: &str) {
        for c in text.chars() {
            self.key(KeyCode::Char(c));
        }
    }

    fn screen(&self) -> String {
        render_to_text(&self.app, W, H)
    }
}

fn press(code: KeyCode) -> AppEvent {
    AppEvent::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

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

// --- update logic ---------------------------------------------------------

#[test]
fn scrolling_past_the_loaded_window_fetches_the_next_page() {
    let mut h = Harness::connected(FakeDirectory::many(1000));
    assert_eq!(h.app.users().total(), Some(1000));
    assert_eq!(h.app.users().loaded_pages().collect::<Vec<_>>(), [0]);
    // Page down until the window nears row 100; only then is page 1 asked for.
    let mut asked = Vec::new();
    for _ in 0..10 {
        let commands = h.app.update(press(KeyCode::PageDown));
        asked = list_queries(&commands);
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
    let mut h = Harness::connected(FakeDirectory::many(100_000));
    let commands = h.app.update(press(KeyCode::End));
    let asked = list_queries(&commands);
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert_eq!(asked[0].1.offset, 99_900);
    h.answer(commands);
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
    let mut h = Harness::connected(FakeDirectory::small());
    h.key(KeyCode::Char('/'));
    let first = h.app.update(press(KeyCode::Char('a')));
    let second = h.app.update(press(KeyCode::Char('d')));
    let (tag_a, query_a) = list_queries(&first)[0].clone();
    let (tag_ad, query_ad) = list_queries(&second)[0].clone();
    assert_eq!((query_a.filter.as_str(), query_a.offset), ("a", 0));
    assert_eq!(query_ad.filter, "ad");

    // The newer reply lands first; the older one must not overwrite it.
    let reply_ad = h.dir.handle(Request::ListUsers { query: query_ad });
    let reply_a = h.dir.handle(Request::ListUsers { query: query_a });
    h.app.update(AppEvent::Reply {
        tag: tag_ad,
        result: reply_ad,
    });
    h.app.update(AppEvent::Reply {
        tag: tag_a,
        result: reply_a,
    });
    assert_eq!(h.app.users().total(), Some(1));
    assert_eq!(
        h.app.users().selected_user().map(|u| u.username.as_str()),
        Some("ada.lovelace")
    );
}

#[test]
fn a_create_error_keeps_the_typed_input_and_points_at_the_field() {
    let mut h = Harness::connected(FakeDirectory::small());
    h.key(KeyCode::Char('n'));
    h.type_text("zoe");
    h.key(KeyCode::Tab);
    h.type_text("not-an-email");
    h.key(KeyCode::Tab);
    h.type_text("Zoe");
    h.key(KeyCode::Enter);
    let Some(Modal::Form(form)) = h.app.modal() else {
        panic!("the form should stay open");
    };
    assert_eq!(form.text("username"), "zoe");
    assert_eq!(form.text("email"), "not-an-email");
    assert_eq!(form.text("first_name"), "Zoe");
    assert_eq!(form.focus, 1, "focus moves to the field in error");
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
    assert!(h.app.modal().is_none());
    assert_eq!(h.app.flash(), Some(&Flash::Info("Created zoe.".into())));
    assert_eq!(h.app.users().total(), Some(6));
}

#[test]
fn edit_sends_only_changed_fields_and_ldap_users_are_read_only() {
    let mut h = Harness::connected(FakeDirectory::small());
    h.key(KeyCode::Char('e'));
    h.key(KeyCode::Down);
    h.key(KeyCode::Down);
    h.key(KeyCode::End);
    h.type_text("ine");
    let commands = h.app.update(press(KeyCode::Enter));
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

    let mut h = Harness::connected(FakeDirectory::small());
    h.key(KeyCode::Char('j'));
    h.key(KeyCode::Char('j'));
    h.key(KeyCode::Char('e'));
    assert!(h.app.modal().is_none());
    assert!(matches!(h.app.flash(), Some(Flash::Error(m)) if m.contains("LDAP")));
}

#[test]
fn d_toggles_disabled_and_delete_needs_a_typed_y() {
    let mut h = Harness::connected(FakeDirectory::small());
    h.key(KeyCode::Down); // bob.builder, disabled
    let commands = h.app.update(press(KeyCode::Char('d')));
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
    h.answer(commands);
    assert!(!h.app.users().selected_user().unwrap().disabled);

    h.key(KeyCode::Char('D'));
    assert!(matches!(h.app.modal(), Some(Modal::Confirm(_))));
    assert!(h.app.update(press(KeyCode::Enter)).is_empty());
    assert!(
        matches!(h.app.modal(), Some(Modal::Confirm(_))),
        "Enter does not confirm"
    );
    let commands = h.app.update(press(KeyCode::Char('y')));
    assert!(matches!(
        commands.as_slice(),
        [Command::Send { request: Request::DeleteUser { user }, .. }] if user == "u-bob.builder"
    ));
    h.answer(commands);
    assert_eq!(h.app.users().total(), Some(4));
}

#[test]
fn a_lost_connection_retries_every_two_seconds_then_reloads() {
    let mut h = Harness::connected(FakeDirectory::small());
    h.app.update(AppEvent::ConnectionLost {
        error: "the connection to the daemon was lost".into(),
    });
    assert!(matches!(h.app.link(), Link::Down { .. }));
    let t0 = Instant::now();
    assert!(h.app.update(AppEvent::Tick { now: t0 }).is_empty());
    let later = t0 + Duration::from_millis(1900);
    assert!(h.app.update(AppEvent::Tick { now: later }).is_empty());
    let due = t0 + Duration::from_secs(2);
    assert_eq!(
        h.app.update(AppEvent::Tick { now: due }),
        [Command::Connect]
    );

    let commands = h.app.update(AppEvent::Connected {
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
    h.answer(commands);
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
    let mut h = Harness::connected(FakeDirectory::small());
    let commands = h.app.update(press(KeyCode::Char('r')));
    h.app.update(AppEvent::ConnectionLost {
        error: "gone".into(),
    });
    assert_eq!(h.app.pending_count(), 0);
    // Late replies for the old requests change nothing.
    for command in commands {
        if let Command::Send { tag, request } = command {
            let result = h.dir.handle(request);
            assert!(h.app.update(AppEvent::Reply { tag, result }).is_empty());
        }
    }
}

#[test]
fn groups_create_delete_and_members() {
    let mut h = Harness::connected(FakeDirectory::small());
    h.key(KeyCode::Tab);
    assert_eq!(h.app.screen(), &Screen::Groups);
    h.key(KeyCode::Char('n'));
    h.type_text("admins");
    h.key(KeyCode::Enter);
    let Some(Modal::Form(form)) = h.app.modal() else {
        panic!("a duplicate name keeps the form open");
    };
    assert_eq!(form.error.as_ref().unwrap().message, "that group exists");
    h.key(KeyCode::Char('2'));
    h.key(KeyCode::Enter);
    assert_eq!(h.app.groups().groups.as_ref().unwrap().len(), 4);

    h.key(KeyCode::Enter); // admins
    h.key(KeyCode::Char('a'));
    h.type_text("nobody");
    h.key(KeyCode::Enter);
    assert!(matches!(h.app.modal(), Some(Modal::Form(f)) if f.error.is_some()));
    h.key(KeyCode::Esc);
    h.key(KeyCode::Char('a'));
    h.type_text("linus");
    h.key(KeyCode::Enter);
    assert_eq!(h.app.groups().members.as_ref().unwrap().members.len(), 3);
    h.key(KeyCode::Char('x'));
    h.key(KeyCode::Char('y'));
    assert_eq!(h.app.groups().members.as_ref().unwrap().members.len(), 2);
    h.key(KeyCode::Esc);
    h.key(KeyCode::Char('D'));
    h.key(KeyCode::Char('y'));
    assert_eq!(h.app.groups().groups.as_ref().unwrap().len(), 3);
}

#[test]
fn api_errors_on_actions_show_in_the_footer() {
    let mut h = Harness::connected(FakeDirectory::small());
    let commands = h.app.update(press(KeyCode::Char('d')));
    let Some(Command::Send { tag, .. }) = commands.first() else {
        panic!("expected a request");
    };
    h.app.update(AppEvent::Reply {
        tag: *tag,
        result: Err(latchkey_protocol::ApiError::new(
            ErrorCode::ReadOnly,
            "managed by LDAP",
        )),
    });
    assert_eq!(h.app.flash(), Some(&Flash::Error("managed by LDAP".into())));
}

// --- snapshots ------------------------------------------------------------

#[test]
fn snapshot_users_screen() {
    let h = Harness::connected(FakeDirectory::small());
    insta::assert_snapshot!("users", h.screen());
}

#[test]
fn snapshot_users_screen_with_100k_users_at_the_end() {
    let mut h = Harness::connected(FakeDirectory::many(100_000));
    h.key(KeyCode::End);
    insta::assert_snapshot!("users_100k_end", h.screen());
}

#[test]
fn snapshot_filter_active() {
    let mut h = Harness::connected(FakeDirectory::small());
    h.key(KeyCode::Char('/'));
    h.type_text("ho");
    insta::assert_snapshot!("users_filter", h.screen());
}

#[test]
fn snapshot_user_detail() {
    let mut h = Harness::connected(FakeDirectory::small());
    h.key(KeyCode::Down);
    h.key(KeyCode::Down);
    h.key(KeyCode::Enter);
    insta::assert_snapshot!("user_detail_ldap", h.screen());
}

#[test]
fn snapshot_create_form_with_a_field_error() {
    let mut h = Harness::connected(FakeDirectory::small());
    h.key(KeyCode::Char('n'));
    h.type_text("ada.lovelace");
    h.key(KeyCode::Tab);
    h.type_text("ada2@example.com");
    h.key(KeyCode::Enter);
    insta::assert_snapshot!("create_form_error", h.screen());
}

#[test]
fn snapshot_delete_confirmation() {
    let mut h = Harness::connected(FakeDirectory::small());
    h.key(KeyCode::Char('D'));
    insta::assert_snapshot!("delete_confirm", h.screen());
}

#[test]
fn snapshot_groups_and_members() {
    let mut h = Harness::connected(FakeDirectory::small());
    h.key(KeyCode::Tab);
    insta::assert_snapshot!("groups", h.screen());
    h.key(KeyCode::Enter);
    insta::assert_snapshot!("group_members", h.screen());
}

#[test]
fn snapshot_help_overlay() {
    let mut h = Harness::connected(FakeDirectory::small());
    h.key(KeyCode::Char('?'));
    insta::assert_snapshot!("help", h.screen());
}

#[test]
fn snapshot_daemon_unreachable() {
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
fn snapshot_status_bar_and_flash() {
    let mut h = Harness::connected(FakeDirectory::small());
    h.key(KeyCode::Char('d'));
    let text = h.screen();
    let lines: Vec<&str> = text.lines().collect();
    insta::assert_snapshot!("status_bar", format!("{}\n{}", lines[0], lines[29]));
}

// --- the driver, against a real socket -------------------------------------

#[tokio::test]
async fn driver_connects_over_a_socket_and_drives_keys() {
    let (_dir, socket, state) = serve(FakeDirectory::small()).await;
    let mut driver = Driver::start(&socket, W, H).await;
    assert!(driver.screen().contains("ada.lovelace"));
    driver.key(KeyCode::Char('/')).await;
    driver.type_text("grace").await;
    assert_eq!(driver.app.users().total(), Some(1));
    driver.key(KeyCode::Enter).await;
    driver.key(KeyCode::Enter).await;
    assert!(driver.screen().contains("navy"));
    driver.key(KeyCode::Char('q')).await;
    assert!(driver.quit_requested());
    assert!(state.lock().unwrap().requests.len() > 3);
}

#[tokio::test]
async fn driver_without_a_daemon_shows_the_unreachable_screen() {
    let dir = tempfile::tempdir().unwrap();
    let driver = Driver::start(dir.path().join("latchkey.sock"), W, H).await;
    let screen = driver.screen();
    assert!(screen.contains("Cannot reach latchkeyd"), "{screen}");
    assert!(screen.contains("latchkey.sock"), "{screen}");
}
