//! A new passkey's default name: the authenticator it was made with, read
//! from the registration's AAGUID ("iCloud Keychain", "YubiKey 5", …), or
//! "Passkey", numbered when the user already has one by that name.

use webauthn_rs::prelude::Uuid;

/// Reads the AAGUID from a registration's attestation object (CBOR) without
/// a CBOR library: find the `authData` byte string, then the attested
/// credential data. Only a naming hint, so anything odd gives `None`.
pub(super) fn aaguid_of(attestation_object: &[u8]) -> Option<[u8; 16]> {
    const KEY: &[u8] = b"\x68authData";
    let at = attestation_object
        .windows(KEY.len())
        .position(|w| w == KEY)?
        .checked_add(KEY.len())?;
    let head = *attestation_object.get(at)?;
    let (len, start) = match head {
        0x40..=0x57 => (usize::from(head & 0x1f), at + 1),
        0x58 => (usize::from(*attestation_object.get(at + 1)?), at + 2),
        0x59 => {
            let b = attestation_object.get(at + 1..at + 3)?;
            (
                usize::from(u16::from_be_bytes([*b.first()?, *b.get(1)?])),
                at + 3,
            )
        }
        _ => return None,
    };
    let auth_data = attestation_object.get(start..start.checked_add(len)?)?;
    // rpIdHash (32) | flags (1) | signCount (4) | aaguid (16) …
    let flags = *auth_data.get(32)?;
    if flags & 0x40 == 0 {
        return None;
    }
    auth_data.get(37..53)?.try_into().ok()
}

/// Authenticator names by AAGUID, for a passkey's default name.
const KNOWN_AUTHENTICATORS: &[(&str, &str)] = &[
    ("fbfc3007-154e-4ecc-8c0b-6e020557d7bd", "iCloud Keychain"),
    (
        "ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4",
        "Google Password Manager",
    ),
    ("08987058-cadc-4b81-b6e1-30de50dcbe96", "Windows Hello"),
    ("9ddd1817-af5a-4672-a2b9-3e3dd95000a9", "Windows Hello"),
    ("6028b017-b1d4-4c02-b4b3-afcdafc96bb2", "Windows Hello"),
    ("bada5566-a7aa-401f-bd96-45619a55120d", "1Password"),
    ("d548826e-79b4-db40-a3d8-11116f7e8349", "Bitwarden"),
    ("cb69481e-8ff7-4039-93ec-0a2729a154a8", "YubiKey 5"),
    ("ee882879-721c-4913-9775-3dfcce97072a", "YubiKey 5"),
    ("fa2b99dc-9e39-4257-8f92-4a30d23c4118", "YubiKey 5"),
    ("2fc0579f-8113-47ea-b116-bb5a8db9202a", "YubiKey 5"),
    ("adce0002-35bc-c60a-648b-0b25f1f05503", "Chrome on Mac"),
];

/// "iCloud Keychain", … or "Passkey"; with " 2", " 3", … if the user
/// already has one by that name.
pub(super) fn default_name(aaguid: Option<[u8; 16]>, taken: &[String]) -> String {
    let base = aaguid
        .map(|a| Uuid::from_bytes(a).hyphenated().to_string())
        .and_then(|a| {
            KNOWN_AUTHENTICATORS
                .iter()
                .find(|(known, _)| *known == a)
                .map(|(_, name)| *name)
        })
        .unwrap_or("Passkey");
    let free = |name: &str| !taken.iter().any(|t| t.eq_ignore_ascii_case(name));
    if free(base) {
        return base.to_owned();
    }
    (2u32..)
        .map(|n| format!("{base} {n}"))
        .find(|name| free(name))
        .unwrap_or_else(|| base.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aaguids_are_read_and_named() {
        let mut auth_data = vec![0u8; 32];
        auth_data.push(0x45); // UP | UV | AT
        auth_data.extend([0, 0, 0, 1]);
        let icloud = Uuid::parse_str("fbfc3007-154e-4ecc-8c0b-6e020557d7bd").unwrap();
        auth_data.extend(icloud.as_bytes());
        auth_data.extend([0, 2, 9, 9]);
        let mut object = vec![0xa3, 0x63];
        object.extend(b"fmt");
        object.extend([0x64]);
        object.extend(b"none");
        object.extend(b"\x68authData");
        object.push(0x58);
        object.push(u8::try_from(auth_data.len()).unwrap());
        object.extend(&auth_data);
        let aaguid = aaguid_of(&object);
        assert_eq!(aaguid, Some(*icloud.as_bytes()));
        assert_eq!(default_name(aaguid, &[]), "iCloud Keychain");
        let taken = vec!["iCloud Keychain".to_owned(), "iCloud Keychain 2".to_owned()];
        assert_eq!(default_name(aaguid, &taken), "iCloud Keychain 3");
        assert_eq!(default_name(Some([0; 16]), &[]), "Passkey");
        assert_eq!(default_name(None, &["passkey".to_owned()]), "Passkey 2");
        assert_eq!(aaguid_of(b"junk"), None);
        assert_eq!(aaguid_of(b"\x68authData\x58"), None);
    }
}
