//! The `ldap.*` application settings, typed: what a sync connects with and
//! how it maps directory attributes. The keys are registered in `settings`.

use super::sealed;
use super::settings::value_of;
use super::{Idm, IdmError};
use crate::sealing::Sealer;
use crate::store::{Access, SettingValue, Tables};

pub const ENABLED: &str = "ldap.enabled";
pub const URL: &str = "ldap.url";
pub const START_TLS: &str = "ldap.start_tls";
pub const BIND_DN: &str = "ldap.bind_dn";
pub const BIND_PASSWORD: &str = "ldap.bind_password";
pub const BASE_DN: &str = "ldap.base_dn";
pub const USER_FILTER: &str = "ldap.user_filter";
pub const GROUP_FILTER: &str = "ldap.group_filter";
pub const SKIP_CERT_VERIFY: &str = "ldap.skip_cert_verify";
pub const SYNC_INTERVAL_MINUTES: &str = "ldap.sync_interval_minutes";
pub const ATTR_UNIQUE_ID: &str = "ldap.attr.unique_id";
pub const ATTR_USERNAME: &str = "ldap.attr.username";
pub const ATTR_EMAIL: &str = "ldap.attr.email";
pub const ATTR_FIRST_NAME: &str = "ldap.attr.first_name";
pub const ATTR_LAST_NAME: &str = "ldap.attr.last_name";
pub const ATTR_DISPLAY_NAME: &str = "ldap.attr.display_name";
pub const ATTR_GROUP_MEMBER: &str = "ldap.attr.group_member";
pub const ATTR_GROUP_UNIQUE_ID: &str = "ldap.attr.group_unique_id";
pub const ATTR_GROUP_NAME: &str = "ldap.attr.group_name";
pub const ADMIN_GROUP: &str = "ldap.admin_group";
pub const ON_REMOVED: &str = "ldap.on_removed";

/// What happens to a user who left the directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnRemoved {
    Disable,
    Delete,
}

/// Which directory attribute holds what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttributeMap {
    pub unique_id: String,
    pub username: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub display_name: String,
    pub group_member: String,
    pub group_unique_id: String,
    pub group_name: String,
}

/// Every `ldap.*` setting with defaults applied. `Debug` hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct LdapSettings {
    pub enabled: bool,
    pub url: Option<String>,
    pub start_tls: bool,
    pub bind_dn: Option<String>,
    pub bind_password: Option<String>,
    pub base_dn: Option<String>,
    pub user_filter: String,
    pub group_filter: String,
    pub skip_cert_verify: bool,
    pub sync_interval_minutes: u32,
    pub attrs: AttributeMap,
    /// Lowercased as group names are stored.
    pub admin_group: Option<String>,
    pub on_removed: OnRemoved,
}

impl std::fmt::Debug for LdapSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LdapSettings")
            .field("enabled", &self.enabled)
            .field("url", &self.url)
            .field("start_tls", &self.start_tls)
            .field("bind_dn", &self.bind_dn)
            .field(
                "bind_password",
                &self.bind_password.as_ref().map(|_| "<redacted>"),
            )
            .field("base_dn", &self.base_dn)
            .field("user_filter", &self.user_filter)
            .field("group_filter", &self.group_filter)
            .field("skip_cert_verify", &self.skip_cert_verify)
            .field("sync_interval_minutes", &self.sync_interval_minutes)
            .field("attrs", &self.attrs)
            .field("admin_group", &self.admin_group)
            .field("on_removed", &self.on_removed)
            .finish()
    }
}

fn text<A: Access>(tx: &Tables<A>, key: &str) -> Result<Option<String>, IdmError> {
    Ok(match value_of(tx, key)? {
        Some(SettingValue::Text(text)) if !text.is_empty() => Some(text),
        _ => None,
    })
}

fn text_or<A: Access>(tx: &Tables<A>, key: &str, fallback: &str) -> Result<String, IdmError> {
    Ok(text(tx, key)?.unwrap_or_else(|| fallback.to_owned()))
}

fn flag<A: Access>(tx: &Tables<A>, key: &str) -> Result<bool, IdmError> {
    Ok(matches!(value_of(tx, key)?, Some(SettingValue::Bool(true))))
}

/// `sealer` opens the bind password.
pub(crate) fn read_ldap_settings<A: Access>(
    tx: &Tables<A>,
    sealer: &Sealer,
) -> Result<LdapSettings, IdmError> {
    let sync_interval_minutes = match value_of(tx, SYNC_INTERVAL_MINUTES)? {
        Some(SettingValue::Integer(n)) => u32::try_from(n).unwrap_or(60).max(1),
        _ => 60,
    };
    let on_removed = match text(tx, ON_REMOVED)?.as_deref() {
        Some("delete") => OnRemoved::Delete,
        _ => OnRemoved::Disable,
    };
    Ok(LdapSettings {
        enabled: flag(tx, ENABLED)?,
        url: text(tx, URL)?,
        start_tls: flag(tx, START_TLS)?,
        bind_dn: text(tx, BIND_DN)?,
        bind_password: sealed::secret_setting(tx, sealer, BIND_PASSWORD)?,
        base_dn: text(tx, BASE_DN)?,
        user_filter: text_or(tx, USER_FILTER, "(objectClass=person)")?,
        group_filter: text_or(tx, GROUP_FILTER, "(objectClass=groupOfNames)")?,
        skip_cert_verify: flag(tx, SKIP_CERT_VERIFY)?,
        sync_interval_minutes,
        attrs: AttributeMap {
            unique_id: text_or(tx, ATTR_UNIQUE_ID, "entryUUID")?,
            username: text_or(tx, ATTR_USERNAME, "uid")?,
            email: text_or(tx, ATTR_EMAIL, "mail")?,
            first_name: text_or(tx, ATTR_FIRST_NAME, "givenName")?,
            last_name: text_or(tx, ATTR_LAST_NAME, "sn")?,
            display_name: text_or(tx, ATTR_DISPLAY_NAME, "cn")?,
            group_member: text_or(tx, ATTR_GROUP_MEMBER, "member")?,
            group_unique_id: text_or(tx, ATTR_GROUP_UNIQUE_ID, "entryUUID")?,
            group_name: text_or(tx, ATTR_GROUP_NAME, "cn")?,
        },
        admin_group: text(tx, ADMIN_GROUP)?.map(|g| g.trim().to_lowercase()),
        on_removed,
    })
}

impl Idm {
    /// The `ldap.*` settings with defaults applied.
    pub fn ldap_settings(&self) -> Result<LdapSettings, IdmError> {
        read_ldap_settings(&self.store.read()?, self.sealer())
    }
}
