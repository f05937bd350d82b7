//! What a template sees: the notification and the job, datasource,
//! storage and execution it is about. Every variable is always present
//! (empty when it does not apply), so templates can test `{% if job.name %}`
//! and strict mode still catches misspelt names.

use dg_core::domain::{EntityType, ExecutionStatus, NotificationKind, Operation, Severity};
use dg_store::rows::Notification;
use dg_store::{Db, StoreError};
use serde_json::{json, Value};

/// The context of a real notification.
pub async fn for_notification(
    db: &Db,
    n: &Notification,
    node: &str,
    public_url: Option<&str>,
) -> Result<Value, StoreError> {
    let subject = dg_store::deliveries::subject_of(db, n).await?;
    let execution_id = match n.entity_type {
        Some(EntityType::BackupExecution) => n.entity_id.clone(),
        _ => text(&n.metadata.0, "execution_id"),
    };
    let execution = match &execution_id {
        Some(id) => dg_store::executions::get(db, id).await?,
        None => None,
    };
    let job = match &subject.job_id {
        Some(id) => dg_store::jobs::get(db, id).await?,
        None => None,
    };
    let datasource = match &subject.datasource_id {
        Some(id) => dg_store::datasources::get(db, id).await?,
        None => None,
    };
    let storage_id = match n.entity_type {
        Some(EntityType::StorageLocation) => n.entity_id.clone(),
        _ => execution
            .as_ref()
            .and_then(|e| e.storage_location_id.clone()),
    };
    let storage = match &storage_id {
        Some(id) => dg_store::storages::get(db, id).await?,
        None => None,
    };
    let link = public_url.map(|base| {
        let base = base.trim_end_matches('/');
        match (&execution_id, n.entity_type, &n.entity_id) {
            (Some(id), _, _) => format!("{base}/api/executions/{id}"),
            (None, Some(EntityType::Datasource), Some(id)) => {
                format!("{base}/api/datasources/{id}")
            }
            (None, Some(EntityType::StorageLocation), Some(id)) => {
                format!("{base}/api/storage-locations/{id}")
            }
            _ => format!("{base}/api/notifications"),
        }
    });
    Ok(json!({
        "kind": n.kind,
        "severity": n.severity,
        "title": n.title,
        "message": n.message,
        "created_at": n.created_at.to_rfc3339(),
        "node": node,
        "link": link.clone().unwrap_or_default(),
        "job": {
            "id": job.as_ref().map(|j| j.id.clone()).unwrap_or_default(),
            "name": job.as_ref().map(|j| j.name.clone()).unwrap_or_default(),
        },
        "datasource": {
            "id": datasource.as_ref().map(|d| d.id.clone()).unwrap_or_default(),
            "name": datasource.as_ref().map(|d| d.name.clone()).unwrap_or_default(),
            "type": datasource.as_ref().map(|d| d.kind.clone()).unwrap_or_default(),
        },
        "storage": {
            "id": storage.as_ref().map(|s| s.id.clone()).unwrap_or_default(),
            "name": storage.as_ref().map(|s| s.name.clone()).unwrap_or_default(),
            "type": storage.as_ref().map(|s| s.kind.clone()).unwrap_or_default(),
        },
        "execution": execution_context(execution.as_ref()),
        "fields": fields(n, job.as_ref(), datasource.as_ref(), storage.as_ref(), execution.as_ref(), link.as_deref()),
    }))
}

