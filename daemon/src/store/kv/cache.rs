//! Rows of a few hot, read-mostly tables kept in memory on PostgreSQL, so that a token
//! request or a signed-in page does not cost a round trip per client, user or session it
//! looks at. redb needs none of this: its reads are already in memory.
//!
//! Decisions:
//! - **Which tables**: configuration that every OIDC request reads and only admins write
//!   (clients, custom claims, settings: [`CACHED`]). Nothing whose change ends someone's
//!   access is cached, so that a sign-out, a disabled user or a revoked grant holds on every
//!   replica the moment it commits. Ranges are never cached, only single rows, and rows that
//!   are absent too.
//! - **Only read transactions use it.** A write transaction reads PostgreSQL under the write
//!   lock, so that its read-check-write code never acts on a cached value.
//! - **Forgetting**: a write transaction that changes a cached table notifies every replica
//!   in the same transaction (delivered on commit, never on rollback) and forgets the rows
//!   here once it has committed, before its caller goes on: a replica reads its own writes.
//!   Another replica forgets them when the notice arrives — on one network, a millisecond or
//!   two after the commit; until then it may answer from the client as it was, as it would
//!   have for a request that arrived those milliseconds earlier. Keycloak's caches make the
//!   same trade for the same data.
//! - **No stale row comes back**: a read transaction notes the cache's generation when it
//!   begins and offers what it read only if nothing was forgotten since (every forget moves
//!   the generation under the write half of a lock that offers take the read half of). A
//!   row read from a snapshot older than a commit is therefore either refused or forgotten
//!   by that commit's notice.
//! - **Deafness**: notices sent while this replica does not listen are lost, so the cache
//!   is used only while the listening connection is up, and emptied whenever it connects.
//!   Rows also expire after [`TTL`], which bounds what a change made behind latchkeyd's
//!   back (a restore, an edit in psql) can leave behind.
//! - **Size**: at most [`CAPACITY`] rows (quick_cache's S3-FIFO eviction, a maintained crate
//!   rather than a hand-written LRU), a few MB at worst.

use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The PostgreSQL tables whose rows are cached (`postgres::table_name` of their redb
/// definitions): the deployment's configuration, which admins change and every request
/// reads. Nothing that ends access (sessions, users, consents, grant epochs, revocations) is
/// cached: ending it on one replica holds on every other from the commit on.
const CACHED: [&str; 3] = [
    "\"kv_clients_v1\"",
    "\"kv_claims_v1\"",
    "\"kv_settings_v1\"",
];

/// Rows kept, at most.
const CAPACITY: usize = 8_192;
/// How long a row may be served from memory before it is read again.
pub(super) const TTL: Duration = Duration::from_secs(30);

/// The start of a notice that says which cached rows changed: `kv-forget <table> <hex
/// key>,<hex key>…`, or `*` for the whole table. It is not JSON, so the store's own notices
/// (`store::notices`), and older releases, ignore it.
const FORGET: &str = "kv-forget ";
/// The longest notice that names keys; a change that would need a longer one forgets the
/// whole table.
const NOTICE_BYTES: usize = super::MAX_PAYLOAD - 64;

/// A cached table, by its place in [`CACHED`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) struct Table(u8);

impl Table {
    /// The cached table named `name` (`"kv_…"` with or without its quotes), if it is one.
    pub(super) fn of(name: &str) -> Option<Table> {
        let bare = name.trim_matches('"');
        CACHED
            .iter()
            .position(|cached| cached.trim_matches('"') == bare)
            .and_then(|i| u8::try_from(i).ok())
            .map(Table)
    }

    fn name(self) -> &'static str {
        CACHED
            .get(usize::from(self.0))
            .map_or("", |name| name.trim_matches('"'))
    }
}

/// What a write transaction changed in cached tables.
#[derive(Debug, Default)]
pub(super) struct Changed {
    rows: Vec<(Table, Option<Vec<u8>>)>,
}

impl Changed {
    /// Row `key` of `table` was written or removed.
    pub(super) fn row(&mut self, table: Table, key: &[u8]) {
        self.rows.push((table, Some(key.to_vec())));
    }

