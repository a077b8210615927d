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

/// Writes `a → b` and its mirror `b → a`; false if it was already there.
pub(super) fn link(
    forward: &mut Table<'_, (IdBytes, IdBytes), ()>,
    backward: &mut Table<'_, (IdBytes, IdBytes), ()>,
    a: IdBytes,
    b: IdBytes,
) -> Result<bool, StoreError> {
    let existed = forward
        .insert((a, b), ())
        .map_err(db("writing a link"))?
        .is_some();
    backward.insert((b, a), ()).map_err(db("writing a link"))?;
    Ok(!existed)
}

/// Removes `a → b` and its mirror; false if it was not there.
pub(super) fn unlink(
    forward: &mut Table<'_, (IdBytes, IdBytes), ()>,
    backward: &mut Table<'_, (IdBytes, IdBytes), ()>,
    a: IdBytes,
    b: IdBytes,
) -> Result<bool, StoreError> {
    let existed = forward
        .remove((a, b))
        .map_err(db("removing a link"))?
        .is_some();
    backward.remove((b, a)).map_err(db("removing a link"))?;
    Ok(existed)
}

/// Removes every link of `a`, in both directions.
pub(super) fn unlink_all(
    forward: &mut Table<'_, (IdBytes, IdBytes), ()>,
    backward: &mut Table<'_, (IdBytes, IdBytes), ()>,
    a: IdBytes,
) -> Result<(), StoreError> {
    for b in linked(forward, a)? {
        backward.remove((b, a)).map_err(db("removing a link"))?;
    }
    forward
        .retain_in(pair_range(a), |_, _| false)
        .map_err(db("removing links"))?;
    Ok(())
}

fn pair_range(first: IdBytes) -> std::ops::RangeInclusive<(IdBytes, IdBytes)> {
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
