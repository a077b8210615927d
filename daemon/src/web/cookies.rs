//! Cookie names and flags, and reading the `Cookie` header.
//!
//! Two cookies exist: the session (`latchkey_session`) and the CSRF token (`latchkey_csrf`).
//! When the public URL is https both get the `__Host-` prefix and `Secure`, so a sibling
//! subdomain cannot plant or overwrite them; both are `HttpOnly` and `Path=/`. The session
//! cookie is `SameSite=Lax` (a link from a mail or another site still arrives signed in), the
//! CSRF cookie `SameSite=Strict`.

use axum::http::header::COOKIE;
use axum::http::{HeaderMap, HeaderValue};

/// The cookie names and the `Secure` flag for one public URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CookieNames {
    pub session: &'static str,
    pub csrf: &'static str,
    pub secure: bool,
    /// Binds an emailed sign-in link to the browser that asked.
    pub email_link: &'static str,
    /// Identifies a browser for new-device notices.
    pub device: &'static str,
}

/// How long the browser keeps the device cookie (browsers cap at 400 days).
pub const DEVICE_COOKIE_SECONDS: i64 = 400 * 24 * 3600;

impl CookieNames {
    pub fn new(https: bool) -> CookieNames {
        if https {
            CookieNames {
                session: "__Host-latchkey_session",
                csrf: "__Host-latchkey_csrf",
                secure: true,
                email_link: "__Host-latchkey_email_link",
                device: "__Host-latchkey_device",
            }
        } else {
            CookieNames {
                session: "latchkey_session",
                csrf: "latchkey_csrf",
                secure: false,
                email_link: "latchkey_email_link",
                device: "latchkey_device",
            }
        }
    }

    /// `Set-Cookie` for a session that the server ends at `max_age_seconds` from now.
    pub fn set_session(&self, value: &str, max_age_seconds: i64) -> Option<HeaderValue> {
        let max_age = max_age_seconds.max(0);
        self.build(self.session, value, "Lax", Some(max_age))
    }

    /// `Set-Cookie` that makes the browser forget the session cookie.
    pub fn clear_session(&self) -> Option<HeaderValue> {
        self.build(self.session, "", "Lax", Some(0))
    }

    /// `Set-Cookie` for the CSRF token: a browser-session cookie.
    pub fn set_csrf(&self, value: &str) -> Option<HeaderValue> {
        self.build(self.csrf, value, "Strict", None)
    }

    /// `Set-Cookie` for the email sign-in binding: Lax, so it arrives when
    /// the link in the mail is opened; gone when the link expires.
    pub fn set_email_link(&self, value: &str, max_age_seconds: i64) -> Option<HeaderValue> {
        self.build(self.email_link, value, "Lax", Some(max_age_seconds.max(0)))
    }

    pub fn clear_email_link(&self) -> Option<HeaderValue> {
        self.build(self.email_link, "", "Lax", Some(0))
    }

    /// `Set-Cookie` for the long-lived device cookie.
    pub fn set_device(&self, value: &str) -> Option<HeaderValue> {
        self.build(self.device, value, "Lax", Some(DEVICE_COOKIE_SECONDS))
    }

    fn build(
        &self,
        name: &str,
        value: &str,
        same_site: &str,
        max_age: Option<i64>,
    ) -> Option<HeaderValue> {
        let mut cookie = format!("{name}={value}; Path=/; HttpOnly; SameSite={same_site}");
        if let Some(seconds) = max_age {
            cookie.push_str(&format!("; Max-Age={seconds}"));
        }
        if self.secure {
            cookie.push_str("; Secure");
        }
        // Values are base64url (or empty), so this cannot fail; a `None` drops the header
        // rather than panicking.
        HeaderValue::from_str(&cookie).ok()
    }
}

/// The value of the first cookie called `name` across all `Cookie` headers. Cookie pairs are
/// separated by `;`; values may be quoted. Headers that are not UTF-8 are skipped.
pub fn get<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|header| header.split(';'))
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| key.trim() == name)
        .map(|(_, value)| {
            let value = value.trim();
            value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for v in values {
            map.append(COOKIE, HeaderValue::from_str(v).unwrap());
        }
        map
    }

    #[test]
    fn https_uses_host_prefix_and_secure() {
        let names = CookieNames::new(true);
        assert_eq!(names.session, "__Host-latchkey_session");
        let cookie = names.set_session("abc", 3600).unwrap();
        assert_eq!(
            cookie.to_str().unwrap(),
            "__Host-latchkey_session=abc; Path=/; HttpOnly; SameSite=Lax; Max-Age=3600; Secure"
        );
        let csrf = names.set_csrf("tok").unwrap();
        assert_eq!(
            csrf.to_str().unwrap(),
            "__Host-latchkey_csrf=tok; Path=/; HttpOnly; SameSite=Strict; Secure"
        );
    }

    #[test]
    fn http_has_plain_names_and_no_secure() {
        let names = CookieNames::new(false);
        let cookie = names.set_session("abc", 60).unwrap();
        assert_eq!(
            cookie.to_str().unwrap(),
            "latchkey_session=abc; Path=/; HttpOnly; SameSite=Lax; Max-Age=60"
        );
        assert_eq!(
            names.clear_session().unwrap().to_str().unwrap(),
            "latchkey_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"
        );
    }

    #[test]
    fn reads_cookies_across_headers_and_pairs() {
        let map = headers(&["a=1; latchkey_csrf=xyz", "latchkey_session=\"s1\""]);
        assert_eq!(get(&map, "latchkey_csrf"), Some("xyz"));
        assert_eq!(get(&map, "latchkey_session"), Some("s1"));
        assert_eq!(get(&map, "a"), Some("1"));
        assert_eq!(get(&map, "missing"), None);
        // A name that only contains the wanted one does not match.
        let map = headers(&["xlatchkey_csrf=1"]);
        assert_eq!(get(&map, "latchkey_csrf"), None);
    }
}