    /// Any row of `table` may have been.
    pub(super) fn table(&mut self, table: Table) {
        self.rows.push((table, None));
    }

    pub(super) fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The notices that tell every replica, each under PostgreSQL's payload limit.
    pub(super) fn notices(&self) -> Vec<String> {
        let mut tables: Vec<Table> = self.rows.iter().map(|(table, _)| *table).collect();
        tables.sort_by_key(|table| table.0);
        tables.dedup();
        tables
            .into_iter()
            .map(|table| {
                let whole = format!("{FORGET}{} *", table.name());
                let mut notice = format!("{FORGET}{} ", table.name());
                for (i, (_, key)) in self.rows.iter().filter(|(t, _)| *t == table).enumerate() {
                    let Some(key) = key else { return whole };
                    if i > 0 {
                        notice.push(',');
                    }
                    notice.push_str(&hex::encode(key));
                    if notice.len() > NOTICE_BYTES {
                        return whole;
                    }
                }
                notice
            })
            .collect()
    }
}

#[derive(Clone)]
struct Cached {
    /// `None`: the row does not exist.
    value: Option<Vec<u8>>,
    read_at: Instant,
}

/// The rows, and what decides whether an offered row may join them.
pub(super) struct RowCache {
    rows: quick_cache::sync::Cache<(Table, Vec<u8>), Cached>,
    /// Moved by every forget; see the module's "No stale row comes back".
    generation: RwLock<u64>,
    /// Whether this replica hears the others' notices (see "Deafness").
    listening: AtomicBool,
}

impl std::fmt::Debug for RowCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RowCache")
            .field("rows", &self.rows.len())
            .finish_non_exhaustive()
    }
}

impl RowCache {
    pub(super) fn new() -> RowCache {
        RowCache {
            rows: quick_cache::sync::Cache::new(CAPACITY),
            generation: RwLock::new(0),
            listening: AtomicBool::new(false),
        }
    }

