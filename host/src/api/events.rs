//! `GET /api/events`: the event bus as Server-Sent Events. Each event has
//! an `id:` (contiguous within a server process), an `event:` kind and a
//! JSON `data:` line naming the entity. `Last-Event-ID` replays what was
//! kept after that id; heartbeats are comment lines every 15 s.

use super::error::ApiError;
use super::throttle::{ClientAddr, StreamSlot};
use crate::observe::events::{self, Lost, Next, Subscription};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::convert::Infallible;
use std::time::Duration;

const HEARTBEAT: Duration = Duration::from_secs(15);

/// One event of the stream, as the OpenAPI document describes it.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // documentation only: events are written by axum's `Sse`
pub struct ServerSentEvent {
    /// Absent on `events_lost` and `lagged`.
    id: Option<String>,
    /// `execution_status`, `execution_progress`, `datasource_status`,
    /// `storage_status`, `notification`, `events_lost`, `lagged`.
    event: String,
    /// A JSON object naming the entity.
    data: String,
}

/// Live events of this node (text/event-stream).
#[utoipa::path(get, path = "/api/events", tag = "events",
    params(("Last-Event-ID" = Option<i64>, Header, nullable = false, minimum = 0,
        description = "Resume: replay the kept events after this id (an `events_lost` event \
                       first when some are no longer kept)")),
    responses((status = 200, description = "An endless event stream: `execution_status`, \
        `execution_progress`, `datasource_status`, `storage_status`, `notification`, and \
        `events_lost` / `lagged`; see docs/OBSERVABILITY.md", content_type = "text/event-stream",
        body = ServerSentEvent),
        (status = 429, description = "This client address holds 8 open streams already",
            body = super::error::ErrorBody)))]
pub async fn stream(
    axum::extract::State(state): axum::extract::State<crate::server::state::AppState>,
    client: ClientAddr,
    headers: HeaderMap,
    axum::Extension(super::access::Caller(caller)): axum::Extension<super::access::Caller>,
) -> Result<Response, ApiError> {
    let after = last_event_id(&headers)?;
    // Each stream holds a connection and a subscription for as long as
    // the client wants; the slot goes with the stream when it ends.
    let slot = StreamSlot::take(client)?;
    let mut sub = events::bus().subscribe(after);
    let first = sub.lost.take().map(lost_event);
    // Only the credentials are kept, to check them again while it runs.
    let mut credentials = HeaderMap::new();
    for name in [
        axum::http::header::AUTHORIZATION,
        axum::http::header::COOKIE,
    ] {
        for value in headers.get_all(&name) {
            credentials.append(name.clone(), value.clone());
        }
    }
    let follower = Follower {
        sub,
        first,
        done: false,
        _slot: slot,
        caller: (*caller).clone(),
        checked: tokio::time::Instant::now(),
        state,
        credentials,
    };
    let stream = futures::stream::unfold(follower, |mut f| async move {
        let ev = f.next().await?;
        Some((Ok::<_, Infallible>(ev), f))
    });
    let mut response = Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(HEARTBEAT).text("heartbeat"))
        .into_response();
    // Reverse proxies (nginx) must pass events through as they come.
    response
        .headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(response)
}

fn last_event_id(headers: &HeaderMap) -> Result<Option<u64>, ApiError> {
    let Some(value) = headers.get("last-event-id") else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or_default().trim();
    // Ids are below 2^53; the document declares an int64. (Browsers never
    // send an empty one.)
    text.parse::<i64>()
        .ok()
        .and_then(|id| u64::try_from(id).ok())
        .map(Some)
        .ok_or_else(|| {
            let mut e = ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_header",
                "Last-Event-ID: must be the id of an event (an unsigned integer)",
            );
            e.field = Some("Last-Event-ID".into());
            e
        })
}

fn lost_event(lost: Lost) -> Event {
    Event::default().event("events_lost").data(
        json!({
            "last_event_id": lost.after,
            "oldest_kept_id": lost.oldest_kept,
            "message": "events after the given id are no longer kept (or the id is unknown); \
                        the replay starts at the oldest kept event — reload the state you show",
        })
        .to_string(),
    )
}

fn lagged_event(missed: u64) -> Event {
    Event::default().event("lagged").data(
        json!({
            "missed": missed,
            "message": "this client fell too far behind and is disconnected; reconnect with \
                        Last-Event-ID to resume",
        })
        .to_string(),
    )
}

/// Whether `caller` may see events of `kind`: each kind is read under the
/// permission that reads its entity.
fn readable(kind: &str, caller: &crate::auth::Principal) -> bool {
    use dg_core::access::Permission;
    let needed = match kind {
        events::kind::EXECUTION_STATUS | events::kind::EXECUTION_PROGRESS => {
            Permission::ExecutionsRead
        }
        events::kind::DATASOURCE_STATUS => Permission::DatasourcesRead,
        events::kind::STORAGE_STATUS => Permission::StoragesRead,
        events::kind::NOTIFICATION => Permission::NotificationsRead,
        // A kind nobody mapped yet is shown to nobody.
        _ => return false,
    };
    caller.may(needed)
}

/// How often an open stream checks that its session or token still holds
/// (signed out, revoked, expired, demoted: the stream ends or narrows).
const RECHECK: Duration = Duration::from_secs(15);

/// One client's stream: its subscription and who it is for.
struct Follower {
    sub: Subscription,
    first: Option<Event>,
    done: bool,
    _slot: StreamSlot,
    caller: crate::auth::Principal,
    checked: tokio::time::Instant,
    state: crate::server::state::AppState,
    credentials: HeaderMap,
}

impl Follower {
    /// The next event the caller may read; `None` ends the stream.
    async fn next(&mut self) -> Option<Event> {
        if self.done {
            return None;
        }
        if let Some(ev) = self.first.take() {
            return Some(ev);
        }
        loop {
            let next = tokio::select! {
                next = self.sub.next() => next,
                () = tokio::time::sleep_until(self.checked + RECHECK) => {
                    self.caller = super::access::principal_of(&self.state, &self.credentials)
                        .await
                        .ok()
                        .flatten()?;
                    self.checked = tokio::time::Instant::now();
                    continue;
                }
            };
            match next {
                // What the caller may not read is not theirs to see.
                Next::Event(e) if !readable(e.kind, &self.caller) => continue,
                Next::Event(e) => {
                    return Some(
                        Event::default()
                            .id(e.id.to_string())
                            .event(e.kind)
                            .data(e.data.as_str()),
                    );
                }
                // Fell a buffer behind: say so and end; the client
                // resumes with its last id.
                Next::Lagged { missed } => {
                    self.done = true;
                    return Some(lagged_event(missed));
                }
                Next::Closed => return None,
            }
        }
    }
}
