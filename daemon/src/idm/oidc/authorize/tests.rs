//! The authorization endpoint's rules, without a store: validation, decisions and responses.

use latchkey_protocol::TokenLifetimes;
use time::OffsetDateTime;

use super::super::clients::Client;
use super::super::error::{OAuthError, OAuthErrorCode};
use super::super::grants::ChallengeMethod;
use super::super::par::PushedRequest;
use super::*;

fn client() -> Client {
    Client {
        client_id: "app".into(),
        name: "App".into(),
        redirect_uris: vec![
            "https://rp.example/cb".into(),
            "https://rp.example/q?x=1".into(),
        ],
        logout_redirect_uris: vec![],
        public: false,
        require_pkce: false,
        require_par: false,
        skip_consent: false,
        allow_wildcard_redirects: false,
        allowed_groups: vec![],
        lifetimes: TokenLifetimes::default(),
        created_at: OffsetDateTime::UNIX_EPOCH,
    }
}

fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn base() -> Vec<(&'static str, &'static str)> {
    vec![
        ("client_id", "app"),
        ("redirect_uri", "https://rp.example/cb"),
        ("response_type", "code"),
        ("scope", "openid profile bogus openid"),
        ("state", "s1"),
    ]
}

const ISS: &str = "https://id.example";

fn with(extra: &[(&'static str, &'static str)]) -> Vec<(String, String)> {
    let mut p = base();
    p.extend_from_slice(extra);
    params(&p)
}

fn redirect_of(e: AuthorizeError) -> String {
    match e {
        AuthorizeError::Redirect(AuthorizationResponse::Redirect(url)) => url,
        other => panic!("expected a redirect, got {other:?}"),
    }
}

#[test]
fn a_good_request_validates_and_unknown_scopes_are_dropped() {
    let r = validate(ISS, &with(&[]), Some(client())).unwrap();
    assert_eq!(r.scopes, vec!["openid", "profile"]);
    assert_eq!(r.target.mode, ResponseMode::Query);
    assert_eq!(r.target.state.as_deref(), Some("s1"));
    assert!(r.challenge.is_none());
}

#[test]
fn untrusted_clients_and_redirects_get_a_page_never_a_redirect() {
    assert!(matches!(
        validate(ISS, &with(&[]), None),
        Err(AuthorizeError::Page(_))
    ));
    let mut p = base();
    p[1] = ("redirect_uri", "https://evil.example/cb");
    assert!(matches!(
        validate(ISS, &params(&p), Some(client())),
        Err(AuthorizeError::Page(_))
    ));
    p.remove(1);
    assert!(matches!(
        validate(ISS, &params(&p), Some(client())),
        Err(AuthorizeError::Page(_))
    ));
    let p = with(&[("client_id", "app")]);
    assert!(matches!(
        validate(ISS, &p, Some(client())),
        Err(AuthorizeError::Page(_))
    ));
}

#[test]
fn protocol_errors_redirect_with_state_and_iss() {
    let url = redirect_of(
        validate(
            ISS,
            &params(&[
                ("client_id", "app"),
                ("redirect_uri", "https://rp.example/cb"),
                ("response_type", "token"),
                ("state", "s 1"),
            ]),
            Some(client()),
        )
        .unwrap_err(),
    );
    assert_eq!(
        url,
        "https://rp.example/cb?error=unsupported_response_type&error_description=only+response_type%3Dcode+is+supported&state=s+1&iss=https%3A%2F%2Fid.example"
    );
    for (extra, code) in [
        (vec![("prompt", "none login")], "invalid_request"),
        (vec![("max_age", "-1")], "invalid_request"),
        (vec![("code_challenge", "short")], "invalid_request"),
        (vec![("code_challenge_method", "S256")], "invalid_request"),
        (
            vec![
                (
                    "code_challenge",
                    "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
                ),
                ("code_challenge_method", "plain"),
            ],
            "invalid_request",
        ),
        (
            vec![(
                "code_challenge",
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            )],
            "invalid_request",
        ),
        (vec![("response_mode", "jwt")], "invalid_request"),
        (vec![("request", "x")], "request_not_supported"),
        (vec![("request_uri", "x")], "request_uri_not_supported"),
        (vec![("state", "again")], "invalid_request"),
    ] {
        let url = redirect_of(validate(ISS, &with(&extra), Some(client())).unwrap_err());
        assert!(url.contains(&format!("error={code}&")), "{extra:?}: {url}");
        assert!(url.ends_with("&iss=https%3A%2F%2Fid.example"), "{url}");
    }
    let mut p = base();
    p.retain(|(k, _)| *k != "response_type");
    let url = redirect_of(validate(ISS, &params(&p), Some(client())).unwrap_err());
    assert!(url.contains("error=invalid_request"), "{url}");
}

#[test]
fn public_and_pkce_clients_must_send_a_challenge() {
    let mut c = client();
    c.public = true;
    let url = redirect_of(validate(ISS, &with(&[]), Some(c.clone())).unwrap_err());
    assert!(url.contains("code_challenge+is+required"), "{url}");
    let r = validate(
        ISS,
        &with(&[
            (
                "code_challenge",
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            ),
            ("code_challenge_method", "S256"),
        ]),
        Some(c),
    )
    .unwrap();
    assert_eq!(r.challenge.unwrap().method, ChallengeMethod::S256);
}

