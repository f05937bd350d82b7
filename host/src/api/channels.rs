//! `/api/notification-channels`: where notifications go (SMTP, webhook,
//! WhatsApp... any notifier plugin), by which rules; a test send that
//! reports the real delivery result; and the deliveries made.

use super::error::{ApiError, ApiResult};
use super::extract::{ValidJson, ValidQuery};
use super::page::{Page, PageQuery};
use crate::domain::{DeliveryStatus, NotificationKind, Severity};
use crate::notify::{self, send, templates};
use crate::server::state::AppState;
use crate::server::targets;
use crate::store::rows::{Delivery, NotificationChannel};
use crate::store::sealed::SealedJson;
use crate::store::{self, Filter, Param};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::types::Json as SqlJson;
use std::time::Instant;
use utoipa::{IntoParams, ToSchema};

/// A channel as the API shows it: secrets redacted.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelView {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[schema(value_type = Object)]
    pub config: Value,
    /// Notification kinds routed here; empty: every kind.
    pub events: Vec<NotificationKind>,
    pub min_severity: Severity,
    pub job_ids: Vec<String>,
    pub datasource_ids: Vec<String>,
    pub suppress_minutes: i64,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<NotificationChannel> for ChannelView {
    fn from(c: NotificationChannel) -> Self {
        Self {
            config: targets::redact(&c.config.0),
            id: c.id,
            name: c.name,
            kind: c.kind,
            events: c.events.0,
            min_severity: c.min_severity,
            job_ids: c.job_ids.0,
            datasource_ids: c.datasource_ids.0,
            suppress_minutes: c.suppress_minutes,
            enabled: c.enabled,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateChannel {
    /// 1-100 characters, not blank, no control or bidirectional-override characters.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069]*[^\\s\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069][^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069]*$"
    )]
    pub name: String,
    /// A notifier type: `smtp`, `webhook`, `whatsapp`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The notifier's configuration (docs/NOTIFIERS.md); secrets
    /// (`password`, `secret`, `access_token`) are write-only.
    #[schema(value_type = Object)]
    pub config: Value,
    /// Notification kinds to send; omitted or empty: every kind. Read as
    /// text and checked by `events`, so the error names the entry.
    #[serde(default)]
    #[schema(value_type = Vec<NotificationKind>)]
    pub events: Vec<String>,
    /// `info` (default), `warning` or `critical`.
    #[schema(value_type = Option<Severity>)]
    pub min_severity: Option<String>,
    /// Only notifications about these jobs / datasources.
    #[serde(default)]
    pub job_ids: Vec<String>,
    #[serde(default)]
    pub datasource_ids: Vec<String>,
    /// A repeat of the same kind about the same thing within this many
    /// minutes is recorded but not sent (default 30; 0: never suppress).
    #[schema(minimum = 0, maximum = 10080)]
    #[serde(default, deserialize_with = "super::extract::optional_whole_number")]
    pub suppress_minutes: Option<i64>,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateChannel {
    /// 1-100 characters, not blank, no control or bidirectional-override characters.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069]*[^\\s\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069][^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069]*$"
    )]
    pub name: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Secrets may be sent back as `********` to keep them.
    #[schema(value_type = Option<Object>)]
    pub config: Option<Value>,
    #[schema(value_type = Option<Vec<NotificationKind>>)]
    pub events: Option<Vec<String>>,
    #[schema(value_type = Option<Severity>)]
    pub min_severity: Option<String>,
    pub job_ids: Option<Vec<String>>,
    pub datasource_ids: Option<Vec<String>>,
    #[schema(minimum = 0, maximum = 10080)]
    #[serde(default, deserialize_with = "super::extract::optional_whole_number")]
    pub suppress_minutes: Option<i64>,
    pub enabled: Option<bool>,
}

/// Most minutes a repeat may be suppressed for: one week.
const MAX_SUPPRESS_MINUTES: i64 = 7 * 24 * 60;

