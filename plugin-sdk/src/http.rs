//! A small blocking HTTP client over `wasi:http`.
//!
//! The host lets a request leave only for an origin the plugin's manifest
//! asks for and the operator granted (`[capabilities] http`); anything else
//! fails with [`PluginError::PermissionDenied`]. Authentication with a
//! secret is asked for with [`Request::auth`]: the host applies it, so the
//! secret's value never enters plugin memory. Response bodies can be
//! spliced host-side into a sink ([`Response::pipe_to`]).

use crate::bindings::wasi::http::outgoing_handler;
use crate::bindings::wasi::http::types::{
    ErrorCode, Fields, FutureIncomingResponse, IncomingBody, IncomingResponse, Method,
    OutgoingBody, OutgoingRequest, RequestOptions, Scheme,
};
use crate::{io, InputStream, OutputStream, PluginError, PluginResult};

/// The request header carrying an authentication directive for the host.
pub const AUTH_HEADER: &str = "x-dataguardian-auth";

/// An outgoing request; the body is given to [`Request::send`].
#[derive(Debug, Clone)]
pub struct Request {
    method: Method,
    https: bool,
    authority: String,
    path_and_query: String,
    headers: Vec<(String, Vec<u8>)>,
    timeout_ms: Option<u64>,
}

impl Request {
    /// `url` is `http(s)://authority/path?query`.
    pub fn new(method: &str, url: &str) -> PluginResult<Self> {
        let bad = || PluginError::InvalidConfig(format!("`{url}` is not an http(s) URL"));
        let (https, rest) = if let Some(rest) = url.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = url.strip_prefix("http://") {
            (false, rest)
        } else {
            return Err(bad());
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.is_empty() {
            return Err(bad());
        }
        let method = match method {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "PUT" => Method::Put,
            "OPTIONS" => Method::Options,
            "PATCH" => Method::Patch,
            "POST" => Method::Post,
            "DELETE" => Method::Delete,
            other => Method::Other(other.to_string()),
        };
        Ok(Self {
            method,
            https,
            authority: authority.to_string(),
            path_and_query: path.to_string(),
            headers: Vec::new(),
            timeout_ms: None,
        })
    }

    /// Adds a header; `name` is lowercased, and a name given twice is
    /// sent twice.
    pub fn header(mut self, name: &str, value: impl AsRef<[u8]>) -> Self {
        self.headers
            .push((name.to_ascii_lowercase(), value.as_ref().to_vec()));
        self
    }

    /// Asks the host to authenticate the request, e.g.
    /// `aws-sigv4 secret=secret_access_key access-key-id=… region=… service=s3`
    /// or `bearer secret=token` (docs/PLUGINS.md).
    pub fn auth(self, directive: &str) -> Self {
        self.header(AUTH_HEADER, directive)
    }

    /// Limit for connecting and for the first byte of the response.
    pub fn timeout_ms(mut self, ms: u64) -> Self {
        self.timeout_ms = Some(ms);
        self
    }

    /// Sends the request with `body` (empty for `&[]`) and waits for the
    /// response head.
    pub fn send(&self, body: &[u8]) -> PluginResult<Response> {
        self.start(body)?.finish()
    }

    /// Sends the request with `body` and returns without waiting for the
    /// response, so several requests can be in flight (parts of an
    /// upload). The body has been handed to the host when this returns.
    pub fn start(&self, body: &[u8]) -> PluginResult<InFlight> {
        self.start_with(Body::Bytes(body))
    }

    /// Sends the request with a body read from `source` and spliced
    /// host-side into the connection, without passing through plugin
    /// memory: `length` bytes exactly (sent with `content-length`), or
    /// until `source` ends when `None` (sent chunked). Waits for the
    /// response head.
    pub fn send_stream(&self, source: &InputStream, length: Option<u64>) -> PluginResult<Response> {
        self.start_with(Body::Stream(source, length))?.finish()
    }

    fn start_with(&self, body: Body<'_>) -> PluginResult<InFlight> {
        let fields = Fields::new();
        for (name, value) in &self.headers {
            fields
                .append(name, value)
                .map_err(|e| self.invalid(&format!("header `{name}`: {e:?}")))?;
        }
        // Every request that may carry a body says how long it is, an
        // empty one too: without it the host would send it chunked, which
        // small servers refuse for a DELETE or MOVE.
        let length = match body {
            Body::Bytes(bytes) => Some(bytes.len() as u64),
            Body::Stream(_, length) => length,
        };
        let bodiless = matches!(self.method, Method::Get | Method::Head | Method::Options);
        if let Some(length) = length.filter(|n| *n > 0 || !bodiless) {
            fields
                .set("content-length", &[length.to_string().into_bytes()])
                .map_err(|e| self.invalid(&format!("content-length: {e:?}")))?;
        }
        let request = OutgoingRequest::new(fields);
        let set = |ok: Result<(), ()>, what: &str| {
            ok.map_err(|()| self.invalid(&format!("invalid request {what}")))
        };
        set(request.set_method(&self.method), "method")?;
        set(
            request.set_scheme(Some(if self.https {
                &Scheme::Https
            } else {
                &Scheme::Http
            })),
            "scheme",
        )?;
        set(request.set_authority(Some(&self.authority)), "authority")?;
        set(
            request.set_path_with_query(Some(&self.path_and_query)),
            "path",
        )?;
        let outgoing = request
            .body()
            .map_err(|()| self.invalid("request body taken twice"))?;
        let options = self.timeout_ms.map(|ms| {
            let options = RequestOptions::new();
            let nanos = ms.saturating_mul(1_000_000);
            let _ = options.set_connect_timeout(Some(nanos));
            let _ = options.set_first_byte_timeout(Some(nanos));
            options
        });
        // Hand the request over first: the host sends the body as it is
        // written and buffers little of it.
        let pending = outgoing_handler::handle(request, options).map_err(|e| self.failure(e))?;
        let sent = self.write_body(outgoing, body);
        Ok(InFlight {
            request: self.clone(),
            pending,
            sent,
        })
    }

    fn write_body(&self, outgoing: OutgoingBody, body: Body<'_>) -> PluginResult<()> {
        {
            let stream = outgoing
                .write()
                .map_err(|()| self.invalid("request body stream taken twice"))?;
            match body {
                Body::Bytes(bytes) if !bytes.is_empty() => io::write_all(&stream, bytes)?,
                Body::Bytes(_) => {}
                Body::Stream(source, Some(length)) => {
                    let moved = io::pipe_limited(source, &stream, length)?;
                    if moved != length {
                        return Err(self.invalid(&format!(
                            "the body source ended after {moved} of {length} bytes"
                        )));
                    }
                }
                Body::Stream(source, None) => {
                    io::pipe(source, &stream)?;
                }
            }
            stream
                .blocking_flush()
                .map_err(|e| io::stream_failure("sending the request body", e))?;
        }
        OutgoingBody::finish(outgoing, None).map_err(|e| self.failure(e))
    }

    /// `METHOD scheme://authority/path` (the query left out: it may hold
    /// a signature): what every error of this request names.
    fn target(&self) -> String {
        let path = self
            .path_and_query
            .split('?')
            .next()
            .unwrap_or(&self.path_and_query);
        format!(
            "{} {}://{}{path}",
            self.method_name(),
            if self.https { "https" } else { "http" },
            self.authority
        )
    }

    fn method_name(&self) -> &str {
        match &self.method {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Connect => "CONNECT",
            Method::Options => "OPTIONS",
            Method::Trace => "TRACE",
            Method::Patch => "PATCH",
            Method::Other(name) => name,
        }
    }

    fn invalid(&self, what: &str) -> PluginError {
        PluginError::Failed(format!("{}: {what}", self.target()))
    }

    fn failure(&self, e: ErrorCode) -> PluginError {
        let target = self.target();
        let what = describe(&e);
        match e {
            ErrorCode::HttpRequestDenied => PluginError::PermissionDenied(format!(
                "{target} denied by the sandbox: the manifest and grant do not allow it"
            )),
            ErrorCode::DestinationIpProhibited => {
                PluginError::PermissionDenied(format!("{target}: {what}"))
            }
            ErrorCode::DnsTimeout
            | ErrorCode::DnsError(_)
            | ErrorCode::DestinationNotFound
            | ErrorCode::DestinationUnavailable
            | ErrorCode::DestinationIpUnroutable
            | ErrorCode::ConnectionRefused => PluginError::Unreachable(format!("{target}: {what}")),
            ErrorCode::ConnectionTimeout | ErrorCode::HttpResponseTimeout => {
                PluginError::Timeout(format!("{target}: {what}"))
            }
            ErrorCode::TlsCertificateError | ErrorCode::TlsAlertReceived(_) => {
                PluginError::Unreachable(format!("{target}: {what}"))
            }
            _ => PluginError::Transient(format!("{target}: {what}")),
        }
    }
}

/// What a request sends.
#[derive(Clone, Copy)]
enum Body<'a> {
    Bytes(&'a [u8]),
    Stream(&'a InputStream, Option<u64>),
}

/// A wasi-http error in words, for messages people read.
fn describe(e: &ErrorCode) -> String {
    match e {
        ErrorCode::DnsTimeout => "the name lookup timed out".into(),
        ErrorCode::DnsError(_) => "the name does not resolve".into(),
        ErrorCode::DestinationNotFound => "no such host".into(),
        ErrorCode::DestinationUnavailable => "the host is unavailable".into(),
        ErrorCode::DestinationIpProhibited => {
            "the server's egress policy refuses this address (the operator allows it with \
             --allow-egress)"
                .into()
        }
        ErrorCode::DestinationIpUnroutable => "the address is unroutable".into(),
        ErrorCode::ConnectionRefused => "connection refused".into(),
        ErrorCode::ConnectionTerminated => "the connection was closed".into(),
        ErrorCode::ConnectionTimeout => "connecting timed out".into(),
        ErrorCode::ConnectionReadTimeout | ErrorCode::HttpResponseTimeout => {
            "no answer in time".into()
        }
        ErrorCode::ConnectionWriteTimeout => "sending timed out".into(),
        ErrorCode::ConnectionLimitReached => "too many connections".into(),
        ErrorCode::TlsProtocolError => "TLS handshake failed".into(),
        ErrorCode::TlsCertificateError => {
            "TLS: the server's certificate is not valid for this name or not trusted".into()
        }
        ErrorCode::TlsAlertReceived(_) => "TLS: the server refused the handshake".into(),
        ErrorCode::HttpResponseIncomplete => "the answer ended early".into(),
        ErrorCode::HttpProtocolError => "the answer is not valid HTTP".into(),
        ErrorCode::InternalError(Some(m)) => m.clone(),
        other => format!("HTTP failure ({})", kebab(&format!("{other:?}"))),
    }
}

/// `HttpRequestBodySize(None)` → `http-request-body-size`: the WIT name
/// of an error code, not a Rust type's.
fn kebab(debug: &str) -> String {
    let name = debug.split(['(', ' ', '{']).next().unwrap_or(debug);
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// A request whose response has not been waited for.
pub struct InFlight {
    request: Request,
    pending: FutureIncomingResponse,
    sent: PluginResult<()>,
}

impl InFlight {
    /// Waits for the response head.
    pub fn finish(self) -> PluginResult<Response> {
        self.pending.subscribe().block();
        // A request the host refused fails its body stream too, and a
        // server may answer (and close) before reading a body: whatever the
        // response says comes first. (A server cannot accept a request
        // whose body it did not receive in full: Content-Length is set.)
        match self.pending.get() {
            Some(Ok(Ok(response))) => Response::new(response),
            Some(Ok(Err(e))) => Err(self.request.failure(e)),
            Some(Err(())) | None => {
                self.sent?;
                Err(self.request.invalid("the response was lost"))
            }
        }
    }
}

/// A response whose body has not been read yet.
pub struct Response {
    /// The HTTP status code (`200`, `404`...).
    pub status: u16,
    headers: Vec<(String, Vec<u8>)>,
    // Field order matters: the stream is a child of the body, the body of
    // the response; they are dropped in this order.
    stream: Option<InputStream>,
    body: Option<IncomingBody>,
    _response: IncomingResponse,
}

impl Response {
    fn new(response: IncomingResponse) -> PluginResult<Self> {
        let status = response.status();
        let headers = response.headers().entries();
        let body = response
            .consume()
            .map_err(|()| PluginError::Failed("response body taken twice".into()))?;
        let stream = body
            .stream()
            .map_err(|()| PluginError::Failed("response stream taken twice".into()))?;
        Ok(Self {
            status,
            headers,
            stream: Some(stream),
            body: Some(body),
            _response: response,
        })
    }

    /// The first value of a header, as text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| String::from_utf8(v.clone()).ok())
    }

    /// True for a 2xx status.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// Reads the body into memory, refusing more than `limit` bytes.
    pub fn bytes(&mut self, limit: usize) -> PluginResult<Vec<u8>> {
        let mut out = Vec::new();
        let Some(stream) = &self.stream else {
            return Ok(out);
        };
        loop {
            match stream.blocking_read(64 * 1024) {
                Ok(chunk) => {
                    if out.len() + chunk.len() > limit {
                        return Err(PluginError::Failed(format!(
                            "response body larger than {limit} bytes"
                        )));
                    }
                    out.extend_from_slice(&chunk);
                }
                Err(crate::StreamError::Closed) => break,
                Err(e) => return Err(io::stream_failure("reading the response", e)),
            }
        }
        self.finish();
        Ok(out)
    }

    /// Reads the body as (lossy) UTF-8 text, at most `limit` bytes.
    pub fn text(&mut self, limit: usize) -> PluginResult<String> {
        Ok(String::from_utf8_lossy(&self.bytes(limit)?).into_owned())
    }

    /// Moves the body into `sink` host-side; returns the bytes moved.
    pub fn pipe_to(&mut self, sink: &OutputStream) -> PluginResult<u64> {
        let moved = match &self.stream {
            Some(stream) => io::pipe(stream, sink)?,
            None => 0,
        };
        self.finish();
        Ok(moved)
    }

    fn finish(&mut self) {
        self.stream = None;
        if let Some(body) = self.body.take() {
            drop(IncomingBody::finish(body));
        }
    }
}
