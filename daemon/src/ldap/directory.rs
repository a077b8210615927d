//! Reading a directory with ldap3: connect (ldap://, ldaps://, StartTLS),
//! bind, and paged subtree searches for users and groups, with the
//! attribute mapping from the settings. The only file that imports ldap3.

use std::time::Duration;

use latchkey_protocol::{LdapSyncProgress, SkippedEntry};
use ldap3::adapters::PagedResults;
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, LdapError, Scope, SearchEntry};

use super::{
    AttributeMap, DirectoryError, DirectoryGroup, DirectorySnapshot, DirectorySource,
    DirectoryUser, LdapSettings, Progress, SourceFuture,
};

/// Entries per page of the Simple Paged Results control (RFC 2696): what
/// keeps a 100,000-entry directory within servers' size limits per request.
const PAGE_SIZE: i32 = 500;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Per LDAP operation (a bind, one page of a search).
const OPERATION_TIMEOUT: Duration = Duration::from_secs(60);

/// The real directory, over the network.
#[derive(Debug, Default, Clone, Copy)]
pub struct LdapDirectory;

impl DirectorySource for LdapDirectory {
    fn read<'a>(&'a self, settings: &'a LdapSettings, progress: Progress<'a>) -> SourceFuture<'a> {
        Box::pin(read_directory(settings, progress))
    }
}

/// What the connection needs, checked before anything goes on the wire.
struct Target<'a> {
    url: &'a str,
    base_dn: &'a str,
}

fn target(settings: &LdapSettings) -> Result<Target<'_>, DirectoryError> {
    let url = settings
        .url
        .as_deref()
        .ok_or_else(|| DirectoryError::Config("ldap.url is not set".to_owned()))?;
    let lower = url.to_ascii_lowercase();
    if !(lower.starts_with("ldap://") || lower.starts_with("ldaps://")) {
        return Err(DirectoryError::Config(format!(
            "ldap.url must start with ldap:// or ldaps://, got {url:?}"
        )));
    }
    if settings.start_tls && lower.starts_with("ldaps://") {
        return Err(DirectoryError::Config(
            "ldap.start_tls applies to ldap:// URLs; ldaps:// is TLS already".to_owned(),
        ));
    }
    let base_dn = settings
        .base_dn
        .as_deref()
        .ok_or_else(|| DirectoryError::Config("ldap.base_dn is not set".to_owned()))?;
    Ok(Target { url, base_dn })
}

async fn read_directory(
    settings: &LdapSettings,
    progress: Progress<'_>,
) -> Result<DirectorySnapshot, DirectoryError> {
    let target = target(settings)?;
    progress(LdapSyncProgress {
        phase: "connecting".to_owned(),
        done: 0,
        total: None,
    });
    let mut ldap = connect(settings, target.url).await?;
    let result = read_entries(&mut ldap, settings, &target, progress).await;
    // Politeness only: the snapshot is what matters.
    let _ = ldap.unbind().await;
    result
}

async fn connect(settings: &LdapSettings, url: &str) -> Result<Ldap, DirectoryError> {
    let conn_settings = LdapConnSettings::new()
        .set_conn_timeout(CONNECT_TIMEOUT)
        .set_starttls(settings.start_tls)
        // ldap3's own verifier that accepts any certificate, used only when
        // the admin set ldap.skip_cert_verify.
        .set_no_tls_verify(settings.skip_cert_verify);
    let (conn, mut ldap) = LdapConnAsync::with_settings(conn_settings, url)
        .await
        .map_err(|e| DirectoryError::Connect {
            url: url.to_owned(),
            message: describe(&e),
        })?;
    ldap3::drive!(conn);
    if let Some(bind_dn) = settings.bind_dn.as_deref() {
        let password = settings.bind_password.as_deref().unwrap_or("");
        let bound = ldap
            .with_timeout(OPERATION_TIMEOUT)
            .simple_bind(bind_dn, password)
            .await
            .and_then(ldap3::LdapResult::success);
        if let Err(e) = bound {
            return Err(DirectoryError::Bind {
                dn: bind_dn.to_owned(),
                message: describe(&e),
            });
        }
    }
    Ok(ldap)
}

/// ldap3's error as a sentence: an LDAP result by its name and code (and the
/// server's text), an I/O error by the operating system's words.
fn describe(error: &LdapError) -> String {
    match error {
        LdapError::LdapResult { result } => {
            let shown = result.to_string();
            let name = shown
                .split_once('(')
                .and_then(|(_, rest)| rest.split_once(')'))
                .map_or("error", |(name, _)| name);
            if result.text.is_empty() {
                format!("{name} (LDAP result code {})", result.rc)
            } else {
                format!("{name} (LDAP result code {}): {}", result.rc, result.text)
            }
        }
        LdapError::Io { source } => source.to_string(),
        other => other.to_string(),
    }
}

