use super::*;

fn def(key: &str) -> &'static Definition {
    definition(key).unwrap()
}

#[test]
fn registry_keys_are_unique_and_defaults_parse() {
    for (i, d) in REGISTRY.iter().enumerate() {
        assert!(REGISTRY.iter().skip(i + 1).all(|o| o.key != d.key));
        if let Some(default) = d.default {
            let text = to_audit_text(&default.value());
            if !matches!(d.kind, Kind::List) {
                assert_eq!(parse(d, &text).unwrap(), Some(default.value()), "{}", d.key);
            }
        }
    }
}

#[test]
fn values_parse_by_type_with_precise_messages() {
    let minutes = def(SESSION_MINUTES);
    assert_eq!(
        parse(minutes, " 90 ").unwrap(),
        Some(SettingValue::Integer(90))
    );
    let err = parse(minutes, "abc").unwrap_err();
    assert_eq!(
        err.to_string(),
        "session.minutes: expected a whole number of minutes from 5 to 43200, got \"abc\""
    );
    assert!(parse(minutes, "4").is_err());
    assert!(parse(minutes, "43201").is_err());

    let uv = def(USER_VERIFICATION);
    assert_eq!(
        parse(uv, "Preferred").unwrap(),
        Some(SettingValue::Text("preferred".into()))
    );
    assert!(parse(uv, "discouraged").is_err());

    let name = def(APP_NAME);
    assert!(parse(name, "").is_err());
    assert!(parse(name, &"x".repeat(65)).is_err());
    assert!(parse(name, "a\u{7}b").is_err());

    let list = Definition {
        key: "x.list",
        kind: Kind::List,
        default: Some(Fallback::EmptyList),
        description: "",
        warning: None,
    };
    let expected = Some(SettingValue::List(vec!["a".into(), "b".into()]));
    assert_eq!(parse(&list, "a, b,").unwrap(), expected);
    assert_eq!(parse(&list, r#"["a"," b "]"#).unwrap(), expected);
    let flag = Definition {
        kind: Kind::Bool,
        default: Some(Fallback::Bool(false)),
        ..list
    };
    assert_eq!(parse(&flag, "ON").unwrap(), Some(SettingValue::Bool(true)));
    assert!(parse(&flag, "maybe").is_err());
}

#[test]
fn unknown_keys_are_refused_naming_the_known_ones() {
    let err = definition("session.length").unwrap_err();
    assert!(
        matches!(&err, IdmError::Invalid { field: "key", message } if message.contains("session.minutes")),
        "{err}"
    );
}
