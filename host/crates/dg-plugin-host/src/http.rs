//! The outgoing-HTTP gate of a plugin call. `wasi:http` requests do not go
//! through the socket address check, so this hook is the only place where
//! they are allowed or denied: a request leaves only for an origin the
//! plugin's manifest asks for and the operator granted, filled from the
//! call's configuration.
//!
//! It is also where secrets meet the network without entering plugin
//! memory. A plugin names the authentication it wants in the
//! `x-dataguardian-auth` header; the gate removes that header and applies
//! the authentication with the secret's value, for a granted origin only:
//!
//! - `aws-sigv4 secret=NAME access-key-id=ID region=R service=S`: signs the
//!   request (AWS Signature Version 4) with the named secret. The payload
//!   hash is the request's `x-amz-content-sha256` header if the plugin set
//!   it; otherwise the host hashes the body (up to 64 MiB, buffered) or
//!   sends it as `UNSIGNED-PAYLOAD`.
//! - `bearer secret=NAME`: sets `Authorization: Bearer <value>`.
//! - `hmac-sha256 secret=NAME header=H [prefix=P]`: sets the header `H` to
//!   `P` + the lowercase hex HMAC-SHA256 of the exact body bytes, keyed
//!   with the secret (webhook signatures). Bodies are buffered to be
//!   signed, so they are capped at 1 MiB.

use crate::auth_directive::AuthDirective;
use crate::call::CallShared;
use crate::egress::EgressPolicy;
use crate::http_send::{send_checked, SendFailure};
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode,
};
use hmac::{Hmac, Mac};
use http::header::{HeaderName, HeaderValue, AUTHORIZATION};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

/// The header a plugin uses to ask for host-side authentication.
pub const AUTH_HEADER: &str = "x-dataguardian-auth";
const CONTENT_SHA256: &str = "x-amz-content-sha256";

/// Scheme, host and port a plugin may send requests to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub scheme: String,
    pub host: String,
    pub port: u16,
}

impl Origin {
    /// The origin of an absolute `http`/`https` URL; `None` for anything else.
    pub fn of_url(text: &str) -> Option<Self> {
        let url = url::Url::parse(text).ok()?;
        if !matches!(url.scheme(), "http" | "https") {
            return None;
        }
        Some(Self {
            scheme: url.scheme().to_string(),
            host: url
                .host_str()?
                .trim_matches(['[', ']'])
                .to_ascii_lowercase(),
            port: url.port_or_known_default()?,
        })
    }

    fn of_uri(uri: &http::Uri) -> Option<Self> {
        let scheme = uri.scheme_str()?.to_string();
        let host = uri.host()?.trim_matches(['[', ']']).to_ascii_lowercase();
        let port = uri.port_u16().or(match scheme.as_str() {
            "http" => Some(80),
            "https" => Some(443),
            _ => None,
        })?;
        Some(Self { scheme, host, port })
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
    }
}

/// An origin a call may send to, with the host-side authentications
/// (`SCHEME:SECRET`) it may ask for there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantedOrigin {
    pub origin: Origin,
    pub auth: Vec<String>,
}

/// The hooks of one call: its granted origins and its secrets.
pub struct HttpGate {
    pub origins: Vec<GrantedOrigin>,
    pub secrets: Arc<HashMap<String, String>>,
    pub call: Arc<CallShared>,
    /// Bodies the host may hold at once for hashing: a plugin cannot make
    /// the host buffer more than this many times [`MAX_HASHED_BODY`].
    pub hashing: Arc<tokio::sync::Semaphore>,
    /// Where requests may be sent.
    pub egress: Arc<EgressPolicy>,
}

/// Bodies one call may have buffered for hashing at once.
pub const HASHED_BODIES_PER_CALL: usize = 4;

impl HttpGate {
    pub fn new(
        origins: Vec<GrantedOrigin>,
        secrets: Arc<HashMap<String, String>>,
        call: Arc<CallShared>,
        egress: Arc<EgressPolicy>,
    ) -> Self {
        Self {
            origins,
            secrets,
            call,
            hashing: Arc::new(tokio::sync::Semaphore::new(HASHED_BODIES_PER_CALL)),
            egress,
        }
    }
}

