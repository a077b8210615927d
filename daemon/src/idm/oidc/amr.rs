//! RFC 8176 `amr` values: how the user signed in, as the browser session recorded it.
//!
//! | sign-in                                  | `amr`                          |
//! |------------------------------------------|--------------------------------|
//! | passkey, device-bound, user verified     | `hwk`, `mfa`, `pin`, `user`    |
//! | passkey, synced, user verified           | `mfa`, `pin`, `swk`, `user`    |
//! | passkey without user verification        | `hwk` or `swk`, `user`         |
//! | passkey, session from before flags kept  | `pop`, `user`                  |
//! | login code, emailed sign-in link or code | `otp`                          |
//! | signup, first-admin setup link           | none (the claim is left out)   |
//!
//! Why these:
//! - `user` (user presence): every assertion webauthn-rs accepts has the UP flag.
//! - `hwk` only for a device-bound credential (BE flag clear). A backup-eligible (synced)
//!   passkey's private key leaves the device it was made on, so it is not hardware-bound:
//!   `swk`. A session stored before the flags were kept proved possession of a key of
//!   unknown kind: `pop`, which RFC 8176 defines for exactly that.
//! - `pin` when the authenticator verified the user (UV flag): the local unlock of the key.
//!   WebAuthn does not say whether that was a PIN, a pattern or a biometric, and `pin` is
//!   RFC 8176's value for "a PIN or pattern that unlocks a key on the device"; claiming
//!   `fpt` or `face` would be a guess. With it, possession plus the unlock is `mfa`.
//! - `otp` for login codes and emailed links or codes: one-time secrets.
//! - A signup or setup session proved nothing about the user yet (the account was made in
//!   that step, by whoever held the link), so it claims no method at all rather than `otp`.

use latchkey_protocol::SignInMethod;

use crate::idm::Session;

/// The `amr` values for a grant made in `session`, sorted; empty when the claim is left out.
pub fn amr_for(session: &Session) -> Vec<String> {
    let mut values: Vec<&str> = match session.method {
        SignInMethod::Passkey => {
            let mut values = vec!["user"];
            match session.passkey {
                None => values.push("pop"),
                Some(proof) => {
                    values.push(if proof.synced { "swk" } else { "hwk" });
                    if proof.user_verified {
                        values.extend(["pin", "mfa"]);
                    }
                }
            }
            values
        }
        SignInMethod::LoginCode | SignInMethod::EmailLink => vec!["otp"],
        SignInMethod::Signup | SignInMethod::Setup => Vec::new(),
    };
    values.sort_unstable();
    values.into_iter().map(str::to_owned).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::idm::{PasskeyProof, UserId};
    use time::OffsetDateTime;

    fn session(method: SignInMethod, passkey: Option<PasskeyProof>) -> Session {
        Session {
            public_id: "s".into(),
            user_id: UserId::random(),
            method,
            ip: None,
            user_agent: None,
            created_at: OffsetDateTime::UNIX_EPOCH,
            last_seen_at: OffsetDateTime::UNIX_EPOCH,
            expires_at: OffsetDateTime::UNIX_EPOCH,
            passkey,
        }
    }

    fn proof(synced: bool, user_verified: bool) -> Option<PasskeyProof> {
        Some(PasskeyProof {
            synced,
            user_verified,
        })
    }

    #[test]
    fn each_sign_in_method_has_its_values() {
        let amr = |method, passkey| amr_for(&session(method, passkey));
        let p = SignInMethod::Passkey;
        assert_eq!(amr(p, proof(false, true)), ["hwk", "mfa", "pin", "user"]);
        assert_eq!(amr(p, proof(true, true)), ["mfa", "pin", "swk", "user"]);
        assert_eq!(amr(p, proof(false, false)), ["hwk", "user"]);
        assert_eq!(amr(p, proof(true, false)), ["swk", "user"]);
        assert_eq!(amr(p, None), ["pop", "user"]);
        assert_eq!(amr(SignInMethod::LoginCode, None), ["otp"]);
        assert_eq!(amr(SignInMethod::EmailLink, None), ["otp"]);
        assert!(amr(SignInMethod::Signup, None).is_empty());
        assert!(amr(SignInMethod::Setup, None).is_empty());
    }
}
