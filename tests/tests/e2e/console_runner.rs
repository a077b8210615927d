//! The console's own event loop against the real daemon: `console::run_on`
//! owns the socket client, an off-screen terminal and a stream of keys, as
//! `latchkey` does on a real terminal, so replies, pushed events, ticks and
//! keys arrive concurrently. (The other console tests step the same `App`
//! one event at a time with the `Driver`.)

use std::convert::Infallible;
use std::time::Duration;

use crossterm::event::{Event as TermEvent, KeyCode, KeyEvent, KeyModifiers};
use futures_util::Stream;
use latchkey_tests::TestDaemon;
use latchkey_tests::redact::console_uids;
use latchkey_tui::console::{buffer_text, run_on};
use ratatui::Terminal;
use ratatui::backend::{Backend, ClearType, TestBackend, WindowSize};
use ratatui::buffer::Cell;
use ratatui::layout::{Position, Size};
use tokio::sync::{mpsc, watch};

use super::console::{redacted, seed};
use latchkey_tests::http::{browser, post_code};

/// How long anything may take to reach the screen before the test fails.
const WAIT: Duration = Duration::from_secs(10);

/// An off-screen terminal that shows each finished frame as text, so the
/// test can wait for what the admin would see.
struct Recording {
    screen: TestBackend,
    frames: watch::Sender<String>,
}

impl Backend for Recording {
    type Error = Infallible;

    fn draw<'a, I>(&mut self, content: I) -> Result<(), Infallible>
    where
        I: Iterator<Item = (u16, u16, &'a Cell)>,
    {
        self.screen.draw(content)
    }

    fn hide_cursor(&mut self) -> Result<(), Infallible> {
        self.screen.hide_cursor()
    }

    fn show_cursor(&mut self) -> Result<(), Infallible> {
        self.screen.show_cursor()
    }

    fn get_cursor_position(&mut self) -> Result<Position, Infallible> {
        self.screen.get_cursor_position()
    }

    fn set_cursor_position<P: Into<Position>>(&mut self, position: P) -> Result<(), Infallible> {
        self.screen.set_cursor_position(position)
    }

    fn clear(&mut self) -> Result<(), Infallible> {
        self.screen.clear()
    }

    fn clear_region(&mut self, clear_type: ClearType) -> Result<(), Infallible> {
        self.screen.clear_region(clear_type)
    }

    fn size(&self) -> Result<Size, Infallible> {
        self.screen.size()
    }

    fn window_size(&mut self) -> Result<WindowSize, Infallible> {
        self.screen.window_size()
    }

    /// A frame is finished when the terminal flushes it.
    fn flush(&mut self) -> Result<(), Infallible> {
        self.screen.flush()?;
        self.frames.send_replace(buffer_text(self.screen.buffer()));
        Ok(())
    }
}

/// The admin at the keyboard: keys go in, frames are watched.
struct Admin {
    keys: mpsc::UnboundedSender<std::io::Result<TermEvent>>,
    screen: watch::Receiver<String>,
}

impl Admin {
    fn press(&self, code: KeyCode) {
        let key = KeyEvent::new(code, KeyModifiers::NONE);
        self.keys.send(Ok(TermEvent::Key(key))).unwrap();
    }

    fn type_text(&self, text: &str) {
        text.chars().for_each(|c| self.press(KeyCode::Char(c)));
    }

