//! Per-client limits on what is costly to serve: event streams held open
//! and test endpoints, which make the server contact another machine
//! (a database, a storage, a mail server) on every call. A client is the
//! peer address of its connection — an IPv6 client by its /64, the block
//! one host usually holds. `X-Forwarded-For` is not trusted: behind a
//! reverse proxy every client shares the proxy's budget.

use super::error::ApiError;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{LazyLock, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Event streams (`GET /api/events`) one client may hold open at once.
pub const MAX_STREAMS_PER_CLIENT: usize = 8;

/// Calls of the test endpoints (datasource, storage, channel) one client
/// may make per [`TEST_WINDOW`], all routes together.
pub const TESTS_PER_WINDOW: usize = 10;
pub const TEST_WINDOW: Duration = Duration::from_secs(60);

/// Clients whose recent tests are remembered; past it, forgotten clients
/// are pruned, and when all are recent every client waits (the map of a
/// flood of addresses stays bounded).
const MAX_TRACKED_CLIENTS: usize = 65_536;

/// Where a request came from (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientAddr(pub IpAddr);

impl ClientAddr {
    /// The key a peer address is counted under.
    pub fn of(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Self(IpAddr::V4(v4)),
                None => {
                    let s = v6.segments();
                    Self(IpAddr::V6(Ipv6Addr::new(
                        s[0], s[1], s[2], s[3], 0, 0, 0, 0,
                    )))
                }
            },
            v4 => Self(v4),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        // Set by the accept loop (`server::http`); a router driven without
        // it (tests) counts every request as one client.
        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
        Ok(Self::of(ip))
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

static STREAMS: LazyLock<Mutex<HashMap<ClientAddr, usize>>> = LazyLock::new(Mutex::default);

/// One open event stream of a client; dropping it (the stream ended or
/// the connection closed) frees the slot.
#[derive(Debug)]
pub struct StreamSlot {
    client: ClientAddr,
}

impl StreamSlot {
    /// A slot for `client`, or 429 when it holds
    /// [`MAX_STREAMS_PER_CLIENT`] already.
    pub fn take(client: ClientAddr) -> Result<Self, ApiError> {
        let mut open = lock(&STREAMS);
        let count = open.entry(client).or_insert(0);
        if *count >= MAX_STREAMS_PER_CLIENT {
            return Err(ApiError::too_many(
                "too_many_streams",
                format!(
                    "at most {MAX_STREAMS_PER_CLIENT} event streams may be open at once from one \
                     client address; close one first (one stream carries every event)"
                ),
                None,
            ));
        }
        *count += 1;
        Ok(Self { client })
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = lock(&STREAMS);
        if let Some(count) = open.get_mut(&self.client) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.client);
            }
        }
    }
}

static TESTS: LazyLock<Mutex<HashMap<ClientAddr, VecDeque<Instant>>>> =
    LazyLock::new(Mutex::default);

/// Counts one test call of `client`: 429 with `Retry-After` when it made
/// [`TESTS_PER_WINDOW`] in the last [`TEST_WINDOW`] (a sliding window: the
/// oldest call leaving it frees the next).
pub fn test_call(client: ClientAddr) -> Result<(), ApiError> {
    test_call_at(&mut lock(&TESTS), client, Instant::now())
}

fn test_call_at(
    calls: &mut HashMap<ClientAddr, VecDeque<Instant>>,
    client: ClientAddr,
    now: Instant,
) -> Result<(), ApiError> {
    let recent = |t: &Instant| now.saturating_duration_since(*t) < TEST_WINDOW;
    if calls.len() >= MAX_TRACKED_CLIENTS && !calls.contains_key(&client) {
        calls.retain(|_, times| times.back().is_some_and(recent));
        if calls.len() >= MAX_TRACKED_CLIENTS {
            return Err(limited(TEST_WINDOW));
        }
    }
    let times = calls.entry(client).or_default();
    while times.front().is_some_and(|t| !recent(t)) {
        times.pop_front();
    }
    if let Some(oldest) = times.front().filter(|_| times.len() >= TESTS_PER_WINDOW) {
        return Err(limited(
            TEST_WINDOW.saturating_sub(now.saturating_duration_since(*oldest)),
        ));
    }
    times.push_back(now);
    Ok(())
}

fn limited(wait: Duration) -> ApiError {
    // Whole seconds, rounded up: a client that waits as told succeeds.
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    ApiError::too_many(
        "rate_limited",
        format!(
            "at most {TESTS_PER_WINDOW} tests per {} s from one client address (each contacts \
             another machine); try again in {secs} s",
            TEST_WINDOW.as_secs()
        ),
        Some(secs.max(1)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;
    const TOO_MANY: StatusCode = StatusCode::TOO_MANY_REQUESTS;

    #[test]
    fn ipv6_clients_are_counted_by_their_64() {
        let a = ClientAddr::of("2001:db8:1:2:aaaa::1".parse().expect("ip"));
        let b = ClientAddr::of("2001:db8:1:2:bbbb::7".parse().expect("ip"));
        let c = ClientAddr::of("2001:db8:1:3::1".parse().expect("ip"));
        assert_eq!(a, b);
        assert_ne!(a, c);
        let mapped = ClientAddr::of("::ffff:10.0.0.1".parse().expect("ip"));
        assert_eq!(mapped, ClientAddr::of("10.0.0.1".parse().expect("ip")));
    }

    #[test]
    fn tests_are_limited_per_client_in_a_sliding_window() {
        let mut calls = HashMap::new();
        let one = ClientAddr::of("192.0.2.1".parse().expect("ip"));
        let two = ClientAddr::of("192.0.2.2".parse().expect("ip"));
        let start = Instant::now();
        for i in 0..TESTS_PER_WINDOW {
            let at = start + Duration::from_secs(i as u64);
            assert!(test_call_at(&mut calls, one, at).is_ok(), "call {i}");
        }
        let at = start + Duration::from_secs(20);
        let refused = test_call_at(&mut calls, one, at).expect_err("11th call");
        assert_eq!(refused.status, TOO_MANY);
        // The first call leaves the window 60 s after it was made.
        assert_eq!(refused.retry_after, Some(40));
        assert!(
            refused.message.contains("try again in 40 s"),
            "{}",
            refused.message
        );
        assert!(test_call_at(&mut calls, two, at).is_ok(), "another client");
        assert!(test_call_at(&mut calls, one, start + TEST_WINDOW).is_ok());
        assert!(test_call_at(&mut calls, one, start + TEST_WINDOW).is_err());
    }

    #[test]
    fn stream_slots_are_freed_when_dropped() {
        let client = ClientAddr::of("198.51.100.9".parse().expect("ip"));
        let slots: Vec<StreamSlot> = (0..MAX_STREAMS_PER_CLIENT)
            .map(|_| StreamSlot::take(client).expect("slot"))
            .collect();
        let refused = StreamSlot::take(client).expect_err("one too many");
        assert_eq!(refused.status, TOO_MANY);
        assert_eq!(refused.code, "too_many_streams");
        drop(slots);
        assert!(StreamSlot::take(client).is_ok());
    }
}
