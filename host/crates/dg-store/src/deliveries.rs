//! `notification_deliveries`: routing a notification to the channels
//! whose rules take it, and the durable queue their sending works from
//! (claimed under a lease, so a crash mid-send retries instead of losing).

use crate::rows::{Delivery, Notification, NotificationChannel};
use crate::{execute, new_id, now, with_pool, Db, Filter, StoreError};
use chrono::{DateTime, Duration, Utc};

use dg_core::domain::EntityType;
pub use dg_core::domain::{DeliveryStatus, Severity};

/// The job and datasource a notification is about, for scoped channels.
#[derive(Debug, Default, Clone)]
pub struct Subject {
    pub job_id: Option<String>,
    pub datasource_id: Option<String>,
}

/// Whether `channel`'s rules take notification `n` about `subject`.
pub fn takes(channel: &NotificationChannel, n: &Notification, subject: &Subject) -> bool {
    let kind_ok = channel.events.0.is_empty() || channel.events.0.contains(&n.kind);
    let severity_ok = n.severity >= channel.min_severity;
    let in_scope = |ids: &[String], id: &Option<String>| {
        ids.is_empty() || id.as_ref().is_some_and(|id| ids.contains(id))
    };
    kind_ok
        && severity_ok
        && in_scope(&channel.job_ids.0, &subject.job_id)
        && in_scope(&channel.datasource_ids.0, &subject.datasource_id)
}

/// What repeat suppression compares: the same kind about the same thing.
/// A run's notification is about its job (each run is a new execution, so
/// keying on the execution would never suppress a job failing again);
/// anything else is about its entity.
pub fn suppress_key(n: &Notification, subject: &Subject) -> String {
    match (n.entity_type, subject.job_id.as_deref()) {
        (Some(EntityType::BackupExecution), Some(job)) => format!("{}:job:{job}", n.kind),
        _ => format!("{}:{}", n.kind, n.entity_id.as_deref().unwrap_or("-")),
    }
}

/// Queues `n` for `channel`, or records it as suppressed when the same
/// key was queued for the channel within its window.
pub async fn enqueue(
    db: &Db,
    channel: &NotificationChannel,
    n: &Notification,
    subject: &Subject,
) -> Result<Delivery, StoreError> {
    let key = suppress_key(n, subject);
    let at = now();
    let since = at - Duration::minutes(channel.suppress_minutes.max(0));
    let recent: i64 = if channel.suppress_minutes > 0 {
        with_pool!(db, |p| sqlx::query_scalar(
            "SELECT COUNT(*) FROM notification_deliveries WHERE channel_id = $1
             AND suppress_key = $2 AND created_at > $3 AND status <> $4"
        )
        .bind(&channel.id)
        .bind(&key)
        .bind(since)
        .bind(DeliveryStatus::Suppressed)
        .fetch_one(p)
        .await?)
    } else {
        0
    };
    let status = if recent > 0 {
        DeliveryStatus::Suppressed
    } else {
        DeliveryStatus::Pending
    };
    let d = Delivery {
        id: new_id(),
        notification_id: n.id.clone(),
        channel_id: channel.id.clone(),
        suppress_key: key,
        status,
        attempts: 0,
        next_attempt_at: at,
        lease_until: None,
        last_error: (status == DeliveryStatus::Suppressed).then(|| {
            format!(
                "a repeat within {} minute(s) of the last message about the same thing",
                channel.suppress_minutes
            )
        }),
        subject: None,
        body: None,
        template_version: None,
        created_at: at,
        updated_at: at,
        delivered_at: None,
    };
    execute!(db, |p| sqlx::query(
        "INSERT INTO notification_deliveries (id, notification_id, channel_id, suppress_key,
         status, attempts, next_attempt_at, last_error, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, 0, $6, $7, $8, $8)"
    )
    .bind(&d.id)
    .bind(&d.notification_id)
    .bind(&d.channel_id)
    .bind(&d.suppress_key)
    .bind(d.status)
    .bind(d.next_attempt_at)
    .bind(&d.last_error)
    .bind(d.created_at)
    .execute(p)
    .await?);
    Ok(d)
}

