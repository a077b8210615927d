//! A stock relying party for the OpenID Connect tests: the `openidconnect` crate (4.1) does
//! discovery, builds the authorization requests, exchanges codes, verifies ID tokens against the
//! JWKS (signature, iss, aud, exp, nonce; `at_hash` as its docs recommend), calls userinfo,
//! refreshes and introspects. [`Fixture`] holds a test daemon, the RP's back channel and the
//! discovered metadata; the front channel goes through [`crate::html::Browser`], which signs in
//! with a login code and stops at the redirect to the RP's redirect URI, where
//! [`Landing::callback`] reads `code`, `state` and `iss`. The test daemon's clock is manual, so
//! the RP's verifier is given the same clock.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use latchkey_daemon::idm::{Actor, Idm};
use latchkey_protocol::oidc::NewClient;
use latchkey_protocol::{NewGroup, Request, Response};
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreClaimName, CoreClaimType,
    CoreClient, CoreClientAuthMethod, CoreErrorResponseType, CoreGrantType, CoreIdToken,
    CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm,
    CoreResponseMode, CoreResponseType, CoreSubjectIdentifierType, CoreTokenResponse,
};
use openidconnect::{
    AccessToken, AccessTokenHash, AdditionalProviderMetadata, AuthorizationCode, ClientId,
    ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet, EndpointSet, IntrospectionUrl,
    IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, ProviderMetadata,
    RedirectUrl, RefreshToken, RequestTokenError, RevocationUrl, Scope, TokenResponse,
};
use reqwest::{StatusCode, Url};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::TestDaemon;
use crate::html::{Browser, Landing, consent_form};

/// Where the RP wants its users back. Nothing listens there: the browser stops at the
/// redirect and hands the URL to the test.
pub const REDIRECT_URI: &str = "http://localhost:9/callback";
pub const LOGOUT_URI: &str = "http://localhost:9/signed-out";

/// Discovery fields the core metadata type does not carry.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Extra {
    pub end_session_endpoint: Option<String>,
    pub introspection_endpoint: Option<String>,
    pub revocation_endpoint: Option<String>,
    pub authorization_response_iss_parameter_supported: Option<bool>,
    pub code_challenge_methods_supported: Option<Vec<String>>,
}
impl AdditionalProviderMetadata for Extra {}

pub type Metadata = ProviderMetadata<
    Extra,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

/// The library's client with every endpoint we use configured.
pub type Rp = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointSet,
    EndpointSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

pub type TokenError = RequestTokenError<
    openidconnect::HttpClientError<reqwest::Error>,
    openidconnect::StandardErrorResponse<CoreErrorResponseType>,
>;

/// A daemon, an RP back channel and the discovered metadata.
#[derive(Debug)]
pub struct Fixture {
    pub t: TestDaemon,
    /// The RP's HTTP client: never follows redirects (the library's advice).
    pub http: reqwest::Client,
    pub meta: Metadata,
}

/// A registered client and the RP configured for it.
#[derive(Debug)]
pub struct App {
    pub id: String,
    pub secret: Option<String>,
    pub rp: Rp,
}

/// An authorization request the RP sent the browser to.
#[derive(Debug)]
pub struct AuthRequest {
    pub url: Url,
    pub state: CsrfToken,
    pub nonce: Nonce,
    pub verifier: Option<PkceCodeVerifier>,
}

/// What came back to the redirect URI.
#[derive(Debug)]
pub struct Callback {
    pub url: Url,
    pub params: Vec<(String, String)>,
}

impl Callback {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn code(&self) -> AuthorizationCode {
        AuthorizationCode::new(
            self.get("code")
                .unwrap_or_else(|| panic!("no code in {}", self.url))
                .to_owned(),
        )
    }
}

/// The ManualClock's now, as chrono (the library's time type).
pub fn chrono_now(clock: &latchkey_daemon::clock::ManualClock) -> chrono::DateTime<chrono::Utc> {
    use latchkey_daemon::clock::Clock as _;
    let now = clock.now();
    chrono::DateTime::from_timestamp(now.unix_timestamp(), now.nanosecond()).unwrap()
}

impl Fixture {
    pub async fn start() -> Fixture {
        let t = TestDaemon::start().await;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let meta = discover(&http, &t.base_url).await;
        Fixture { t, http, meta }
    }

    pub fn idm(&self) -> &Idm {
        self.t.daemon.idm()
    }

    /// Discovery again (after a key rotation: the JWKS is part of it).
    pub async fn rediscover(&mut self) {
        self.meta = discover(&self.http, &self.t.base_url).await;
    }

