//! Drives an [`App`] against a real daemon socket without a terminal: every
//! command is carried out in order and its answer fed back until the app is
//! quiet. For end-to-end tests and the console's own tests; the interactive
//! runner does the same work concurrently.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use latchkey_protocol::{Client, Event, Request};
use tokio::sync::mpsc::UnboundedReceiver;

use super::{App, AppEvent, Command, render_to_text};

#[derive(Debug)]
pub struct Driver {
    pub app: App,
    client: Option<Client>,
    /// Events the daemon pushed, waiting for [`Driver::pump`].
    events: Option<UnboundedReceiver<Event>>,
    socket_path: PathBuf,
    width: u16,
    height: u16,
    quit: bool,
}

impl Driver {
    /// Makes an app for a `width`×`height` terminal and connects it (or
    /// leaves it on the unreachable screen when the daemon is not there).
    pub async fn start(socket_path: impl Into<PathBuf>, width: u16, height: u16) -> Driver {
        let socket_path = socket_path.into();
        let mut app = App::new(socket_path.clone(), height);
        let commands = app.start();
        let mut driver = Driver {
            app,
            client: None,
            events: None,
            socket_path,
            width,
            height,
            quit: false,
        };
        driver.run(commands).await;
        driver
    }

    /// Feeds one event and carries out everything that follows from it.
    pub async fn event(&mut self, event: AppEvent) {
        let commands = self.app.update(event);
        self.run(commands).await;
    }

    pub async fn key(&mut self, code: KeyCode) {
        self.key_with(code, KeyModifiers::NONE).await;
    }

    pub async fn key_with(&mut self, code: KeyCode, modifiers: KeyModifiers) {
        self.event(AppEvent::Key(KeyEvent::new(code, modifiers)))
            .await;
    }

    /// Types each character as a key press.
    pub async fn type_text(&mut self, text: &str) {
        for c in text.chars() {
            self.key(KeyCode::Char(c)).await;
        }
    }

    /// Feeds every event the daemon has pushed so far, then a tick (which
    /// is when the app reloads after change notices). Returns how many
    /// events there were.
    pub async fn pump(&mut self) -> usize {
        let mut pushed = Vec::new();
        if let Some(events) = &mut self.events {
            while let Ok(event) = events.try_recv() {
                pushed.push(event);
            }
        }
        let count = pushed.len();
        for event in pushed {
            if let Some(event) = super::pushed(event) {
                self.event(event).await;
            }
        }
        self.tick().await;
        count
    }

    /// Waits up to `timeout` for the daemon to push at least one event, then
    /// pumps. Returns how many events were fed.
    pub async fn wait_for_events(&mut self, timeout: Duration) -> usize {
        let Some(events) = &mut self.events else {
            return 0;
        };
        let first = tokio::time::timeout(timeout, events.recv()).await;
        let mut count = 0;
        if let Ok(Some(event)) = first {
            count += 1;
            if let Some(event) = super::pushed(event) {
                self.event(event).await;
            }
        }
        count + self.pump().await
    }

    /// One clock tick, now.
    pub async fn tick(&mut self) {
        self.event(AppEvent::Tick {
            now: Instant::now(),
        })
        .await;
    }

    /// Whether the app asked to quit.
    pub fn quit_requested(&self) -> bool {
        self.quit
    }

    /// The screen as text, as the snapshot tests see it.
    pub fn screen(&self) -> String {
        render_to_text(&self.app, self.width, self.height)
    }

    async fn run(&mut self, mut queue: Vec<Command>) {
        while !queue.is_empty() {
            let mut next = Vec::new();
            for command in queue {
                let event = match command {
                    Command::Quit => {
                        self.quit = true;
                        continue;
                    }
                    Command::Connect => match crate::socket::connect(&self.socket_path).await {
                        Ok(client) => {
                            let server = client.server().clone();
                            // Like the interactive runner: follow changes.
                            self.events = match client.call(Request::Subscribe).await {
                                Ok(_) => client.take_events(),
                                Err(_) => None,
                            };
                            self.client = Some(client);
                            AppEvent::Connected { server }
                        }
                        Err(e) => {
                            self.client = None;
                            AppEvent::ConnectFailed {
                                error: super::connect_error(&e),
                            }
                        }
                    },
                    Command::Send { tag, request } => match &self.client {
                        None => AppEvent::ConnectionLost {
                            error: "not connected".to_owned(),
                        },
                        Some(client) => match super::reply(tag, client.call(request).await) {
                            Ok(event) => event,
                            Err(e) => {
                                self.client = None;
                                AppEvent::ConnectionLost {
                                    error: e.to_string(),
                                }
                            }
                        },
                    },
                };
                next.extend(self.app.update(event));
            }
            queue = next;
        }
    }
}