async fn read_entries(
    ldap: &mut Ldap,
    settings: &LdapSettings,
    target: &Target<'_>,
    progress: Progress<'_>,
) -> Result<DirectorySnapshot, DirectoryError> {
    let attrs = &settings.attrs;
    let mut snapshot = DirectorySnapshot::default();
    let user_attrs = vec![
        attrs.unique_id.clone(),
        attrs.username.clone(),
        attrs.email.clone(),
        attrs.first_name.clone(),
        attrs.last_name.clone(),
        attrs.display_name.clone(),
    ];
    let users = search(
        ldap,
        target.base_dn,
        &settings.user_filter,
        user_attrs,
        "users",
        progress,
    )
    .await?;
    for entry in users {
        match user_from(&entry, attrs) {
            Ok(user) => snapshot.users.push(user),
            Err(reason) => snapshot.skipped.push(SkippedEntry {
                entry: entry.dn,
                reason,
            }),
        }
    }
    let group_attrs = vec![
        attrs.group_unique_id.clone(),
        attrs.group_name.clone(),
        attrs.group_member.clone(),
    ];
    let groups = search(
        ldap,
        target.base_dn,
        &settings.group_filter,
        group_attrs,
        "groups",
        progress,
    )
    .await?;
    for entry in groups {
        match group_from(&entry, attrs) {
            Ok(group) => snapshot.groups.push(group),
            Err(reason) => snapshot.skipped.push(SkippedEntry {
                entry: entry.dn,
                reason,
            }),
        }
    }
    Ok(snapshot)
}

/// One paged subtree search, every entry collected.
async fn search(
    ldap: &mut Ldap,
    base: &str,
    filter: &str,
    attrs: Vec<String>,
    phase: &str,
    progress: Progress<'_>,
) -> Result<Vec<SearchEntry>, DirectoryError> {
    let failed = |e: LdapError| DirectoryError::Search {
        base: base.to_owned(),
        filter: filter.to_owned(),
        message: describe(&e),
    };
    let mut stream = ldap
        .with_timeout(OPERATION_TIMEOUT)
        .streaming_search_with(
            PagedResults::new(PAGE_SIZE),
            base,
            Scope::Subtree,
            filter,
            attrs,
        )
        .await
        .map_err(failed)?;
    let mut entries = Vec::new();
    let step = u64::try_from(PAGE_SIZE).unwrap_or(500);
    loop {
        let next = stream.next().await.map_err(failed)?;
        let Some(entry) = next else { break };
        if entry.is_ref() || entry.is_intermediate() {
            continue;
        }
        entries.push(SearchEntry::construct(entry));
        let done = entries.len() as u64;
        if done.is_multiple_of(step) {
            progress(LdapSyncProgress {
                phase: phase.to_owned(),
                done,
                total: None,
            });
        }
    }
    stream.finish().await.success().map_err(failed)?;
    progress(LdapSyncProgress {
        phase: phase.to_owned(),
        done: entries.len() as u64,
        total: Some(entries.len() as u64),
    });
    Ok(entries)
}

/// The text values of `name`, found case-insensitively.
fn values<'e>(entry: &'e SearchEntry, name: &str) -> &'e [String] {
    entry
        .attrs
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map_or(&[], |(_, values)| values.as_slice())
}

fn first(entry: &SearchEntry, name: &str) -> Option<String> {
    values(entry, name)
        .iter()
        .map(|value| value.trim())
        .find(|value| !value.is_empty())
        .map(str::to_owned)
}

/// The stable unique id as text. A 16-byte binary value is a GUID: an
/// objectGUID is stored little-endian (Active Directory's byte order) and is
/// spelled as the UUID AD shows; other 16-byte values are read big-endian.
/// A text value that is a UUID is normalised to lowercase hyphenated form.
pub(crate) fn unique_id(entry: &SearchEntry, name: &str) -> Option<String> {
    let is_guid = name.eq_ignore_ascii_case("objectGUID");
    let binary: Option<Vec<u8>> = entry
        .bin_attrs
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .and_then(|(_, values)| values.first().cloned())
        .or_else(|| {
            // A GUID whose 16 bytes happen to be valid UTF-8 lands among the
            // text values; it is still binary.
            let text = values(entry, name).first()?;
            (is_guid && text.len() == 16).then(|| text.as_bytes().to_vec())
        });
    if let Some(bytes) = binary {
        return Some(binary_id(&bytes, is_guid));
    }
    let text = first(entry, name)?;
    Some(match uuid::Uuid::parse_str(&text) {
        Ok(uuid) => uuid.hyphenated().to_string(),
        Err(_) => text,
    })
}

pub(crate) fn binary_id(bytes: &[u8], little_endian: bool) -> String {
    match <[u8; 16]>::try_from(bytes) {
        Ok(raw) if little_endian => uuid::Uuid::from_bytes_le(raw).hyphenated().to_string(),
        Ok(raw) => uuid::Uuid::from_bytes(raw).hyphenated().to_string(),
        Err(_) => hex::encode(bytes),
    }
}

