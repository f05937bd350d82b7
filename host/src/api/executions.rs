//! `/api/executions`: list, detail with live progress, logs, download,
//! retry-upload, mark-restored, cancel and delete.

use super::error::{ApiError, ApiResult};
use super::extract::{RequestActor, ValidJson, ValidQuery};
use super::page::{Page, PageQuery};
use super::stream;
use crate::domain::{CopyStatus, ExecutionStatus, Operation};
use crate::pipeline::restore::load_manifest;
use crate::plugin::StorageClient;
use crate::server::state::AppState;
use crate::server::targets;
use crate::store::rows::{Chunk, Execution, ExecutionLog, ExecutionStorage};
use crate::store::{self, executions, Filter, Param};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use axum::Json;
use chrono::{DateTime, Utc};
use dg_app::usecases;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Response header carrying the artifact's checksum from the manifest
/// (`sha256:<hex>`), so a client can check what it saved.
pub const CHECKSUM_HEADER: &str = "x-dataguardian-checksum";

/// `value` as one of `E`'s values, or a 422 naming `field` and listing
/// them.
fn parse_field<E: std::str::FromStr + std::fmt::Display + Copy>(
    field: &'static str,
    value: &str,
    all: &[E],
) -> ApiResult<E> {
    value.parse().map_err(|_| {
        let allowed: Vec<String> = all.iter().map(ToString::to_string).collect();
        ApiError::invalid(
            field,
            format!(
                "`{}`: expected one of {}",
                super::guard::shorten(value),
                allowed.join(", ")
            ),
        )
    })
}

/// The `status` filter of an executions list.
pub fn check_status(s: &str) -> ApiResult<ExecutionStatus> {
    parse_field("status", s, ExecutionStatus::ALL)
}

/// The `operation` filter of an executions list.
pub fn check_operation(o: &str) -> ApiResult<Operation> {
    parse_field("operation", o, Operation::ALL)
}

pub use dg_app::workers::progress::Progress;

/// An execution as the API shows it: the stored row with the names people
/// read beside its ids (the job, the datasource backed up or restored
/// into, the primary storage). A name is null when that row was deleted.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExecutionView {
    #[serde(flatten)]
    pub execution: Execution,
    pub job_name: Option<String>,
    pub datasource_name: Option<String>,
    pub storage_name: Option<String>,
}

impl ExecutionView {
    pub fn new(execution: Execution, names: &store::names::Names) -> Self {
        Self {
            job_name: names.job(execution.job_id.as_deref()),
            datasource_name: names.datasource(execution.datasource_id.as_deref()),
            storage_name: names.storage(execution.storage_location_id.as_deref()),
            execution,
        }
    }

    /// One execution with its names.
    pub async fn of(state: &AppState, execution: Execution) -> ApiResult<Self> {
        let names = store::names::all(&state.db).await?;
        Ok(Self::new(execution, &names))
    }

