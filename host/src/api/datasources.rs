//! `/api/datasources`: CRUD, connection tests and health history.

use super::error::{ApiError, ApiResult};
use super::extract::{ValidJson, ValidQuery};
use super::limits;
use super::page::{Page, PageQuery};
use crate::plugin::PluginKind;
use crate::server::state::AppState;
use crate::server::targets;
use crate::store::rows::{Datasource, HealthCheck};
use crate::store::sealed::SealedJson;
use crate::store::{self, Filter, Param};
use crate::workers::health;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::types::Json as SqlJson;
use utoipa::{IntoParams, ToSchema};

/// A datasource as the API shows it: secrets replaced by `********`.
#[derive(Debug, Serialize, ToSchema)]
pub struct DatasourceView {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[schema(value_type = Object)]
    pub connection_config: Value,
    pub status: crate::domain::DatasourceHealth,
    pub enabled: bool,
    pub tags: Vec<String>,
    pub consecutive_failures: i64,
    pub last_health_check_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Datasource> for DatasourceView {
    fn from(d: Datasource) -> Self {
        Self {
            connection_config: targets::redact(&d.connection_config.0),
            id: d.id,
            name: d.name,
            kind: d.kind,
            status: d.status,
            enabled: d.enabled,
            tags: d.tags.0,
            consecutive_failures: d.consecutive_failures,
            last_health_check_at: d.last_health_check_at,
            created_at: d.created_at,
            updated_at: d.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDatasource {
    /// 1-100 characters, not blank, no control or bidirectional-override characters.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069]*[^\\s\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069][^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069]*$"
    )]
    pub name: String,
    /// Engine type: `postgres`, `sqlite`, `files`... (see `/api/plugins`).
    #[serde(rename = "type")]
    pub kind: String,
    /// `{host, port, database, username, password}` for servers, `{path}`
    /// for sqlite and files.
    #[schema(value_type = Object)]
    pub connection_config: Value,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default)]
    pub tags: Vec<String>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateDatasource {
    /// 1-100 characters, not blank, no control or bidirectional-override characters.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069]*[^\\s\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069][^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069]*$"
    )]
    pub name: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Replaces the configuration; secrets sent as `********` or left out
    /// keep their stored value.
    #[schema(value_type = Option<Object>)]
    pub connection_config: Option<Value>,
    pub enabled: Option<bool>,
    pub tags: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub kind: Option<String>,
    pub status: Option<String>,
    pub enabled: Option<bool>,
    /// Substring of the name, case-insensitive.
    pub search: Option<String>,
    #[param(minimum = 1, maximum = 1000000)]
    pub page: Option<i64>,
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

/// The outcome of a connection test.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectionTest {
    pub success: bool,
    pub status: crate::domain::CheckStatus,
    pub latency_ms: u64,
    pub version: Option<String>,
    pub message: Option<String>,
    #[schema(value_type = Object)]
    pub metadata: Value,
}

/// The engine type must be installed and the plugin must accept the config.
/// Its paths must pass the path policy (they are also restore targets).
async fn check_engine_config(state: &AppState, kind: &str, config: &Value) -> ApiResult<()> {
    limits::config("connection_config", config)?;
    state
        .plugins
        .find(PluginKind::Engine, kind)
        .map_err(|e| ApiError::invalid("type", e.to_string()))?;
    targets::confine_datasource(state, kind, config).await?;
    let (plain, _) = targets::split_secrets(config);
    let target = crate::plugin::client::Target::new(plain, crate::plugin::tracing_sink());
    let engine = state
        .plugins
        .engine(kind, target)
        .map_err(|e| ApiError::invalid("type", e.to_string()))?;
    engine.validate_config().await.map_err(|e| {
        let message = match &e {
            crate::plugin::CallError::Plugin { message, .. } => message.clone(),
            other => other.to_string(),
        };
        ApiError::plugin_config("connection_config", &message)
    })
}

fn blank(kind: &str) -> Datasource {
    let at = store::now();
    Datasource {
        id: store::new_id(),
        name: String::new(),
        kind: kind.to_string(),
        connection_config: SealedJson(Value::Null),
        status: crate::domain::DatasourceHealth::Unknown,
        enabled: true,
        tags: SqlJson(Vec::new()),
        consecutive_failures: 0,
        last_health_check_at: None,
        created_at: at,
        updated_at: at,
    }
}

