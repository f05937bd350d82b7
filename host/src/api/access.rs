//! Who may call which route, checked once at the router's edge, and the
//! audit row each sensitive request leaves.
//!
//! Every operation is listed in [`RULES`] with what it needs: nothing
//! (`/health`, signing in), a signed-in caller (their own account and
//! sessions), or one [`Permission`]. A route missing from the table is
//! refused for everyone, and a test walks the OpenAPI document against
//! it, so a new route cannot ship unguarded. The same table writes the
//! `x-permission` of each operation in the document.
//!
//! The caller is a session (cookie `dg_session`, set by
//! `POST /api/auth/login`) or an API token (`Authorization: Bearer
//! dgt_...`). Cross-site writes carrying the cookie are refused before
//! this runs by [`super::guard`] (and by the cookie's `SameSite=Strict`).

use super::error::ApiError;
use crate::auth::{self, Principal};
use crate::server::state::AppState;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use dg_core::access::Permission;
use dg_core::domain::{ActorKind, AuditOutcome};
use std::net::SocketAddr;
use std::sync::Arc;

/// What a route needs from its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Anyone: load-balancer health, signing in and the first-run setup.
    Public,
    /// Any signed-in user or valid token: their own account, sessions
    /// and tokens, and what every screen shows (settings, plugins).
    SignedIn,
    /// A caller holding this permission.
    Permission(Permission),
}

/// One operation's access rule.
#[derive(Debug)]
pub struct Rule {
    pub method: &'static str,
    /// The route as declared (`/api/datasources/{id}`).
    pub path: &'static str,
    pub need: Need,
    /// The audit action this request records (`datasources.create`);
    /// `None`: not audited (reads).
    pub audit: Option<&'static str>,
}

const fn rule(
    method: &'static str,
    path: &'static str,
    need: Need,
    audit: Option<&'static str>,
) -> Rule {
    Rule {
        method,
        path,
        need,
        audit,
    }
}

use Need::{Public, SignedIn};
use Permission as P;

const fn may(p: Permission) -> Need {
    Need::Permission(p)
}