    /// A page of executions with their names.
    pub async fn page(
        state: &AppState,
        rows: Vec<Execution>,
        total: i64,
        page: i64,
        limit: i64,
    ) -> ApiResult<Page<Self>> {
        let names = store::names::all(&state.db).await?;
        let views = rows.into_iter().map(|e| Self::new(e, &names)).collect();
        Ok(Page::new(views, total, page, limit))
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExecutionDetail {
    #[serde(flatten)]
    pub execution: ExecutionView,
    pub storages: Vec<ExecutionStorage>,
    pub chunks: Vec<Chunk>,
    pub progress: Option<Progress>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    #[param(value_type = Option<ExecutionStatus>)]
    pub status: Option<String>,
    pub job_id: Option<String>,
    pub datasource_id: Option<String>,
    #[param(value_type = Option<Operation>)]
    pub operation: Option<String>,
    #[param(minimum = 1, maximum = 1000000)]
    pub page: Option<i64>,
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

pub(crate) async fn load(state: &AppState, id: &str) -> ApiResult<Execution> {
    Ok(usecases::executions::load(state, id).await?)
}

#[utoipa::path(get, path = "/api/executions", tag = "executions", params(ListQuery),
    responses((status = 200, body = Page<ExecutionView>)))]
pub async fn list(
    State(state): State<AppState>,
    ValidQuery(q): ValidQuery<ListQuery>,
) -> ApiResult<Json<Page<ExecutionView>>> {
    let (limit, offset, page) = PageQuery {
        page: q.page,
        limit: q.limit,
    }
    .resolve()?;
    let mut f = Filter::default();
    if let Some(s) = q.status {
        let s = check_status(&s)?;
        f.push("status = ?", Param::Text(s.to_string()));
    }
    if let Some(j) = q.job_id {
        f.push("job_id = ?", Param::Text(j));
    }
    if let Some(d) = q.datasource_id {
        f.push("datasource_id = ?", Param::Text(d));
    }
    if let Some(o) = q.operation {
        let o = check_operation(&o)?;
        f.push("operation = ?", Param::Text(o.to_string()));
    }
    let (rows, total) = executions::list(&state.db, &f, limit, offset).await?;
    Ok(Json(
        ExecutionView::page(&state, rows, total, page, limit).await?,
    ))
}

#[utoipa::path(get, path = "/api/executions/{id}", tag = "executions",
    responses((status = 200, body = ExecutionDetail), (status = 404, body = super::error::ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<ExecutionDetail>> {
    let execution = load(&state, &id).await?;
    let storages = executions::storages(&state.db, &id).await?;
    let chunks = executions::chunks(&state.db, &id).await?;
    // What the event stream last said; in the first second, the bytes so
    // far (no rate or total yet).
    let progress = state.running.get(&id).map(|run| {
        run.latest_progress().unwrap_or_else(|| {
            let now = std::time::Instant::now();
            Progress::measure(run.activity.bytes(), (0, now), run.started, now, None)
                .in_phase(run.activity.phase())
        })
    });
    Ok(Json(ExecutionDetail {
        execution: ExecutionView::of(&state, execution).await?,
        storages,
        chunks,
        progress,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LogsQuery {
    /// Only lines with an id above this (for polling a running execution).
    pub after: Option<i64>,
    /// Most lines to return (1-10000, default 1000).
    #[param(minimum = 1, maximum = 10000)]
    pub limit: Option<i64>,
}

/// Log lines, oldest first; readable while the execution runs.
#[utoipa::path(get, path = "/api/executions/{id}/logs", tag = "executions", params(LogsQuery),
    responses((status = 200, body = Page<ExecutionLog>)))]
pub async fn logs(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ValidQuery(q): ValidQuery<LogsQuery>,
) -> ApiResult<Json<Page<ExecutionLog>>> {
    load(&state, &id).await?;
    let limit = q.limit.unwrap_or(1000);
    if !(1..=10_000).contains(&limit) {
        return Err(ApiError::invalid("limit", "must be between 1 and 10000"));
    }
    Ok(Json(Page::whole(
        executions::logs(&state.db, &id, q.after.unwrap_or(0), limit).await?,
    )))
}

/// A storage holding a completed copy of the backup.
async fn readable_storage(
    state: &AppState,
    execution: &Execution,
) -> ApiResult<(String, StorageClient)> {
    let mut ids: Vec<String> = execution.storage_location_id.iter().cloned().collect();
    for s in executions::storages(&state.db, &execution.id).await? {
        if s.status == CopyStatus::Completed && !ids.contains(&s.storage_location_id) {
            ids.push(s.storage_location_id);
        }
    }
    for id in ids {
        if let Some(row) = store::storages::get(&state.db, &id).await? {
            if let Ok(client) =
                targets::storage_for(state, &row, crate::plugin::tracing_sink()).await
            {
                return Ok((row.name, client));
            }
        }
    }
    Err(ApiError::conflict("no storage of this backup is available"))
}

/// 409 unless `execution` is a backup that completed, saying which of the
/// two it is not.
pub(crate) fn require_completed_backup(execution: &Execution) -> ApiResult<()> {
    Ok(usecases::executions::require_completed_backup(execution)?)
}

fn completed_backup(execution: &Execution) -> ApiResult<String> {
    require_completed_backup(execution)?;
    execution
        .backup_path
        .clone()
        .ok_or_else(|| ApiError::conflict("the backup has no stored path"))
}

/// The backup artifact. A backup split in parts is streamed as the one
/// artifact they make up (the parts concatenated, `cat part-*`), checked
/// against the manifest as it goes: damage breaks the transfer.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DownloadQuery {
    /// For a backup of several databases: which database's artifact.
    pub database: Option<String>,
}

#[utoipa::path(get, path = "/api/executions/{id}/download", tag = "executions", params(DownloadQuery),
    responses((status = 200, content_type = "application/octet-stream",
               headers(("x-dataguardian-checksum" = String,
                        description = "sha256:<hex> of the whole artifact"))),
              (status = 409, body = super::error::ErrorBody)))]
pub async fn download(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ValidQuery(q): ValidQuery<DownloadQuery>,
) -> ApiResult<Response> {
    let execution = load(&state, &id).await?;
    let prefix = completed_backup(&execution)?;
    let (_, storage) = readable_storage(&state, &execution).await?;
    let manifest = load_manifest(&storage, &prefix)
        .await
        .map_err(|e| ApiError::bad_gateway(e.to_string()))?
        .artifact(q.database.as_deref())
        .map_err(ApiError::field)?;
    let (file, size, checksum) = (
        manifest.file.clone(),
        manifest.compressed_size_bytes,
        manifest.checksum.clone(),
    );
    let name = download_name(&state, &execution, q.database.as_deref(), &file).await?;
    let body = Body::from_stream(stream::verified_artifact(storage, prefix, manifest));
    let mut response = stream::attachment(body, &name, Some(size));
    if let Ok(v) = HeaderValue::from_str(&checksum) {
        response.headers_mut().insert(CHECKSUM_HEADER, v);
    }
    Ok(response)
}

/// What a person finds in their downloads folder:
/// `{job}-{datasource}[-{database}]-{started}.{ext}` (`shop nightly-shop-
/// 2026-12-03_030000.dump.zst`), instead of the same `backup.dump.zst` for
/// every backup. The extension is the stored artifact's.
async fn download_name(
    state: &AppState,
    execution: &Execution,
    database: Option<&str>,
    artifact: &str,
) -> ApiResult<String> {
    let job = match &execution.job_id {
        Some(id) => store::jobs::get(&state.db, id).await?.map(|j| j.name),
        None => None,
    };
    let datasource = match &execution.datasource_id {
        Some(id) => store::datasources::get(&state.db, id)
            .await?
            .map(|d| d.name),
        None => None,
    };
    let base = artifact.rsplit('/').next().unwrap_or(artifact);
    let ext = base.split_once('.').map_or("", |(_, ext)| ext);
    let started = execution
        .started_at
        .unwrap_or(execution.created_at)
        .format("%Y-%m-%d_%H%M%S")
        .to_string();
    let parts: Vec<&str> = [job.as_deref(), datasource.as_deref(), database]
        .into_iter()
        .flatten()
        .chain(std::iter::once(started.as_str()))
        .collect();
    let stem = parts.join("-");
    Ok(if ext.is_empty() {
        stem
    } else {
        format!("{stem}.{ext}")
    })
}

/// A queued execution: its id (follow it at `/api/executions/{id}`, its
/// logs and `/api/events`), its status and what it does.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExecutionAccepted {
    pub execution_id: String,
    pub status: ExecutionStatus,
    pub operation: Operation,
}

impl From<&Execution> for ExecutionAccepted {
    fn from(e: &Execution) -> Self {
        Self {
            execution_id: e.id.clone(),
            status: e.status,
            operation: e.operation,
        }
    }
}

/// Queues a copy of a completed backup to each storage of its job that
/// does not hold it whole (a failed replica, a copy whose files went
/// missing, a storage added to the job since), from a copy that verifies.
/// The copy is an execution (operation `copy`): progress, logs and cancel
/// as for any; what it did per storage is in its `metadata.copy`.
#[utoipa::path(post, path = "/api/executions/{id}/retry-upload", tag = "executions",
    responses((status = 202, body = ExecutionAccepted), (status = 404, body = super::error::ErrorBody),
        (status = 409, body = super::error::ErrorBody)))]
