//! `POST /token`, `POST /introspect`, `POST /revoke`: form bodies, client authentication by
//! `client_secret_basic` (the id and secret form-urlencoded, then Base64, RFC 6749 §2.3.1),
//! `client_secret_post`, or `client_id` alone for public clients. Using two methods at once
//! is `invalid_request`.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::super::WebState;
use super::super::client_ip::Client as Peer;
use super::{form_pairs, json_no_store, oauth_error, run};
use crate::idm::Actor;
use crate::idm::oidc::authorize::single;
use crate::idm::oidc::error::OAuthError;
use crate::idm::oidc::token::{ClientCredentials, TokenRequest};

/// The `Authorization: Basic` credentials, decoded. `Err` when the header is Basic but
/// malformed.
pub(super) fn basic(headers: &HeaderMap) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = headers.get(AUTHORIZATION) else {
        return Ok(None);
    };
    let Some((scheme, encoded)) = value.to_str().ok().and_then(|v| v.split_once(' ')) else {
        return Ok(None);
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Ok(None);
    }
    let malformed = OAuthError::invalid_client;
    let decoded = STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(malformed)?;
    let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
    let unescape = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Ok(Some((unescape(id), unescape(secret))))
}

/// The client's credentials from the header or the form.
fn credentials(
    headers: &HeaderMap,
    params: &[(String, String)],
) -> Result<ClientCredentials, (OAuthError, bool)> {
    let bad = |e: String| (OAuthError::invalid_request(e), false);
    let form_id = single(params, "client_id").map_err(bad)?;
    let form_secret = single(params, "client_secret").map_err(bad)?;
    match basic(headers).map_err(|e| (e, true))? {
        Some((id, secret)) => {
            if form_secret.is_some() {
                return Err(bad(
                    "use one client authentication method, not two".to_owned()
                ));
            }
            if form_id.is_some_and(|f| f != id) {
                return Err((OAuthError::invalid_client(), true));
            }
            Ok(ClientCredentials {
                client_id: id,
                secret: Some(secret),
                basic: true,
            })
        }
        None => {
            let id = form_id.ok_or((OAuthError::invalid_client(), false))?;
            Ok(ClientCredentials {
                client_id: id.to_owned(),
                secret: form_secret.map(str::to_owned),
                basic: false,
            })
        }
    }
}

/// Parses the form and authenticates the client; `Err` is the finished error response.
pub(super) async fn authenticated(
    state: &WebState,
    headers: &HeaderMap,
    body: &Bytes,
    require_secret: bool,
) -> Result<
    (
        crate::idm::Oidc,
        crate::idm::oidc::Client,
        Vec<(String, String)>,
    ),
    Response,
> {
    let oidc = state
        .oidc()
        .map_err(|_| oauth_error(&OAuthError::server_error(), false))?;
    let params = form_pairs(headers, body).map_err(|e| oauth_error(&e, false))?;
    let creds = credentials(headers, &params).map_err(|(e, basic)| oauth_error(&e, basic))?;
    let basic = creds.basic;
    if require_secret && creds.secret.is_none() {
        return Err(oauth_error(&OAuthError::invalid_client(), basic));
    }
    // Inline, not on the blocking pool: one read transaction and a constant-time compare
    // take microseconds, less than the trip to a blocking thread and back (measured with
    // scripts/bench-oidc: two trips per token request cost more CPU than signing ES256).
    let client = oidc
        .authenticate(&creds)
        .map_err(|e| oauth_error(&e, basic))?;
    Ok((oidc, client, params))
}

/// `POST /token`
pub async fn token_post(
    State(state): State<WebState>,
    peer: Peer,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if body.len() > super::BODY_LIMIT {
        return oauth_error(
            &OAuthError::invalid_request("the request is too large"),
            false,
        );
    }
    let basic = matches!(basic(&headers), Ok(Some(_)));
    let (oidc, client, params) = match authenticated(&state, &headers, &body, false).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let field = |name: &str| single(&params, name).map(|v| v.map(str::to_owned));
    let request = (|| {
        Ok::<_, String>(TokenRequest {
            grant_type: field("grant_type")?,
            code: field("code")?,
            redirect_uri: field("redirect_uri")?,
            code_verifier: field("code_verifier")?,
            refresh_token: field("refresh_token")?,
            scope: field("scope")?,
        })
    })();
    let request = match request {
        Ok(r) => r,
        Err(e) => return oauth_error(&OAuthError::invalid_request(e), basic),
    };
    let actor = Actor::anonymous(Some(peer.ip.to_string()), peer.user_agent.clone());
    let grant_type = request.grant_type.clone();
    // A request that writes nothing (client_credentials, a code exchange without
    // offline_access) runs inline, even with RSA (about 0.25 ms a signature): a trip to the
    // blocking pool cost more than it saved — measured with scripts/bench-oidc, RS256
    // client_credentials went from 5,783 tokens/s (p99 8.6 ms) on the blocking pool to
    // 6,192/s (p99 5.1 ms) inline. Requests that may write (refresh rotation, a refresh
    // token, a replay's revocation) go to the blocking pool, admitted a few at a time in
    // arrival order (`token_writes`): sixteen threads signing RS256 at once on two cores made
    // every one of them slow (code exchange p99 18 ms → 9 ms).
    let result = if oidc.token_may_write(&request) {
        let _permit = state.token_writes.acquire().await;
        run(move || oidc.token(&actor, &client, &request)).await
    } else {
        oidc.token(&actor, &client, &request)
    };
    if crate::metrics::on() {
        count_token_answer(grant_type.as_deref(), result.as_ref().err());
    }
    match result {
        Ok(tokens) => json_no_store(
            StatusCode::OK,
            serde_json::to_vec(&tokens).unwrap_or_default(),
        ),
        Err(error) => oauth_error(&error, basic),
    }
}

