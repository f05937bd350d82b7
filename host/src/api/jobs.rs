//! `/api/backup-jobs`: CRUD, manual runs, executions of a job and the
//! retention dry run.

use super::error::{ApiError, ApiResult};
use super::extract::{OptionalJson, RequestActor, ValidJson, ValidQuery};
use super::page::{Page, PageQuery};
use crate::domain::{ExecutionStatus, Operation, StorageStrategy};
use crate::retention::RetentionPolicy;
use crate::schedule::{Schedule, ScheduleError};
use crate::server::state::AppState;
use crate::store::rows::BackupJob;
use crate::store::{self, executions, Filter, Param};
use crate::workers::cleanup::{self, CleanupReport};
use crate::workers::options::BackupOptions;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::types::Json as SqlJson;
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Serialize, ToSchema)]
pub struct JobView {
    #[serde(flatten)]
    pub job: BackupJob,
    /// Every storage of the job in order; the first is the primary.
    pub storage_location_ids: Vec<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateJob {
    /// 1-100 characters, not blank, no control or bidirectional-override characters.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069]*[^\\s\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069][^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069]*$"
    )]
    pub name: String,
    pub datasource_id: String,
    /// One storage (or use `storage_location_ids`). Defaults to the
    /// default storage location.
    pub storage_location_id: Option<String>,
    pub storage_location_ids: Option<Vec<String>>,
    /// `fallback` (first storage that works, default) or `replicate` (all).
    pub storage_strategy: Option<String>,
    /// Standard 5-field cron: `0 3 * * *`.
    pub schedule_cron: String,
    /// IANA timezone of the schedule (default `UTC`).
    pub schedule_timezone: Option<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[schema(value_type = Option<Object>)]
    pub retention_policy: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub backup_options: Option<Value>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateJob {
    /// 1-100 characters, not blank, no control or bidirectional-override characters.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069]*[^\\s\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069][^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069]*$"
    )]
    pub name: Option<String>,
    pub datasource_id: Option<String>,
    pub storage_location_id: Option<String>,
    pub storage_location_ids: Option<Vec<String>>,
    pub storage_strategy: Option<String>,
    pub schedule_cron: Option<String>,
    pub schedule_timezone: Option<String>,
    pub enabled: Option<bool>,
    #[schema(value_type = Option<Object>)]
    pub retention_policy: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub backup_options: Option<Value>,
}

fn schedule(cron: &str, tz: &str) -> ApiResult<Schedule> {
    super::limits::short_text("schedule_cron", cron, super::limits::MAX_CRON_CHARS)?;
    super::limits::short_text("schedule_timezone", tz, super::limits::MAX_TIMEZONE_CHARS)?;
    Schedule::parse(cron, tz).map_err(|e| match &e {
        ScheduleError::Cron(m) => ApiError::invalid("schedule_cron", m.clone()),
        ScheduleError::Timezone(_) => {
            let text = e.to_string();
            let message = text.trim_start_matches("schedule_timezone: ").to_string();
            ApiError::invalid("schedule_timezone", message)
        }
    })
}

fn retention(v: &Value) -> ApiResult<RetentionPolicy> {
    let policy: RetentionPolicy = serde_path_to_error::deserialize(v.clone()).map_err(|e| {
        // The path names an unknown field too (`retention_policy.max_backup`).
        let path = e.path().to_string();
        let field = if path == "." {
            "retention_policy".to_string()
        } else {
            format!("retention_policy.{path}")
        };
        ApiError::invalid(field, e.inner().to_string())
    })?;
    policy.validate().map_err(ApiError::field)?;
    Ok(policy)
}

fn options(v: &Value) -> ApiResult<BackupOptions> {
    crate::workers::options::parse(v).map_err(ApiError::field)
}

/// Resolves and checks the storages of a job.
async fn storages(
    state: &AppState,
    one: Option<String>,
    many: Option<Vec<String>>,
) -> ApiResult<Vec<String>> {
    let ids = match (one, many) {
        (_, Some(ids)) if !ids.is_empty() => ids,
        (_, Some(_)) => {
            return Err(ApiError::invalid(
                "storage_location_ids",
                "must list at least one storage",
            ))
        }
        (Some(id), None) => vec![id],
        (None, None) => {
            let all = store::storages::all(&state.db).await?;
            match all.into_iter().find(|s| s.is_default) {
                Some(s) => vec![s.id],
                None => {
                    return Err(ApiError::invalid(
                        "storage_location_id",
                        "is required (no default storage location is set)",
                    ))
                }
            }
        }
    };
    for (i, id) in ids.iter().enumerate() {
        if store::storages::get(&state.db, id).await?.is_none() {
            let field = if ids.len() == 1 {
                "storage_location_id".to_string()
            } else {
                format!("storage_location_ids[{i}]")
            };
            return Err(ApiError::invalid(
                field,
                format!("storage location `{id}` does not exist"),
            ));
        }
        if ids[..i].contains(id) {
            return Err(ApiError::invalid(
                format!("storage_location_ids[{i}]"),
                "is listed twice",
            ));
        }
    }
    Ok(ids)
}

