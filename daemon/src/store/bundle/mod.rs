//! Export bundles: everything a deployment holds, as one portable text file (`latchkey
//! export`), and loading one into an empty database of either backend (`latchkeyd import`).
//! The format is documented for operators in docs/EXPORT.md; in short, JSON lines:
//!
//! ```text
//! {"format":"latchkey-export","version":1,"schema_version":7,"encryption_key_id":"…"}
//! {"table":"users_v1","key":"6f9619ff-…","value":{"V2":{"id":"6f9619ff-…","username":"alice",…}}}
//! …
//! {"end":{"entries":1234,"sha256":"…"}}
//! ```
//!
//! Decisions:
//! - Every table, each in key order, tables in the store's order: so two exports of the same
//!   data are the same bytes, and a round trip (export, import, export) gives the same file.
//!   Nothing in it says when or where it was made (the audit log does, `export_taken`).
//! - Records verbatim, in their JSON form (`json_form`), indexes included: the import writes
//!   back exactly the bytes that were exported, so the imported database is the exported one
//!   (its digest matches), not a re-creation that could differ in ids or indexes.
//! - Left out: job leases (which replica runs what now: meaningless in another deployment)
//!   and META, whose two entries (the schema version, the id of the key that sealed the
//!   secrets) are in the first line.
//! - The last line counts the entries and carries the SHA-256 of every line before it, so a
//!   truncated or edited file is refused before anything is committed.
//! - An import is one write transaction into an empty database at the bundle's schema
//!   version: it loads all or nothing, and never merges into existing data.

mod export;
mod import;
mod json_form;

use serde::{Deserialize, Serialize};

pub use export::ExportSummary;
pub use import::ImportSummary;
pub(crate) use json_form::JsonForm;

use super::StoreError;
use super::schema;

/// The first line's `format`.
pub const FORMAT: &str = "latchkey-export";

/// The version of the bundle format this release writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// Tables a bundle leaves out (see the module documentation).
fn left_out(table: &str) -> bool {
    use redb::TableHandle as _;
    table == schema::META.name() || table == schema::LEASES.name()
}

/// The first line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Header {
    format: String,
    version: u32,
    schema_version: u64,
    /// Which key sealed the secrets (16 hex digits); absent when none is sealed yet.
    encryption_key_id: Option<String>,
}

/// An entry line.
#[derive(Debug, Serialize, Deserialize)]
struct Entry<T> {
    table: T,
    key: serde_json::Value,
    value: serde_json::Value,
}

/// The last line.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct End {
    end: EndCounts,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EndCounts {
    entries: u64,
    /// SHA-256 of every byte before this line, hex.
    sha256: String,
}

/// Why an export or an import did not happen. An import that fails commits nothing.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("this is not a latchkey export bundle: {0}")]
    NotABundle(String),
    #[error(
        "the bundle is in format version {0}, and this latchkeyd reads version \
         {FORMAT_VERSION}: import it with a newer latchkeyd"
    )]
    FormatVersion(u32),
    #[error(
        "the bundle holds data at schema version {bundle}, and this latchkeyd's is {ours}: \
         import it with the latchkeyd release that exported it, then start this release on \
         that data (it upgrades it), or export again from a daemon of this release"
    )]
    SchemaVersion { bundle: u64, ours: u64 },
    #[error(
        "the target database is not empty (table {table} holds {rows} {}): import loads into \
         an empty database only, so that nothing is merged or overwritten. Give it a new \
         data directory or a freshly created PostgreSQL database",
        if *rows == 1 { "row" } else { "rows" }
    )]
    TargetNotEmpty { table: &'static str, rows: u64 },
    #[error("line {line}: {message}")]
    Line { line: u64, message: String },
    #[error(
        "the bundle ends after line {0} without its closing line: it is cut short (copy it \
         again from where it was exported)"
    )]
    Truncated(u64),
    #[error(
        "the bundle's closing line does not match its contents ({0}): it was changed or \
         damaged after it was exported"
    )]
    Damaged(String),
    #[error("cannot read the bundle: {0}")]
    Read(#[source] std::io::Error),
    #[error("cannot write the bundle: {0}")]
    Write(#[source] std::io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[cfg(test)]
mod tests;
