//! The closed value sets of the domain: execution status, operation,
//! trigger, storage strategy, copy status, notification kind, severity,
//! health status and the other states stored in `status`/`kind`/`type`
//! columns.
//!
//! Invariant: no status or kind string exists outside this module and the
//! migrations (whose CHECK constraints list the same values). Each enum is
//! stored as TEXT (`sqlx::Type`), serialised as the same snake_case text
//! (serde), listed in the OpenAPI document (`ToSchema`, so a generated
//! client gets a union of the values), and printed with `as_str`/`Display`
//! for logs and metric labels. The text of a variant is written once, in
//! the `text_enum!` invocation, and every one of those representations
//! derives from it, so they cannot drift apart.
//!
//! A stored value that is not one of the variants fails the read with an
//! error naming the column (sqlx's `ColumnDecode`) — never a default.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use utoipa::ToSchema;

/// A text that is not one of an enum's values; says which enum and what
/// it accepts, so an API or CLI error can show it as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a {what}: use {allowed}")]
pub struct UnknownValue {
    pub value: String,
    pub what: &'static str,
    pub allowed: String,
}

/// A value refused, naming the field it came in (`retention_policy.
/// max_backups`, `database`) and why: the API answers it as a 422 with
/// `field` set and the CLI prints it, so neither parses a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// `a, b or c`: the values of a set as error messages list them.
pub fn either<E: AsRef<str>>(all: &[E]) -> String {
    let texts: Vec<&str> = all.iter().map(AsRef::as_ref).collect();
    match texts.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        Some((last, _)) => last.to_string(),
        None => String::new(),
    }
}

/// Declares a closed set of text values: the enum with its serde, sqlx and
/// OpenAPI representations (each variant's text given once), `ALL` in
/// declaration order, `as_str`, `Display` and `FromStr`.
macro_rules! text_enum {
    (
        $(#[$meta:meta])*
        $name:ident ($what:literal) {
            $( $(#[$vmeta:meta])* $variant:ident => $text:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
            Serialize, Deserialize, sqlx::Type, ToSchema,
        )]
        #[sqlx(type_name = "TEXT")]
        // utoipa does not see the per-variant renames through the macro;
        // every text is the snake_case of its variant's name, which
        // `every_value_has_one_text` checks against the OpenAPI schema.
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $(
                $(#[$vmeta])*
                #[serde(rename = $text)]
                #[sqlx(rename = $text)]
                $variant,
            )+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored and serialised text of this value.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownValue;
            fn from_str(s: &str) -> Result<Self, UnknownValue> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(UnknownValue {
                        value: other.to_string(),
                        what: $what,
                        allowed: either(&[$($text),+]),
                    }),
                }
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }
    };
}

text_enum! {
    /// Where an execution stands (`backup_executions.status`). The row is
    /// the source of truth; work items only drive the work.
    ExecutionStatus ("execution status") {
        Queued => "queued",
        Running => "running",
        Completed => "completed",
        Failed => "failed",
        Cancelled => "cancelled",
    }
}

impl ExecutionStatus {
    /// Whether the execution has ended (no worker will touch it again).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            ExecutionStatus::Completed | ExecutionStatus::Failed | ExecutionStatus::Cancelled
        )
    }
}

text_enum! {
    /// What an execution does (`backup_executions.operation`).
    Operation ("operation") {
        Backup => "backup",
        Restore => "restore",
        /// A restore into a scratch database, compared with the backup's
        /// recorded row counts.
        Verification => "verification",
        /// A completed backup copied to the storages of its job that do
        /// not hold it (`POST /api/executions/{id}/retry-upload`).
        Copy => "copy",
    }
}

