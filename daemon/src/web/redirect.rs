//! The `next` parameter: where to go after signing in. Only local paths are accepted, so a
//! link cannot send a user who just signed in to another site.

/// `next` if it is a local path (starts with one `/`, no `//`, no backslash, no control
/// characters, at most 2,000 bytes), else `None`.
pub fn safe_next(next: Option<&str>) -> Option<&str> {
    let next = next?;
    let local = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.contains("//")
        && !next.chars().any(char::is_control)
        && next.len() <= 2000;
    local.then_some(next)
}

/// Where to go after signing in: `next` when safe, else the account page.
pub fn after_sign_in(next: Option<&str>) -> String {
    safe_next(next).unwrap_or("/account").to_owned()
}

/// The `next` parameter to carry through a page: kept when safe, else empty.
pub fn next_param(next: Option<&str>) -> String {
    safe_next(next).unwrap_or_default().to_owned()
}

/// `page?next=<next>` when `next` is a safe local path other than `/`, else `page`.
pub fn page_with_next(page: &str, next: &str) -> String {
    match safe_next(Some(next)) {
        Some(next) if next != "/" => format!("{page}?next={}", percent_encode(next)),
        _ => page.to_owned(),
    }
}

/// `/login?next=<path>` for a page that needs a signed-in user.
pub fn login_with_next(path_and_query: &str) -> String {
    page_with_next("/login", path_and_query)
}

/// Percent-encodes everything but unreserved characters and `/`.
pub fn percent_encode(value: &str) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(byte));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_accepted() {
        for good in ["/account", "/", "/oidc/authorize?client_id=a&x=%2F"] {
            assert_eq!(safe_next(Some(good)), Some(good), "{good}");
        }
        for bad in [
            "//evil.example",
            "https://evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "evil",
            "",
            "/a//b",
            "/\tx",
            "javascript:alert(1)",
        ] {
            assert_eq!(safe_next(Some(bad)), None, "{bad:?}");
        }
        assert_eq!(safe_next(None), None);
        assert_eq!(after_sign_in(Some("//evil")), "/account");
        assert_eq!(after_sign_in(Some("/x")), "/x");
    }

    #[test]
    fn login_links_carry_the_path() {
        assert_eq!(login_with_next("/account"), "/login?next=/account");
        assert_eq!(login_with_next("/a?b=c&d"), "/login?next=/a%3Fb%3Dc%26d");
        assert_eq!(login_with_next("/"), "/login");
    }

    #[test]
    fn pages_carry_only_a_safe_next() {
        assert_eq!(page_with_next("/login", "/account"), "/login?next=/account");
        assert_eq!(
            page_with_next("/login/alternative", "/authorize?a=b c"),
            "/login/alternative?next=/authorize%3Fa%3Db%20c"
        );
        for dropped in ["", "/", "//evil.example", "https://evil.example"] {
            assert_eq!(page_with_next("/login", dropped), "/login", "{dropped:?}");
        }
        assert_eq!(next_param(Some("//evil.example")), "");
        assert_eq!(next_param(Some("/account")), "/account");
    }
}
