//! Loading a bundle into an empty database, in the caller's write transaction.

use std::io::BufRead;

use redb::Value;
use serde_json::Value as Json;
use sha2::{Digest as _, Sha256};

use super::json_form::{JsonForm, record_form};
use super::{BundleError, End, Entry, FORMAT, FORMAT_VERSION, Header, left_out};
use crate::store::error::db;
use crate::store::kv::{KvTable, OrderedKey, ReadableTable};
use crate::store::tx::{FormVisitor, FormWriter, WriteTx};

/// Entries written into a table at once.
const BATCH: usize = 512;

/// What an import loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportSummary {
    pub schema_version: u64,
    pub entries: u64,
    /// Which key sealed the secrets (16 hex digits): the daemon needs that key.
    pub encryption_key_id: Option<String>,
    /// Entries per table, for the tables that have any, in the store's order.
    pub tables: Vec<(&'static str, u64)>,
    /// SHA-256 of the whole bundle as it was read (hex): what an export of the imported
    /// database must give again.
    pub sha256: String,
}

impl WriteTx<'_> {
    /// Loads the bundle `input` into this transaction's database, which must be empty. On any
    /// error the caller's transaction must not commit (`Store::write` does not).
    pub fn import_bundle(&mut self, input: impl BufRead) -> Result<ImportSummary, BundleError> {
        let mut lines = LineReader {
            input,
            line: 0,
            sha256: Sha256::new(),
            file: Sha256::new(),
        };
        let header = lines.header()?;
        let ours = self.schema_version()?;
        if header.schema_version != ours {
            return Err(BundleError::SchemaVersion {
                bundle: header.schema_version,
                ours,
            });
        }
        if let Some((table, rows)) = self.first_non_empty_table()? {
            return Err(BundleError::TargetNotEmpty { table, rows });
        }
        if let Some(id) = &header.encryption_key_id {
            let mut bytes = [0; 8];
            hex::decode_to_slice(id, &mut bytes).map_err(|e| BundleError::Line {
                line: 1,
                message: format!("encryption_key_id is not 16 hex digits: {e}"),
            })?;
            self.set_encryption_key_id(bytes)?;
        }
        let mut order = TableNames(Vec::new());
        self.t.each_table_in_form(&mut order)?;

        let mut batch = Batch {
            table: None,
            rows: Vec::new(),
        };
        let mut tables: Vec<(&'static str, u64)> = Vec::new();
        let mut entries = 0u64;
        let end = loop {
            let (line, text) = lines.next()?;
            let json: Json = serde_json::from_slice(&text).map_err(|e| BundleError::Line {
                line,
                message: format!("not JSON: {e}"),
            })?;
            if json.get("end").is_some() {
                let end: End = serde_json::from_value(json).map_err(|e| BundleError::Line {
                    line,
                    message: format!(
                        "a closing line must be {{\"end\": {{\"entries\", \"sha256\"}}}}: {e}"
                    ),
                })?;
                break end;
            }
            lines.hash(&text);
            let entry: Entry<String> =
                serde_json::from_value(json).map_err(|e| BundleError::Line {
                    line,
                    message: format!("an entry must be {{\"table\", \"key\", \"value\"}}: {e}"),
                })?;
            let (position, name) =
                order
                    .position(&entry.table)
                    .ok_or_else(|| BundleError::Line {
                        line,
                        message: format!(
                            "there is no table {:?} in schema version {ours}",
                            entry.table
                        ),
                    })?;
            match batch.table {
                Some((current, _)) if current == name => {}
                Some((current, at_position)) if at_position > position => {
                    return Err(BundleError::Line {
                        line,
                        message: format!(
                            "an entry of {name} after those of {current}: a bundle lists the \
                             tables once each, in order"
                        ),
                    });
                }
                _ => {
                    batch.flush(self)?;
                    batch.table = Some((name, position));
                    tables.push((name, 0));
                }
            }
            batch.rows.push((line, entry.key, entry.value));
            if let Some((_, count)) = tables.last_mut() {
                *count += 1;
            }
            entries += 1;
            if batch.rows.len() == BATCH {
                batch.flush(self)?;
            }
        };
        batch.flush(self)?;

        let hashed = hex::encode(lines.sha256.clone().finalize());
        if end.end.entries != entries || end.end.sha256 != hashed {
            return Err(BundleError::Damaged(format!(
                "{entries} entries with SHA-256 {hashed}, but it says {} entries with SHA-256 {}",
                end.end.entries, end.end.sha256
            )));
        }
        lines.at_end()?;

        // Two entries with one key would leave one row: refuse rather than drop data.
        let mut stored = TableNames(Vec::new());
        self.t.each_table_in_form(&mut stored)?;
        for (name, count) in &tables {
            let rows = stored.rows(name);
            if rows != *count {
                return Err(BundleError::Damaged(format!(
                    "{name} has {count} entries but {rows} distinct keys"
                )));
            }
        }
        Ok(ImportSummary {
            schema_version: ours,
            entries,
            encryption_key_id: header.encryption_key_id,
            tables,
            sha256: hex::encode(lines.file.finalize()),
        })
    }
}