pub(crate) async fn load(state: &AppState, id: &str) -> ApiResult<Datasource> {
    store::datasources::get(&state.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found("datasource", id))
}

/// List datasources.
#[utoipa::path(get, path = "/api/datasources", tag = "datasources", params(ListQuery),
    responses((status = 200, body = Page<DatasourceView>)))]
pub async fn list(
    State(state): State<AppState>,
    ValidQuery(q): ValidQuery<ListQuery>,
) -> ApiResult<Json<Page<DatasourceView>>> {
    let (limit, offset, page) = PageQuery {
        page: q.page,
        limit: q.limit,
    }
    .resolve()?;
    let mut f = Filter::default();
    if let Some(t) = q.kind {
        f.push("type = ?", Param::Text(t));
    }
    if let Some(s) = q.status {
        f.push("status = ?", Param::Text(s));
    }
    if let Some(e) = q.enabled {
        f.raw(if e {
            "enabled = TRUE"
        } else {
            "enabled = FALSE"
        });
    }
    if let Some(s) = q.search {
        f.push(
            "LOWER(name) LIKE ? ESCAPE '\\'",
            Param::Text(super::page::like_pattern(&s)),
        );
    }
    let (rows, total) = store::datasources::list(&state.db, &f, limit, offset).await?;
    Ok(Json(Page::new(
        rows.into_iter().map(Into::into).collect(),
        total,
        page,
        limit,
    )))
}

/// Register a datasource.
#[utoipa::path(post, path = "/api/datasources", tag = "datasources", request_body = CreateDatasource,
    responses((status = 201, body = DatasourceView), (status = 422, body = super::error::ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    ValidJson(input): ValidJson<CreateDatasource>,
) -> ApiResult<(StatusCode, Json<DatasourceView>)> {
    let name = limits::name("name", &input.name)?;
    targets::refuse_placeholders(&input.connection_config).map_err(|refusal| {
        let (field, message) = refusal.to_api("connection_config");
        ApiError::invalid(field, message)
    })?;
    let tags = limits::tags(input.tags)?;
    check_engine_config(&state, &input.kind, &input.connection_config).await?;
    let row = Datasource {
        name,
        connection_config: SealedJson(input.connection_config),
        enabled: input.enabled,
        tags: SqlJson(tags),
        ..blank(&input.kind)
    };
    store::datasources::insert(&state.db, &row).await?;
    Ok((StatusCode::CREATED, Json(row.into())))
}

/// One datasource.
#[utoipa::path(get, path = "/api/datasources/{id}", tag = "datasources",
    responses((status = 200, body = DatasourceView), (status = 404, body = super::error::ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<DatasourceView>> {
    Ok(Json(load(&state, &id).await?.into()))
}

/// Change a datasource (fields left out stay as they are).
#[utoipa::path(put, path = "/api/datasources/{id}", tag = "datasources", request_body = UpdateDatasource,
    responses((status = 200, body = DatasourceView)))]
pub async fn update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ValidJson(input): ValidJson<UpdateDatasource>,
) -> ApiResult<Json<DatasourceView>> {
    let mut row = load(&state, &id).await?;
    if let Some(name) = input.name {
        row.name = limits::name("name", &name)?;
    }
    let kind = input.kind.unwrap_or(row.kind.clone());
    let mut config = input
        .connection_config
        .unwrap_or_else(|| row.connection_config.0.clone());
    if kind != row.kind {
        if let Some(jobs) = jobs_using(&state, &id).await? {
            return Err(ApiError::conflict(format!(
                "type: datasource `{}` is used by backup job(s) {jobs} of type `{}`; \
                 create a new datasource for `{kind}`",
                row.name, row.kind
            )));
        }
    }
    targets::merge_secrets(&mut config, &row.connection_config.0).map_err(|refusal| {
        let (field, message) = refusal.to_api("connection_config");
        ApiError::invalid(field, message)
    })?;
    check_engine_config(&state, &kind, &config).await?;
    row.kind = kind;
    row.connection_config = SealedJson(config);
    if let Some(e) = input.enabled {
        row.enabled = e;
    }
    if let Some(t) = input.tags {
        row.tags = SqlJson(limits::tags(t)?);
    }
    row.updated_at = store::now();
    store::datasources::update(&state.db, &row).await?;
    Ok(Json(row.into()))
}

