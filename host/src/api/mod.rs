//! The REST API (axum). Every route is declared with its OpenAPI
//! description next to the handler; the document served at
//! `/api/openapi.json` is generated from those declarations.

pub mod access;
pub mod auth;
pub mod backups;
pub mod channels;
pub mod dashboard;
pub mod datasources;
pub mod error;
pub mod events;
pub mod executions;
pub mod extract;
pub mod guard;
pub mod health;
pub mod jobs;
pub mod limits;
pub mod metrics;
pub mod notifications;
pub mod page;
pub mod plugins;
pub mod storages;
pub mod stream;
pub mod system;
pub mod templates;
pub mod throttle;
pub mod ui;
pub mod users;

use crate::server::state::AppState;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use error::ApiError;
use tower_http::trace::{DefaultMakeSpan, TraceLayer};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "DataGuardian API",
        description = "Backups and restores of databases and files. JSON in snake_case; \
                       errors are {\"error\": {\"code\", \"message\", \"field\"?}}; lists are \
                       {\"data\": [...], \"pagination\": {...}}."
    ),
    tags(
        (name = "datasources"), (name = "storage"), (name = "backup-jobs"),
        (name = "executions"), (name = "backups"), (name = "health"),
        (name = "notifications"), (name = "system"), (name = "dashboard"),
        (name = "events"), (name = "observability"), (name = "auth"), (name = "access")
    )
)]
struct ApiDoc;

/// The OpenAPI document the server serves at `/api/openapi.json`
/// (`dataguardian openapi` prints it; the web UI's client is generated
/// from it).
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    let (_, openapi) = routes().split_for_parts();
    finish_document(openapi)
}

fn finish_document(openapi: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    declare_errors(access::describe(unique_operation_ids(openapi)))
}

/// The API router and its OpenAPI document.
pub fn router(state: AppState) -> Router {
    let max_body = state.config.max_body_bytes;
    let origin_policy = std::sync::Arc::new(state.config.origin.clone());
    let (router, openapi) = routes().split_for_parts();
    let openapi = std::sync::Arc::new(finish_document(openapi));
    router
        .route(
            "/api/openapi.json",
            get(move || {
                let doc = openapi.clone();
                async move { Json(doc.as_ref().clone()) }
            }),
        )
        // Every route above answers only to whom its rule allows.
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            access::enforce,
        ))
        // Paths outside the API are the web UI's (ui.rs).
        .fallback(ui::fallback)
        .layer(axum::middleware::map_response(method_not_allowed_as_json))
        .layer(axum::middleware::map_response(api_headers))
        .layer(DefaultBodyLimit::max(max_body))
        .layer(axum::middleware::from_fn_with_state(
            origin_policy,
            guard::guard,
        ))
        // Each request is a span at INFO: its method and path prefix the
        // lines logged while it runs, and it is one trace when shipped.
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(DefaultMakeSpan::new().level(tracing::Level::INFO)),
        )
        .layer(axum::middleware::from_fn(crate::observe::http::track))
        .with_state(state)
}

/// Every operation with its handler.
fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health::liveness))
        .routes(routes!(health::detailed))
        .routes(routes!(health::datasources))
        .routes(routes!(health::storage))
        .routes(routes!(datasources::list, datasources::create))
        .routes(routes!(
            datasources::get,
            datasources::update,
            datasources::delete
        ))
        .routes(routes!(datasources::test_connection))
        .routes(routes!(datasources::health_checks))
        .routes(routes!(datasources::health_check))
        .routes(routes!(datasources::databases))
        .routes(routes!(storages::list, storages::create))
        .routes(routes!(storages::get, storages::update, storages::delete))
        .routes(routes!(storages::test))
        .routes(routes!(storages::files, storages::delete_file))
        .routes(routes!(storages::copy))
        .routes(routes!(storages::download))
        .routes(routes!(jobs::list, jobs::create))
        .routes(routes!(jobs::get, jobs::update, jobs::delete))
        .routes(routes!(jobs::run))
        .routes(routes!(jobs::executions))
        .routes(routes!(jobs::retention_dry_run))
        .routes(routes!(jobs::schedule_preview))
        .routes(routes!(executions::list))
        .routes(routes!(executions::get, executions::delete))
        .routes(routes!(executions::logs))
        .routes(routes!(executions::download))
        .routes(routes!(executions::retry_upload))
        .routes(routes!(executions::mark_restored))
        .routes(routes!(executions::cancel))
        .routes(routes!(backups::datasources))
        .routes(routes!(backups::for_datasource))
        .routes(routes!(backups::restore))
        .routes(routes!(notifications::list))
        .routes(routes!(notifications::mark_read))
        .routes(routes!(notifications::mark_all_read))
        .routes(routes!(channels::create, channels::list))
        .routes(routes!(channels::get, channels::update, channels::delete))
        .routes(routes!(channels::test))
        .routes(routes!(channels::deliveries))
        .routes(routes!(templates::list))
        .routes(routes!(templates::get, templates::update))
        .routes(routes!(templates::versions))
        .routes(routes!(templates::version))
        .routes(routes!(templates::revert))
        .routes(routes!(templates::preview))
        .routes(routes!(system::get_settings, system::put_settings))
        .routes(routes!(system::plugins))
        .routes(routes!(system::nodes))
        .routes(routes!(plugins::install))
        .routes(routes!(plugins::update))
        .routes(routes!(plugins::remove))
        .routes(routes!(dashboard::overview))
        .routes(routes!(events::stream))
        .routes(routes!(metrics::scrape))
        .routes(routes!(auth::login))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::setup))
        .routes(routes!(auth::me))
        .routes(routes!(auth::options))
        .routes(routes!(auth::change_password))
        .routes(routes!(auth::oidc_login))
        .routes(routes!(auth::oidc_callback))
        .routes(routes!(auth::sessions))
        .routes(routes!(auth::revoke_session))
        .routes(routes!(users::list_users, users::create_user))
        .routes(routes!(
            users::get_user,
            users::update_user,
            users::delete_user
        ))
        .routes(routes!(users::list_roles, users::create_role))
        .routes(routes!(
            users::get_role,
            users::update_role,
            users::delete_role
        ))
        .routes(routes!(users::list_tokens, users::create_token))
        .routes(routes!(users::revoke_token))
        .routes(routes!(users::audit_logs))
}

