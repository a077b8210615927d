//! The full-screen console: [`App`] holds the state and update logic,
//! [`render`] draws it into any ratatui frame, and [`run`] is the thin
//! async runner that owns the terminal, the daemon connection and the
//! `select!` loop over input, replies and a tick ([`run_on`] is that loop
//! on any terminal and input).

pub mod access;
pub mod app;
pub mod audit;
pub mod audit_rows;
pub mod claims;
pub mod clients;
pub mod confirm;
pub mod driver;
pub mod event;
pub mod expiry;
pub mod form;
pub mod groups;
pub mod help;
pub mod input;
pub mod ldap;
pub mod loaded;
pub mod login_code;
pub mod qr_popup;
pub mod selection;
pub mod settings;
pub mod signup_tokens;
pub mod status;
pub mod theme;
pub mod unreachable;
pub mod user_detail;
pub mod users;

#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossterm::event::{Event as TermEvent, EventStream};
use futures_util::{Stream, StreamExt};
use latchkey_protocol::{Client, ClientError, Event, Request, Response};
use ratatui::backend::Backend;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::{Frame, Terminal};
use tokio::sync::mpsc;

pub use app::App;
pub use driver::Driver;
pub use event::{AppEvent, Command};

use app::{Link, Modal, Screen};

/// Draws the whole console.
pub fn render(app: &App, frame: &mut Frame) {
    let area = frame.area();
    if !matches!(app.link(), Link::Up { .. }) {
        unreachable::render(app, frame, area);
        return;
    }
    let [bar, body, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(area);
    status::render_bar(app, frame, bar);
    match app.screen() {
        Screen::Users => users::render(app.users(), frame, body),
        Screen::UserDetail { user, loading } => {
            user_detail::render(user, *loading, app.access(), frame, body);
        }
        Screen::Groups => groups::render_list(app.groups(), frame, body),
        Screen::GroupMembers { name } => groups::render_members(app.groups(), name, frame, body),
        Screen::Clients => clients::render(app.clients(), frame, body),
        Screen::Audit => audit::render(app.audit(), frame, body),
        Screen::Settings => settings::render(app.settings(), frame, body),
        Screen::SignupTokens => signup_tokens::render_list(app.signup_tokens(), frame, body),
        Screen::Ldap => ldap::render(app.ldap(), frame, body),
    }
    status::render_footer(app, frame, footer);
    match app.modal() {
        Some(Modal::Help) => help::render(frame, body),
        Some(Modal::Form(form)) => form::render(form, frame, body),
        Some(Modal::Confirm(confirm)) => confirm::render(confirm, frame, body),
        Some(Modal::Expiry(picker)) => login_code::render_picker(picker, frame, body),
        Some(Modal::LoginCode(shown)) => login_code::render_shown(shown, frame, body),
        Some(Modal::Secret(shown)) => clients::render_secret(shown, frame, body),
        Some(Modal::SignupToken(dialog)) => signup_tokens::render_dialog(dialog, frame, body),
        Some(Modal::SignupTokenShown(shown)) => signup_tokens::render_shown(shown, frame, body),
        None => {}
    }
}

/// A `width`×`height` rectangle centred in `area` (shrunk to fit).
pub fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width);
    let height = height.min(area.height);
    Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    }
}