type Sent = Box<
    dyn std::future::Future<
            Output = Result<
                (
                    http::Response<WasiBody>,
                    Box<dyn std::future::Future<Output = Result<(), HttpError>> + Send>,
                ),
                HttpError,
            >,
        > + Send,
>;

impl WasiHttpHooks for HttpGate {
    fn send_request(
        &mut self,
        mut request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn std::future::Future<Output = Result<(), HttpError>> + Send>,
    ) -> Sent {
        drop(fut);
        let admitted = self.admit(&mut request);
        let secrets = self.secrets.clone();
        let call = self.call.clone();
        let hashing = self.hashing.clone();
        let egress = self.egress.clone();
        Box::new(async move {
            // Held until the response head arrives, when the body is sent.
            let mut _permit = None;
            if let Some(directive) = admitted? {
                let deny = |e: String| {
                    call.deny(format!("{AUTH_HEADER}: {e}"));
                    HttpError::HttpRequestDenied
                };
                if directive.reads_body() {
                    _permit = Some(
                        hashing
                            .acquire_owned()
                            .await
                            .map_err(|e| HttpError::InternalError(Some(e.to_string())))?,
                    );
                }
                request = match &directive {
                    AuthDirective::HmacSha256 {
                        secret,
                        header,
                        prefix,
                    } => with_hmac_signature(request, secret, header, prefix, &secrets)
                        .await
                        .map_err(|refusal| match refusal {
                            Refusal::Denied(why) => deny(why),
                            Refusal::Body(e) => e,
                        })?,
                    AuthDirective::AwsSigv4 { .. } => {
                        let mut hashed = with_payload_hash(request).await?;
                        authenticate(&mut hashed, &directive, &secrets).map_err(deny)?;
                        hashed
                    }
                    AuthDirective::Bearer { .. } => {
                        authenticate(&mut request, &directive, &secrets).map_err(deny)?;
                        request
                    }
                };
            }
            match send_checked(&egress, request, options).await {
                Ok(sent) => Ok(sent),
                Err(SendFailure::Http(e)) => Err(e),
                Err(SendFailure::Refused(why)) => {
                    call.deny(why);
                    Err(HttpError::DestinationIpProhibited)
                }
            }
        })
    }
}

impl HttpGate {
    /// Checks the destination and takes the asked authentication off the
    /// request; a denial is recorded on the call so its error names it.
    fn admit(
        &self,
        request: &mut http::Request<WasiBody>,
    ) -> Result<Option<AuthDirective>, HttpError> {
        let deny = |reason: String| {
            self.call.deny(reason);
            HttpError::HttpRequestDenied
        };
        let origin = Origin::of_uri(request.uri())
            .ok_or_else(|| deny(format!("HTTP request to `{}`", request.uri())))?;
        let Some(granted) = self.origins.iter().find(|g| g.origin == origin) else {
            return Err(deny(format!("HTTP request to {origin} is not granted")));
        };
        let Some(directive) = request.headers_mut().remove(AUTH_HEADER) else {
            return Ok(None);
        };
        let text = directive
            .to_str()
            .map_err(|_| deny(format!("{AUTH_HEADER} is not text")))?;
        // Parsed once: the value checked here is the value that signs.
        let directive =
            AuthDirective::parse(text).map_err(|why| deny(format!("{AUTH_HEADER}: {why}")))?;
        // Which secret may be used how, and where, is the manifest's
        // (and the operator's) decision: a bearer token built from an
        // S3 secret key would put the key itself on the wire.
        let asked = directive.grant_name();
        if !granted.auth.contains(&asked) {
            return Err(deny(format!(
                "{AUTH_HEADER} `{asked}` is not granted for {origin}"
            )));
        }
        Ok(Some(directive))
    }
}

/// Largest body the host buffers to hash it for a SigV4 signature.
const MAX_HASHED_BODY: u64 = 64 << 20;