/// The job's strategy, `fallback` when not given.
fn strategy(s: Option<String>) -> ApiResult<StorageStrategy> {
    let Some(s) = s else {
        return Ok(StorageStrategy::Fallback);
    };
    s.parse().map_err(|_| {
        ApiError::invalid(
            "storage_strategy",
            format!(
                "`{s}`: expected {}",
                crate::domain::either(StorageStrategy::ALL)
            ),
        )
    })
}

async fn check_datasource(state: &AppState, id: &str) -> ApiResult<()> {
    match store::datasources::get(&state.db, id).await? {
        Some(_) => Ok(()),
        None => Err(ApiError::invalid(
            "datasource_id",
            format!("datasource `{id}` does not exist"),
        )),
    }
}

/// `backup_options.databases` needs a datasource that selects databases
/// by name (a `database` field), not a file or a folder.
async fn check_databases_option(
    state: &AppState,
    datasource_id: &str,
    options: &BackupOptions,
) -> ApiResult<()> {
    if options.databases.is_none() {
        return Ok(());
    }
    let Some(ds) = store::datasources::get(&state.db, datasource_id).await? else {
        return Ok(());
    };
    if ds.connection_config.0.get("database").is_none() {
        return Err(ApiError::invalid(
            "backup_options.databases",
            format!(
                "datasource `{}` ({}) has no databases to choose from: it names no `database`",
                ds.name, ds.kind
            ),
        ));
    }
    Ok(())
}

fn next_run(enabled: bool, s: &Schedule) -> Option<DateTime<Utc>> {
    enabled.then(|| s.next_after(store::now())).flatten()
}

async fn load(state: &AppState, id: &str) -> ApiResult<BackupJob> {
    store::jobs::get(&state.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found("backup job", id))
}

async fn view(state: &AppState, job: BackupJob) -> ApiResult<JobView> {
    let storage_location_ids = store::jobs::storage_ids(&state.db, &job.id).await?;
    Ok(JobView {
        job,
        storage_location_ids,
    })
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub datasource_id: Option<String>,
    pub enabled: Option<bool>,
    pub search: Option<String>,
    #[param(minimum = 1, maximum = 1000000)]
    pub page: Option<i64>,
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

#[utoipa::path(get, path = "/api/backup-jobs", tag = "backup-jobs", params(ListQuery),
    responses((status = 200, body = Page<JobView>)))]
