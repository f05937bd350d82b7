//! `GET /metrics`: Prometheus text exposition (see observe/metrics.rs and
//! docs/OBSERVABILITY.md). Not under `/api`: scrapers expect it here.

use super::error::{ApiError, ApiResult};
use crate::observe::metrics::{self, StoreState};
use crate::server::state::AppState;
use crate::store;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

/// Prometheus metrics of this node.
#[utoipa::path(get, path = "/metrics", tag = "observability",
    responses((status = 200, description = "Prometheus text exposition format 0.0.4; series \
        prefixed `dataguardian_`, counters ending in `_total`", content_type = "text/plain",
        body = String)))]
pub async fn scrape(State(state): State<AppState>) -> ApiResult<Response> {
    let db = &state.db;
    let to_secs = |at: chrono::DateTime<chrono::Utc>| at.timestamp_micros() as f64 / 1e6;
    let figures = StoreState {
        queue: store::work::depth(db)
            .await?
            .into_iter()
            .map(|(kind, status, n)| (kind.to_string(), status.to_string(), n))
            .collect(),
        last_success: store::metrics::last_successful_backups(db)
            .await?
            .into_iter()
            .map(|(id, name, at)| (id, name, to_secs(at)))
            .collect(),
        datasources: store::metrics::datasource_health(db)
            .await?
            .into_iter()
            .map(|(id, name, kind, failures)| (id, name, kind, failures == 0))
            .collect(),
        storages: store::metrics::storage_health(db)
            .await?
            .into_iter()
            .map(|(id, name, kind, status, gb)| {
                (
                    id,
                    name,
                    kind,
                    status == crate::domain::StorageHealth::Healthy,
                    gb.map(|g| g * 1e9),
                )
            })
            .collect(),
        executions_running_here: state.running.count(),
        event_subscribers: crate::observe::events::bus().subscribers(),
    };
    let text = metrics::get()
        .scrape(figures)
        .await
        .map_err(ApiError::internal)?;
    Ok(([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], text).into_response())
}