/// Every route of the API. Reads are not audited; every change, run,
/// cancel, download, restore, explorer access and sign-in is.
pub static RULES: &[Rule] = &[
    // Liveness for load balancers and the document itself.
    rule("GET", "/health", Public, None),
    rule("GET", "/api/openapi.json", SignedIn, None),
    rule("GET", "/metrics", may(P::MetricsRead), None),
    // Signing in and out.
    rule("POST", "/api/auth/login", Public, None),
    rule("POST", "/api/auth/logout", Public, None),
    rule("POST", "/api/auth/setup", Public, None),
    rule("GET", "/api/auth/options", Public, None),
    rule("GET", "/api/auth/oidc/login", Public, None),
    rule("GET", "/api/auth/oidc/callback", Public, None),
    rule("GET", "/api/auth/me", SignedIn, None),
    // Audited by the handler (`auth.password_changed`).
    rule("PUT", "/api/auth/password", SignedIn, None),
    rule("GET", "/api/auth/sessions", SignedIn, None),
    rule(
        "DELETE",
        "/api/auth/sessions/{id}",
        SignedIn,
        Some("sessions.revoke"),
    ),
    // Users, roles, tokens and the audit log.
    rule("GET", "/api/users", may(P::UsersManage), None),
    rule(
        "POST",
        "/api/users",
        may(P::UsersManage),
        Some("users.create"),
    ),
    rule("GET", "/api/users/{id}", may(P::UsersManage), None),
    rule(
        "PUT",
        "/api/users/{id}",
        may(P::UsersManage),
        Some("users.update"),
    ),
    rule(
        "DELETE",
        "/api/users/{id}",
        may(P::UsersManage),
        Some("users.delete"),
    ),
    rule("GET", "/api/roles", may(P::UsersManage), None),
    rule(
        "POST",
        "/api/roles",
        may(P::UsersManage),
        Some("roles.create"),
    ),
    rule("GET", "/api/roles/{id}", may(P::UsersManage), None),
    rule(
        "PUT",
        "/api/roles/{id}",
        may(P::UsersManage),
        Some("roles.update"),
    ),
    rule(
        "DELETE",
        "/api/roles/{id}",
        may(P::UsersManage),
        Some("roles.delete"),
    ),
    rule("GET", "/api/tokens", SignedIn, None),
    rule("POST", "/api/tokens", SignedIn, Some("tokens.create")),
    rule(
        "DELETE",
        "/api/tokens/{id}",
        SignedIn,
        Some("tokens.revoke"),
    ),
    rule("GET", "/api/audit-logs", may(P::AuditRead), None),
    // Datasources.
    rule("GET", "/api/datasources", may(P::DatasourcesRead), None),
    rule(
        "POST",
        "/api/datasources",
        may(P::DatasourcesWrite),
        Some("datasources.create"),
    ),
    rule(
        "GET",
        "/api/datasources/{id}",
        may(P::DatasourcesRead),
        None,
    ),
    rule(
        "PUT",
        "/api/datasources/{id}",
        may(P::DatasourcesWrite),
        Some("datasources.update"),
    ),
    rule(
        "DELETE",
        "/api/datasources/{id}",
        may(P::DatasourcesWrite),
        Some("datasources.delete"),
    ),
    rule(
        "POST",
        "/api/datasources/{id}/test-connection",
        may(P::DatasourcesWrite),
        Some("datasources.test"),
    ),
    rule(
        "POST",
        "/api/datasources/{id}/health-check",
        may(P::DatasourcesWrite),
        Some("datasources.health_check"),
    ),
    rule(
        "GET",
        "/api/datasources/{id}/health-checks",
        may(P::DatasourcesRead),
        None,
    ),
    rule(
        "GET",
        "/api/datasources/{id}/databases",
        may(P::DatasourcesRead),
        None,
    ),
    // Storage locations and their explorer.
    rule("GET", "/api/storage-locations", may(P::StoragesRead), None),
    rule(
        "POST",
        "/api/storage-locations",
        may(P::StoragesWrite),
        Some("storages.create"),
    ),
    rule(
        "GET",
        "/api/storage-locations/{id}",
        may(P::StoragesRead),
        None,
    ),
    rule(
        "PUT",
        "/api/storage-locations/{id}",
        may(P::StoragesWrite),
        Some("storages.update"),
    ),
    rule(
        "DELETE",
        "/api/storage-locations/{id}",
        may(P::StoragesWrite),
        Some("storages.delete"),
    ),
    rule(
        "POST",
        "/api/storage-locations/{id}/test",
        may(P::StoragesWrite),
        Some("storages.test"),
    ),
    rule(
        "GET",
        "/api/storage-locations/{id}/files",
        may(P::StoragesExplore),
        Some("storages.explore"),
    ),
    rule(
        "DELETE",
        "/api/storage-locations/{id}/files",
        may(P::StoragesWrite),
        Some("storages.file_delete"),
    ),
    rule(
        "POST",
        "/api/storage-locations/{id}/files/copy",
        may(P::StoragesWrite),
        Some("storages.file_copy"),
    ),
    rule(
        "GET",
        "/api/storage-locations/{id}/files/download",
        may(P::StoragesExplore),
        Some("storages.file_download"),
    ),
    // Jobs.
    rule("GET", "/api/backup-jobs", may(P::JobsRead), None),
    rule(
        "POST",
        "/api/backup-jobs",
        may(P::JobsWrite),
        Some("jobs.create"),
    ),
    rule(
        "GET",
        "/api/backup-jobs/schedule-preview",
        may(P::JobsRead),
        None,
    ),
    rule("GET", "/api/backup-jobs/{id}", may(P::JobsRead), None),
    rule(
        "PUT",
        "/api/backup-jobs/{id}",
        may(P::JobsWrite),
        Some("jobs.update"),
    ),
    rule(
        "DELETE",
        "/api/backup-jobs/{id}",
        may(P::JobsWrite),
        Some("jobs.delete"),
    ),
    rule(
        "POST",
        "/api/backup-jobs/{id}/run",
        may(P::BackupsRun),
        Some("jobs.run"),
    ),
    rule(
        "GET",
        "/api/backup-jobs/{id}/executions",
        may(P::ExecutionsRead),
        None,
    ),
    // A dry run changes nothing: reading the job is enough.
    rule(
        "POST",
        "/api/backup-jobs/{id}/retention/dry-run",
        may(P::JobsRead),
        None,
    ),
    // Executions and backups.
    rule("GET", "/api/executions", may(P::ExecutionsRead), None),
    rule("GET", "/api/executions/{id}", may(P::ExecutionsRead), None),
    rule(
        "DELETE",
        "/api/executions/{id}",
        may(P::ExecutionsDelete),
        Some("executions.delete"),
    ),
    rule(
        "GET",
        "/api/executions/{id}/logs",
        may(P::ExecutionsRead),
        None,
    ),
    rule(
        "GET",
        "/api/executions/{id}/download",
        may(P::BackupsDownload),
        Some("backups.download"),
    ),
    rule(
        "POST",
        "/api/executions/{id}/retry-upload",
        may(P::BackupsRun),
        Some("executions.retry_upload"),
    ),
    rule(
        "POST",
        "/api/executions/{id}/mark-restored",
        may(P::BackupsRestore),
        Some("executions.mark_restored"),
    ),
    rule(
        "POST",
        "/api/executions/{id}/cancel",
        may(P::ExecutionsCancel),
        Some("executions.cancel"),
    ),
    rule(
        "GET",
        "/api/backups/datasources",
        may(P::ExecutionsRead),
        None,
    ),
    rule(
        "GET",
        "/api/backups/datasources/{datasource_id}",
        may(P::ExecutionsRead),
        None,
    ),
    rule(
        "POST",
        "/api/backups/{execution_id}/restore",
        may(P::BackupsRestore),
        Some("backups.restore"),
    ),
    // Health.
    rule("GET", "/api/health", SignedIn, None),
    rule(
        "GET",
        "/api/health/datasources",
        may(P::DatasourcesRead),
        None,
    ),
    rule("GET", "/api/health/storage", may(P::StoragesRead), None),
    // Notifications, channels and templates. Marking read is part of
    // reading them.
    rule("GET", "/api/notifications", may(P::NotificationsRead), None),
    rule(
        "POST",
        "/api/notifications/{id}/read",
        may(P::NotificationsRead),
        None,
    ),
    rule(
        "POST",
        "/api/notifications/read-all",
        may(P::NotificationsRead),
        None,
    ),
    rule(
        "GET",
        "/api/notification-channels",
        may(P::NotificationsRead),
        None,
    ),
    rule(
        "POST",
        "/api/notification-channels",
        may(P::NotificationsWrite),
        Some("channels.create"),
    ),
    rule(
        "GET",
        "/api/notification-channels/{id}",
        may(P::NotificationsRead),
        None,
    ),
    rule(
        "PUT",
        "/api/notification-channels/{id}",
        may(P::NotificationsWrite),
        Some("channels.update"),
    ),
    rule(
        "DELETE",
        "/api/notification-channels/{id}",
        may(P::NotificationsWrite),
        Some("channels.delete"),
    ),
    rule(
        "POST",
        "/api/notification-channels/{id}/test",
        may(P::NotificationsWrite),
        Some("channels.test"),
    ),
    rule(
        "GET",
        "/api/notification-deliveries",
        may(P::NotificationsRead),
        None,
    ),
    rule(
        "GET",
        "/api/system/notification-templates",
        may(P::NotificationsRead),
        None,
    ),
    rule(
        "GET",
        "/api/system/notification-templates/{id}",
        may(P::NotificationsRead),
        None,
    ),
    rule(
        "PUT",
        "/api/system/notification-templates/{id}",
        may(P::NotificationsWrite),
        Some("templates.update"),
    ),
    rule(
        "GET",
        "/api/system/notification-templates/{id}/versions",
        may(P::NotificationsRead),
        None,
    ),
    rule(
        "GET",
        "/api/system/notification-templates/{id}/versions/{version}",
        may(P::NotificationsRead),
        None,
    ),
    rule(
        "POST",
        "/api/system/notification-templates/{id}/revert",
        may(P::NotificationsWrite),
        Some("templates.revert"),
    ),
    // Rendering a draft changes nothing.
    rule(
        "POST",
        "/api/system/notification-templates/preview",
        may(P::NotificationsRead),
        None,
    ),
    // The server.
    rule("GET", "/api/system/settings", SignedIn, None),
    rule("GET", "/api/system/nodes", SignedIn, None),
    rule(
        "PUT",
        "/api/system/settings",
        may(P::SettingsWrite),
        Some("settings.update"),
    ),
    rule("GET", "/api/plugins", SignedIn, None),
    rule(
        "POST",
        "/api/plugins/install",
        may(P::PluginsInstall),
        Some("plugins.install"),
    ),
    rule(
        "POST",
        "/api/plugins/{name}/update",
        may(P::PluginsInstall),
        Some("plugins.update"),
    ),
    rule(
        "DELETE",
        "/api/plugins/{name}",
        may(P::PluginsInstall),
        Some("plugins.remove"),
    ),
    rule(
        "GET",
        "/api/dashboard/overview",
        may(P::ExecutionsRead),
        None,
    ),
    // Filtered per event by what the caller may read.
    rule("GET", "/api/events", SignedIn, None),
];

