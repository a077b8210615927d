//! The Clients tab: OpenID Connect clients (list, create, edit, rotate the
//! secret, delete) and, below them, the signing keys (list, rotate). A new
//! or rotated secret is shown once, in [`SecretShown`], with a warning.

use latchkey_protocol::{
    ApiError, ClientPatch, ClientView, NewClient, Request, SigningKeyView, TokenLifetimes,
};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Padding, Paragraph, Row, Table, TableState, Wrap};

use super::form::{Field, Form, FormKind};
use super::theme;
use crate::cli::args::lifetime;
use crate::fmt::short_time;

#[derive(Debug, Default)]
pub struct ClientsView {
    /// `None` until the first list arrives; `Err` when it was refused.
    pub clients: Option<Result<Vec<ClientView>, String>>,
    pub keys: Option<Result<Vec<SigningKeyView>, String>>,
    pub selected: usize,
}

impl ClientsView {
    pub fn list(&self) -> &[ClientView] {
        match &self.clients {
            Some(Ok(clients)) => clients,
            _ => &[],
        }
    }

    pub fn selected_client(&self) -> Option<&ClientView> {
        self.list().get(self.selected)
    }

    pub fn set_clients(&mut self, clients: Result<Vec<ClientView>, String>) {
        if let Ok(list) = &clients {
            self.selected = self.selected.min(list.len().saturating_sub(1));
        }
        self.clients = Some(clients);
    }

    /// The active key's algorithm, the default for the next rotation.
    pub fn active_alg(&self) -> &str {
        match &self.keys {
            Some(Ok(keys)) => keys
                .iter()
                .find(|k| k.state == "active")
                .map_or("RS256", |k| k.alg.as_str()),
            _ => "RS256",
        }
    }
}

/// A secret just made: shown once, closed only with Enter or Esc.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretShown {
    pub name: String,
    pub client_id: String,
    /// `None` for a public client (nothing to copy, but the id is shown).
    pub secret: Option<String>,
}

fn lifetime_field(key: &'static str, label: &'static str, secs: Option<u64>) -> Field {
    let text = secs.map(compact).unwrap_or_default();
    Field::text(key, label, &text)
}

