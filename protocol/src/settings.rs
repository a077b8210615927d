//! Application settings as the console shows and edits them. The daemon owns
//! the list of keys, their types and defaults; clients render what it sends.

use serde::{Deserialize, Serialize};

/// One setting. `value` is JSON typed as the setting is (string, number,
/// boolean, list of strings); a write-only secret shows `"set"` or `null`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SettingView {
    /// Dotted key, e.g. `session.minutes`.
    pub key: String,
    pub value: serde_json::Value,
    pub default: serde_json::Value,
    /// What values it takes, for help text: `text`, `minutes 5–43200`,
    /// `required | preferred`, …
    pub kind: String,
    pub description: String,
    /// Never shown back (passwords).
    pub write_only: bool,
    /// Shown with a warning on the settings screen (it lowers security).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SettingsView {
    pub settings: Vec<SettingView>,
}

impl SettingsView {
    /// The settings nested by the dots in their keys, as `config show --json`
    /// prints them: `{"session": {"minutes": 60}, …}`.
    pub fn nested(&self) -> serde_json::Value {
        let mut root = serde_json::Map::new();
        for setting in &self.settings {
            let mut parts = setting.key.split('.').peekable();
            let mut node = &mut root;
            while let Some(part) = parts.next() {
                if parts.peek().is_none() {
                    node.insert(part.to_owned(), setting.value.clone());
                    break;
                }
                let child = node
                    .entry(part.to_owned())
                    .or_insert_with(|| serde_json::Value::Object(serde_json::Map::new()));
                if !child.is_object() {
                    *child = serde_json::Value::Object(serde_json::Map::new());
                }
                match child {
                    serde_json::Value::Object(map) => node = map,
                    _ => break,
                }
            }
        }
        serde_json::Value::Object(root)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn setting(key: &str, value: serde_json::Value) -> SettingView {
        SettingView {
            key: key.into(),
            value,
            default: json!(null),
            kind: "text".into(),
            description: String::new(),
            write_only: false,
            warning: None,
        }
    }

    #[test]
    fn nests_by_dots() {
        let view = SettingsView {
            settings: vec![
                setting("app.name", json!("Latchkey")),
                setting("ldap.attr.username", json!("uid")),
                setting("ldap.enabled", json!(false)),
                setting("session.minutes", json!(60)),
            ],
        };
        assert_eq!(
            view.nested(),
            json!({
                "app": {"name": "Latchkey"},
                "ldap": {"attr": {"username": "uid"}, "enabled": false},
                "session": {"minutes": 60},
            })
        );
    }
}
