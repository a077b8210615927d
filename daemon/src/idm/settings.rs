//! Application settings that admins change at run time: one registry of
//! keys, each with a type, a default and a description. Only values an admin
//! has set are stored (`SETTINGS`); everything else reads as its default.
//! Later features add keys to `REGISTRY` (signups, email, SMTP, LDAP).

use serde_json::{Value, json};

use super::audit::{self, detail};
use super::sealed;
use super::{Actor, Idm, IdmError};
use crate::store::{Access, SettingRecord, SettingValue, Tables};

/// What values a setting takes.
#[derive(Clone, Copy, Debug)]
#[allow(
    dead_code,
    reason = "keys of later features (signups, email, SMTP, LDAP) use every kind"
)]
enum Kind {
    /// Free text of `min..=max` characters, no control characters.
    Text {
        min: usize,
        max: usize,
    },
    /// A whole number in `min..=max`; `unit` names it in messages.
    Integer {
        min: i64,
        max: i64,
        unit: &'static str,
    },
    Bool,
    /// One of a fixed set of words.
    Choice(&'static [&'static str]),
    /// A list of words, typed comma-separated or as a JSON array.
    List,
    /// Write-only text (passwords): shown as set or unset, never its value.
    Secret,
}

/// One setting in the registry.
#[derive(Debug)]
struct Definition {
    key: &'static str,
    kind: Kind,
    /// `None` means unset by default (optional text and secrets).
    default: Option<Fallback>,
    description: &'static str,
    warning: Option<&'static str>,
}

