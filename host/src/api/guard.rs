//! Request origin checks, applied to every route before any handler runs.
//!
//! Binding to 127.0.0.1 does not keep a web page out: a browser on the same
//! machine sends whatever a page asks for. Three checks close that door
//! without getting in the way of curl, the CLI or scripts:
//! - a body on a write must be declared `application/json` (HTML forms and
//!   `text/plain` "simple requests" need no CORS preflight),
//! - the `Host` must be one this server answers to (DNS rebinding points
//!   an attacker's name at 127.0.0.1 and reads the answers),
//! - a write whose `Origin` or `Sec-Fetch-Site` says it came from another
//!   site is refused. Requests without those headers are not browsers'.

use super::error::ApiError;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

pub use dg_app::origin::OriginPolicy;
pub use dg_core::text::shorten;

/// The HTTP side of [`OriginPolicy`] (which lives in dg-app, beside the
/// server configuration that holds it; the verdicts are API errors).
pub trait OriginCheck {
    /// The verdict on one request, before its body is read.
    fn check(&self, method: &Method, headers: &HeaderMap) -> Result<(), ApiError>;
}

impl OriginCheck for OriginPolicy {
    fn check(&self, method: &Method, headers: &HeaderMap) -> Result<(), ApiError> {
        let host = headers
            .get(header::HOST)
            .map(|h| h.to_str().unwrap_or("\u{fffd}"));
        let Some(host) = host else {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "host_required",
                "the Host header is required",
            ));
        };
        {
            if !self.serves_host(host_name(host)) {
                return Err(ApiError::new(
                    StatusCode::MISDIRECTED_REQUEST,
                    "host_not_allowed",
                    format!(
                        "this server does not answer to host `{}`; add it with --allowed-hosts \
                         (DG_ALLOWED_HOSTS) or --public-url",
                        shorten(host)
                    ),
                ));
            }
        }
        if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
            return Ok(());
        }
        check_cross_site(self, headers, Some(host))?;
        check_json_body(headers)
    }
}

fn check_cross_site(
    policy: &OriginPolicy,
    headers: &HeaderMap,
    host: Option<&str>,
) -> Result<(), ApiError> {
    let refused = |why: String| {
        Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "cross_origin_refused",
                format!("{why}; the API accepts writes only from its own pages and from clients that are not browsers"),
            ))
    };
    if let Some(site) = headers.get("sec-fetch-site") {
        let site = site.to_str().unwrap_or("");
        if !matches!(site, "same-origin" | "none") {
            return refused(format!(
                "request sent from another site (Sec-Fetch-Site: {})",
                shorten(site)
            ));
        }
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let origin = origin.to_str().unwrap_or("\u{fffd}");
    let same_host = host
        .is_some_and(|h| same_origin_as_served(origin).is_some_and(|a| a.eq_ignore_ascii_case(h)));
    let public = policy
        .public_origin
        .as_deref()
        .is_some_and(|p| p.eq_ignore_ascii_case(origin.trim_end_matches('/')));
    if same_host || public {
        Ok(())
    } else {
        refused(format!("request from origin `{}`", shorten(origin)))
    }
}

/// A body on a write must be JSON: 415 otherwise.
fn check_json_body(headers: &HeaderMap) -> Result<(), ApiError> {
    let length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let has_body = length.is_some_and(|n| n > 0) || headers.contains_key(header::TRANSFER_ENCODING);
    if !has_body {
        return Ok(());
    }
    let kind = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = kind
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
    {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        if kind.is_empty() {
            "a request body must be sent with Content-Type: application/json".to_string()
        } else {
            format!(
                "a request body must be sent with Content-Type: application/json, not `{}`",
                shorten(kind)
            )
        },
    ))
}

/// `host[:port]` → `host` (`[::1]:8080` → `[::1]`).
fn host_name(host: &str) -> &str {
    if host.starts_with('[') {
        return host.split_inclusive(']').next().unwrap_or(host);
    }
    host.rsplit_once(':')
        .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
        .map_or(host, |(name, _)| name)
}

/// `http://host:port` → `host:port` (as a browser would send `Host`),
/// for origins with the scheme this server speaks: plain HTTP. A page
/// from `https://host:port` is another origin than the server at
/// `http://host:port` (another program may serve TLS on that port); a
/// TLS proxy in front of the server is accepted through `--public-url`.
/// Schemes are case-insensitive (RFC 3986 §3.1).
fn same_origin_as_served(origin: &str) -> Option<&str> {
    let (scheme, rest) = origin.split_once("://")?;
    scheme
        .eq_ignore_ascii_case(SERVED_SCHEME)
        .then_some(rest.trim_end_matches('/'))
}

/// The scheme of the server's own listener: it serves no TLS itself.
const SERVED_SCHEME: &str = "http";

