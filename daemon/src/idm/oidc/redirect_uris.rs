//! Redirect URIs: what may be registered, and how a requested URI is
//! matched against the registered ones.
//!
//! Registration rules (each refusal says which): an absolute `https` URI, or
//! `http` only for `localhost`, `127.0.0.1` and `[::1]`; no fragment; no
//! user name or password; no spaces or control characters; at most
//! [`MAX_URI_LEN`] bytes. A `*` is allowed only when the client allows
//! wildcards, only once, only as the whole leftmost label of an `https`
//! host with at least two labels after it (`https://*.example.com/cb`).
//!
//! Matching is exact, byte for byte, against the URI as registered: no
//! normalisation of case, ports, trailing slashes or dot segments, so
//! `https://app/cb/../x` never matches `https://app/cb`. A wildcard matches
//! exactly one lowercase DNS label (letters, digits, inner hyphens): never
//! a dot, `@`, `:` or anything that could move the host elsewhere.

use super::super::IdmError;

/// Longest redirect URI accepted, in bytes.
pub const MAX_URI_LEN: usize = 2000;
/// Most redirect (or logout redirect) URIs per client.
pub const MAX_URIS: usize = 50;

/// Checks one URI for registration; returns it trimmed.
pub fn validate(
    field: &'static str,
    input: &str,
    allow_wildcard: bool,
) -> Result<String, IdmError> {
    let uri = input.trim();
    let invalid = |message: String| Err(IdmError::invalid(field, message));
    if uri.is_empty() {
        return invalid("must not be empty".to_owned());
    }
    if uri.len() > MAX_URI_LEN {
        return invalid(format!("{uri:.60}… is longer than {MAX_URI_LEN} bytes"));
    }
    if uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return invalid(format!(
            "{uri:?} must not contain spaces or control characters"
        ));
    }
    if uri.contains('#') {
        return invalid(format!("{uri:?} must not contain a fragment (#…)"));
    }
    let wildcards = uri.matches('*').count();
    let parse_as = if wildcards == 0 {
        uri.to_owned()
    } else {
        if !allow_wildcard {
            return invalid(format!(
                "{uri:?} contains a wildcard (*); allow wildcard redirects for this client to use one"
            ));
        }
        let Some(rest) = uri.strip_prefix("https://*.") else {
            return invalid(format!(
                "{uri:?}: a wildcard must be the whole leftmost label of an https host, like https://*.example.com/callback"
            ));
        };
        if wildcards > 1 {
            return invalid(format!("{uri:?} may contain only one wildcard"));
        }
        let host_end = rest.find(['/', '?', ':']).unwrap_or(rest.len());
        let host = rest.get(..host_end).unwrap_or_default();
        if host.split('.').filter(|label| !label.is_empty()).count() < 2 {
            return invalid(format!(
                "{uri:?}: a wildcard needs at least two labels after it, like https://*.example.com/"
            ));
        }
        format!("https://wildcard.{rest}")
    };
    let parsed = match url::Url::parse(&parse_as) {
        Ok(parsed) => parsed,
        Err(e) => return invalid(format!("{uri:?} is not an absolute URI: {e}")),
    };
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return invalid(format!("{uri:?} must not contain a user name or password"));
    }
    let Some(host) = parsed.host() else {
        return invalid(format!("{uri:?} must have a host"));
    };
    match parsed.scheme() {
        "https" => {}
        "http" if is_loopback(&host) => {}
        "http" => {
            return invalid(format!(
                "{uri:?} must use https (http is allowed only for localhost, 127.0.0.1 and [::1])"
            ));
        }
        other => {
            return invalid(format!("{uri:?} must use https, not {other}:"));
        }
    }
    Ok(uri.to_owned())
}

fn is_loopback(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(domain) => domain.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(ip) => *ip == std::net::Ipv4Addr::LOCALHOST,
        url::Host::Ipv6(ip) => *ip == std::net::Ipv6Addr::LOCALHOST,
    }
}

