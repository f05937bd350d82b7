//! The web UI: the single-page app built from `web/` (Vite writes it to
//! `web/dist`), embedded in the binary and served at `/`.
//!
//! Every path the API does not claim (`/api/…`, `/health`, `/metrics`)
//! answers a GET with the app: a file of the build when one has that
//! name, else `index.html`, whose router draws the screen (deep links and
//! reloads work). The files are public — they hold no data; everything
//! the app shows comes from the API under its access rules.
//!
//! Caching: Vite names the files under `assets/` after their content, so
//! they are cached for a year; everything else is revalidated each time
//! (ETag). Every answer carries a content security policy that lets the
//! page load only its own scripts, styles and API.

use super::error::ApiError;
use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

/// The built UI. An empty folder (the UI not built) is allowed: the
/// binary then answers `/` with a message saying how to build it.
#[derive(RustEmbed)]
#[folder = "../web/dist"]
#[allow_missing = true]
struct Assets;

/// The policy of every UI answer: scripts, styles, images and fonts
/// from this server only, API calls and the event stream to it only,
/// no framing, no plugins, forms post only here.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; \
     object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// Whether `path` belongs to the API (answered there, never by the UI).
fn is_api_path(path: &str) -> bool {
    path == "/api"
        || path.starts_with("/api/")
        || path == "/health"
        || path == "/metrics"
        || path.starts_with("/metrics/")
}

/// The router's fallback: API paths get the API's JSON 404; GET and HEAD
/// of any other path get the UI.
pub async fn fallback(method: Method, uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path();
    if is_api_path(path) {
        return ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route").into_response();
    }
    if method != Method::GET && method != Method::HEAD {
        return ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "the web UI answers only GET and HEAD",
        )
        .into_response();
    }
    let name = path.trim_start_matches('/');
    let (file, name) = match Assets::get(name).filter(|_| !name.is_empty()) {
        Some(file) => (file, name),
        // A hashed asset that is not in this build is a 404, not the app:
        // a stale page asking for last version's script must not get HTML.
        None if name.starts_with("assets/") => {
            return ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "no such file in the web UI",
            )
            .into_response()
        }
        None => match Assets::get("index.html") {
            Some(file) => (file, "index.html"),
            None => return not_built(),
        },
    };
    let etag = format!("\"{}\"", hex::encode(&file.metadata.sha256_hash()[..16]));
    let cache = if name.starts_with("assets/") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let mut response = if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag))
    {
        StatusCode::NOT_MODIFIED.into_response()
    } else if method == Method::HEAD {
        // The headers GET would send, the length included.
        let mut head = Response::new(Body::empty());
        head.headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(file.data.len()));
        head
    } else {
        Response::new(Body::from(file.data.into_owned()))
    };
    let out = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(file.metadata.mimetype()) {
        out.insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&etag) {
        out.insert(header::ETAG, v);
    }
    out.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    secure_headers(out);
    response
}

/// The headers every UI answer carries.
fn secure_headers(out: &mut HeaderMap) {
    out.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    out.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    out.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    out.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
}

fn not_built() -> Response {
    let mut response = ApiError::new(
        StatusCode::NOT_FOUND,
        "ui_not_built",
        "this binary was built without the web UI: run `npm ci && npm run build` in web/ \
         and build again (./scripts/dg.sh does both); the API is under /api",
    )
    .into_response();
    secure_headers(response.headers_mut());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_paths_are_never_the_ui() {
        for p in ["/api", "/api/", "/api/nope", "/health", "/metrics"] {
            assert!(is_api_path(p), "{p}");
        }
        for p in ["/", "/datasources", "/setup", "/apiary", "/healthz"] {
            assert!(!is_api_path(p), "{p}");
        }
    }
}
