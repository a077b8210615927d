//! The OIDC administration side (keys, clients, consent, claims) against an in-memory store
//! and a manual clock.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use latchkey_protocol::{
    AuditQuery, ClaimOwner, ClientPatch, NewClient, NewGroup, NewUser, TokenLifetimes,
};
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::ecdsa::EcdsaSig;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{Id, PKey, Public};
use openssl::rsa::Rsa;
use openssl::sign::Verifier;
use serde_json::{Value, json};
use time::macros::datetime;

use super::*;
use crate::clock::{Clock, ManualClock};
use crate::idm::{Actor, Idm, IdmError};
use crate::store::Store;

fn setup() -> (Oidc, ManualClock) {
    let clock = ManualClock::new(datetime!(2026-03-01 09:30:00 UTC));
    let idm = Idm::new(Store::memory().unwrap(), Arc::new(clock.clone()));
    (Oidc::new(idm, "https://id.example.com/").unwrap(), clock)
}

fn admin() -> Actor {
    Actor::admin_socket(1000)
}

fn events(oidc: &Oidc) -> Vec<String> {
    oidc.idm()
        .list_audit(&AuditQuery::default())
        .unwrap()
        .into_iter()
        .map(|e| e.event)
        .collect()
}

fn new_client(name: &str) -> NewClient {
    NewClient {
        name: name.into(),
        redirect_uris: vec!["https://app.example.com/cb".into()],
        ..NewClient::default()
    }
}

fn b64d(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(text).unwrap()
}

fn jwks(oidc: &Oidc) -> Vec<Value> {
    let doc: Value = serde_json::from_slice(&oidc.keys().jwks_json()).unwrap();
    doc["keys"].as_array().unwrap().clone()
}

/// Rebuilds a public key from its JWK alone, the way a relying party does.
fn public_key(jwk: &Value) -> PKey<Public> {
    let field = |name: &str| b64d(jwk[name].as_str().unwrap());
    match jwk["kty"].as_str().unwrap() {
        "RSA" => {
            let rsa = Rsa::from_public_components(
                BigNum::from_slice(&field("n")).unwrap(),
                BigNum::from_slice(&field("e")).unwrap(),
            )
            .unwrap();
            PKey::from_rsa(rsa).unwrap()
        }
        "EC" => {
            assert_eq!(jwk["crv"], "P-256");
            assert_eq!(field("x").len(), 32);
            assert_eq!(field("y").len(), 32);
            let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
            let key = EcKey::from_public_key_affine_coordinates(
                &group,
                &BigNum::from_slice(&field("x")).unwrap(),
                &BigNum::from_slice(&field("y")).unwrap(),
            )
            .unwrap();
            PKey::from_ec_key(key).unwrap()
        }
        "OKP" => {
            assert_eq!(jwk["crv"], "Ed25519");
            PKey::public_key_from_raw_bytes(&field("x"), Id::ED25519).unwrap()
        }
        other => panic!("unexpected kty {other}"),
    }
}

/// Verifies a token with only the JWKS, independently of `KeySet`.
fn verify_with_jwks(oidc: &Oidc, token: &str) -> bool {
    let mut parts = token.split('.');
    let (h, c, s) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    let header: Value = serde_json::from_slice(&b64d(h)).unwrap();
    let jwk = jwks(oidc)
        .into_iter()
        .find(|k| k["kid"] == header["kid"])
        .unwrap();
    assert_eq!(jwk["alg"], header["alg"]);
    let key = public_key(&jwk);
    let input = format!("{h}.{c}");
    let sig = b64d(s);
    match header["alg"].as_str().unwrap() {
        "RS256" => {
            let mut v = Verifier::new(MessageDigest::sha256(), &key).unwrap();
            v.verify_oneshot(&sig, input.as_bytes()).unwrap()
        }
        "ES256" => {
            assert_eq!(sig.len(), 64);
            let der = EcdsaSig::from_private_components(
                BigNum::from_slice(&sig[..32]).unwrap(),
                BigNum::from_slice(&sig[32..]).unwrap(),
            )
            .unwrap()
            .to_der()
            .unwrap();
            let mut v = Verifier::new(MessageDigest::sha256(), &key).unwrap();
            v.verify_oneshot(&der, input.as_bytes()).unwrap()
        }
        "EdDSA" => {
            let mut v = Verifier::new_without_digest(&key).unwrap();
            v.verify_oneshot(&sig, input.as_bytes()).unwrap()
        }
        other => panic!("unexpected alg {other}"),
    }
}