impl Operation {
    /// The notification raised when an execution of this operation fails
    /// for good.
    pub fn failed_kind(self) -> NotificationKind {
        match self {
            Operation::Backup => NotificationKind::BackupFailed,
            Operation::Restore => NotificationKind::RestoreFailed,
            Operation::Verification => NotificationKind::VerificationFailed,
            // A copy that fails leaves the backup where it was: one fewer
            // copy than the job asks for is a backup problem.
            Operation::Copy => NotificationKind::BackupFailed,
        }
    }

    /// The queue an execution of this operation runs from (verifications
    /// are restores into a scratch database).
    pub fn work_kind(self) -> WorkKind {
        match self {
            // A copy moves stored bytes between storages, like a backup's
            // replicas: it takes a backup slot.
            Operation::Backup | Operation::Copy => WorkKind::Backup,
            Operation::Restore | Operation::Verification => WorkKind::Restore,
        }
    }
}

text_enum! {
    /// How an audited action ended (`audit_logs.outcome`).
    AuditOutcome ("audit outcome") {
        Succeeded => "succeeded",
        Failed => "failed",
        /// Refused for want of a permission or of credentials.
        Denied => "denied",
    }
}

text_enum! {
    /// Who acted, for the audit log (`audit_logs.actor_type`).
    ActorKind ("actor kind") {
        /// A signed-in session (or single sign-on).
        User => "user",
        /// An API token acting for its user.
        Token => "token",
        /// The command line, as the operating-system user running it.
        Cli => "cli",
        /// Nobody signed in (a failed sign-in).
        Anonymous => "anonymous",
    }
}

text_enum! {
    /// Who started an execution (`backup_executions.trigger_type`).
    Trigger ("trigger") {
        Manual => "manual",
        Scheduled => "scheduled",
    }
}

text_enum! {
    /// What a backup holds (`backup_executions.backup_type`, and the
    /// manifest's `backup_type`): every backup is a full one today.
    BackupType ("backup type") {
        Full => "full",
    }
}

text_enum! {
    /// How a job with several storages uses them
    /// (`backup_jobs.storage_strategy`).
    StorageStrategy ("storage strategy") {
        /// The first storage that works holds the backup.
        Fallback => "fallback",
        /// The first that works, then a verified copy into each other.
        Replicate => "replicate",
    }
}

text_enum! {
    /// Where one backup's copy on one storage stands
    /// (`execution_storages.status`).
    CopyStatus ("copy status") {
        Pending => "pending",
        Completed => "completed",
        Failed => "failed",
        /// Deleted by retention while another copy of the backup could not
        /// be deleted yet.
        Deleted => "deleted",
    }
}

text_enum! {
    /// What a notification is about (`notifications.type`, channel
    /// `events`, template `type`). Every value is raised by the core and
    /// listed in docs/NOTIFIERS.md (a unit test checks both ways).
    NotificationKind ("notification kind") {
        BackupCompleted => "backup_completed",
        BackupFailed => "backup_failed",
        /// A scheduled run found the job's previous backup still queued or
        /// running.
        BackupSkipped => "backup_skipped",
        RestoreCompleted => "restore_completed",
        RestoreFailed => "restore_failed",
        VerificationFailed => "verification_failed",
        ConnectionLost => "connection_lost",
        ConnectionRestored => "connection_restored",
        StorageUnreachable => "storage_unreachable",
        CleanupCompleted => "cleanup_completed",
        PluginFailed => "plugin_failed",
    }
}

text_enum! {
    /// How bad a notification is; channels take those at or above a
    /// minimum (the order of declaration is the order of severity).
    Severity ("severity") {
        Info => "info",
        Warning => "warning",
        Critical => "critical",
    }
}

text_enum! {
    /// Whether this server takes requests (`GET /api/health`).
    LivenessStatus ("liveness status") {
        Ok => "ok",
        /// Shutting down: finishing running work, taking no more.
        Draining => "draining",
        /// The metadata database does not answer.
        DatabaseUnavailable => "database_unavailable",
    }
}

