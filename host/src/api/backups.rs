//! `/api/backups`: completed backups grouped by datasource, with the
//! availability of each copy, and restores (including verification).

use super::error::{ApiError, ApiResult};
use super::extract::{RequestActor, ValidJson};
use crate::domain::{
    CopyAvailability, CopyStatus, DatasourceHealth, ExecutionStatus, Operation, Trigger,
};
use crate::pipeline;
use crate::server::state::AppState;
use crate::server::targets;
use crate::store::rows::{Datasource, Execution};
use crate::store::{self, executions, Filter, Param};
use crate::workers::restore::{Jobs, RestoreSpec};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct DatasourceBackups {
    pub datasource_id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub status: DatasourceHealth,
    pub backups: i64,
    pub last_backup_at: Option<DateTime<Utc>>,
}

/// Datasources that have completed backups.
#[utoipa::path(get, path = "/api/backups/datasources", tag = "backups",
    responses((status = 200, body = super::page::Page<DatasourceBackups>)))]
pub async fn datasources(
    State(state): State<AppState>,
) -> ApiResult<Json<super::page::Page<DatasourceBackups>>> {
    let mut out = Vec::new();
    for (id, count, last) in executions::backed_up_datasources(&state.db).await? {
        if let Some(ds) = store::datasources::get(&state.db, &id).await? {
            out.push(DatasourceBackups {
                datasource_id: id,
                name: ds.name,
                kind: ds.kind,
                status: ds.status,
                backups: count,
                last_backup_at: last,
            });
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Json(super::page::Page::whole(out)))
}

/// One copy of a backup.
#[derive(Debug, Serialize, ToSchema)]
pub struct Copy {
    pub storage_location_id: String,
    pub storage_name: String,
    pub availability: CopyAvailability,
    pub backup_path: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BackupEntry {
    #[serde(flatten)]
    pub execution: Execution,
    pub copies: Vec<Copy>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DatasourceBackupList {
    pub datasource_id: String,
    pub name: String,
    pub backups: Vec<BackupEntry>,
}

/// Completed backups of a datasource, newest first, each copy checked in
/// its storage (the manifest must be there).
#[utoipa::path(get, path = "/api/backups/datasources/{datasource_id}", tag = "backups",
    responses((status = 200, body = DatasourceBackupList)))]
pub async fn for_datasource(
    State(state): State<AppState>,
    Path(datasource_id): Path<String>,
) -> ApiResult<Json<DatasourceBackupList>> {
    let ds = super::datasources::load(&state, &datasource_id).await?;
    let mut f = Filter::default();
    f.push("datasource_id = ?", Param::Text(datasource_id.clone()))
        .push("operation = ?", Param::Text(Operation::Backup.to_string()))
        .push(
            "status = ?",
            Param::Text(ExecutionStatus::Completed.to_string()),
        );
    let (rows, _) = executions::list(&state.db, &f, 500, 0).await?;
    let mut backups = Vec::with_capacity(rows.len());
    for e in rows {
        let mut copies = Vec::new();
        let mut ids: Vec<(String, Option<String>)> = Vec::new();
        for s in executions::storages(&state.db, &e.id).await? {
            if s.status == CopyStatus::Completed {
                ids.push((s.storage_location_id, s.backup_path));
            }
        }
        if ids.is_empty() {
            if let Some(primary) = &e.storage_location_id {
                ids.push((primary.clone(), e.backup_path.clone()));
            }
        }
        let chunks = executions::chunks(&state.db, &e.id).await?;
        // The parts by their name inside the backup's folder (every copy
        // has the same layout).
        let parts: Vec<(String, u64)> = chunks
            .iter()
            .map(|c| {
                let name = e
                    .backup_path
                    .as_deref()
                    .and_then(|p| c.file_path.strip_prefix(&format!("{p}/")))
                    .unwrap_or(&c.file_path);
                (name.to_string(), u64::try_from(c.size_bytes).unwrap_or(0))
            })
            .collect();
        for (sid, path) in ids {
            let path = path.or_else(|| e.backup_path.clone());
            copies.push(availability(&state, &sid, path, &parts).await?);
        }
        backups.push(BackupEntry {
            execution: e,
            copies,
        });
    }
    Ok(Json(DatasourceBackupList {
        datasource_id,
        name: ds.name,
        backups,
    }))
}

/// Whether a copy is there: its manifest and every part at the size
/// recorded (checksums are checked by a restore or retry-upload, not
/// here: this listing stays cheap).
async fn availability(
    state: &AppState,
    sid: &str,
    path: Option<String>,
    parts: &[(String, u64)],
) -> ApiResult<Copy> {
    let Some(row) = store::storages::get(&state.db, sid).await? else {
        return Ok(Copy {
            storage_location_id: sid.to_string(),
            storage_name: String::new(),
            availability: CopyAvailability::Unknown,
            backup_path: path,
        });
    };
    let availability = match (
        &path,
        targets::storage_for(state, &row, crate::plugin::tracing_sink()).await,
    ) {
        (None, _) => CopyAvailability::Unknown,
        (Some(_), Err(_)) => CopyAvailability::Unreachable,
        (Some(p), Ok(client)) => copy_state(&client, p, parts).await,
    };
    Ok(Copy {
        storage_location_id: row.id,
        storage_name: row.name,
        availability,
        backup_path: path,
    })
}

/// A copy's availability: `missing` when its manifest or any part is
/// gone or has another size than recorded.
async fn copy_state(
    client: &crate::plugin::StorageClient,
    prefix: &str,
    parts: &[(String, u64)],
) -> CopyAvailability {
    use crate::pipeline::replicate::{presence, Presence};
    let parts: Vec<(&str, u64)> = parts.iter().map(|(f, s)| (f.as_str(), *s)).collect();
    match presence(client, prefix, &parts).await {
        Presence::Whole => CopyAvailability::Available,
        Presence::Incomplete => CopyAvailability::Missing,
        Presence::Unreachable => CopyAvailability::Unreachable,
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RestoreRequest {
    /// Datasource to restore into; defaults to the backup's own.
    pub target_datasource_id: Option<String>,
    /// Storage to read from; defaults to any storage holding the backup.
    pub storage_location_id: Option<String>,
    /// Restore into a scratch database, compare its row counts with those
    /// recorded at backup time, drop it. Touches no live data.
    #[serde(default)]
    pub verification_mode: bool,
    /// Required (true) for any restore that writes into a datasource:
    /// acknowledges that the backup's objects are written into it.
    #[serde(default)]
    pub confirm_overwrite: bool,
    /// Drop the target's objects of the same names first (engines that
    /// support it; PostgreSQL `--clean --if-exists`). Without it, a restore
    /// into a database that already holds the objects fails on the first
    /// one, and commits nothing.
    #[serde(default)]
    pub drop_existing: bool,
    /// For a backup of several databases: which one to restore (its name
    /// inside the backup). Required for such backups, refused for others.
    pub database: Option<String>,
    /// Restore into this database of the target server instead of the
    /// one the datasource names (or, for a backup of several databases,
    /// instead of `database`'s own name). Created when it does not exist.
    pub target_database: Option<String>,
    /// Parallel restore (engines that support it: PostgreSQL). 1 (the
    /// default): one stream, one transaction, all or nothing. N > 1 or
    /// `"auto"` (the cores of the node that runs it): the backup is
    /// verified into a spool file, then loaded with `pg_restore --jobs N`,
    /// which cannot be one transaction — so only into an empty database
    /// (or one created for the restore, which is dropped again if it
    /// fails), or with `drop_existing` (a failure then leaves it partly
    /// restored). See docs/API.md.
    #[schema(schema_with = jobs_schema)]
    pub jobs: Option<Value>,
}

fn jobs_schema() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, SchemaType, Type};
    let one_of = OneOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(SchemaType::Type(Type::Integer))
                .minimum(Some(1))
                .maximum(Some(pipeline::MAX_JOBS)),
        )
        .item(
            ObjectBuilder::new()
                .schema_type(SchemaType::Type(Type::String))
                .enum_values(Some(["auto"])),
        )
        .build();
    Schema::OneOf(one_of)
}