/// The middleware: refuses before routing, so nothing runs for a refused
/// request.
pub async fn guard(
    State(policy): State<Arc<OriginPolicy>>,
    request: Request,
    next: Next,
) -> Response {
    match policy.check(request.method(), request.headers()) {
        Ok(()) => next.run(request).await,
        Err(e) => {
            tracing::warn!(
                method = %request.method(),
                uri = %shorten(&request.uri().to_string()),
                "refused: {}",
                e.message
            );
            e.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).expect("header"));
        }
        h
    }

    #[test]
    fn hosts_served() {
        let p = OriginPolicy::new(&["backup.example.com".into(), "*.corp.lan".into()], None)
            .expect("policy");
        for ok in [
            "localhost",
            "localhost:8080",
            "127.0.0.1:8080",
            "[::1]:8080",
            "10.0.0.7",
            "backup.example.com",
            "BACKUP.example.com.:443",
            "a.corp.lan",
        ] {
            assert!(p.serves_host(host_name(ok)), "{ok}");
        }
        for bad in [
            "evil.example",
            "corp.lan.evil.example",
            "xcorp.lan",
            "127.0.0.1.nip.io",
        ] {
            assert!(!p.serves_host(host_name(bad)), "{bad}");
        }
    }

    #[test]
    fn writes_from_other_sites_are_refused() {
        let p = OriginPolicy::default();
        let post = Method::POST;
        let ok = headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://127.0.0.1:8080"),
        ]);
        assert!(p.check(&post, &ok).is_ok());
        let foreign = headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://evil.example"),
        ]);
        assert_eq!(
            p.check(&post, &foreign).unwrap_err().status,
            StatusCode::FORBIDDEN
        );
        let other_port = headers(&[
            ("host", "localhost:8080"),
            ("origin", "http://localhost:3000"),
        ]);
        assert!(p.check(&post, &other_port).is_err());
        let null = headers(&[("host", "localhost:8080"), ("origin", "null")]);
        assert!(p.check(&post, &null).is_err());
        let fetch = headers(&[("host", "localhost:8080"), ("sec-fetch-site", "same-site")]);
        assert!(p.check(&post, &fetch).is_err());
        // Reads are not refused for their origin: without CORS headers
        // the browser keeps the answer from the page.
        assert!(p.check(&Method::GET, &foreign).is_ok());
        let curl = headers(&[("host", "localhost:8080")]);
        assert!(p.check(&post, &curl).is_ok());
    }

    #[test]
    fn origins_are_compared_with_their_scheme_and_without_case() {
        let p = OriginPolicy::default();
        let post = Method::POST;
        for (host, origin, ok) in [
            ("127.0.0.1:8080", "http://127.0.0.1:8080", true),
            // The server speaks http: a page served over https on the
            // same host and port is another origin.
            ("127.0.0.1:8080", "https://127.0.0.1:8080", false),
            ("localhost:8443", "https://localhost:8443", false),
            ("localhost:8080", "ws://localhost:8080", false),
            // Host names and schemes are case-insensitive.
            ("LOCALHOST:8080", "http://localhost:8080", true),
            ("localhost:8080", "HTTP://LocalHost:8080", true),
            ("localhost:8080", "HTTPS://LocalHost:8080", false),
        ] {
            let h = headers(&[("host", host), ("origin", origin)]);
            assert_eq!(p.check(&post, &h).is_ok(), ok, "{host} {origin}");
        }
        // Behind a TLS proxy, the https origin is the public URL's.
        let proxied = OriginPolicy::new(&[], Some("https://Backups.example.com")).expect("policy");
        for (origin, ok) in [
            ("https://backups.example.com", true),
            ("https://BACKUPS.example.com", true),
            ("https://backups.example.com:8443", false),
        ] {
            let h = headers(&[("host", "backups.example.com"), ("origin", origin)]);
            assert_eq!(proxied.check(&post, &h).is_ok(), ok, "{origin}");
        }
    }

    #[test]
    fn public_url_is_an_accepted_origin() {
        let p = OriginPolicy::new(&[], Some("https://backups.example.com/")).expect("policy");
        let proxied = headers(&[
            ("host", "backups.example.com"),
            ("origin", "https://backups.example.com"),
        ]);
        assert!(p.check(&Method::POST, &proxied).is_ok());
        assert!(OriginPolicy::new(&["http://x".into()], None).is_err());
        assert!(OriginPolicy::new(&[], Some("ftp://x")).is_err());
    }

    #[test]
    fn bodies_must_be_json() {
        let p = OriginPolicy::default();
        let text = headers(&[
            ("host", "localhost"),
            ("content-type", "text/plain"),
            ("content-length", "12"),
        ]);
        assert_eq!(
            p.check(&Method::POST, &text).unwrap_err().status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
        let none = headers(&[("host", "localhost"), ("content-length", "2")]);
        assert!(p.check(&Method::PUT, &none).is_err());
        let json = headers(&[
            ("host", "localhost"),
            ("content-type", "application/json; charset=utf-8"),
            ("content-length", "2"),
        ]);
        assert!(p.check(&Method::POST, &json).is_ok());
        let empty_form = headers(&[
            ("host", "localhost"),
            ("content-type", "application/x-www-form-urlencoded"),
            ("content-length", "0"),
        ]);
        assert!(p.check(&Method::POST, &empty_form).is_ok());
    }

    #[test]
    fn quoted_values_are_short() {
        let long = "x".repeat(100_000);
        assert!(shorten(&long).chars().count() <= 65);
        assert_eq!(shorten("a\u{0}b"), "a\u{fffd}b");
    }
}