    pub fn user(&self, username: &str) -> String {
        self.idm()
            .create_user(&Actor::system(), crate::http::new_user(username))
            .unwrap();
        self.idm().get_user(username).unwrap().user.id.to_string()
    }

    pub fn group(&self, name: &str, members: &[&str]) {
        self.idm()
            .create_group(
                &Actor::system(),
                NewGroup {
                    name: name.to_owned(),
                    friendly_name: None,
                },
            )
            .unwrap();
        for m in members {
            self.idm()
                .add_group_member(&Actor::system(), name, m)
                .unwrap();
        }
    }

    pub async fn admin(&self, request: Request) -> Response {
        self.t.client().await.call(request).await.unwrap()
    }

    /// Registers a client through the admin socket; the RP is configured from discovery.
    pub async fn app(&self, input: NewClient) -> App {
        let created = match self.admin(Request::CreateClient { client: input }).await {
            Response::ClientWithSecret { client } => client,
            other => panic!("CreateClient answered {other:?}"),
        };
        let id = created.client.client_id.clone();
        let secret = created.client_secret.clone();
        App {
            rp: self.rp(&id, secret.as_deref()),
            id,
            secret,
        }
    }

    /// A confidential client with the usual redirect URIs.
    pub async fn confidential(&self, name: &str) -> App {
        self.app(client(name)).await
    }

    pub fn rp(&self, id: &str, secret: Option<&str>) -> Rp {
        let extra = &self.meta.additional_metadata();
        CoreClient::from_provider_metadata(
            self.meta.clone(),
            ClientId::new(id.to_owned()),
            secret.map(|s| ClientSecret::new(s.to_owned())),
        )
        .set_redirect_uri(RedirectUrl::new(REDIRECT_URI.to_owned()).unwrap())
        .set_introspection_url(
            IntrospectionUrl::new(extra.introspection_endpoint.clone().unwrap()).unwrap(),
        )
        .set_revocation_url(RevocationUrl::new(extra.revocation_endpoint.clone().unwrap()).unwrap())
    }

    /// RFC 7009 revocation by hand (client_secret_basic); the status.
    pub async fn revoke(&self, app: &App, token: &str, hint: Option<&str>) -> StatusCode {
        let url = self
            .meta
            .additional_metadata()
            .revocation_endpoint
            .clone()
            .unwrap();
        let mut form = vec![("token", token)];
        if let Some(hint) = hint {
            form.push(("token_type_hint", hint));
        }
        self.http
            .post(&url)
            .basic_auth(&app.id, app.secret.as_deref())
            .form(&form)
            .send()
            .await
            .unwrap()
            .status()
    }

    /// A fresh browser (cookie jar, redirects handled by [`Browser::go`]).
    pub fn browser(&self) -> Browser {
        Browser::new(&self.t.base_url)
    }

    /// A browser signed in as `username` with a login code.
    pub async fn signed_in(&self, username: &str) -> Browser {
        let b = self.browser();
        b.sign_in(self.idm(), username, None).await;
        b
    }

    /// The RP's authorization request: code flow, PKCE S256, nonce, state, `scopes` besides
    /// openid; `tweak` adds prompt, max_age, extra parameters.
    pub fn authorize(
        &self,
        app: &App,
        scopes: &[&str],
        tweak: impl FnOnce(
            openidconnect::AuthorizationRequest<
                '_,
                CoreAuthDisplay,
                CoreAuthPrompt,
                CoreResponseType,
            >,
        ) -> openidconnect::AuthorizationRequest<
            '_,
            CoreAuthDisplay,
            CoreAuthPrompt,
            CoreResponseType,
        >,
    ) -> AuthRequest {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut req = app
            .rp
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        for s in scopes {
            req = req.add_scope(Scope::new((*s).to_owned()));
        }
        let (url, state, nonce) = tweak(req).url();
        AuthRequest {
            url,
            state,
            nonce,
            verifier: Some(verifier),
        }
    }

    /// The whole front channel for a signed-in browser: authorize, consent if asked, and
    /// the callback (state and RFC 9207 iss checked).
    pub async fn front_channel(&self, browser: &Browser, req: &AuthRequest) -> Callback {
        let mut landing = browser.go(req.url.as_str()).await;
        if let Landing::Page { body, .. } = &landing
            && consent_form(body).is_some()
        {
            landing = browser.consent(&landing, true).await;
        }
        let cb = landing.callback();
        self.check_callback(&cb, req);
        cb
    }

