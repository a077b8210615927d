//! HTTP requests for the metrics: `latchkey_http_requests_total{route,method,status}` and
//! `latchkey_http_request_duration_seconds{route}`. The route is the router's template
//! (`/st/{token}`, never the token), so labels stay few whatever clients send; requests no
//! route matched are not counted per path at all. Off (one atomic load) unless
//! `metrics_listen` is set.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;

pub(super) async fn record(request: Request, next: Next) -> Response {
    if !crate::metrics::on() {
        return next.run(request).await;
    }
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    ::metrics::histogram!("latchkey_http_request_duration_seconds", "route" => route.clone())
        .record(started.elapsed().as_secs_f64());
    ::metrics::counter!(
        "latchkey_http_requests_total",
        "route" => route,
        "method" => method,
        "status" => status
    )
    .increment(1);
    response
}
