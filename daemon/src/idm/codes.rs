//! Codes people read and type: Crockford's base32 (digits and letters
//! without I, L, O and U), grouped by four with hyphens. Login codes (16
//! characters, 80 bits) and the short code in a sign-in mail (8 characters,
//! 40 bits) are both made and read here, so both forgive the same slips:
//! case, spaces and hyphens do not matter, and O, I, L and U read as 0, 1, 1
//! and V.

use super::{IdmError, secrets};

/// Crockford's base32 alphabet: digits and letters without I, L, O, U.
pub const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Characters between hyphens when a code is shown.
const GROUP: usize = 4;

/// A fresh code of `LEN` characters, normalised (no hyphens). 256 is a
/// multiple of 32, so taking each random byte modulo 32 is unbiased.
pub(crate) fn generate<const LEN: usize>() -> Result<String, IdmError> {
    let bytes = secrets::random_bytes::<LEN>()?;
    Ok(bytes
        .iter()
        .map(|b| {
            ALPHABET
                .get(usize::from(b % 32))
                .map_or('0', |&c| char::from(c))
        })
        .collect())
}

/// The canonical form of what someone typed: uppercase, without spaces or
/// hyphens, with O→0, I/L→1, U→V. `None` when it cannot be a code of `len`
/// characters.
pub(crate) fn normalize(input: &str, len: usize) -> Option<String> {
    let mut out = String::with_capacity(len);
    for c in input.chars() {
        let c = match c.to_ascii_uppercase() {
            ' ' | '-' | '\t' => continue,
            'O' => '0',
            'I' | 'L' => '1',
            'U' => 'V',
            c => c,
        };
        if !c.is_ascii() || !ALPHABET.contains(&(c as u8)) || out.len() >= len {
            return None;
        }
        out.push(c);
    }
    (out.len() == len).then_some(out)
}

/// `XXXX-XXXX-…` from a normalised code.
pub(crate) fn grouped(code: &str) -> String {
    let mut out = String::with_capacity(code.len() + code.len() / GROUP);
    for (i, c) in code.chars().enumerate() {
        if i > 0 && i % GROUP == 0 {
            out.push('-');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_alphabet_has_no_ambiguous_letters() {
        assert_eq!(ALPHABET.len(), 32);
        assert!(!ALPHABET.iter().any(|c| b"ILOU".contains(c)));
    }

    #[test]
    fn codes_are_grouped_by_four_and_read_back_forgivingly() {
        let code = generate::<8>().unwrap();
        assert_eq!(code.len(), 8);
        let shown = grouped(&code);
        assert_eq!(shown.len(), 9);
        assert_eq!(normalize(&shown.to_lowercase(), 8), Some(code));
        assert_eq!(normalize("ABCD-EFGO", 8), Some("ABCDEFG0".into()));
        assert_eq!(normalize("abcd efgh", 8), Some("ABCDEFGH".into()));
        assert_eq!(normalize("ABCD-EFG", 8), None);
        assert_eq!(normalize("ABCD-EFGHJ", 8), None);
        assert_eq!(normalize("ABCD-EFG!", 8), None);
    }
}
