//! The health worker: checks every enabled datasource and every storage,
//! records the result, derives the datasource status, and raises
//! `connection_lost` after three failures in a row and
//! `connection_restored` when it comes back.

use crate::observe::events;
use crate::state::AppState;
use crate::targets;
use dg_core::domain::{DatasourceHealth, StorageHealth};
use dg_plugin_host::bindings::{HealthReport, HealthStatus};
use dg_store::rows::{Datasource, HealthCheck, StorageHealthCheck, StorageLocation};
use dg_store::{notifications, StoreError};
use serde_json::{json, Map, Value};
use sqlx::types::Json;

/// Failures in a row that make a datasource `critical`.
pub const STRIKES: i64 = 3;
/// Latency above which a working datasource is `warning`.
pub const SLOW_MS: u64 = 2000;

/// A pass over what was never checked: at start, so a fresh server's
/// datasources and storages (and `dataguardian_datasource_up`) are known
/// within seconds, while a restart loop cannot hammer what was checked
/// before (those wait for the interval).
pub async fn run_unchecked(state: &AppState) -> Result<(), StoreError> {
    for ds in dg_store::datasources::all_enabled(&state.db).await? {
        if ds.status == DatasourceHealth::Unknown {
            if let Err(e) = check_datasource(state, &ds).await {
                tracing::error!(datasource = %ds.id, "health check: {e}");
            }
        }
    }
    for s in dg_store::storages::all(&state.db).await? {
        if s.status == StorageHealth::Unknown {
            if let Err(e) = check_storage(state, &s).await {
                tracing::error!(storage = %s.id, "storage health check: {e}");
            }
        }
    }
    Ok(())
}

/// One pass over everything.
pub async fn run_once(state: &AppState) -> Result<(), StoreError> {
    for ds in dg_store::datasources::all_enabled(&state.db).await? {
        if let Err(e) = check_datasource(state, &ds).await {
            tracing::error!(datasource = %ds.id, "health check: {e}");
        }
    }
    for s in dg_store::storages::all(&state.db).await? {
        if let Err(e) = check_storage(state, &s).await {
            tracing::error!(storage = %s.id, "storage health check: {e}");
        }
    }
    Ok(())
}

/// The report of a check that could not even ask the plugin.
fn failed(message: String) -> HealthReport {
    HealthReport {
        status: HealthStatus::Error,
        latency_ms: 0,
        version: None,
        message: Some(message),
        metadata: Vec::new(),
    }
}

/// Asks the engine plugin; a failed call is an `error` report.
pub async fn probe_datasource(state: &AppState, ds: &Datasource) -> HealthReport {
    match targets::engine_for(state, ds, dg_plugin_host::tracing_sink()).await {
        Ok(engine) => match engine.health_check().await {
            Ok(report) => report,
            Err(e) => failed(e.to_string()),
        },
        Err(e) => failed(e.to_string()),
    }
}

/// Checks a datasource, records the check and updates its status.
pub async fn check_datasource(
    state: &AppState,
    ds: &Datasource,
) -> Result<HealthCheck, StoreError> {
    let report = probe_datasource(state, ds).await;
    record_datasource_check(state, ds, report).await
}

/// Records what a check of `ds` found — by the health worker, or by a
/// backup's own connection test, which is the same question asked by the
/// engine — and derives the datasource's status from it.
pub async fn record_datasource_check(
    state: &AppState,
    ds: &Datasource,
    report: HealthReport,
) -> Result<HealthCheck, StoreError> {
    let ok = report.status == HealthStatus::Ok;
    let mut metadata = Map::new();
    if let Some(v) = &report.version {
        metadata.insert("database_version".into(), Value::String(v.clone()));
    }
    for kv in &report.metadata {
        let value = kv
            .value
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::String(kv.value.clone()));
        metadata.insert(kv.key.clone(), value);
    }
    let check = HealthCheck {
        id: dg_store::new_id(),
        datasource_id: ds.id.clone(),
        checked_at: dg_store::now(),
        status: report.status.into(),
        latency_ms: ok.then_some(report.latency_ms as i64),
        error_message: if ok { None } else { report.message.clone() },
        metadata: Json(Value::Object(metadata)),
    };
    dg_store::health::insert(&state.db, &check).await?;

    let failures = if ok { 0 } else { ds.consecutive_failures + 1 };
    let status = match (ok, failures) {
        (true, _) if report.latency_ms > SLOW_MS => DatasourceHealth::Warning,
        (true, _) => DatasourceHealth::Healthy,
        (false, n) if n >= STRIKES => DatasourceHealth::Critical,
        (false, _) => DatasourceHealth::Warning,
    };
    dg_store::datasources::set_health(&state.db, &ds.id, status, failures, check.checked_at)
        .await?;
    if status != ds.status {
        events::publish(
            events::kind::DATASOURCE_STATUS,
            json!({
                "datasource_id": ds.id, "name": ds.name, "type": ds.kind,
                "status": status, "previous_status": ds.status,
                "consecutive_failures": failures, "check_status": check.status,
                "latency_ms": check.latency_ms, "error_message": check.error_message,
            }),
        );
    }

    if !ok && failures == STRIKES {
        notifications::insert(
            &state.db,
            notifications::NewNotification {
                kind: dg_core::domain::NotificationKind::ConnectionLost,
                severity: dg_core::domain::Severity::Critical,
                entity_type: Some(dg_core::domain::EntityType::Datasource),
                entity_id: Some(&ds.id),
                title: format!("Connection lost: {}", ds.name),
                message: format!(
                    "{STRIKES} health checks in a row failed; last: {} {}",
                    check.status,
                    check.error_message.clone().unwrap_or_default()
                ),
                metadata: json!({ "status": check.status, "consecutive_failures": failures }),
            },
        )
        .await?;
    }
    if ok && ds.consecutive_failures >= STRIKES {
        notifications::insert(
            &state.db,
            notifications::NewNotification {
                kind: dg_core::domain::NotificationKind::ConnectionRestored,
                severity: dg_core::domain::Severity::Info,
                entity_type: Some(dg_core::domain::EntityType::Datasource),
                entity_id: Some(&ds.id),
                title: format!("Connection restored: {}", ds.name),
                message: format!(
                    "healthy again after {} failed checks ({} ms)",
                    ds.consecutive_failures, report.latency_ms
                ),
                metadata: json!({ "latency_ms": report.latency_ms }),
            },
        )
        .await?;
    }
    Ok(check)
}

