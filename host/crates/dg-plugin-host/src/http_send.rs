//! Sending a plugin's admitted HTTP request to an address the egress
//! policy checked.
//!
//! wasmtime's default sender connects by name, so the policy could only
//! look at the name's addresses before a second, independent lookup. Here
//! the host resolves once, checks every address, connects to a checked
//! one, and still verifies TLS against the name in the URL (the `Host`
//! header is set by wasi-http from the same authority).

use crate::egress::EgressPolicy;
use bytes::Bytes;
use http::uri::Scheme;
use http_body_util::BodyExt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody};

/// Used when the plugin sets no timeout of its own.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// The response, and the future that drives the connection to its end.
pub type Sent = (
    http::Response<WasiBody>,
    Box<dyn std::future::Future<Output = Result<(), HttpError>> + Send>,
);

/// Why a request was not sent: a policy refusal (recorded on the call so
/// the error names it) or an HTTP error.
pub enum SendFailure {
    Refused(String),
    Http(HttpError),
}

impl From<HttpError> for SendFailure {
    fn from(e: HttpError) -> Self {
        Self::Http(e)
    }
}

/// Sends `request` over HTTP/1.1 to a checked address of its authority.
pub async fn send_checked(
    egress: &EgressPolicy,
    mut request: http::Request<WasiBody>,
    options: Option<RequestOptions>,
) -> Result<Sent, SendFailure> {
    let uri = request.uri().clone();
    let host = uri.host().ok_or(HttpError::HttpRequestUriInvalid)?;
    let tls = uri.scheme() == Some(&Scheme::HTTPS);
    let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
    let timeout = |pick: fn(&RequestOptions) -> Option<Duration>| {
        options.as_ref().and_then(pick).unwrap_or(DEFAULT_TIMEOUT)
    };
    let connect_timeout = timeout(|o| o.connect_timeout);
    let first_byte_timeout = timeout(|o| o.first_byte_timeout);
    let between_bytes_timeout = timeout(|o| o.between_bytes_timeout).max(Duration::from_millis(1));

    let addrs = egress
        .resolve(host, port)
        .await
        .map_err(|refusal| SendFailure::Refused(refusal.0))?;
    let mut stream = None;
    let mut last_error = None;
    for addr in addrs {
        match tokio::time::timeout(connect_timeout, tokio::net::TcpStream::connect(addr)).await {
            Ok(Ok(s)) => {
                stream = Some(s);
                break;
            }
            Ok(Err(e)) => last_error = Some(HttpError::Connect(e)),
            Err(_) => last_error = Some(HttpError::ConnectionTimeout),
        }
    }
    let Some(stream) = stream else {
        return Err(last_error
            .unwrap_or(HttpError::DestinationUnavailable)
            .into());
    };
    let io: Box<dyn Stream> = if tls {
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.into(),
        };
        let config = rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let bare = host.trim_matches(['[', ']']);
        let name = match bare.parse::<std::net::IpAddr>() {
            Ok(ip) => rustls::pki_types::ServerName::from(ip),
            Err(_) => rustls::pki_types::ServerName::try_from(bare.to_string())
                .map_err(|_| HttpError::HttpRequestUriInvalid)?,
        };
        Box::new(
            tokio::time::timeout(connect_timeout, connector.connect(name, stream))
                .await
                .map_err(|_| HttpError::ConnectionTimeout)?
                .map_err(HttpError::Tls)?,
        )
    } else {
        Box::new(stream)
    };
    let (mut sender, conn) = tokio::time::timeout(
        connect_timeout,
        hyper::client::conn::http1::handshake(TokioIo::new(io)),
    )
    .await
    .map_err(|_| HttpError::ConnectionTimeout)?
    .map_err(HttpError::from)?;
    // Origin form on the wire: the authority travels in `Host`.
    *request.uri_mut() = http::Uri::builder()
        .path_and_query(uri.path_and_query().map_or("/", |p| p.as_str()))
        .build()
        .map_err(|_| HttpError::HttpRequestUriInvalid)?;

    let mut conn = Box::pin(conn);
    let mut send = Box::pin(tokio::time::timeout(
        first_byte_timeout,
        sender.send_request(request),
    ));
    // The connection must be driven while the response head is awaited.
    let mut conn_done = false;
    let response = std::future::poll_fn(|cx| {
        if let Poll::Ready(out) = send.as_mut().poll(cx) {
            return Poll::Ready(out.map_err(|_| HttpError::ConnectionReadTimeout));
        }
        if !conn_done {
            if let Poll::Ready(result) = conn.as_mut().poll(cx) {
                conn_done = true;
                if let Err(e) = result {
                    return Poll::Ready(Ok(Err(e)));
                }
                return send
                    .as_mut()
                    .poll(cx)
                    .map(|out| out.map_err(|_| HttpError::ConnectionReadTimeout));
            }
        }
        Poll::Pending
    })
    .await?
    .map_err(HttpError::from)?;
    let response = response.map(|incoming| {
        Watched {
            incoming,
            idle: Box::pin(tokio::time::sleep(between_bytes_timeout)),
            limit: between_bytes_timeout,
        }
        .boxed_unsync()
    });
    let driver = async move {
        if conn_done {
            return Ok(());
        }
        conn.await.map_err(|e| {
            if e.is_timeout() {
                HttpError::HttpResponseTimeout
            } else {
                HttpError::from(e)
            }
        })
    };
    Ok((response, Box::new(driver)))
}

trait Stream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Sync + Unpin + 'static {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Sync + Unpin + 'static> Stream for T {}

/// A response body that fails when no byte comes for `limit`.
struct Watched {
    incoming: hyper::body::Incoming,
    idle: Pin<Box<tokio::time::Sleep>>,
    limit: Duration,
}

impl http_body::Body for Watched {
    type Data = Bytes;
    type Error = HttpError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, HttpError>>> {
        match Pin::new(&mut self.incoming).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                let deadline = tokio::time::Instant::now() + self.limit;
                self.idle.as_mut().reset(deadline);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(HttpError::from(e)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => match self.idle.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(HttpError::ConnectionReadTimeout))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.incoming.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.incoming.size_hint()
    }
}