fn user_from(entry: &SearchEntry, attrs: &AttributeMap) -> Result<DirectoryUser, String> {
    let unique_id = unique_id(entry, &attrs.unique_id)
        .ok_or_else(|| format!("has no {} (the unique id attribute)", attrs.unique_id))?;
    let username = first(entry, &attrs.username)
        .ok_or_else(|| format!("has no {} (the username attribute)", attrs.username))?;
    Ok(DirectoryUser {
        dn: entry.dn.clone(),
        unique_id,
        username,
        email: first(entry, &attrs.email),
        first_name: first(entry, &attrs.first_name).unwrap_or_default(),
        last_name: first(entry, &attrs.last_name).unwrap_or_default(),
        display_name: first(entry, &attrs.display_name).unwrap_or_default(),
    })
}

fn group_from(entry: &SearchEntry, attrs: &AttributeMap) -> Result<DirectoryGroup, String> {
    let unique_id = unique_id(entry, &attrs.group_unique_id).ok_or_else(|| {
        format!(
            "has no {} (the group unique id attribute)",
            attrs.group_unique_id
        )
    })?;
    let name = first(entry, &attrs.group_name)
        .ok_or_else(|| format!("has no {} (the group name attribute)", attrs.group_name))?;
    Ok(DirectoryGroup {
        dn: entry.dn.clone(),
        unique_id,
        name,
        members: values(entry, &attrs.group_member).to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn entry(attrs: &[(&str, &str)], bin: &[(&str, Vec<u8>)]) -> SearchEntry {
        let mut text: HashMap<String, Vec<String>> = HashMap::new();
        for (k, v) in attrs {
            text.entry((*k).to_owned())
                .or_default()
                .push((*v).to_owned());
        }
        SearchEntry {
            dn: "cn=x".to_owned(),
            attrs: text,
            bin_attrs: bin
                .iter()
                .map(|(k, v)| ((*k).to_owned(), vec![v.clone()]))
                .collect(),
        }
    }

    #[test]
    fn unique_ids_are_stable_text() {
        let e = entry(
            &[("entryUUID", "0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0")],
            &[],
        );
        assert_eq!(
            unique_id(&e, "entryuuid").unwrap(),
            "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
        );
        // AD's objectGUID bytes for {3F2504E0-4F89-11D3-9A0C-0305E82C3301}.
        let guid = vec![
            0xE0, 0x04, 0x25, 0x3F, 0x89, 0x4F, 0xD3, 0x11, 0x9A, 0x0C, 0x03, 0x05, 0xE8, 0x2C,
            0x33, 0x01,
        ];
        let e = entry(&[], &[("objectGUID", guid)]);
        assert_eq!(
            unique_id(&e, "objectGUID").unwrap(),
            "3f2504e0-4f89-11d3-9a0c-0305e82c3301"
        );
        // Sixteen ASCII bytes parse as text but are still a GUID.
        let e = entry(&[("objectGUID", "ABCDEFGHIJKLMNOP")], &[]);
        assert_eq!(
            unique_id(&e, "objectGUID").unwrap(),
            binary_id(b"ABCDEFGHIJKLMNOP", true)
        );
        let e = entry(&[("employeeNumber", " 42 ")], &[]);
        assert_eq!(unique_id(&e, "employeeNumber").unwrap(), "42");
        assert_eq!(unique_id(&e, "entryUUID"), None);
        assert_eq!(binary_id(&[1, 2, 255], false), "0102ff");
    }

    #[test]
    fn urls_and_base_are_checked_before_connecting() {
        let mut settings = LdapSettings {
            enabled: true,
            url: Some("http://example.org".into()),
            start_tls: false,
            bind_dn: None,
            bind_password: None,
            base_dn: Some("dc=example,dc=org".into()),
            user_filter: String::new(),
            group_filter: String::new(),
            skip_cert_verify: false,
            sync_interval_minutes: 60,
            attrs: AttributeMap {
                unique_id: String::new(),
                username: String::new(),
                email: String::new(),
                first_name: String::new(),
                last_name: String::new(),
                display_name: String::new(),
                group_member: String::new(),
                group_unique_id: String::new(),
                group_name: String::new(),
            },
            admin_group: None,
            on_removed: crate::ldap::OnRemoved::Disable,
        };
        let err = target(&settings).err().unwrap().to_string();
        assert_eq!(
            err,
            "ldap.url must start with ldap:// or ldaps://, got \"http://example.org\""
        );
        settings.url = Some("ldaps://example.org".into());
        settings.start_tls = true;
        assert!(target(&settings).is_err());
        settings.start_tls = false;
        settings.base_dn = None;
        assert_eq!(
            target(&settings).err().unwrap().to_string(),
            "ldap.base_dn is not set"
        );
    }
}
