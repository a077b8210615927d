//! The OpenID Connect provider with a stock relying party: the `openidconnect` crate
//! (4.1) does discovery, builds the authorization requests, exchanges codes, verifies ID
//! tokens against the JWKS (signature, iss, aud, exp, nonce; `at_hash` as its docs
//! recommend), calls userinfo, refreshes, introspects and revokes. The "browser" is a
//! reqwest client with a cookie jar that signs in with a login code and follows the
//! daemon's redirects until one leaves for the RP's redirect URI, where the test reads
//! `code`, `state` and `iss`. The test daemon's clock is manual, so the RP's verifier is
//! given the same clock.
//!
//! Raw HTTP is used only where the library hides what is checked: status codes,
//! `WWW-Authenticate`, `Cache-Control`, and error pages that must not redirect.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use latchkey_daemon::idm::{Actor, Idm};
use latchkey_protocol::oidc::{ClaimOwner, NewClient};
use latchkey_protocol::{AuditQuery, NewGroup, Request, Response};
use latchkey_tests::TestDaemon;
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreClaimName, CoreClaimType,
    CoreClient, CoreClientAuthMethod, CoreErrorResponseType, CoreGrantType, CoreIdToken,
    CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm,
    CoreJwsSigningAlgorithm, CoreResponseMode, CoreResponseType, CoreRevocableToken,
    CoreSubjectIdentifierType, CoreTokenResponse, CoreUserInfoClaims,
};
use openidconnect::{
    AccessToken, AccessTokenHash, AdditionalProviderMetadata, AuthType, AuthorizationCode,
    ClientId, ClientSecret, CsrfToken, EndSessionUrl, EndpointMaybeSet, EndpointNotSet,
    EndpointSet, IntrospectionUrl, IssuerUrl, LogoutRequest, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, PostLogoutRedirectUrl, ProviderMetadata, RedirectUrl,
    RefreshToken, RequestTokenError, RevocationUrl, Scope, SubjectIdentifier,
    TokenIntrospectionResponse, TokenResponse,
};
use reqwest::header::{CACHE_CONTROL, LOCATION, WWW_AUTHENTICATE};
use reqwest::{StatusCode, Url};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Where the RP wants its users back. Nothing listens there: the browser stops at the
/// redirect and hands the URL to the test.
const REDIRECT_URI: &str = "http://localhost:9/callback";
const LOGOUT_URI: &str = "http://localhost:9/signed-out";

// ---------------------------------------------------------------------------------------
// The relying party

/// Discovery fields the core metadata type does not carry.
#[derive(Clone, Debug, Deserialize, Serialize)]
struct Extra {
    end_session_endpoint: Option<String>,
    introspection_endpoint: Option<String>,
    revocation_endpoint: Option<String>,
    authorization_response_iss_parameter_supported: Option<bool>,
    code_challenge_methods_supported: Option<Vec<String>>,
}
impl AdditionalProviderMetadata for Extra {}

type Metadata = ProviderMetadata<
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
type Rp = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointSet,
    EndpointSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

type TokenError = RequestTokenError<
    openidconnect::HttpClientError<reqwest::Error>,
    openidconnect::StandardErrorResponse<CoreErrorResponseType>,
>;

/// A daemon, an RP back channel and the discovered metadata.
struct Fixture {
    t: TestDaemon,
    /// The RP's HTTP client: never follows redirects (the library's advice).
    http: reqwest::Client,
    meta: Metadata,
}

/// A registered client and the RP configured for it.
struct App {
    id: String,
    secret: Option<String>,
    rp: Rp,
}

/// An authorization request the RP sent the browser to.
struct AuthRequest {
    url: Url,
    state: CsrfToken,
    nonce: Nonce,
    verifier: Option<PkceCodeVerifier>,
}

/// What came back to the redirect URI.
#[derive(Debug)]
struct Callback {
    url: Url,
    params: Vec<(String, String)>,
}

impl Callback {
    fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn code(&self) -> AuthorizationCode {
        AuthorizationCode::new(
            self.get("code")
                .unwrap_or_else(|| panic!("no code in {}", self.url))
                .to_owned(),
        )
    }
}

/// What a browser navigation ended on.
#[derive(Debug)]
enum Landing {
    /// A redirect that leaves the daemon (to the RP).
    Left(Url),
    /// A page of the daemon (after following its own redirects).
    Page {
        url: Url,
        status: StatusCode,
        body: String,
    },
}

impl Landing {
    fn callback(self) -> Callback {
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

    fn page(self) -> (Url, StatusCode, String) {
        match self {
            Landing::Page { url, status, body } => (url, status, body),
            Landing::Left(url) => panic!("expected a page of the daemon, got a redirect to {url}"),
        }
    }
}

/// The ManualClock's now, as chrono (the library's time type).
fn chrono_now(clock: &latchkey_daemon::clock::ManualClock) -> chrono::DateTime<chrono::Utc> {
    use latchkey_daemon::clock::Clock as _;
    let now = clock.now();
    chrono::DateTime::from_timestamp(now.unix_timestamp(), now.nanosecond()).unwrap()
}

impl Fixture {
    async fn start() -> Fixture {
        let t = TestDaemon::start().await;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let meta = discover(&http, &t.base_url).await;
        Fixture { t, http, meta }
    }

    fn idm(&self) -> &Idm {
        self.t.daemon.idm()
    }

    /// Discovery again (after a key rotation: the JWKS is part of it).
    async fn rediscover(&mut self) {
        self.meta = discover(&self.http, &self.t.base_url).await;
    }

    fn user(&self, username: &str) -> String {
        self.idm()
            .create_user(&Actor::system(), super::http::new_user(username))
            .unwrap();
        self.idm().get_user(username).unwrap().user.id.to_string()
    }

