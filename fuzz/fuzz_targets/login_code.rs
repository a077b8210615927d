//! Login-code normalisation: whatever is typed, the answer is `None` or a canonical code
//! that normalises to itself.
#![no_main]

use latchkey_daemon::idm::normalize_login_code;
use libfuzzer_sys::fuzz_target;

const ALPHABET: &str = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(code) = normalize_login_code(input) {
        assert_eq!(code.len(), 16, "{code:?}");
        assert!(code.chars().all(|c| ALPHABET.contains(c)), "{code:?}");
        assert_eq!(normalize_login_code(&code).as_deref(), Some(code.as_str()));
        // Grouped and lower-cased, as a user may type it back.
        let typed = format!(
            "{}-{}",
            code.get(..8).unwrap_or_default().to_lowercase(),
            code.get(8..).unwrap_or_default()
        );
        assert_eq!(normalize_login_code(&typed).as_deref(), Some(code.as_str()));
    }
});
