//! `/api/storage-locations`: CRUD, tests and the storage explorer (list,
//! copy, delete, download through the storage plugin).

use super::error::{ApiError, ApiResult};
use super::extract::{ValidJson, ValidQuery};
use super::page::{Page, PageQuery};
use super::stream;
use crate::plugin::PluginKind;
use crate::server::state::AppState;
use crate::server::targets;
use crate::store::rows::{StorageHealthCheck, StorageLocation};
use crate::store::sealed::SealedJson;
use crate::store::{self, Filter, Param};
use crate::workers::health;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Serialize, ToSchema)]
pub struct StorageView {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[schema(value_type = Object)]
    pub config: Value,
    pub is_default: bool,
    pub status: crate::domain::StorageHealth,
    pub available_space_gb: Option<f64>,
    pub last_health_check_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<StorageLocation> for StorageView {
    fn from(s: StorageLocation) -> Self {
        Self {
            config: targets::redact(&s.config.0),
            id: s.id,
            name: s.name,
            kind: s.kind,
            is_default: s.is_default,
            status: s.status,
            available_space_gb: s.available_space_gb,
            last_health_check_at: s.last_health_check_at,
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateStorage {
    /// 1-100 characters, not blank, no control or bidirectional-override characters.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069]*[^\\s\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069][^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069]*$"
    )]
    pub name: String,
    /// Storage type: `local`... (see `/api/plugins`).
    #[serde(rename = "type")]
    pub kind: String,
    /// `{path}` (absolute) for local storage.
    #[schema(value_type = Object)]
    pub config: Value,
    #[serde(default)]
    pub is_default: bool,
    /// Create the root directory (0700) if it does not exist. Otherwise a
    /// missing root is refused: it is never created later, so that an
    /// unmounted disk shows as unreachable instead of filling the disk
    /// under its mount point.
    #[serde(default)]
    pub create_root: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateStorage {
    /// 1-100 characters, not blank, no control or bidirectional-override characters.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069]*[^\\s\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069][^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069]*$"
    )]
    pub name: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub config: Option<Value>,
    pub is_default: Option<bool>,
    /// As for creation: create a new root that does not exist yet.
    #[serde(default)]
    pub create_root: bool,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub kind: Option<String>,
    pub status: Option<String>,
    #[param(minimum = 1, maximum = 1000000)]
    pub page: Option<i64>,
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

/// A storage configuration: bounded, accepted by its plugin, and its
/// directories (a local root) within the path policy, clear of the data
/// dir, of other storages and of datasource paths, and not a file.
async fn check_storage_config(
    state: &AppState,
    kind: &str,
    config: &Value,
    own_id: Option<&str>,
) -> ApiResult<Value> {
    super::limits::config("config", config)?;
    let plugin = state
        .plugins
        .find(PluginKind::Storage, kind)
        .map_err(|e| ApiError::invalid("type", e.to_string()))?;
    if kind == "local" && config.get("path").and_then(Value::as_str).is_none() {
        return Err(ApiError::invalid(
            "config.path",
            "is required for local storage",
        ));
    }
    let resolved = targets::confine_storage(state, kind, config, own_id, true).await?;
    let (plain, _) = targets::split_secrets(config);
    let client = crate::plugin::StorageClient::new(
        state.plugins.runtime().clone(),
        plugin,
        crate::plugin::client::Target::new(plain, crate::plugin::tracing_sink()),
    );
    client.validate_config().await.map_err(|e| {
        let message = match &e {
            crate::plugin::CallError::Plugin { message, .. } => message.clone(),
            other => other.to_string(),
        };
        ApiError::plugin_config("config", &message)
    })?;
    Ok(resolved)
}

/// A storage root must exist when it is saved, or be created now on
/// request (`create_root`).
fn prepare_roots(state: &AppState, kind: &str, config: &Value, create: bool) -> ApiResult<()> {
    for (key, dir) in targets::storage_dirs(state, kind, config)? {
        if dir.is_dir() {
            continue;
        }
        let field = format!("config.{key}");
        if !create {
            return Err(ApiError::invalid(
                field,
                format!(
                    "{} does not exist; create it (and mount its disk), or send \
                     \"create_root\": true to have it created now",
                    dir.display()
                ),
            ));
        }
        crate::private::dir(&dir)
            .map_err(|e| ApiError::invalid(field, format!("creating {}: {e}", dir.display())))?;
    }
    Ok(())
}

pub(crate) async fn load(state: &AppState, id: &str) -> ApiResult<StorageLocation> {
    store::storages::get(&state.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found("storage location", id))
}

async fn client(state: &AppState, s: &StorageLocation) -> ApiResult<crate::plugin::StorageClient> {
    Ok(targets::storage_for(state, s, crate::plugin::tracing_sink()).await?)
}

/// List storage locations.
#[utoipa::path(get, path = "/api/storage-locations", tag = "storage", params(ListQuery),
    responses((status = 200, body = Page<StorageView>)))]