/// The rule of `method` on the declared route `path`.
pub fn rule_for(method: &str, path: &str) -> Option<&'static Rule> {
    RULES
        .iter()
        .find(|r| r.method.eq_ignore_ascii_case(method) && r.path == path)
}

/// The address a request came from (`in-process` when a router is driven
/// without a listener, in tests).
pub fn client_of(extensions: &axum::http::Extensions) -> String {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "in-process".to_string(), |c| c.0.ip().to_string())
}

/// The caller of a request as the access layer found it; handlers take
/// it through [`super::extract::RequestActor`].
#[derive(Debug, Clone)]
pub struct Caller(pub Arc<Principal>);

/// The value of the cookie `name`, if sent.
pub fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value)
}

/// The session secret of the `dg_session` cookie, if sent.
pub fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    cookie_value(headers, auth::SESSION_COOKIE)
}

fn unauthorized(message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
}

/// The principal a request presents: a bearer token (which wins over a
/// cookie), or a session cookie. `Ok(None)`: it presents neither.
pub async fn principal_of(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<Principal>, ApiError> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let token = value
            .to_str()
            .ok()
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .ok_or_else(|| {
                unauthorized("the Authorization header must be `Bearer TOKEN` with an API token")
            })?;
        return match auth::from_token(&state.db, token).await? {
            Some(p) => Ok(Some(p)),
            None => Err(unauthorized(
                "the API token is unknown, revoked or expired, or its user was removed",
            )),
        };
    }
    if let Some(secret) = session_cookie(headers) {
        return match auth::from_session(&state.db, secret, state.config.sessions).await? {
            Some(p) => Ok(Some(p)),
            None => Err(unauthorized(
                "the session has ended (signed out, expired or revoked); sign in again",
            )),
        };
    }
    Ok(None)
}

