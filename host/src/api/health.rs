//! Health endpoints: `/health` (liveness) and the detailed `/api/health*`.

use super::datasources::DatasourceView;
use super::error::ApiResult;
use super::storages::StorageView;
use crate::server::state::AppState;
use crate::store;
use crate::store::rows::{HealthCheck, StorageHealthCheck};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct Liveness {
    pub status: crate::domain::LivenessStatus,
}

/// Liveness: 200 while the process serves requests and its database
/// answers; 503 while it shuts down (draining its running work).
#[utoipa::path(get, path = "/health", tag = "health",
    responses((status = 200, body = Liveness), (status = 503, body = Liveness)))]
pub async fn liveness(State(state): State<AppState>) -> (StatusCode, Json<Liveness>) {
    if state.running.draining() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(Liveness {
                status: crate::domain::LivenessStatus::Draining,
            }),
        );
    }
    match state.db.ping().await {
        Ok(()) => (
            StatusCode::OK,
            Json(Liveness {
                status: crate::domain::LivenessStatus::Ok,
            }),
        ),
        Err(e) => {
            tracing::error!("health: metadata database: {e}");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(Liveness {
                    status: crate::domain::LivenessStatus::DatabaseUnavailable,
                }),
            )
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QueueDepth {
    pub kind: crate::domain::WorkKind,
    pub status: crate::domain::WorkStatus,
    pub count: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SystemHealth {
    pub status: crate::domain::ServerStatus,
    pub version: String,
    pub uptime_seconds: i64,
    pub node_id: String,
    pub metadata_backend: String,
    pub database: String,
    pub queue: Vec<QueueDepth>,
    /// Where work is queued: `embedded` (the metadata database) or `redis`.
    pub queue_backend: dg_app::queue::QueueBackend,
    /// `ok`, or `unavailable` while the queue does not answer: nothing is
    /// scheduled or started until it is back (health checks and cleanup
    /// go on).
    pub queue_status: crate::domain::ServerStatus,
    /// What failed, while the queue is unavailable.
    pub queue_error: Option<String>,
    /// Executions this node is running now (the queue depth counts all nodes).
    pub running_here: usize,
    pub datasources: Vec<(crate::domain::DatasourceHealth, i64)>,
    pub plugins: usize,
}

/// Detailed health of the server.
#[utoipa::path(get, path = "/api/health", tag = "health", responses((status = 200, body = SystemHealth)))]
pub async fn detailed(State(state): State<AppState>) -> ApiResult<Json<SystemHealth>> {
    let ping = state.db.ping().await;
    let queue_health = state.queue.health();
    let status = match (&ping, queue_health.up) {
        (Ok(()), true) => crate::domain::ServerStatus::Ok,
        _ => crate::domain::ServerStatus::Degraded,
    };
    // `ok`, else what went wrong.
    let database = match ping {
        Ok(()) => crate::domain::ServerStatus::Ok.to_string(),
        Err(e) => e.to_string(),
    };
    let queue = store::work::depth(&state.db)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|(kind, status, count)| QueueDepth {
            kind,
            status,
            count,
        })
        .collect();
    let datasources = store::datasources::count_by_status(&state.db)
        .await
        .unwrap_or_default();
    let running_here = state.running.count();
    Ok(Json(SystemHealth {
        status,
        version: env!("CARGO_PKG_VERSION").into(),
        uptime_seconds: (store::now() - state.started_at).num_seconds(),
        node_id: state.node_id.to_string(),
        metadata_backend: state.db.backend().into(),
        database,
        queue,
        queue_backend: queue_health.backend,
        queue_status: if queue_health.up {
            crate::domain::ServerStatus::Ok
        } else {
            crate::domain::ServerStatus::Unavailable
        },
        queue_error: queue_health.error,
        running_here,
        datasources,
        plugins: state.plugins.list().len(),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DatasourceHealthReport {
    pub datasource: DatasourceView,
    pub last_check: Option<HealthCheck>,
}

/// Every datasource with its latest check.
#[utoipa::path(get, path = "/api/health/datasources", tag = "health",
    responses((status = 200, body = super::page::Page<DatasourceHealthReport>)))]
pub async fn datasources(
    State(state): State<AppState>,
) -> ApiResult<Json<super::page::Page<DatasourceHealthReport>>> {
    let (rows, _) =
        store::datasources::list(&state.db, &store::Filter::default(), 10_000, 0).await?;
    let mut out = Vec::with_capacity(rows.len());
    for ds in rows {
        let last_check = store::health::history(&state.db, &ds.id, 1).await?.pop();
        out.push(DatasourceHealthReport {
            datasource: ds.into(),
            last_check,
        });
    }
    Ok(Json(super::page::Page::whole(out)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StorageHealthReport {
    pub storage: StorageView,
    /// Newest first (up to 20).
    pub history: Vec<StorageHealthCheck>,
}

/// Every storage with its recent checks and free space.
#[utoipa::path(get, path = "/api/health/storage", tag = "health",
    responses((status = 200, body = super::page::Page<StorageHealthReport>)))]
pub async fn storage(
    State(state): State<AppState>,
) -> ApiResult<Json<super::page::Page<StorageHealthReport>>> {
    let mut out = Vec::new();
    for s in store::storages::all(&state.db).await? {
        let history = store::storages::health_history(&state.db, &s.id, 20).await?;
        out.push(StorageHealthReport {
            storage: s.into(),
            history,
        });
    }
    Ok(Json(super::page::Page::whole(out)))
}