/// A default value.
#[derive(Clone, Copy, Debug)]
#[allow(dead_code, reason = "keys of later features use every kind")]
enum Fallback {
    Text(&'static str),
    Integer(i64),
    Bool(bool),
    EmptyList,
}

impl Fallback {
    fn value(self) -> SettingValue {
        match self {
            Fallback::Text(text) => SettingValue::Text(text.to_owned()),
            Fallback::Integer(n) => SettingValue::Integer(n),
            Fallback::Bool(b) => SettingValue::Bool(b),
            Fallback::EmptyList => SettingValue::List(Vec::new()),
        }
    }
}

pub const APP_NAME: &str = "app.name";
pub const SESSION_MINUTES: &str = "session.minutes";
pub const USER_VERIFICATION: &str = "passkeys.user_verification";
pub const AUDIT_RETENTION_DAYS: &str = "audit.retention_days";
pub const SIGNUPS_MODE: &str = "signups.mode";
pub const SIGNUPS_REQUIRE_EMAIL: &str = "signups.require_email";
pub const SIGNUPS_DEFAULT_GROUPS: &str = "signups.default_groups";
// Email (issue 6).
pub const EMAIL_ONE_TIME_ACCESS: &str = "email.one_time_access";
pub const EMAIL_ADMIN_LOGIN_CODES: &str = "email.admin_login_codes";
pub const EMAIL_NEW_DEVICE_NOTICE: &str = "email.new_device_notice";
pub const EMAIL_TRUST_ADMIN_ADDRESSES: &str = "email.trust_admin_addresses";
pub const SMTP_HOST: &str = "smtp.host";
pub const SMTP_PORT: &str = "smtp.port";
pub const SMTP_USERNAME: &str = "smtp.username";
pub const SMTP_PASSWORD: &str = "smtp.password";
pub const SMTP_FROM: &str = "smtp.from";
pub const SMTP_TLS: &str = "smtp.tls";
pub const SMTP_SKIP_CERT_VERIFY: &str = "smtp.skip_cert_verify";

const REGISTRY: &[Definition] = &[
    // LDAP sync (issue 7) keys are at the end of the list: `LDAP_DEFINITIONS`.
    Definition {
        key: APP_NAME,
        kind: Kind::Text { min: 1, max: 64 },
        default: Some(Fallback::Text("Latchkey")),
        description: "Name shown on every page, in mail and by authenticators",
        warning: None,
    },
    Definition {
        key: SESSION_MINUTES,
        kind: Kind::Integer {
            min: 5,
            max: 43_200,
            unit: "minutes",
        },
        default: Some(Fallback::Integer(60)),
        description: "How long a browser session lasts after sign-in",
        warning: None,
    },
    Definition {
        key: USER_VERIFICATION,
        kind: Kind::Choice(&["required", "preferred"]),
        default: Some(Fallback::Text("required")),
        description: "Whether authenticators are asked to verify the user (PIN, biometrics)",
        warning: Some(
            "\"preferred\" only changes what browsers are asked; Latchkey still refuses passkeys that did not verify the user",
        ),
    },
    // Self-service signup (issue 5).
    Definition {
        key: SIGNUPS_MODE,
        kind: Kind::Choice(&["disabled", "token", "open"]),
        default: Some(Fallback::Text("disabled")),
        description: "Who may create their own account: nobody, holders of a signup link (/st/…), or anyone (/signup)",
        warning: Some("\"open\" lets anyone who can reach the server create an account"),
    },
    Definition {
        key: SIGNUPS_REQUIRE_EMAIL,
        kind: Kind::Bool,
        default: Some(Fallback::Bool(true)),
        description: "Whether the signup form requires an email address",
        warning: None,
    },
    Definition {
        key: SIGNUPS_DEFAULT_GROUPS,
        kind: Kind::List,
        default: Some(Fallback::EmptyList),
        description: "Groups that accounts made by open signup join (existing group names)",
        warning: None,
    },
    // --- LDAP sync (issue 7) ---
    ldap_text(
        super::ldap_settings::ENABLED,
        Kind::Bool,
        Some(Fallback::Bool(false)),
        "Import users and groups from an LDAP directory (at start-up, on a schedule, on demand)",
    ),
    ldap_text(
        super::ldap_settings::URL,
        Kind::Text { min: 1, max: 2048 },
        None,
        "Directory URL: ldap://host[:port] or ldaps://host[:port]",
    ),
    ldap_text(
        super::ldap_settings::START_TLS,
        Kind::Bool,
        Some(Fallback::Bool(false)),
        "Upgrade an ldap:// connection with StartTLS",
    ),
    ldap_text(
        super::ldap_settings::BIND_DN,
        Kind::Text { min: 1, max: 1024 },
        None,
        "DN to bind as (unset: anonymous)",
    ),
    ldap_text(
        super::ldap_settings::BIND_PASSWORD,
        Kind::Secret,
        None,
        "Password of the bind DN (write-only)",
    ),
    ldap_text(
        super::ldap_settings::BASE_DN,
        Kind::Text { min: 1, max: 1024 },
        None,
        "Where users and groups are searched (whole subtree)",
    ),
    ldap_text(
        super::ldap_settings::USER_FILTER,
        Kind::Text { min: 1, max: 1024 },
        Some(Fallback::Text("(objectClass=person)")),
        "LDAP filter selecting the users to import",
    ),
    ldap_text(
        super::ldap_settings::GROUP_FILTER,
        Kind::Text { min: 1, max: 1024 },
        Some(Fallback::Text("(objectClass=groupOfNames)")),
        "LDAP filter selecting the groups to import",
    ),
    Definition {
        key: super::ldap_settings::SKIP_CERT_VERIFY,
        kind: Kind::Bool,
        default: Some(Fallback::Bool(false)),
        description: "Accept any TLS certificate from the directory",
        warning: Some("anyone on the network path can then impersonate the directory"),
    },
    ldap_text(
        super::ldap_settings::SYNC_INTERVAL_MINUTES,
        Kind::Integer {
            min: 1,
            max: 10_080,
            unit: "minutes",
        },
        Some(Fallback::Integer(60)),
        "Minutes between scheduled syncs",
    ),
    ldap_attr(
        super::ldap_settings::ATTR_UNIQUE_ID,
        "entryUUID",
        "Attribute holding a user's stable unique id (entryUUID, objectGUID, …); it must never change",
    ),
    ldap_attr(
        super::ldap_settings::ATTR_USERNAME,
        "uid",
        "Attribute holding the username",
    ),
    ldap_attr(
        super::ldap_settings::ATTR_EMAIL,
        "mail",
        "Attribute holding the email address",
    ),
    ldap_attr(
        super::ldap_settings::ATTR_FIRST_NAME,
        "givenName",
        "Attribute holding the first name",
    ),
    ldap_attr(
        super::ldap_settings::ATTR_LAST_NAME,
        "sn",
        "Attribute holding the last name",
    ),
    ldap_attr(
        super::ldap_settings::ATTR_DISPLAY_NAME,
        "cn",
        "Attribute holding the display name",
    ),
    ldap_attr(
        super::ldap_settings::ATTR_GROUP_MEMBER,
        "member",
        "Group attribute listing members: DNs (member, uniqueMember) or bare usernames (memberUid)",
    ),
    ldap_attr(
        super::ldap_settings::ATTR_GROUP_UNIQUE_ID,
        "entryUUID",
        "Attribute holding a group's stable unique id",
    ),
    ldap_attr(
        super::ldap_settings::ATTR_GROUP_NAME,
        "cn",
        "Attribute holding the group name",
    ),
    ldap_text(
        super::ldap_settings::ADMIN_GROUP,
        Kind::Text { min: 1, max: 256 },
        None,
        "Directory group (its name here) whose members become admins",
    ),
    ldap_text(
        super::ldap_settings::ON_REMOVED,
        Kind::Choice(&["disable", "delete"]),
        Some(Fallback::Text("disable")),
        "What happens to users who leave the directory",
    ),
    // --- Email (issue 6) ---
    Definition {
        key: EMAIL_ONE_TIME_ACCESS,
        kind: Kind::Bool,
        default: Some(Fallback::Bool(false)),
        description: "Users without their passkey may ask for a sign-in link by email",
        warning: Some("lowers security: whoever can read a user's mailbox can sign in as them"),
    },
    Definition {
        key: EMAIL_ADMIN_LOGIN_CODES,
        kind: Kind::Bool,
        default: Some(Fallback::Bool(false)),
        description: "Admins may email login codes to users",
        warning: None,
    },
    Definition {
        key: EMAIL_NEW_DEVICE_NOTICE,
        kind: Kind::Bool,
        default: Some(Fallback::Bool(false)),
        description: "Mail users when they sign in from a browser never seen for them",
        warning: None,
    },
    Definition {
        key: EMAIL_TRUST_ADMIN_ADDRESSES,
        kind: Kind::Bool,
        default: Some(Fallback::Bool(true)),
        description: "Addresses admins set (socket, CLI, console, first-admin setup) or LDAP syncs count as verified; when false they stay unverified until the user proves them",
        warning: Some(
            "relying apps may link accounts by a verified address: turn this off if admins or the directory may set addresses nobody checked",
        ),
    },
    Definition {
        key: SMTP_HOST,
        kind: Kind::Text { min: 1, max: 253 },
        default: None,
        description: "SMTP server host name; mail is not sent until it is set",
        warning: None,
    },
    Definition {
        key: SMTP_PORT,
        kind: Kind::Integer {
            min: 1,
            max: 65_535,
            unit: "port",
        },
        default: Some(Fallback::Integer(587)),
        description: "SMTP server port (587 for STARTTLS, 465 for implicit TLS)",
        warning: None,
    },
    Definition {
        key: SMTP_USERNAME,
        kind: Kind::Text { min: 1, max: 256 },
        default: None,
        description: "SMTP user name; no authentication when unset",
        warning: None,
    },
    Definition {
        key: SMTP_PASSWORD,
        kind: Kind::Secret,
        default: None,
        description: "SMTP password (write-only)",
        warning: None,
    },
    Definition {
        key: SMTP_FROM,
        kind: Kind::Text { min: 3, max: 320 },
        default: None,
        description: "Sender address, e.g. \"Latchkey <id@example.com>\"",
        warning: None,
    },
    Definition {
        key: SMTP_TLS,
        kind: Kind::Choice(&["none", "starttls", "tls"]),
        default: Some(Fallback::Text("starttls")),
        description: "none, starttls (upgrade a plain connection) or tls (implicit TLS)",
        warning: Some("\"none\" sends passwords and sign-in links unencrypted"),
    },
    Definition {
        key: SMTP_SKIP_CERT_VERIFY,
        kind: Kind::Bool,
        default: Some(Fallback::Bool(false)),
        description: "Accept any certificate from the SMTP server",
        warning: Some("anyone on the network path can read the mail, sign-in links included"),
    },
    // --- Audit log ---
    Definition {
        key: AUDIT_RETENTION_DAYS,
        kind: Kind::Integer {
            min: 0,
            max: 36_500,
            unit: "days",
        },
        default: Some(Fallback::Integer(365)),
        description: "How long audit events are kept; older ones are deleted by the periodic sweep (0 keeps them for ever)",
        warning: None,
    },
];

/// An LDAP setting without a warning.
const fn ldap_text(
    key: &'static str,
    kind: Kind,
    default: Option<Fallback>,
    description: &'static str,
) -> Definition {
    Definition {
        key,
        kind,
        default,
        description,
        warning: None,
    }
}

/// An LDAP attribute name setting.
const fn ldap_attr(
    key: &'static str,
    default: &'static str,
    description: &'static str,
) -> Definition {
    ldap_text(
        key,
        Kind::Text { min: 1, max: 128 },
        Some(Fallback::Text(default)),
        description,
    )
}

/// The settings the daemon acts on, typed, with defaults applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    pub app_name: String,
    pub session_minutes: u32,
    pub user_verification: UserVerification,
}