// --- keys and JWTs ---

#[test]
fn first_start_makes_an_rs256_key_and_a_restart_keeps_it() {
    let (oidc, _) = setup();
    assert_eq!(oidc.issuer(), "https://id.example.com");
    assert_eq!(oidc.keys().active_alg(), Alg::RS256);
    let keys = oidc.list_signing_keys().unwrap();
    assert_eq!(keys.len(), 1);
    assert!(keys[0].active);
    assert!(events(&oidc).is_empty());
    let again = Oidc::new(oidc.idm().clone(), "https://id.example.com").unwrap();
    assert_eq!(again.list_signing_keys().unwrap(), keys);
    assert_eq!(again.keys().active_kid(), oidc.keys().active_kid());
}

#[test]
fn every_algorithm_signs_and_verifies_and_its_jwk_verifies_too() {
    let (oidc, _) = setup();
    for alg in [Alg::ES256, Alg::EdDSA, Alg::RS256] {
        oidc.rotate_signing_key(&admin(), Some(alg)).unwrap();
        assert_eq!(oidc.keys().active_alg(), alg);
        let claims = json!({"sub": "u1", "aud": "c1", "n": 1});
        let token = oidc.keys().sign_jwt(Some("at+jwt"), &claims).unwrap();
        assert_eq!(oidc.keys().verify_jwt(&token).unwrap(), claims);
        let header: Value =
            serde_json::from_slice(&b64d(token.split('.').next().unwrap())).unwrap();
        assert_eq!(header["alg"], alg.as_str());
        assert_eq!(header["typ"], "at+jwt");
        assert_eq!(header["kid"].as_str(), oidc.keys().active_kid().as_deref());
        assert!(verify_with_jwks(&oidc, &token), "{alg}");
        let plain = oidc.keys().sign_jwt(None, &claims).unwrap();
        let header: Value =
            serde_json::from_slice(&b64d(plain.split('.').next().unwrap())).unwrap();
        assert!(header.get("typ").is_none());
    }
}

#[test]
fn jwks_has_the_right_members_per_key_type() {
    let (oidc, clock) = setup();
    // A second apart: keys made in the same second have no defined order.
    clock.advance(time::Duration::seconds(1));
    oidc.rotate_signing_key(&admin(), Some(Alg::ES256)).unwrap();
    clock.advance(time::Duration::seconds(1));
    oidc.rotate_signing_key(&admin(), Some(Alg::EdDSA)).unwrap();
    let keys = jwks(&oidc);
    assert_eq!(keys.len(), 3);
    let names = |k: &Value| {
        let mut names: Vec<String> = k.as_object().unwrap().keys().cloned().collect();
        names.sort();
        names.join(",")
    };
    // Active (EdDSA) first, then newest first.
    assert_eq!(keys[0]["kty"], "OKP");
    assert_eq!(names(&keys[0]), "alg,crv,kid,kty,use,x");
    assert_eq!(keys[1]["kty"], "EC");
    assert_eq!(names(&keys[1]), "alg,crv,kid,kty,use,x,y");
    assert_eq!(keys[2]["kty"], "RSA");
    assert_eq!(names(&keys[2]), "alg,e,kid,kty,n,use");
    assert_eq!(b64d(keys[2]["n"].as_str().unwrap()).len(), 256);
    assert_eq!(keys[2]["e"], "AQAB");
    for key in &keys {
        assert_eq!(key["use"], "sig");
        // No private members, ever.
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(key.get(private).is_none());
        }
        // The kid is the RFC 7638 thumbprint: 43 base64url characters.
        assert_eq!(key["kid"].as_str().unwrap().len(), 43);
    }
    assert_eq!(
        oidc.keys().published_algs(),
        [Alg::EdDSA, Alg::ES256, Alg::RS256]
    );
}

