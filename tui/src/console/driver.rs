//! Drives an [`App`] against a real daemon socket without a terminal: every
//! command is carried out in order and its answer fed back until the app is
//! quiet. For end-to-end tests and the console's own tests; the interactive
//! runner does the same work concurrently.

use std::path::PathBuf;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use latchkey_protocol::{Client, ClientError};

use super::{App, AppEvent, Command, render_to_text};

#[derive(Debug)]
pub struct Driver {
    pub app: App,
    client: Option<Client>,
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
                        Some(client) => match client.call(request).await {
                            Ok(response) => AppEvent::Reply {
                                tag,
                                result: Ok(response),
                            },
                            Err(ClientError::Api(error)) => AppEvent::Reply {
                                tag,
                                result: Err(error),
                            },
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
