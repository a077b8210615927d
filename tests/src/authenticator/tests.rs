//! The soft authenticator against webauthn-rs 0.6.2 itself, configured the
//! way the daemon uses it (passkey registration overridden to require a
//! resident key and UV; discoverable sign-in).
//!
//! What these tests pin down about webauthn-rs (read with the daemon code):
//! - `identify_discoverable_authentication` needs a 16-byte user handle
//!   (it parses a `Uuid`); anything else is `InvalidUserUniqueId`.
//! - The challenge lives in the ceremony state: replaying an assertion into a
//!   new ceremony fails with `MismatchedChallenge`.
//! - The signature counter is the only replay defence *within* one ceremony
//!   state: if the server reuses a state, the same assertion passes again
//!   unless the stored passkey was updated (`Passkey::update_credential`)
//!   after the first sign-in; after that update a counter that did not grow
//!   is `CredentialPossibleCompromise`. A credential whose counter stays 0
//!   (synced passkeys) never trips that check, so ceremony states must be
//!   single use.
//! - `AuthenticationResult::counter()` is the counter the authenticator sent;
//!   `needs_update()` is true when it grew or the backup flags changed.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use serde_json::{Value, json};
use webauthn_rs::prelude::*;
use webauthn_rs_proto::{ResidentKeyRequirement, UserVerificationPolicy};

use super::*;

const ORIGIN: &str = "http://localhost:1411";

fn webauthn() -> Webauthn {
    let origin = Url::parse(ORIGIN).unwrap();
    WebauthnBuilder::new("localhost", &origin)
        .unwrap()
        .rp_name("Latchkey")
        .build()
        .unwrap()
}

/// Starts a registration as the daemon does and returns the JSON the page
/// hands the browser, plus the server-side state.
fn start_registration(
    wa: &Webauthn,
    user: Uuid,
    exclude: Option<Vec<CredentialID>>,
) -> (Value, PasskeyRegistration) {
    let (mut ccr, state) = wa
        .start_passkey_registration(user, "alice", "Alice Liddell", exclude)
        .unwrap();
    let sel = ccr
        .public_key
        .authenticator_selection
        .get_or_insert_with(Default::default);
    sel.resident_key = Some(ResidentKeyRequirement::Required);
    sel.require_resident_key = true;
    sel.user_verification = UserVerificationPolicy::Required;
    (serde_json::to_value(&ccr).unwrap(), state)
}

fn register(wa: &Webauthn, auth: &mut SoftAuthenticator, user: Uuid) -> Passkey {
    let (options, state) = start_registration(wa, user, None);
    let json = auth.register(ORIGIN, &options).unwrap();
    let reg: RegisterPublicKeyCredential = serde_json::from_value(json).unwrap();
    wa.finish_passkey_registration(&reg, &state).unwrap()
}

fn start_sign_in(wa: &Webauthn) -> (Value, DiscoverableAuthentication) {
    let (rcr, state) = wa.start_discoverable_authentication().unwrap();
    (serde_json::to_value(&rcr).unwrap(), state)
}

fn parse_assertion(json: &Value) -> PublicKeyCredential {
    serde_json::from_value(json.clone()).unwrap()
}

fn finish(
    wa: &Webauthn,
    json: &Value,
    state: DiscoverableAuthentication,
    passkey: &Passkey,
) -> WebauthnResult<AuthenticationResult> {
    wa.finish_discoverable_authentication_v2(&parse_assertion(json), state, passkey)
}

fn new_user() -> Uuid {
    Uuid::from_bytes(rand::random())
}