/// Claims up to `limit` due deliveries for `lease`. A delivery whose
/// lease ran out (its sender died) is due again.
pub async fn claim_due(db: &Db, limit: i64, lease: Duration) -> Result<Vec<Delivery>, StoreError> {
    let at = now();
    let until = at + lease;
    let mut claimed = Vec::new();
    let candidates: Vec<String> = with_pool!(db, |p| sqlx::query_scalar(
        "SELECT id FROM notification_deliveries
         WHERE (status = $3 AND next_attempt_at <= $1)
            OR (status = $4 AND lease_until < $1)
         ORDER BY next_attempt_at LIMIT $2"
    )
    .bind(at)
    .bind(limit)
    .bind(DeliveryStatus::Pending)
    .bind(DeliveryStatus::Sending)
    .fetch_all(p)
    .await?);
    for id in candidates {
        // The conditional update is the claim: of two nodes, one wins.
        let row: Option<Delivery> = with_pool!(db, |p| sqlx::query_as::<_, Delivery>(
            "UPDATE notification_deliveries SET status = $5, lease_until = $2,
             attempts = attempts + 1, updated_at = $3
             WHERE id = $1 AND ((status = $4 AND next_attempt_at <= $3)
                OR (status = $5 AND lease_until < $3))
             RETURNING *"
        )
        .bind(&id)
        .bind(until)
        .bind(at)
        .bind(DeliveryStatus::Pending)
        .bind(DeliveryStatus::Sending)
        .fetch_optional(p)
        .await?);
        claimed.extend(row);
    }
    Ok(claimed)
}

/// Records the message rendered for an attempt.
pub async fn set_message(
    db: &Db,
    id: &str,
    subject: &str,
    body: &str,
    version: i64,
) -> Result<(), StoreError> {
    execute!(db, |p| sqlx::query(
        "UPDATE notification_deliveries SET subject = $2, body = $3, template_version = $4
         WHERE id = $1"
    )
    .bind(id)
    .bind(subject)
    .bind(body)
    .bind(version)
    .execute(p)
    .await?);
    Ok(())
}

/// Ends an attempt: delivered, retried at `retry_at`, or failed.
pub async fn settle(
    db: &Db,
    id: &str,
    outcome: Result<(), (String, Option<DateTime<Utc>>)>,
) -> Result<(), StoreError> {
    let at = now();
    let (status, error, next, delivered) = match outcome {
        Ok(()) => (DeliveryStatus::Delivered, None, at, Some(at)),
        Err((e, Some(retry_at))) => (DeliveryStatus::Pending, Some(e), retry_at, None),
        Err((e, None)) => (DeliveryStatus::Failed, Some(e), at, None),
    };
    execute!(db, |p| sqlx::query(
        "UPDATE notification_deliveries SET status = $2, last_error = $3, next_attempt_at = $4,
         delivered_at = $5, lease_until = NULL, updated_at = $6 WHERE id = $1"
    )
    .bind(id)
    .bind(status)
    .bind(error)
    .bind(next)
    .bind(delivered)
    .bind(at)
    .execute(p)
    .await?);
    Ok(())
}

pub async fn list(
    db: &Db,
    filter: &Filter,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Delivery>, i64), StoreError> {
    crate::page(
        db,
        "notification_deliveries",
        "created_at DESC, id",
        filter,
        limit,
        offset,
    )
    .await
}

/// Most channels one notification is delivered to: one event must not
/// fan out into an unbounded number of renders and outgoing messages.
pub const MAX_DELIVERIES_PER_NOTIFICATION: usize = 25;

/// Queues `n` for every enabled channel whose rules take it, at most
/// [`MAX_DELIVERIES_PER_NOTIFICATION`] (by channel name); the channels
/// left out are named in the log.
pub async fn route(db: &Db, n: &Notification) -> Result<Vec<Delivery>, StoreError> {
    let channels = crate::channels::enabled(db).await?;
    if channels.is_empty() {
        return Ok(Vec::new());
    }
    let subject = subject_of(db, n).await?;
    let (taken, left_out) = capped(channels.iter().filter(|c| takes(c, n, &subject)));
    let mut queued = Vec::new();
    for channel in taken {
        queued.push(enqueue(db, channel, n, &subject).await?);
    }
    if !left_out.is_empty() {
        let names: Vec<&str> = left_out.iter().map(|c| c.name.as_str()).collect();
        tracing::warn!(
            notification_id = %n.id,
            "notification `{}` matches more than {MAX_DELIVERIES_PER_NOTIFICATION} channels; not delivered to {}: {}",
            n.kind,
            names.len(),
            names.join(", ")
        );
    }
    Ok(queued)
}

/// The first [`MAX_DELIVERIES_PER_NOTIFICATION`] channels, and the rest.
fn capped<'a>(
    channels: impl Iterator<Item = &'a NotificationChannel>,
) -> (Vec<&'a NotificationChannel>, Vec<&'a NotificationChannel>) {
    let mut all: Vec<_> = channels.collect();
    let rest = all.split_off(all.len().min(MAX_DELIVERIES_PER_NOTIFICATION));
    (all, rest)
}