    pub fn check_callback(&self, cb: &Callback, req: &AuthRequest) {
        assert_eq!(
            cb.get("state"),
            Some(req.state.secret().as_str()),
            "{}",
            cb.url
        );
        assert_eq!(
            cb.get("iss"),
            Some(self.t.base_url.as_str()),
            "RFC 9207 iss on the authorization response: {}",
            cb.url
        );
    }

    /// Code → tokens with the library (PKCE verifier included).
    pub async fn exchange(
        &self,
        app: &App,
        req: AuthRequest,
        cb: &Callback,
    ) -> Result<CoreTokenResponse, TokenError> {
        let mut ex = app.rp.exchange_code(cb.code()).unwrap();
        if let Some(v) = req.verifier {
            ex = ex.set_pkce_verifier(v);
        }
        ex.request_async(&self.http).await
    }

    /// A signed-in user's full code flow with `app`; verified tokens.
    pub async fn login(&self, app: &App, browser: &Browser, scopes: &[&str]) -> Tokens {
        let req = self.authorize(app, scopes, |r| r);
        let cb = self.front_channel(browser, &req).await;
        let nonce = req.nonce.clone();
        let tokens = self.exchange(app, req, &cb).await.unwrap();
        self.verify(app, &tokens, &nonce);
        Tokens { tokens, nonce }
    }

    /// The library's ID-token verification (with the daemon's clock) and the at_hash check.
    pub fn verify(&self, app: &App, tokens: &CoreTokenResponse, nonce: &Nonce) -> Value {
        let id_token = tokens.id_token().expect("an ID token");
        let clock = self.t.clock.clone();
        let verifier = app
            .rp
            .id_token_verifier()
            .set_time_fn(move || chrono_now(&clock));
        let claims = id_token.claims(&verifier, nonce).unwrap();
        let expected = claims.access_token_hash().expect("at_hash in the ID token");
        let actual = AccessTokenHash::from_token(
            tokens.access_token(),
            id_token.signing_alg().unwrap(),
            id_token.signing_key(&verifier).unwrap(),
        )
        .unwrap();
        assert_eq!(&actual, expected, "at_hash matches the access token");
        jwt_payload(&id_token.to_string())
    }
}

#[derive(Debug)]
pub struct Tokens {
    pub tokens: CoreTokenResponse,
    pub nonce: Nonce,
}

impl Tokens {
    pub fn access(&self) -> &AccessToken {
        self.tokens.access_token()
    }
    pub fn refresh(&self) -> &RefreshToken {
        self.tokens.refresh_token().expect("a refresh token")
    }
    pub fn id_token(&self) -> &CoreIdToken {
        self.tokens.id_token().expect("an ID token")
    }
}

pub async fn discover(http: &reqwest::Client, base: &str) -> Metadata {
    Metadata::discover_async(IssuerUrl::new(base.to_owned()).unwrap(), http)
        .await
        .unwrap()
}

/// A confidential client's input: the usual redirect and logout URIs.
pub fn client(name: &str) -> NewClient {
    NewClient {
        name: name.to_owned(),
        redirect_uris: vec![REDIRECT_URI.to_owned()],
        logout_redirect_uris: vec![LOGOUT_URI.to_owned()],
        ..NewClient::default()
    }
}

/// The decoded payload of a compact JWS (no verification: the library did that).
pub fn jwt_payload(jwt: &str) -> Value {
    let part = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

pub fn jwt_header(jwt: &str) -> Value {
    let part = jwt.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// The RFC 6749 error code of a failed token request, from the library's error.
pub fn oauth_error(err: &TokenError) -> String {
    match err {
        RequestTokenError::ServerResponse(r) => r.error().as_ref().to_owned(),
        other => panic!("expected an error response from the server, got {other:?}"),
    }
}

/// Where a navigation that left the daemon went, read as the RP's callback.
impl Landing {
    pub fn callback(self) -> Callback {
        match self {
            Landing::Left(url) => {
                assert!(
                    url.as_str().starts_with(REDIRECT_URI),
                    "left for an unexpected place: {url}"
                );
                // response_mode=fragment puts the parameters after '#'.
                let params = match url.fragment() {
                    Some(f) if url.query().is_none() => Url::parse(&format!("http://x/?{f}"))
                        .unwrap()
                        .query_pairs()
                        .into_owned()
                        .collect(),
                    _ => url.query_pairs().into_owned().collect(),
                };
                Callback { url, params }
            }
            Landing::Page { url, status, body } => {
                panic!("expected a redirect to the RP, got the page {url} ({status}):\n{body}")
            }
        }
    }
}