/// Route layer: resolves the caller, enforces the route's rule and
/// records the audit row of sensitive requests.
pub async fn enforce(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    // axum answers HEAD with the GET handler: it needs what GET needs.
    let method = match req.method().as_str() {
        "HEAD" => "GET".to_string(),
        other => other.to_string(),
    };
    let Some(path) = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
    else {
        return next.run(req).await;
    };
    let allowed: Vec<&str> = RULES
        .iter()
        .filter(|r| r.path == path)
        .map(|r| r.method)
        .collect();
    if !allowed.is_empty() && !allowed.contains(&method.as_str()) {
        // A method the route does not take: answered here, so nothing
        // behind this layer runs for a request no rule covers.
        let list = allowed.join(", ");
        let mut response = ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!("this route does not accept that method; allowed: {list}"),
        )
        .into_response();
        if let Ok(value) = axum::http::HeaderValue::from_str(&list) {
            response.headers_mut().insert(header::ALLOW, value);
        }
        return response;
    }
    let Some(rule) = rule_for(&method, &path) else {
        tracing::error!("route {method} {path} has no access rule; refused");
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "this route has no access rule; refused for everyone",
        )
        .into_response();
    };
    let client = client_of(req.extensions());
    let principal = match principal_of(&state, req.headers()).await {
        Ok(p) => p,
        // A stale cookie on a public route (signing in again) is no
        // reason to refuse it.
        Err(_) if rule.need == Need::Public => None,
        Err(e) => return e.into_response(),
    };
    let audit = rule.audit.map(|action| Pending {
        action,
        entity_type: entity_type(rule.path),
        entity_id: path_param(rule.path, req.uri().path()),
        query: req.uri().query().map(str::to_string),
        client: client.clone(),
    });
    match (rule.need, &principal) {
        (Need::Public, _) => {}
        (_, None) => {
            return unauthorized(
                "sign in (POST /api/auth/login) or send `Authorization: Bearer TOKEN`",
            )
            .into_response()
        }
        (Need::SignedIn, Some(_)) => {}
        (Need::Permission(p), Some(who)) => {
            if !who.may(p) {
                let response = ApiError::new(
                    StatusCode::FORBIDDEN,
                    "forbidden",
                    match &who.via {
                        auth::Via::Session { .. } => format!(
                            "this needs the permission `{p}`, which user `{}` (role `{}`) \
                             does not have",
                            who.username, who.role
                        ),
                        auth::Via::Token { name, .. } => format!(
                            "this needs the permission `{p}`, which token `{name}` of user \
                             `{}` does not carry",
                            who.username
                        ),
                    },
                )
                .into_response();
                if let Some(pending) = audit {
                    pending
                        .record(&state, Some(who), StatusCode::FORBIDDEN, None)
                        .await;
                }
                return response;
            }
        }
    }
    let principal = principal.map(Arc::new);
    if let Some(p) = &principal {
        req.extensions_mut().insert(Caller(p.clone()));
    }
    let response = next.run(req).await;
    match audit {
        Some(pending) => pending.finish(&state, principal.as_deref(), response).await,
        None => response,
    }
}

