//! Writing a bundle from one read snapshot.

use std::io::Write;

use redb::Value;
use sha2::{Digest as _, Sha256};

use super::json_form::{JsonForm, record_form};
use super::{BundleError, End, EndCounts, Entry, FORMAT, FORMAT_VERSION, Header, left_out};
use crate::store::error::db;
use crate::store::kv::{OrderedKey, ReadableTable};
use crate::store::tx::FormVisitor;
use crate::store::{Store, StoreError};

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportSummary {
    pub schema_version: u64,
    pub entries: u64,
    /// Which key sealed the secrets in it (16 hex digits).
    pub encryption_key_id: Option<String>,
}

impl Store {
    /// Writes everything this database holds, as one snapshot saw it, to `out` in the
    /// bundle format (see `bundle`). Writes go on meanwhile; they are not in the bundle.
    pub fn export_to(&self, out: impl Write) -> Result<ExportSummary, BundleError> {
        let snapshot = self.read()?;
        let header = Header {
            format: FORMAT.to_owned(),
            version: FORMAT_VERSION,
            schema_version: snapshot.schema_version()?,
            encryption_key_id: snapshot.encryption_key_id()?.map(hex::encode),
        };
        let mut lines = Lines {
            out: Hashing {
                out,
                sha256: Sha256::new(),
            },
            entries: 0,
        };
        lines.line(&header)?;
        snapshot.t.each_table_in_form(&mut lines)?;
        let end = End {
            end: EndCounts {
                entries: lines.entries,
                sha256: hex::encode(lines.out.sha256.clone().finalize()),
            },
        };
        lines.line(&end)?;
        lines.out.out.flush().map_err(BundleError::Write)?;
        Ok(ExportSummary {
            schema_version: header.schema_version,
            entries: lines.entries,
            encryption_key_id: header.encryption_key_id,
        })
    }
}

/// Writes lines, hashing them as they go.
struct Lines<W: Write> {
    out: Hashing<W>,
    entries: u64,
}

impl<W: Write> Lines<W> {
    fn line(&mut self, line: &impl serde::Serialize) -> Result<(), BundleError> {
        let mut bytes =
            serde_json::to_vec(line).map_err(|e| BundleError::Write(std::io::Error::other(e)))?;
        bytes.push(b'\n');
        self.out.write_all(&bytes).map_err(BundleError::Write)
    }
}

impl<W: Write> FormVisitor for Lines<W> {
    type Error = BundleError;

    fn visit<K: OrderedKey + JsonForm, V: Value + JsonForm + 'static>(
        &mut self,
        name: &'static str,
        table: &impl ReadableTable<K, V>,
    ) -> Result<(), BundleError> {
        if left_out(name) {
            return Ok(());
        }
        let record = record_form(name);
        for entry in table.iter().map_err(db("reading a table to export"))? {
            let (key, value) = entry.map_err(db("reading a table to export"))?;
            let value = match record {
                Some(form) => (form.to_json)(V::as_bytes(&value.value()).as_ref())
                    .map_err(|e| StoreError::Corrupt(format!("a record in {name}: {e}")))?,
                None => V::to_json(&value.value()),
            };
            self.line(&Entry {
                table: name,
                key: K::to_json(&key.value()),
                value,
            })?;
            self.entries += 1;
        }
        Ok(())
    }
}

/// A writer that hashes what goes through it.
struct Hashing<W: Write> {
    out: W,
    sha256: Sha256,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let written = self.out.write(buf)?;
        self.sha256.update(buf.get(..written).unwrap_or(buf));
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}