pub async fn retry_upload(
    State(state): State<AppState>,
    RequestActor(actor): RequestActor,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<ExecutionAccepted>)> {
    let copy = usecases::executions::retry_upload(&state, &actor, &id).await?;
    Ok((StatusCode::ACCEPTED, Json(ExecutionAccepted::from(&copy))))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MarkRestored {
    pub restored_at: Option<DateTime<Utc>>,
    pub restored_by: Option<String>,
    pub reason: Option<String>,
}

/// Records that this backup was restored by hand (seed 004, step 7).
#[utoipa::path(post, path = "/api/executions/{id}/mark-restored", tag = "executions",
    request_body = MarkRestored, responses((status = 200, body = ExecutionView)))]
pub async fn mark_restored(
    State(state): State<AppState>,
    RequestActor(actor): RequestActor,
    Path(id): Path<String>,
    ValidJson(input): ValidJson<MarkRestored>,
) -> ApiResult<Json<ExecutionView>> {
    let restore = usecases::executions::ManualRestore {
        restored_at: input.restored_at.unwrap_or_else(store::now),
        restored_by: input.restored_by,
        reason: input.reason,
    };
    let execution = usecases::executions::mark_restored(&state, &actor, &id, restore).await?;
    Ok(Json(ExecutionView::of(&state, execution).await?))
}

/// Cancel a queued or running execution. The request is recorded on the
/// execution, so it reaches the node running it whichever node answers:
/// that node stops the run within a second or so, removes what it had
/// written and ends it `cancelled`.
#[utoipa::path(post, path = "/api/executions/{id}/cancel", tag = "executions",
    responses((status = 202, body = ExecutionView), (status = 409, body = super::error::ErrorBody)))]
pub async fn cancel(
    State(state): State<AppState>,
    RequestActor(actor): RequestActor,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<ExecutionView>)> {
    let execution = usecases::executions::cancel(&state, &actor, &id).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(ExecutionView::of(&state, execution).await?),
    ))
}

/// Delete a finished execution; a backup's files go from every storage.
#[utoipa::path(delete, path = "/api/executions/{id}", tag = "executions",
    responses((status = 204), (status = 409, body = super::error::ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    RequestActor(actor): RequestActor,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    usecases::executions::delete(&state, &actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