/// The `jobs` of a restore as stored on the execution (a number, or
/// `"auto"`, resolved by the node that runs it); 422s name the field and
/// say why: an engine that restores from one stream only, or a spool over
/// the cap or the free space.
fn check_jobs(
    state: &AppState,
    source: &Execution,
    target: &Datasource,
    input: &RestoreRequest,
) -> ApiResult<Option<Jobs>> {
    let requested = match &input.jobs {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) if s == "auto" => (Jobs::Word("auto".into()), pipeline::auto_jobs()),
        Some(Value::Number(n)) => match super::extract::whole_number(n.clone())
            .ok()
            .and_then(|n| u32::try_from(n).ok())
        {
            Some(n) if (1..=pipeline::MAX_JOBS).contains(&n) => (Jobs::Count(n), n),
            _ => return Err(jobs_invalid()),
        },
        Some(_) => return Err(jobs_invalid()),
    };
    let (stored, jobs) = requested;
    if stored == Jobs::Count(1) {
        return Ok(Some(stored));
    }
    if !state.plugins.restores_in_parallel(&target.kind) {
        return Err(ApiError::invalid(
            "jobs",
            format!(
                "the `{}` engine restores from one stream only; leave jobs out or send 1",
                target.kind
            ),
        ));
    }
    if jobs > 1 {
        let needed = spooled_size(source, input.database.as_deref());
        state
            .config
            .restore_spool
            .check_room(needed)
            .map_err(|m| ApiError::invalid("jobs", m))?;
    }
    Ok(Some(stored))
}

