//! Helpers shared by every secondary index: unique keys (username, email,
//! group name, WebAuthn handle) and two-way links (group ↔ member).

use std::borrow::Borrow;

use super::kv::{KvTable as Table, OrderedKey as Key, ReadableTable};

use super::StoreError;
use super::error::db;
use super::schema::IdBytes;

/// The case-insensitive form a unique text key is stored under.
pub(crate) fn fold(key: &str) -> String {
    key.to_lowercase()
}

/// Points `key` at `id`, or fails with `Conflict` if it already points at
/// another record. Must run in the same transaction as the record write.
pub(super) fn claim<K>(
    table: &mut Table<'_, K, IdBytes>,
    key: K::SelfType<'_>,
    id: IdBytes,
    field: &'static str,
) -> Result<(), StoreError>
where
    K: Key + 'static,
{
    let existing = table
        .get(&key)
        .map_err(db("reading a unique index"))?
        .map(|guard| guard.value());
    match existing {
        Some(owner) if owner != id => Err(StoreError::Conflict { field }),
        Some(_) => Ok(()),
        None => {
            table
                .insert(&key, id)
                .map_err(db("writing a unique index"))?;
            Ok(())
        }
    }
}

/// Moves `id` from `old` to `new` in a unique index (either may be absent).
/// Claims first, so a conflict leaves the old entry in place.
pub(super) fn rekey<'k, K>(
    table: &mut Table<'_, K, IdBytes>,
    old: Option<K::SelfType<'k>>,
    new: Option<K::SelfType<'k>>,
    id: IdBytes,
    field: &'static str,
) -> Result<(), StoreError>
where
    K: Key + 'static,
    K::SelfType<'k>: PartialEq,
{
    if old == new {
        return Ok(());
    }
    if let Some(new) = new {
        claim(table, new, id, field)?;
    }
    if let Some(old) = old {
        table
            .remove(&old)
            .map_err(db("removing a unique index entry"))?;
    }
    Ok(())
}

/// The second halves of every `(first, second)` key that starts with `first`.
pub(super) fn linked<T>(table: &T, first: IdBytes) -> Result<Vec<IdBytes>, StoreError>
where
    T: ReadableTable<(IdBytes, IdBytes), ()>,
{
    let mut out = Vec::new();
    for entry in table
        .range(pair_range(first))
        .map_err(db("reading a link table"))?
    {
        let (key, _) = entry.map_err(db("reading a link table"))?;
        out.push(key.value().1);
    }
    Ok(out)
}

/// How many keys start with `first`, without collecting them.
pub(super) fn count_linked<T>(table: &T, first: IdBytes) -> Result<u64, StoreError>
where
    T: ReadableTable<(IdBytes, IdBytes), ()>,
{
    let mut count = 0;
    for entry in table
        .range(pair_range(first))
        .map_err(db("counting a link table"))?
    {
        entry.map_err(db("counting a link table"))?;
        count += 1;
    }
    Ok(count)
}

/// A link table: `(first, second)` keys with no value.
type LinkTable<'t> = Table<'t, (IdBytes, IdBytes), ()>;

/// A link table and its mirror (`a → b` in `forward` is `b → a` in `backward`), always
/// written together.
pub(super) struct Links<'a, 't> {
    pub forward: &'a mut LinkTable<'t>,
    pub backward: &'a mut LinkTable<'t>,
}

impl Links<'_, '_> {
    /// Writes `a → b` and its mirror; false if it was already there.
    pub(super) fn link(&mut self, a: IdBytes, b: IdBytes) -> Result<bool, StoreError> {
        let existed = self.both(a, b, "writing a link", |table, key| {
            table.insert(key, ()).map(|old| old.is_some())
        })?;
        Ok(!existed)
    }

    /// Removes `a → b` and its mirror; false if it was not there.
    pub(super) fn unlink(&mut self, a: IdBytes, b: IdBytes) -> Result<bool, StoreError> {
        self.both(a, b, "removing a link", |table, key| {
            table.remove(key).map(|old| old.is_some())
        })
    }

    /// Removes every link of `a`, in both directions.
    pub(super) fn unlink_all(&mut self, a: IdBytes) -> Result<(), StoreError> {
        for b in linked(self.forward, a)? {
            self.backward
                .remove((b, a))
                .map_err(db("removing a link"))?;
        }
        self.forward
            .retain_in(pair_range(a), |_, _| false)
            .map_err(db("removing links"))?;
        Ok(())
    }

    /// Applies `op` to `a → b`, then to its mirror; whether `a → b` was there before.
    fn both(
        &mut self,
        a: IdBytes,
        b: IdBytes,
        context: &'static str,
        op: impl Fn(&mut LinkTable<'_>, (IdBytes, IdBytes)) -> Result<bool, super::kv::KvError>,
    ) -> Result<bool, StoreError> {
        let existed = op(self.forward, (a, b)).map_err(db(context))?;
        op(self.backward, (b, a)).map_err(db(context))?;
        Ok(existed)
    }
}

pub(super) fn pair_range(first: IdBytes) -> std::ops::RangeInclusive<(IdBytes, IdBytes)> {
    (first, [0; 16])..=(first, [0xff; 16])
}

/// Reads an id-valued index entry.
pub(super) fn lookup<'k, K, T>(
    table: &T,
    key: impl Borrow<K::SelfType<'k>>,
) -> Result<Option<IdBytes>, StoreError>
where
    K: Key + 'static,
    T: ReadableTable<K, IdBytes>,
{
    Ok(table
        .get(key)
        .map_err(db("reading an index"))?
        .map(|guard| guard.value()))
}
