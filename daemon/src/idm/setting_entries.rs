//! The settings as the console lists and changes them: every key with its
//! value, default and help, and `set_setting`, which parses a value by the
//! key's type, seals a write-only one, stores it and audits the change
//! (never a secret).

use serde_json::{Value, json};

use super::audit::{self, detail};
use super::groups::existing_groups;
use super::sealed;
use super::setting_registry::{
    self, Definition, SIGNUPS_DEFAULT_GROUPS, definition, parse, to_audit_text,
};
use super::setting_values::effective;
use super::{Actor, Idm, IdmError};
use crate::store::{Access, SettingRecord, SettingValue, Tables};

/// One setting as the console shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct SettingEntry {
    pub key: &'static str,
    /// Typed JSON; a write-only setting shows `"set"` or `null`.
    pub value: Value,
    pub default: Value,
    /// What values it takes, for help text.
    pub kind: String,
    pub description: &'static str,
    pub write_only: bool,
    pub warning: Option<&'static str>,
}

fn to_json(value: &SettingValue) -> Value {
    match value {
        SettingValue::Text(text) => json!(text),
        SettingValue::Integer(n) => json!(n),
        SettingValue::Bool(b) => json!(b),
        SettingValue::List(items) => json!(items),
        SettingValue::Sealed(_) => json!("set"),
    }
}

fn entry(def: &'static Definition, value: Option<&SettingValue>) -> SettingEntry {
    let write_only = def.is_secret();
    let shown = match (write_only, value) {
        (_, None) => Value::Null,
        (true, Some(_)) => json!("set"),
        (false, Some(value)) => to_json(value),
    };
    SettingEntry {
        key: def.key,
        value: shown,
        default: def.default.map_or(Value::Null, |d| to_json(&d.value())),
        kind: def.kind.describe(),
        description: def.description,
        write_only,
        warning: def.warning,
    }
}

fn entries<A: Access>(tx: &Tables<A>) -> Result<Vec<SettingEntry>, IdmError> {
    setting_registry::all()
        .iter()
        .map(|def| Ok(entry(def, effective(tx, def)?.as_ref())))
        .collect()
}

impl Idm {
    /// Every setting in registry order, for the console.
    pub fn setting_entries(&self) -> Result<Vec<SettingEntry>, IdmError> {
        entries(&self.store.read()?)
    }

    /// Parses `value` by the setting's type and stores it (an empty value
    /// clears an optional setting), with a `setting_changed` audit event
    /// that never carries a secret. Returns every setting afterwards.
    pub fn set_setting(
        &self,
        actor: &Actor,
        key: &str,
        value: &str,
    ) -> Result<Vec<SettingEntry>, IdmError> {
        let def = definition(key.trim())?;
        let parsed = parse(def, value)?;
        let now = self.now();
        self.store.write(|tx| {
            let parsed = match (def.key, parsed) {
                (SIGNUPS_DEFAULT_GROUPS, Some(SettingValue::List(names))) => {
                    Some(SettingValue::List(existing_groups(tx, def.key, &names)?))
                }
                (_, parsed) => parsed,
            };
            let before = effective(tx, def)?;
            // Write-only values are stored sealed (`sealed`).
            let secret = def.is_secret().then(|| self.sealer());
            if sealed::changes(secret, def.key, before.as_ref(), parsed.as_ref()) {
                match &parsed {
                    Some(value) => tx.put_setting(
                        def.key,
                        &SettingRecord {
                            value: sealed::stored_form(secret, def.key, value)?,
                            updated_at: now,
                        },
                    )?,
                    None => {
                        tx.remove_setting(def.key)?;
                    }
                }
                let shown = match &parsed {
                    None => "unset".to_owned(),
                    Some(_) if def.is_secret() => "set".to_owned(),
                    Some(value) => to_audit_text(value),
                };
                let details = vec![detail("key", def.key), detail("value", shown)];
                audit::append(tx, now, actor, "setting_changed", None, details)?;
            }
            entries(tx)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::idm::setting_registry::Kind;

    #[test]
    fn secrets_show_only_whether_they_are_set() {
        let secret = Definition {
            key: "smtp.password",
            kind: Kind::Secret,
            default: None,
            description: "",
            warning: None,
        };
        let secret: &'static Definition = Box::leak(Box::new(secret));
        assert_eq!(parse(secret, "").unwrap(), None);
        let value = parse(secret, " hunter2").unwrap().unwrap();
        let shown = entry(secret, Some(&value));
        assert!(shown.write_only);
        assert_eq!(shown.value, json!("set"));
        assert_eq!(entry(secret, None).value, Value::Null);
    }
}
