//! What one sync read from the directory, attributes already mapped: the
//! boundary between reading (`directory`) and applying (`idm::ldap_sync`).

use latchkey_protocol::SkippedEntry;

/// One user entry as the directory has it, attributes already mapped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirectoryUser {
    pub dn: String,
    /// The stable unique id as text (an entryUUID, or an objectGUID turned
    /// into its UUID spelling).
    pub unique_id: String,
    pub username: String,
    pub email: Option<String>,
    pub first_name: String,
    pub last_name: String,
    pub display_name: String,
}

/// One group entry. `members` are the member attribute's values: DNs
/// (`member`, `uniqueMember`) or bare usernames (`memberUid`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirectoryGroup {
    pub dn: String,
    pub unique_id: String,
    pub name: String,
    pub members: Vec<String>,
}

/// Everything one sync read from the directory.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DirectorySnapshot {
    pub users: Vec<DirectoryUser>,
    pub groups: Vec<DirectoryGroup>,
    /// Entries the reader could not use (no unique id, no username).
    pub skipped: Vec<SkippedEntry>,
}