/// `latchkey_tokens_issued_total` or `latchkey_token_errors_total`, by grant type (one of
/// the grants Latchkey knows, so that a client cannot make up labels).
fn count_token_answer(grant_type: Option<&str>, error: Option<&OAuthError>) {
    let grant: &'static str = match grant_type {
        Some("authorization_code") => "authorization_code",
        Some("refresh_token") => "refresh_token",
        Some("client_credentials") => "client_credentials",
        Some(_) => "other",
        None => "none",
    };
    match error {
        None => ::metrics::counter!("latchkey_tokens_issued_total", "grant" => grant).increment(1),
        Some(error) => ::metrics::counter!(
            "latchkey_token_errors_total",
            "grant" => grant,
            "error" => error.code.as_str()
        )
        .increment(1),
    }
}

fn token_param(params: &[(String, String)]) -> Result<String, OAuthError> {
    single(params, "token")
        .map_err(OAuthError::invalid_request)?
        .map(str::to_owned)
        .ok_or_else(|| OAuthError::invalid_request("token is missing"))
}

/// `POST /introspect` (RFC 7662): confidential clients only.
pub async fn introspect_post(
    State(state): State<WebState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let basic = matches!(basic(&headers), Ok(Some(_)));
    let (oidc, client, params) = match authenticated(&state, &headers, &body, true).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let token = match token_param(&params) {
        Ok(t) => t,
        Err(e) => return oauth_error(&e, basic),
    };
    match run(move || Ok(oidc.introspect(&client, &token)?)).await {
        Ok(answer) => json_no_store(
            StatusCode::OK,
            serde_json::to_vec(&answer).unwrap_or_default(),
        ),
        Err(error) => oauth_error(&error, basic),
    }
}

/// `POST /revoke` (RFC 7009): 200 whether or not the token was known.
pub async fn revoke_post(
    State(state): State<WebState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let basic = matches!(basic(&headers), Ok(Some(_)));
    let (oidc, client, params) = match authenticated(&state, &headers, &body, false).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let token = match token_param(&params) {
        Ok(t) => t,
        Err(e) => return oauth_error(&e, basic),
    };
    match run(move || Ok(oidc.revoke(&client, &token)?)).await {
        Ok(()) => json_no_store(StatusCode::OK, Vec::new()).into_response(),
        Err(error) => oauth_error(&error, basic),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn basic_credentials_are_form_decoded() {
        let mut h = HeaderMap::new();
        assert_eq!(basic(&h).unwrap(), None);
        let encoded = STANDARD.encode("my%20id:s%3Acret+x");
        h.insert(
            AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {encoded}")).unwrap(),
        );
        assert_eq!(
            basic(&h).unwrap(),
            Some(("my id".to_owned(), "s:cret x".to_owned()))
        );
        h.insert(AUTHORIZATION, HeaderValue::from_static("Basic !!!"));
        assert!(basic(&h).is_err());
        h.insert(AUTHORIZATION, HeaderValue::from_static("Bearer abc"));
        assert_eq!(basic(&h).unwrap(), None);
    }

    #[test]
    fn two_authentication_methods_are_refused() {
        let mut h = HeaderMap::new();
        let encoded = STANDARD.encode("id:secret");
        h.insert(
            AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {encoded}")).unwrap(),
        );
        let params = vec![("client_secret".to_owned(), "secret".to_owned())];
        let (e, _) = credentials(&h, &params).unwrap_err();
        assert_eq!(e.code.as_str(), "invalid_request");
        let (e, basic) = credentials(&HeaderMap::new(), &[]).unwrap_err();
        assert_eq!((e.code.as_str(), basic), ("invalid_client", false));
    }
}
