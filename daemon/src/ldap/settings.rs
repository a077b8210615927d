//! What a sync connects with and how it maps directory attributes: the
//! `ldap.*` settings, typed. idm reads them from the database
//! (`idm::ldap_settings`); this adapter only uses them.

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