#[test]
fn options_json_is_what_the_authenticator_reads() {
    let wa = webauthn();
    let (options, _) = start_registration(&wa, new_user(), None);
    // The wrapper and the fields the authenticator relies on.
    assert_eq!(options["publicKey"]["rp"]["id"], "localhost");
    assert_eq!(
        options["publicKey"]["authenticatorSelection"]["residentKey"],
        "required"
    );
    assert_eq!(
        options["publicKey"]["authenticatorSelection"]["userVerification"],
        "required"
    );
    assert_eq!(options["publicKey"]["extensions"]["credProps"], true);
    let (request, _) = start_sign_in(&wa);
    assert_eq!(request["publicKey"]["rpId"], "localhost");
    assert_eq!(request["publicKey"]["allowCredentials"], json!([]));
    assert_eq!(request["mediation"], "conditional");
}

#[test]
fn registers_and_signs_in_without_a_username() {
    let wa = webauthn();
    let mut auth = SoftAuthenticator::new();
    let user = new_user();
    let mut passkey = register(&wa, &mut auth, user);

    assert_eq!(auth.credentials().len(), 1);
    let cred = &auth.credentials()[0];
    assert_eq!(cred.rp_id(), "localhost");
    assert_eq!(cred.user_handle(), user.as_bytes());
    assert_eq!(cred.user_name(), "alice");
    assert_eq!(passkey.cred_id().as_slice(), cred.id());

    let (request, state) = start_sign_in(&wa);
    let assertion = auth.sign_in(ORIGIN, &request).unwrap();
    assert_eq!(auth.last_assertion(), Some(&assertion));

    let parsed = parse_assertion(&assertion);
    let (handle, cred_id) = wa.identify_discoverable_authentication(&parsed).unwrap();
    assert_eq!(handle, user);
    assert_eq!(cred_id, passkey.cred_id().as_slice());

    let result = finish(&wa, &assertion, state, &passkey).unwrap();
    assert!(result.user_verified());
    assert_eq!(result.counter(), 1);
    assert!(result.needs_update(), "the counter grew from 0 to 1");
    assert!(!result.backup_eligible());
    assert_eq!(passkey.update_credential(&result), Some(true));

    // A second sign-in carries counter 2.
    let (request, state) = start_sign_in(&wa);
    let assertion = auth.sign_in(ORIGIN, &request).unwrap();
    let result = finish(&wa, &assertion, state, &passkey).unwrap();
    assert_eq!(result.counter(), 2);
    assert_eq!(auth.credentials()[0].counter(), 2);

    // The deprecated v1 call with DiscoverableKey accepts it too.
    assert_eq!(passkey.update_credential(&result), Some(true));
    let (request, state) = start_sign_in(&wa);
    let assertion = auth.sign_in(ORIGIN, &request).unwrap();
    #[allow(deprecated)]
    let result = wa
        .finish_discoverable_authentication(
            &parse_assertion(&assertion),
            state,
            &[DiscoverableKey::from(&passkey)],
        )
        .unwrap();
    assert_eq!(result.counter(), 3);
}

#[test]
fn accepts_options_without_the_public_key_wrapper() {
    let wa = webauthn();
    let mut auth = SoftAuthenticator::new();
    let user = new_user();
    let (options, reg_state) = start_registration(&wa, user, None);
    let json = auth.register(ORIGIN, &options["publicKey"]).unwrap();
    let passkey = wa
        .finish_passkey_registration(&serde_json::from_value(json).unwrap(), &reg_state)
        .unwrap();
    let (request, state) = start_sign_in(&wa);
    let assertion = auth.sign_in(ORIGIN, &request["publicKey"]).unwrap();
    finish(&wa, &assertion, state, &passkey).unwrap();
}