/// What a notifier sends beside the text (a webhook's `fields`): the job,
/// datasource and storage by name, the execution, its error and a link
/// when they apply, then the notification's own facts.
fn fields(
    n: &Notification,
    job: Option<&dg_store::rows::BackupJob>,
    datasource: Option<&dg_store::rows::Datasource>,
    storage: Option<&dg_store::rows::StorageLocation>,
    execution: Option<&dg_store::rows::Execution>,
    link: Option<&str>,
) -> Value {
    let mut out = serde_json::Map::new();
    let mut put = |key: &str, value: Option<String>| {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            out.insert(key.to_string(), Value::String(v));
        }
    };
    put("job", job.map(|j| j.name.clone()));
    put("datasource", datasource.map(|d| d.name.clone()));
    put("storage", storage.map(|s| s.name.clone()));
    put("execution_id", execution.map(|e| e.id.clone()));
    put("error", execution.and_then(|e| e.error_message.clone()));
    put("url", link.map(str::to_string));
    if let Value::Object(facts) = &n.metadata.0 {
        for (k, v) in facts {
            out.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    Value::Object(out)
}

fn execution_context(e: Option<&dg_store::rows::Execution>) -> Value {
    let Some(e) = e else {
        return json!({"id": "", "operation": "", "status": "", "size_bytes": 0,
            "compressed_size_bytes": 0, "size": "", "compressed_size": "",
            "duration_seconds": 0, "duration": "", "error": ""});
    };
    let size = e.size_bytes.unwrap_or(0).max(0) as u64;
    let stored = e.compressed_size_bytes.unwrap_or(0).max(0) as u64;
    let seconds = e.duration_seconds.unwrap_or(0.0);
    json!({
        "id": e.id,
        "operation": e.operation,
        "status": e.status,
        "size_bytes": size,
        "compressed_size_bytes": stored,
        "size": if size > 0 { human_bytes(size) } else { String::new() },
        "compressed_size": if stored > 0 { human_bytes(stored) } else { String::new() },
        "duration_seconds": seconds,
        "duration": if seconds > 0.0 { human_duration(seconds) } else { String::new() },
        "error": e.error_message.clone().unwrap_or_default(),
    })
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

/// `1.5 GB`: decimal units, one decimal.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// `1h 2m 3s`, `4.2s`.
pub fn human_duration(seconds: f64) -> String {
    if seconds < 60.0 {
        return format!("{seconds:.1}s");
    }
    let total = seconds.round() as u64;
    let (h, m, s) = (total / 3600, total % 3600 / 60, total % 60);
    if h > 0 {
        format!("{h}h {m}m {s}s")
    } else {
        format!("{m}m {s}s")
    }
}

/// The kind of the [`sample`] event (and of the template a channel test
/// renders).
pub const SAMPLE_KIND: NotificationKind = NotificationKind::BackupFailed;

/// A failed backup with every variable filled: what previews render and
/// what a template must render against to be saved.
pub fn sample() -> Value {
    json!({
        "kind": SAMPLE_KIND,
        "severity": Severity::Critical,
        "title": "Backup of `shop` failed",
        "message": "pg_dump: error: connection to server at \"db.internal\" failed: timeout expired",
        "created_at": "2026-11-30T03:00:12+00:00",
        "node": "backup-1",
        "link": "https://backups.example.com/api/executions/5f0c2d1e-0000-4000-8000-000000000001",
        "job": {"id": "7d1e0000-0000-4000-8000-000000000002", "name": "shop nightly"},
        "datasource": {"id": "9a3b0000-0000-4000-8000-000000000003", "name": "shop", "type": "postgres"},
        "storage": {"id": "c4d50000-0000-4000-8000-000000000004", "name": "offsite", "type": "s3"},
        "execution": {
            "id": "5f0c2d1e-0000-4000-8000-000000000001", "operation": Operation::Backup,
            "status": ExecutionStatus::Failed,
            "size_bytes": 0, "compressed_size_bytes": 0, "size": "", "compressed_size": "",
            "duration_seconds": 31.4, "duration": "31.4s",
            "error": "pg_dump: error: connection to server at \"db.internal\" failed: timeout expired",
        },
        "fields": {"job_id": "7d1e0000-0000-4000-8000-000000000002", "attempts": 3},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations_read_well() {
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(1_500_000_000), "1.5 GB");
        assert_eq!(human_duration(4.24), "4.2s");
        assert_eq!(human_duration(3723.0), "1h 2m 3s");
        assert_eq!(human_duration(75.0), "1m 15s");
    }
}
