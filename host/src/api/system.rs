//! `/api/system/settings` and `/api/plugins`.

use super::error::{ApiError, ApiResult};
use super::extract::ValidJson;
use crate::server::state::AppState;
use crate::store;
use axum::extract::State;
use axum::Json;
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// Settings as one object: `{"key": value, ...}`.
#[utoipa::path(get, path = "/api/system/settings", tag = "system",
    responses((status = 200, body = Object)))]
pub async fn get_settings(State(state): State<AppState>) -> ApiResult<Json<Map<String, Value>>> {
    let rows = store::settings::all(&state.db).await?;
    Ok(Json(rows.into_iter().map(|s| (s.key, s.value.0)).collect()))
}

fn valid_key(k: &str) -> bool {
    !k.is_empty()
        && k.len() <= 100
        && k.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.')
}

/// Sets the given keys (others are left as they are); `null` removes
/// nothing, it stores null. These are settings for clients (the web UI's
/// preferences): the server reads none of them, and keys naming its own
/// flags are refused so nobody expects them to take effect.
#[utoipa::path(put, path = "/api/system/settings", tag = "system", request_body = Object,
    responses((status = 200, body = Object), (status = 422, body = super::error::ErrorBody)))]
pub async fn put_settings(
    State(state): State<AppState>,
    ValidJson(input): ValidJson<Map<String, Value>>,
) -> ApiResult<Json<Map<String, Value>>> {
    if input.is_empty() {
        return Err(ApiError::invalid("settings", "send at least one key"));
    }
    for key in input.keys() {
        if !valid_key(key) {
            return Err(ApiError::invalid(
                key.clone(),
                "setting keys use lowercase letters, digits, `_` and `.`",
            ));
        }
        if crate::cli::server_flag_names().contains(key) {
            return Err(ApiError::invalid(
                key.clone(),
                format!(
                    "is a server setting, read at start from --{} (DG_{}); settings stored \
                     here are for clients and would have no effect",
                    key.replace('_', "-"),
                    key.to_uppercase()
                ),
            ));
        }
    }
    for (key, value) in &input {
        store::settings::put(&state.db, key, value, None).await?;
    }
    get_settings(State(state)).await
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PluginView {
    pub id: String,
    pub kind: String,
    pub version: String,
    pub api_version: String,
    pub provides: Vec<String>,
    pub builtin: bool,
    pub description: String,
}

/// Installed plugins (engines, storages, notifiers).
#[utoipa::path(get, path = "/api/plugins", tag = "system",
    responses((status = 200, body = super::page::Page<PluginView>)))]
pub async fn plugins(State(state): State<AppState>) -> Json<super::page::Page<PluginView>> {
    Json(super::page::Page::whole(
        state
            .plugins
            .list()
            .iter()
            .map(|p| PluginView {
                id: p.id().to_string(),
                kind: p.kind().to_string(),
                version: p.manifest.plugin.version.clone(),
                api_version: p.api_version.clone(),
                provides: p.manifest.plugin.provides.clone(),
                builtin: p.builtin,
                description: p.manifest.plugin.description.clone(),
            })
            .collect(),
    ))
}