/// The backup jobs that back up datasource `id`, by name (`nightly,
/// weekly and 3 more`), or None when no job does.
async fn jobs_using(state: &AppState, id: &str) -> ApiResult<Option<String>> {
    const NAMED: usize = 5;
    let mut f = Filter::default();
    f.push("datasource_id = ?", Param::Text(id.to_string()));
    let (rows, total) = store::jobs::list(&state.db, &f, NAMED as i64, 0).await?;
    if total == 0 {
        return Ok(None);
    }
    let names: Vec<String> = rows.into_iter().map(|j| format!("`{}`", j.name)).collect();
    let more = total - names.len() as i64;
    Ok(Some(if more > 0 {
        format!("{} and {more} more", names.join(", "))
    } else {
        names.join(", ")
    }))
}

/// Delete a datasource that no job uses.
#[utoipa::path(delete, path = "/api/datasources/{id}", tag = "datasources",
    responses((status = 204), (status = 409, body = super::error::ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let row = load(&state, &id).await?;
    if let Some(jobs) = jobs_using(&state, &id).await? {
        return Err(ApiError::conflict(format!(
            "datasource `{}` is used by backup job(s) {jobs}; delete or move them first",
            row.name
        )));
    }
    store::datasources::delete(&state.db, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Test the connection now, without recording it.
/// Limited per client address (`api/throttle.rs`): each test contacts the
/// database.
#[utoipa::path(post, path = "/api/datasources/{id}/test-connection", tag = "datasources",
    responses((status = 200, body = ConnectionTest),
        (status = 429, description = "More than 10 tests per minute from this client address; `Retry-After` says when to try again",
            body = super::error::ErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait")))))]
pub async fn test_connection(
    State(state): State<AppState>,
    client: super::throttle::ClientAddr,
    Path(id): Path<String>,
) -> ApiResult<Json<ConnectionTest>> {
    super::throttle::test_call(client)?;
    let ds = load(&state, &id).await?;
    let report = health::probe_datasource(&state, &ds).await;
    let metadata: serde_json::Map<String, Value> = report
        .metadata
        .iter()
        .map(|kv| (kv.key.clone(), Value::String(kv.value.clone())))
        .collect();
    Ok(Json(ConnectionTest {
        success: report.status == crate::plugin::bindings::HealthStatus::Ok,
        status: report.status.into(),
        latency_ms: report.latency_ms,
        version: report.version,
        message: report.message,
        metadata: Value::Object(metadata),
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    /// Most recent checks to return (default 50, max 500).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

/// Health check history, newest first.
#[utoipa::path(get, path = "/api/datasources/{id}/health-checks", tag = "datasources",
    params(HistoryQuery), responses((status = 200, body = super::page::Page<HealthCheck>)))]
pub async fn health_checks(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ValidQuery(q): ValidQuery<HistoryQuery>,
) -> ApiResult<Json<super::page::Page<HealthCheck>>> {
    load(&state, &id).await?;
    let (limit, _, _) = PageQuery {
        page: None,
        limit: q.limit,
    }
    .resolve()?;
    Ok(Json(super::page::Page::whole(
        store::health::history(&state.db, &id, limit).await?,
    )))
}

/// Result of a recorded health check.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthCheckResult {
    pub check: HealthCheck,
    pub datasource: DatasourceView,
}

/// Run a health check now and record it.
#[utoipa::path(post, path = "/api/datasources/{id}/health-check", tag = "datasources",
    responses((status = 200, body = HealthCheckResult)))]
pub async fn health_check(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<HealthCheckResult>> {
    let ds = load(&state, &id).await?;
    let check = health::check_datasource(&state, &ds).await?;
    let datasource = load(&state, &id).await?.into();
    Ok(Json(HealthCheckResult { check, datasource }))
}

/// Databases on the datasource's server.
#[utoipa::path(get, path = "/api/datasources/{id}/databases", tag = "datasources",
    responses((status = 200, body = super::page::Page<String>)))]
pub async fn databases(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<super::page::Page<String>>> {
    let ds = load(&state, &id).await?;
    let engine = targets::engine_for(&state, &ds, crate::plugin::tracing_sink()).await?;
    let list = engine
        .list_databases()
        .await
        .map_err(|e| ApiError::bad_gateway(e.to_string()))?;
    Ok(Json(super::page::Page::whole(list)))
}
