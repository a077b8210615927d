//! The registry of application settings that admins change at run time:
//! every key with its type, default, description and warning, and how a
//! typed value is parsed and printed. Only values an admin has set are
//! stored (`SETTINGS`); everything else reads as its default
//! (`setting_values`). Features read their own keys into typed views
//! (`settings`, `signup`, `mail_settings`, `ldap_settings`).

use super::IdmError;
use crate::store::SettingValue;

/// What values a setting takes.
#[derive(Clone, Copy, Debug)]
pub(super) enum Kind {
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
pub(super) struct Definition {
    pub key: &'static str,
    pub kind: Kind,
    /// `None` means unset by default (optional text and secrets).
    pub default: Option<Fallback>,
    pub description: &'static str,
    pub warning: Option<&'static str>,
}

impl Definition {
    /// Write-only: stored sealed, shown only as set or unset.
    pub fn is_secret(&self) -> bool {
        matches!(self.kind, Kind::Secret)
    }
}

/// A default value.
#[derive(Clone, Copy, Debug)]
pub(super) enum Fallback {
    Text(&'static str),
    Integer(i64),
    Bool(bool),
    EmptyList,
}

impl Fallback {
    pub fn value(self) -> SettingValue {
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

pub const LDAP_ENABLED: &str = "ldap.enabled";
pub const LDAP_URL: &str = "ldap.url";
pub const LDAP_START_TLS: &str = "ldap.start_tls";
pub const LDAP_BIND_DN: &str = "ldap.bind_dn";
pub const LDAP_BIND_PASSWORD: &str = "ldap.bind_password";
pub const LDAP_BASE_DN: &str = "ldap.base_dn";
pub const LDAP_USER_FILTER: &str = "ldap.user_filter";
pub const LDAP_GROUP_FILTER: &str = "ldap.group_filter";
pub const LDAP_SKIP_CERT_VERIFY: &str = "ldap.skip_cert_verify";
pub const LDAP_SYNC_INTERVAL_MINUTES: &str = "ldap.sync_interval_minutes";
pub const LDAP_ATTR_UNIQUE_ID: &str = "ldap.attr.unique_id";
pub const LDAP_ATTR_USERNAME: &str = "ldap.attr.username";
pub const LDAP_ATTR_EMAIL: &str = "ldap.attr.email";
pub const LDAP_ATTR_FIRST_NAME: &str = "ldap.attr.first_name";
pub const LDAP_ATTR_LAST_NAME: &str = "ldap.attr.last_name";
pub const LDAP_ATTR_DISPLAY_NAME: &str = "ldap.attr.display_name";
pub const LDAP_ATTR_GROUP_MEMBER: &str = "ldap.attr.group_member";
pub const LDAP_ATTR_GROUP_UNIQUE_ID: &str = "ldap.attr.group_unique_id";
pub const LDAP_ATTR_GROUP_NAME: &str = "ldap.attr.group_name";
pub const LDAP_ADMIN_GROUP: &str = "ldap.admin_group";
pub const LDAP_ON_REMOVED: &str = "ldap.on_removed";

const REGISTRY: &[Definition] = &[
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
    // --- Signup ---
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
    // --- LDAP sync ---
    ldap_text(
        LDAP_ENABLED,
        Kind::Bool,
        Some(Fallback::Bool(false)),
        "Import users and groups from an LDAP directory (at start-up, on a schedule, on demand)",
    ),
    ldap_text(
        LDAP_URL,
        Kind::Text { min: 1, max: 2048 },
        None,
        "Directory URL: ldap://host[:port] or ldaps://host[:port]",
    ),
    ldap_text(
        LDAP_START_TLS,
        Kind::Bool,
        Some(Fallback::Bool(false)),
        "Upgrade an ldap:// connection with StartTLS",
    ),
    ldap_text(
        LDAP_BIND_DN,
        Kind::Text { min: 1, max: 1024 },
        None,
        "DN to bind as (unset: anonymous)",
    ),
    ldap_text(
        LDAP_BIND_PASSWORD,
        Kind::Secret,
        None,
        "Password of the bind DN (write-only)",
    ),
    ldap_text(
        LDAP_BASE_DN,
        Kind::Text { min: 1, max: 1024 },
        None,
        "Where users and groups are searched (whole subtree)",
    ),
    ldap_text(
        LDAP_USER_FILTER,
        Kind::Text { min: 1, max: 1024 },
        Some(Fallback::Text("(objectClass=person)")),
        "LDAP filter selecting the users to import",
    ),
    ldap_text(
        LDAP_GROUP_FILTER,
        Kind::Text { min: 1, max: 1024 },
        Some(Fallback::Text("(objectClass=groupOfNames)")),
        "LDAP filter selecting the groups to import",
    ),
    Definition {
        key: LDAP_SKIP_CERT_VERIFY,
        kind: Kind::Bool,
        default: Some(Fallback::Bool(false)),
        description: "Accept any TLS certificate from the directory",
        warning: Some("anyone on the network path can then impersonate the directory"),
    },
    ldap_text(
        LDAP_SYNC_INTERVAL_MINUTES,
        Kind::Integer {
            min: 1,
            max: 10_080,
            unit: "minutes",
        },
        Some(Fallback::Integer(60)),
        "Minutes between scheduled syncs",
    ),
    ldap_attr(
        LDAP_ATTR_UNIQUE_ID,
        "entryUUID",
        "Attribute holding a user's stable unique id (entryUUID, objectGUID, …); it must never change",
    ),
    ldap_attr(LDAP_ATTR_USERNAME, "uid", "Attribute holding the username"),
    ldap_attr(
        LDAP_ATTR_EMAIL,
        "mail",
        "Attribute holding the email address",
    ),
    ldap_attr(
        LDAP_ATTR_FIRST_NAME,
        "givenName",
        "Attribute holding the first name",
    ),
    ldap_attr(LDAP_ATTR_LAST_NAME, "sn", "Attribute holding the last name"),
    ldap_attr(
        LDAP_ATTR_DISPLAY_NAME,
        "cn",
        "Attribute holding the display name",
    ),
    ldap_attr(
        LDAP_ATTR_GROUP_MEMBER,
        "member",
        "Group attribute listing members: DNs (member, uniqueMember) or bare usernames (memberUid)",
    ),
    ldap_attr(
        LDAP_ATTR_GROUP_UNIQUE_ID,
        "entryUUID",
        "Attribute holding a group's stable unique id",
    ),
    ldap_attr(
        LDAP_ATTR_GROUP_NAME,
        "cn",
        "Attribute holding the group name",
    ),
    ldap_text(
        LDAP_ADMIN_GROUP,
        Kind::Text { min: 1, max: 256 },
        None,
        "Directory group (its name here) whose members become admins",
    ),
    ldap_text(
        LDAP_ON_REMOVED,
        Kind::Choice(&["disable", "delete"]),
        Some(Fallback::Text("disable")),
        "What happens to users who leave the directory",
    ),
    // --- Email ---
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

pub(super) fn definition(key: &str) -> Result<&'static Definition, IdmError> {
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

/// Every registered setting, in the order the console lists them.
pub(super) fn all() -> &'static [Definition] {
    REGISTRY
}

/// The write-only settings: what `sealed` keeps encrypted.
pub(super) fn secret_keys() -> impl Iterator<Item = &'static str> {
    REGISTRY
        .iter()
        .filter(|def| def.is_secret())
        .map(|def| def.key)
}

impl Kind {
    pub(super) fn describe(self) -> String {
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
pub(super) fn parse(def: &Definition, input: &str) -> Result<Option<SettingValue>, IdmError> {
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

/// The value as the audit log shows it.
pub(super) fn to_audit_text(value: &SettingValue) -> String {
    match value {
        SettingValue::Text(text) => text.clone(),
        SettingValue::Integer(n) => n.to_string(),
        SettingValue::Bool(b) => b.to_string(),
        SettingValue::List(items) => items.join(","),
        SettingValue::Sealed(_) => "set".to_owned(),
    }
}

#[cfg(test)]
mod tests;
