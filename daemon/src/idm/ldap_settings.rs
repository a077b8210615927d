//! Reading the `ldap.*` settings (keys in `setting_registry`) into the
//! adapter's [`LdapSettings`], with defaults applied.

use super::sealed;
use super::setting_registry::{
    LDAP_ADMIN_GROUP, LDAP_ATTR_DISPLAY_NAME, LDAP_ATTR_EMAIL, LDAP_ATTR_FIRST_NAME,
    LDAP_ATTR_GROUP_MEMBER, LDAP_ATTR_GROUP_NAME, LDAP_ATTR_GROUP_UNIQUE_ID, LDAP_ATTR_LAST_NAME,
    LDAP_ATTR_UNIQUE_ID, LDAP_ATTR_USERNAME, LDAP_BASE_DN, LDAP_BIND_DN, LDAP_BIND_PASSWORD,
    LDAP_ENABLED, LDAP_GROUP_FILTER, LDAP_ON_REMOVED, LDAP_SKIP_CERT_VERIFY, LDAP_START_TLS,
    LDAP_SYNC_INTERVAL_MINUTES, LDAP_URL, LDAP_USER_FILTER,
};
use super::setting_values::{flag, integer, text, text_or};
use super::{Idm, IdmError};
use crate::ldap::{AttributeMap, LdapSettings, OnRemoved};
use crate::sealing::Sealer;
use crate::store::{Access, Tables};

/// `sealer` opens the bind password.
pub(crate) fn read_ldap_settings<A: Access>(
    tx: &Tables<A>,
    sealer: &Sealer,
) -> Result<LdapSettings, IdmError> {
    let sync_interval_minutes = match integer(tx, LDAP_SYNC_INTERVAL_MINUTES)? {
        Some(n) => u32::try_from(n).unwrap_or(60).max(1),
        None => 60,
    };
    let on_removed = match text(tx, LDAP_ON_REMOVED)?.as_deref() {
        Some("delete") => OnRemoved::Delete,
        _ => OnRemoved::Disable,
    };
    Ok(LdapSettings {
        enabled: flag(tx, LDAP_ENABLED)?,
        url: text(tx, LDAP_URL)?,
        start_tls: flag(tx, LDAP_START_TLS)?,
        bind_dn: text(tx, LDAP_BIND_DN)?,
        bind_password: sealed::secret_setting(tx, sealer, LDAP_BIND_PASSWORD)?,
        base_dn: text(tx, LDAP_BASE_DN)?,
        user_filter: text_or(tx, LDAP_USER_FILTER, "(objectClass=person)")?,
        group_filter: text_or(tx, LDAP_GROUP_FILTER, "(objectClass=groupOfNames)")?,
        skip_cert_verify: flag(tx, LDAP_SKIP_CERT_VERIFY)?,
        sync_interval_minutes,
        attrs: AttributeMap {
            unique_id: text_or(tx, LDAP_ATTR_UNIQUE_ID, "entryUUID")?,
            username: text_or(tx, LDAP_ATTR_USERNAME, "uid")?,
            email: text_or(tx, LDAP_ATTR_EMAIL, "mail")?,
            first_name: text_or(tx, LDAP_ATTR_FIRST_NAME, "givenName")?,
            last_name: text_or(tx, LDAP_ATTR_LAST_NAME, "sn")?,
            display_name: text_or(tx, LDAP_ATTR_DISPLAY_NAME, "cn")?,
            group_member: text_or(tx, LDAP_ATTR_GROUP_MEMBER, "member")?,
            group_unique_id: text_or(tx, LDAP_ATTR_GROUP_UNIQUE_ID, "entryUUID")?,
            group_name: text_or(tx, LDAP_ATTR_GROUP_NAME, "cn")?,
        },
        admin_group: text(tx, LDAP_ADMIN_GROUP)?.map(|g| g.trim().to_lowercase()),
        on_removed,
    })
}

impl Idm {
    /// The `ldap.*` settings with defaults applied.
    pub fn ldap_settings(&self) -> Result<LdapSettings, IdmError> {
        read_ldap_settings(&self.store.read()?, self.sealer())
    }
}