/// `passkeys.user_verification`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserVerification {
    Required,
    Preferred,
}

/// One setting as the console shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct SettingEntry {
    pub key: &'static str,
    /// Typed JSON; a write-only setting shows `"set"` or `null`.
    pub value: Value,
    pub default: Value,
    /// What values it takes, for help text.
    pub kind: String,
    pub description: &'static str,
    pub write_only: bool,
    pub warning: Option<&'static str>,
}

fn definition(key: &str) -> Result<&'static Definition, IdmError> {
    REGISTRY.iter().find(|d| d.key == key).ok_or_else(|| {
        let known: Vec<&str> = REGISTRY.iter().map(|d| d.key).collect();
        IdmError::invalid(
            "key",
            format!(
                "unknown setting {key:?}; the settings are: {}",
                known.join(", ")
            ),
        )
    })
}

impl Kind {
    fn describe(self) -> String {
        match self {
            Kind::Text { min, max } => format!("text, {min}–{max} characters"),
            Kind::Integer { min, max, unit } => format!("{unit} {min}–{max}"),
            Kind::Bool => "true | false".to_owned(),
            Kind::Choice(words) => words.join(" | "),
            Kind::List => "comma-separated list".to_owned(),
            Kind::Secret => "secret (write-only)".to_owned(),
        }
    }

