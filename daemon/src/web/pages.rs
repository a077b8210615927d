//! The page templates (askama, compile-time checked; files in `daemon/templates/`) and the
//! frame every page shares.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use time::OffsetDateTime;
use time::macros::format_description;

use super::assets;
use super::csrf::CsrfToken;

/// What every page's frame shows: the app name (setting `app.name`), the CSRF token for
/// `<meta name="csrf-token">` and hidden inputs, and the asset paths.
#[derive(Debug, Clone)]
pub struct Chrome {
    pub app_name: String,
    pub csrf: String,
    pub css: String,
    pub js: String,
    pub wide: bool,
}

impl Chrome {
    pub fn new(app_name: &str, csrf: &CsrfToken) -> Chrome {
        Chrome {
            app_name: app_name.to_owned(),
            csrf: csrf.as_str().to_owned(),
            css: assets::css_path(),
            js: assets::js_path(),
            wide: false,
        }
    }

    /// For error pages and pages whose forms need no CSRF token.
    pub fn bare(app_name: &str) -> Chrome {
        Chrome {
            app_name: app_name.to_owned(),
            csrf: String::new(),
            css: assets::css_path(),
            js: assets::js_path(),
            wide: false,
        }
    }

    pub fn wide(mut self) -> Chrome {
        self.wide = true;
        self
    }
}

#[derive(Template, Debug)]
#[template(path = "login.html")]
pub struct LoginPage {
    pub chrome: Chrome,
    /// The safe `next`, or empty.
    pub next: String,
    pub alternative_href: String,
    pub notice: Option<&'static str>,
    /// Put in the username field: an app's `login_hint`.
    pub login_hint: String,
}

#[derive(Template, Debug)]
#[template(path = "alternative.html")]
pub struct AlternativePage {
    pub chrome: Chrome,
    pub next: String,
    pub login_href: String,
    /// Offer "email me a sign-in link" (`email.one_time_access`).
    pub email_link: bool,
}

/// The one answer to "email me a sign-in link", with the code form.
#[derive(Template, Debug)]
#[template(path = "email_sent.html")]
pub struct EmailSentPage {
    pub chrome: Chrome,
    pub minutes: i64,
    pub error: Option<String>,
}

/// The page the mailed link opens (a Continue button).
#[derive(Template, Debug)]
#[template(path = "email_link.html")]
pub struct EmailLinkPage {
    pub chrome: Chrome,
    pub token: String,
}

/// The page an email verification link opens (a button: GET consumes nothing).
#[derive(Template, Debug)]
#[template(path = "email_verify.html")]
pub struct EmailVerifyPage {
    pub chrome: Chrome,
    pub token: String,
}

/// After a verification link was used.
#[derive(Template, Debug)]
#[template(path = "email_verified.html")]
pub struct EmailVerifiedPage {
    pub chrome: Chrome,
    pub username: String,
    pub address: String,
}

#[derive(Template, Debug)]
#[template(path = "lc.html")]
pub struct LoginCodePage {
    pub chrome: Chrome,
    pub code: String,
    pub next: String,
    pub error: Option<String>,
}

#[derive(Debug, Clone)]
pub struct PasskeyRow {
    pub id: String,
    pub name: String,
    pub created: String,
    pub last_used: String,
    pub synced: bool,
}

/// An app the user has authorized (OIDC consent).
#[derive(Debug, Clone)]
pub struct AppRow {
    /// The client id, percent-encoded for the form's path.
    pub id: String,
    pub name: String,
    pub scopes: String,
    pub granted: String,
}

#[derive(Template, Debug)]
#[template(path = "account.html")]
pub struct AccountPage {
    pub chrome: Chrome,
    pub display_name: String,
    pub username: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub full_name: String,
    pub is_admin: bool,
    pub session_expires: String,
    pub passkeys: Vec<PasskeyRow>,
    pub notice: Option<&'static str>,
    pub apps: Vec<AppRow>,
}

#[derive(Template, Debug)]
#[template(path = "passkey_delete.html")]
pub struct PasskeyDeletePage {
    pub chrome: Chrome,
    pub id: String,
    pub name: String,
    pub is_last: bool,
}

#[derive(Template, Debug)]
#[template(path = "setup.html")]
pub struct SetupPage {
    pub chrome: Chrome,
    pub token: String,
    pub username: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub error: Option<String>,
}

/// `/signup` and `/st/{token}`: the form with a message under each field it refuses.
#[derive(Template, Debug)]
#[template(path = "signup.html")]
pub struct SignupPage {
    pub chrome: Chrome,
    pub action: String,
    pub require_email: bool,
    pub username: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub error: Option<String>,
    pub username_error: Option<String>,
    pub email_error: Option<String>,
    pub first_name_error: Option<String>,
    pub last_name_error: Option<String>,
}

/// `/signup/passkey`: right after signup, add the first passkey or skip.
#[derive(Template, Debug)]
#[template(path = "signup_passkey.html")]
pub struct SignupPasskeyPage {
    pub chrome: Chrome,
    pub display_name: String,
    pub username: String,
}

/// Renders a page with a status. A template that fails to render (it should not: they are
/// checked at compile time) is logged and answered with a bare 500.
pub fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!("cannot render a page: {e}");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

/// `2026-11-23 08:00 UTC`
pub fn format_time(t: OffsetDateTime) -> String {
    let format = format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    t.to_offset(time::UtcOffset::UTC)
        .format(&format)
        .unwrap_or_else(|_| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn chrome() -> Chrome {
        Chrome {
            app_name: "Acme <ID>".into(),
            csrf: "tok".into(),
            css: "/static/app.x.css".into(),
            js: "/static/app.x.js".into(),
            wide: false,
        }
    }

    #[test]
    fn pages_carry_the_app_name_escaped_and_the_csrf_token() {
        let page = LoginPage {
            chrome: chrome(),
            next: "/x\"><script>".into(),
            alternative_href: "/login/alternative".into(),
            notice: None,
            login_hint: "al\"ice<script>".into(),
        };
        let html = page.render().unwrap();
        assert!(
            html.contains(r#"value="al&#34;ice&#60;script&#62;""#),
            "{html}"
        );
        assert!(
            html.contains("<title>Sign in · Acme &#60;ID&#62;</title>"),
            "{html}"
        );
        assert!(html.contains(r#"<meta name="csrf-token" content="tok">"#));
        assert!(html.contains(r#"autocomplete="username webauthn""#));
        assert!(!html.contains("<script>"));
        assert!(!html.contains("style="), "no inline style");
    }

    #[test]
    fn the_delete_page_warns_before_the_last_passkey() {
        let page = |is_last| PasskeyDeletePage {
            chrome: chrome(),
            id: "abc".into(),
            name: "Phone".into(),
            is_last,
        };
        assert!(page(true).render().unwrap().contains("only passkey"));
        assert!(!page(false).render().unwrap().contains("only passkey"));
    }

    #[test]
    fn times_are_shown_in_utc() {
        assert_eq!(
            format_time(datetime!(2026-11-23 08:05:09 UTC)),
            "2026-11-23 08:05 UTC"
        );
    }
}