/// The `events` of a request as kinds; an unknown one is refused naming
/// its index and listing every kind a channel can subscribe to.
fn events(events: Vec<String>) -> ApiResult<Vec<NotificationKind>> {
    events
        .iter()
        .enumerate()
        .map(|(i, kind)| {
            kind.parse().map_err(|_| {
                let kinds: Vec<&str> = NotificationKind::ALL.iter().map(|k| k.as_str()).collect();
                ApiError::invalid(
                    format!("events[{i}]"),
                    format!(
                        "`{kind}` is not a notification kind; kinds: {}",
                        kinds.join(", ")
                    ),
                )
            })
        })
        .collect()
}

/// The `min_severity` of a request.
fn min_severity(s: &str) -> ApiResult<Severity> {
    s.parse()
        .map_err(|e: crate::domain::UnknownValue| ApiError::invalid("min_severity", e.to_string()))
}

/// Checks the rule fields; errors name the field.
async fn check_rules(state: &AppState, c: &NotificationChannel) -> ApiResult<()> {
    if !(0..=MAX_SUPPRESS_MINUTES).contains(&c.suppress_minutes) {
        return Err(ApiError::invalid(
            "suppress_minutes",
            format!("must be between 0 and {MAX_SUPPRESS_MINUTES}"),
        ));
    }
    for (i, id) in c.job_ids.0.iter().enumerate() {
        if store::jobs::get(&state.db, id).await?.is_none() {
            return Err(ApiError::invalid(
                format!("job_ids[{i}]"),
                format!("job `{id}` does not exist"),
            ));
        }
    }
    for (i, id) in c.datasource_ids.0.iter().enumerate() {
        if store::datasources::get(&state.db, id).await?.is_none() {
            return Err(ApiError::invalid(
                format!("datasource_ids[{i}]"),
                format!("datasource `{id}` does not exist"),
            ));
        }
    }
    Ok(())
}

/// The notifier plugin must exist and accept the configuration.
async fn check_config(state: &AppState, kind: &str, config: &Value) -> ApiResult<()> {
    super::limits::config("config", config)?;
    send::validate(state, kind, config)
        .await
        .map_err(|e| match e {
            send::SendError::NotInstalled(e) => ApiError::invalid("type", e.to_string()),
            other => ApiError::plugin_config("config", &other.reason()),
        })?;
    // Templates for this type exist from the first channel on.
    notify::seed_templates(&state.db, &[kind]).await?;
    Ok(())
}

/// Most notification channels a server keeps: every event is routed
/// through all of them, and each delivery renders a template and contacts
/// another machine.
pub const MAX_CHANNELS: i64 = 100;

#[utoipa::path(post, path = "/api/notification-channels", operation_id = "channel_create", tag = "notifications",
    request_body = CreateChannel,
    responses((status = 201, body = ChannelView), (status = 422, body = super::error::ErrorBody),
        (status = 409, description = "There are 100 channels already", body = super::error::ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    ValidJson(input): ValidJson<CreateChannel>,
) -> ApiResult<(StatusCode, Json<ChannelView>)> {
    let (_, existing) = store::channels::list(&state.db, &Filter::default(), 1, 0).await?;
    if existing >= MAX_CHANNELS {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "too_many_channels",
            format!(
                "there are {existing} notification channels, the most a server keeps is                  {MAX_CHANNELS}; delete one first (one channel may take every kind of event)"
            ),
        ));
    }
    targets::refuse_placeholders(&input.config).map_err(|refusal| {
        let (field, message) = refusal.to_api("config");
        ApiError::invalid(field, message)
    })?;
    let at = store::now();
    let channel = NotificationChannel {
        id: store::new_id(),
        name: super::limits::name("name", &input.name)?,
        kind: input.kind,
        config: SealedJson(input.config),
        events: SqlJson(events(input.events)?),
        min_severity: match input.min_severity {
            Some(s) => min_severity(&s)?,
            None => Severity::Info,
        },
        job_ids: SqlJson(input.job_ids),
        datasource_ids: SqlJson(input.datasource_ids),
        suppress_minutes: input.suppress_minutes.unwrap_or(30),
        enabled: input.enabled,
        created_at: at,
        updated_at: at,
    };
    check_rules(&state, &channel).await?;
    check_config(&state, &channel.kind, &channel.config.0).await?;
    store::channels::insert(&state.db, &channel).await?;
    Ok((StatusCode::CREATED, Json(channel.into())))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub kind: Option<String>,
    #[param(minimum = 1, maximum = 1000000)]
    pub page: Option<i64>,
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