    /// What a message says was expected.
    fn expected(self) -> String {
        match self {
            Kind::Text { min, max } => format!("expected text of {min} to {max} characters"),
            Kind::Integer { min, max, unit } => {
                format!("expected a whole number of {unit} from {min} to {max}")
            }
            Kind::Bool => "expected true or false".to_owned(),
            Kind::Choice(words) => format!("expected one of {}", words.join(", ")),
            Kind::List => "expected a comma-separated list or a JSON array of strings".to_owned(),
            Kind::Secret => "expected text without control characters".to_owned(),
        }
    }
}

/// Parses what an admin typed; `Ok(None)` clears an optional setting.
fn parse(def: &Definition, input: &str) -> Result<Option<SettingValue>, IdmError> {
    let text = input.trim();
    let bad = || IdmError::invalid(def.key, format!("{}, got {:?}", def.kind.expected(), input));
    if text.is_empty() && def.default.is_none() {
        return Ok(None);
    }
    let value = match def.kind {
        Kind::Text { min, max } => {
            let count = text.chars().count();
            if count < min || count > max || text.chars().any(char::is_control) {
                return Err(bad());
            }
            SettingValue::Text(text.to_owned())
        }
        Kind::Integer { min, max, .. } => {
            let n: i64 = text.parse().map_err(|_| bad())?;
            if n < min || n > max {
                return Err(bad());
            }
            SettingValue::Integer(n)
        }
        Kind::Bool => match text.to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "1" => SettingValue::Bool(true),
            "false" | "no" | "off" | "0" => SettingValue::Bool(false),
            _ => return Err(bad()),
        },
        Kind::Choice(words) => {
            let word = text.to_ascii_lowercase();
            if !words.contains(&word.as_str()) {
                return Err(bad());
            }
            SettingValue::Text(word)
        }
        Kind::List => {
            let items: Vec<String> = if text.starts_with('[') {
                serde_json::from_str::<Vec<String>>(text).map_err(|_| bad())?
            } else {
                text.split(',').map(str::to_owned).collect()
            };
            let items: Vec<String> = items
                .iter()
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect();
            if items.iter().any(|s| s.chars().any(char::is_control)) {
                return Err(bad());
            }
            SettingValue::List(items)
        }
        Kind::Secret => {
            // Secrets keep their spaces: a password may start with one.
            if input.chars().any(char::is_control) {
                return Err(bad());
            }
            SettingValue::Text(input.to_owned())
        }
    };
    Ok(Some(value))
}

