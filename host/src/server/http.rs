//! The HTTP accept loop. `axum::serve` offers neither a header-read
//! timeout nor a connection cap, so connections are served here with
//! hyper's HTTP/1 server:
//! - **Header-read timeout.** A request's head must arrive within
//!   `--header-timeout-secs` (10 s) of the server starting to read it,
//!   and an idle keep-alive connection is closed after as long: a client
//!   sending half a header ("slowloris") holds a connection for seconds,
//!   not forever.
//! - **Body deadline.** A request's body must have arrived within three
//!   times that timeout of its head; a client that drips it byte by byte
//!   gets an error answer and the connection is closed.
//! - **Connection cap.** At most `--max-connections` (512) are served at
//!   once. Past it the server stops accepting: further connections wait
//!   in the kernel's listen queue until one closes (none is refused while
//!   it is only busy), and nothing past the cap costs the server memory.
//! - **Graceful shutdown.** When `shutdown` completes (signal, then the
//!   drain of running work), no connection is accepted any more, each open
//!   one finishes its request in flight and closes, and this returns once
//!   all did.
//!
//! Each request carries its peer address (`ConnectInfo<SocketAddr>`) for
//! the per-client limits of `api/throttle.rs`.

use axum::extract::ConnectInfo;
use axum::Router;
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// How many connections are served and how long a request head may take.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub max_connections: usize,
    pub header_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            max_connections: 512,
            header_timeout: Duration::from_secs(10),
        }
    }
}

/// Serves `router` on `listener` until `shutdown` completes and every
/// connection closed.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let stop = CancellationToken::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors, or a connection reset
                    // before it was accepted: wait a moment, go on.
                    tracing::warn!("accepting a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let body_deadline = limits.header_timeout * BODY_DEADLINE_FACTOR;
            let service =
                hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
                    request.extensions_mut().insert(ConnectInfo(peer));
                    let request = request
                        .map(|body| axum::body::Body::new(Deadline::new(body, body_deadline)));
                    router.clone().oneshot(request)
                });
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout);
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            let mut connection = std::pin::pin!(connection);
            let stopping = tokio::select! {
                result = connection.as_mut() => {
                    if let Err(e) = result {
                        // A header-read timeout, a reset, a bad request.
                        tracing::debug!("connection from {peer}: {e}");
                    }
                    false
                }
                () = stop.cancelled() => true,
            };
            if stopping {
                connection.as_mut().graceful_shutdown();
                if let Err(e) = connection.await {
                    tracing::debug!("connection from {peer} while shutting down: {e}");
                }
            }
            drop(slot);
        });
    }
    drop(listener);
    stop.cancel();
    // Every slot back means every connection closed.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let _ = slots.acquire_many(all).await;
}

/// A body's deadline, in header timeouts.
const BODY_DEADLINE_FACTOR: u32 = 3;

/// A request body that fails once its deadline passed, so a client
/// sending it slowly cannot hold a connection (and its slot) forever.
struct Deadline {
    inner: Incoming,
    sleep: Pin<Box<tokio::time::Sleep>>,
}

impl Deadline {
    fn new(inner: Incoming, after: Duration) -> Self {
        Self {
            inner,
            sleep: Box::pin(tokio::time::sleep(after)),
        }
    }
}

impl Body for Deadline {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        if this.sleep.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(
                "the request body did not arrive in time (three times --header-timeout-secs)"
                    .into(),
            )));
        }
        Pin::new(&mut this.inner).poll_frame(cx).map_err(Into::into)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