/// `10m`, `2h`, `30d`, `90s`: what the lifetime fields take back.
fn compact(secs: u64) -> String {
    match secs {
        s if s > 0 && s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s > 0 && s % 3600 == 0 => format!("{}h", s / 3600),
        s if s > 0 && s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

fn client_fields(client: Option<&ClientView>) -> Vec<Field> {
    let join = |items: &[String]| items.join(" ");
    let mut fields = vec![
        Field::text("name", "Name", client.map_or("", |c| c.name.as_str())),
        Field::text(
            "redirect_uris",
            "Redirect URIs",
            &client.map(|c| join(&c.redirect_uris)).unwrap_or_default(),
        ),
        Field::text(
            "logout_redirect_uris",
            "Logout URIs",
            &client
                .map(|c| join(&c.logout_redirect_uris))
                .unwrap_or_default(),
        ),
    ];
    if client.is_none() {
        fields.push(Field::toggle("public", "Public (SPA)", false));
    }
    fields.extend([
        Field::toggle(
            "require_pkce",
            "Require PKCE",
            client.is_some_and(|c| c.require_pkce),
        ),
        Field::toggle(
            "require_par",
            "Require PAR",
            client.is_some_and(|c| c.require_par),
        ),
        Field::toggle(
            "skip_consent",
            "Skip consent",
            client.is_some_and(|c| c.skip_consent),
        ),
        Field::toggle(
            "allow_wildcard_redirects",
            "Wildcard URIs",
            client.is_some_and(|c| c.allow_wildcard_redirects),
        ),
        Field::text(
            "allowed_groups",
            "Allowed groups",
            &client.map(|c| join(&c.allowed_groups)).unwrap_or_default(),
        ),
        lifetime_field(
            "code_lifetime",
            "Code life",
            client.and_then(|c| c.lifetimes.code_secs),
        ),
        lifetime_field(
            "access_token_lifetime",
            "Access token",
            client.and_then(|c| c.lifetimes.access_token_secs),
        ),
        lifetime_field(
            "refresh_token_lifetime",
            "Refresh token",
            client.and_then(|c| c.lifetimes.refresh_token_secs),
        ),
        lifetime_field(
            "refresh_max_lifetime",
            "Refresh limit",
            client.and_then(|c| c.lifetimes.refresh_max_secs),
        ),
    ]);
    fields
}

pub fn create_form() -> Form {
    Form::new(
        FormKind::CreateClient,
        "New OIDC client (URIs and groups: space-separated; lifetimes: 10m, 1h, 30d or empty)",
        client_fields(None),
    )
}

pub fn edit_form(client: &ClientView) -> Form {
    Form::new(
        FormKind::EditClient {
            original: Box::new(client.clone()),
        },
        format!("Edit {}", client.name),
        client_fields(Some(client)),
    )
}

/// Asks for the client's name before deleting it.
pub fn delete_form(client: &ClientView) -> Form {
    Form::new(
        FormKind::DeleteClient {
            client_id: client.client_id.clone(),
            name: client.name.clone(),
        },
        format!(
            "Delete {}? Its consents and tokens go too. Type its name to confirm",
            client.name
        ),
        vec![Field::text("confirm", "Client name", "")],
    )
}

pub fn rotate_key_form(current: &str) -> Form {
    Form::new(
        FormKind::RotateKey,
        "Rotate the signing key (RS256, ES256 or EdDSA); the old key stays published",
        vec![Field::text("alg", "Algorithm", current)],
    )
}

fn words(text: &str) -> Vec<String> {
    text.split([' ', ',', '\n'])
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

fn field_error(field: &str, message: String) -> ApiError {
    ApiError::new(latchkey_protocol::ErrorCode::InvalidInput, message).with_field(field)
}

/// An empty lifetime field is `None` (the default).
fn parse_lifetime(form: &Form, key: &str) -> Result<Option<u64>, ApiError> {
    let text = form.text(key).trim();
    if text.is_empty() {
        return Ok(None);
    }
    lifetime(text)
        .map(Some)
        .map_err(|message| field_error(key, message))
}

fn form_lifetimes(form: &Form) -> Result<TokenLifetimes, ApiError> {
    Ok(TokenLifetimes {
        code_secs: parse_lifetime(form, "code_lifetime")?,
        access_token_secs: parse_lifetime(form, "access_token_lifetime")?,
        refresh_token_secs: parse_lifetime(form, "refresh_token_lifetime")?,
        refresh_max_secs: parse_lifetime(form, "refresh_max_lifetime")?,
    })
}

/// The request a client form makes; `Ok(None)` when an edit changed nothing.
pub fn client_request(form: &Form) -> Result<Option<Request>, ApiError> {
    let text = |key: &str| form.text(key).trim().to_owned();
    match &form.kind {
        FormKind::CreateClient => Ok(Some(Request::CreateClient {
            client: NewClient {
                name: text("name"),
                redirect_uris: words(form.text("redirect_uris")),
                logout_redirect_uris: words(form.text("logout_redirect_uris")),
                public: form.toggle("public"),
                require_pkce: form.toggle("require_pkce"),
                require_par: form.toggle("require_par"),
                skip_consent: form.toggle("skip_consent"),
                allow_wildcard_redirects: form.toggle("allow_wildcard_redirects"),
                allowed_groups: words(form.text("allowed_groups")),
                lifetimes: form_lifetimes(form)?,
            },
        })),
        FormKind::EditClient { original } => {
            let lifetimes = form_lifetimes(form)?;
            let changed_list = |key: &str, old: &[String]| {
                Some(words(form.text(key))).filter(|new| new.as_slice() != old)
            };
            let changed_flag = |key: &str, old: bool| Some(form.toggle(key)).filter(|v| *v != old);
            // Empty means the default: sent as 0.
            let patch_life = |new: Option<u64>| Some(new.unwrap_or(0));
            let patch = ClientPatch {
                name: Some(text("name")).filter(|n| *n != original.name),
                redirect_uris: changed_list("redirect_uris", &original.redirect_uris),
                logout_redirect_uris: changed_list(
                    "logout_redirect_uris",
                    &original.logout_redirect_uris,
                ),
                require_pkce: changed_flag("require_pkce", original.require_pkce),
                require_par: changed_flag("require_par", original.require_par),
                skip_consent: changed_flag("skip_consent", original.skip_consent),
                allow_wildcard_redirects: changed_flag(
                    "allow_wildcard_redirects",
                    original.allow_wildcard_redirects,
                ),
                allowed_groups: changed_list("allowed_groups", &original.allowed_groups),
                lifetimes: (lifetimes != original.lifetimes).then_some(TokenLifetimes {
                    code_secs: patch_life(lifetimes.code_secs),
                    access_token_secs: patch_life(lifetimes.access_token_secs),
                    refresh_token_secs: patch_life(lifetimes.refresh_token_secs),
                    refresh_max_secs: patch_life(lifetimes.refresh_max_secs),
                }),
            };
            Ok(
                (patch != ClientPatch::default()).then(|| Request::UpdateClient {
                    client_id: original.client_id.clone(),
                    patch,
                }),
            )
        }
        FormKind::DeleteClient { client_id, name } => {
            if form.text("confirm").trim() == name {
                Ok(Some(Request::DeleteClient {
                    client_id: client_id.clone(),
                }))
            } else {
                Err(field_error(
                    "confirm",
                    "type the client's name exactly to delete it".to_owned(),
                ))
            }
        }
        FormKind::RotateKey => Ok(Some(Request::RotateSigningKey {
            alg: Some(text("alg")).filter(|a| !a.is_empty()),
        })),
        _ => Ok(None),
    }
}

pub fn render(view: &ClientsView, frame: &mut Frame, area: Rect) {
    let key_rows = match &view.keys {
        Some(Ok(keys)) => u16::try_from(keys.len()).unwrap_or(10).max(1),
        _ => 1,
    };
    let [top, bottom] =
        Layout::vertical([Constraint::Min(4), Constraint::Length(key_rows + 2)]).areas(area);
    render_clients(view, frame, top);
    render_keys(view, frame, bottom);
}

fn render_clients(view: &ClientsView, frame: &mut Frame, area: Rect) {
    let clients = match &view.clients {
        None => {
            let block = Block::bordered().title(" OIDC clients ");
            frame.render_widget(Paragraph::new("Loading…").block(block), area);
            return;
        }
        Some(Err(message)) => {
            let block = Block::bordered().title(" OIDC clients ");
            let text = Paragraph::new(format!("Could not list clients: {message}"))
                .style(theme::error())
                .block(block);
            frame.render_widget(text, area);
            return;
        }
        Some(Ok(clients)) => clients,
    };
    let block = Block::bordered().title(format!(" OIDC clients · {} ", clients.len()));
    if clients.is_empty() {
        let text = Paragraph::new("No clients yet. Press n to register an application.")
            .style(theme::dim())
            .block(block);
        frame.render_widget(text, area);
        return;
    }
    let rows = clients.iter().map(|c| {
        let uris = match c.redirect_uris.as_slice() {
            [] => "-".to_owned(),
            [one] => one.clone(),
            [first, rest @ ..] => format!("{first} (+{})", rest.len()),
        };
        let groups = if c.allowed_groups.is_empty() {
            "everyone".to_owned()
        } else {
            c.allowed_groups.join(",")
        };
        Row::new(vec![
            c.name.clone(),
            c.client_id.clone(),
            if c.public { "public" } else { "confidential" }.to_owned(),
            groups,
            uris,
        ])
    });
    let table = Table::new(
        rows,
        [
            Constraint::Fill(1),
            Constraint::Length(24),
            Constraint::Length(12),
            Constraint::Length(10),
            Constraint::Fill(2),
        ],
    )
    .header(
        Row::new(vec!["NAME", "CLIENT ID", "TYPE", "GROUPS", "REDIRECT URIS"])
            .style(theme::header()),
    )
    .block(block)
    .row_highlight_style(theme::selected())
    .highlight_symbol("▶ ");
    let mut state = TableState::default().with_selected(Some(view.selected));
    frame.render_stateful_widget(table, area, &mut state);
}

fn render_keys(view: &ClientsView, frame: &mut Frame, area: Rect) {
    let block = Block::bordered().title(" Signing keys (K rotates) ");
    let keys = match &view.keys {
        Some(Ok(keys)) => keys,
        Some(Err(message)) => {
            let text = Paragraph::new(format!("Could not list keys: {message}"))
                .style(theme::error())
                .block(block);
            frame.render_widget(text, area);
            return;
        }
        None => {
            frame.render_widget(Paragraph::new("Loading…").block(block), area);
            return;
        }
    };
    let rows = keys.iter().map(|k| {
        let retires = k.retire_at.map_or_else(
            || "-".to_owned(),
            |at| format!("retires {}", short_time(at)),
        );
        Row::new(vec![
            k.alg.clone(),
            k.state.clone(),
            format!("created {}", short_time(k.created_at)),
            retires,
            format!("kid {}…", k.kid.chars().take(12).collect::<String>()),
        ])
    });
    let table = Table::new(
        rows,
        [
            Constraint::Length(6),
            Constraint::Length(9),
            Constraint::Length(24),
            Constraint::Length(24),
            Constraint::Fill(1),
        ],
    )
    .block(block);
    frame.render_widget(table, area);
}

/// The one-time secret dialog.
pub fn render_secret(shown: &SecretShown, frame: &mut Frame, area: Rect) {
    let popup = super::centered(area, 76, 12);
    frame.render_widget(Clear, popup);
    let block = Block::bordered()
        .title(format!(" Client secret · {} ", shown.name))
        .border_style(theme::error())
        .padding(Padding::horizontal(1));
    let mut lines = vec![
        Line::from(vec![
            Span::styled("client id      ", theme::header()),
            Span::raw(shown.client_id.as_str()),
        ]),
        Line::from(vec![
            Span::styled("client secret  ", theme::header()),
            match &shown.secret {
                Some(secret) => Span::styled(secret.as_str(), theme::focused()),
                None => Span::styled("none: a public client has no secret", theme::dim()),
            },
        ]),
        Line::raw(""),
    ];
    if shown.secret.is_some() {
        lines.push(Line::styled(
            "⚠ Copy the secret now: it is never shown again (only its hash is kept).",
            theme::error(),
        ));
        lines.push(Line::styled(
            "  Lost it? Rotate it (s) and give the application the new one.",
            theme::error(),
        ));
    }
    lines.push(Line::raw(""));
    lines.push(Line::from(vec![
        Span::styled("Enter", theme::key()),
        Span::raw(" or "),
        Span::styled("Esc", theme::key()),
        Span::raw(" when you have copied it"),
    ]));
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        popup,
    );
}