/// Reads a bundle line by line, hashing the lines the closing one covers (`sha256`) and every
/// line (`file`).
struct LineReader<R: BufRead> {
    input: R,
    line: u64,
    sha256: Sha256,
    file: Sha256,
}

impl<R: BufRead> LineReader<R> {
    fn header(&mut self) -> Result<Header, BundleError> {
        let text = match self.read()? {
            Some(text) => text,
            None if self.line == 0 => {
                return Err(BundleError::NotABundle("the file is empty".to_owned()));
            }
            None => return Err(BundleError::Truncated(self.line)),
        };
        let header: Header = serde_json::from_slice(&text).map_err(|e| {
            BundleError::NotABundle(format!(
                "its first line is not a bundle's header ({{\"format\": \"{FORMAT}\", …}}): {e}"
            ))
        })?;
        if header.format != FORMAT {
            return Err(BundleError::NotABundle(format!(
                "its first line names the format {:?}",
                header.format
            )));
        }
        if header.version != FORMAT_VERSION {
            return Err(BundleError::FormatVersion(header.version));
        }
        self.hash(&text);
        Ok(header)
    }

    /// The next whole line (with its number); the end of the file here means the bundle was
    /// cut short.
    fn next(&mut self) -> Result<(u64, Vec<u8>), BundleError> {
        match self.read()? {
            Some(text) => Ok((self.line, text)),
            None => Err(BundleError::Truncated(self.line)),
        }
    }

    /// A line with its newline; `None` at the end of the file or on a last line without its
    /// newline (the export ends every line with one: a line without is cut short).
    fn read(&mut self) -> Result<Option<Vec<u8>>, BundleError> {
        let mut text = Vec::new();
        self.input
            .read_until(b'\n', &mut text)
            .map_err(BundleError::Read)?;
        if text.last() != Some(&b'\n') {
            return Ok(None);
        }
        self.line += 1;
        self.file.update(&text);
        Ok(Some(text))
    }

    fn hash(&mut self, text: &[u8]) {
        self.sha256.update(text);
    }

    fn at_end(&mut self) -> Result<(), BundleError> {
        let mut rest = [0u8; 1];
        match std::io::Read::read(&mut self.input, &mut rest).map_err(BundleError::Read)? {
            0 => Ok(()),
            _ => Err(BundleError::Line {
                line: self.line + 1,
                message: "there is more after the closing line".to_owned(),
            }),
        }
    }
}

/// Entries read but not yet written, all of one table.
struct Batch {
    /// The table and its position in the store's order.
    table: Option<(&'static str, usize)>,
    rows: Vec<(u64, Json, Json)>,
}

impl Batch {
    fn flush(&mut self, tx: &mut WriteTx<'_>) -> Result<(), BundleError> {
        let Some((name, _)) = self.table else {
            return Ok(());
        };
        let mut writer = Rows(&self.rows);
        tx.t.table_in_form_mut(name, &mut writer)?;
        self.rows.clear();
        Ok(())
    }
}

/// Writes entries into the table they name, in its encoding.
struct Rows<'a>(&'a [(u64, Json, Json)]);

impl FormWriter for Rows<'_> {
    type Error = BundleError;

    fn write<K: OrderedKey + JsonForm, V: Value + JsonForm + 'static>(
        &mut self,
        name: &'static str,
        table: &mut KvTable<'_, K, V>,
    ) -> Result<(), BundleError> {
        let record = record_form(name);
        let mut encoded = Vec::with_capacity(self.0.len());
        for (line, key, value) in self.0 {
            let at = |what: &str, message: String| BundleError::Line {
                line: *line,
                message: format!("the {what} of an entry of {name}: {message}"),
            };
            let key = K::encode_json(key).map_err(|e| at("key", e))?;
            let value = match record {
                Some(form) => (form.from_json)(value),
                None => V::encode_json(value),
            }
            .map_err(|e| at("value", e))?;
            encoded.push((key, value));
        }
        table
            .insert_encoded(&encoded)
            .map_err(db("writing imported entries"))?;
        Ok(())
    }
}

/// The names of the tables a bundle may hold, in the store's order, with their rows.
struct TableNames(Vec<(&'static str, u64)>);

impl TableNames {
    /// The table's place in the store's order, and its name as the store spells it.
    fn position(&self, table: &str) -> Option<(usize, &'static str)> {
        self.0
            .iter()
            .enumerate()
            .find(|(_, (name, _))| *name == table)
            .map(|(at, (name, _))| (at, *name))
    }

    fn rows(&self, table: &str) -> u64 {
        self.0
            .iter()
            .find(|(name, _)| *name == table)
            .map_or(0, |(_, rows)| *rows)
    }
}

impl FormVisitor for TableNames {
    type Error = BundleError;

    fn visit<K: OrderedKey + JsonForm, V: Value + JsonForm + 'static>(
        &mut self,
        name: &'static str,
        table: &impl ReadableTable<K, V>,
    ) -> Result<(), BundleError> {
        if !left_out(name) {
            let rows = table.len().map_err(db("counting a table's rows"))?;
            self.0.push((name, rows));
        }
        Ok(())
    }
}