fn to_json(value: &SettingValue) -> Value {
    match value {
        SettingValue::Text(text) => json!(text),
        SettingValue::Integer(n) => json!(n),
        SettingValue::Bool(b) => json!(b),
        SettingValue::List(items) => json!(items),
        SettingValue::Sealed(_) => json!("set"),
    }
}

/// The value as the audit log shows it.
fn to_audit_text(value: &SettingValue) -> String {
    match value {
        SettingValue::Text(text) => text.clone(),
        SettingValue::Integer(n) => n.to_string(),
        SettingValue::Bool(b) => b.to_string(),
        SettingValue::List(items) => items.join(","),
        SettingValue::Sealed(_) => "set".to_owned(),
    }
}

/// The effective value of a setting: stored, or its default.
fn effective<A: Access>(
    tx: &Tables<A>,
    def: &Definition,
) -> Result<Option<SettingValue>, IdmError> {
    Ok(match tx.setting(def.key)? {
        Some(record) => Some(record.value),
        None => def.default.map(Fallback::value),
    })
}

fn entry(def: &'static Definition, value: Option<&SettingValue>) -> SettingEntry {
    let write_only = matches!(def.kind, Kind::Secret);
    let shown = match (write_only, value) {
        (_, None) => Value::Null,
        (true, Some(_)) => json!("set"),
        (false, Some(value)) => to_json(value),
    };
    SettingEntry {
        key: def.key,
        value: shown,
        default: def.default.map_or(Value::Null, |d| to_json(&d.value())),
        kind: def.kind.describe(),
        description: def.description,
        write_only,
        warning: def.warning,
    }
}

fn text_of(value: Option<SettingValue>, fallback: &str) -> String {
    match value {
        Some(SettingValue::Text(text)) => text,
        _ => fallback.to_owned(),
    }
}

/// The effective value of a registered setting (stored, or its default), for
/// features that type their own settings (`idm::signup`, `idm::ldap_settings`,
/// email).
pub(crate) fn value_of<A: Access>(
    tx: &Tables<A>,
    key: &str,
) -> Result<Option<SettingValue>, IdmError> {
    effective(tx, definition(key)?)
}

/// The typed settings from one snapshot. A stored value of the wrong shape
/// (which `set_setting` never writes) falls back to the default.
pub(crate) fn read_settings<A: Access>(tx: &Tables<A>) -> Result<Settings, IdmError> {
    let app_name = text_of(effective(tx, definition(APP_NAME)?)?, "Latchkey");
    let session_minutes = match effective(tx, definition(SESSION_MINUTES)?)? {
        Some(SettingValue::Integer(n)) => u32::try_from(n).unwrap_or(60),
        _ => 60,
    };
    let user_verification =
        match text_of(effective(tx, definition(USER_VERIFICATION)?)?, "required").as_str() {
            "preferred" => UserVerification::Preferred,
            _ => UserVerification::Required,
        };
    Ok(Settings {
        app_name,
        session_minutes,
        user_verification,
    })
}

/// The write-only settings: what `sealed` keeps encrypted.
pub(super) fn secret_keys() -> impl Iterator<Item = &'static str> {
    REGISTRY
        .iter()
        .filter(|def| matches!(def.kind, Kind::Secret))
        .map(|def| def.key)
}

fn entries<A: Access>(tx: &Tables<A>) -> Result<Vec<SettingEntry>, IdmError> {
    REGISTRY
        .iter()
        .map(|def| Ok(entry(def, effective(tx, def)?.as_ref())))
        .collect()
}

impl Idm {
    /// The settings with defaults applied.
    pub fn settings(&self) -> Result<Settings, IdmError> {
        read_settings(&self.store.read()?)
    }

    /// Every setting in registry order, for the console.
    pub fn setting_entries(&self) -> Result<Vec<SettingEntry>, IdmError> {
        entries(&self.store.read()?)
    }