pub async fn list(
    State(state): State<AppState>,
    ValidQuery(q): ValidQuery<ListQuery>,
) -> ApiResult<Json<Page<StorageView>>> {
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
    let (rows, total) = store::storages::list(&state.db, &f, limit, offset).await?;
    Ok(Json(Page::new(
        rows.into_iter().map(Into::into).collect(),
        total,
        page,
        limit,
    )))
}

/// Register a storage location.
#[utoipa::path(post, path = "/api/storage-locations", tag = "storage", request_body = CreateStorage,
    responses((status = 201, body = StorageView), (status = 422, body = super::error::ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    ValidJson(input): ValidJson<CreateStorage>,
) -> ApiResult<(StatusCode, Json<StorageView>)> {
    targets::refuse_placeholders(&input.config).map_err(|refusal| {
        let (field, message) = refusal.to_api("config");
        ApiError::invalid(field, message)
    })?;
    let name = super::limits::name("name", &input.name)?;
    let resolved = check_storage_config(&state, &input.kind, &input.config, None).await?;
    prepare_roots(&state, &input.kind, &resolved, input.create_root)?;
    let at = store::now();
    let row = StorageLocation {
        id: store::new_id(),
        name,
        kind: input.kind,
        config: SealedJson(input.config),
        is_default: input.is_default,
        status: crate::domain::StorageHealth::Unknown,
        available_space_gb: None,
        last_health_check_at: None,
        created_at: at,
        updated_at: at,
    };
    store::storages::insert(&state.db, &row).await?;
    Ok((StatusCode::CREATED, Json(row.into())))
}

#[utoipa::path(get, path = "/api/storage-locations/{id}", tag = "storage",
    responses((status = 200, body = StorageView), (status = 404, body = super::error::ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<StorageView>> {
    Ok(Json(load(&state, &id).await?.into()))
}

#[utoipa::path(put, path = "/api/storage-locations/{id}", tag = "storage", request_body = UpdateStorage,
    responses((status = 200, body = StorageView)))]
pub async fn update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ValidJson(input): ValidJson<UpdateStorage>,
) -> ApiResult<Json<StorageView>> {
    let mut row = load(&state, &id).await?;
    if let Some(name) = input.name {
        row.name = super::limits::name("name", &name)?;
    }
    let kind = input.kind.unwrap_or(row.kind.clone());
    let mut config = input.config.unwrap_or_else(|| row.config.0.clone());
    targets::merge_secrets(&mut config, &row.config.0).map_err(|refusal| {
        let (field, message) = refusal.to_api("config");
        ApiError::invalid(field, message)
    })?;
    let resolved = check_storage_config(&state, &kind, &config, Some(&id)).await?;
    if kind != row.kind || config != row.config.0 {
        prepare_roots(&state, &kind, &resolved, input.create_root)?;
    }
    let moved = kind != row.kind || config.get("path") != row.config.0.get("path");
    if moved {
        let held = store::executions::backups_on_storage(&state.db, &id).await?;
        if held > 0 {
            return Err(ApiError::conflict(format!(
                "storage location `{id}` holds {held} backup(s): its type and path cannot change \
                 (they would be lost to their records); create a new storage instead"
            )));
        }
    }
    row.kind = kind;
    row.config = SealedJson(config);
    if let Some(d) = input.is_default {
        row.is_default = d;
    }
    row.updated_at = store::now();
    store::storages::update(&state.db, &row).await?;
    Ok(Json(row.into()))
}

