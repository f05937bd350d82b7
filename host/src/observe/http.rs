//! HTTP request metrics: a middleware on every route, labelled with the
//! matched route template (`/api/executions/{id}`), never the raw URI, so
//! ids and probes cannot multiply the series.

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use std::time::Instant;

/// Label for requests no route matched (404s of the fallback).
pub const UNMATCHED: &str = "unmatched";

/// Counts the request by method, route and status once the response head
/// is ready (a streamed body is timed to its head).
pub async fn track(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| UNMATCHED.to_string());
    let method = match request.method().as_str() {
        m @ ("GET" | "HEAD" | "POST" | "PUT" | "DELETE" | "PATCH" | "OPTIONS") => m,
        _ => "other",
    }
    .to_string();
    let response = next.run(request).await;
    super::metrics::get().http_request(
        &method,
        &route,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}