/// Asks the storage plugin.
pub async fn probe_storage(state: &AppState, s: &StorageLocation) -> HealthReport {
    match targets::storage_for(state, s, dg_plugin_host::tracing_sink()).await {
        Ok(storage) => match storage.health_check().await {
            Ok(report) => report,
            Err(e) => failed(e.to_string()),
        },
        Err(targets::TargetError::Unreachable(message)) => HealthReport {
            status: HealthStatus::Unreachable,
            ..failed(message)
        },
        Err(e) => failed(e.to_string()),
    }
}

/// Free space in GB from a storage report, when the plugin knows it.
pub fn available_gb(report: &HealthReport) -> Option<f64> {
    report
        .metadata
        .iter()
        .find(|kv| kv.key == "available_bytes")
        .and_then(|kv| kv.value.parse::<f64>().ok())
        .map(|b| (b / 1e9 * 1000.0).round() / 1000.0)
}

/// Free space of a local storage's filesystem, measured by the host: the
/// plugin cannot (WASI has no statvfs) and the directory is on this host.
fn local_free_gb(s: &StorageLocation) -> Option<f64> {
    if s.kind != "local" {
        return None;
    }
    let path = s.config.0.get("path")?.as_str()?;
    let bytes = dg_pipeline::spool::free_bytes(std::path::Path::new(path))? as f64;
    Some((bytes / 1e9 * 1000.0).round() / 1000.0)
}

pub async fn check_storage(
    state: &AppState,
    s: &StorageLocation,
) -> Result<StorageHealthCheck, StoreError> {
    let report = probe_storage(state, s).await;
    let ok = report.status == HealthStatus::Ok;
    let check = StorageHealthCheck {
        id: dg_store::new_id(),
        storage_location_id: s.id.clone(),
        checked_at: dg_store::now(),
        status: report.status.into(),
        latency_ms: Some(report.latency_ms as i64),
        available_space_gb: available_gb(&report).or_else(|| local_free_gb(s)),
        error_message: if ok { None } else { report.message.clone() },
    };
    dg_store::storages::record_health(&state.db, &check).await?;
    let status = StorageHealth::after(check.status);
    if status != s.status {
        events::publish(
            events::kind::STORAGE_STATUS,
            json!({
                "storage_location_id": s.id, "name": s.name, "type": s.kind,
                "status": status, "previous_status": s.status, "check_status": check.status,
                "available_bytes": check.available_space_gb.map(|gb| (gb * 1e9).round() as u64),
                "error_message": check.error_message,
            }),
        );
    }
    let was_ok = s.status != StorageHealth::Unreachable;
    if was_ok && !ok {
        notifications::insert(
            &state.db,
            notifications::NewNotification {
                kind: dg_core::domain::NotificationKind::StorageUnreachable,
                severity: dg_core::domain::Severity::Critical,
                entity_type: Some(dg_core::domain::EntityType::StorageLocation),
                entity_id: Some(&s.id),
                title: format!("Storage unreachable: {}", s.name),
                message: check.error_message.clone().unwrap_or_default(),
                metadata: json!({ "status": check.status }),
            },
        )
        .await?;
    } else if !was_ok && ok {
        notifications::insert(
            &state.db,
            notifications::NewNotification {
                kind: dg_core::domain::NotificationKind::ConnectionRestored,
                severity: dg_core::domain::Severity::Info,
                entity_type: Some(dg_core::domain::EntityType::StorageLocation),
                entity_id: Some(&s.id),
                title: format!("Storage reachable again: {}", s.name),
                message: format!("{} ms", report.latency_ms),
                metadata: json!({}),
            },
        )
        .await?;
        // What failed uploads left there while it was down goes now.
        let state = state.clone();
        let id = s.id.clone();
        tokio::spawn(async move {
            super::cleanup::sweep_leftovers(&state, Some(&id)).await;
        });
    }
    Ok(check)
}