/// Delete a storage location no job uses.
#[utoipa::path(delete, path = "/api/storage-locations/{id}", tag = "storage",
    responses((status = 204), (status = 409, body = super::error::ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let storage = load(&state, &id).await?;
    let used = store::jobs::all(&state.db).await?;
    let mut users = Vec::new();
    for job in used {
        if store::jobs::storage_ids(&state.db, &job.id)
            .await?
            .contains(&id)
        {
            users.push(job.name);
        }
    }
    if !users.is_empty() {
        return Err(ApiError::conflict(format!(
            "storage location `{}` is used by backup job(s) {}; change them first",
            storage.name,
            users.join(", ")
        )));
    }
    let held = store::executions::backups_on_storage(&state.db, &id).await?;
    if held > 0 {
        return Err(ApiError::conflict(format!(
            "storage location `{}` holds {held} backup(s); delete them (or let retention do it) first",
            storage.name
        )));
    }
    store::storages::delete(&state.db, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StorageTest {
    pub success: bool,
    pub status: crate::domain::CheckStatus,
    pub latency_ms: u64,
    pub available_space_gb: Option<f64>,
    pub message: Option<String>,
}

/// Check the storage now and record the result. Limited per client
/// address (`api/throttle.rs`): each test contacts the storage.
#[utoipa::path(post, path = "/api/storage-locations/{id}/test", tag = "storage",
    responses((status = 200, body = StorageTest),
        (status = 429, description = "More than 10 tests per minute from this client address; `Retry-After` says when to try again",
            body = super::error::ErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait")))))]
pub async fn test(
    State(state): State<AppState>,
    client: super::throttle::ClientAddr,
    Path(id): Path<String>,
) -> ApiResult<Json<StorageTest>> {
    super::throttle::test_call(client)?;
    let row = load(&state, &id).await?;
    let check: StorageHealthCheck = health::check_storage(&state, &row).await?;
    Ok(Json(StorageTest {
        success: check.status == crate::domain::CheckStatus::Ok,
        status: check.status,
        latency_ms: check.latency_ms.unwrap_or(0) as u64,
        available_space_gb: check.available_space_gb,
        message: check.error_message,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct FilesQuery {
    /// Folder to list (`""` = root).
    pub prefix: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FileEntry {
    pub key: String,
    pub size: u64,
    pub modified: Option<DateTime<Utc>>,
    pub is_dir: bool,
    /// A job's folder (`{job_id}/` at the root of the layout): the job's
    /// name, so people read names, not ids. Null for anything else.
    pub job_name: Option<String>,
}

/// List a folder of the storage.
#[utoipa::path(get, path = "/api/storage-locations/{id}/files", tag = "storage", params(FilesQuery),
    responses((status = 200, body = super::page::Page<FileEntry>)))]
pub async fn files(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ValidQuery(q): ValidQuery<FilesQuery>,
) -> ApiResult<Json<super::page::Page<FileEntry>>> {
    let row = load(&state, &id).await?;
    let storage = client(&state, &row).await?;
    let prefix = q.prefix.unwrap_or_default();
    check_key("prefix", &prefix, true)?;
    let entries = storage
        .list(&prefix)
        .await
        .map_err(|e| plugin_error("prefix", e))?;
    let names = store::names::all(&state.db).await?;
    // The layout's first level is `{job_id}/`.
    let job_name = |key: &str, is_dir: bool| {
        let folder = key.trim_end_matches('/');
        (is_dir && !folder.contains('/'))
            .then(|| names.jobs.get(folder).cloned())
            .flatten()
    };
    Ok(Json(super::page::Page::whole(
        entries
            .into_iter()
            .map(|o| FileEntry {
                job_name: job_name(&o.key, o.is_dir),
                key: o.key,
                size: o.size,
                modified: o
                    .modified
                    .and_then(|s| DateTime::<Utc>::from_timestamp(s as i64, 0)),
                is_dir: o.is_dir,
            })
            .collect(),
    )))
}

/// The plain segments of a key (`a//./b/` → `[a, b]`).
fn segments(key: &str) -> Vec<&str> {
    key.split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .collect()
}

/// Backups are deleted through their execution, so no record is left
/// pointing at files that are gone; and nothing may be written into them.
/// Refuses `key` when it is, contains or lies inside a backup folder that
/// is completed on this storage or still being written.
async fn refuse_backup_folders(
    state: &AppState,
    storage_id: &str,
    field: &str,
    key: &str,
) -> ApiResult<()> {
    let target = segments(key);
    for held in store::executions::backup_paths_on_storage(&state.db, storage_id).await? {
        let held_segments = segments(&held);
        if held_segments.starts_with(&target) || target.starts_with(&held_segments) {
            let mut e = ApiError::conflict(format!(
                "{field}: `{key}` touches the backup folder {held}; backups are deleted \
                 with DELETE /api/executions/{{id}}"
            ));
            e.field = Some(field.to_string());
            return Err(e);
        }
    }
    Ok(())
}

/// Checks an object key from the client: relative, no `..`; the root
/// (``, `.`, `./`) only where `root_ok`. Errors name the field.
fn check_key(field: &str, key: &str, root_ok: bool) -> ApiResult<()> {
    let segments = segments(key);
    if segments.is_empty() {
        return if root_ok {
            Ok(())
        } else {
            Err(ApiError::invalid(
                field,
                "must name an object, not the storage root",
            ))
        };
    }
    if key.starts_with('/') || key.contains('\\') {
        return Err(ApiError::invalid(
            field,
            "must be a relative key inside the storage",
        ));
    }
    if segments.contains(&"..") {
        return Err(ApiError::invalid(field, "must not contain `..`"));
    }
    Ok(())
}

/// Maps a storage plugin error: bad keys are the client's fault (keys are
/// checked before they reach the plugin, which says `invalid-config` for
/// the rest); a folder the storage cannot read is the storage's (502).
fn plugin_error(field: &str, e: crate::plugin::CallError) -> ApiError {
    use crate::plugin::FailureKind;
    match e.kind() {
        Some(FailureKind::InvalidConfig) => ApiError::invalid(field, e.to_string()),
        Some(FailureKind::NotFound) => {
            ApiError::new(StatusCode::NOT_FOUND, "not_found", e.to_string())
        }
        _ => ApiError::bad_gateway(e.to_string()),
    }
}

/// The object `key` names: 404 when absent, 422 (naming `field`) for a
/// folder, which the explorer only lists or deletes.
async fn stat_object(
    storage: &crate::plugin::StorageClient,
    field: &str,
    key: &str,
) -> ApiResult<crate::plugin::bindings::ObjectInfo> {
    let info = storage
        .stat(key)
        .await
        .map_err(|e| plugin_error(field, e))?
        .ok_or_else(|| ApiError::not_found("object", key))?;
    if info.is_dir {
        return Err(ApiError::invalid(field, "is a folder, not an object"));
    }
    Ok(info)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CopyRequest {
    pub from: String,
    pub to: String,
}

/// Copy an object inside the storage (never onto a backup's files).
#[utoipa::path(post, path = "/api/storage-locations/{id}/files/copy", tag = "storage",
    request_body = CopyRequest, responses((status = 204)))]
pub async fn copy(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ValidJson(input): ValidJson<CopyRequest>,
) -> ApiResult<StatusCode> {
    let row = load(&state, &id).await?;
    check_key("from", &input.from, false)?;
    check_key("to", &input.to, false)?;
    refuse_backup_folders(&state, &id, "to", &input.to).await?;
    let storage = client(&state, &row).await?;
    stat_object(&storage, "from", &input.from).await?;
    storage
        .copy(&input.from, &input.to)
        .await
        .map_err(|e| plugin_error("to", e))?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PathQuery {
    /// Object key inside the storage (not the root itself).
    #[param(min_length = 1)]
    pub path: String,
}

/// Delete an object or folder of the storage.
#[utoipa::path(delete, path = "/api/storage-locations/{id}/files", tag = "storage",
    params(PathQuery), responses((status = 204)))]
pub async fn delete_file(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ValidQuery(q): ValidQuery<PathQuery>,
) -> ApiResult<StatusCode> {
    let row = load(&state, &id).await?;
    check_key("path", &q.path, false)?;
    refuse_backup_folders(&state, &id, "path", &q.path).await?;
    client(&state, &row)
        .await?
        .delete(&q.path)
        .await
        .map_err(|e| plugin_error("path", e))?;
    Ok(StatusCode::NO_CONTENT)
}

/// Download one object.
#[utoipa::path(get, path = "/api/storage-locations/{id}/files/download", tag = "storage",
    params(PathQuery), responses((status = 200, content_type = "application/octet-stream")))]
pub async fn download(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ValidQuery(q): ValidQuery<PathQuery>,
) -> ApiResult<Response> {
    let row = load(&state, &id).await?;
    check_key("path", &q.path, false)?;
    let storage = client(&state, &row).await?;
    let info = stat_object(&storage, "path", &q.path).await?;
    let name = q.path.rsplit('/').next().unwrap_or("download").to_string();
    let started = stream::object_started(storage, q.path.clone())
        .await
        .map_err(|e| ApiError::bad_gateway(format!("reading `{}`: {e}", q.path)))?;
    let body = Body::from_stream(started);
    Ok(stream::attachment(body, &name, Some(info.size)))
}

#[cfg(test)]
mod tests {
    use super::check_key;

    #[test]
    fn keys_stay_inside_the_storage() {
        assert!(check_key("p", "", true).is_ok());
        assert!(check_key("p", "job/2026-01-01_000000/manifest.json", false).is_ok());
        for root in ["", ".", "./", "./.", "//"] {
            assert!(check_key("p", root, false).is_err(), "{root:?}");
        }
        for bad in ["/etc", "a/../../x", "..", "a\\b"] {
            let e = check_key("to", bad, true).unwrap_err();
            assert_eq!(e.field.as_deref(), Some("to"), "{bad:?}");
        }
    }
}
