//! A modal form: labelled text fields and toggles, one focused. Used for
//! creating and editing users, creating groups, adding members, editing
//! custom claims and changing a setting. The form
//! only edits its values; what submitting means is the caller's business
//! (it knows the [`FormKind`]). A daemon error naming a field is shown under
//! that field and moves the focus there, keeping everything typed.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use latchkey_protocol::{ApiError, UserView};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Padding, Paragraph, Wrap};

use super::input::{Edit, TextInput};
use super::theme;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormKind {
    CreateUser,
    /// Editing `original`; only changed fields are sent.
    EditUser {
        original: Box<UserView>,
    },
    CreateGroup,
    AddMember {
        group: String,
    },
    /// One application setting; its single field is `value`.
    Setting {
        key: String,
    },
    CreateClient,
    /// Editing `original`; only changed fields are sent.
    EditClient {
        original: Box<latchkey_protocol::ClientView>,
    },
    /// Deleting a client: the `confirm` field must be its name.
    DeleteClient {
        client_id: String,
        name: String,
    },
    /// Rotating the signing key; its single field is `alg`.
    RotateKey,
    /// Sending a test message; its single field is `to`.
    TestEmail,
    /// Replacing a user's or group's custom claims; the single field is
    /// `claims`, `key=json; key2=json`.
    EditClaims {
        owner: latchkey_protocol::ClaimOwner,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldValue {
    Text(TextInput),
    Toggle(bool),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The daemon's name for the field (`ApiError::field`).
    pub key: &'static str,
    pub label: &'static str,
    pub value: FieldValue,
}

impl Field {
    pub fn text(key: &'static str, label: &'static str, value: &str) -> Field {
        Field {
            key,
            label,
            value: FieldValue::Text(TextInput::new(value)),
        }
    }

    pub fn toggle(key: &'static str, label: &'static str, value: bool) -> Field {
        Field {
            key,
            label,
            value: FieldValue::Toggle(value),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormError {
    /// Index of the field it is about, if the daemon named one we show.
    pub field: Option<usize>,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Form {
    pub kind: FormKind,
    pub title: String,
    pub fields: Vec<Field>,
    pub focus: usize,
    pub error: Option<FormError>,
    /// Submitted and waiting for the daemon; keys other than Esc wait too.
    pub busy: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormKey {
    Submit,
    Cancel,
    Handled,
}

impl Form {
    pub fn new(kind: FormKind, title: impl Into<String>, fields: Vec<Field>) -> Form {
        Form {
            kind,
            title: title.into(),
            fields,
            focus: 0,
            error: None,
            busy: false,
        }
    }

    pub fn create_user() -> Form {
        Form::new(
            FormKind::CreateUser,
            "New user",
            vec![
                Field::text("username", "Username", ""),
                Field::text("email", "Email", ""),
                Field::text("first_name", "First name", ""),
                Field::text("last_name", "Last name", ""),
                Field::text("display_name", "Display name", ""),
                Field::toggle("is_admin", "Administrator", false),
            ],
        )
    }

    pub fn edit_user(user: &UserView) -> Form {
        Form::new(
            FormKind::EditUser {
                original: Box::new(user.clone()),
            },
            format!("Edit {}", user.username),
            vec![
                Field::text("username", "Username", &user.username),
                Field::text("email", "Email", user.email.as_deref().unwrap_or("")),
                Field::text("first_name", "First name", &user.first_name),
                Field::text("last_name", "Last name", &user.last_name),
                Field::text("display_name", "Display name", &user.display_name),
                Field::toggle("is_admin", "Administrator", user.is_admin),
            ],
        )
    }

    pub fn create_group() -> Form {
        Form::new(
            FormKind::CreateGroup,
            "New group",
            vec![
                Field::text("name", "Name", ""),
                Field::text("friendly_name", "Friendly name", ""),
            ],
        )
    }

    pub fn add_member(group: &str) -> Form {
        Form::new(
            FormKind::AddMember {
                group: group.to_owned(),
            },
            format!("Add a member to {group}"),
            vec![Field::text("user", "Username", "")],
        )
    }

    /// Custom claims of `owner` (`label` names it for people), prefilled.
    pub fn edit_claims(
        owner: latchkey_protocol::ClaimOwner,
        label: &str,
        claims: &[(String, serde_json::Value)],
    ) -> Form {
        Form::new(
            FormKind::EditClaims { owner },
            format!("Claims of {label} (key=json; …)"),
            vec![Field::text(
                "claims",
                "Claims",
                &super::claims::claims_text(claims),
            )],
        )
    }

    /// A text field's value by key ("" when there is none).
    pub fn text(&self, key: &str) -> &str {
        self.fields
            .iter()
            .find_map(|f| match (&f.value, f.key == key) {
                (FieldValue::Text(input), true) => Some(input.value()),
                _ => None,
            })
            .unwrap_or("")
    }

    pub fn toggle(&self, key: &str) -> bool {
        self.fields
            .iter()
            .any(|f| f.key == key && f.value == FieldValue::Toggle(true))
    }

    /// Shows a daemon error, under its field when it names one of ours.
    pub fn show_error(&mut self, error: &ApiError) {
        self.busy = false;
        let field = error
            .field
            .as_deref()
            .and_then(|name| self.fields.iter().position(|f| f.key == name));
        if let Some(index) = field {
            self.focus = index;
        }
        self.error = Some(FormError {
            field,
            message: error.message.clone(),
        });
    }

    pub fn on_key(&mut self, key: KeyEvent) -> FormKey {
        if key.code == KeyCode::Esc {
            return FormKey::Cancel;
        }
        if self.busy {
            return FormKey::Handled;
        }
        let count = self.fields.len().max(1);
        match key.code {
            KeyCode::Enter => return FormKey::Submit,
            KeyCode::Tab | KeyCode::Down => self.focus = (self.focus + 1) % count,
            KeyCode::BackTab | KeyCode::Up => self.focus = (self.focus + count - 1) % count,
            _ => {
                if let Some(field) = self.fields.get_mut(self.focus) {
                    match &mut field.value {
                        FieldValue::Text(input) => {
                            let _: Edit = input.on_key(key);
                        }
                        FieldValue::Toggle(on) => {
                            let toggles = matches!(
                                key.code,
                                KeyCode::Char(' ')
                                    | KeyCode::Char('x')
                                    | KeyCode::Left
                                    | KeyCode::Right
                            ) && !key.modifiers.contains(KeyModifiers::CONTROL);
                            if toggles {
                                *on = !*on;
                            }
                        }
                    }
                }
            }
        }
        FormKey::Handled
    }
}

const LABEL_WIDTH: u16 = 16;

pub fn render(form: &Form, frame: &mut Frame, area: Rect) {
    // One line per field, one under each for its error, borders and hints.
    let height = u16::try_from(form.fields.len() * 2).unwrap_or(20) + 5;
    let popup = super::centered(area, 66, height);
    frame.render_widget(Clear, popup);
    let block = Block::bordered()
        .title(format!(" {} ", form.title))
        .border_style(theme::focused())
        .padding(Padding::horizontal(1));
    let inner = block.inner(popup);
    frame.render_widget(block, popup);

    let mut constraints = vec![Constraint::Length(1); form.fields.len() * 2];
    constraints.push(Constraint::Min(1));
    constraints.push(Constraint::Length(1));
    let areas = Layout::vertical(constraints).split(inner);

    for (i, field) in form.fields.iter().enumerate() {
        let (Some(&line_area), Some(&error_area)) = (areas.get(i * 2), areas.get(i * 2 + 1)) else {
            continue;
        };
        let focused = i == form.focus;
        let marker = if focused { "▸ " } else { "  " };
        let label = Span::styled(
            format!(
                "{marker}{:<width$}",
                field.label,
                width = usize::from(LABEL_WIDTH) - 2
            ),
            if focused {
                theme::focused()
            } else {
                theme::header()
            },
        );
        let value = match &field.value {
            FieldValue::Text(input) => Span::raw(input.value().to_owned()),
            FieldValue::Toggle(on) => Span::raw(if *on { "[x] yes" } else { "[ ] no" }),
        };
        frame.render_widget(Paragraph::new(Line::from(vec![label, value])), line_area);
        if let (true, FieldValue::Text(input)) = (focused && !form.busy, &field.value) {
            let x = line_area.x + LABEL_WIDTH + u16::try_from(input.cursor()).unwrap_or(0);
            frame.set_cursor_position((x.min(line_area.right().saturating_sub(1)), line_area.y));
        }
        if let Some(FormError {
            field: Some(index),
            message,
        }) = &form.error
            && *index == i
        {
            let text = format!("{:width$}✗ {message}", "", width = usize::from(LABEL_WIDTH));
            frame.render_widget(Paragraph::new(text).style(theme::error()), error_area);
        }
    }

    let general = form.error.as_ref().filter(|e| e.field.is_none());
    if let (Some(error), Some(&area)) = (general, areas.get(form.fields.len() * 2)) {
        frame.render_widget(
            Paragraph::new(format!("✗ {}", error.message))
                .style(theme::error())
                .wrap(Wrap { trim: true }),
            area,
        );
    }
    if let Some(&hint_area) = areas.last() {
        let hint = if form.busy {
            Line::styled("Saving…", theme::dim())
        } else {
            theme::key_hints(&[
                ("Enter", "save"),
                ("Tab/↑↓", "move"),
                ("Space", "toggle"),
                ("Esc", "cancel"),
            ])
        };
        frame.render_widget(Paragraph::new(hint), hint_area);
    }
}