#[test]
fn a_token_signed_before_rotation_verifies_until_its_key_retires() {
    let (oidc, clock) = setup();
    let old = oidc.keys().sign_jwt(None, &json!({"sub": "a"})).unwrap();
    let keys = oidc.rotate_signing_key(&admin(), None).unwrap();
    assert_eq!(keys.len(), 2);
    assert!(keys[0].active && !keys[1].active);
    assert_eq!(keys[0].alg, Alg::RS256, "the default is the current alg");
    // Longest token lifetime (default 60 min) plus the margin.
    assert_eq!(
        keys[1].retire_at.unwrap(),
        clock.now() + time::Duration::seconds(3600 + KEY_RETIRE_MARGIN_SECS)
    );
    assert_eq!(jwks(&oidc).len(), 2);
    assert!(oidc.keys().verify_jwt(&old).is_ok());
    assert!(verify_with_jwks(&oidc, &old));
    let new = oidc.keys().sign_jwt(None, &json!({"sub": "b"})).unwrap();
    assert!(oidc.keys().verify_jwt(&new).is_ok());

    clock.advance(time::Duration::seconds(3600));
    assert_eq!(oidc.sweep_signing_keys().unwrap(), 0);
    assert!(oidc.keys().verify_jwt(&old).is_ok());
    clock.advance(time::Duration::seconds(KEY_RETIRE_MARGIN_SECS));
    assert_eq!(oidc.sweep_signing_keys().unwrap(), 1);
    assert_eq!(oidc.keys().verify_jwt(&old), Err(JwtError::UnknownKey));
    assert!(oidc.keys().verify_jwt(&new).is_ok());
    assert_eq!(jwks(&oidc).len(), 1);
    assert!(events(&oidc).contains(&"signing_key_rotated".to_owned()));
}

#[test]
fn retirement_waits_for_the_longest_client_token_lifetime() {
    let (oidc, clock) = setup();
    let mut input = new_client("Long");
    input.lifetimes.access_token_secs = Some(86_400);
    oidc.create_client(&admin(), input).unwrap();
    let keys = oidc.rotate_signing_key(&admin(), Some(Alg::ES256)).unwrap();
    assert_eq!(
        keys[1].retire_at.unwrap(),
        clock.now() + time::Duration::seconds(86_400 + KEY_RETIRE_MARGIN_SECS)
    );
}