    /// The frame on the screen now, or the first one after it, for which
    /// `shown` holds.
    async fn sees(&mut self, what: &str, shown: impl Fn(&str) -> bool) -> String {
        let seen = tokio::time::timeout(WAIT, self.screen.wait_for(|s| shown(s)))
            .await
            .map(|seen| seen.map(|screen| screen.clone()));
        match seen {
            Ok(Ok(screen)) => screen,
            _ => panic!(
                "{what} never reached the screen; it shows:\n{}",
                *self.screen.borrow()
            ),
        }
    }
}

/// A terminal of 100×30 and the admin in front of it, with the keys as the
/// stream the loop reads.
fn terminal() -> (
    Terminal<Recording>,
    impl Stream<Item = std::io::Result<TermEvent>> + Unpin,
    Admin,
) {
    let (frames, screen) = watch::channel(String::new());
    let recording = Recording {
        screen: TestBackend::new(100, 30),
        frames,
    };
    let (keys, mut input) = mpsc::unbounded_channel();
    let input = futures_util::stream::poll_fn(move |cx| input.poll_recv(cx));
    let terminal = Terminal::new(recording).unwrap();
    (terminal, input, Admin { keys, screen })
}

#[tokio::test]
async fn answers_and_pushed_events_reach_the_screen_while_keys_arrive() {
    let t = TestDaemon::start().await;
    seed(&t).await;
    let (mut terminal, input, mut admin) = terminal();
    let console = run_on(&mut terminal, input, t.socket());
    let script = async {
        // Answers to the requests the console sends when it connects.
        admin
            .sees("the first page of users", |s| {
                s.contains("Users · 1–4 of 4") && s.contains("grace.hopper")
            })
            .await;

        // Which users a filter means is the daemon's to say: "example" is
        // in two email addresses and in no username.
        admin.press(KeyCode::Char('/'));
        admin.type_text("example");
        let filtered = admin
            .sees("the filtered page", |s| {
                // A new filter forgets the total, so this count answers
                // the whole word, not a prefix typed on the way.
                s.contains("Filter: example") && s.contains("Users · 1–2 of 2")
            })
            .await;
        assert!(filtered.contains("ada.lovelace"), "{filtered}");
        assert!(filtered.contains("grace.hopper"), "{filtered}");
        assert!(!filtered.contains("linus"), "{filtered}");
        redacted().bind(|| insta::assert_snapshot!("console_users_filtered", filtered));
        admin.press(KeyCode::Enter);

        admin.press(KeyCode::Tab);
        admin.press(KeyCode::Tab);
        admin
            .sees("the audit log", |s| {
                s.contains("Audit · 9 newest first") && s.contains("group_member_added")
            })
            .await;

        // A browser meanwhile tries a code that does not exist. Nothing in
        // the directory changed, so nothing is reloaded: only the event the
        // daemon pushes can bring it to the screen.
        let (status, _, _) = post_code(&t, &browser(), "AAAA-BBBB-CCCC-DDDD", None).await;
        assert!(status.is_client_error(), "{status}");
        let pushed = admin
            .sees("the pushed audit event", |s| {
                s.lines()
                    .any(|l| l.contains("▶") && l.contains("sign_in_failed"))
            })
            .await;
        assert!(pushed.contains("Audit · 10 newest first"), "{pushed}");
        assert!(pushed.contains("· 4 users"), "{pushed}");

        // Another admin adds a user: the change notice reloads the count on
        // the next tick.
        let out = t.cli(&["user", "create", "--username", "zoe"]).await;
        assert_eq!(out.code, 0, "{out:?}");
        let reloaded = admin
            .sees("the reloaded user count", |s| {
                s.contains("· 5 users") && s.contains("Audit · 11 newest first")
            })
            .await;
        redacted().bind(|| {
            insta::assert_snapshot!("console_audit_pushed", console_uids(&reloaded));
        });

        admin.press(KeyCode::Char('q'));
    };
    let (quit, ()) = tokio::time::timeout(4 * WAIT, async { tokio::join!(console, script) })
        .await
        .expect("the console quits on q");
    quit.unwrap();
}

#[tokio::test]
async fn the_loop_ends_when_the_input_does() {
    let t = TestDaemon::start().await;
    let (mut terminal, input, mut admin) = terminal();
    let console = run_on(&mut terminal, input, t.socket());
    let script = async {
        admin
            .sees("the empty users screen", |s| s.contains("Users · none"))
            .await;
        drop(admin);
    };
    let (ended, ()) = tokio::time::timeout(WAIT, async { tokio::join!(console, script) })
        .await
        .expect("the console ends with its input");
    ended.unwrap();
}