/// Sets `x-amz-content-sha256` when the plugin left it out: the host
/// hashes the body natively (several times faster than in the plugin),
/// buffering at most [`MAX_HASHED_BODY`]; a larger or unsized body is sent
/// as `UNSIGNED-PAYLOAD`.
async fn with_payload_hash(
    request: http::Request<WasiBody>,
) -> Result<http::Request<WasiBody>, HttpError> {
    use http_body_util::BodyExt;
    if request.headers().contains_key(CONTENT_SHA256) {
        return Ok(request);
    }
    let length = request
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let (mut parts, mut body) = request.into_parts();
    let (hash, body) = match length {
        Some(n) if n <= MAX_HASHED_BODY => {
            // Hashed frame by frame as the plugin writes them (about 1 MiB
            // each) and kept as they are: no contiguous copy.
            let mut hasher = Sha256::new();
            let mut frames = Vec::new();
            while let Some(frame) = body.frame().await {
                if let Ok(data) = frame?.into_data() {
                    hasher.update(&data);
                    frames.push(Ok::<_, HttpError>(http_body::Frame::data(data)));
                }
            }
            let replay =
                http_body_util::StreamBody::new(futures::stream::iter(frames)).boxed_unsync();
            (hex::encode(hasher.finalize()), replay)
        }
        _ => ("UNSIGNED-PAYLOAD".to_string(), body),
    };
    let value =
        HeaderValue::from_str(&hash).map_err(|e| HttpError::InternalError(Some(e.to_string())))?;
    parts.headers.insert(CONTENT_SHA256, value);
    Ok(http::Request::from_parts(parts, body))
}

/// Largest body the host buffers to sign it with HMAC: notification
/// payloads are a few KiB.
pub const MAX_HMAC_BODY: u64 = 1 << 20;

/// Headers an HMAC signature may not be written into: they frame the
/// request or route it.
const FRAMING_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "content-type",
    "transfer-encoding",
    "connection",
    AUTH_HEADER,
];

/// Why a body was not signed.
enum Refusal {
    /// The directive or the body breaks a rule; recorded on the call.
    Denied(String),
    /// The plugin's body stream failed.
    Body(HttpError),
}

/// HMAC-SHA256 of `parts` (the body, frame by frame) keyed with `key`,
/// lowercase hex.
fn hmac_sha256_hex<'a>(key: &[u8], parts: impl IntoIterator<Item = &'a [u8]>) -> String {
    // HMAC takes keys of any length; this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC accepts any key length");
    for part in parts {
        mac.update(part);
    }
    hex::encode(mac.finalize().into_bytes())
}

/// Applies `hmac-sha256 secret=NAME header=H [prefix=P]`: buffers the body
/// (at most [`MAX_HMAC_BODY`]), signs its exact bytes with the secret and
/// sets `H: P<hex>`, then replays the body as it came.
async fn with_hmac_signature(
    request: http::Request<WasiBody>,
    secret_name: &str,
    header: &HeaderName,
    prefix: &str,
    secrets: &HashMap<String, String>,
) -> Result<http::Request<WasiBody>, Refusal> {
    use http_body_util::BodyExt;
    let key = secrets
        .get(secret_name)
        .ok_or_else(|| Refusal::Denied(format!("no secret named `{secret_name}` in this call")))?;
    if FRAMING_HEADERS.contains(&header.as_str()) {
        return Err(Refusal::Denied(format!(
            "a signature may not be written into `{header}`"
        )));
    }
    let too_large = |n: u64| {
        Refusal::Denied(format!(
            "`hmac-sha256` signs bodies of at most {} KiB; this one has {n} bytes or more",
            MAX_HMAC_BODY >> 10
        ))
    };
    let declared = request
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(n) = declared.filter(|n| *n > MAX_HMAC_BODY) {
        return Err(too_large(n));
    }
    let (mut parts, mut body) = request.into_parts();
    let mut frames = Vec::new();
    let mut total = 0u64;
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.map_err(Refusal::Body)?.into_data() {
            total += data.len() as u64;
            if total > MAX_HMAC_BODY {
                return Err(too_large(total));
            }
            frames.push(data);
        }
    }
    let signature = hmac_sha256_hex(key.as_bytes(), frames.iter().map(|f| f.as_ref()));
    let value = HeaderValue::from_str(&format!("{prefix}{signature}"))
        .map_err(|_| Refusal::Denied(format!("prefix `{prefix}` is not a header value")))?;
    parts.headers.insert(header.clone(), value);
    let replay = http_body_util::StreamBody::new(futures::stream::iter(
        frames
            .into_iter()
            .map(|data| Ok::<_, HttpError>(http_body::Frame::data(data))),
    ))
    .boxed_unsync();
    Ok(http::Request::from_parts(parts, replay))
}