/// Every answer is read for what it declares (`nosniff`), and API answers
/// (people's data) are never kept by a browser or proxy cache unless the
/// route said otherwise (the UI's files set their own caching).
async fn api_headers(mut response: axum::response::Response) -> axum::response::Response {
    use axum::http::{header, HeaderValue};
    let headers = response.headers_mut();
    headers
        .entry(header::X_CONTENT_TYPE_OPTIONS)
        .or_insert(HeaderValue::from_static("nosniff"));
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

/// axum answers a wrong method with an empty 405; give it the API's error
/// body, keeping the `Allow` header.
async fn method_not_allowed_as_json(
    response: axum::response::Response,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if response.status() != StatusCode::METHOD_NOT_ALLOWED {
        return response;
    }
    // axum adds `Allow` after this layer has run, so it is usually not
    // here yet: point at the header rather than claim a list.
    let allow = response.headers().get(axum::http::header::ALLOW).cloned();
    let message = match allow.as_ref().and_then(|v| v.to_str().ok()) {
        Some(list) if !list.is_empty() => {
            format!("this route does not accept that method; allowed: {list}")
        }
        _ => "this route does not accept that method; the Allow header lists those it does"
            .to_string(),
    };
    let mut out = ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        message,
    )
    .into_response();
    if let Some(a) = allow {
        out.headers_mut().insert(axum::http::header::ALLOW, a);
    }
    out
}

/// Errors any operation can answer, declared on every operation so the
/// document lists each status the server may return (handlers declare
/// their own 2xx and specific errors next to them): the request guard's
/// 400/403/415/421, the extractors' 400/413/422, 404 for unknown ids,
/// 409 for state conflicts, 502/503 when a plugin target or the queue
/// fails, 500.
/// An error answer of the document: `ErrorBody` with `description`.
fn error_response(description: &str) -> utoipa::openapi::Response {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build()
}

fn declare_errors(mut doc: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    let error = error_response;
    let common: &[(&str, &str)] = &[
        (
            "400",
            "Malformed request (JSON syntax, query parameter, missing Host)",
        ),
        ("404", "No such route or object"),
        ("409", "Conflicts with the object's state"),
        (
            "421",
            "The Host header names a host this server does not answer to",
        ),
        ("422", "Invalid input; `field` names it"),
        ("500", "Internal error (see the server log)"),
        ("502", "A storage or database the request needed failed"),
        ("503", "The queue or the metadata database is unavailable"),
    ];
    let writes: &[(&str, &str)] = &[
        (
            "403",
            "Sent from another site's page (Origin / Sec-Fetch-Site)",
        ),
        ("413", "Body larger than --max-body-kb"),
        ("415", "A body not sent as application/json"),
    ];
    for item in doc.paths.paths.values_mut() {
        let operations = [
            (&mut item.get, false),
            (&mut item.put, true),
            (&mut item.post, true),
            (&mut item.delete, true),
            (&mut item.patch, true),
        ];
        for (op, write) in operations {
            let Some(op) = op else { continue };
            let extra = if write { writes } else { &[] };
            for (code, description) in common.iter().chain(extra) {
                op.responses
                    .responses
                    .entry((*code).to_string())
                    .or_insert_with(|| error(description).into());
            }
        }
    }
    doc
}

/// Handler names repeat across modules (`list`, `get`...); operation ids
/// must be unique, so each is prefixed with its tag: `datasources_list`.
fn unique_operation_ids(mut doc: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    for item in doc.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for op in operations.into_iter().flatten() {
            let tag = op
                .tags
                .as_ref()
                .and_then(|t| t.first())
                .map(|t| t.replace('-', "_"))
                .unwrap_or_default();
            if let Some(id) = &op.operation_id {
                if !tag.is_empty() {
                    op.operation_id = Some(format!("{tag}_{id}"));
                }
            }
        }
    }
    doc
}
