//! The authorization response for each `response_mode`: a redirect carrying the parameters
//! in the query or the fragment, or a page that posts them (`form_post`); always with `state`
//! when the request had one and the RFC 9207 `iss`.

use super::super::error::OAuthError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponseMode {
    Query,
    Fragment,
    FormPost,
}

/// Where the authorization response goes, and how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponseTarget {
    pub redirect_uri: String,
    pub mode: ResponseMode,
    pub state: Option<String>,
}

/// The authorization response: a redirect, or (form_post) a page that posts `fields` to
/// `action`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthorizationResponse {
    Redirect(String),
    FormPost {
        action: String,
        fields: Vec<(String, String)>,
    },
}

impl ResponseTarget {
    /// The response carrying `params`, then `state` and `iss`.
    pub fn respond(&self, issuer: &str, params: Vec<(&str, String)>) -> AuthorizationResponse {
        let mut fields: Vec<(String, String)> =
            params.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        if let Some(state) = &self.state {
            fields.push(("state".to_owned(), state.clone()));
        }
        fields.push(("iss".to_owned(), issuer.to_owned()));
        match self.mode {
            ResponseMode::FormPost => AuthorizationResponse::FormPost {
                action: self.redirect_uri.clone(),
                fields,
            },
            ResponseMode::Query | ResponseMode::Fragment => {
                let mut encoded = url::form_urlencoded::Serializer::new(String::new());
                for (k, v) in &fields {
                    encoded.append_pair(k, v);
                }
                let encoded = encoded.finish();
                let separator = match self.mode {
                    ResponseMode::Fragment => '#',
                    _ if self.redirect_uri.contains('?') => '&',
                    _ => '?',
                };
                AuthorizationResponse::Redirect(format!(
                    "{}{separator}{encoded}",
                    self.redirect_uri
                ))
            }
        }
    }

    pub fn error(&self, issuer: &str, error: &OAuthError) -> AuthorizationResponse {
        self.respond(
            issuer,
            vec![
                ("error", error.code.as_str().to_owned()),
                ("error_description", error.description.to_string()),
            ],
        )
    }
}
