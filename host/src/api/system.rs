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
    /// The types this plugin serves now: those it provides that no other
    /// plugin took over (an installed plugin the operator let replace it).
    pub serves: Vec<String>,
    /// Types (or ids) the operator let it take over from another plugin.
    pub replaces: Vec<String>,
    /// SHA-256 of its component (what its grant is bound to).
    pub sha256: String,
    /// What the operator should know: a grant for another component, a
    /// grant entry that matches nothing.
    pub warnings: Vec<String>,
    /// The JSON Schema of the configuration this plugin takes (what the
    /// UI builds its forms from); `{}` if the plugin did not answer.
    #[schema(value_type = Object)]
    pub config_schema: Value,
    /// The names of the schema's `properties` in the order the plugin
    /// wrote them (a JSON object's order is not kept): the form's order.
    pub field_order: Vec<String>,
    /// Configuration fields the host seals at rest, answers as `********`
    /// and never hands to the plugin: those of the schema (`x-secrets` or
    /// properties) whose names are among the host's secret names.
    pub secret_fields: Vec<String>,
}

/// What the API says of a plugin's configuration, derived once from its
/// `info()`.
#[derive(Clone)]
struct ConfigDescription {
    schema: Value,
    field_order: Vec<String>,
    secret_fields: Vec<String>,
}

impl ConfigDescription {
    fn of(text: &str) -> Self {
        let schema: Value = serde_json::from_str(text).unwrap_or(Value::Object(Map::new()));
        Self {
            field_order: property_order(text),
            secret_fields: secret_fields(&schema),
            schema,
        }
    }
}

/// Descriptions by component hash: plugins do not change while a server
/// runs, and asking one means instantiating it, so each is asked once per
/// process and listings after that only copy.
static DESCRIPTIONS: std::sync::Mutex<BTreeMap<String, ConfigDescription>> =
    std::sync::Mutex::new(BTreeMap::new());

async fn description_of(
    state: &AppState,
    plugin: &std::sync::Arc<crate::plugin::LoadedPlugin>,
) -> ConfigDescription {
    let key = format!("{}@{}", plugin.id(), plugin.wasm_sha256);
    if let Some(found) = DESCRIPTIONS.lock().ok().and_then(|m| m.get(&key).cloned()) {
        return found;
    }
    let text = match state.plugins.config_schema(plugin).await {
        Ok(text) if serde_json::from_str::<Map<String, Value>>(&text).is_ok() => text,
        Ok(_) => {
            tracing::warn!(plugin = plugin.id(), "config schema is not a JSON object");
            "{}".to_string()
        }
        Err(e) => {
            // Not cached: the next listing asks again.
            tracing::warn!(plugin = plugin.id(), "config schema unavailable: {e}");
            return ConfigDescription::of("{}");
        }
    };
    let description = ConfigDescription::of(&text);
    if let Ok(mut m) = DESCRIPTIONS.lock() {
        m.insert(key, description.clone());
    }
    description
}

/// The keys of the top-level `properties` object of the schema `text`,
/// in their written order (empty if there is none).
fn property_order(text: &str) -> Vec<String> {
    use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, Visitor};
    use serde::Deserializer;
    /// Visits an object, collecting its keys; `descend` goes one level
    /// into the value of `properties` instead.
    struct Keys {
        descend: bool,
    }
    impl<'de> DeserializeSeed<'de> for Keys {
        type Value = Vec<String>;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<String>, D::Error> {
            d.deserialize_any(self)
        }
    }
    impl<'de> Visitor<'de> for Keys {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<String>, A::Error> {
            let mut out = Vec::new();
            while let Some(key) = map.next_key::<String>()? {
                if !self.descend {
                    out.push(key);
                    map.next_value::<IgnoredAny>()?;
                } else if key == "properties" {
                    out = map.next_value_seed(Keys { descend: false })?;
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(out)
        }
    }
    let mut de = serde_json::Deserializer::from_str(text);
    Keys { descend: true }
        .deserialize(&mut de)
        .unwrap_or_default()
}

/// The fields of `schema` that are secrets: those it names (`x-secrets`,
/// `writeOnly` properties, or any property) that the host seals — the
/// host's own names and those loaded plugins declare (`plugin.secrets`).
/// A `writeOnly` field outside them is not one: it is stored and answered
/// as given, and the UI must show it as such.
fn secret_fields(schema: &Value) -> Vec<String> {
    let mut named = BTreeSet::new();
    if let Some(list) = schema.get("x-secrets").and_then(Value::as_array) {
        named.extend(list.iter().filter_map(Value::as_str).map(str::to_string));
    }
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        named.extend(props.keys().cloned());
    }
    named
        .into_iter()
        .filter(|name| crate::secrets::is_secret_key(name))
        .collect()
}

/// Installed plugins (engines, storages, notifiers) with the schema of
/// their configuration.
#[utoipa::path(get, path = "/api/plugins", tag = "system",
    responses((status = 200, body = super::page::Page<PluginView>)))]
pub async fn plugins(State(state): State<AppState>) -> Json<super::page::Page<PluginView>> {
    let mut views = Vec::new();
    for p in state.plugins.list() {
        let description = description_of(&state, &p).await;
        views.push(PluginView {
            id: p.id().to_string(),
            kind: p.kind().to_string(),
            version: p.manifest.plugin.version.clone(),
            api_version: p.api_version.clone(),
            provides: p.manifest.plugin.provides.clone(),
            builtin: p.builtin,
            description: p.manifest.plugin.description.clone(),
            serves: state.plugins.serves(&p),
            replaces: p.replaces.clone(),
            sha256: p.wasm_sha256.clone(),
            warnings: p.warnings.clone(),
            secret_fields: description.secret_fields,
            field_order: description.field_order,
            config_schema: description.schema,
        });
    }
    Json(super::page::Page::whole(views))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn property_order_keeps_the_written_order() {
        let text = r#"{"type":"object","required":["host"],"properties":{"host":{"type":"string"},"port":{"type":"integer","properties":{"x":1}},"database":{},"username":{}},"x-secrets":["password"]}"#;
        assert_eq!(
            property_order(text),
            ["host", "port", "database", "username"]
        );
        assert!(property_order(r#"{"properties":"nope"}"#).is_empty());
        assert!(property_order("{}").is_empty());
        assert!(property_order("not json").is_empty());
    }

    #[test]
    fn secrets_are_what_the_host_seals() {
        let schema = serde_json::json!({
            "properties": {"host": {}, "api_key": {}, "pin": {"writeOnly": true}},
            "x-secrets": ["password"]
        });
        // `pin` is writeOnly but not sealed by the host: calling it a
        // secret would make the UI drop it on every edit.
        assert_eq!(secret_fields(&schema), ["api_key", "password"]);
        let description = ConfigDescription::of(&schema.to_string());
        assert_eq!(description.secret_fields, ["api_key", "password"]);
        assert_eq!(description.field_order, ["api_key", "host", "pin"]);
    }
}

/// The nodes serving this metadata database: which leads the scheduler,
/// which answered (`self`), when each last reported and what it runs. A
/// node killed without stopping stays listed for a day, its
/// `last_seen_at` falling behind.
#[utoipa::path(get, path = "/api/system/nodes", tag = "system",
    responses((status = 200, body = super::page::Page<dg_app::workers::nodes::NodeView>)))]
pub async fn nodes(
    State(state): State<AppState>,
) -> ApiResult<Json<super::page::Page<dg_app::workers::nodes::NodeView>>> {
    let nodes = dg_app::workers::nodes::list(&state).await?;
    Ok(Json(super::page::Page::whole(nodes)))
}