fn jobs_invalid() -> ApiError {
    ApiError::invalid(
        "jobs",
        format!(
            "must be a whole number from 1 to {} or \"auto\"",
            pipeline::MAX_JOBS
        ),
    )
}

/// Whether the restore creates its target database (`target_database`
/// that the target's server does not list): nothing is overwritten then,
/// so no confirmation is asked. When the server cannot be asked, the
/// answer is no (ask for confirmation).
async fn creates_target_database(
    state: &AppState,
    target: &Datasource,
    target_database: Option<&str>,
) -> bool {
    let Some(name) = target_database else {
        return false;
    };
    let Ok(engine) = targets::engine_for(state, target, crate::plugin::tracing_sink()).await else {
        return false;
    };
    match engine.list_databases().await {
        Ok(listed) => !listed.iter().any(|d| d == name),
        Err(_) => false,
    }
}

/// Uncompressed bytes a parallel restore of `source` spools: the chosen
/// database's artifact of a several-databases backup, else the backup's.
fn spooled_size(source: &Execution, database: Option<&str>) -> u64 {
    let of_database = database.and_then(|name| {
        source
            .metadata
            .0
            .get("databases")?
            .as_array()?
            .iter()
            .find(|d| d.get("name").and_then(Value::as_str) == Some(name))?
            .get("size_bytes")?
            .as_u64()
    });
    of_database
        .or_else(|| source.size_bytes.and_then(|b| u64::try_from(b).ok()))
        .unwrap_or(0)
}

/// `database` names a stored database of a several-databases backup (and
/// only then); `target_database` needs a target that selects databases.
fn check_database_choice(
    source: &Execution,
    target: &Datasource,
    input: &RestoreRequest,
) -> ApiResult<()> {
    let stored: Option<Vec<&str>> = source
        .metadata
        .0
        .get("databases")
        .and_then(Value::as_array)
        .map(|dbs| {
            dbs.iter()
                .filter(|d| {
                    d.get("status").and_then(Value::as_str)
                        == Some(ExecutionStatus::Completed.as_str())
                })
                .filter_map(|d| d.get("name").and_then(Value::as_str))
                .collect()
        });
    match (&stored, &input.database) {
        (Some(names), None) => {
            return Err(ApiError::invalid(
                "database",
                format!(
                    "is required: this backup holds several databases ({})",
                    names.join(", ")
                ),
            ))
        }
        (Some(names), Some(name)) if !names.contains(&name.as_str()) => {
            return Err(ApiError::invalid(
                "database",
                format!(
                    "`{name}` is not a stored database of this backup; it holds: {}",
                    names.join(", ")
                ),
            ))
        }
        (None, Some(_)) => {
            return Err(ApiError::invalid(
                "database",
                "applies only to a backup of several databases; this one holds one",
            ))
        }
        _ => {}
    }
    if let Some(name) = &input.target_database {
        if input.verification_mode {
            return Err(ApiError::invalid(
                "target_database",
                "does not apply to verification_mode, which restores into a scratch database",
            ));
        }
        if name.trim().is_empty() || name.len() > 128 || name.chars().any(char::is_control) {
            return Err(ApiError::invalid(
                "target_database",
                "must be 1-128 characters without control characters",
            ));
        }
        if target.connection_config.0.get("database").is_none() {
            return Err(ApiError::invalid(
                "target_database",
                format!(
                    "datasource `{}` ({}) has no `database` to replace",
                    target.name, target.kind
                ),
            ));
        }
    }
    Ok(())
}

