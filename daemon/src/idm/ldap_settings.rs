//! The `ldap.*` application settings: their keys (registered in `settings`)
//! and reading them into the adapter's [`LdapSettings`].

use super::sealed;
use super::settings::value_of;
use super::{Idm, IdmError};
use crate::ldap::{AttributeMap, LdapSettings, OnRemoved};
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
