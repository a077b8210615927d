//! Grants and authorization codes.
//!
//! A *grant* is one authorization: a user, a client, the browser session it was made in
//! (its public id, the `sid` claim), the scopes, when and how the user signed in, the nonce.
//! Access tokens carry the grant's id (`gid`) so revoking the grant ends them without storing
//! them: `REVOKED_GRANTS` lists revoked grants (code replay, refresh-token reuse, revocation
//! of a refresh token), revoked (session, client) pairs (RP-initiated logout), and
//! `GRANT_EPOCHS` counts revocations per (user, client) (revoked consent), which ends every
//! grant made under an older epoch.
//!
//! Authorization codes live only in memory ([`CodeStore`]): keyed by the SHA-256 of the
//! code, expiring by the injected clock after the client's code lifetime, at most
//! [`MAX_CODES`] at once (the oldest go first). A code is single use: redeeming it leaves a
//! tombstone (until the code would have expired) so that a second use is recognised as a
//! replay, which fails and revokes the grant and everything it issued. Decision: a daemon
//! restart drops codes in flight (the user signs in again); codes live seconds, and keeping
//! them off disk keeps the code exchange free of writes unless it issues a refresh token.
//!
//! PKCE (RFC 7636): `S256` only, and the method must be named. `plain` sends the verifier
//! itself as the challenge, so anyone who sees the authorization request (browser history, a
//! proxy log, a malicious app on the device) can redeem the code; RFC 9700 (OAuth 2.0 Security
//! BCP) says not to use it, and a request that omits the method means `plain` (RFC 7636
//! §4.3), so it is refused too. The verifier is checked in constant time.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::idm::{IdmError, UserId, secrets};

/// The most live codes (and, separately, used-code tombstones) kept at once. 20,000 is a
/// sign-in every 30 ms for ten minutes, far beyond a small organisation's peak; it bounds
/// what a flood of authorizations can take (about 10 MB of live codes, 2 MB of tombstones:
/// with 100,000 the daemon grew past 60 MB in `scripts/bench-oidc`). Past it the oldest
/// go first: a flooded tombstone's code is still refused when replayed, it just no longer
/// revokes its grant.
pub const MAX_CODES: usize = 20_000;

/// One authorization of a client by a user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    /// 16 random bytes; `gid` in access tokens (base64url).
    pub id: [u8; 16],
    pub user_id: UserId,
    pub client_id: String,
    /// The public id of the browser session the user authorized in.
    pub sid: Option<String>,
    pub scopes: Vec<String>,
    /// When the user signed in (unix seconds).
    pub auth_time: i64,
    /// RFC 8176 authentication method references.
    pub amr: Vec<String>,
    pub nonce: Option<String>,
    /// The (user, client) revocation epoch at authorization time.
    pub epoch: u64,
}

impl Grant {
    pub fn new_id() -> Result<[u8; 16], IdmError> {
        secrets::random_bytes::<16>()
    }

    /// The `gid` claim.
    pub fn id_text(&self) -> String {
        grant_id_text(&self.id)
    }

    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

pub fn grant_id_text(id: &[u8; 16]) -> String {
    URL_SAFE_NO_PAD.encode(id)
}

pub fn parse_grant_id(text: &str) -> Option<[u8; 16]> {
    URL_SAFE_NO_PAD.decode(text).ok()?.try_into().ok()
}

/// The `REVOKED_GRANTS` selector of one grant.
pub fn grant_selector(grant_id: &str) -> String {
    format!("g:{grant_id}")
}

/// The selector of a client's grants made in one browser session.
pub fn session_client_selector(sid: &str, client_id: &str) -> String {
    format!("s:{sid}:{client_id}")
}

/// The selector of every client's grants made in one browser session.
pub fn session_selector(sid: &str) -> String {
    format!("s:{sid}")
}

/// Every selector that, revoked, ends a grant with this id, session and client.
pub fn selectors_of(grant_id: &str, sid: Option<&str>, client_id: &str) -> Vec<String> {
    let mut out = vec![grant_selector(grant_id)];
    if let Some(sid) = sid {
        out.push(session_client_selector(sid, client_id));
        out.push(session_selector(sid));
    }
    out
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChallengeMethod {
    S256,
}

impl ChallengeMethod {
    /// The `code_challenge_method` of a request that has a `code_challenge`; `Err` says
    /// why it is refused.
    pub fn parse(value: Option<&str>) -> Result<ChallengeMethod, &'static str> {
        match value {
            Some("S256") => Ok(ChallengeMethod::S256),
            None => Err(
                "code_challenge_method is required with code_challenge, and must be S256 \
                 (without it the method would be plain, which is not supported)",
            ),
            Some("plain") => Err(
                "code_challenge_method plain is not supported: use S256 (send the SHA-256 of \
                 the verifier, not the verifier itself)",
            ),
            Some(_) => Err("code_challenge_method must be S256"),
        }
    }
}

/// A PKCE code challenge from the authorization request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeChallenge {
    pub method: ChallengeMethod,
    pub challenge: String,
}