#[utoipa::path(get, path = "/api/notification-channels", operation_id = "channel_list", tag = "notifications", params(ListQuery),
    responses((status = 200, body = Page<ChannelView>)))]
pub async fn list(
    State(state): State<AppState>,
    ValidQuery(q): ValidQuery<ListQuery>,
) -> ApiResult<Json<Page<ChannelView>>> {
    let (limit, offset, page) = PageQuery {
        page: q.page,
        limit: q.limit,
    }
    .resolve()?;
    let mut f = Filter::default();
    if let Some(t) = q.kind {
        f.push("type = ?", Param::Text(t));
    }
    let (rows, total) = store::channels::list(&state.db, &f, limit, offset).await?;
    let data = rows.into_iter().map(ChannelView::from).collect();
    Ok(Json(Page::new(data, total, page, limit)))
}

async fn load(state: &AppState, id: &str) -> ApiResult<NotificationChannel> {
    store::channels::get(&state.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found("notification channel", id))
}

#[utoipa::path(get, path = "/api/notification-channels/{id}", operation_id = "channel_get", tag = "notifications",
    responses((status = 200, body = ChannelView), (status = 404, body = super::error::ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<ChannelView>> {
    Ok(Json(load(&state, &id).await?.into()))
}

#[utoipa::path(put, path = "/api/notification-channels/{id}", operation_id = "channel_update", tag = "notifications",
    request_body = UpdateChannel,
    responses((status = 200, body = ChannelView), (status = 422, body = super::error::ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ValidJson(input): ValidJson<UpdateChannel>,
) -> ApiResult<Json<ChannelView>> {
    let mut c = load(&state, &id).await?;
    if let Some(name) = input.name {
        c.name = super::limits::name("name", &name)?;
    }
    let kind_changed = input.kind.as_ref().is_some_and(|k| *k != c.kind);
    if let Some(kind) = input.kind {
        c.kind = kind;
    }
    let config_given = input.config.is_some();
    if let Some(mut config) = input.config {
        if !kind_changed {
            targets::merge_secrets(&mut config, &c.config.0).map_err(|refusal| {
                let (field, message) = refusal.to_api("config");
                ApiError::invalid(field, message)
            })?;
        }
        c.config = SealedJson(config);
    }
    if kind_changed && !config_given {
        return Err(ApiError::invalid(
            "config",
            "is required when the type changes",
        ));
    }
    if let Some(list) = input.events {
        c.events = SqlJson(events(list)?);
    }
    if let Some(s) = input.min_severity {
        c.min_severity = min_severity(&s)?;
    }
    if let Some(ids) = input.job_ids {
        c.job_ids = SqlJson(ids);
    }
    if let Some(ids) = input.datasource_ids {
        c.datasource_ids = SqlJson(ids);
    }
    if let Some(m) = input.suppress_minutes {
        c.suppress_minutes = m;
    }
    if let Some(e) = input.enabled {
        c.enabled = e;
    }
    check_rules(&state, &c).await?;
    check_config(&state, &c.kind, &c.config.0).await?;
    c.updated_at = store::now();
    store::channels::update(&state.db, &c).await?;
    Ok(Json(c.into()))
}

#[utoipa::path(delete, path = "/api/notification-channels/{id}", operation_id = "channel_delete", tag = "notifications",
    responses((status = 204), (status = 404, body = super::error::ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    if !store::channels::delete(&state.db, &id).await? {
        return Err(ApiError::not_found("notification channel", &id));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// What a test send did.
#[derive(Debug, Serialize, ToSchema)]
pub struct TestResult {
    pub delivered: bool,
    /// The notifier's reason when it was not delivered.
    pub error: Option<String>,
    /// Whether trying again later might succeed.
    pub transient: bool,
    pub duration_ms: u64,
    /// The message as rendered and sent.
    pub subject: String,
    pub body: String,
}

/// The kind a test message carries to the notifier: not a notification
/// kind (nothing is stored or routed), so a receiver can tell it apart.
const TEST_KIND: &str = "test";

/// Sends a test message through the channel now, rendered with the
/// channel type's `backup_failed` template against the sample event, and
/// reports the notifier's real answer. Nothing is queued or retried.
/// Limited per client address (`api/throttle.rs`): each test sends a
/// message.
#[utoipa::path(post, path = "/api/notification-channels/{id}/test", operation_id = "channel_test", tag = "notifications",
    responses((status = 200, body = TestResult), (status = 404, body = super::error::ErrorBody),
        (status = 429, description = "More than 10 tests per minute from this client address; `Retry-After` says when to try again",
            body = super::error::ErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait")))))]
pub async fn test(
    State(state): State<AppState>,
    client: super::throttle::ClientAddr,
    Path(id): Path<String>,
) -> ApiResult<Json<TestResult>> {
    super::throttle::test_call(client)?;
    let channel = load(&state, &id).await?;
    let mut context = notify::context::sample();
    context["kind"] = TEST_KIND.into();
    context["severity"] = Severity::Info.as_str().into();
    context["title"] = format!(
        "Test message from DataGuardian (channel `{}`)",
        channel.name
    )
    .into();
    context["message"] =
        "If you can read this, the channel works. The details below are a sample.".into();
    let (_, version) =
        notify::active_template(&state.db, &channel.kind, notify::context::SAMPLE_KIND).await?;
    let message = templates::render(version.subject.as_deref(), &version.body, &context)
        .await
        .map_err(|e| match e {
            templates::RenderError::Renderer(_) => ApiError::internal(e),
            e => ApiError::conflict(format!("the active template does not render: {e}")),
        })?;
    let clock = Instant::now();
    let outcome = send::send(
        &state,
        &channel,
        TEST_KIND,
        Severity::Info,
        &message,
        &context["fields"],
        None,
    )
    .await;
    Ok(Json(TestResult {
        delivered: outcome.is_ok(),
        transient: outcome.as_ref().err().is_some_and(|e| e.is_transient()),
        error: outcome.err().map(|e| e.reason()),
        duration_ms: clock.elapsed().as_millis() as u64,
        subject: message.subject,
        body: message.body,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeliveryQuery {
    #[param(value_type = Option<DeliveryStatus>)]
    pub status: Option<String>,
    pub channel_id: Option<String>,
    pub notification_id: Option<String>,
    #[param(minimum = 1, maximum = 1000000)]
    pub page: Option<i64>,
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

/// Deliveries, newest first: what was sent where, what failed and why,
/// what was suppressed as a repeat.
#[utoipa::path(get, path = "/api/notification-deliveries", operation_id = "channel_deliveries", tag = "notifications", params(DeliveryQuery),
    responses((status = 200, body = Page<Delivery>)))]
pub async fn deliveries(
    State(state): State<AppState>,
    ValidQuery(q): ValidQuery<DeliveryQuery>,
) -> ApiResult<Json<Page<Delivery>>> {
    let (limit, offset, page) = PageQuery {
        page: q.page,
        limit: q.limit,
    }
    .resolve()?;
    let mut f = Filter::default();
    if let Some(s) = q.status {
        let Ok(s) = s.parse::<DeliveryStatus>() else {
            return Err(ApiError::invalid(
                "status",
                format!("expected {}", crate::domain::either(DeliveryStatus::ALL)),
            ));
        };
        f.push("status = ?", Param::Text(s.to_string()));
    }
    if let Some(c) = q.channel_id {
        f.push("channel_id = ?", Param::Text(c));
    }
    if let Some(n) = q.notification_id {
        f.push("notification_id = ?", Param::Text(n));
    }
    let (rows, total) = store::deliveries::list(&state.db, &f, limit, offset).await?;
    Ok(Json(Page::new(rows, total, page, limit)))
}