/// The job and datasource a notification is about, from its entity.
pub async fn subject_of(db: &Db, n: &Notification) -> Result<Subject, StoreError> {
    let id = n.entity_id.clone();
    let mut subject = Subject {
        job_id: n
            .metadata
            .0
            .get("job_id")
            .and_then(|v| v.as_str())
            .map(str::to_string),
        datasource_id: None,
    };
    match n.entity_type {
        Some(EntityType::Datasource) => subject.datasource_id = id,
        Some(EntityType::BackupJob) => {
            if let Some(job) = crate::jobs::get(db, id.as_deref().unwrap_or_default()).await? {
                subject.datasource_id = Some(job.datasource_id);
                subject.job_id = Some(job.id);
            }
        }
        Some(EntityType::BackupExecution) => {
            if let Some(e) = crate::executions::get(db, id.as_deref().unwrap_or_default()).await? {
                subject.job_id = e.job_id.or(subject.job_id);
                subject.datasource_id = e.datasource_id;
            }
        }
        _ => {}
    }
    Ok(subject)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dg_core::domain::NotificationKind as K;
    use serde_json::json;
    use sqlx::types::Json;

    fn channel(events: &[K], min: Severity, jobs: &[&str]) -> NotificationChannel {
        NotificationChannel {
            id: "c".into(),
            name: "c".into(),
            kind: "webhook".into(),
            config: crate::sealed::SealedJson(json!({})),
            events: Json(events.to_vec()),
            min_severity: min,
            job_ids: Json(jobs.iter().map(|s| s.to_string()).collect()),
            datasource_ids: Json(Vec::new()),
            suppress_minutes: 30,
            enabled: true,
            created_at: now(),
            updated_at: now(),
        }
    }

    #[test]
    fn one_notification_reaches_a_bounded_number_of_channels() {
        let many: Vec<NotificationChannel> = (0..MAX_DELIVERIES_PER_NOTIFICATION + 3)
            .map(|i| {
                let mut c = channel(&[], Severity::Info, &[]);
                c.name = format!("c{i:03}");
                c
            })
            .collect();
        let (taken, rest) = capped(many.iter());
        assert_eq!(taken.len(), MAX_DELIVERIES_PER_NOTIFICATION);
        assert_eq!(rest.len(), 3);
        assert_eq!(
            rest[0].name,
            format!("c{MAX_DELIVERIES_PER_NOTIFICATION:03}")
        );
        let (taken, rest) = capped(many.iter().take(2));
        assert_eq!((taken.len(), rest.len()), (2, 0));
    }

    fn note(kind: K, severity: Severity) -> Notification {
        Notification {
            id: "n".into(),
            kind,
            severity,
            entity_type: Some(EntityType::Datasource),
            entity_id: Some("ds1".into()),
            title: String::new(),
            message: String::new(),
            metadata: Json(json!({})),
            read_at: None,
            created_at: now(),
        }
    }

    #[test]
    fn rules_filter_by_kind_severity_and_scope() {
        let any = Subject::default();
        let job = Subject {
            job_id: Some("j1".into()),
            datasource_id: None,
        };
        assert!(takes(
            &channel(&[], Severity::Info, &[]),
            &note(K::BackupCompleted, Severity::Info),
            &any
        ));
        assert!(!takes(
            &channel(&[], Severity::Warning, &[]),
            &note(K::BackupCompleted, Severity::Info),
            &any
        ));
        assert!(takes(
            &channel(&[], Severity::Warning, &[]),
            &note(K::BackupFailed, Severity::Critical),
            &any
        ));
        assert!(!takes(
            &channel(&[K::ConnectionLost], Severity::Info, &[]),
            &note(K::BackupFailed, Severity::Critical),
            &any
        ));
        assert!(!takes(
            &channel(&[], Severity::Info, &["j1"]),
            &note(K::BackupFailed, Severity::Critical),
            &any
        ));
        assert!(takes(
            &channel(&[], Severity::Info, &["j1"]),
            &note(K::BackupFailed, Severity::Critical),
            &job
        ));
        assert_eq!(
            suppress_key(&note(K::ConnectionLost, Severity::Critical), &any),
            "connection_lost:ds1"
        );
        // Runs of one job are one thing to suppress: each failure is a
        // new execution, the same job.
        let mut run = note(K::BackupFailed, Severity::Critical);
        run.entity_type = Some(EntityType::BackupExecution);
        run.entity_id = Some("e2".into());
        assert_eq!(suppress_key(&run, &job), "backup_failed:job:j1");
        assert_eq!(suppress_key(&run, &any), "backup_failed:e2");
    }
}
