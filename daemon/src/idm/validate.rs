//! Input rules for usernames, emails, names and group names. Each function
//! returns the value as it will be stored (trimmed) or an `Invalid` error.

use super::IdmError;

const USERNAME_MAX: usize = 50;
const EMAIL_MAX: usize = 254;
const EMAIL_LOCAL_MAX: usize = 64;
const GROUP_NAME_MAX: usize = 64;
pub(crate) const FIRST_NAME_MAX: usize = 100;
pub(crate) const LAST_NAME_MAX: usize = 100;
pub(crate) const DISPLAY_NAME_MAX: usize = 200;
const FRIENDLY_NAME_MAX: usize = 200;

/// 1–50 ASCII letters and digits; `. _ - @` allowed only inside.
pub(crate) fn username(input: &str) -> Result<String, IdmError> {
    let name = input.trim();
    let invalid = |message: &str| Err(IdmError::invalid("username", message));
    if name.is_empty() || name.len() > USERNAME_MAX {
        return invalid("must be 1 to 50 characters");
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
    {
        return invalid("may contain only ASCII letters, digits and . _ - @");
    }
    let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    if !edge_ok(name.chars().next()) || !edge_ok(name.chars().last()) {
        return invalid("must start and end with a letter or digit");
    }
    Ok(name.to_owned())
}

/// Trimmed; empty means no address.
pub(crate) fn email(input: Option<&str>) -> Result<Option<String>, IdmError> {
    let Some(email) = input.map(str::trim).filter(|e| !e.is_empty()) else {
        return Ok(None);
    };
    let invalid = |message: &str| Err(IdmError::invalid("email", message));
    if email.len() > EMAIL_MAX {
        return invalid("must be at most 254 characters");
    }
    if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return invalid("must not contain spaces");
    }
    let Some((local, domain)) = email.split_once('@') else {
        return invalid("must contain an @");
    };
    if domain.contains('@') {
        return invalid("must contain only one @");
    }
    if local.is_empty() || local.len() > EMAIL_LOCAL_MAX {
        return invalid("the part before the @ must be 1 to 64 characters");
    }
    if !domain.contains('.') || !domain.split('.').all(domain_label_ok) {
        return invalid("the domain must be like example.com");
    }
    Ok(Some(email.to_owned()))
}

fn domain_label_ok(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= 63
        && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !label.starts_with('-')
        && !label.ends_with('-')
}

/// A person's name field: trimmed, at most `max` characters, no control
/// characters. Empty is allowed.
pub(crate) fn name(field: &'static str, input: &str, max: usize) -> Result<String, IdmError> {
    let value = input.trim();
    if value.chars().count() > max {
        return Err(IdmError::invalid(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(IdmError::invalid(
            field,
            "must not contain control characters",
        ));
    }
    Ok(value.to_owned())
}

/// "first last" trimmed, or the username when both are empty.
pub(crate) fn default_display_name(first: &str, last: &str, username: &str) -> String {
    let joined = format!("{first} {last}");
    match joined.trim() {
        "" => username.to_owned(),
        trimmed => trimmed.to_owned(),
    }
}

/// 1–64 lowercase letters, digits, `_` and `-`, starting with a letter.
pub(crate) fn group_name(input: &str) -> Result<String, IdmError> {
    let name = input.trim();
    let invalid = |message: &str| Err(IdmError::invalid("name", message));
    if name.is_empty() || name.len() > GROUP_NAME_MAX {
        return invalid("must be 1 to 64 characters");
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return invalid("must start with a lowercase letter");
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-'))
    {
        return invalid("may contain only lowercase letters, digits, _ and -");
    }
    Ok(name.to_owned())
}

/// Defaults to the group name when empty.
pub(crate) fn friendly_name(input: Option<&str>, group_name: &str) -> Result<String, IdmError> {
    let value = name("friendly_name", input.unwrap_or(""), FRIENDLY_NAME_MAX)?;
    Ok(if value.is_empty() {
        group_name.to_owned()
    } else {
        value
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        for ok in ["a", "Alice", "a.b", "a_b-c@d", "x9", &"a".repeat(50)] {
            assert_eq!(username(ok).unwrap(), ok, "{ok}");
        }
        assert_eq!(username("  bob ").unwrap(), "bob");
        for bad in [
            "",
            ".a",
            "a.",
            "-a",
            "a@",
            "a b",
            "é",
            "a/b",
            &"a".repeat(51),
        ] {
            assert!(
                matches!(
                    username(bad),
                    Err(IdmError::Invalid {
                        field: "username",
                        ..
                    })
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn emails() {
        assert_eq!(email(None).unwrap(), None);
        assert_eq!(email(Some("  ")).unwrap(), None);
        assert_eq!(
            email(Some(" Alice@Example.COM ")).unwrap().as_deref(),
            Some("Alice@Example.COM")
        );
        assert!(email(Some("a@sub-1.example.org")).is_ok());
        let long_local = format!("{}@example.com", "a".repeat(65));
        let too_long = format!("a@{}.com", "b".repeat(260));
        for bad in [
            "plain",
            "a@b@example.com",
            "@example.com",
            "a@localhost",
            "a@-x.com",
            "a@x-.com",
            "a@x..com",
            "a b@example.com",
            "a@exa_mple.com",
            long_local.as_str(),
            too_long.as_str(),
        ] {
            assert!(
                matches!(
                    email(Some(bad)),
                    Err(IdmError::Invalid { field: "email", .. })
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn names() {
        assert_eq!(name("first_name", " Zoë ", 100).unwrap(), "Zoë");
        assert!(name("first_name", &"é".repeat(100), 100).is_ok());
        assert!(name("first_name", &"é".repeat(101), 100).is_err());
        assert!(name("last_name", "a\u{7}b", 100).is_err());
        assert_eq!(default_display_name("Ada", "", "ada"), "Ada");
        assert_eq!(default_display_name("", "Lovelace", "ada"), "Lovelace");
        assert_eq!(
            default_display_name("Ada", "Lovelace", "ada"),
            "Ada Lovelace"
        );
        assert_eq!(default_display_name("", "", "ada"), "ada");
    }

    #[test]
    fn group_names() {
        for ok in ["a", "staff", "dev-ops_2", &"g".repeat(64)] {
            assert!(group_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "Staff", "1abc", "_x", "a b", "a.b", &"g".repeat(65)] {
            assert!(group_name(bad).is_err(), "{bad:?}");
        }
        assert_eq!(friendly_name(None, "staff").unwrap(), "staff");
        assert_eq!(
            friendly_name(Some("The Staff"), "staff").unwrap(),
            "The Staff"
        );
    }
}
