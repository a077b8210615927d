//! JWT parsing and verification against the daemon's published keys (RS256, ES256, EdDSA).
//! Arbitrary bytes as a token never panic and never verify with a key that did not sign
//! them; arbitrary claims signed with the active key verify back to the same claims.
#![no_main]

use std::sync::{Arc, OnceLock};

use latchkey_daemon::clock::SystemClock;
use latchkey_daemon::idm::oidc::{Alg, jwt};
use latchkey_daemon::idm::{Actor, Idm, Oidc};
use latchkey_daemon::store::Store;
use libfuzzer_sys::fuzz_target;

fn oidc() -> &'static Oidc {
    static OIDC: OnceLock<Oidc> = OnceLock::new();
    OIDC.get_or_init(|| {
        let idm = Idm::new(Store::memory().expect("a store"), Arc::new(SystemClock));
        let oidc = Oidc::new(idm, "http://localhost:1411").expect("a provider");
        for alg in [Alg::ES256, Alg::EdDSA] {
            oidc.rotate_signing_key(&Actor::system(), Some(alg))
                .expect("a rotation");
        }
        oidc
    })
}

fuzz_target!(|data: &[u8]| {
    let oidc = oidc();
    if let Ok(token) = std::str::from_utf8(data) {
        if let Ok(parts) = jwt::split(token) {
            let _ = parts.claims();
        }
        if let Ok(claims) = oidc.keys().verify_jwt(token) {
            assert!(claims.is_object());
        }
    }
    if let Ok(claims) = serde_json::from_slice::<serde_json::Value>(data)
        && claims.is_object()
    {
        let token = oidc.keys().sign_jwt(Some("JWT"), &claims).expect("signing");
        assert_eq!(oidc.keys().verify_jwt(&token).expect("own token"), claims);
    }
});