/// A buffer as plain text, one line per row with trailing spaces trimmed:
/// what snapshot tests compare.
pub fn buffer_text(buffer: &Buffer) -> String {
    let area = buffer.area;
    let mut text = String::new();
    for y in area.top()..area.bottom() {
        let mut line = String::new();
        for x in area.left()..area.right() {
            if let Some(cell) = buffer.cell((x, y)) {
                line.push_str(cell.symbol());
            }
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

/// Renders `app` into an off-screen terminal and returns it as text.
pub fn render_to_text(app: &App, width: u16, height: u16) -> String {
    let backend = ratatui::backend::TestBackend::new(width, height);
    match ratatui::Terminal::new(backend) {
        Ok(mut terminal) => match terminal.draw(|frame| render(app, frame)) {
            Ok(_) => buffer_text(terminal.backend().buffer()),
            Err(e) => format!("render failed: {e}"),
        },
        Err(e) => format!("render failed: {e}"),
    }
}

/// What background tasks tell the loop. `epoch` numbers connections, so
/// news from an old connection cannot disturb a new one.
enum Internal {
    Connected { epoch: u64, client: Arc<Client> },
    App { epoch: u64, event: Box<AppEvent> },
}

const TICK: Duration = Duration::from_millis(250);

/// Opens the console on the current terminal and runs until the admin quits.
/// The terminal is restored on every way out; `ratatui::init` also installs
/// a panic hook that restores it before the panic message prints.
pub async fn run(socket_path: PathBuf) -> anyhow::Result<()> {
    let mut terminal = ratatui::try_init()?;
    let result = run_on(&mut terminal, EventStream::new(), socket_path).await;
    ratatui::restore();
    result
}

/// The console's loop on any terminal and any stream of terminal input:
/// [`run`] gives it the real ones, tests a `TestBackend` and scripted keys,
/// so what they check is the loop the admin runs. Returns when the admin
/// quits or the input ends.
pub async fn run_on<B, I>(
    terminal: &mut Terminal<B>,
    mut input: I,
    socket_path: PathBuf,
) -> anyhow::Result<()>
where
    B: Backend,
    B::Error: Send + Sync + 'static,
    I: Stream<Item = std::io::Result<TermEvent>> + Unpin,
{
    let size = terminal.size()?;
    let mut app = App::new(socket_path.clone(), size.height);
    let (tx, mut rx) = mpsc::unbounded_channel::<Internal>();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut client: Option<Arc<Client>> = None;
    let mut epoch = 0_u64;
    let mut commands = app.start();
    loop {
        for command in commands.drain(..) {
            match command {
                Command::Quit => return Ok(()),
                Command::Connect => {
                    epoch += 1;
                    client = None;
                    tokio::spawn(connect(socket_path.clone(), epoch, tx.clone()));
                }
                Command::Send { tag, request } => match &client {
                    Some(client) => {
                        tokio::spawn(call(Arc::clone(client), epoch, tag, request, tx.clone()));
                    }
                    None => {
                        let event = AppEvent::ConnectionLost {
                            error: "not connected".to_owned(),
                        };
                        let _ = tx.send(Internal::App {
                            epoch,
                            event: Box::new(event),
                        });
                    }
                },
            }
        }
        terminal.draw(|frame| render(&app, frame))?;
        let event = tokio::select! {
            term = input.next() => match term {
                Some(Ok(TermEvent::Key(key))) => AppEvent::Key(key),
                Some(Ok(TermEvent::Resize(width, height))) => AppEvent::Resize { width, height },
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(e.into()),
                None => return Ok(()),
            },
            Some(internal) = rx.recv() => match internal {
                Internal::Connected { epoch: e, client: c } if e == epoch => {
                    let server = c.server().clone();
                    client = Some(c);
                    AppEvent::Connected { server }
                }
                Internal::App { epoch: e, event } if e == epoch => {
                    let event = *event;
                    if matches!(event, AppEvent::ConnectionLost { .. }) {
                        client = None;
                    }
                    event
                }
                _ => continue,
            },
            _ = tick.tick() => AppEvent::Tick { now: Instant::now() },
        };
        commands = app.update(event);
    }
}

async fn connect(path: PathBuf, epoch: u64, tx: mpsc::UnboundedSender<Internal>) {
    let client = match crate::socket::connect(&path).await {
        Ok(client) => Arc::new(client),
        Err(e) => {
            let event = AppEvent::ConnectFailed {
                error: connect_error(&e),
            };
            let _ = tx.send(Internal::App {
                epoch,
                event: Box::new(event),
            });
            return;
        }
    };
    // Change notices keep the views fresh, and the notice channel closing is
    // how an idle console learns the daemon went away.
    let events = match client.call(Request::Subscribe).await {
        Ok(_) => client.take_events(),
        Err(_) => None,
    };
    let _ = tx.send(Internal::Connected {
        epoch,
        client: Arc::clone(&client),
    });
    if let Some(mut events) = events {
        drop(client);
        while let Some(event) = events.recv().await {
            if let Some(event) = pushed(event) {
                let _ = tx.send(Internal::App {
                    epoch,
                    event: Box::new(event),
                });
            }
        }
        let event = AppEvent::ConnectionLost {
            error: "the connection to the daemon was lost".to_owned(),
        };
        let _ = tx.send(Internal::App {
            epoch,
            event: Box::new(event),
        });
    }
}

/// A call's outcome as the app sees it: the daemon's answer, or its refusal, for the request
/// with `tag`; `Err` when the connection itself failed.
fn reply(tag: u64, outcome: Result<Response, ClientError>) -> Result<AppEvent, ClientError> {
    match outcome {
        Ok(response) => Ok(AppEvent::Reply {
            tag,
            result: Ok(response),
        }),
        Err(ClientError::Api(error)) => Ok(AppEvent::Reply {
            tag,
            result: Err(error),
        }),
        Err(e) => Err(e),
    }
}

async fn call(
    client: Arc<Client>,
    epoch: u64,
    tag: u64,
    request: Request,
    tx: mpsc::UnboundedSender<Internal>,
) {
    let event =
        reply(tag, client.call(request).await).unwrap_or_else(|e| AppEvent::ConnectionLost {
            error: e.to_string(),
        });
    let _ = tx.send(Internal::App {
        epoch,
        event: Box::new(event),
    });
}

/// The app's view of an event the daemon pushed; `None` for those it
/// ignores.
pub fn pushed(event: Event) -> Option<AppEvent> {
    match event {
        Event::DirectoryChanged => Some(AppEvent::DirectoryChanged),
        Event::AuditAppended { audit } => Some(AppEvent::AuditAppended { event: audit }),
        Event::LdapSyncProgress { progress } => Some(AppEvent::LdapSyncProgress { progress }),
        Event::FrameRejected { .. } => None,
    }
}

/// The error to show for a failed connection: the OS reason, without
/// repeating the socket path the screen already names.
pub fn connect_error(error: &ClientError) -> String {
    match error {
        ClientError::Connect { source, .. } => source.to_string(),
        other => other.to_string(),
    }
}
