//! Every error a browser or script sees, rendered: a [`WebError`] from a handler, and axum's
//! own plain-text rejections (a malformed form or JSON body, an unknown route, a wrong method),
//! become a page or, under `/api/`, JSON `{"error": code, "message": text}`, with a 4xx status
//! for bad input, never a 500. The middleware reads the settings, for the app name.

use askama::Template;
use axum::Json;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use serde_json::json;

use super::WebState;
use super::error::{Rendered, WebError};
use super::pages::Chrome;

#[derive(Template, Debug)]
#[template(path = "error.html")]
struct ErrorPage {
    chrome: Chrome,
    title: &'static str,
    message: String,
}

/// The HTML of an error page.
fn error_page(app_name: &str, error: &WebError) -> String {
    let title = match error.status {
        StatusCode::FORBIDDEN => "Request refused",
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::GONE => "Link no longer valid",
        StatusCode::UNAUTHORIZED => "Sign-in failed",
        StatusCode::TOO_MANY_REQUESTS => "Too many attempts",
        s if s.is_server_error() => "Something went wrong",
        _ => "That did not work",
    };
    let page = ErrorPage {
        chrome: Chrome::bare(app_name),
        title,
        message: error.message.clone(),
    };
    page.render().unwrap_or_else(|e| {
        tracing::error!("cannot render the error page: {e}");
        String::from("error")
    })
}

/// Middleware: renders errors as pages or JSON (under `/api/`).
pub async fn render_errors(
    State(state): State<WebState>,
    request: Request,
    next: Next,
) -> Response {
    let json = request.uri().path().starts_with("/api/");
    let response = next.run(request).await;
    let error = match response.extensions().get::<Rendered>() {
        Some(Rendered(error)) => error.clone(),
        None => {
            let status = response.status();
            let typed = response
                .headers()
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("text/html") || v.starts_with("application/json"));
            if !(status.is_client_error() || status.is_server_error()) || typed {
                return response;
            }
            from_rejection(status)
        }
    };
    let (mut parts, _) = response.into_parts();
    parts.headers.remove(CONTENT_TYPE);
    parts.headers.remove(CONTENT_LENGTH);
    let body = if json {
        Json(json!({"error": error.code, "message": error.message})).into_response()
    } else {
        let app_name = state.app_name().await;
        Html(error_page(&app_name, &error)).into_response()
    };
    let (body_parts, body) = body.into_parts();
    for (name, value) in &body_parts.headers {
        parts.headers.insert(name, value.clone());
    }
    Response::from_parts(parts, body)
}

/// axum's own rejections, reworded for people.
fn from_rejection(status: StatusCode) -> WebError {
    match status {
        StatusCode::NOT_FOUND => WebError::not_found("There is no page at this address."),
        StatusCode::METHOD_NOT_ALLOWED => WebError::new(
            status,
            "method_not_allowed",
            "This address does not accept that kind of request.",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => {
            WebError::new(status, "too_large", "The request is too large.")
        }
        StatusCode::UNSUPPORTED_MEDIA_TYPE => WebError::new(
            status,
            "invalid_input",
            "The request body has the wrong content type.",
        ),
        s if s.is_client_error() => WebError::new(
            s,
            "invalid_input",
            "The request could not be understood. Check the form and try again.",
        ),
        _ => WebError::internal(),
    }
}