text_enum! {
    /// The result of one health check (`health_checks.status`,
    /// `storage_health_checks.status`), as the plugin reported it.
    CheckStatus ("health check status") {
        Ok => "ok",
        Timeout => "timeout",
        AuthFailed => "auth_failed",
        Unreachable => "unreachable",
        Error => "error",
    }
}

text_enum! {
    /// A datasource's health derived from its recent checks
    /// (`datasources.status`).
    DatasourceHealth ("datasource status") {
        /// Not checked yet.
        Unknown => "unknown",
        Healthy => "healthy",
        /// Slow, or failing fewer than three times in a row.
        Warning => "warning",
        /// Three failed checks in a row.
        Critical => "critical",
    }
}

text_enum! {
    /// A storage's health from its last check (`storage_locations.status`).
    StorageHealth ("storage status") {
        /// Not checked yet.
        Unknown => "unknown",
        Healthy => "healthy",
        Unreachable => "unreachable",
    }
}

impl StorageHealth {
    /// A storage's status after a check with `result`.
    pub fn after(result: CheckStatus) -> Self {
        if result == CheckStatus::Ok {
            StorageHealth::Healthy
        } else {
            StorageHealth::Unreachable
        }
    }
}

text_enum! {
    /// Whether a copy of a backup can be read, as checked just now (not
    /// stored: an API view).
    CopyAvailability ("copy availability") {
        /// The copy's manifest is there.
        Available => "available",
        /// The storage answered, the manifest is not there.
        Missing => "missing",
        /// The storage did not answer.
        Unreachable => "unreachable",
        /// The storage or the copy's folder is not known any more.
        Unknown => "unknown",
    }
}

text_enum! {
    /// What retry-upload did for one storage (an API view, not stored).
    RetryOutcome ("retry outcome") {
        /// The backup was copied there from a verified copy.
        Copied => "copied",
        /// It holds the manifest and every part at its recorded size
        /// already.
        Present => "present",
        Failed => "failed",
    }
}

text_enum! {
    /// The server's own health (`GET /api/health`).
    ServerStatus ("server status") {
        Ok => "ok",
        /// The metadata database or the queue does not answer.
        Degraded => "degraded",
        /// A part (the queue) does not answer at all.
        Unavailable => "unavailable",
    }
}

text_enum! {
    /// Where a delivery of a notification to one channel stands
    /// (`notification_deliveries.status`).
    DeliveryStatus ("delivery status") {
        /// Waiting for its (next) attempt.
        Pending => "pending",
        /// Claimed by a sender.
        Sending => "sending",
        Delivered => "delivered",
        /// Gave up: a permanent error, or the attempts ran out.
        Failed => "failed",
        /// A repeat within the channel's suppression window: not sent.
        Suppressed => "suppressed",
    }
}

text_enum! {
    /// How important a line of an execution's log is
    /// (`execution_logs.level`); plugin trace lines are kept as `debug`.
    LogLevel ("log level") {
        Debug => "debug",
        Info => "info",
        Warn => "warn",
        Error => "error",
    }
}

text_enum! {
    /// Which workers take a work item (`work_items.kind`).
    WorkKind ("work kind") {
        Backup => "backup",
        /// Restores and verifications.
        Restore => "restore",
    }
}

text_enum! {
    /// Where a work item stands (`work_items.status`); the execution's own
    /// status is what users see.
    WorkStatus ("work item status") {
        Queued => "queued",
        Running => "running",
        Done => "done",
        Failed => "failed",
        Cancelled => "cancelled",
    }
}

text_enum! {
    /// What a notification is about (`notifications.entity_type`).
    EntityType ("entity type") {
        Datasource => "datasource",
        StorageLocation => "storage_location",
        BackupJob => "backup_job",
        BackupExecution => "backup_execution",
    }
}

/// What a plugin is (`plugin.toml` `kind`, `plugins.kind`). Kept here so
/// the domain and the store name plugin kinds without the plugin runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PluginKind {
    Engine,
    Storage,
    Notifier,
}