/// 43 to 128 characters of `[A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~"` (RFC 7636 §4.1,
/// and §4.2 for the challenge).
pub fn pkce_syntax_ok(value: &str) -> bool {
    (43..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

impl CodeChallenge {
    /// Whether `verifier` answers this challenge.
    pub fn verify(&self, verifier: &str) -> bool {
        if !pkce_syntax_ok(verifier) {
            return false;
        }
        let expected = match self.method {
            ChallengeMethod::S256 => URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())),
        };
        expected.len() == self.challenge.len()
            && bool::from(expected.as_bytes().ct_eq(self.challenge.as_bytes()))
    }
}

/// An issued, not yet redeemed authorization code.
#[derive(Clone, Debug)]
pub struct PendingCode {
    pub grant: Grant,
    pub redirect_uri: String,
    pub challenge: Option<CodeChallenge>,
    pub expires_at: i64,
}

/// What redeeming a code found.
#[derive(Debug)]
pub enum Redeemed {
    Fresh(Box<PendingCode>),
    /// Used before: the grant it belonged to must be revoked.
    Replayed {
        grant_id: [u8; 16],
        client_id: String,
        user_id: UserId,
    },
    /// Unknown or expired.
    Unknown,
}

/// A redeemed code's tombstone: what a replay must revoke. Kept small, since under a steady
/// stream of sign-ins there is one per authorization of the last ten minutes (up to
/// [`MAX_CODES`]): 16-byte key, no string of its own (the client id is shared).
#[derive(Debug)]
struct UsedCode {
    grant_id: [u8; 16],
    user_id: UserId,
    client_id: Arc<str>,
    until: i64,
}

/// A code's key in the maps: the first half of its SHA-256. The code itself has 256 random
/// bits; 128 bits of its hash are as unguessable and cannot collide in practice.
type CodeKey = [u8; 16];

fn code_key(code: &str) -> CodeKey {
    let digest = secrets::sha256(code.as_bytes());
    let mut key = [0; 16];
    for (k, d) in key.iter_mut().zip(digest) {
        *k = d;
    }
    key
}

/// Codes in flight. `order` is insertion order with each entry's expiry; entries already
/// redeemed are skipped when popped.
#[derive(Default)]
pub struct CodeStore {
    live: HashMap<CodeKey, PendingCode>,
    order: VecDeque<(i64, CodeKey)>,
    used: HashMap<CodeKey, UsedCode>,
    used_order: VecDeque<(i64, CodeKey)>,
    /// One copy of each client id the tombstones name.
    client_ids: HashSet<Arc<str>>,
}

impl std::fmt::Debug for CodeStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodeStore")
            .field("live", &self.live.len())
            .field("used", &self.used.len())
            .finish()
    }
}

impl CodeStore {
    /// Stores `pending` under a fresh random code and returns the code.
    pub fn insert(&mut self, now: i64, pending: PendingCode) -> Result<String, IdmError> {
        self.evict(now);
        let code = secrets::random_token::<32>()?;
        let key = code_key(&code);
        self.order.push_back((pending.expires_at, key));
        self.live.insert(key, pending);
        Ok(code)
    }

    /// Takes the code out (single use). A later redeem of the same code is a replay until the
    /// code would have expired.
    pub fn redeem(&mut self, now: i64, code: &str) -> Redeemed {
        self.evict(now);
        let key = code_key(code);
        if let Some(pending) = self.live.remove(&key) {
            if pending.expires_at <= now {
                return Redeemed::Unknown;
            }
            let client_id = self.shared_client_id(&pending.grant.client_id);
            self.used.insert(
                key,
                UsedCode {
                    grant_id: pending.grant.id,
                    user_id: pending.grant.user_id,
                    client_id,
                    until: pending.expires_at,
                },
            );
            self.used_order.push_back((pending.expires_at, key));
            return Redeemed::Fresh(Box::new(pending));
        }
        match self.used.get(&key) {
            Some(used) if used.until > now => Redeemed::Replayed {
                grant_id: used.grant_id,
                client_id: used.client_id.to_string(),
                user_id: used.user_id,
            },
            _ => Redeemed::Unknown,
        }
    }

    /// Whether redeeming `code` would write: its grant asks for a refresh token
    /// (`offline_access`), or it was used before (a replay revokes its grant).
    pub fn redeem_may_write(&self, code: &str) -> bool {
        let key = code_key(code);
        match self.live.get(&key) {
            Some(pending) => pending.grant.has_scope("offline_access"),
            None => self.used.contains_key(&key),
        }
    }

    pub fn live_count(&self) -> usize {
        self.live.len()
    }

    fn shared_client_id(&mut self, client_id: &str) -> Arc<str> {
        if let Some(shared) = self.client_ids.get(client_id) {
            return Arc::clone(shared);
        }
        let shared: Arc<str> = Arc::from(client_id);
        self.client_ids.insert(Arc::clone(&shared));
        shared
    }

