//! Installing, updating and removing plugins from a signed registry while
//! the server runs (`plugins:install`). The rules live in
//! `dg_app::usecases::plugins`; this maps requests onto them.

use super::access::AuditDetails;
use super::error::{ApiError, ApiResult};
use super::extract::{RequestActor, ValidJson};
use crate::server::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use dg_app::usecases::plugins::{
    self as install, CapabilityKind, InstallRequest, Installed, Reach,
};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

/// What to install.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstallBody {
    /// The plugin's name in the registry.
    pub name: String,
    /// A semver requirement (`^1.2`, `=1.0.0`); the highest version that
    /// matches and fits this server is installed. Default: any.
    #[serde(default)]
    pub version: Option<String>,
    /// Another registry than the server's default (a base URL serving
    /// `index.json`); reached through the egress policy.
    #[serde(default)]
    pub registry: Option<String>,
    /// The capability kinds you approve; installing is refused while the
    /// plugin asks for a kind not listed (the error says what it asks).
    #[serde(default)]
    pub grant: Vec<CapabilityKind>,
    /// Types (or plugin ids) this plugin may serve in place of the plugin
    /// serving them now: an explicit choice, logged.
    #[serde(default)]
    pub replace: Vec<String>,
}

/// What to update to.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateBody {
    /// A semver requirement; default any.
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub registry: Option<String>,
    /// Capability kinds to grant besides those granted before.
    #[serde(default)]
    pub grant: Vec<CapabilityKind>,
}

/// Install a plugin from the registry and activate it at once (no
/// restart). The package must match the index's SHA-256 and be signed by
/// a key the server trusts (`--trusted-key`).
#[utoipa::path(post, path = "/api/plugins/install", tag = "system", request_body = InstallBody,
    responses((status = 201, body = Installed), (status = 409, body = super::error::ErrorBody),
              (status = 422, body = super::error::ErrorBody)))]
pub async fn install(
    State(state): State<AppState>,
    RequestActor(actor): RequestActor,
    ValidJson(body): ValidJson<InstallBody>,
) -> Response {
    let request = InstallRequest {
        name: body.name,
        version: body.version.unwrap_or_default(),
        registry: body.registry,
        grant: body.grant,
        replace: body.replace,
    };
    let details = asked(&state, &request);
    let result = activate(&state, &actor, request, false).await;
    audited(result.map(|i| (StatusCode::CREATED, Json(i))), details)
}

/// What an install or update asked for, for its audit row (the row of a
/// refusal too: which registry a caller tried to reach is worth keeping).
fn asked(state: &AppState, request: &InstallRequest) -> serde_json::Value {
    let name: String = request.name.chars().take(64).collect();
    let registry = request
        .registry
        .as_deref()
        .or(state.config.plugin_sources.registry.as_deref())
        .map(install::shown_registry);
    json!({"name": name, "version": request.version, "registry": registry,
           "grant": request.grant, "replace": request.replace})
}

/// The answer with its audit details; a refusal is also logged.
fn audited<T: IntoResponse>(result: ApiResult<T>, mut details: serde_json::Value) -> Response {
    let mut response = match result {
        Ok(answer) => answer.into_response(),
        Err(e) => {
            tracing::warn!(
                plugin = %details["name"].as_str().unwrap_or_default(),
                "plugin install or update refused: {}",
                e.message
            );
            details["refused"] = json!(e.message);
            e.into_response()
        }
    };
    response.extensions_mut().insert(AuditDetails(details));
    response
}

/// Update an installed plugin to the highest compatible version; the
/// capability kinds granted before stay granted.
#[utoipa::path(post, path = "/api/plugins/{name}/update", tag = "system", request_body = UpdateBody,
    responses((status = 200, body = Installed), (status = 404, body = super::error::ErrorBody),
              (status = 409, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    RequestActor(actor): RequestActor,
    Path(name): Path<String>,
    ValidJson(body): ValidJson<UpdateBody>,
) -> Response {
    let request = install::update_request(
        &state.plugins,
        name,
        body.version.unwrap_or_default(),
        body.registry,
        body.grant,
    );
    let details = asked(&state, &request);
    let result = activate(&state, &actor, request, true).await;
    audited(result.map(Json), details)
}

async fn activate(
    state: &AppState,
    actor: &dg_app::usecases::Actor,
    request: InstallRequest,
    update: bool,
) -> ApiResult<Installed> {
    let reach = Reach::Policed(state.plugins.runtime().egress());
    let (installed, plugin) = install::install(
        actor,
        &state.plugins,
        &state.config.plugin_sources,
        reach,
        request,
        update,
    )
    .await
    .map_err(ApiError::from)?;
    if plugin.kind() == crate::plugin::PluginKind::Notifier {
        let types: Vec<&str> = installed.provides.iter().map(String::as_str).collect();
        crate::notify::seed_templates(&state.db, &types).await?;
    }
    tracing::info!(
        plugin = %installed.id,
        version = %installed.version,
        key = %installed.key_id,
        "{actor} installed plugin `{}` {} from {}",
        installed.id,
        installed.version,
        installed.registry
    );
    Ok(installed)
}

/// Remove an installed plugin (built-in plugins stay).
#[utoipa::path(delete, path = "/api/plugins/{name}", tag = "system",
    responses((status = 204), (status = 404, body = super::error::ErrorBody),
              (status = 409, body = super::error::ErrorBody)))]
pub async fn remove(
    State(state): State<AppState>,
    RequestActor(actor): RequestActor,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    let removed = install::remove(
        &actor,
        &state.plugins,
        &state.config.plugin_sources.dir,
        &name,
    )?;
    tracing::info!(plugin = %removed.id(), "{actor} removed plugin `{}`", removed.id());
    Ok(StatusCode::NO_CONTENT)
}
