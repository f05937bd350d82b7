//! Rows of the metadata tables, as stored. API views that hide secrets
//! are built from these in the API (`dataguardian::api`).

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::types::Json;
use utoipa::ToSchema;

use dg_core::domain::{
    CheckStatus, CopyStatus, DatasourceHealth, DeliveryStatus, EntityType, ExecutionStatus,
    NotificationKind, Operation, Severity, StorageHealth, StorageStrategy, Trigger, WorkKind,
    WorkStatus,
};

#[derive(Debug, Clone, sqlx::FromRow, Serialize, ToSchema)]
pub struct Datasource {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    #[sqlx(rename = "type")]
    pub kind: String,
    /// Includes secrets: never serialised as is (see `api::datasources`).
    #[schema(value_type = Object)]
    pub connection_config: crate::sealed::SealedJson,
    pub status: DatasourceHealth,
    pub enabled: bool,
    #[schema(value_type = Vec<String>)]
    pub tags: Json<Vec<String>>,
    pub consecutive_failures: i64,
    pub last_health_check_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow, Serialize, ToSchema)]
pub struct StorageLocation {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    #[sqlx(rename = "type")]
    pub kind: String,
    #[schema(value_type = Object)]
    pub config: crate::sealed::SealedJson,
    pub is_default: bool,
    pub status: StorageHealth,
    pub available_space_gb: Option<f64>,
    pub last_health_check_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow, Serialize, ToSchema)]
pub struct BackupJob {
    pub id: String,
    pub name: String,
    pub datasource_id: String,
    pub storage_location_id: String,
    pub storage_strategy: StorageStrategy,
    pub schedule_cron: String,
    pub schedule_timezone: String,
    pub enabled: bool,
    /// Typed: a stored value that does not read fails the read naming
    /// the column, never a default.
    #[schema(value_type = dg_core::retention::RetentionPolicy)]
    pub retention_policy: Json<dg_core::retention::RetentionPolicy>,
    #[schema(value_type = dg_core::options::BackupOptions)]
    pub backup_options: Json<dg_core::options::BackupOptions>,
    pub last_execution_at: Option<DateTime<Utc>>,
    pub next_execution_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow, Serialize, ToSchema)]
pub struct Execution {
    pub id: String,
    pub job_id: Option<String>,
    pub datasource_id: Option<String>,
    pub storage_location_id: Option<String>,
    pub operation: Operation,
    pub trigger_type: Trigger,
    pub status: ExecutionStatus,
    /// For restores: the backup being restored.
    pub source_execution_id: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub duration_seconds: Option<f64>,
    pub size_bytes: Option<i64>,
    pub compressed_size_bytes: Option<i64>,
    pub progress_bytes: i64,
    pub backup_path: Option<String>,
    pub backup_type: dg_core::domain::BackupType,
    pub checksum: Option<String>,
    pub error_message: Option<String>,
    pub error_stack: Option<String>,
    #[schema(value_type = Object)]
    pub metadata: Json<Value>,
    pub restored_at: Option<DateTime<Utc>>,
    /// When a cancel was asked for (through any node's API); the node
    /// running the execution sees it and stops.
    pub cancel_requested_at: Option<DateTime<Utc>>,
    /// For scheduled runs: the due time this run was queued for (one run
    /// per job and due time, whichever node queued it).
    pub scheduled_for: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Where one backup went, per storage.
#[derive(Debug, Clone, sqlx::FromRow, Serialize, ToSchema)]
pub struct ExecutionStorage {
    pub execution_id: String,
    pub storage_location_id: String,
    pub status: CopyStatus,
    pub backup_path: Option<String>,
    pub error_message: Option<String>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow, Serialize, ToSchema)]
pub struct Chunk {
    pub id: String,
    pub execution_id: String,
    pub chunk_number: i64,
    pub file_path: String,
    pub size_bytes: i64,
    pub checksum: String,
}

#[derive(Debug, Clone, sqlx::FromRow, Serialize, ToSchema)]
pub struct ExecutionLog {
    pub id: i64,
    #[serde(skip)]
    pub execution_id: String,
    pub ts: DateTime<Utc>,
    pub level: dg_core::domain::LogLevel,
    pub message: String,
}