/// Checks a list: at least `min` URIs, at most [`MAX_URIS`], each valid;
/// duplicates are dropped (first kept).
pub(crate) fn validate_all(
    field: &'static str,
    uris: &[String],
    allow_wildcard: bool,
    min: usize,
) -> Result<Vec<String>, IdmError> {
    if uris.len() < min {
        return Err(IdmError::invalid(field, "at least one URI is required"));
    }
    if uris.len() > MAX_URIS {
        return Err(IdmError::invalid(
            field,
            format!("at most {MAX_URIS} URIs are allowed"),
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(uris.len());
    for uri in uris {
        let uri = validate(field, uri, allow_wildcard)?;
        if !out.contains(&uri) {
            out.push(uri);
        }
    }
    Ok(out)
}

/// Whether `candidate` matches one of `registered` (see the module docs). A candidate with a
/// `*` never matches: it is no address a browser can go to, only a wildcard pattern repeated
/// back (found by fuzzing: the pattern matched itself byte for byte).
pub fn matches_any(registered: &[String], candidate: &str, allow_wildcard: bool) -> bool {
    !candidate.contains('*')
        && registered.iter().any(|pattern| {
            pattern == candidate || (allow_wildcard && wildcard_matches(pattern, candidate))
        })
}

fn wildcard_matches(pattern: &str, candidate: &str) -> bool {
    let Some((prefix, suffix)) = pattern.split_once('*') else {
        return false;
    };
    let Some(rest) = candidate.strip_prefix(prefix) else {
        return false;
    };
    let Some(dot) = rest.find('.') else {
        return false;
    };
    let (label, tail) = rest.split_at(dot);
    tail == suffix && is_dns_label(label)
}

/// 1–63 lowercase letters, digits and hyphens, not starting or ending with one.
fn is_dns_label(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= 63
        && label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !label.starts_with('-')
        && !label.ends_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(uri: &str, wildcard: bool) -> bool {
        validate("redirect_uris", uri, wildcard).is_ok()
    }

    fn message(uri: &str, wildcard: bool) -> String {
        validate("redirect_uris", uri, wildcard)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn registration_accepts_https_and_loopback_http() {
        for uri in [
            "https://app.example.com/callback",
            "https://app.example.com:8443/cb?x=1",
            "https://app.example.com",
            "http://localhost:8080/cb",
            "http://LOCALHOST/cb",
            "http://127.0.0.1:9000/cb",
            "http://[::1]:9000/cb",
            "https://10.0.0.5/cb",
        ] {
            assert!(ok(uri, false), "{uri}");
        }
        assert_eq!(
            validate("f", "  https://a.example/cb ", false).unwrap(),
            "https://a.example/cb"
        );
    }

    #[test]
    fn registration_refuses_with_precise_messages() {
        assert!(message("http://app.example.com/cb", false).contains("must use https"));
        assert!(message("http://127.0.0.2/cb", false).contains("must use https"));
        assert!(message("http://localhost.evil.com/cb", false).contains("must use https"));
        assert!(message("https://a.example/cb#frag", false).contains("fragment"));
        assert!(message("/relative/cb", false).contains("not an absolute URI"));
        assert!(message("app.example.com/cb", false).contains("not an absolute URI"));
        assert!(message("ftp://a.example/cb", false).contains("not ftp:"));
        assert!(message("javascript:alert(1)", false).contains("must"));
        assert!(message("com.example.app:/cb", false).contains("must"));
        assert!(message("https://user:pw@a.example/cb", false).contains("user name"));
        assert!(message("https://user@a.example/cb", false).contains("user name"));
        assert!(message("https://a.example/c b", false).contains("spaces"));
        assert!(message("", false).contains("empty"));
        let long = format!("https://a.example/{}", "x".repeat(MAX_URI_LEN));
        assert!(message(&long, false).contains("longer than"));
    }

    #[test]
    fn wildcards_only_where_allowed_and_as_a_whole_leftmost_label() {
        assert!(message("https://*.example.com/cb", false).contains("allow wildcard"));
        assert!(ok("https://*.example.com/cb", true));
        assert!(ok("https://*.apps.example.com:8443/cb", true));
        for bad in [
            "https://a*.example.com/cb",
            "https://app.*.example.com/cb",
            "https://*.com/cb",
            "https://*.example.com/*",
            "https://*.*.example.com/cb",
            "http://*.localhost/cb",
            "https://example.com/cb*",
            "*://example.com/cb",
        ] {
            assert!(!ok(bad, true), "{bad}");
        }
    }

    #[test]
    fn matching_is_exact() {
        let registered = vec![
            "https://app.example.com/cb".to_owned(),
            "http://localhost:8080/cb".to_owned(),
        ];
        assert!(matches_any(
            &registered,
            "https://app.example.com/cb",
            false
        ));
        assert!(matches_any(&registered, "http://localhost:8080/cb", false));
        for near_miss in [
            "https://app.example.com/cb/",
            "https://app.example.com/CB",
            "https://APP.example.com/cb",
            "https://app.example.com:443/cb",
            "https://app.example.com/cb?x=1",
            "https://app.example.com/cb#x",
            "https://app.example.com/cb/../cb",
            "https://app.example.com/cb/..%2Fevil",
            "https://app.example.com.evil.com/cb",
            "https://evil.com@app.example.com/cb",
            "https://app.example.com@evil.com/cb",
            "http://app.example.com/cb",
            "http://localhost:8081/cb",
            "http://localhost/cb",
            "https://app.example.com/c",
            "",
        ] {
            assert!(!matches_any(&registered, near_miss, true), "{near_miss}");
        }
    }

    #[test]
    fn a_wildcard_matches_exactly_one_label() {
        let registered = vec!["https://*.example.com/cb".to_owned()];
        assert!(matches_any(&registered, "https://a.example.com/cb", true));
        assert!(matches_any(
            &registered,
            "https://pr-42.example.com/cb",
            true
        ));
        // Off: the pattern matches nothing. Nor does the pattern itself, either way: no
        // browser can go to a host with a `*`.
        assert!(!matches_any(&registered, "https://a.example.com/cb", false));
        assert!(!matches_any(&registered, "https://*.example.com/cb", false));
        assert!(!matches_any(&registered, "https://*.example.com/cb", true));
        for bad in [
            "https://example.com/cb",
            "https://.example.com/cb",
            "https://a.b.example.com/cb",
            "https://evil.com@a.example.com/cb",
            "https://evil.com/.example.com/cb",
            "https://evil.com?.example.com/cb",
            "https://evil.com#.example.com/cb",
            "https://a:1.example.com/cb",
            "https://A.example.com/cb",
            "https://-a.example.com/cb",
            "https://a-.example.com/cb",
            "https://a.example.com/cb/",
            "https://a.example.com/cbx",
            "https://a.example.com.evil.com/cb",
            "http://a.example.com/cb",
            "https://a%2eb.example.com/cb",
        ] {
            assert!(!matches_any(&registered, bad, true), "{bad}");
        }
        let long_label = format!("https://{}.example.com/cb", "a".repeat(64));
        assert!(!matches_any(&registered, &long_label, true));
    }
}