    /// Parses `value` by the setting's type and stores it (an empty value
    /// clears an optional setting), with a `setting_changed` audit event
    /// that never carries a secret. Returns every setting afterwards.
    pub fn set_setting(
        &self,
        actor: &Actor,
        key: &str,
        value: &str,
    ) -> Result<Vec<SettingEntry>, IdmError> {
        let def = definition(key.trim())?;
        let parsed = parse(def, value)?;
        let now = self.now();
        self.store.write(|tx| {
            let parsed = match (def.key, parsed) {
                (SIGNUPS_DEFAULT_GROUPS, Some(SettingValue::List(names))) => Some(
                    SettingValue::List(super::signup::existing_groups(tx, def.key, &names)?),
                ),
                (_, parsed) => parsed,
            };
            let before = effective(tx, def)?;
            // Write-only values are stored sealed (`sealed`).
            let secret = matches!(def.kind, Kind::Secret).then(|| self.sealer());
            if sealed::changes(secret, def.key, before.as_ref(), parsed.as_ref()) {
                match &parsed {
                    Some(value) => tx.put_setting(
                        def.key,
                        &SettingRecord {
                            value: sealed::stored_form(secret, def.key, value)?,
                            updated_at: now,
                        },
                    )?,
                    None => {
                        tx.remove_setting(def.key)?;
                    }
                }
                let shown = match (&parsed, def.kind) {
                    (None, _) => "unset".to_owned(),
                    (Some(_), Kind::Secret) => "set".to_owned(),
                    (Some(value), _) => to_audit_text(value),
                };
                let details = vec![detail("key", def.key), detail("value", shown)];
                audit::append(tx, now, actor, "setting_changed", None, details)?;
            }
            entries(tx)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(key: &str) -> &'static Definition {
        definition(key).unwrap()
    }

    #[test]
    fn registry_keys_are_unique_and_defaults_parse() {
        for (i, d) in REGISTRY.iter().enumerate() {
            assert!(REGISTRY.iter().skip(i + 1).all(|o| o.key != d.key));
            if let Some(default) = d.default {
                let text = to_audit_text(&default.value());
                if !matches!(d.kind, Kind::List) {
                    assert_eq!(parse(d, &text).unwrap(), Some(default.value()), "{}", d.key);
                }
            }
        }
    }

    #[test]
    fn values_parse_by_type_with_precise_messages() {
        let minutes = def(SESSION_MINUTES);
        assert_eq!(
            parse(minutes, " 90 ").unwrap(),
            Some(SettingValue::Integer(90))
        );
        let err = parse(minutes, "abc").unwrap_err();
        assert_eq!(
            err.to_string(),
            "session.minutes: expected a whole number of minutes from 5 to 43200, got \"abc\""
        );
        assert!(parse(minutes, "4").is_err());
        assert!(parse(minutes, "43201").is_err());

        let uv = def(USER_VERIFICATION);
        assert_eq!(
            parse(uv, "Preferred").unwrap(),
            Some(SettingValue::Text("preferred".into()))
        );
        assert!(parse(uv, "discouraged").is_err());

        let name = def(APP_NAME);
        assert!(parse(name, "").is_err());
        assert!(parse(name, &"x".repeat(65)).is_err());
        assert!(parse(name, "a\u{7}b").is_err());

        let list = Definition {
            key: "x.list",
            kind: Kind::List,
            default: Some(Fallback::EmptyList),
            description: "",
            warning: None,
        };
        let expected = Some(SettingValue::List(vec!["a".into(), "b".into()]));
        assert_eq!(parse(&list, "a, b,").unwrap(), expected);
        assert_eq!(parse(&list, r#"["a"," b "]"#).unwrap(), expected);
        let flag = Definition {
            kind: Kind::Bool,
            default: Some(Fallback::Bool(false)),
            ..list
        };
        assert_eq!(parse(&flag, "ON").unwrap(), Some(SettingValue::Bool(true)));
        assert!(parse(&flag, "maybe").is_err());
    }

    #[test]
    fn unknown_keys_are_refused_naming_the_known_ones() {
        let err = definition("session.length").unwrap_err();
        assert!(
            matches!(&err, IdmError::Invalid { field: "key", message } if message.contains("session.minutes")),
            "{err}"
        );
    }

    #[test]
    fn secrets_show_only_whether_they_are_set() {
        let secret = Definition {
            key: "smtp.password",
            kind: Kind::Secret,
            default: None,
            description: "",
            warning: None,
        };
        let secret: &'static Definition = Box::leak(Box::new(secret));
        assert_eq!(parse(secret, "").unwrap(), None);
        let value = parse(secret, " hunter2").unwrap().unwrap();
        let shown = entry(secret, Some(&value));
        assert!(shown.write_only);
        assert_eq!(shown.value, json!("set"));
        assert_eq!(entry(secret, None).value, Value::Null);
    }
}
