//! The stylesheet and the script, embedded in the binary (no build step).
//!
//! Pages link `/static/app.<hash>.css` and `/static/app.<hash>.js`, where the hash is the first
//! 16 hex digits of the file's SHA-256: those names are cached for a year (`immutable`), and a
//! new release links new names. The plain names `/static/app.css` and `/static/app.js` also
//! answer, revalidated with an `ETag`.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::error::WebError;

const CSS: &str = include_str!("../../static/app.css");
const JS: &str = include_str!("../../static/app.js");

#[derive(Debug)]
struct Asset {
    body: &'static str,
    content_type: &'static str,
    /// `app.<hash>.css`
    hashed_name: String,
    plain_name: &'static str,
    /// `"<hash>"`, quoted as an ETag is.
    etag: String,
}

impl Asset {
    fn new(
        body: &'static str,
        stem: &str,
        ext: &str,
        content_type: &'static str,
        plain_name: &'static str,
    ) -> Asset {
        let digest = Sha256::digest(body.as_bytes());
        let hash = hex::encode(digest.get(..8).unwrap_or_default());
        Asset {
            body,
            content_type,
            hashed_name: format!("{stem}.{hash}.{ext}"),
            plain_name,
            etag: format!("\"{hash}\""),
        }
    }
}

static ASSETS: LazyLock<[Asset; 2]> = LazyLock::new(|| {
    [
        Asset::new(CSS, "app", "css", "text/css; charset=utf-8", "app.css"),
        Asset::new(JS, "app", "js", "text/javascript; charset=utf-8", "app.js"),
    ]
});

/// The path pages link the stylesheet at.
pub fn css_path() -> String {
    let [css, _] = &*ASSETS;
    format!("/static/{}", css.hashed_name)
}

/// The path pages load the script from.
pub fn js_path() -> String {
    let [_, js] = &*ASSETS;
    format!("/static/{}", js.hashed_name)
}

/// `GET /static/{file}`
pub async fn static_get(Path(file): Path<String>, headers: HeaderMap) -> Response {
    let Some((asset, immutable)) = ASSETS.iter().find_map(|a| {
        if a.hashed_name == file {
            Some((a, true))
        } else if a.plain_name == file {
            Some((a, false))
        } else {
            None
        }
    }) else {
        return WebError::not_found("There is no such file.").into_response();
    };
    let cache = if immutable {
        "public, max-age=31536000, immutable"
    } else {
        "public, no-cache"
    };
    let etag = HeaderValue::from_str(&asset.etag).ok();
    let matches = headers
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim() == asset.etag || t.trim() == "*")
        });
    let mut response = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(CONTENT_TYPE, HeaderValue::from_static(asset.content_type))],
            asset.body,
        )
            .into_response()
    };
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Some(etag) = etag {
        response.headers_mut().insert(ETAG, etag);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashed_names_follow_the_content() {
        let css = css_path();
        assert!(
            css.starts_with("/static/app.") && css.ends_with(".css"),
            "{css}"
        );
        assert_eq!(css.len(), "/static/app.".len() + 16 + ".css".len());
        assert!(js_path().ends_with(".js"));
    }

    #[tokio::test]
    async fn etags_revalidate() {
        let [css, _] = &*ASSETS;
        let response = static_get(Path("app.css".to_owned()), HeaderMap::new()).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[ETAG], css.etag.as_str());
        let mut headers = HeaderMap::new();
        headers.insert(IF_NONE_MATCH, HeaderValue::from_str(&css.etag).unwrap());
        let response = static_get(Path(css.hashed_name.clone()), headers).await;
        assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(
            response.headers()[CACHE_CONTROL],
            "public, max-age=31536000, immutable"
        );
        let response = static_get(Path("nope.js".to_owned()), HeaderMap::new()).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }
}
