//! Redirect-URI registration and matching. Input: a registered URI and a candidate, split at
//! the first newline. Whatever they are, nothing panics; a match without wildcards is byte
//! equality; a wildcard match never leaves the registered host's parent domain, scheme, port,
//! path or query.
#![no_main]

use latchkey_daemon::idm::oidc::redirect_uris::{matches_any, validate};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (registered, candidate) = text.split_once('\n').unwrap_or((text, text));
    for wildcard in [false, true] {
        let Ok(pattern) = validate("redirect_uris", registered, wildcard) else {
            continue;
        };
        let patterns = [pattern.clone()];
        if !matches_any(&patterns, candidate, wildcard) {
            continue;
        }
        if !wildcard || !pattern.contains('*') {
            assert_eq!(candidate, pattern);
            continue;
        }
        let concrete = url::Url::parse(&pattern.replacen('*', "x", 1)).expect("registered");
        let got = url::Url::parse(candidate).expect("a wildcard match is a URL");
        assert_eq!(got.scheme(), concrete.scheme());
        assert_eq!(got.port(), concrete.port());
        assert_eq!(got.path(), concrete.path());
        assert_eq!(got.query(), concrete.query());
        assert_eq!(got.fragment(), None);
        assert!(got.username().is_empty() && got.password().is_none());
        let parent = concrete
            .host_str()
            .and_then(|h| h.split_once('.'))
            .map(|(_, parent)| format!(".{parent}"))
            .expect("a wildcard host has a parent");
        let host = got.host_str().expect("a host");
        assert!(host.ends_with(&parent), "{host} outside {parent}");
        assert!(!host.trim_end_matches(&parent).contains('.'), "{host}");
    }
});