/// Queue a restore (or a verification restore) of a completed backup.
#[utoipa::path(post, path = "/api/backups/{execution_id}/restore", tag = "backups",
    request_body = RestoreRequest,
    responses((status = 202, body = super::executions::ExecutionAccepted), (status = 422, body = super::error::ErrorBody)))]
pub async fn restore(
    State(state): State<AppState>,
    RequestActor(actor): RequestActor,
    Path(execution_id): Path<String>,
    ValidJson(input): ValidJson<RestoreRequest>,
) -> ApiResult<(StatusCode, Json<super::executions::ExecutionAccepted>)> {
    let source = super::executions::load(&state, &execution_id).await?;
    super::executions::require_completed_backup(&source)?;
    let target_id = match input
        .target_datasource_id
        .clone()
        .or(source.datasource_id.clone())
    {
        Some(id) => id,
        None => {
            return Err(ApiError::invalid(
                "target_datasource_id",
                "is required: the backup's datasource was deleted",
            ))
        }
    };
    let target = store::datasources::get(&state.db, &target_id)
        .await?
        .ok_or_else(|| {
            ApiError::invalid(
                "target_datasource_id",
                format!("datasource `{target_id}` does not exist"),
            )
        })?;
    let made_by = source
        .metadata
        .0
        .get("datasource_type")
        .and_then(|v| v.as_str());
    if let Some(made_by) = made_by.filter(|t| *t != target.kind) {
        return Err(ApiError::invalid(
            "target_datasource_id",
            format!(
                "datasource `{}` is of type `{}` but this is a `{made_by}` backup",
                target.name, target.kind
            ),
        ));
    }
    if let Some(sid) = &input.storage_location_id {
        if store::storages::get(&state.db, sid).await?.is_none() {
            return Err(ApiError::invalid(
                "storage_location_id",
                format!("storage location `{sid}` does not exist"),
            ));
        }
    }
    check_database_choice(&source, &target, &input)?;
    let jobs = check_jobs(&state, &source, &target, &input)?;
    if !input.verification_mode
        && !input.confirm_overwrite
        && !creates_target_database(&state, &target, input.target_database.as_deref()).await
    {
        return Err(ApiError::invalid(
            "confirm_overwrite",
            format!(
                "must be true to restore into {}: the backup's objects are written into it{}; \
                 use verification_mode to test the backup without touching it",
                match &input.target_database {
                    Some(db) => format!("database `{db}` of datasource `{}`", target.name),
                    None => format!("datasource `{}`", target.name),
                },
                if input.drop_existing {
                    " after the objects it already has of the same names are dropped \
                     (drop_existing)"
                } else if target.kind == "postgres" {
                    " (objects that already exist are not dropped first: PostgreSQL stops at \
                     the first one and commits nothing; add drop_existing to replace them)"
                } else {
                    " (objects that already exist are not dropped first, and the restore may \
                     stop at the first one after writing what came before it; add \
                     drop_existing to replace them)"
                }
            ),
        ));
    }
    let operation = if input.verification_mode {
        Operation::Verification
    } else {
        Operation::Restore
    };
    let mut execution = executions::queued(operation, Trigger::Manual);
    execution.job_id = source.job_id.clone();
    execution.datasource_id = Some(target.id.clone());
    execution.storage_location_id = input.storage_location_id.clone();
    execution.source_execution_id = Some(source.id.clone());
    let spec = RestoreSpec {
        operation,
        verification_mode: input.verification_mode,
        drop_existing: input.drop_existing,
        source_checksum: source.checksum.clone(),
        database: input.database.clone(),
        target_database: input.target_database.clone(),
        jobs,
    };
    execution.metadata = sqlx::types::Json(spec.to_metadata());
    dg_app::usecases::executions::submit(&state, &actor, &execution).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(super::executions::ExecutionAccepted::from(&execution)),
    ))
}
