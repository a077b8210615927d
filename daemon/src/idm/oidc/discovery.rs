//! The discovery document (OpenID Connect Discovery 1.0; served also as RFC 8414 metadata),
//! rendered once into bytes when the service starts: the endpoints depend only on the issuer,
//! and every algorithm we can sign with is listed, so a key rotation changes nothing here.

use serde_json::json;

use super::keys::Alg;

pub const AUTHORIZE_PATH: &str = "/authorize";
pub const TOKEN_PATH: &str = "/token";
pub const USERINFO_PATH: &str = "/userinfo";
pub const JWKS_PATH: &str = "/.well-known/jwks.json";
pub const INTROSPECT_PATH: &str = "/introspect";
pub const REVOKE_PATH: &str = "/revoke";
pub const END_SESSION_PATH: &str = "/end-session";
pub const PAR_PATH: &str = "/par";

/// The scopes we know; others are ignored (dropped from the grant).
pub const SCOPES: &[&str] = &["openid", "profile", "email", "groups", "offline_access"];

/// Claims we can return (custom claims come on top, by name, under `profile`).
pub const CLAIMS: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "at_hash",
    "amr",
    "sid",
    "azp",
    "name",
    "given_name",
    "family_name",
    "preferred_username",
    "updated_at",
    "email",
    "email_verified",
    "groups",
];

/// The document's bytes, `active` first among the signing algorithms.
pub fn document(issuer: &str, active: Alg) -> Vec<u8> {
    let mut algs = vec![active.as_str()];
    algs.extend(
        Alg::ALL
            .iter()
            .filter(|a| **a != active)
            .map(|a| a.as_str()),
    );
    let url = |path: &str| format!("{issuer}{path}");
    let doc = json!({
        "issuer": issuer,
        "authorization_endpoint": url(AUTHORIZE_PATH),
        "token_endpoint": url(TOKEN_PATH),
        "userinfo_endpoint": url(USERINFO_PATH),
        "jwks_uri": url(JWKS_PATH),
        "introspection_endpoint": url(INTROSPECT_PATH),
        "revocation_endpoint": url(REVOKE_PATH),
        "end_session_endpoint": url(END_SESSION_PATH),
        "pushed_authorization_request_endpoint": url(PAR_PATH),
        // Per client (`require_par`), not for the whole deployment.
        "require_pushed_authorization_requests": false,
        "scopes_supported": SCOPES,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "fragment", "form_post"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": algs,
        "token_endpoint_auth_methods_supported":
            ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported":
            ["client_secret_basic", "client_secret_post"],
        "revocation_endpoint_auth_methods_supported":
            ["client_secret_basic", "client_secret_post", "none"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": CLAIMS,
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "authorization_response_iss_parameter_supported": true,
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        // A `request_uri` is taken only from `/par` (its own, sealed), never fetched.
        "request_uri_parameter_supported": false,
        "frontchannel_logout_supported": false,
        "backchannel_logout_supported": false,
    });
    // Serialising a `Value` cannot fail.
    serde_json::to_vec(&doc).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn the_document_names_our_endpoints_and_capabilities() {
        let bytes = document("https://id.example.com", Alg::ES256);
        let doc: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(doc["issuer"], "https://id.example.com");
        assert_eq!(doc["token_endpoint"], "https://id.example.com/token");
        assert_eq!(
            doc["jwks_uri"],
            "https://id.example.com/.well-known/jwks.json"
        );
        assert_eq!(doc["id_token_signing_alg_values_supported"][0], "ES256");
        assert_eq!(
            doc["id_token_signing_alg_values_supported"]
                .as_array()
                .unwrap()
                .len(),
            3
        );
        assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
        // Userinfo answers plain JSON; "none" here is not a JWS algorithm and trips clients.
        assert!(doc.get("userinfo_signing_alg_values_supported").is_none());
        assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
        assert_eq!(doc["response_types_supported"], json!(["code"]));
    }
}
