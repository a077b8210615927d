//! A small browser for the OpenID Connect tests: a reqwest client with a cookie jar that follows
//! the daemon's redirects itself and stops at one that leaves the daemon, reads the forms of a
//! page (action, method, fields, buttons) and submits them, answers consent pages, and signs in
//! with a login code.

use std::time::Duration;

use latchkey_daemon::idm::{Actor, Idm};
use reqwest::header::LOCATION;
use reqwest::{StatusCode, Url};

/// What a browser navigation ended on.
#[derive(Debug)]
pub enum Landing {
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
    pub fn page(self) -> (Url, StatusCode, String) {
        match self {
            Landing::Page { url, status, body } => (url, status, body),
            Landing::Left(url) => panic!("expected a page of the daemon, got a redirect to {url}"),
        }
    }
}

/// A browser: a cookie jar, and redirects followed by hand so that one leaving the daemon
/// (for a relying party) can be stopped at and read.
#[derive(Debug)]
pub struct Browser {
    pub http: reqwest::Client,
    base: Url,
}

/// An HTML form: action, method, the fields it posts, and its submit buttons.
#[derive(Debug, Clone)]
pub struct Form {
    pub action: String,
    pub method: String,
    pub fields: Vec<(String, String)>,
    pub buttons: Vec<(String, String, String)>,
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

pub fn forms(html: &str) -> Vec<Form> {
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
pub fn consent_form(html: &str) -> Option<Form> {
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
    /// A fresh browser (empty cookie jar) for the daemon at `base_url`.
    pub fn new(base_url: &str) -> Browser {
        Browser {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: Url::parse(base_url).unwrap(),
        }
    }

    fn resolve(&self, from: &Url, location: &str) -> Url {
        from.join(location).unwrap()
    }

    fn is_daemon(&self, url: &Url) -> bool {
        url.origin() == self.base.origin()
    }

    /// GET `url`, following the daemon's redirects; stops when a redirect leaves the
    /// daemon or at a page.
    pub async fn go(&self, url: &str) -> Landing {
        let res = self.http.get(url).send().await.unwrap();
        self.follow(Url::parse(url).unwrap(), res).await
    }

    pub async fn follow(&self, mut url: Url, mut res: reqwest::Response) -> Landing {
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
    pub async fn submit(&self, page_url: &Url, form: &Form, button: Option<&str>) -> Landing {
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
    pub async fn consent(&self, landing: &Landing, allow: bool) -> Landing {
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
    pub async fn sign_in(&self, idm: &Idm, username: &str, next: Option<&str>) -> Landing {
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
    pub async fn sign_in_at(&self, idm: &Idm, username: &str, login_page: &Landing) -> Landing {
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