/// Applies a header-only directive (`aws-sigv4` once the body is hashed,
/// `bearer`) to `request`.
fn authenticate(
    request: &mut http::Request<WasiBody>,
    directive: &AuthDirective,
    secrets: &HashMap<String, String>,
) -> Result<(), String> {
    let value = secrets
        .get(directive.secret())
        .ok_or_else(|| format!("no secret named `{}` in this call", directive.secret()))?;
    match directive {
        AuthDirective::AwsSigv4 {
            access_key_id,
            region,
            service,
            ..
        } => sign_sigv4(request, access_key_id, value, region, service),
        AuthDirective::Bearer { .. } => {
            let header = HeaderValue::from_str(&format!("Bearer {value}"))
                .map_err(|_| "the secret is not a valid header value".to_string())?;
            request.headers_mut().insert(AUTHORIZATION, header);
            Ok(())
        }
        AuthDirective::HmacSha256 { .. } => {
            Err("`hmac-sha256` signs the body; it is applied with it".into())
        }
    }
}

fn sign_sigv4(
    request: &mut http::Request<WasiBody>,
    access_key_id: &str,
    secret: &str,
    region: &str,
    service: &str,
) -> Result<(), String> {
    let identity =
        aws_credential_types::Credentials::new(access_key_id, secret, None, None, "dataguardian")
            .into();
    let mut settings = SigningSettings::default();
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(SystemTime::now())
        .settings(settings)
        .build()
        .map_err(|e| e.to_string())?
        .into();
    let body = match request.headers().get(CONTENT_SHA256) {
        Some(hash) => SignableBody::Precomputed(
            hash.to_str()
                .map_err(|_| format!("{CONTENT_SHA256} is not text"))?
                .to_string(),
        ),
        None => SignableBody::UnsignedPayload,
    };
    let headers: Vec<(&str, &str)> = request
        .headers()
        .iter()
        .filter(|(name, _)| *name != CONTENT_SHA256)
        .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)))
        .collect();
    let uri = request.uri().to_string();
    let signable = SignableRequest::new(request.method().as_str(), uri, headers.into_iter(), body)
        .map_err(|e| e.to_string())?;
    let (instructions, _) = sign(signable, &params)
        .map_err(|e| e.to_string())?
        .into_parts();
    let (headers, _) = instructions.into_parts();
    for header in headers {
        let name = HeaderName::from_bytes(header.name().as_bytes()).map_err(|e| e.to_string())?;
        let value = HeaderValue::from_str(header.value()).map_err(|e| e.to_string())?;
        request.headers_mut().insert(name, value);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    fn request(uri: &str, auth: &str) -> http::Request<WasiBody> {
        let body = http_body_util::Empty::new()
            .map_err(|_| HttpError::HttpRequestDenied)
            .boxed_unsync();
        http::Request::builder()
            .method("GET")
            .uri(uri)
            .header("host", "127.0.0.1:9000")
            .header(AUTH_HEADER, auth)
            .body(body)
            .expect("request")
    }

    fn secrets() -> HashMap<String, String> {
        HashMap::from([("secret_access_key".to_string(), "s3cr3t-value".to_string())])
    }

    #[test]
    fn origins_compare_scheme_host_and_port() {
        let a = Origin::of_url("http://LOCALHOST:9000/bucket").expect("url");
        assert_eq!(a.to_string(), "http://localhost:9000");
        assert_eq!(
            Origin::of_url("https://s3.eu-west-1.amazonaws.com").map(|o| o.port),
            Some(443)
        );
        assert!(Origin::of_url("ftp://x").is_none());
        let uri: http::Uri = "http://localhost:9000/x".parse().expect("uri");
        assert_eq!(Origin::of_uri(&uri), Some(a));
    }

    #[test]
    fn sigv4_signs_without_exposing_the_secret() {
        let mut req = request(
            "http://127.0.0.1:9000/bucket/key",
            "aws-sigv4 secret=secret_access_key access-key-id=AKID region=us-east-1 service=s3",
        );
        authenticate(
            &mut req,
            &parsed(
                "aws-sigv4 secret=secret_access_key access-key-id=AKID region=us-east-1 service=s3",
            ),
            &secrets(),
        )
        .expect("signed");
        let auth = req.headers()[AUTHORIZATION].to_str().expect("text");
        assert!(
            auth.starts_with("AWS4-HMAC-SHA256 Credential=AKID/"),
            "{auth}"
        );
        assert!(!auth.contains("s3cr3t"), "{auth}");
        assert!(req.headers().contains_key("x-amz-date"));
    }

    fn parsed(text: &str) -> AuthDirective {
        AuthDirective::parse(text).expect("a valid directive")
    }

    /// Signs with an `hmac-sha256` directive given as text.
    async fn hmac(
        req: http::Request<WasiBody>,
        directive: &str,
        secrets: &HashMap<String, String>,
    ) -> Result<http::Request<WasiBody>, Refusal> {
        match AuthDirective::parse(directive) {
            Ok(AuthDirective::HmacSha256 {
                secret,
                header,
                prefix,
            }) => with_hmac_signature(req, &secret, &header, &prefix, secrets).await,
            Ok(other) => Err(Refusal::Denied(format!("not hmac: {other:?}"))),
            Err(why) => Err(Refusal::Denied(why)),
        }
    }

    fn body_request(uri: &str, body: &'static [u8]) -> http::Request<WasiBody> {
        let body = http_body_util::Full::new(bytes::Bytes::from_static(body))
            .map_err(|_| HttpError::HttpRequestDenied)
            .boxed_unsync();
        http::Request::builder()
            .method("POST")
            .uri(uri)
            .header(http::header::CONTENT_LENGTH, "0")
            .body(body)
            .expect("request")
    }

    #[test]
    fn hmac_matches_the_rfc_4231_vector() {
        // RFC 4231, test case 2.
        let parts: [&[u8]; 2] = [b"what do ya want ", b"for nothing?"];
        assert_eq!(
            hmac_sha256_hex(b"Jefe", parts),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[tokio::test]
    async fn hmac_signs_the_exact_body_host_side() {
        let secrets = HashMap::from([("secret".to_string(), "Jefe".to_string())]);
        let mut req = body_request(
            "http://127.0.0.1:9000/hook",
            b"what do ya want for nothing?",
        );
        req.headers_mut()
            .insert(http::header::CONTENT_LENGTH, HeaderValue::from_static("28"));
        let directive = "hmac-sha256 secret=secret header=X-DataGuardian-Signature prefix=sha256=";
        let Ok(signed) = hmac(req, directive, &secrets).await else {
            panic!("signed");
        };
        assert_eq!(
            signed.headers()["x-dataguardian-signature"],
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let body = signed.into_body().collect().await.expect("body").to_bytes();
        assert_eq!(
            &body[..],
            b"what do ya want for nothing?",
            "the body is replayed as is"
        );

        let refused = |r: Result<http::Request<WasiBody>, Refusal>| match r {
            Err(Refusal::Denied(why)) => why,
            _ => panic!("expected a refusal"),
        };
        let req = body_request("http://127.0.0.1:9000/hook", b"x");
        let why = refused(hmac(req, "hmac-sha256 secret=other header=x-sig", &secrets).await);
        assert!(why.contains("no secret named `other`"), "{why}");
        let req = body_request("http://127.0.0.1:9000/hook", b"x");
        let why = refused(hmac(req, "hmac-sha256 secret=secret header=Host", &secrets).await);
        assert!(why.contains("`host`"), "{why}");
        let req = body_request("http://127.0.0.1:9000/hook", b"x");
        let why = refused(hmac(req, "hmac-sha256 secret=secret", &secrets).await);
        assert!(why.contains("header="), "{why}");
    }

    #[tokio::test]
    async fn hmac_refuses_bodies_over_the_cap() {
        let big: &'static [u8] = Vec::leak(vec![b'a'; MAX_HMAC_BODY as usize + 1]);
        let secrets = HashMap::from([("secret".to_string(), "k".to_string())]);
        let directive = "hmac-sha256 secret=secret header=x-sig";
        // Whether the length is declared or not.
        let req = body_request("http://127.0.0.1:9000/hook", big);
        match hmac(req, directive, &secrets).await {
            Err(Refusal::Denied(why)) => assert!(why.contains("at most 1024 KiB"), "{why}"),
            _ => panic!("a body over the cap is refused"),
        }
        let mut req = body_request("http://127.0.0.1:9000/hook", b"");
        req.headers_mut().insert(
            http::header::CONTENT_LENGTH,
            HeaderValue::from_static("2000000"),
        );
        assert!(matches!(
            hmac(req, directive, &secrets).await,
            Err(Refusal::Denied(_))
        ));
    }

    fn gate(auth: &[&str]) -> HttpGate {
        let call = Arc::new(CallShared::new(
            "webhook",
            "send",
            crate::call::tracing_sink(),
            Arc::default(),
        ));
        HttpGate::new(
            vec![GrantedOrigin {
                origin: Origin::of_url("http://127.0.0.1:9000").expect("origin"),
                auth: auth.iter().map(|s| s.to_string()).collect(),
            }],
            Arc::new(HashMap::new()),
            call,
            Arc::new(EgressPolicy::unrestricted()),
        )
    }

    #[test]
    fn an_hmac_directive_needs_its_grant() {
        let directive = "hmac-sha256 secret=secret header=x-sig prefix=sha256=";
        let granted = gate(&["hmac-sha256:secret"]);
        let mut req = body_request("http://127.0.0.1:9000/hook", b"{}");
        req.headers_mut()
            .insert(AUTH_HEADER, HeaderValue::from_static(directive));
        let admitted = granted.admit(&mut req).map_err(|e| format!("{e:?}"));
        assert_eq!(admitted, Ok(Some(parsed(directive))));
        assert!(
            !req.headers().contains_key(AUTH_HEADER),
            "taken off the request"
        );

        // Granted as another scheme, for another secret, or on another origin: refused.
        for (auth, directive, uri) in [
            (
                &["bearer:secret"][..],
                directive,
                "http://127.0.0.1:9000/hook",
            ),
            (
                &["hmac-sha256:token"][..],
                directive,
                "http://127.0.0.1:9000/hook",
            ),
            (
                &["hmac-sha256:secret"][..],
                directive,
                "http://127.0.0.1:9001/hook",
            ),
        ] {
            let gate = gate(auth);
            let mut req = body_request(uri, b"{}");
            req.headers_mut().insert(
                AUTH_HEADER,
                HeaderValue::from_str(directive).expect("value"),
            );
            assert!(gate.admit(&mut req).is_err(), "{auth:?} {uri}");
            let denials = gate.call.denials();
            assert_eq!(denials.len(), 1, "{denials:?}");
            assert!(
                denials[0].contains("not granted"),
                "the denial names why: {denials:?}"
            );
        }
    }

    #[test]
    fn directives_name_what_is_wrong() {
        let mut req = request("http://127.0.0.1:9000/", "");
        let missing =
            authenticate(&mut req, &parsed("bearer secret=token"), &secrets()).unwrap_err();
        assert!(missing.contains("no secret named `token`"), "{missing}");
    }

    /// `bearer secret=token secret=password` once passed a `bearer:token`
    /// grant (the check read the first `secret=`) and sent the password
    /// (the signing read the last). One parse refuses it.
    #[test]
    fn a_directive_naming_two_secrets_is_refused() {
        let gate = gate(&["bearer:token"]);
        for directive in [
            "bearer secret=token secret=password",
            "bearer secret=password secret=token",
            "bearer secret=token extra=password",
        ] {
            let mut req = body_request("http://127.0.0.1:9000/hook", b"{}");
            req.headers_mut().insert(
                AUTH_HEADER,
                HeaderValue::from_str(directive).expect("value"),
            );
            assert!(gate.admit(&mut req).is_err(), "{directive}");
        }
        let denials = gate.call.denials();
        assert!(denials[0].contains("given twice"), "{denials:?}");
    }
}