#[test]
fn responses_for_each_mode_carry_iss() {
    let target = |uri: &str, mode| ResponseTarget {
        redirect_uri: uri.into(),
        mode,
        state: Some("xyz".into()),
    };
    let code = || vec![("code", "abc".to_owned())];
    assert_eq!(
        target("https://rp.example/cb", ResponseMode::Query).respond(ISS, code()),
        AuthorizationResponse::Redirect(
            "https://rp.example/cb?code=abc&state=xyz&iss=https%3A%2F%2Fid.example".into()
        )
    );
    assert_eq!(
        target("https://rp.example/q?x=1", ResponseMode::Query).respond(ISS, code()),
        AuthorizationResponse::Redirect(
            "https://rp.example/q?x=1&code=abc&state=xyz&iss=https%3A%2F%2Fid.example".into()
        )
    );
    assert_eq!(
        target("https://rp.example/cb", ResponseMode::Fragment).respond(ISS, code()),
        AuthorizationResponse::Redirect(
            "https://rp.example/cb#code=abc&state=xyz&iss=https%3A%2F%2Fid.example".into()
        )
    );
    assert_eq!(
        target("https://rp.example/cb", ResponseMode::FormPost).respond(ISS, code()),
        AuthorizationResponse::FormPost {
            action: "https://rp.example/cb".into(),
            fields: vec![
                ("code".into(), "abc".into()),
                ("state".into(), "xyz".into()),
                ("iss".into(), ISS.into()),
            ]
        }
    );
}

#[test]
fn decisions_follow_prompt_max_age_groups_and_consent() {
    let req = |extra: &[(&'static str, &'static str)]| {
        validate(ISS, &with(extra), Some(client())).unwrap()
    };
    let granted = vec!["openid".to_owned(), "profile".to_owned()];
    let some = Some(granted.as_slice());
    let r = req(&[]);
    assert_eq!(decide(&r, 100, None, true, some), Ok(Decision::SignIn));
    assert_eq!(decide(&r, 100, Some(50), true, some), Ok(Decision::Issue));
    assert_eq!(decide(&r, 100, Some(50), false, some), Ok(Decision::Denied));
    assert_eq!(decide(&r, 100, Some(50), true, None), Ok(Decision::Consent));
    let fewer = vec!["openid".to_owned()];
    assert_eq!(
        decide(&r, 100, Some(50), true, Some(fewer.as_slice())),
        Ok(Decision::Consent)
    );
    let r = req(&[("prompt", "login")]);
    assert_eq!(decide(&r, 100, Some(99), true, some), Ok(Decision::SignIn));
    let r = req(&[("prompt", "select_account")]);
    assert_eq!(decide(&r, 100, Some(99), true, some), Ok(Decision::SignIn));
    let r = req(&[("prompt", "consent")]);
    assert_eq!(decide(&r, 100, Some(99), true, some), Ok(Decision::Consent));
    let r = req(&[("max_age", "30")]);
    assert_eq!(decide(&r, 100, Some(70), true, some), Ok(Decision::Issue));
    assert_eq!(decide(&r, 100, Some(69), true, some), Ok(Decision::SignIn));
    let r = req(&[("prompt", "none")]);
    let code = |d: Result<Decision, OAuthError>| d.unwrap_err().code;
    assert_eq!(
        code(decide(&r, 100, None, true, some)),
        OAuthErrorCode::LoginRequired
    );
    assert_eq!(
        code(decide(&r, 100, Some(1), true, None)),
        OAuthErrorCode::ConsentRequired
    );
    assert_eq!(
        code(decide(&r, 100, Some(1), false, some)),
        OAuthErrorCode::AccessDenied
    );
    assert_eq!(decide(&r, 100, Some(1), true, some), Ok(Decision::Issue));
    let mut skip = client();
    skip.skip_consent = true;
    let r = validate(ISS, &with(&[("prompt", "consent")]), Some(skip)).unwrap();
    assert_eq!(decide(&r, 100, Some(1), true, None), Ok(Decision::Issue));
}

#[test]
fn a_pushed_requests_prompt_login_is_met_by_a_sign_in_after_the_push() {
    let granted = vec!["openid".to_owned(), "profile".to_owned()];
    let some = Some(granted.as_slice());
    let pushed = |prompt: &'static str| {
        let mut r = check(&with(&[("prompt", prompt)]), Some(client()), true).unwrap();
        r.pushed = Some(PushedRequest::pushed_at_for_tests(90));
        r
    };
    for prompt in ["login", "select_account"] {
        let r = pushed(prompt);
        // Signed in before the push: again. At or after it: that sign-in was for it.
        assert_eq!(decide(&r, 100, Some(89), true, some), Ok(Decision::SignIn));
        assert_eq!(decide(&r, 100, Some(90), true, some), Ok(Decision::Issue));
        assert_eq!(decide(&r, 100, Some(95), true, some), Ok(Decision::Issue));
    }
    // Not pushed, the same sign-in is not enough (the front channel drops prompt instead).
    let r = validate(ISS, &with(&[("prompt", "login")]), Some(client())).unwrap();
    assert_eq!(decide(&r, 100, Some(95), true, some), Ok(Decision::SignIn));
}

#[test]
fn a_client_that_requires_pushed_requests_refuses_others_back_to_it() {
    let mut strict = client();
    strict.require_par = true;
    let url = redirect_of(validate(ISS, &with(&[]), Some(strict.clone())).unwrap_err());
    assert!(url.contains("error=invalid_request"), "{url}");
    assert!(check(&with(&[]), Some(strict), true).is_ok());
}

#[test]
fn coming_back_from_sign_in_does_not_loop() {
    let p = with(&[("prompt", "login consent"), ("max_age", "0")]);
    let after = params_after_sign_in(&p);
    assert!(after.contains(&("prompt".into(), "consent".into())));
    assert!(!after.iter().any(|(k, _)| k == "max_age"));
    let after = params_after_sign_in(&with(&[("prompt", "select_account")]));
    assert!(!after.iter().any(|(k, _)| k == "prompt"));
}