/// The entity kind a route acts on: its first segment after `/api/`
/// (`/api/system/x` counts as `x`).
fn entity_type(template: &str) -> Option<String> {
    let mut segments = template.trim_start_matches('/').split('/');
    if segments.next() != Some("api") {
        return None;
    }
    match segments.next()? {
        "system" => segments.next().map(str::to_string),
        first => Some(first.to_string()),
    }
}

/// The value of the first `{param}` of `template` in `path`.
fn path_param(template: &str, path: &str) -> Option<String> {
    template
        .split('/')
        .zip(path.split('/'))
        .find(|(t, _)| t.starts_with('{'))
        .map(|(_, value)| value.to_string())
}

/// An audit row waiting for the request's outcome.
struct Pending {
    action: &'static str,
    entity_type: Option<String>,
    entity_id: Option<String>,
    query: Option<String>,
    client: String,
}

/// What a handler adds to its request's audit row (which fields changed;
/// never their values), as a response extension.
#[derive(Debug, Clone)]
pub struct AuditDetails(pub serde_json::Value);

/// The largest created-entity answer read for its `id`.
const CREATED_BODY_LIMIT: usize = 1 << 20;

impl Pending {
    /// Records the outcome; a 201's body is read for the new entity's id
    /// and passed on unchanged.
    async fn finish(
        mut self,
        state: &AppState,
        who: Option<&Principal>,
        response: Response,
    ) -> Response {
        let details = response
            .extensions()
            .get::<AuditDetails>()
            .map(|d| d.0.clone());
        let status = response.status();
        if status != StatusCode::CREATED || self.entity_id.is_some() {
            self.record(state, who, status, details).await;
            return response;
        }
        let (parts, body) = response.into_parts();
        let bytes = match axum::body::to_bytes(body, CREATED_BODY_LIMIT).await {
            Ok(b) => b,
            Err(e) => {
                return ApiError::internal(format!("reading a created entity: {e}")).into_response()
            }
        };
        self.entity_id = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| v.get("id").and_then(|id| id.as_str()).map(str::to_string));
        self.record(state, who, status, details).await;
        Response::from_parts(parts, axum::body::Body::from(bytes))
    }

    async fn record(
        self,
        state: &AppState,
        who: Option<&Principal>,
        status: StatusCode,
        details: Option<serde_json::Value>,
    ) {
        let outcome = match status.as_u16() {
            401 | 403 => AuditOutcome::Denied,
            s if s < 400 => AuditOutcome::Succeeded,
            _ => AuditOutcome::Failed,
        };
        let mut details = details.unwrap_or_else(|| serde_json::json!({}));
        if let Some(q) = self.query {
            details["query"] = serde_json::Value::String(q);
        }
        let row = audit_row(
            who,
            self.action,
            self.entity_type,
            self.entity_id,
            Some(self.client),
            outcome,
            Some(status),
            details,
        );
        // Written by a task of its own: a client that hangs up now (the
        // handler has run) does not cancel the record of what it did.
        let state = state.clone();
        let _ = tokio::spawn(async move { write_audit(&state, row).await }).await;
    }
}