#[test]
fn tampered_and_forged_tokens_are_refused() {
    let (oidc, _) = setup();
    let token = oidc
        .keys()
        .sign_jwt(None, &json!({"sub": "a", "admin": false}))
        .unwrap();
    let (h, rest) = token.split_once('.').unwrap();
    let (_, s) = rest.split_once('.').unwrap();
    // Changed claims, same signature.
    let forged_claims = URL_SAFE_NO_PAD.encode(br#"{"sub":"a","admin":true}"#);
    let forged = format!("{h}.{forged_claims}.{s}");
    assert_eq!(oidc.keys().verify_jwt(&forged), Err(JwtError::BadSignature));
    // A flipped signature bit.
    let mut sig = b64d(s);
    sig[10] ^= 1;
    let flipped = format!(
        "{h}.{}.{}",
        rest.split_once('.').unwrap().0,
        URL_SAFE_NO_PAD.encode(&sig)
    );
    assert_eq!(
        oidc.keys().verify_jwt(&flipped),
        Err(JwtError::BadSignature)
    );
    // alg: none, and an alg that does not match the key.
    let kid = oidc.keys().active_kid().unwrap();
    let claims = URL_SAFE_NO_PAD.encode(br#"{"sub":"a"}"#);
    for alg in ["none", "HS256", "ES256"] {
        let header = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"{alg}","kid":"{kid}"}}"#));
        let token = format!("{header}.{claims}.{s}");
        assert_eq!(
            oidc.keys().verify_jwt(&token),
            Err(JwtError::AlgMismatch),
            "{alg}"
        );
        let header = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"{alg}"}}"#));
        let token = format!("{header}.{claims}.");
        assert_eq!(
            oidc.keys().verify_jwt(&token),
            Err(JwtError::UnknownKey),
            "{alg}"
        );
    }
    // An unknown kid.
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","kid":"nope"}"#);
    let token = format!("{header}.{claims}.{s}");
    assert_eq!(oidc.keys().verify_jwt(&token), Err(JwtError::UnknownKey));
    // Without a kid, the published keys of that alg are tried: a kid-less token signed by the
    // active key verifies…
    let rs_kid = kid;
    let no_kid = signed_without_kid(&oidc, &rs_kid, r#"{"alg":"RS256"}"#, r#"{"sub":"a"}"#);
    assert_eq!(oidc.keys().verify_jwt(&no_kid), Ok(json!({"sub": "a"})));
    // …one whose signature no published key made does not…
    let no_kid_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256"}"#);
    let token = format!("{no_kid_header}.{claims}.{s}");
    assert_eq!(oidc.keys().verify_jwt(&token), Err(JwtError::BadSignature));
    // …and one whose alg no published key has is refused, however it was signed.
    let wrong_alg = signed_without_kid(&oidc, &rs_kid, r#"{"alg":"ES256"}"#, r#"{"sub":"a"}"#);
    assert_eq!(
        oidc.keys().verify_jwt(&wrong_alg),
        Err(JwtError::UnknownKey)
    );
    // After a rotation to ES256 both algs are published: each kid-less token is checked
    // against the keys of its own alg, the previous RS256 key included.
    oidc.rotate_signing_key(&admin(), Some(Alg::ES256)).unwrap();
    let es_kid = oidc.keys().active_kid().unwrap();
    assert_ne!(es_kid, rs_kid);
    assert_eq!(oidc.keys().verify_jwt(&no_kid), Ok(json!({"sub": "a"})));
    let es_no_kid = signed_without_kid(&oidc, &es_kid, r#"{"alg":"ES256"}"#, r#"{"sub":"b"}"#);
    assert_eq!(oidc.keys().verify_jwt(&es_no_kid), Ok(json!({"sub": "b"})));
    let es_as_rs = signed_without_kid(&oidc, &es_kid, r#"{"alg":"RS256"}"#, r#"{"sub":"b"}"#);
    assert_eq!(
        oidc.keys().verify_jwt(&es_as_rs),
        Err(JwtError::BadSignature)
    );
    let eddsa = signed_without_kid(&oidc, &es_kid, r#"{"alg":"EdDSA"}"#, r#"{"sub":"b"}"#);
    assert_eq!(oidc.keys().verify_jwt(&eddsa), Err(JwtError::UnknownKey));
    // A short or long ES256 signature is refused, not a panic.
    let es = oidc.keys().sign_jwt(None, &json!({"sub": "a"})).unwrap();
    let (input, _) = es.rsplit_once('.').unwrap();
    for len in [0, 31, 63, 65, 128] {
        let token = format!("{input}.{}", URL_SAFE_NO_PAD.encode(vec![1u8; len]));
        assert_eq!(
            oidc.keys().verify_jwt(&token),
            Err(JwtError::BadSignature),
            "{len}"
        );
    }
}

/// A compact JWS of `header` (which names no kid) and `claims`, signed by the private key of the
/// published key `kid` as that key's algorithm signs: what another implementation of this
/// issuer's keys might send.
fn signed_without_kid(oidc: &Oidc, kid: &str, header: &str, claims: &str) -> String {
    let idm = oidc.idm();
    let records = idm.store().read().unwrap().signing_keys().unwrap();
    let record = records.iter().find(|r| r.kid == kid).unwrap();
    let der = crate::idm::sealed::open_private_key(idm.sealer(), &record.kid, &record.private_key)
        .unwrap();
    let pkey = PKey::private_key_from_pkcs8(&der).unwrap();
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let signature = match pkey.id() {
        Id::RSA => openssl::sign::Signer::new(MessageDigest::sha256(), &pkey)
            .unwrap()
            .sign_oneshot_to_vec(input.as_bytes())
            .unwrap(),
        Id::EC => {
            let digest = openssl::sha::sha256(input.as_bytes());
            let sig = EcdsaSig::sign(&digest, &pkey.ec_key().unwrap()).unwrap();
            let mut raw = sig.r().to_vec_padded(32).unwrap();
            raw.extend(sig.s().to_vec_padded(32).unwrap());
            raw
        }
        other => panic!("no signer here for {other:?}"),
    };
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

#[test]
fn alg_names_parse_case_insensitively() {
    assert_eq!("rs256".parse::<Alg>().unwrap(), Alg::RS256);
    assert_eq!("ES256".parse::<Alg>().unwrap(), Alg::ES256);
    assert_eq!(" eddsa ".parse::<Alg>().unwrap(), Alg::EdDSA);
    assert!(matches!(
        "HS256".parse::<Alg>(),
        Err(IdmError::Invalid { field: "alg", .. })
    ));
}

#[test]
fn debug_never_shows_private_keys() {
    let (oidc, _) = setup();
    let shown = format!("{oidc:?}");
    assert!(shown.contains("KeySet"));
    let records = oidc.idm().store().read().unwrap().signing_keys().unwrap();
    let shown = format!("{:?}", records[0]);
    assert!(shown.contains("<redacted>"));
    let crate::store::StoredSecret::Sealed(sealed) = &records[0].private_key else {
        panic!("the private key is stored sealed");
    };
    assert!(!shown.contains(&format!("{:?}", &sealed[..8])));
}

// --- clients ---

#[test]
fn create_returns_the_secret_once_and_stores_only_its_hash() {
    let (oidc, _) = setup();
    let (client, secret) = oidc
        .create_client(&admin(), new_client(" Grafana "))
        .unwrap();
    let secret = secret.unwrap();
    assert_eq!(client.name, "Grafana");
    assert_eq!(client.client_id.len(), 24);
    assert!(
        client
            .client_id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b))
    );
    assert_eq!(secret.len(), 43);
    let record = oidc
        .idm()
        .store()
        .read()
        .unwrap()
        .client(&client.client_id)
        .unwrap()
        .unwrap();
    assert!(!format!("{record:?}").contains(&secret));
    assert_eq!(
        oidc.authenticate_client(&client.client_id, &secret)
            .unwrap(),
        Some(client.clone())
    );
    assert_eq!(
        oidc.authenticate_client(&client.client_id, "wrong")
            .unwrap(),
        None
    );
    assert_eq!(
        oidc.authenticate_client(&client.client_id, "").unwrap(),
        None
    );
    assert_eq!(oidc.authenticate_client("nope", &secret).unwrap(), None);
    assert_eq!(
        oidc.client(&client.client_id).unwrap(),
        Some(client.clone())
    );
    assert_eq!(oidc.list_clients().unwrap(), vec![client]);
    assert!(events(&oidc).contains(&"client_created".to_owned()));
}

#[test]
fn public_clients_have_no_secret_and_need_pkce() {
    let (oidc, _) = setup();
    let mut input = new_client("SPA");
    input.public = true;
    let (client, secret) = oidc.create_client(&admin(), input).unwrap();
    assert_eq!(secret, None);
    assert!(client.pkce_required());
    assert_eq!(
        oidc.authenticate_client(&client.client_id, "").unwrap(),
        None
    );
    let err = oidc
        .rotate_client_secret(&admin(), &client.client_id)
        .unwrap_err();
    assert!(err.to_string().contains("public client"), "{err}");
}

#[test]
fn rotating_the_secret_retires_the_old_one_at_once() {
    let (oidc, _) = setup();
    let (client, old) = oidc.create_client(&admin(), new_client("App")).unwrap();
    let (_, new) = oidc
        .rotate_client_secret(&admin(), &client.client_id)
        .unwrap();
    assert_ne!(old.as_deref(), Some(new.as_str()));
    assert_eq!(
        oidc.authenticate_client(&client.client_id, &old.unwrap())
            .unwrap(),
        None
    );
    assert!(
        oidc.authenticate_client(&client.client_id, &new)
            .unwrap()
            .is_some()
    );
    assert!(events(&oidc).contains(&"client_secret_rotated".to_owned()));
}

#[test]
fn defaults_and_overrides_of_lifetimes() {
    let (oidc, _) = setup();
    let (client, _) = oidc.create_client(&admin(), new_client("A")).unwrap();
    assert_eq!(client.code_ttl().as_secs(), 600);
    assert_eq!(client.access_ttl().as_secs(), 3600);
    assert_eq!(client.refresh_ttl().as_secs(), 30 * 86_400);
    assert_eq!(client.refresh_max().as_secs(), 90 * 86_400);
    let mut input = new_client("B");
    input.lifetimes = TokenLifetimes {
        code_secs: Some(60),
        access_token_secs: Some(300),
        refresh_token_secs: Some(3600),
        refresh_max_secs: None,
    };
    let (client, _) = oidc.create_client(&admin(), input).unwrap();
    assert_eq!(client.code_ttl().as_secs(), 60);
    assert_eq!(client.access_ttl().as_secs(), 300);
    assert_eq!(client.refresh_ttl().as_secs(), 3600);
    // A patch sets the lifetimes it names; 0 is the default again.
    let patched = oidc
        .update_client(
            &admin(),
            &client.client_id,
            ClientPatch {
                lifetimes: Some(TokenLifetimes {
                    code_secs: Some(0),
                    access_token_secs: Some(600),
                    refresh_token_secs: None,
                    refresh_max_secs: Some(7 * 86_400),
                }),
                ..ClientPatch::default()
            },
        )
        .unwrap();
    assert_eq!(patched.code_ttl().as_secs(), 600);
    assert_eq!(patched.access_ttl().as_secs(), 600);
    assert_eq!(patched.refresh_ttl().as_secs(), 3600);
    assert_eq!(patched.refresh_max().as_secs(), 7 * 86_400);
    let err = oidc
        .update_client(
            &admin(),
            &client.client_id,
            ClientPatch {
                lifetimes: Some(TokenLifetimes {
                    refresh_max_secs: Some(60),
                    ..TokenLifetimes::default()
                }),
                ..ClientPatch::default()
            },
        )
        .unwrap_err();
    assert!(matches!(
        err,
        IdmError::Invalid {
            field: "refresh_max_lifetime",
            ..
        }
    ));
    let err = oidc
        .update_client(
            &admin(),
            &client.client_id,
            ClientPatch {
                lifetimes: Some(TokenLifetimes {
                    refresh_token_secs: Some(59),
                    ..TokenLifetimes::default()
                }),
                ..ClientPatch::default()
            },
        )
        .unwrap_err();
    assert!(matches!(
        err,
        IdmError::Invalid {
            field: "refresh_token_lifetime",
            ..
        }
    ));
}

#[test]
fn bad_client_input_is_refused_with_the_field_and_writes_nothing() {
    let (oidc, _) = setup();
    let before = events(&oidc).len();
    let cases: Vec<(NewClient, &str, &str)> = vec![
        (new_client(""), "name", "1 to 100"),
        (new_client(&"x".repeat(101)), "name", "1 to 100"),
        (
            NewClient {
                redirect_uris: vec![],
                ..new_client("A")
            },
            "redirect_uris",
            "at least one",
        ),
        (
            NewClient {
                redirect_uris: vec!["http://app.example.com/cb".into()],
                ..new_client("A")
            },
            "redirect_uris",
            "must use https",
        ),
        (
            NewClient {
                logout_redirect_uris: vec!["https://a.example/x#y".into()],
                ..new_client("A")
            },
            "logout_redirect_uris",
            "fragment",
        ),
        (
            NewClient {
                redirect_uris: vec!["https://*.example.com/cb".into()],
                ..new_client("A")
            },
            "redirect_uris",
            "wildcard",
        ),
        (
            NewClient {
                allowed_groups: vec!["nosuch".into()],
                ..new_client("A")
            },
            "allowed_groups",
            "\"nosuch\" does not exist",
        ),
        (
            NewClient {
                lifetimes: TokenLifetimes {
                    code_secs: Some(30),
                    ..TokenLifetimes::default()
                },
                ..new_client("A")
            },
            "code_lifetime",
            "between 1 minute and 1 hour (got 30 seconds)",
        ),
        (
            NewClient {
                lifetimes: TokenLifetimes {
                    access_token_secs: Some(2 * 86_400),
                    ..TokenLifetimes::default()
                },
                ..new_client("A")
            },
            "access_token_lifetime",
            "between 1 minute and 1 day (got 2 days)",
        ),
        (
            NewClient {
                lifetimes: TokenLifetimes {
                    refresh_token_secs: Some(60),
                    ..TokenLifetimes::default()
                },
                ..new_client("A")
            },
            "refresh_token_lifetime",
            "between 1 hour and 365 days",
        ),
    ];
    for (input, field, text) in cases {
        match oidc.create_client(&admin(), input) {
            Err(IdmError::Invalid { field: f, message }) => {
                assert_eq!(f, field, "{message}");
                assert!(message.contains(text), "{field}: {message}");
            }
            other => panic!("{field}: expected Invalid, got {other:?}"),
        }
    }
    assert!(oidc.list_clients().unwrap().is_empty());
    assert_eq!(events(&oidc).len(), before);
}

#[test]
fn update_changes_only_what_the_patch_names() {
    let (oidc, _) = setup();
    oidc.idm()
        .create_group(
            &admin(),
            NewGroup {
                name: "staff".into(),
                friendly_name: None,
            },
        )
        .unwrap();
    let (client, _) = oidc.create_client(&admin(), new_client("App")).unwrap();
    let updated = oidc
        .update_client(
            &admin(),
            &client.client_id,
            ClientPatch {
                name: Some("App 2".into()),
                allowed_groups: Some(vec!["Staff".into()]),
                allow_wildcard_redirects: Some(true),
                redirect_uris: Some(vec!["https://*.example.com/cb".into()]),
                ..ClientPatch::default()
            },
        )
        .unwrap();
    assert_eq!(updated.name, "App 2");
    assert_eq!(updated.allowed_groups, ["staff"]);
    assert!(updated.redirect_uri_allowed("https://pr-1.example.com/cb"));
    assert_eq!(updated.created_at, client.created_at);
    // Turning wildcards off while a wildcard URI is registered is refused.
    let err = oidc
        .update_client(
            &admin(),
            &client.client_id,
            ClientPatch {
                allow_wildcard_redirects: Some(false),
                ..ClientPatch::default()
            },
        )
        .unwrap_err();
    assert!(
        matches!(
            err,
            IdmError::Invalid {
                field: "redirect_uris",
                ..
            }
        ),
        "{err}"
    );
    // A deleted group no longer shows (nor grants access).
    oidc.idm().delete_group(&admin(), "staff").unwrap();
    assert!(
        oidc.get_client(&client.client_id)
            .unwrap()
            .allowed_groups
            .is_empty()
    );
    assert!(matches!(
        oidc.update_client(&admin(), "nope", ClientPatch::default()),
        Err(IdmError::NotFound { what: "client", .. })
    ));
    let evs = events(&oidc);
    assert_eq!(evs.iter().filter(|e| *e == "client_updated").count(), 1);
}

#[test]
fn deleting_a_client_deletes_its_consents() {
    let (oidc, _) = setup();
    let user = oidc
        .idm()
        .create_user(
            &admin(),
            NewUser {
                username: "alice".into(),
                ..NewUser::default()
            },
        )
        .unwrap()
        .user;
    let (a, _) = oidc.create_client(&admin(), new_client("A")).unwrap();
    let (b, _) = oidc.create_client(&admin(), new_client("B")).unwrap();
    let scopes = vec!["openid".to_owned()];
    oidc.grant_consent(
        &admin(),
        user.id,
        &a.client_id,
        &scopes,
        ConsentGiven::Asked,
    )
    .unwrap();
    oidc.grant_consent(
        &admin(),
        user.id,
        &b.client_id,
        &scopes,
        ConsentGiven::Asked,
    )
    .unwrap();
    oidc.delete_client(&admin(), &a.client_id).unwrap();
    assert_eq!(oidc.client(&a.client_id).unwrap(), None);
    assert_eq!(oidc.consent(user.id, &a.client_id).unwrap(), None);
    assert_eq!(oidc.consent(user.id, &b.client_id).unwrap(), Some(scopes));
    assert!(events(&oidc).contains(&"client_deleted".to_owned()));
    assert!(matches!(
        oidc.delete_client(&admin(), &a.client_id),
        Err(IdmError::NotFound { what: "client", .. })
    ));
}

// --- consent ---

#[test]
fn consent_accumulates_scopes_lists_and_revokes() {
    let (oidc, _) = setup();
    let user = oidc
        .idm()
        .create_user(
            &admin(),
            NewUser {
                username: "bob".into(),
                ..NewUser::default()
            },
        )
        .unwrap()
        .user;
    let (client, _) = oidc.create_client(&admin(), new_client("Wiki")).unwrap();
    assert_eq!(oidc.consent(user.id, &client.client_id).unwrap(), None);
    let s = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    oidc.grant_consent(
        &admin(),
        user.id,
        &client.client_id,
        &s(&["openid", "profile"]),
        ConsentGiven::Asked,
    )
    .unwrap();
    oidc.grant_consent(
        &admin(),
        user.id,
        &client.client_id,
        &s(&["email", "openid"]),
        ConsentGiven::Asked,
    )
    .unwrap();
    assert_eq!(
        oidc.consent(user.id, &client.client_id).unwrap(),
        Some(s(&["email", "openid", "profile"]))
    );
    let list = oidc.list_authorizations("BOB").unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].client_name, "Wiki");
    assert!(matches!(
        oidc.grant_consent(
            &admin(),
            user.id,
            "nope",
            &s(&["openid"]),
            ConsentGiven::Asked
        ),
        Err(IdmError::NotFound { what: "client", .. })
    ));
    oidc.revoke_authorization(&admin(), "bob", &client.client_id)
        .unwrap();
    assert_eq!(oidc.consent(user.id, &client.client_id).unwrap(), None);
    assert!(matches!(
        oidc.revoke_authorization(&admin(), "bob", &client.client_id),
        Err(IdmError::NotFound {
            what: "authorization",
            ..
        })
    ));
    let evs = events(&oidc);
    assert!(evs.contains(&"oidc_consent_granted".to_owned()));
    assert!(evs.contains(&"oidc_consent_revoked".to_owned()));
    // A deleted user's consents go with them.
    oidc.grant_consent(
        &admin(),
        user.id,
        &client.client_id,
        &s(&["openid"]),
        ConsentGiven::Asked,
    )
    .unwrap();
    oidc.idm().delete_user(&admin(), "bob").unwrap();
    assert_eq!(oidc.consent(user.id, &client.client_id).unwrap(), None);
}

// --- claims ---

#[test]
fn custom_claims_user_wins_then_first_group_by_name() {
    let (oidc, _) = setup();
    let user = oidc
        .idm()
        .create_user(
            &admin(),
            NewUser {
                username: "carol".into(),
                ..NewUser::default()
            },
        )
        .unwrap()
        .user;
    for name in ["alpha", "beta"] {
        oidc.idm()
            .create_group(
                &admin(),
                NewGroup {
                    name: name.into(),
                    friendly_name: None,
                },
            )
            .unwrap();
    }
    let set = |owner: ClaimOwner, claims: Value| {
        let claims: Vec<(String, Value)> = claims
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        oidc.set_claims(&admin(), &owner, claims).unwrap()
    };
    set(
        ClaimOwner::Group("beta".into()),
        json!({"team": "beta", "level": 2, "beta_only": true}),
    );
    set(
        ClaimOwner::Group("alpha".into()),
        json!({"team": "alpha", "level": 1}),
    );
    set(
        ClaimOwner::User("carol".into()),
        json!({"level": {"x": [1, 2]}}),
    );
    let groups = vec!["beta".to_owned(), "alpha".to_owned(), "gone".to_owned()];
    let claims = oidc.custom_claims(&user, &groups).unwrap();
    assert_eq!(
        Value::Object(claims),
        json!({"team": "alpha", "level": {"x": [1, 2]}, "beta_only": true})
    );
    assert_eq!(
        oidc.get_claims(&ClaimOwner::User("carol".into())).unwrap(),
        vec![("level".to_owned(), json!({"x": [1, 2]}))]
    );
    // Replacing with nothing clears them.
    set(ClaimOwner::User("carol".into()), json!({}));
    assert!(
        oidc.get_claims(&ClaimOwner::User("carol".into()))
            .unwrap()
            .is_empty()
    );
    assert!(events(&oidc).contains(&"claims_changed".to_owned()));
    // A deleted group's claims go with it.
    oidc.idm().delete_group(&admin(), "alpha").unwrap();
    let claims = oidc.custom_claims(&user, &groups).unwrap();
    assert_eq!(claims["team"], "beta");
}

#[test]
fn reserved_and_malformed_claim_names_are_refused() {
    let (oidc, _) = setup();
    oidc.idm()
        .create_user(
            &admin(),
            NewUser {
                username: "dave".into(),
                ..NewUser::default()
            },
        )
        .unwrap();
    let owner = ClaimOwner::User("dave".into());
    for (name, text) in [
        ("sub", "reserved"),
        ("Email", "reserved"),
        ("groups", "reserved"),
        ("preferred_username", "reserved"),
        ("at_hash", "reserved"),
        ("", "1 to 64"),
        ("1abc", "must start"),
        ("a b", "may contain only"),
        ("é", "may contain only"),
    ] {
        let err = oidc
            .set_claims(&admin(), &owner, vec![(name.to_owned(), json!(1))])
            .unwrap_err();
        assert!(
            matches!(&err, IdmError::Invalid { field: "claims", message } if message.contains(text)),
            "{name:?}: {err}"
        );
    }
    let twice = vec![("a".to_owned(), json!(1)), ("a".to_owned(), json!(2))];
    assert!(oidc.set_claims(&admin(), &owner, twice).is_err());
    let big = vec![("a".to_owned(), json!("x".repeat(5000)))];
    assert!(oidc.set_claims(&admin(), &owner, big).is_err());
    assert!(matches!(
        oidc.get_claims(&ClaimOwner::Group("nosuch".into())),
        Err(IdmError::NotFound { what: "group", .. })
    ));
    assert!(matches!(
        oidc.get_claims(&ClaimOwner::User("nosuch".into())),
        Err(IdmError::NotFound { what: "user", .. })
    ));
    for ok in [
        "department",
        "x-team",
        "urn:example:role",
        "_private",
        "a.b",
    ] {
        assert!(
            oidc.set_claims(&admin(), &owner, vec![(ok.to_owned(), json!("v"))])
                .is_ok(),
            "{ok}"
        );
    }
}
