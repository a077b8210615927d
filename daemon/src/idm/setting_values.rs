//! Reading settings: the effective value of a key (stored, or its default
//! from the registry), and the small typed reads every feature's view of its
//! own keys is made of. A stored value of the wrong shape (which
//! `set_setting` never writes) reads as unset.

use super::IdmError;
use super::setting_registry::{Definition, Fallback, definition};
use crate::store::{Access, SettingValue, Tables};

/// The effective value of a setting: stored, or its default.
pub(super) fn effective<A: Access>(
    tx: &Tables<A>,
    def: &Definition,
) -> Result<Option<SettingValue>, IdmError> {
    Ok(match tx.setting(def.key)? {
        Some(record) => Some(record.value),
        None => def.default.map(Fallback::value),
    })
}

/// The effective value of a registered setting (stored, or its default), for
/// features that type their own settings.
pub(crate) fn value_of<A: Access>(
    tx: &Tables<A>,
    key: &str,
) -> Result<Option<SettingValue>, IdmError> {
    effective(tx, definition(key)?)
}

/// A switch: on only when stored or defaulted as `true`.
pub(crate) fn flag<A: Access>(tx: &Tables<A>, key: &str) -> Result<bool, IdmError> {
    Ok(matches!(value_of(tx, key)?, Some(SettingValue::Bool(true))))
}

/// Text that is set and not blank.
pub(crate) fn text<A: Access>(tx: &Tables<A>, key: &str) -> Result<Option<String>, IdmError> {
    Ok(match value_of(tx, key)? {
        Some(SettingValue::Text(text)) if !text.trim().is_empty() => Some(text),
        _ => None,
    })
}

/// [`text`], or `fallback` when unset.
pub(crate) fn text_or<A: Access>(
    tx: &Tables<A>,
    key: &str,
    fallback: &str,
) -> Result<String, IdmError> {
    Ok(text(tx, key)?.unwrap_or_else(|| fallback.to_owned()))
}

/// A whole number, when set.
pub(crate) fn integer<A: Access>(tx: &Tables<A>, key: &str) -> Result<Option<i64>, IdmError> {
    Ok(match value_of(tx, key)? {
        Some(SettingValue::Integer(n)) => Some(n),
        _ => None,
    })
}
