//! Request bodies: read whole, within `body_timeout_secs` of the request head and at most
//! [`MAX_BODY_BYTES`], before any handler or the CSRF check sees them.
//!
//! Every body Latchkey takes is a small form or JSON document that its handler reads whole
//! anyway, so reading it here first costs one buffer and bounds what a slow client can hold: a
//! body trickled a byte at a time ends with 408 when the time is up. tower-http's
//! `RequestBodyTimeoutLayer` would not: it times the gap between chunks, so a byte every few
//! seconds never trips it; its `TimeoutLayer` would also cut slow handlers. axum's `to_bytes`
//! under tokio's `timeout` is the whole mechanism.

use std::time::Duration;

use axum::body::{Body, HttpBody};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{WebError, WebState};

/// The largest request body accepted. Forms and WebAuthn responses are a few KiB.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Middleware: buffers the body within the deadline, or answers 408 / 413.
pub async fn read_whole(State(state): State<WebState>, request: Request, next: Next) -> Response {
    if request.body().is_end_stream() {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    match buffer(body, state.body_timeout).await {
        Ok(body) => next.run(Request::from_parts(parts, body)).await,
        Err(error) => error.into_response(),
    }
}

async fn buffer(body: Body, timeout: Duration) -> Result<Body, WebError> {
    match tokio::time::timeout(timeout, axum::body::to_bytes(body, MAX_BODY_BYTES)).await {
        Ok(Ok(bytes)) => Ok(Body::from(bytes)),
        Ok(Err(error)) if is_too_large(&error) => Err(WebError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            "The request is too large.",
        )),
        Ok(Err(_)) => Err(WebError::bad_request("The request could not be read.")),
        Err(_) => Err(WebError::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            "The request took too long to arrive. Please try again.",
        )),
    }
}

/// Whether `to_bytes` stopped at the size limit (http-body-util's `LengthLimitError`).
fn is_too_large(error: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if e.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use super::*;

    /// A body whose next chunk never comes.
    struct Endless;

    impl HttpBody for Endless {
        type Data = axum::body::Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
            Poll::Pending
        }
    }

    #[tokio::test]
    async fn bodies_are_bounded_in_size_and_time() {
        let small = buffer(Body::from("a=1"), Duration::from_secs(1)).await;
        assert!(small.is_ok());
        let big = buffer(
            Body::from(vec![b'x'; MAX_BODY_BYTES + 1]),
            Duration::from_secs(1),
        )
        .await
        .unwrap_err();
        assert_eq!(big.status, StatusCode::PAYLOAD_TOO_LARGE);
        let slow = buffer(Body::new(Endless), Duration::from_millis(50))
            .await
            .unwrap_err();
        assert_eq!(slow.status, StatusCode::REQUEST_TIMEOUT);
    }
}
