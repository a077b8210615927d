//! What the tokens carry and what signs them, checked by a stock relying party: signing-key
//! rotation keeps live tokens verifiable, ES256 and EdDSA keys work with an RP that allows them,
//! and custom claims reach the ID token and userinfo.

use latchkey_protocol::Request;
use latchkey_protocol::oidc::{ClaimOwner, NewClient};
use latchkey_tests::rp::{App, Fixture, chrono_now, client, jwt_header};
use openidconnect::core::{CoreJwsSigningAlgorithm, CoreUserInfoClaims};
use openidconnect::{OAuth2TokenResponse, TokenIntrospectionResponse, TokenResponse};
use serde_json::{Value, json};

#[tokio::test]
async fn rotating_the_key_keeps_live_tokens_verifiable() {
    let mut f = Fixture::start().await;
    f.user("alice");
    let app = f
        .app(NewClient {
            skip_consent: true,
            ..client("Wiki")
        })
        .await;
    let browser = f.signed_in("alice").await;
    let before = f.login(&app, &browser, &["offline_access"]).await;
    let old_kid = jwt_header(&before.id_token().to_string())["kid"].clone();

    let out = f.t.cli(&["key", "rotate", "--json"]).await;
    assert_eq!(out.code, 0, "{out:?}");

    // The RP fetches the JWKS again: the old token still verifies, the new one too, with
    // a different key.
    f.rediscover().await;
    let app = App {
        rp: f.rp(&app.id, app.secret.as_deref()),
        ..app
    };
    f.verify(&app, &before.tokens, &before.nonce);
    assert!(
        app.rp
            .introspect(before.access())
            .request_async(&f.http)
            .await
            .unwrap()
            .active()
    );
    let after = f.login(&app, &browser, &[]).await;
    let new_kid = jwt_header(&after.id_token().to_string())["kid"].clone();
    assert_ne!(old_kid, new_kid);
    // A refresh after rotation is signed by the new key.
    let refreshed = app
        .rp
        .exchange_refresh_token(before.refresh())
        .unwrap()
        .request_async(&f.http)
        .await
        .unwrap();
    assert_eq!(
        jwt_header(refreshed.access_token().secret())["kid"],
        new_kid
    );

    let keys = f.t.cli(&["key", "list", "--json"]).await.json();
    let text = keys.to_string();
    assert!(
        text.contains("active") && text.contains("previous"),
        "{text}"
    );
}

#[tokio::test]
async fn es256_and_eddsa_keys_work_with_an_rp_that_allows_them() {
    let mut f = Fixture::start().await;
    f.user("alice");
    let browser = f.signed_in("alice").await;
    for (alg, lib_alg) in [
        ("ES256", CoreJwsSigningAlgorithm::EcdsaP256Sha256),
        ("EdDSA", CoreJwsSigningAlgorithm::EdDsa),
    ] {
        let out = f.t.cli(&["key", "rotate", "--alg", alg, "--json"]).await;
        assert_eq!(out.code, 0, "{out:?}");
        f.rediscover().await;
        assert!(
            f.meta
                .id_token_signing_alg_values_supported()
                .contains(&lib_alg),
            "{alg} advertised"
        );
        let app = f
            .app(NewClient {
                skip_consent: true,
                ..client(alg)
            })
            .await;
        let req = f.authorize(&app, &[], |r| r);
        let cb = f.front_channel(&browser, &req).await;
        let nonce = req.nonce.clone();
        let tokens = f.exchange(&app, req, &cb).await.unwrap();
        let id_token = tokens.id_token().unwrap();
        assert_eq!(jwt_header(&id_token.to_string())["alg"], alg);

        // An RP that allows only RS256 (the library's default without discovery) refuses…
        let clock = f.t.clock.clone();
        let rs256_only = app
            .rp
            .id_token_verifier()
            .set_allowed_algs([CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256])
            .set_time_fn(move || chrono_now(&clock));
        assert!(id_token.claims(&rs256_only, &nonce).is_err());
        // …one that allows the alg verifies signature, nonce and at_hash.
        let clock = f.t.clock.clone();
        let allowing = app
            .rp
            .id_token_verifier()
            .set_allowed_algs([lib_alg.clone()])
            .set_time_fn(move || chrono_now(&clock));
        id_token.claims(&allowing, &nonce).unwrap();
        f.verify(&app, &tokens, &nonce);
        let info: CoreUserInfoClaims = app
            .rp
            .user_info(tokens.access_token().clone(), None)
            .unwrap()
            .request_async(&f.http)
            .await
            .unwrap();
        assert!(!info.subject().as_str().is_empty());
    }
}

#[tokio::test]
async fn custom_claims_reach_the_id_token_and_userinfo_and_the_user_s_value_wins() {
    let f = Fixture::start().await;
    let sub = f.user("alice");
    f.group("staff", &["alice"]);
    let set = |owner: ClaimOwner, claims: Vec<(&str, Value)>| Request::SetClaims {
        owner,
        claims: claims.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
    };
    f.admin(set(
        ClaimOwner::Group("staff".into()),
        vec![("department", json!("ops")), ("level", json!(1))],
    ))
    .await;
    f.admin(set(
        ClaimOwner::User("alice".into()),
        vec![("level", json!(3)), ("badges", json!(["a", "b"]))],
    ))
    .await;
    let app = f
        .app(NewClient {
            skip_consent: true,
            ..client("Wiki")
        })
        .await;
    let browser = f.signed_in("alice").await;
    let tokens = f.login(&app, &browser, &["profile", "groups"]).await;
    let claims = f.verify(&app, &tokens.tokens, &tokens.nonce);
    assert_eq!(claims["department"], "ops", "{claims}");
    assert_eq!(claims["level"], 3, "the user's value wins: {claims}");
    assert_eq!(claims["badges"], json!(["a", "b"]));
    assert_eq!(claims["groups"], json!(["staff"]));

    let info: Value = f
        .http
        .get(app.rp.user_info_url().unwrap().as_str())
        .bearer_auth(tokens.access().secret())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["sub"], sub);
    assert_eq!(info["level"], 3, "{info}");
    assert_eq!(info["groups"], json!(["staff"]));

    // Without the profile scope, no custom claims.
    let plain = f.login(&app, &browser, &[]).await;
    let claims = f.verify(&app, &plain.tokens, &plain.nonce);
    assert!(claims.get("level").is_none(), "{claims}");

    // A reserved name is refused.
    let refused =
        f.t.client()
            .await
            .call(set(
                ClaimOwner::User("alice".into()),
                vec![("sub", json!("x"))],
            ))
            .await;
    assert!(refused.is_err(), "{refused:?}");
}