    /// Drops expired entries, and the oldest ones beyond [`MAX_CODES`].
    fn evict(&mut self, now: i64) {
        evict_queue(&mut self.live, &mut self.order, now, MAX_CODES);
        evict_queue(&mut self.used, &mut self.used_order, now, MAX_CODES);
        if self.used.is_empty() {
            // Deleted clients' ids go once no tombstone names them.
            self.client_ids.clear();
        }
    }
}

fn evict_queue<V>(
    map: &mut HashMap<CodeKey, V>,
    order: &mut VecDeque<(i64, CodeKey)>,
    now: i64,
    max: usize,
) {
    while let Some(&(expires_at, key)) = order.front() {
        let live = map.contains_key(&key);
        if live && expires_at > now && map.len() < max {
            break;
        }
        order.pop_front();
        if live {
            map.remove(&key);
        }
    }
    if order.len() > 2 * max {
        order.retain(|(_, key)| map.contains_key(key));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant() -> Grant {
        Grant {
            id: [7; 16],
            user_id: UserId::random(),
            client_id: "client".into(),
            sid: Some("sid".into()),
            scopes: vec!["openid".into()],
            auth_time: 100,
            amr: vec!["hwk".into()],
            nonce: Some("n".into()),
            epoch: 0,
        }
    }

    fn pending(expires_at: i64) -> PendingCode {
        PendingCode {
            grant: grant(),
            redirect_uri: "https://rp.example/cb".into(),
            challenge: None,
            expires_at,
        }
    }

    #[test]
    fn a_code_is_single_use_and_a_replay_names_its_grant() {
        let mut store = CodeStore::default();
        let code = store.insert(100, pending(700)).unwrap();
        assert_eq!(code.len(), 43);
        assert!(matches!(store.redeem(101, &code), Redeemed::Fresh(p) if p.grant.id == [7; 16]));
        assert!(matches!(
            store.redeem(102, &code),
            Redeemed::Replayed { grant_id, .. } if grant_id == [7; 16]
        ));
        // After the code's lifetime a replay is just an unknown code.
        assert!(matches!(store.redeem(700, &code), Redeemed::Unknown));
        assert!(matches!(store.redeem(101, "nope"), Redeemed::Unknown));
    }

    #[test]
    fn only_refresh_grants_and_replays_make_a_redeem_write() {
        let mut store = CodeStore::default();
        let plain = store.insert(100, pending(700)).unwrap();
        let mut offline = pending(700);
        offline.grant.scopes.push("offline_access".into());
        let offline = store.insert(100, offline).unwrap();
        assert!(!store.redeem_may_write(&plain));
        assert!(store.redeem_may_write(&offline));
        assert!(!store.redeem_may_write("unknown"));
        store.redeem(101, &plain);
        assert!(store.redeem_may_write(&plain), "a replay revokes its grant");
    }

    #[test]
    fn codes_expire_by_the_clock() {
        let mut store = CodeStore::default();
        let code = store.insert(100, pending(160)).unwrap();
        assert!(matches!(store.redeem(160, &code), Redeemed::Unknown));
        let code = store.insert(100, pending(160)).unwrap();
        store.insert(200, pending(800)).unwrap();
        assert_eq!(store.live_count(), 1, "the expired code was evicted");
        assert!(matches!(store.redeem(201, &code), Redeemed::Unknown));
    }

    #[test]
    fn the_store_is_bounded() {
        let mut store = CodeStore::default();
        let first = store.insert(0, pending(10_000)).unwrap();
        for _ in 0..MAX_CODES {
            store.insert(0, pending(10_000)).unwrap();
        }
        assert_eq!(store.live_count(), MAX_CODES);
        assert!(matches!(store.redeem(1, &first), Redeemed::Unknown));
    }

    #[test]
    fn pkce_is_s256_only() {
        // RFC 7636 appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let s256 = CodeChallenge {
            method: ChallengeMethod::S256,
            challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into(),
        };
        assert!(s256.verify(verifier));
        assert!(!s256.verify("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK"));
        assert!(!s256.verify(""));
        assert!(!s256.verify("short"));
        // The challenge itself is not a verifier for S256.
        assert!(!s256.verify("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"));
        assert!(!pkce_syntax_ok(&"a".repeat(129)));
        assert!(!pkce_syntax_ok(&format!("{}+", "a".repeat(43))));
        assert_eq!(
            ChallengeMethod::parse(Some("S256")),
            Ok(ChallengeMethod::S256)
        );
        assert!(
            ChallengeMethod::parse(None)
                .unwrap_err()
                .contains("required")
        );
        assert!(
            ChallengeMethod::parse(Some("plain"))
                .unwrap_err()
                .contains("plain")
        );
        assert!(ChallengeMethod::parse(Some("s256")).is_err());
    }

    #[test]
    fn grant_ids_round_trip_and_selectors() {
        let g = grant();
        assert_eq!(parse_grant_id(&g.id_text()), Some([7; 16]));
        assert_eq!(parse_grant_id("bad!"), None);
        let sel = selectors_of("abc", Some("sid"), "c");
        assert_eq!(sel, vec!["g:abc", "s:sid:c", "s:sid"]);
        assert_eq!(selectors_of("abc", None, "c"), vec!["g:abc"]);
    }
}
