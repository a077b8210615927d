//! The authorization endpoint's rules: validating a request ([`validate`], `request.rs`),
//! deciding what the user must do ([`decide`], `decision.rs`), issuing a code
//! (`Oidc::prepare_code`, then `Oidc::hand_out_code` once its audit event is durable;
//! `code.rs`) and shaping the answer ([`ResponseTarget::respond`], `response.rs`) for each
//! `response_mode`, always with the RFC 9207 `iss`.
//!
//! Until the client and redirect URI are known to be registered, errors are shown on a
//! Latchkey page ([`AuthorizeError::Page`]), never redirected: a redirect to an unvalidated
//! URI would make us an open redirector. After that, errors go back to the client.
//!
//! Decisions where the specs leave room:
//! - Unknown scopes are ignored (dropped from the grant and from the token's `scope`), so a
//!   relying party asking for something extra still works; the token response always says
//!   which scopes were granted.
//! - Unknown `prompt` values are ignored; `none` with any other value is `invalid_request`.
//!   `select_account` behaves like `login` (one account per browser).
//! - `request` and `request_uri` are refused (`request_not_supported`,
//!   `request_uri_not_supported`), as discovery says.
//! - A repeated parameter is `invalid_request` (RFC 6749 §3.1).

mod code;
mod decision;
mod request;
mod response;

pub use code::PreparedCode;
pub use decision::{Decision, Standing, decide, params_after_sign_in};
pub use request::{
    AuthorizeError, AuthorizeRequest, MAX_NONCE, MAX_STATE, Prompt, Refusal, check, known_scopes,
    single, validate,
};
pub use response::{AuthorizationResponse, ResponseMode, ResponseTarget};

#[cfg(test)]
mod tests;