pub async fn list(
    State(state): State<AppState>,
    ValidQuery(q): ValidQuery<ListQuery>,
) -> ApiResult<Json<Page<JobView>>> {
    let (limit, offset, page) = PageQuery {
        page: q.page,
        limit: q.limit,
    }
    .resolve()?;
    let mut f = Filter::default();
    if let Some(d) = q.datasource_id {
        f.push("datasource_id = ?", Param::Text(d));
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
    let (rows, total) = store::jobs::list(&state.db, &f, limit, offset).await?;
    let mut data = Vec::with_capacity(rows.len());
    for job in rows {
        data.push(view(&state, job).await?);
    }
    Ok(Json(Page::new(data, total, page, limit)))
}

#[utoipa::path(post, path = "/api/backup-jobs", tag = "backup-jobs", request_body = CreateJob,
    responses((status = 201, body = JobView), (status = 422, body = super::error::ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    ValidJson(input): ValidJson<CreateJob>,
) -> ApiResult<(StatusCode, Json<JobView>)> {
    let name = super::limits::name("name", &input.name)?;
    check_datasource(&state, &input.datasource_id).await?;
    let tz = input.schedule_timezone.unwrap_or_else(|| "UTC".into());
    let sched = schedule(&input.schedule_cron, &tz)?;
    let retention_value = input
        .retention_policy
        .unwrap_or_else(|| Value::Object(Default::default()));
    let policy = retention(&retention_value)?;
    let options_value = input
        .backup_options
        .unwrap_or_else(|| Value::Object(Default::default()));
    let opts = options(&options_value)?;
    check_databases_option(&state, &input.datasource_id, &opts).await?;
    let strategy = strategy(input.storage_strategy)?;
    let storage_ids = storages(
        &state,
        input.storage_location_id,
        input.storage_location_ids,
    )
    .await?;
    let at = store::now();
    let job = BackupJob {
        id: store::new_id(),
        name,
        datasource_id: input.datasource_id,
        storage_location_id: storage_ids[0].clone(),
        storage_strategy: strategy,
        schedule_cron: input.schedule_cron.trim().to_string(),
        schedule_timezone: sched.timezone_name().to_string(),
        enabled: input.enabled,
        retention_policy: SqlJson(policy),
        backup_options: SqlJson(opts),
        last_execution_at: None,
        next_execution_at: next_run(input.enabled, &sched),
        created_at: at,
        updated_at: at,
    };
    store::jobs::insert(&state.db, &job, &storage_ids).await?;
    Ok((StatusCode::CREATED, Json(view(&state, job).await?)))
}

#[utoipa::path(get, path = "/api/backup-jobs/{id}", tag = "backup-jobs",
    responses((status = 200, body = JobView), (status = 404, body = super::error::ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<JobView>> {
    let job = load(&state, &id).await?;
    Ok(Json(view(&state, job).await?))
}

#[utoipa::path(put, path = "/api/backup-jobs/{id}", tag = "backup-jobs", request_body = UpdateJob,
    responses((status = 200, body = JobView)))]
pub async fn update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ValidJson(input): ValidJson<UpdateJob>,
) -> ApiResult<Json<JobView>> {
    let mut job = load(&state, &id).await?;
    if let Some(name) = input.name {
        job.name = super::limits::name("name", &name)?;
    }
    if let Some(d) = input.datasource_id {
        check_datasource(&state, &d).await?;
        job.datasource_id = d;
    }
    let storage_ids = if input.storage_location_id.is_some() || input.storage_location_ids.is_some()
    {
        storages(
            &state,
            input.storage_location_id,
            input.storage_location_ids,
        )
        .await?
    } else {
        store::jobs::storage_ids(&state.db, &id).await?
    };
    job.storage_location_id = storage_ids[0].clone();
    if input.storage_strategy.is_some() {
        job.storage_strategy = strategy(input.storage_strategy)?;
    }
    let rescheduled = input.schedule_cron.is_some()
        || input.schedule_timezone.is_some()
        || input.enabled.is_some();
    if let Some(c) = input.schedule_cron {
        job.schedule_cron = c.trim().to_string();
    }
    if let Some(tz) = input.schedule_timezone {
        job.schedule_timezone = tz;
    }
    if let Some(e) = input.enabled {
        job.enabled = e;
    }
    let sched = schedule(&job.schedule_cron, &job.schedule_timezone)?;
    job.schedule_timezone = sched.timezone_name().to_string();
    if rescheduled {
        job.next_execution_at = next_run(job.enabled, &sched);
    }
    if let Some(r) = input.retention_policy {
        let policy = retention(&r)?;
        job.retention_policy = SqlJson(policy);
    }
    if let Some(o) = input.backup_options {
        let opts = options(&o)?;
        job.backup_options = SqlJson(opts);
    }
    let opts = job.backup_options.0.clone();
    check_databases_option(&state, &job.datasource_id, &opts).await?;
    job.updated_at = store::now();
    store::jobs::update(&state.db, &job, &storage_ids, rescheduled).await?;
    Ok(Json(view(&state, load(&state, &id).await?).await?))
}

/// Delete a job. Its backups stay (listed under their datasource) until
/// deleted explicitly; refused while one of its executions is active.
#[utoipa::path(delete, path = "/api/backup-jobs/{id}", tag = "backup-jobs",
    responses((status = 204), (status = 409, body = super::error::ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    load(&state, &id).await?;
    if executions::active_for_job(&state.db, &id).await? > 0 {
        return Err(ApiError::conflict(
            "the job has a queued or running execution; cancel it first",
        ));
    }
    store::jobs::delete(&state.db, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Queue a backup now, ahead of scheduled ones. A job runs one backup at
/// a time: 409 while one is queued or running.
#[utoipa::path(post, path = "/api/backup-jobs/{id}/run", tag = "backup-jobs",
    responses((status = 202, body = super::executions::ExecutionAccepted), (status = 404, body = super::error::ErrorBody),
        (status = 409, body = super::error::ErrorBody)))]
pub async fn run(
    State(state): State<AppState>,
    RequestActor(actor): RequestActor,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<super::executions::ExecutionAccepted>)> {
    let execution = dg_app::usecases::executions::run_job(&state, &actor, &id).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(super::executions::ExecutionAccepted::from(&execution)),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ExecutionsQuery {
    #[param(value_type = Option<ExecutionStatus>)]
    pub status: Option<String>,
    /// `backup` (default), `restore`, `verification` or `all`: a job's
    /// history is its backups unless asked otherwise.
    #[param(pattern = "^(backup|restore|verification|all)$")]
    pub operation: Option<String>,
    #[param(minimum = 1, maximum = 1000000)]
    pub page: Option<i64>,
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

#[utoipa::path(get, path = "/api/backup-jobs/{id}/executions", tag = "backup-jobs",
    params(ExecutionsQuery), responses((status = 200, body = Page<super::executions::ExecutionView>)))]
pub async fn executions(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ValidQuery(q): ValidQuery<ExecutionsQuery>,
) -> ApiResult<Json<Page<super::executions::ExecutionView>>> {
    load(&state, &id).await?;
    let (limit, offset, page) = PageQuery {
        page: q.page,
        limit: q.limit,
    }
    .resolve()?;
    let mut f = Filter::default();
    f.push("job_id = ?", Param::Text(id));
    if let Some(s) = q.status {
        let s = super::executions::check_status(&s)?;
        f.push("status = ?", Param::Text(s.to_string()));
    }
    // `all` is the one value of this filter that is not an operation.
    match q.operation.as_deref() {
        Some("all") => {}
        o => {
            let o = match o {
                Some(o) => super::executions::check_operation(o)?,
                None => Operation::Backup,
            };
            f.push("operation = ?", Param::Text(o.to_string()));
        }
    }
    let (rows, total) = executions::list(&state.db, &f, limit, offset).await?;
    Ok(Json(
        super::executions::ExecutionView::page(&state, rows, total, page, limit).await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DryRunRequest {
    /// A policy to try instead of the job's own.
    #[schema(value_type = Option<Object>)]
    pub retention_policy: Option<Value>,
}

/// What retention would delete now, without deleting anything.
#[utoipa::path(post, path = "/api/backup-jobs/{id}/retention/dry-run", tag = "backup-jobs",
    request_body(content = DryRunRequest, description = "optional"),
    responses((status = 200, body = CleanupReport)))]
pub async fn retention_dry_run(
    State(state): State<AppState>,
    Path(id): Path<String>,
    OptionalJson(request): OptionalJson<DryRunRequest>,
) -> ApiResult<Json<CleanupReport>> {
    let mut job = load(&state, &id).await?;
    if let Some(r) = request.and_then(|r| r.retention_policy) {
        let policy = retention(&r)?;
        job.retention_policy = SqlJson(policy);
    }
    Ok(Json(cleanup::apply_job(&state, &job, true).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SchedulePreviewQuery {
    /// A cron expression as a job would take it.
    pub schedule_cron: String,
    /// An IANA timezone name; UTC when absent.
    pub schedule_timezone: Option<String>,
    /// How many runs (1–20, default 5).
    #[param(minimum = 1, maximum = 20)]
    pub count: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SchedulePreview {
    pub schedule_cron: String,
    pub schedule_timezone: String,
    /// The next runs, as UTC instants, computed exactly as the scheduler does.
    pub next_runs: Vec<DateTime<Utc>>,
}

/// The next runs of a schedule, before a job is saved (the UI's cron
/// field previews them as the operator types). Errors name
/// `schedule_cron` or `schedule_timezone` as creating the job would.
#[utoipa::path(get, path = "/api/backup-jobs/schedule-preview", tag = "backup-jobs",
    params(SchedulePreviewQuery),
    responses((status = 200, body = SchedulePreview)))]
pub async fn schedule_preview(
    ValidQuery(query): ValidQuery<SchedulePreviewQuery>,
) -> ApiResult<Json<SchedulePreview>> {
    let timezone = query.schedule_timezone.unwrap_or_else(|| "UTC".into());
    let count = query.count.unwrap_or(5);
    if !(1..=20).contains(&count) {
        return Err(ApiError::invalid("count", "must be between 1 and 20"));
    }
    let parsed = schedule(&query.schedule_cron, &timezone)?;
    Ok(Json(SchedulePreview {
        next_runs: parsed.upcoming(store::now(), count as usize),
        schedule_cron: query.schedule_cron,
        schedule_timezone: timezone,
    }))
}
