//! `/api/dashboard/overview`: the figures of the home screen.

use super::error::ApiResult;
use crate::observe::monitor::{Machine, Sample, ThreadPool};
use crate::server::state::AppState;
use crate::store::{self, executions, Filter};
use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct NextRun {
    pub job_id: String,
    pub job_name: String,
    pub next_execution_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Overview {
    pub datasources_total: i64,
    /// Datasources per status (`healthy`, `warning`, `critical`, `unknown`).
    pub datasources_by_status: std::collections::BTreeMap<String, i64>,
    pub storage_locations_total: usize,
    pub jobs_total: i64,
    pub jobs_enabled: i64,
    pub totals: executions::Totals,
    /// Completed / (completed + failed) backups over the last 24 hours,
    /// null when there were none.
    pub success_rate_24h: Option<f64>,
    pub success_rate_all_time: Option<f64>,
    pub last_executions: Vec<super::executions::ExecutionView>,
    pub next_runs: Vec<NextRun>,
    pub unread_notifications: i64,
    /// The system monitor (seed 001): the machine, its newest sample and
    /// the kept history.
    pub performance: Performance,
    /// The async runtime's workers and queue (the seed's thread pool).
    pub thread_pool: ThreadPool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Performance {
    pub machine: Machine,
    /// Null until the first sample.
    pub current: Option<Sample>,
    /// Oldest first, at most `machine.history_size`.
    pub history: Vec<Sample>,
}

fn rate(ok: i64, failed: i64) -> Option<f64> {
    let all = ok + failed;
    (all > 0).then(|| ((ok as f64 / all as f64) * 10_000.0).round() / 10_000.0)
}

#[utoipa::path(get, path = "/api/dashboard/overview", tag = "dashboard",
    responses((status = 200, body = Overview)))]
pub async fn overview(State(state): State<AppState>) -> ApiResult<Json<Overview>> {
    let db = &state.db;
    let by_status: std::collections::BTreeMap<String, i64> =
        store::datasources::count_by_status(db)
            .await?
            .into_iter()
            .map(|(status, n)| (status.to_string(), n))
            .collect();
    let (jobs_total, jobs_enabled) = store::jobs::count(db).await?;
    let totals = executions::totals(db, store::now() - chrono::Duration::hours(24)).await?;
    let (last_executions, _) = executions::list(db, &Filter::default(), 10, 0).await?;
    let names = crate::store::names::all(db).await?;
    let last_executions = last_executions
        .into_iter()
        .map(|e| super::executions::ExecutionView::new(e, &names))
        .collect();
    let next_runs = store::jobs::upcoming(db, 5)
        .await?
        .into_iter()
        .map(|j| NextRun {
            job_id: j.id,
            job_name: j.name,
            next_execution_at: j.next_execution_at,
        })
        .collect();
    Ok(Json(Overview {
        datasources_total: by_status.values().sum(),
        datasources_by_status: by_status,
        storage_locations_total: store::storages::all(db).await?.len(),
        jobs_total,
        jobs_enabled,
        success_rate_24h: rate(totals.completed_last_24h, totals.failed_last_24h),
        success_rate_all_time: rate(totals.backups_completed, totals.backups_failed),
        totals,
        last_executions,
        next_runs,
        unread_notifications: store::notifications::unread_count(db).await?,
        performance: Performance {
            machine: state.monitor.machine().clone(),
            current: state.monitor.current(),
            history: state.monitor.history(),
        },
        thread_pool: state.monitor.thread_pool(),
    }))
}