    fn group(&self, name: &str, members: &[&str]) {
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

    async fn admin(&self, request: Request) -> Response {
        self.t.client().await.call(request).await.unwrap()
    }

    /// Registers a client through the admin socket; the RP is configured from discovery.
    async fn app(&self, input: NewClient) -> App {
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
    async fn confidential(&self, name: &str) -> App {
        self.app(client(name)).await
    }

    fn rp(&self, id: &str, secret: Option<&str>) -> Rp {
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
    async fn revoke(&self, app: &App, token: &str, hint: Option<&str>) -> StatusCode {
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
    fn browser(&self) -> Browser {
        Browser {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: Url::parse(&self.t.base_url).unwrap(),
        }
    }

    /// A browser signed in as `username` with a login code.
    async fn signed_in(&self, username: &str) -> Browser {
        let b = self.browser();
        b.sign_in(self.idm(), username, None).await;
        b
    }

    /// The RP's authorization request: code flow, PKCE S256, nonce, state, `scopes` besides
    /// openid; `tweak` adds prompt, max_age, extra parameters.
    fn authorize(
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
    async fn front_channel(&self, browser: &Browser, req: &AuthRequest) -> Callback {
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

    fn check_callback(&self, cb: &Callback, req: &AuthRequest) {
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
    async fn exchange(
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
    async fn login(&self, app: &App, browser: &Browser, scopes: &[&str]) -> Tokens {
        let req = self.authorize(app, scopes, |r| r);
        let cb = self.front_channel(browser, &req).await;
        let nonce = req.nonce.clone();
        let tokens = self.exchange(app, req, &cb).await.unwrap();
        self.verify(app, &tokens, &nonce);
        Tokens { tokens, nonce }
    }

    /// The library's ID-token verification (with the daemon's clock) and the at_hash check.
    fn verify(&self, app: &App, tokens: &CoreTokenResponse, nonce: &Nonce) -> Value {
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

struct Tokens {
    tokens: CoreTokenResponse,
    nonce: Nonce,
}

impl Tokens {
    fn access(&self) -> &AccessToken {
        self.tokens.access_token()
    }
    fn refresh(&self) -> &RefreshToken {
        self.tokens.refresh_token().expect("a refresh token")
    }
    fn id_token(&self) -> &CoreIdToken {
        self.tokens.id_token().expect("an ID token")
    }
}

async fn discover(http: &reqwest::Client, base: &str) -> Metadata {
    Metadata::discover_async(IssuerUrl::new(base.to_owned()).unwrap(), http)
        .await
        .unwrap()
}

/// A confidential client's input: the usual redirect and logout URIs.
fn client(name: &str) -> NewClient {
    NewClient {
        name: name.to_owned(),
        redirect_uris: vec![REDIRECT_URI.to_owned()],
        logout_redirect_uris: vec![LOGOUT_URI.to_owned()],
        ..NewClient::default()
    }
}

/// The decoded payload of a compact JWS (no verification: the library did that).
fn jwt_payload(jwt: &str) -> Value {
    let part = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

fn jwt_header(jwt: &str) -> Value {
    let part = jwt.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// The RFC 6749 error code of a failed token request, from the library's error.
fn oauth_error(err: &TokenError) -> String {
    match err {
        RequestTokenError::ServerResponse(r) => r.error().as_ref().to_owned(),
        other => panic!("expected an error response from the server, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// The browser

struct Browser {
    http: reqwest::Client,
    base: Url,
}

/// An HTML form: action, method, the fields it posts, and its submit buttons.
#[derive(Debug, Clone)]
struct Form {
    action: String,
    method: String,
    fields: Vec<(String, String)>,
    buttons: Vec<(String, String, String)>,
}

/// The value of `name="…"` in one tag.
fn attr(tag: &str, name: &str) -> Option<String> {
    let marker = format!(" {name}=\"");
    let start = tag.find(&marker)? + marker.len();
    let end = start + tag[start..].find('"')?;
    Some(html_unescape(&tag[start..end]))
}

fn html_unescape(s: &str) -> String {
    s.replace("&#38;", "&")
        .replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#x2F;", "/")
        .replace("&#47;", "/")
        .replace("&amp;", "&")
}

fn forms(html: &str) -> Vec<Form> {
    let mut out = Vec::new();
    for chunk in html.split("<form").skip(1) {
        let chunk = chunk.split("</form>").next().unwrap_or(chunk);
        let tag_end = chunk.find('>').unwrap_or(chunk.len());
        let tag = format!(" {}", &chunk[..tag_end]);
        let mut form = Form {
            action: attr(&tag, "action").unwrap_or_default(),
            method: attr(&tag, "method")
                .unwrap_or_else(|| "get".into())
                .to_lowercase(),
            fields: Vec::new(),
            buttons: Vec::new(),
        };
        for input in chunk.split("<input").skip(1) {
            let tag = format!(" {}", input.split('>').next().unwrap_or(""));
            let kind = attr(&tag, "type").unwrap_or_default();
            if let Some(name) = attr(&tag, "name") {
                let value = attr(&tag, "value").unwrap_or_default();
                if kind == "submit" {
                    form.buttons.push((name, value.clone(), value));
                } else if kind != "checkbox" || tag.contains(" checked") {
                    form.fields.push((name, value));
                }
            }
        }
        for button in chunk.split("<button").skip(1) {
            let (tag, rest) = button.split_once('>').unwrap_or((button, ""));
            let tag = format!(" {tag}");
            let label = rest
                .split("</button>")
                .next()
                .unwrap_or("")
                .trim()
                .to_owned();
            form.buttons.push((
                attr(&tag, "name").unwrap_or_default(),
                attr(&tag, "value").unwrap_or_default(),
                label,
            ));
        }
        out.push(form);
    }
    out
}

/// The consent form on a page, if it has one (a POST form with an allow/deny choice that
/// is not the sign-out form).
fn consent_form(html: &str) -> Option<Form> {
    forms(html).into_iter().find(|f| {
        f.method == "post"
            && !f.action.contains("logout")
            && !f.action.contains("end-session")
            && !f.action.contains("/lc")
            && f.buttons.iter().any(|(n, v, l)| {
                let all = format!("{n} {v} {l}").to_lowercase();
                all.contains("allow") || all.contains("approve") || all.contains("accept")
            })
    })
}

impl Browser {
    fn resolve(&self, from: &Url, location: &str) -> Url {
        from.join(location).unwrap()
    }

    fn is_daemon(&self, url: &Url) -> bool {
        url.origin() == self.base.origin()
    }

    /// GET `url`, following the daemon's redirects; stops when a redirect leaves the
    /// daemon or at a page.
    async fn go(&self, url: &str) -> Landing {
        let res = self.http.get(url).send().await.unwrap();
        self.follow(Url::parse(url).unwrap(), res).await
    }

    async fn follow(&self, mut url: Url, mut res: reqwest::Response) -> Landing {
        for _ in 0..20 {
            if res.status().is_redirection() {
                let location = res.headers()[LOCATION].to_str().unwrap().to_owned();
                let next = self.resolve(&url, &location);
                if !self.is_daemon(&next) {
                    return Landing::Left(next);
                }
                url = next;
                res = self.http.get(url.clone()).send().await.unwrap();
                continue;
            }
            let status = res.status();
            let body = res.text().await.unwrap();
            return Landing::Page { url, status, body };
        }
        panic!("too many redirects")
    }

    /// Submits `form` (from the page at `page_url`), with the button whose text contains
    /// `button` (case-insensitive) if given.
    async fn submit(&self, page_url: &Url, form: &Form, button: Option<&str>) -> Landing {
        let mut fields = form.fields.clone();
        if let Some(want) = button {
            let (n, v, _) = form
                .buttons
                .iter()
                .find(|(n, v, l)| format!("{n} {v} {l}").to_lowercase().contains(want))
                .unwrap_or_else(|| panic!("no {want:?} button in {form:?}"));
            if !n.is_empty() {
                fields.push((n.clone(), v.clone()));
            }
        }
        let action = if form.action.is_empty() {
            page_url.clone()
        } else {
            self.resolve(page_url, &form.action)
        };
        let res = self
            .http
            .post(action.clone())
            .form(&fields)
            .send()
            .await
            .unwrap();
        self.follow(action, res).await
    }

    /// Answers the consent page `landing` (allow or deny).
    async fn consent(&self, landing: &Landing, allow: bool) -> Landing {
        let Landing::Page { url, body, .. } = landing else {
            panic!("not a page: {landing:?}")
        };
        let choice = if allow {
            ["allow", "approve", "accept"]
        } else {
            ["deny", "cancel", "decline"]
        };
        let label = |f: &Form| {
            f.buttons
                .iter()
                .map(|(n, v, l)| format!("{n} {v} {l}").to_lowercase())
                .collect::<String>()
        };
        let (form, want) = forms(body)
            .into_iter()
            .filter(|f| f.method == "post" && !f.action.contains("logout"))
            .find_map(|f| {
                let text = label(&f);
                choice.iter().find(|w| text.contains(*w)).map(|w| (f, *w))
            })
            .unwrap_or_else(|| panic!("no {choice:?} button on the consent page {url}:\n{body}"));
        self.submit(url, &form, Some(want)).await
    }

    /// Signs in with a fresh login code at `/lc`, going to `next` afterwards.
    async fn sign_in(&self, idm: &Idm, username: &str, next: Option<&str>) -> Landing {
        let (_, issued) = idm
            .create_login_code(&Actor::system(), username, Duration::from_secs(3600))
            .unwrap();
        let lc = self.base.join("/lc").unwrap();
        let page = self
            .http
            .get(lc.clone())
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let form = forms(&page)
            .into_iter()
            .find(|f| f.fields.iter().any(|(n, _)| n == "_csrf"))
            .expect("the login-code form");
        let csrf = form
            .fields
            .iter()
            .find(|(n, _)| n == "_csrf")
            .unwrap()
            .1
            .clone();
        let mut fields = vec![("_csrf".to_owned(), csrf), ("code".to_owned(), issued.code)];
        if let Some(next) = next {
            fields.push(("next".to_owned(), next.to_owned()));
        }
        let res = self
            .http
            .post(lc.clone())
            .form(&fields)
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.status(),
            StatusCode::SEE_OTHER,
            "the login code signs in"
        );
        self.follow(lc, res).await
    }

    /// At the sign-in page the daemon sent us to: signs in and goes on to its `next`.
    async fn sign_in_at(&self, idm: &Idm, username: &str, login_page: &Landing) -> Landing {
        let Landing::Page { url, .. } = login_page else {
            panic!("not at the sign-in page: {login_page:?}")
        };
        assert_eq!(url.path(), "/login", "at the sign-in page: {url}");
        let next = url
            .query_pairs()
            .find(|(k, _)| k == "next")
            .map(|(_, v)| v.into_owned())
            .expect("the sign-in page carries next");
        self.sign_in(idm, username, Some(&next)).await
    }
}

// ---------------------------------------------------------------------------------------
// Discovery and the code flow

#[tokio::test]
async fn discovery_is_read_by_the_library_and_advertises_the_contract() {
    let f = Fixture::start().await;
    let m = &f.meta;
    assert_eq!(m.issuer().as_str(), f.t.base_url);
    let base = &f.t.base_url;
    assert!(m.authorization_endpoint().as_str().starts_with(base));
    assert!(m.token_endpoint().unwrap().as_str().starts_with(base));
    assert!(m.userinfo_endpoint().unwrap().as_str().starts_with(base));
    assert_eq!(
        m.jwks_uri().as_str(),
        format!("{base}/.well-known/jwks.json")
    );
    assert!(!m.jwks().keys().is_empty(), "the library fetched the JWKS");
    assert_eq!(
        m.id_token_signing_alg_values_supported().first(),
        Some(&CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256),
        "RS256 by default"
    );
    let extra = m.additional_metadata();
    assert_eq!(
        extra.authorization_response_iss_parameter_supported,
        Some(true)
    );
    assert!(extra.end_session_endpoint.is_some());
    assert!(extra.introspection_endpoint.is_some());
    assert!(extra.revocation_endpoint.is_some());
    let pkce = extra.code_challenge_methods_supported.clone().unwrap();
    assert_eq!(pkce.first().map(String::as_str), Some("S256"));

    // The raw documents: the same at both well-known names, cacheable, and the JWKS keys
    // carry kid, alg and use.
    let get = |path: &str| f.http.get(format!("{base}{path}")).send();
    let oidc = get("/.well-known/openid-configuration").await.unwrap();
    assert_eq!(oidc.status(), 200);
    let cache = oidc.headers()[CACHE_CONTROL].to_str().unwrap().to_owned();
    assert!(cache.contains("max-age"), "{cache}");
    let oidc: Value = oidc.json().await.unwrap();
    let oauth: Value = get("/.well-known/oauth-authorization-server")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(oidc, oauth);
    for field in [
        "scopes_supported",
        "response_types_supported",
        "response_modes_supported",
        "grant_types_supported",
        "token_endpoint_auth_methods_supported",
        "claims_supported",
        "prompt_values_supported",
    ] {
        assert!(oidc[field].is_array(), "{field} in {oidc:#}");
    }
    for scope in ["openid", "profile", "email", "groups", "offline_access"] {
        assert!(
            oidc["scopes_supported"]
                .as_array()
                .unwrap()
                .contains(&json!(scope)),
            "{scope}"
        );
    }
    let jwks: Value = get("/.well-known/jwks.json")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for key in jwks["keys"].as_array().unwrap() {
        assert!(key["kid"].is_string() && key["alg"].is_string(), "{key}");
        assert_eq!(key["use"], "sig");
        assert!(
            key.get("d").is_none() && key.get("p").is_none(),
            "no private parts: {key}"
        );
    }
}

#[tokio::test]
async fn the_code_flow_with_pkce_and_nonce_passes_the_library_s_checks() {
    let f = Fixture::start().await;
    let sub = f.user("alice");
    let app = f.confidential("Wiki").await;

    // Not signed in: the authorization request goes through the sign-in page and back.
    let browser = f.browser();
    let req = f.authorize(&app, &["profile", "email"], |r| r);
    let login = browser.go(req.url.as_str()).await;
    let after = browser.sign_in_at(f.idm(), "alice", &login).await;
    let (url, status, body) = after.page();
    assert_eq!(status, 200, "{url}");
    assert!(
        body.contains("Wiki"),
        "the consent page names the app:\n{body}"
    );
    let landing = browser
        .consent(&Landing::Page { url, status, body }, true)
        .await;
    let cb = landing.callback();
    f.check_callback(&cb, &req);

    let nonce = req.nonce.clone();
    let tokens = f.exchange(&app, req, &cb).await.unwrap();
    assert_eq!(tokens.token_type().as_ref(), "bearer");
    assert!(tokens.expires_in().is_some());
    let claims = f.verify(&app, &tokens, &nonce);
    assert_eq!(claims["sub"], sub);
    assert!(
        claims["aud"] == json!(app.id) || claims["aud"] == json!([app.id]),
        "aud: {claims}"
    );
    assert!(claims["auth_time"].is_i64(), "auth_time: {claims}");
    assert!(claims["sid"].is_string(), "sid: {claims}");
    assert_eq!(
        claims["amr"],
        json!(["otp"]),
        "a login code is an OTP (RFC 8176)"
    );
    assert_eq!(claims["email"], "alice@example.com");
    assert_eq!(claims["preferred_username"], "alice");

    // The library's own view of the same claims.
    let id_token = tokens.id_token().unwrap();
    let clock = f.t.clock.clone();
    let verifier = app
        .rp
        .id_token_verifier()
        .set_time_fn(move || chrono_now(&clock));
    let lib = id_token.claims(&verifier, &nonce).unwrap();
    assert_eq!(lib.subject().as_str(), sub);
    assert_eq!(lib.audiences().len(), 1);
    assert_eq!(lib.audiences()[0].as_str(), app.id);
    assert!(lib.auth_time().is_some());
    assert_eq!(lib.email().map(|e| e.as_str()), Some("alice@example.com"));

    // A wrong nonce is refused by the library.
    assert!(
        id_token
            .claims(&verifier, &Nonce::new("other".into()))
            .is_err()
    );

    // The access token is an RFC 9068 JWT.
    let at = tokens.access_token().secret();
    assert_eq!(jwt_header(at)["typ"], "at+jwt");
    let at_claims = jwt_payload(at);
    assert_eq!(at_claims["sub"], sub);
    assert_eq!(at_claims["client_id"], app.id);
    assert_eq!(at_claims["iss"], f.t.base_url);

    // Userinfo through the library, bound to the ID token's subject.
    let info: CoreUserInfoClaims = app
        .rp
        .user_info(
            tokens.access_token().clone(),
            Some(SubjectIdentifier::new(sub.clone())),
        )
        .unwrap()
        .request_async(&f.http)
        .await
        .unwrap();
    assert_eq!(info.subject().as_str(), sub);
    assert_eq!(info.email().map(|e| e.as_str()), Some("alice@example.com"));
    assert_eq!(info.preferred_username().map(|u| u.as_str()), Some("alice"));
    assert!(info.name().is_some());

    // Userinfo also by POST with the token in the body.
    let res = f
        .http
        .post(app.rp.user_info_url().unwrap().as_str())
        .form(&[("access_token", at.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["sub"], sub);

    // No offline_access: no refresh token (or, if the provider issues one anyway, it works).
    if let Some(rt) = tokens.refresh_token() {
        app.rp
            .exchange_refresh_token(rt)
            .unwrap()
            .request_async(&f.http)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn the_token_response_is_not_cached_and_client_secret_post_works() {
    let f = Fixture::start().await;
    f.user("alice");
    let mut app = f.confidential("Wiki").await;
    app.rp = app.rp.set_auth_type(AuthType::RequestBody);
    let browser = f.signed_in("alice").await;
    // An unknown scope is ignored (OpenID Connect Core §3.1.2.1), and the token
    // response says what was granted.
    let req = f.authorize(&app, &["wat"], |r| r);
    let cb = f.front_channel(&browser, &req).await;
    let nonce = req.nonce.clone();
    let tokens = f.exchange(&app, req, &cb).await.unwrap();
    f.verify(&app, &tokens, &nonce);
    let granted: Vec<String> = tokens
        .scopes()
        .map(|v| v.iter().map(|s| s.to_string()).collect())
        .unwrap_or_default();
    assert!(!granted.contains(&"wat".to_owned()), "{granted:?}");
    assert!(granted.contains(&"openid".to_owned()), "{granted:?}");

    // Raw: a token response is JSON with Cache-Control: no-store.
    let res = f
        .http
        .post(app.rp.token_uri().unwrap().as_str())
        .basic_auth(&app.id, app.secret.as_deref())
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()[CACHE_CONTROL], "no-store");
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
}

#[tokio::test]
async fn response_modes_fragment_and_form_post_carry_code_state_and_iss() {
    let f = Fixture::start().await;
    f.user("alice");
    let app = f
        .app(NewClient {
            skip_consent: true,
            ..client("Wiki")
        })
        .await;
    let browser = f.signed_in("alice").await;

    let req = f.authorize(&app, &[], |r| {
        r.add_extra_param("response_mode", "fragment")
    });
    let landing = browser.go(req.url.as_str()).await;
    let Landing::Left(url) = &landing else {
        panic!("{landing:?}")
    };
    assert!(url.query().is_none() && url.fragment().is_some(), "{url}");
    let cb = landing.callback();
    f.check_callback(&cb, &req);
    let nonce = req.nonce.clone();
    let tokens = f.exchange(&app, req, &cb).await.unwrap();
    f.verify(&app, &tokens, &nonce);

    let req = f.authorize(&app, &[], |r| {
        r.add_extra_param("response_mode", "form_post")
    });
    let (_, status, body) = browser.go(req.url.as_str()).await.page();
    assert_eq!(status, 200);
    let form = forms(&body)
        .into_iter()
        .find(|f| f.action == REDIRECT_URI)
        .unwrap_or_else(|| panic!("a form posting to the RP:\n{body}"));
    assert_eq!(form.method, "post");
    let field = |n: &str| {
        form.fields
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(field("state").as_deref(), Some(req.state.secret().as_str()));
    assert_eq!(field("iss").as_deref(), Some(f.t.base_url.as_str()));
    let cb = Callback {
        url: Url::parse(REDIRECT_URI).unwrap(),
        params: form.fields.clone(),
    };
    let nonce = req.nonce.clone();
    let tokens = f.exchange(&app, req, &cb).await.unwrap();
    f.verify(&app, &tokens, &nonce);
}

// ---------------------------------------------------------------------------------------
// Refresh, introspection, revocation, end-session

#[tokio::test]
async fn refresh_tokens_rotate_and_reuse_revokes_the_whole_family() {
    let f = Fixture::start().await;
    let sub = f.user("alice");
    let app = f.confidential("Wiki").await;
    let browser = f.signed_in("alice").await;
    let first = f
        .login(&app, &browser, &["offline_access", "profile"])
        .await;
    let rt1 = first.refresh().clone();

    // Refresh: new access and refresh tokens, a new ID token for the same subject.
    let second = app
        .rp
        .exchange_refresh_token(&rt1)
        .unwrap()
        .request_async(&f.http)
        .await
        .unwrap();
    let rt2 = second
        .refresh_token()
        .expect("a rotated refresh token")
        .clone();
    assert_ne!(rt2.secret(), rt1.secret());
    assert_ne!(second.access_token().secret(), first.access().secret());
    if let Some(id) = second.id_token() {
        // A refreshed ID token has no nonce requirement; its subject is the same.
        let clock = f.t.clock.clone();
        let verifier = app
            .rp
            .id_token_verifier()
            .set_time_fn(move || chrono_now(&clock));
        let claims = id.claims(&verifier, |_: Option<&Nonce>| Ok(())).unwrap();
        assert_eq!(claims.subject().as_str(), sub);
    }
    let info: CoreUserInfoClaims = app
        .rp
        .user_info(second.access_token().clone(), None)
        .unwrap()
        .request_async(&f.http)
        .await
        .unwrap();
    assert_eq!(info.subject().as_str(), sub);

    // A refresh cannot widen the grant.
    let err = app
        .rp
        .exchange_refresh_token(&rt2)
        .unwrap()
        .add_scope(Scope::new("email".into()))
        .request_async(&f.http)
        .await
        .unwrap_err();
    assert_eq!(oauth_error(&err), "invalid_scope");

    // The rotated-out token fails…
    let err = app
        .rp
        .exchange_refresh_token(&rt1)
        .unwrap()
        .request_async(&f.http)
        .await
        .unwrap_err();
    assert_eq!(oauth_error(&err), "invalid_grant");
    // …and its reuse revoked the family: the newest refresh token is dead too, and so is
    // the access token of the grant.
    let err = app
        .rp
        .exchange_refresh_token(&rt2)
        .unwrap()
        .request_async(&f.http)
        .await
        .unwrap_err();
    assert_eq!(oauth_error(&err), "invalid_grant");
    let intro = app
        .rp
        .introspect(second.access_token())
        .request_async(&f.http)
        .await
        .unwrap();
    assert!(
        !intro.active(),
        "the grant's access token is revoked after refresh-token reuse"
    );

    // The audit log says why.
    let audit = f
        .admin(Request::ListAudit {
            query: AuditQuery {
                user: None,
                limit: 100,
                before: None,
            },
        })
        .await;
    assert!(
        format!("{audit:?}").contains("refresh_token_reuse"),
        "{audit:?}"
    );
}

#[tokio::test]
async fn introspection_shows_a_client_only_its_own_tokens() {
    let f = Fixture::start().await;
    let sub = f.user("alice");
    let a = f.confidential("A").await;
    let b = f.confidential("B").await;
    let browser = f.signed_in("alice").await;
    let tokens = f.login(&a, &browser, &["offline_access", "email"]).await;

    let intro =
        a.rp.introspect(tokens.access())
            .request_async(&f.http)
            .await
            .unwrap();
    assert!(intro.active());
    assert_eq!(intro.client_id().map(|c| c.as_str()), Some(a.id.as_str()));
    assert_eq!(intro.sub(), Some(sub.as_str()));
    assert!(intro.exp().is_some());
    let scopes: Vec<String> = intro
        .scopes()
        .map(|s| s.iter().map(|s| s.to_string()).collect())
        .unwrap_or_default();
    assert!(
        scopes.contains(&"openid".to_owned()) && scopes.contains(&"email".to_owned()),
        "{scopes:?}"
    );

    // The refresh token can be introspected too (as the token it is).
    let rt = AccessToken::new(tokens.refresh().secret().clone());
    let intro =
        a.rp.introspect(&rt)
            .set_token_type_hint("refresh_token")
            .request_async(&f.http)
            .await
            .unwrap();
    assert!(intro.active());

    // Another client sees nothing; nor does anyone for garbage.
    for token in [tokens.access(), &rt] {
        let intro = b.rp.introspect(token).request_async(&f.http).await.unwrap();
        assert!(!intro.active(), "B must not see A's tokens");
    }
    let junk = AccessToken::new("not-a-token".into());
    assert!(
        !a.rp
            .introspect(&junk)
            .request_async(&f.http)
            .await
            .unwrap()
            .active()
    );

    // Introspection needs client authentication.
    let url = f
        .meta
        .additional_metadata()
        .introspection_endpoint
        .clone()
        .unwrap();
    let res = f
        .http
        .post(&url)
        .form(&[("token", tokens.access().secret().as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "invalid_client"
    );
    let res = f
        .http
        .post(&url)
        .basic_auth(&a.id, Some("wrong"))
        .form(&[("token", tokens.access().secret().as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert!(res.headers().contains_key(WWW_AUTHENTICATE));
}

#[tokio::test]
async fn revocation_ends_access_and_refresh_tokens() {
    let f = Fixture::start().await;
    f.user("alice");
    let app = f.confidential("Wiki").await;
    let browser = f.signed_in("alice").await;
    let tokens = f.login(&app, &browser, &["offline_access"]).await;

    // The library refuses to revoke over plain http (RFC 7009 requires TLS), so the
    // request is made by hand, authenticated like the library would (client_secret_basic).
    let refused = app
        .rp
        .revoke_token(CoreRevocableToken::from(tokens.access().clone()));
    assert!(
        refused.is_err(),
        "openidconnect refuses an http revocation URL"
    );
    assert_eq!(
        f.revoke(&app, tokens.access().secret(), Some("access_token"))
            .await,
        200
    );
    assert!(
        !app.rp
            .introspect(tokens.access())
            .request_async(&f.http)
            .await
            .unwrap()
            .active()
    );
    let res = f
        .http
        .get(app.rp.user_info_url().unwrap().as_str())
        .bearer_auth(tokens.access().secret())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let www = res.headers()[WWW_AUTHENTICATE].to_str().unwrap().to_owned();
    assert!(
        www.starts_with("Bearer") && www.contains(r#"error="invalid_token""#),
        "{www}"
    );

    assert_eq!(f.revoke(&app, tokens.refresh().secret(), None).await, 200);
    let err = app
        .rp
        .exchange_refresh_token(tokens.refresh())
        .unwrap()
        .request_async(&f.http)
        .await
        .unwrap_err();
    assert_eq!(oauth_error(&err), "invalid_grant");

    // Unknown tokens: 200 all the same (RFC 7009 §2.2).
    assert_eq!(f.revoke(&app, "nonsense", None).await, 200);
    // Revocation needs client authentication.
    let url = f
        .meta
        .additional_metadata()
        .revocation_endpoint
        .clone()
        .unwrap();
    let res = f
        .http
        .post(&url)
        .form(&[("token", "nonsense")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    // Another client cannot revoke this client's tokens.
    let other = f.confidential("Other").await;
    let fresh = f.login(&app, &browser, &["offline_access"]).await;
    assert_eq!(f.revoke(&other, fresh.access().secret(), None).await, 200);
    assert!(
        app.rp
            .introspect(fresh.access())
            .request_async(&f.http)
            .await
            .unwrap()
            .active()
    );
}

#[tokio::test]
async fn end_session_with_a_hint_signs_out_redirects_and_ends_the_client_s_tokens() {
    let f = Fixture::start().await;
    f.user("alice");
    let app = f.confidential("Wiki").await;
    let browser = f.signed_in("alice").await;
    let tokens = f.login(&app, &browser, &["offline_access"]).await;
    let end_session = EndSessionUrl::new(
        f.meta
            .additional_metadata()
            .end_session_endpoint
            .clone()
            .unwrap(),
    )
    .unwrap();

    // An unregistered post_logout_redirect_uri is not followed.
    let url = LogoutRequest::from(end_session.clone())
        .set_id_token_hint(tokens.id_token())
        .set_post_logout_redirect_uri(
            PostLogoutRedirectUrl::new("http://localhost:9/elsewhere".into()).unwrap(),
        )
        .http_get_url();
    let landing = browser.go(url.as_str()).await;
    assert!(matches!(landing, Landing::Page { .. }), "{landing:?}");

    let state = CsrfToken::new_random();
    let url = LogoutRequest::from(end_session)
        .set_id_token_hint(tokens.id_token())
        .set_post_logout_redirect_uri(PostLogoutRedirectUrl::new(LOGOUT_URI.into()).unwrap())
        .set_state(state.clone())
        .http_get_url();
    match browser.go(url.as_str()).await {
        Landing::Left(to) => {
            assert!(to.as_str().starts_with(LOGOUT_URI), "{to}");
            assert_eq!(
                to.query_pairs()
                    .find(|(k, _)| k == "state")
                    .map(|(_, v)| v.into_owned()),
                Some(state.secret().clone())
            );
        }
        other => panic!("expected the redirect to the logout URI, got {other:?}"),
    }

    // The browser is signed out, and the client's tokens for that session are over.
    let (url, _, _) = browser
        .go(&format!("{}/account", f.t.base_url))
        .await
        .page();
    assert_eq!(url.path(), "/login");
    assert!(
        !app.rp
            .introspect(tokens.access())
            .request_async(&f.http)
            .await
            .unwrap()
            .active()
    );
    let err = app
        .rp
        .exchange_refresh_token(tokens.refresh())
        .unwrap()
        .request_async(&f.http)
        .await
        .unwrap_err();
    assert_eq!(oauth_error(&err), "invalid_grant");
}

#[tokio::test]
async fn end_session_without_a_hint_asks_for_confirmation() {
    let f = Fixture::start().await;
    f.user("alice");
    let app = f.confidential("Wiki").await;
    let browser = f.signed_in("alice").await;
    f.login(&app, &browser, &[]).await;
    let end_session = f
        .meta
        .additional_metadata()
        .end_session_endpoint
        .clone()
        .unwrap();

    let (url, status, body) = browser.go(&end_session).await.page();
    assert_eq!(status, 200);
    let form = forms(&body)
        .into_iter()
        .find(|f| f.method == "post" && f.fields.iter().any(|(n, _)| n == "_csrf"))
        .unwrap_or_else(|| panic!("a confirmation form with CSRF:\n{body}"));
    // Still signed in until confirmed.
    let (account, _, _) = browser
        .go(&format!("{}/account", f.t.base_url))
        .await
        .page();
    assert_eq!(account.path(), "/account");

    // Without the CSRF token: refused.
    let action = url.join(&form.action).unwrap_or(url.clone());
    let res = browser
        .http
        .post(action)
        .form(&[("x", "y")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);

    browser.submit(&url, &form, None).await;
    let (account, _, _) = browser
        .go(&format!("{}/account", f.t.base_url))
        .await
        .page();
    assert_eq!(account.path(), "/login", "signed out after confirming");
}

// ---------------------------------------------------------------------------------------
// prompt, max_age, consent

#[tokio::test]
async fn prompt_none_answers_login_required_or_consent_required_without_a_page() {
    let f = Fixture::start().await;
    f.user("alice");
    let app = f.confidential("Wiki").await;

    let browser = f.browser();
    let req = f.authorize(&app, &[], |r| r.add_prompt(CoreAuthPrompt::None));
    let cb = browser.go(req.url.as_str()).await.callback();
    f.check_callback(&cb, &req);
    assert_eq!(cb.get("error"), Some("login_required"));
    assert_eq!(cb.get("code"), None);

    browser.sign_in(f.idm(), "alice", None).await;
    let req = f.authorize(&app, &[], |r| r.add_prompt(CoreAuthPrompt::None));
    let cb = browser.go(req.url.as_str()).await.callback();
    f.check_callback(&cb, &req);
    assert_eq!(cb.get("error"), Some("consent_required"));

    // After consent, prompt=none gives a code silently.
    f.login(&app, &browser, &[]).await;
    let req = f.authorize(&app, &[], |r| r.add_prompt(CoreAuthPrompt::None));
    let cb = browser.go(req.url.as_str()).await.callback();
    f.check_callback(&cb, &req);
    let nonce = req.nonce.clone();
    let tokens = f.exchange(&app, req, &cb).await.unwrap();
    f.verify(&app, &tokens, &nonce);

    // none with another value is invalid_request.
    let req = f.authorize(&app, &[], |r| {
        r.add_prompt(CoreAuthPrompt::None)
            .add_prompt(CoreAuthPrompt::Login)
    });
    let cb = browser.go(req.url.as_str()).await.callback();
    f.check_callback(&cb, &req);
    assert_eq!(cb.get("error"), Some("invalid_request"));
}

#[tokio::test]
async fn prompt_login_and_select_account_force_a_new_sign_in() {
    let f = Fixture::start().await;
    f.user("alice");
    let app = f
        .app(NewClient {
            skip_consent: true,
            ..client("Wiki")
        })
        .await;
    let browser = f.signed_in("alice").await;
    let first = f.login(&app, &browser, &[]).await;
    let first_auth = jwt_payload(&first.id_token().to_string())["auth_time"]
        .as_i64()
        .unwrap();

    for prompt in [CoreAuthPrompt::Login, CoreAuthPrompt::SelectAccount] {
        f.t.clock.advance(time::Duration::minutes(5));
        let req = f.authorize(&app, &[], |r| r.add_prompt(prompt.clone()));
        let login = browser.go(req.url.as_str()).await;
        let (url, _, _) = match &login {
            Landing::Page { url, status, body } => (url.clone(), *status, body.clone()),
            other => panic!("{prompt:?}: expected the sign-in page, got {other:?}"),
        };
        assert_eq!(url.path(), "/login", "{prompt:?}");
        let cb = browser
            .sign_in_at(f.idm(), "alice", &login)
            .await
            .callback();
        f.check_callback(&cb, &req);
        let nonce = req.nonce.clone();
        let tokens = f.exchange(&app, req, &cb).await.unwrap();
        let claims = f.verify(&app, &tokens, &nonce);
        assert!(
            claims["auth_time"].as_i64().unwrap() >= first_auth + 300,
            "{prompt:?}: auth_time is the new sign-in: {claims}"
        );
    }
}

#[tokio::test]
async fn max_age_sends_an_old_session_back_to_sign_in() {
    let f = Fixture::start().await;
    f.user("alice");
    let app = f
        .app(NewClient {
            skip_consent: true,
            ..client("Wiki")
        })
        .await;
    let browser = f.signed_in("alice").await;

    // Fresh enough: a code straight away, and auth_time is in the ID token.
    let req = f.authorize(&app, &[], |r| r.set_max_age(Duration::from_secs(600)));
    let cb = f.front_channel(&browser, &req).await;
    let nonce = req.nonce.clone();
    let tokens = f.exchange(&app, req, &cb).await.unwrap();
    let claims = f.verify(&app, &tokens, &nonce);
    let auth_time = claims["auth_time"].as_i64().unwrap();

    f.t.clock.advance(time::Duration::minutes(11));
    let req = f.authorize(&app, &[], |r| r.set_max_age(Duration::from_secs(600)));
    let login = browser.go(req.url.as_str()).await;
    let cb = browser
        .sign_in_at(f.idm(), "alice", &login)
        .await
        .callback();
    f.check_callback(&cb, &req);
    let nonce = req.nonce.clone();
    let tokens = f.exchange(&app, req, &cb).await.unwrap();
    let claims = f.verify(&app, &tokens, &nonce);
    assert!(
        claims["auth_time"].as_i64().unwrap() >= auth_time + 660,
        "{claims}"
    );

    // max_age with prompt=none and a stale session: login_required.
    f.t.clock.advance(time::Duration::minutes(11));
    let req = f.authorize(&app, &[], |r| {
        r.set_max_age(Duration::from_secs(600))
            .add_prompt(CoreAuthPrompt::None)
    });
    let cb = browser.go(req.url.as_str()).await.callback();
    assert_eq!(cb.get("error"), Some("login_required"));
}

#[tokio::test]
async fn consent_is_remembered_asked_again_for_new_scopes_and_forced_by_prompt_consent() {
    let f = Fixture::start().await;
    f.user("alice");
    let app = f.confidential("Wiki").await;
    let browser = f.signed_in("alice").await;

    // First time: the consent page; denying sends access_denied back.
    let req = f.authorize(&app, &["profile"], |r| r);
    let page = browser.go(req.url.as_str()).await;
    let (_, _, body) = match &page {
        Landing::Page { url, status, body } => (url.clone(), *status, body.clone()),
        other => panic!("expected the consent page, got {other:?}"),
    };
    assert!(
        body.contains("Wiki") && consent_form(&body).is_some(),
        "{body}"
    );
    let cb = browser.consent(&page, false).await.callback();
    f.check_callback(&cb, &req);
    assert_eq!(cb.get("error"), Some("access_denied"));

    // Allowed once…
    f.login(&app, &browser, &["profile"]).await;
    // …remembered: straight to the callback.
    let req = f.authorize(&app, &["profile"], |r| r);
    let landing = browser.go(req.url.as_str()).await;
    assert!(
        matches!(landing, Landing::Left(_)),
        "consent remembered: {landing:?}"
    );

    // A new scope asks again.
    let req = f.authorize(&app, &["profile", "email"], |r| r);
    let (_, _, body) = browser.go(req.url.as_str()).await.page();
    assert!(
        consent_form(&body).is_some(),
        "new scope → consent page:\n{body}"
    );

    // prompt=consent asks even though it was granted.
    let req = f.authorize(&app, &["profile"], |r| {
        r.add_prompt(CoreAuthPrompt::Consent)
    });
    let (_, _, body) = browser.go(req.url.as_str()).await.page();
    assert!(
        consent_form(&body).is_some(),
        "prompt=consent → consent page:\n{body}"
    );

    // The grant is listed for the user and can be revoked, after which consent is asked again.
    let listed = f
        .admin(Request::ListAuthorizations {
            user: "alice".into(),
        })
        .await;
    let Response::Authorizations { authorizations } = listed else {
        panic!("{listed:?}")
    };
    assert_eq!(authorizations.len(), 1);
    assert_eq!(authorizations[0].client_id, app.id);
    f.admin(Request::RevokeAuthorization {
        user: "alice".into(),
        client_id: app.id.clone(),
    })
    .await;
    let req = f.authorize(&app, &["profile"], |r| r);
    let (_, _, body) = browser.go(req.url.as_str()).await.page();
    assert!(
        consent_form(&body).is_some(),
        "revoked → asked again:\n{body}"
    );

    // A skip-consent client never asks.
    let trusted = f
        .app(NewClient {
            skip_consent: true,
            ..client("Intranet")
        })
        .await;
    let req = f.authorize(&trusted, &["profile", "email", "groups"], |r| r);
    let landing = browser.go(req.url.as_str()).await;
    assert!(
        matches!(landing, Landing::Left(_)),
        "skip consent: {landing:?}"
    );
}

// ---------------------------------------------------------------------------------------
// Refusals

#[tokio::test]
async fn a_group_restricted_client_refuses_others_with_a_page() {
    let f = Fixture::start().await;
    f.user("alice");
    f.user("bob");
    f.group("staff", &["alice"]);
    let app = f
        .app(NewClient {
            allowed_groups: vec!["staff".into()],
            skip_consent: true,
            ..client("Payroll")
        })
        .await;

    let bob = f.signed_in("bob").await;
    let req = f.authorize(&app, &["groups"], |r| r);
    let (_, status, body) = bob.go(req.url.as_str()).await.page();
    assert_eq!(status, 403);
    assert!(body.contains("Payroll"), "{body}");
    assert!(body.contains("access"), "{body}");

    let alice = f.signed_in("alice").await;
    let tokens = f.login(&app, &alice, &["groups"]).await;
    let claims = f.verify(&app, &tokens.tokens, &tokens.nonce);
    assert_eq!(claims["groups"], json!(["staff"]));
}

#[tokio::test]
async fn a_public_client_must_use_pkce_and_authenticates_with_none() {
    let f = Fixture::start().await;
    f.user("alice");
    let app = f
        .app(NewClient {
            public: true,
            skip_consent: true,
            ..client("SPA")
        })
        .await;
    assert!(app.secret.is_none());
    let browser = f.signed_in("alice").await;

    // Without PKCE: refused, no code.
    let (url, _, _) = app
        .rp
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .url();
    match browser.go(url.as_str()).await {
        Landing::Left(to) => {
            let cb = Landing::Left(to).callback();
            assert_eq!(cb.get("error"), Some("invalid_request"), "{:?}", cb.url);
            assert_eq!(cb.get("code"), None);
        }
        Landing::Page { status, .. } => assert!(status.is_client_error()),
    }

    // With PKCE: works with no client secret.
    let tokens = f.login(&app, &browser, &[]).await;
    assert!(tokens.tokens.id_token().is_some());

    // A public client cannot use client_credentials.
    let err = app
        .rp
        .exchange_client_credentials()
        .unwrap()
        .request_async(&f.http)
        .await
        .unwrap_err();
    let code = oauth_error(&err);
    assert!(
        code == "unauthorized_client" || code == "invalid_client",
        "{code}"
    );
}

#[tokio::test]
async fn an_unregistered_redirect_uri_or_unknown_client_shows_a_page_and_never_redirects() {
    let f = Fixture::start().await;
    f.user("alice");
    let app = f.confidential("Wiki").await;
    let browser = f.signed_in("alice").await;

    let mut evil = app.rp.clone();
    evil = evil
        .set_redirect_uri(RedirectUrl::new("http://localhost:9/callback/../evil".into()).unwrap());
    for redirect in [
        "https://evil.example/callback",
        "http://localhost:9/callback/",
        "http://localhost:9/callbacK",
    ] {
        let rp = evil
            .clone()
            .set_redirect_uri(RedirectUrl::new(redirect.into()).unwrap());
        let (url, _, _) = rp
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .url();
        let res = browser.http.get(url.as_str()).send().await.unwrap();
        assert_eq!(res.status(), 400, "{redirect}");
        assert!(!res.headers().contains_key(LOCATION), "{redirect}");
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
    }

    let stranger = f.rp("no-such-client", Some("x"));
    let (url, _, _) = stranger
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .url();
    let res = browser.http.get(url.as_str()).send().await.unwrap();
    assert!(res.status().is_client_error());
    assert!(!res.headers().contains_key(LOCATION));
}

#[tokio::test]
async fn authorization_errors_go_back_to_a_valid_redirect_uri_with_iss() {
    let f = Fixture::start().await;
    f.user("alice");
    let app = f.confidential("Wiki").await;
    let browser = f.signed_in("alice").await;
    let authz = f.meta.authorization_endpoint().url().clone();

    let base = |extra: &[(&str, &str)]| {
        let mut url = authz.clone();
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("client_id", &app.id)
                .append_pair("redirect_uri", REDIRECT_URI)
                .append_pair("state", "st")
                .append_pair(
                    "code_challenge",
                    "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
                )
                .append_pair("code_challenge_method", "S256");
            for (k, v) in extra {
                q.append_pair(k, v);
            }
        }
        url
    };
    for (extra, error) in [
        (
            vec![("response_type", "token"), ("scope", "openid")],
            "unsupported_response_type",
        ),
        (vec![("scope", "openid")], "invalid_request"),
        (
            vec![
                ("response_type", "code"),
                ("scope", "openid"),
                ("request", "eyJhbGciOiJub25lIn0.e30."),
            ],
            "request_not_supported",
        ),
        (
            vec![
                ("response_type", "code"),
                ("scope", "openid"),
                ("scope", "openid"),
            ],
            "invalid_request",
        ),
        (
            vec![
                ("response_type", "code"),
                ("scope", "openid"),
                ("code_challenge_method", "S512"),
            ],
            "invalid_request",
        ),
    ] {
        let cb = browser.go(base(&extra).as_str()).await.callback();
        assert_eq!(cb.get("error"), Some(error), "{extra:?} → {}", cb.url);
        assert_eq!(cb.get("state"), Some("st"));
        assert_eq!(cb.get("iss"), Some(f.t.base_url.as_str()));
    }

    // POST works like GET.
    let form: Vec<(String, String)> = base(&[
        ("response_type", "code"),
        ("scope", "openid"),
        ("nonce", "n"),
    ])
    .query_pairs()
    .into_owned()
    .collect();
    let res = browser
        .http
        .post(authz.clone())
        .form(&form)
        .send()
        .await
        .unwrap();
    let landing = browser.follow(authz, res).await;
    // Consent is needed the first time.
    let (_, status, body) = landing.page();
    assert_eq!(status, 200);
    assert!(consent_form(&body).is_some(), "{body}");
}

#[tokio::test]
async fn a_replayed_code_fails_and_revokes_what_it_issued() {
    let f = Fixture::start().await;
    f.user("alice");
    let app = f
        .app(NewClient {
            skip_consent: true,
            ..client("Wiki")
        })
        .await;
    let browser = f.signed_in("alice").await;
    let req = f.authorize(&app, &["offline_access"], |r| r);
    let cb = f.front_channel(&browser, &req).await;
    let verifier = req.verifier.as_ref().unwrap().secret().clone();
    let tokens = f.exchange(&app, req, &cb).await.unwrap();

    let again = app
        .rp
        .exchange_code(cb.code())
        .unwrap()
        .set_pkce_verifier(PkceCodeVerifier::new(verifier))
        .request_async(&f.http)
        .await
        .unwrap_err();
    assert_eq!(oauth_error(&again), "invalid_grant");
    assert!(
        !app.rp
            .introspect(tokens.access_token())
            .request_async(&f.http)
            .await
            .unwrap()
            .active()
    );
    let err = app
        .rp
        .exchange_refresh_token(tokens.refresh_token().unwrap())
        .unwrap()
        .request_async(&f.http)
        .await
        .unwrap_err();
    assert_eq!(oauth_error(&err), "invalid_grant");
    let res = f
        .http
        .get(app.rp.user_info_url().unwrap().as_str())
        .bearer_auth(tokens.access_token().secret())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn token_endpoint_errors_are_rfc_6749_shaped() {
    let f = Fixture::start().await;
    f.user("alice");
    let app = f
        .app(NewClient {
            skip_consent: true,
            ..client("Wiki")
        })
        .await;
    let other = f
        .app(NewClient {
            skip_consent: true,
            ..client("Other")
        })
        .await;
    let token_url = app.rp.token_uri().unwrap().as_str().to_owned();
    let secret = app.secret.clone().unwrap();
    let post = |auth: Option<(&str, &str)>, form: Vec<(&str, String)>| {
        let mut req = f.http.post(&token_url).form(&form);
        if let Some((id, s)) = auth {
            req = req.basic_auth(id, Some(s));
        }
        req.send()
    };
    async fn check(res: reqwest::Response, status: u16, error: &str) -> reqwest::header::HeaderMap {
        let headers = res.headers().clone();
        assert_eq!(res.status().as_u16(), status, "{error}");
        assert_eq!(headers[CACHE_CONTROL], "no-store", "{error}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"], error, "{body}");
        headers
    }

    // invalid_client: wrong secret by Basic → 401 with WWW-Authenticate Basic.
    let res = post(
        Some((&app.id, "wrong")),
        vec![("grant_type", "client_credentials".into())],
    )
    .await
    .unwrap();
    let headers = check(res, 401, "invalid_client").await;
    let www = headers[WWW_AUTHENTICATE].to_str().unwrap();
    assert!(www.starts_with("Basic"), "{www}");
    // …by client_secret_post → 401 too.
    let res = post(
        None,
        vec![
            ("grant_type", "client_credentials".into()),
            ("client_id", app.id.clone()),
            ("client_secret", "wrong".into()),
        ],
    )
    .await
    .unwrap();
    check(res, 401, "invalid_client").await;
    // …unknown client.
    let res = post(
        Some(("nobody", "x")),
        vec![("grant_type", "client_credentials".into())],
    )
    .await
    .unwrap();
    check(res, 401, "invalid_client").await;
    // …no authentication at all.
    let res = post(None, vec![("grant_type", "client_credentials".into())])
        .await
        .unwrap();
    check(res, 401, "invalid_client").await;

    let auth = Some((app.id.as_str(), secret.as_str()));
    let res = post(auth, vec![("grant_type", "password".into())])
        .await
        .unwrap();
    check(res, 400, "unsupported_grant_type").await;
    let res = post(auth, vec![]).await.unwrap();
    check(res, 400, "invalid_request").await;
    let res = post(
        auth,
        vec![
            ("grant_type", "client_credentials".into()),
            ("scope", "openid profile".into()),
        ],
    )
    .await
    .unwrap();
    check(res, 400, "invalid_scope").await;
    let res = post(
        auth,
        vec![
            ("grant_type", "authorization_code".into()),
            ("code", "nope".into()),
            ("redirect_uri", REDIRECT_URI.into()),
        ],
    )
    .await
    .unwrap();
    check(res, 400, "invalid_grant").await;
    let res = post(auth, vec![("grant_type", "authorization_code".into())])
        .await
        .unwrap();
    check(res, 400, "invalid_request").await;
    let res = post(
        auth,
        vec![
            ("grant_type", "refresh_token".into()),
            ("refresh_token", "nope".into()),
        ],
    )
    .await
    .unwrap();
    check(res, 400, "invalid_grant").await;
    // A JSON body is not a form.
    let res = f
        .http
        .post(&token_url)
        .basic_auth(&app.id, Some(&secret))
        .json(&json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .unwrap();
    check(res, 400, "invalid_request").await;

    // A code: wrong verifier, no verifier, wrong redirect_uri, wrong client — each invalid_grant.
    let browser = f.signed_in("alice").await;
    for what in ["wrong verifier", "missing verifier", "wrong redirect_uri"] {
        let req = f.authorize(&app, &[], |r| r);
        let cb = f.front_channel(&browser, &req).await;
        let code = cb.get("code").unwrap().to_owned();
        let verifier = req.verifier.as_ref().unwrap().secret().clone();
        let mut form = vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code.clone()),
        ];
        match what {
            "wrong verifier" => {
                form.push(("redirect_uri", REDIRECT_URI.into()));
                form.push(("code_verifier", "x".repeat(43)));
            }
            "missing verifier" => form.push(("redirect_uri", REDIRECT_URI.into())),
            _ => {
                form.push(("redirect_uri", LOGOUT_URI.into()));
                form.push(("code_verifier", verifier.clone()));
            }
        }
        let res = post(auth, form).await.unwrap();
        let status = res.status();
        let body: Value = res.json().await.unwrap();
        assert_eq!(
            (status.as_u16(), body["error"].as_str()),
            (400, Some("invalid_grant")),
            "{what}: {body}"
        );
    }
    // Another client's code.
    let req = f.authorize(&app, &[], |r| r);
    let cb = f.front_channel(&browser, &req).await;
    let err = other
        .rp
        .exchange_code(cb.code())
        .unwrap()
        .set_pkce_verifier(PkceCodeVerifier::new(
            req.verifier.as_ref().unwrap().secret().clone(),
        ))
        .request_async(&f.http)
        .await
        .unwrap_err();
    assert_eq!(oauth_error(&err), "invalid_grant");

    // Through the library, the same errors surface as typed errors.
    let err = f
        .rp(&app.id, Some("wrong"))
        .exchange_client_credentials()
        .unwrap()
        .request_async(&f.http)
        .await
        .unwrap_err();
    assert_eq!(oauth_error(&err), "invalid_client");
}

#[tokio::test]
async fn client_credentials_gives_an_access_token_only() {
    let f = Fixture::start().await;
    let app = f.confidential("Batch").await;
    let tokens = app
        .rp
        .exchange_client_credentials()
        .unwrap()
        .request_async(&f.http)
        .await
        .unwrap();
    assert!(tokens.refresh_token().is_none());
    assert!(tokens.id_token().is_none());
    let claims = jwt_payload(tokens.access_token().secret());
    assert_eq!(claims["client_id"], app.id);
    let intro = app
        .rp
        .introspect(tokens.access_token())
        .request_async(&f.http)
        .await
        .unwrap();
    assert!(intro.active());
}

// ---------------------------------------------------------------------------------------
// Keys

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

// ---------------------------------------------------------------------------------------
// Claims and the lives of users and clients

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

#[tokio::test]
async fn a_disabled_user_s_tokens_stop_working() {
    let f = Fixture::start().await;
    f.user("alice");
    let app = f
        .app(NewClient {
            skip_consent: true,
            ..client("Wiki")
        })
        .await;
    let browser = f.signed_in("alice").await;
    let tokens = f.login(&app, &browser, &["offline_access"]).await;
    f.idm()
        .set_user_disabled(&Actor::system(), "alice", true)
        .unwrap();

    let res = f
        .http
        .get(app.rp.user_info_url().unwrap().as_str())
        .bearer_auth(tokens.access().secret())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let intro = app
        .rp
        .introspect(tokens.access())
        .request_async(&f.http)
        .await
        .unwrap();
    assert!(!intro.active());
    let err = app
        .rp
        .exchange_refresh_token(tokens.refresh())
        .unwrap()
        .request_async(&f.http)
        .await
        .unwrap_err();
    assert_eq!(oauth_error(&err), "invalid_grant");

    // Userinfo without any token: 401 and a Bearer challenge.
    let res = f
        .http
        .get(app.rp.user_info_url().unwrap().as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert!(
        res.headers()[WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
}

#[tokio::test]
async fn deleting_a_client_ends_its_tokens() {
    let f = Fixture::start().await;
    f.user("alice");
    let app = f.confidential("Wiki").await;
    let browser = f.signed_in("alice").await;
    let tokens = f.login(&app, &browser, &["offline_access"]).await;
    let Response::Done = f
        .admin(Request::DeleteClient {
            client_id: app.id.clone(),
        })
        .await
    else {
        panic!("DeleteClient")
    };
    let res = f
        .http
        .get(app.rp.user_info_url().unwrap().as_str())
        .bearer_auth(tokens.access().secret())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let err = app
        .rp
        .exchange_refresh_token(tokens.refresh())
        .unwrap()
        .request_async(&f.http)
        .await
        .unwrap_err();
    assert_eq!(oauth_error(&err), "invalid_client");
    // Its consents went with it: the user is no longer listed as having authorized it.
    let Response::Authorizations { authorizations } = f
        .admin(Request::ListAuthorizations {
            user: "alice".into(),
        })
        .await
    else {
        panic!("ListAuthorizations")
    };
    assert!(authorizations.is_empty(), "{authorizations:?}");
}