/// One audit row by `who` (`None`: an anonymous caller).
#[allow(clippy::too_many_arguments)]
pub fn audit_row(
    who: Option<&Principal>,
    action: &str,
    entity_type: Option<String>,
    entity_id: Option<String>,
    client: Option<String>,
    outcome: AuditOutcome,
    status: Option<StatusCode>,
    details: serde_json::Value,
) -> crate::store::access::AuditLog {
    let (actor_type, actor_id, actor) = match who {
        Some(p) => match &p.via {
            auth::Via::Session { .. } => {
                (ActorKind::User, Some(p.user_id.clone()), p.username.clone())
            }
            auth::Via::Token { name, .. } => (
                ActorKind::Token,
                Some(p.user_id.clone()),
                format!("{} (token {name})", p.username),
            ),
        },
        None => (ActorKind::Anonymous, None, "anonymous".to_string()),
    };
    crate::store::access::AuditLog {
        id: crate::store::new_id(),
        created_at: crate::store::now(),
        actor_type,
        actor_id,
        actor,
        action: action.into(),
        entity_type,
        entity_id,
        client,
        outcome,
        status: status.map(|s| i64::from(s.as_u16())),
        details: sqlx::types::Json(details),
    }
}

/// Appends `row`; a failure is logged, never the request's.
pub async fn write_audit(state: &AppState, row: crate::store::access::AuditLog) {
    if let Err(e) = crate::store::access::insert_audit(&state.db, &row).await {
        tracing::error!(action = %row.action, "writing the audit log failed: {e}");
    }
}

/// The `x-permission` of every operation in the document, and the 401
/// and 403 answers guarded operations give.
pub fn describe(mut doc: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    use utoipa::openapi::extensions::Extensions;
    use utoipa::openapi::security::{
        ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
    };
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "token",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some("An API token (`dgt_...`), from POST /api/tokens or `dataguardian token create`"))
                .build(),
        ),
    );
    components.add_security_scheme(
        "session",
        SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
            auth::SESSION_COOKIE,
            "Set by POST /api/auth/login",
        ))),
    );
    for (path, item) in doc.paths.paths.iter_mut() {
        for (method, op) in operations(item) {
            let Some(rule) = rule_for(method, path) else {
                continue;
            };
            let need = match rule.need {
                Need::Public => "public".to_string(),
                Need::SignedIn => "signed-in".to_string(),
                Need::Permission(p) => p.to_string(),
            };
            let mut ext = Extensions::default();
            ext.insert("x-permission".into(), serde_json::Value::String(need));
            op.extensions
                .get_or_insert_with(Default::default)
                .merge(ext);
            if rule.need == Need::Public {
                continue;
            }
            for (code, why) in [
                ("401", "Not signed in: no valid session cookie or API token"),
                (
                    "403",
                    "The caller lacks the permission in `x-permission` (or, for a write, it \
                     was sent from another site's page)",
                ),
            ] {
                op.responses
                    .responses
                    .entry(code.to_string())
                    .or_insert_with(|| super::error_response(why).into());
            }
            op.security = Some(vec![
                SecurityRequirement::new("token", Vec::<String>::new()),
                SecurityRequirement::new("session", Vec::<String>::new()),
            ]);
        }
    }
    doc
}

/// The operations of one path item with their methods.
fn operations(
    item: &mut utoipa::openapi::path::PathItem,
) -> Vec<(&'static str, &mut utoipa::openapi::path::Operation)> {
    [
        ("GET", item.get.as_mut()),
        ("POST", item.post.as_mut()),
        ("PUT", item.put.as_mut()),
        ("DELETE", item.delete.as_mut()),
        ("PATCH", item.patch.as_mut()),
    ]
    .into_iter()
    .filter_map(|(m, op)| op.map(|op| (m, op)))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_is_unique() {
        for (i, r) in RULES.iter().enumerate() {
            assert!(
                !RULES[..i]
                    .iter()
                    .any(|o| o.method == r.method && o.path == r.path),
                "{} {} listed twice",
                r.method,
                r.path
            );
        }
    }

    #[test]
    fn entity_and_id_come_from_the_route() {
        assert_eq!(
            entity_type("/api/datasources/{id}").as_deref(),
            Some("datasources")
        );
        assert_eq!(
            entity_type("/api/system/notification-templates/{id}").as_deref(),
            Some("notification-templates")
        );
        assert_eq!(
            path_param(
                "/api/backups/{execution_id}/restore",
                "/api/backups/abc/restore"
            )
            .as_deref(),
            Some("abc")
        );
        assert_eq!(path_param("/api/datasources", "/api/datasources"), None);
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, "a=1; dg_session=xyz; b=2".parse().unwrap());
        assert_eq!(session_cookie(&h), Some("xyz"));
        h.insert(header::COOKIE, "dg_sessionx=1".parse().unwrap());
        assert_eq!(session_cookie(&h), None);
    }
}