    /// The generation a read transaction notes when it begins.
    pub(super) fn generation(&self) -> u64 {
        *self
            .generation
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The row as cached: `Some(None)` when it is known not to exist, `None` when unknown.
    pub(super) fn get(&self, table: Table, key: &[u8]) -> Option<Option<Vec<u8>>> {
        if !self.listening.load(Ordering::Acquire) {
            return None;
        }
        let cached = self.rows.get(&(table, key.to_vec()))?;
        (cached.read_at.elapsed() < TTL).then_some(cached.value)
    }

    /// Keeps a row a read transaction that began at `generation` read, unless something was
    /// forgotten since.
    pub(super) fn offer(
        &self,
        table: Table,
        key: Vec<u8>,
        value: Option<Vec<u8>>,
        generation: u64,
    ) {
        let current = self
            .generation
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if *current == generation && self.listening.load(Ordering::Acquire) {
            let read_at = Instant::now();
            self.rows.insert((table, key), Cached { value, read_at });
        }
    }

    /// Forgets what a committed write changed.
    pub(super) fn forget(&self, changed: &Changed) {
        let mut generation = self.lock_generation();
        *generation += 1;
        for (table, key) in &changed.rows {
            match key {
                Some(key) => {
                    self.rows.remove(&(*table, key.clone()));
                }
                None => self.rows.retain(|(t, _), _| t != table),
            }
        }
    }

    /// Acts on a notice from any replica; `false` when `payload` is not a forget notice.
    pub(super) fn hear(&self, payload: &str) -> bool {
        let Some(rest) = payload.strip_prefix(FORGET) else {
            return false;
        };
        let (name, keys) = rest.split_once(' ').unwrap_or((rest, "*"));
        let Some(table) = Table::of(name) else {
            // A table this release does not cache.
            return true;
        };
        let mut changed = Changed::default();
        if keys == "*" {
            changed.table(table);
        } else {
            for key in keys.split(',') {
                match hex::decode(key) {
                    Ok(key) => changed.row(table, &key),
                    Err(_) => changed.table(table),
                }
            }
        }
        self.forget(&changed);
        true
    }

    /// The listening connection is up (`true`, after LISTEN took effect) or lost: either way
    /// notices may have been missed, so everything is forgotten.
    pub(super) fn set_listening(&self, listening: bool) {
        let mut generation = self.lock_generation();
        *generation += 1;
        self.listening.store(listening, Ordering::Release);
        self.rows.clear();
    }

    fn lock_generation(&self) -> std::sync::RwLockWriteGuard<'_, u64> {
        self.generation
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clients() -> Table {
        Table::of("\"kv_clients_v1\"").unwrap()
    }

    fn listening() -> RowCache {
        let cache = RowCache::new();
        cache.set_listening(true);
        cache
    }

    #[test]
    fn a_row_offered_by_a_reader_that_began_before_a_forget_is_refused() {
        let cache = listening();
        let began = cache.generation();
        let mut changed = Changed::default();
        changed.row(clients(), b"a");
        cache.forget(&changed);
        cache.offer(clients(), b"a".to_vec(), Some(b"old".to_vec()), began);
        assert_eq!(cache.get(clients(), b"a"), None);

        let began = cache.generation();
        cache.offer(clients(), b"a".to_vec(), Some(b"new".to_vec()), began);
        assert_eq!(cache.get(clients(), b"a"), Some(Some(b"new".to_vec())));
        cache.offer(clients(), b"gone".to_vec(), None, began);
        assert_eq!(cache.get(clients(), b"gone"), Some(None));
    }

    #[test]
    fn nothing_is_served_or_kept_while_deaf() {
        let cache = RowCache::new();
        let began = cache.generation();
        cache.offer(clients(), b"a".to_vec(), Some(b"v".to_vec()), began);
        assert_eq!(cache.get(clients(), b"a"), None);

        cache.set_listening(true);
        let began = cache.generation();
        cache.offer(clients(), b"a".to_vec(), Some(b"v".to_vec()), began);
        assert!(cache.get(clients(), b"a").is_some());
        cache.set_listening(false);
        assert_eq!(cache.get(clients(), b"a"), None);
        cache.set_listening(true);
        assert_eq!(cache.get(clients(), b"a"), None, "emptied on reconnecting");
    }

    #[test]
    fn notices_name_rows_or_whole_tables_and_are_heard_by_every_cache() {
        let (writer, reader) = (listening(), listening());
        let settings = Table::of("kv_settings_v1").unwrap();
        for cache in [&writer, &reader] {
            let began = cache.generation();
            for key in [b"a", b"b"] {
                cache.offer(clients(), key.to_vec(), Some(b"v".to_vec()), began);
                cache.offer(settings, key.to_vec(), Some(b"v".to_vec()), began);
            }
        }
        let mut changed = Changed::default();
        changed.row(clients(), b"a");
        for i in 0..1_000u64 {
            changed.row(settings, &i.to_be_bytes());
        }
        let notices = changed.notices();
        assert_eq!(notices.len(), 2);
        assert_eq!(
            notices[0],
            format!("kv-forget kv_clients_v1 {}", hex::encode("a"))
        );
        assert_eq!(notices[1], "kv-forget kv_settings_v1 *");
        assert!(notices.iter().all(|n| n.len() < super::super::MAX_PAYLOAD));

        writer.forget(&changed);
        for notice in &notices {
            assert!(reader.hear(notice));
        }
        for cache in [&writer, &reader] {
            assert_eq!(cache.get(clients(), b"a"), None);
            assert!(cache.get(clients(), b"b").is_some());
        }
        // The writer knows which rows it changed; the notice was too short to name them all.
        assert!(writer.get(settings, b"b").is_some());
        assert_eq!(reader.get(settings, b"b"), None);
        assert!(!reader.hear("{\"from\":\"x\",\"notice\":\"keys_changed\"}"));
        assert!(reader.hear("kv-forget kv_not_cached_v1 00"));
    }

    #[test]
    fn only_the_listed_tables_are_cached() {
        assert!(Table::of("\"kv_clients_v1\"").is_some());
        assert!(Table::of("\"kv_sessions_v1\"").is_none());
        assert!(Table::of("\"kv_revoked_grants_v1\"").is_none());
        assert!(Table::of("\"kv_spent_tokens_v1\"").is_none());
        assert!(Table::of("\"kv_audit_log_v1\"").is_none());
    }
}