#[derive(Debug, Clone, sqlx::FromRow, Serialize, ToSchema)]
pub struct HealthCheck {
    pub id: String,
    pub datasource_id: String,
    pub checked_at: DateTime<Utc>,
    pub status: CheckStatus,
    pub latency_ms: Option<i64>,
    pub error_message: Option<String>,
    #[schema(value_type = Object)]
    pub metadata: Json<Value>,
}

#[derive(Debug, Clone, sqlx::FromRow, Serialize, ToSchema)]
pub struct StorageHealthCheck {
    pub id: String,
    pub storage_location_id: String,
    pub checked_at: DateTime<Utc>,
    pub status: CheckStatus,
    pub latency_ms: Option<i64>,
    pub available_space_gb: Option<f64>,
    pub error_message: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow, Serialize, ToSchema)]
pub struct Notification {
    pub id: String,
    #[serde(rename = "type")]
    #[sqlx(rename = "type")]
    pub kind: NotificationKind,
    pub severity: Severity,
    pub entity_type: Option<EntityType>,
    pub entity_id: Option<String>,
    pub title: String,
    pub message: String,
    #[schema(value_type = Object)]
    pub metadata: Json<Value>,
    pub read_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow, Serialize, ToSchema)]
pub struct Setting {
    pub key: String,
    #[schema(value_type = Object)]
    pub value: Json<Value>,
    pub description: Option<String>,
    pub updated_at: DateTime<Utc>,
}

/// One unit of queued work (a backup or a restore execution).
#[derive(Debug, Clone, sqlx::FromRow, Serialize)]
pub struct WorkItem {
    pub id: String,
    pub kind: WorkKind,
    pub execution_id: String,
    pub priority: i64,
    pub status: WorkStatus,
    pub attempts: i64,
    pub max_attempts: i64,
    pub run_after: DateTime<Utc>,
    pub claimed_by: Option<String>,
    pub heartbeat_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An external channel notifications are routed to.
#[derive(Debug, Clone, sqlx::FromRow, Serialize, ToSchema)]
pub struct NotificationChannel {
    pub id: String,
    pub name: String,
    /// The notifier plugin type: `smtp`, `webhook`, `whatsapp`...
    #[serde(rename = "type")]
    #[sqlx(rename = "type")]
    pub kind: String,
    /// Includes secrets: never serialised as is (see `api::channels`).
    #[schema(value_type = Object)]
    pub config: crate::sealed::SealedJson,
    /// Notification kinds routed here; empty means every kind.
    #[schema(value_type = Vec<NotificationKind>)]
    pub events: Json<Vec<NotificationKind>>,
    pub min_severity: Severity,
    /// Only notifications about these jobs / datasources (empty: any).
    #[schema(value_type = Vec<String>)]
    pub job_ids: Json<Vec<String>>,
    #[schema(value_type = Vec<String>)]
    pub datasource_ids: Json<Vec<String>>,
    /// A repeat of the same kind about the same entity within this many
    /// minutes is recorded as suppressed instead of sent (0: never).
    pub suppress_minutes: i64,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One notification on its way to one channel.
#[derive(Debug, Clone, sqlx::FromRow, Serialize, ToSchema)]
pub struct Delivery {
    pub id: String,
    pub notification_id: String,
    pub channel_id: String,
    /// `kind:entity`: what repeat suppression compares.
    pub suppress_key: String,
    pub status: DeliveryStatus,
    pub attempts: i64,
    pub next_attempt_at: DateTime<Utc>,
    #[serde(skip)]
    pub lease_until: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    /// The message as rendered for the last attempt.
    pub subject: Option<String>,
    pub body: Option<String>,
    pub template_version: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

/// A message template per channel type and notification kind; its text
/// lives in numbered versions.
#[derive(Debug, Clone, sqlx::FromRow, Serialize, ToSchema)]
pub struct Template {
    pub id: String,
    pub channel: String,
    #[serde(rename = "type")]
    #[sqlx(rename = "type")]
    pub kind: NotificationKind,
    pub active_version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow, Serialize, ToSchema)]
pub struct TemplateVersion {
    pub template_id: String,
    pub version: i64,
    pub subject: Option<String>,
    pub body: String,
    pub created_at: DateTime<Utc>,
}
