//! The expiry choice the login-code picker and the signup-token dialog offer: one of the
//! protocol's presets, or a duration typed after "Other".

use std::time::Duration;

use latchkey_protocol::{EXPIRY_PRESETS, ExpiryError, parse_expiry};

use super::input::TextInput;

/// The index of the "Other" line, after the presets.
pub const CUSTOM: usize = EXPIRY_PRESETS.len();

/// The expiry `selected` stands for, and its label: a preset's, or the custom text as typed.
pub fn chosen(selected: usize, custom: &TextInput) -> Result<(Duration, String), ExpiryError> {
    let (text, label) = match EXPIRY_PRESETS.get(selected) {
        Some((text, label)) => ((*text).to_owned(), (*label).to_owned()),
        None => {
            let text = custom.value().trim().to_owned();
            (text.clone(), text)
        }
    };
    Ok((parse_expiry(&text)?, label))
}
