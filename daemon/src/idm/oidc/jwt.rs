//! Compact JWS (RFC 7515) by hand: `base64url(header).base64url(claims).
//! base64url(signature)`, with serde_json for the two JSON parts.
//!
//! Why not a JWT crate: the signing keys are OpenSSL keys (see `keys`), the
//! format is three base64url strings, and writing it here keeps the hot
//! path allocation-light and every check in plain sight. This module only
//! encodes and splits; `KeySet` signs and verifies, and callers check
//! `exp`, `aud` and the rest.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Longest token we try to decode, in bytes: ours are well under 4 KiB.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// Why a token was not accepted. Callers map all of these to the one
/// protocol error (`invalid_token`, `invalid_grant`, …): the variants are
/// for logs and tests.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    /// No published key has the token's `kid` (or, without a `kid`, its alg).
    #[error("signed by an unknown key")]
    UnknownKey,
    /// The header's `alg` is not the algorithm of the key named by `kid`
    /// (this is what stops `alg: none` and algorithm confusion).
    #[error("the token's alg does not match its key")]
    AlgMismatch,
    #[error("bad signature")]
    BadSignature,
}

/// The JOSE header we write (field order: alg, kid, typ).
#[derive(Debug, Serialize)]
pub(crate) struct HeaderOut<'a> {
    pub alg: &'a str,
    pub kid: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub typ: Option<&'a str>,
}

/// The JOSE header as read back.
#[derive(Debug, Deserialize, PartialEq, Eq)]
pub struct Header {
    pub alg: String,
    #[serde(default)]
    pub kid: Option<String>,
    #[serde(default)]
    pub typ: Option<String>,
}

/// A token split into its parts, signature not yet checked.
#[derive(Debug)]
pub struct Parts<'a> {
    pub header: Header,
    /// `header.claims` as received: the bytes the signature covers.
    pub signing_input: &'a str,
    claims_b64: &'a str,
    pub signature: Vec<u8>,
}

impl Parts<'_> {
    /// The claims object. Call only after the signature verified.
    pub fn claims(&self) -> Result<Value, JwtError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(self.claims_b64)
            .map_err(|_| JwtError::Malformed("the claims are not base64url"))?;
        let claims: Value = serde_json::from_slice(&bytes)
            .map_err(|_| JwtError::Malformed("the claims are not JSON"))?;
        if !claims.is_object() {
            return Err(JwtError::Malformed("the claims are not a JSON object"));
        }
        Ok(claims)
    }
}

/// `base64url(header).base64url(claims)`: what gets signed.
pub(crate) fn signing_input(header: &HeaderOut<'_>, claims: &Value) -> Result<String, String> {
    let header = serde_json::to_vec(header).map_err(|e| e.to_string())?;
    let claims = serde_json::to_vec(claims).map_err(|e| e.to_string())?;
    let mut out = String::with_capacity((header.len() + claims.len()) * 4 / 3 + 90 + 350);
    URL_SAFE_NO_PAD.encode_string(&header, &mut out);
    out.push('.');
    URL_SAFE_NO_PAD.encode_string(&claims, &mut out);
    Ok(out)
}

/// Appends `.base64url(signature)` to the signing input.
pub(crate) fn finish(mut signing_input: String, signature: &[u8]) -> String {
    signing_input.push('.');
    URL_SAFE_NO_PAD.encode_string(signature, &mut signing_input);
    signing_input
}

/// Splits a compact JWS and decodes its header and signature.
pub fn split(token: &str) -> Result<Parts<'_>, JwtError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(JwtError::Malformed("too long"));
    }
    let (signing_input, signature_b64) = token
        .rsplit_once('.')
        .ok_or(JwtError::Malformed("not three parts"))?;
    let (header_b64, claims_b64) = signing_input
        .split_once('.')
        .ok_or(JwtError::Malformed("not three parts"))?;
    if claims_b64.contains('.') {
        return Err(JwtError::Malformed("not three parts"));
    }
    let header_bytes = URL_SAFE_NO_PAD
        .decode(header_b64)
        .map_err(|_| JwtError::Malformed("the header is not base64url"))?;
    let header: Header = serde_json::from_slice(&header_bytes)
        .map_err(|_| JwtError::Malformed("the header is not a JOSE header"))?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature_b64)
        .map_err(|_| JwtError::Malformed("the signature is not base64url"))?;
    Ok(Parts {
        header,
        signing_input,
        claims_b64,
        signature,
    })
}

/// A JSON value's string, for claims.
pub(crate) fn str_claim<'a>(claims: &'a Value, name: &str) -> Option<&'a str> {
    claims.get(name).and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn encodes_and_splits() {
        let header = HeaderOut {
            alg: "RS256",
            kid: "k1",
            typ: Some("at+jwt"),
        };
        let input = signing_input(&header, &json!({"sub": "u"})).unwrap();
        let token = finish(input.clone(), b"sig");
        let parts = split(&token).unwrap();
        assert_eq!(parts.signing_input, input);
        assert_eq!(parts.signature, b"sig");
        assert_eq!(
            parts.header,
            Header {
                alg: "RS256".into(),
                kid: Some("k1".into()),
                typ: Some("at+jwt".into())
            }
        );
        assert_eq!(parts.claims().unwrap(), json!({"sub": "u"}));
        let header_json = URL_SAFE_NO_PAD
            .decode(token.split('.').next().unwrap())
            .unwrap();
        assert_eq!(
            String::from_utf8(header_json).unwrap(),
            r#"{"alg":"RS256","kid":"k1","typ":"at+jwt"}"#
        );
    }

    #[test]
    fn malformed_tokens_are_errors_not_panics() {
        for bad in [
            "",
            ".",
            "..",
            "a.b",
            "a.b.c.d",
            "!!!.e30.AA",
            "e30.e30.!!!",
            "eyJhbGciOjF9.e30.AA",
        ] {
            assert!(matches!(split(bad), Err(JwtError::Malformed(_))), "{bad:?}");
        }
        let long = "a".repeat(MAX_TOKEN_BYTES + 1);
        assert!(split(&long).is_err());
        // A valid header with claims that are not an object.
        let input = signing_input(
            &HeaderOut {
                alg: "ES256",
                kid: "k",
                typ: None,
            },
            &json!([1]),
        )
        .unwrap();
        let token = finish(input, b"x");
        assert!(split(&token).unwrap().claims().is_err());
    }
}