impl std::fmt::Display for PluginKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PluginKind::Engine => "engine",
            PluginKind::Storage => "storage",
            PluginKind::Notifier => "notifier",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// serde, `FromStr`, `as_str` and the OpenAPI schema agree on every
    /// value of `E`.
    fn round_trips<E>(all: &[E])
    where
        E: Copy + fmt::Debug + PartialEq + Serialize + FromStr + AsRef<str>,
        E: utoipa::PartialSchema,
        for<'de> E: Deserialize<'de>,
        <E as FromStr>::Err: fmt::Debug,
    {
        let schema = serde_json::to_value(E::schema()).unwrap();
        let mut listed: Vec<String> = Vec::new();
        let mut collect = |v: &serde_json::Value| {
            for t in v["enum"].as_array().into_iter().flatten() {
                listed.push(t.as_str().unwrap().to_string());
            }
        };
        collect(&schema);
        for variant in schema["oneOf"].as_array().into_iter().flatten() {
            collect(variant);
        }
        let texts: Vec<String> = all.iter().map(|v| v.as_ref().to_string()).collect();
        assert_eq!(listed, texts, "OpenAPI schema {schema}");
        for v in all {
            let text = v.as_ref();
            assert_eq!(serde_json::to_value(v).unwrap(), serde_json::json!(text));
            assert_eq!(
                serde_json::from_value::<E>(serde_json::json!(text)).unwrap(),
                *v
            );
            assert_eq!(text.parse::<E>().unwrap(), *v);
        }
    }

    #[test]
    fn every_value_has_one_text() {
        round_trips(ExecutionStatus::ALL);
        round_trips(Operation::ALL);
        round_trips(Trigger::ALL);
        round_trips(BackupType::ALL);
        round_trips(StorageStrategy::ALL);
        round_trips(CopyStatus::ALL);
        round_trips(NotificationKind::ALL);
        round_trips(Severity::ALL);
        round_trips(CheckStatus::ALL);
        round_trips(LivenessStatus::ALL);
        round_trips(DatasourceHealth::ALL);
        round_trips(StorageHealth::ALL);
        round_trips(AuditOutcome::ALL);
        round_trips(ActorKind::ALL);
        round_trips(DeliveryStatus::ALL);
        round_trips(WorkKind::ALL);
        round_trips(WorkStatus::ALL);
        round_trips(EntityType::ALL);
        round_trips(CopyAvailability::ALL);
        round_trips(ServerStatus::ALL);
        round_trips(RetryOutcome::ALL);
        round_trips(LogLevel::ALL);
    }

    #[test]
    fn an_unknown_text_names_the_set_and_its_values() {
        let e = "sometimes".parse::<Severity>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "`sometimes` is not a severity: use info, warning or critical"
        );
    }

    #[test]
    fn severity_orders_by_badness() {
        assert!(Severity::Info < Severity::Warning);
        assert!(Severity::Warning < Severity::Critical);
    }

    /// Each (table, column) with a closed set, and its enum's values.
    fn checked_columns() -> Vec<(&'static str, &'static str, Vec<String>)> {
        fn texts<E: AsRef<str>>(all: &[E]) -> Vec<String> {
            all.iter().map(|v| v.as_ref().to_string()).collect()
        }
        let plugin_kinds = [
            PluginKind::Engine,
            PluginKind::Storage,
            PluginKind::Notifier,
        ]
        .iter()
        .map(ToString::to_string)
        .collect();
        vec![
            ("datasources", "status", texts(DatasourceHealth::ALL)),
            ("storage_locations", "status", texts(StorageHealth::ALL)),
            (
                "backup_jobs",
                "storage_strategy",
                texts(StorageStrategy::ALL),
            ),
            ("backup_executions", "operation", texts(Operation::ALL)),
            ("backup_executions", "trigger_type", texts(Trigger::ALL)),
            ("backup_executions", "status", texts(ExecutionStatus::ALL)),
            ("backup_executions", "backup_type", texts(BackupType::ALL)),
            ("execution_storages", "status", texts(CopyStatus::ALL)),
            ("execution_logs", "level", texts(LogLevel::ALL)),
            ("health_checks", "status", texts(CheckStatus::ALL)),
            ("storage_health_checks", "status", texts(CheckStatus::ALL)),
            ("notifications", "type", texts(NotificationKind::ALL)),
            ("notifications", "severity", texts(Severity::ALL)),
            ("notifications", "entity_type", texts(EntityType::ALL)),
            ("work_items", "kind", texts(WorkKind::ALL)),
            ("work_items", "status", texts(WorkStatus::ALL)),
            (
                "notification_channels",
                "min_severity",
                texts(Severity::ALL),
            ),
            (
                "notification_deliveries",
                "status",
                texts(DeliveryStatus::ALL),
            ),
            (
                "notification_templates",
                "type",
                texts(NotificationKind::ALL),
            ),
            ("plugins", "kind", plugin_kinds),
        ]
    }

    /// Migrations that set the CHECK constraints (PostgreSQL) and
    /// triggers (SQLite) of the closed sets, oldest first: 0005 sets them
    /// all, later ones replace a column's when its set grows.
    const CHECK_MIGRATIONS: [(&str, &str); 2] = [
        (
            include_str!("../../../../migrations/postgres/0005_domain_checks.sql"),
            include_str!("../../../../migrations/sqlite/0005_domain_checks.sql"),
        ),
        (
            include_str!("../../../../migrations/postgres/0006_copy_and_cancel.sql"),
            include_str!("../../../../migrations/sqlite/0006_copy_and_cancel.sql"),
        ),
    ];

    /// The CHECK constraints and triggers, as the latest migration that
    /// sets each column's leaves them, list exactly the enums' values, for
    /// every checked column and no other.
    #[test]
    fn the_migration_checks_list_the_enum_values() {
        let columns = checked_columns();
        for (table, column, values) in &columns {
            let name = format!("{table}_{column}_check");
            let (pg, sqlite) = CHECK_MIGRATIONS
                .iter()
                .rev()
                .find(|(pg, _)| pg.contains(&format!("ADD CONSTRAINT {name}\n")))
                .unwrap_or_else(|| panic!("no migration sets {name}"));
            let list: Vec<String> = values.iter().map(|v| format!("'{v}'")).collect();
            let list = list.join(", ");
            let constraint = format!(
                "ALTER TABLE {table} ADD CONSTRAINT {name}\n    CHECK ({column} IN ({list}));"
            );
            assert!(pg.contains(&constraint), "postgres: {constraint}");
            for when in [
                format!("BEFORE INSERT ON {table}"),
                format!("BEFORE UPDATE OF {column} ON {table}"),
            ] {
                let trigger = format!("{when}\nWHEN NEW.{column} NOT IN ({list})\n");
                assert!(sqlite.contains(&trigger), "sqlite: {trigger}");
            }
        }
        // 0005 sets every column, and checks the rows already there.
        let (pg, sqlite) = CHECK_MIGRATIONS[0];
        for (table, column, _) in &columns {
            let existing =
                format!("CONSTRAINT \"{table}.{column}\" CHECK (column_name <> '{table}.{column}'");
            assert!(sqlite.contains(&existing), "sqlite: {existing}");
            let copied = format!(
                "INSERT INTO domain_check_existing SELECT '{table}.{column}', {column} FROM {table};"
            );
            assert!(sqlite.contains(&copied), "sqlite: {copied}");
        }
        let statements =
            |sql: &str, start: &str| sql.lines().filter(|l| l.starts_with(start)).count();
        assert_eq!(statements(pg, "ALTER TABLE"), columns.len());
        assert_eq!(statements(sqlite, "CREATE TRIGGER"), 2 * columns.len());
    }
}
