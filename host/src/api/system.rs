//! `/api/system/settings` and `/api/plugins`.

use super::error::{ApiError, ApiResult};
use super::extract::ValidJson;
use crate::server::state::AppState;
use crate::store;
use axum::extract::State;
use axum::Json;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
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
    /// The JSON Schema of the configuration this plugin takes (what the
    /// UI builds its forms from); `{}` if the plugin did not answer.
    #[schema(value_type = Object)]
    pub config_schema: Value,
    /// Configuration fields the host seals at rest, answers as `********`
    /// and never hands to the plugin: the schema's `x-secrets`, its
    /// `writeOnly` properties and the host's fixed secret names.
    pub secret_fields: Vec<String>,
}

/// Schemas by component hash: plugins do not change while a server runs,
/// and asking one means instantiating it.
static SCHEMAS: std::sync::Mutex<BTreeMap<String, Value>> = std::sync::Mutex::new(BTreeMap::new());

async fn schema_of(
    state: &AppState,
    plugin: &std::sync::Arc<crate::plugin::LoadedPlugin>,
) -> Value {
    let key = format!("{}@{}", plugin.id(), plugin.wasm_sha256);
    if let Some(v) = SCHEMAS.lock().ok().and_then(|m| m.get(&key).cloned()) {
        return v;
    }
    let schema = match state.plugins.config_schema(plugin).await {
        Ok(text) => serde_json::from_str(&text).unwrap_or_else(|e| {
            tracing::warn!(plugin = plugin.id(), "config schema is not JSON: {e}");
            Value::Object(Map::new())
        }),
        Err(e) => {
            tracing::warn!(plugin = plugin.id(), "config schema unavailable: {e}");
            return Value::Object(Map::new());
        }
    };
    if let Ok(mut m) = SCHEMAS.lock() {
        m.insert(key, schema.clone());
    }
    schema
}

/// The fields of `schema` that are secrets (see [`PluginView::secret_fields`]).
fn secret_fields(schema: &Value) -> Vec<String> {
    let mut out = BTreeSet::new();
    if let Some(list) = schema.get("x-secrets").and_then(Value::as_array) {
        out.extend(list.iter().filter_map(Value::as_str).map(str::to_string));
    }
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        for (name, prop) in props {
            let write_only = prop.get("writeOnly").and_then(Value::as_bool) == Some(true);
            if write_only || crate::secrets::is_secret_key(name) {
                out.insert(name.clone());
            }
        }
    }
    out.into_iter().collect()
}

/// Installed plugins (engines, storages, notifiers) with the schema of
/// their configuration.
#[utoipa::path(get, path = "/api/plugins", tag = "system",
    responses((status = 200, body = super::page::Page<PluginView>)))]
pub async fn plugins(State(state): State<AppState>) -> Json<super::page::Page<PluginView>> {
    let mut views = Vec::new();
    for p in state.plugins.list() {
        let config_schema = schema_of(&state, p).await;
        views.push(PluginView {
            id: p.id().to_string(),
            kind: p.kind().to_string(),
            version: p.manifest.plugin.version.clone(),
            api_version: p.api_version.clone(),
            provides: p.manifest.plugin.provides.clone(),
            builtin: p.builtin,
            description: p.manifest.plugin.description.clone(),
            secret_fields: secret_fields(&config_schema),
            config_schema,
        });
    }
    Json(super::page::Page::whole(views))
}