#[test]
fn register_json_has_the_browser_fields() {
    let wa = webauthn();
    let mut auth = SoftAuthenticator::new();
    let (options, _) = start_registration(&wa, new_user(), None);
    let json = auth.register(ORIGIN, &options).unwrap();
    assert_eq!(json["type"], "public-key");
    assert_eq!(json["id"], json["rawId"]);
    assert_eq!(json["response"]["transports"], json!(["internal"]));
    assert_eq!(
        json["clientExtensionResults"],
        json!({"credProps": {"rk": true}})
    );
    let cd: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(json["response"]["clientDataJSON"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(cd["type"], "webauthn.create");
    assert_eq!(cd["origin"], ORIGIN);
    assert_eq!(cd["challenge"], options["publicKey"]["challenge"]);
    assert_eq!(cd["crossOrigin"], false);
}

#[test]
fn excluded_credentials_are_refused() {
    let wa = webauthn();
    let mut auth = SoftAuthenticator::new();
    let user = new_user();
    let passkey = register(&wa, &mut auth, user);
    let (options, _) = start_registration(&wa, user, Some(vec![passkey.cred_id().clone()]));
    let err = auth.register(ORIGIN, &options).unwrap_err();
    assert!(matches!(err, AuthenticatorError::Excluded(_)), "{err:?}");
    // Another authenticator is not affected by the list.
    let mut other = SoftAuthenticator::new();
    other.register(ORIGIN, &options).unwrap();
}

#[test]
fn a_tampered_signature_is_refused() {
    let wa = webauthn();
    let mut auth = SoftAuthenticator::new();
    let passkey = register(&wa, &mut auth, new_user());
    let (request, state) = start_sign_in(&wa);
    let assertion = auth.sign_in(ORIGIN, &request).unwrap();
    let forged = tamper_signature(&assertion).unwrap();
    assert_ne!(forged, assertion);
    let err = finish(&wa, &forged, state.clone(), &passkey).unwrap_err();
    assert!(
        matches!(err, WebauthnError::AuthenticationFailure),
        "{err:?}"
    );
    // The untouched assertion still passes with the same state.
    finish(&wa, &assertion, state, &passkey).unwrap();
}

#[test]
fn edited_client_data_is_refused() {
    let wa = webauthn();
    let mut auth = SoftAuthenticator::new();
    let passkey = register(&wa, &mut auth, new_user());
    let (request, state) = start_sign_in(&wa);
    let assertion = auth.sign_in(ORIGIN, &request).unwrap();
    let forged = tamper_client_data(&assertion, |cd| {
        cd["origin"] = json!("http://evil.localhost:1411");
    })
    .unwrap();
    let err = finish(&wa, &forged, state.clone(), &passkey).unwrap_err();
    assert!(matches!(err, WebauthnError::InvalidRPOrigin), "{err:?}");
    // Same origin, still re-serialised: the signature no longer matches.
    let forged = tamper_client_data(&assertion, |_| {}).unwrap();
    let err = finish(&wa, &forged, state, &passkey).unwrap_err();
    assert!(
        matches!(err, WebauthnError::AuthenticationFailure),
        "{err:?}"
    );
}

#[test]
fn a_wrong_origin_is_refused() {
    let wa = webauthn();
    let mut auth = SoftAuthenticator::new();
    let passkey = register(&wa, &mut auth, new_user());
    let (request, state) = start_sign_in(&wa);
    let assertion = auth.sign_in("http://localhost:9999", &request).unwrap();
    let err = finish(&wa, &assertion, state, &passkey).unwrap_err();
    assert!(matches!(err, WebauthnError::InvalidRPOrigin), "{err:?}");
}

#[test]
fn a_replay_into_a_new_ceremony_fails_on_the_challenge() {
    let wa = webauthn();
    let mut auth = SoftAuthenticator::new();
    let passkey = register(&wa, &mut auth, new_user());
    let (request, state) = start_sign_in(&wa);
    auth.sign_in(ORIGIN, &request).unwrap();
    let replay = auth.last_assertion().unwrap().clone();
    finish(&wa, &replay, state, &passkey).unwrap();

    let (_, state2) = start_sign_in(&wa);
    let err = finish(&wa, &replay, state2, &passkey).unwrap_err();
    assert!(matches!(err, WebauthnError::MismatchedChallenge), "{err:?}");
}

#[test]
fn a_replay_into_a_reused_ceremony_is_caught_only_by_the_updated_counter() {
    let wa = webauthn();
    let mut auth = SoftAuthenticator::new();
    let mut passkey = register(&wa, &mut auth, new_user());
    let (request, state) = start_sign_in(&wa);
    let assertion = auth.sign_in(ORIGIN, &request).unwrap();
    let result = finish(&wa, &assertion, state.clone(), &passkey).unwrap();

    // Without storing the new counter, a replay into the same state passes.
    finish(&wa, &assertion, state.clone(), &passkey).unwrap();

    // Once the passkey is updated, the same counter is a possible clone.
    assert_eq!(passkey.update_credential(&result), Some(true));
    let err = finish(&wa, &assertion, state, &passkey).unwrap_err();
    assert!(
        matches!(err, WebauthnError::CredentialPossibleCompromise),
        "{err:?}"
    );
}

#[test]
fn a_counter_that_goes_back_is_refused() {
    let wa = webauthn();
    let mut auth = SoftAuthenticator::new();
    let mut passkey = register(&wa, &mut auth, new_user());
    for _ in 0..3 {
        let (request, state) = start_sign_in(&wa);
        let assertion = auth.sign_in(ORIGIN, &request).unwrap();
        let result = finish(&wa, &assertion, state, &passkey).unwrap();
        passkey.update_credential(&result);
    }
    let id = auth.credentials()[0].id().to_vec();
    auth.set_counter(&id, 1).unwrap(); // the next assertion says 2 < 3
    let (request, state) = start_sign_in(&wa);
    let assertion = auth.sign_in(ORIGIN, &request).unwrap();
    let err = finish(&wa, &assertion, state, &passkey).unwrap_err();
    assert!(
        matches!(err, WebauthnError::CredentialPossibleCompromise),
        "{err:?}"
    );
}

#[test]
fn a_zero_counter_passkey_is_accepted_and_never_trips_the_counter_check() {
    let wa = webauthn();
    let mut auth = SoftAuthenticator::new()
        .with_zero_counter()
        .with_backup(true, true);
    let mut passkey = register(&wa, &mut auth, new_user());
    let (request, state) = start_sign_in(&wa);
    let assertion = auth.sign_in(ORIGIN, &request).unwrap();
    let result = finish(&wa, &assertion, state.clone(), &passkey).unwrap();
    assert_eq!(result.counter(), 0);
    assert!(result.backup_eligible());
    assert!(result.backup_state());
    assert!(!result.needs_update());
    assert_eq!(passkey.update_credential(&result), Some(false));
    // The replay into the reused state passes: only single-use state helps.
    finish(&wa, &assertion, state, &passkey).unwrap();
}

#[test]
fn registration_without_user_verification_is_refused() {
    let wa = webauthn();
    let mut auth = SoftAuthenticator::new().with_user_verification(false);
    let (options, state) = start_registration(&wa, new_user(), None);
    let json = auth.register(ORIGIN, &options).unwrap();
    let err = wa
        .finish_passkey_registration(&serde_json::from_value(json).unwrap(), &state)
        .unwrap_err();
    assert!(matches!(err, WebauthnError::UserNotVerified), "{err:?}");
}

#[test]
fn sign_in_without_user_verification_is_refused() {
    let wa = webauthn();
    let mut auth = SoftAuthenticator::new();
    let user = new_user();
    let passkey = register(&wa, &mut auth, user);
    // The same key, now answering without UV.
    let mut no_uv = auth.clone().with_user_verification(false);
    let (request, state) = start_sign_in(&wa);
    let assertion = no_uv.sign_in(ORIGIN, &request).unwrap();
    let err = finish(&wa, &assertion, state, &passkey).unwrap_err();
    assert!(matches!(err, WebauthnError::UserNotVerified), "{err:?}");
}

#[test]
fn a_passkey_from_another_site_is_refused() {
    let wa = webauthn();
    let mut auth = SoftAuthenticator::new();
    let user = new_user();
    let passkey = register(&wa, &mut auth, user);

    // Not offered for localhost…
    let mut elsewhere = SoftAuthenticator::new();
    let foreign = elsewhere.add_credential("example.com", user.as_bytes(), "alice");
    let (request, state) = start_sign_in(&wa);
    let err = elsewhere.sign_in(ORIGIN, &request).unwrap_err();
    assert!(
        matches!(err, AuthenticatorError::NoCredential(_)),
        "{err:?}"
    );

    // …and refused when forced: its id is unknown to the server, and its
    // authenticator data hashes another rp id.
    let assertion = elsewhere.sign_in_with(&foreign, ORIGIN, &request).unwrap();
    let parsed = parse_assertion(&assertion);
    let (handle, cred_id) = wa.identify_discoverable_authentication(&parsed).unwrap();
    assert_eq!(handle, user, "the user handle alone proves nothing");
    assert_ne!(cred_id, passkey.cred_id().as_slice());
    let err = finish(&wa, &assertion, state, &passkey).unwrap_err();
    assert!(matches!(err, WebauthnError::CredentialNotFound), "{err:?}");

    // The same key registered here but signing for another rp id.
    let own = auth
        .credentials()
        .iter()
        .find(|c| c.rp_id() == "localhost")
        .unwrap()
        .clone();
    let mut moved = own.clone();
    moved.rp_id = "example.com".into();
    let mut liar = SoftAuthenticator::new();
    liar.credentials.push(moved);
    let (request, state) = start_sign_in(&wa);
    let assertion = liar.sign_in_with(own.id(), ORIGIN, &request).unwrap();
    let err = finish(&wa, &assertion, state, &passkey).unwrap_err();
    assert!(matches!(err, WebauthnError::InvalidRPIDHash), "{err:?}");
}

#[test]
fn a_user_handle_that_is_not_16_bytes_cannot_be_identified() {
    let wa = webauthn();
    let mut auth = SoftAuthenticator::new();
    register(&wa, &mut auth, new_user());
    let (request, _) = start_sign_in(&wa);
    let assertion = auth.sign_in(ORIGIN, &request).unwrap();
    let odd = with_user_handle(&assertion, b"not-a-uuid").unwrap();
    let err = wa
        .identify_discoverable_authentication(&parse_assertion(&odd))
        .unwrap_err();
    assert!(matches!(err, WebauthnError::InvalidUserUniqueId), "{err:?}");
}

#[test]
fn picks_the_most_recent_credential_or_an_allowed_one() {
    let mut auth = SoftAuthenticator::new();
    let a = auth.add_credential("localhost", b"user-a", "a");
    let b = auth.add_credential("localhost", b"user-b", "b");
    auth.add_credential("example.com", b"user-c", "c");
    let challenge = URL_SAFE_NO_PAD.encode(b"0123456789abcdef");
    let request = json!({"publicKey": {"challenge": challenge, "rpId": "localhost", "allowCredentials": [], "userVerification": "required"}});
    let got = auth.sign_in(ORIGIN, &request).unwrap();
    assert_eq!(got["rawId"], URL_SAFE_NO_PAD.encode(&b));
    let request = json!({"challenge": challenge, "rpId": "localhost", "allowCredentials": [{"type": "public-key", "id": URL_SAFE_NO_PAD.encode(&a)}]});
    let got = auth.sign_in(ORIGIN, &request).unwrap();
    assert_eq!(got["rawId"], URL_SAFE_NO_PAD.encode(&a));
    assert_eq!(
        got["response"]["userHandle"],
        URL_SAFE_NO_PAD.encode(b"user-a")
    );

    // Same rp and user handle: the new credential replaces the old one.
    auth.add_credential("localhost", b"user-a", "a");
    assert_eq!(auth.credentials().len(), 3);
    assert!(auth.credentials().iter().all(|c| c.id() != a));
    assert!(auth.remove_credential(&b));
    assert!(!auth.remove_credential(&b));
}
