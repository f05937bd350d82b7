//! The restore worker: restores a completed backup into a datasource, or,
//! in verification mode, into a scratch database that is compared with
//! the source and dropped.

use super::logger::ExecutionLogger;
use super::runner::{Outcome, Started};
use crate::state::{AppState, RunningExecution};
use crate::targets;
use dg_core::domain::{ExecutionStatus, Operation};
use dg_pipeline::manifest::{BackupManifest, Metadata};
use dg_pipeline::{PipelineError, RestoreRequest};
use dg_plugin_host::bindings::TableCount;
use dg_plugin_host::{EngineClient, StorageClient};
use dg_store::executions;
use dg_store::rows::{Datasource, Execution, WorkItem};
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;

pub fn handle(
    state: AppState,
    item: WorkItem,
    run: RunningExecution,
) -> BoxFuture<'static, Outcome> {
    Box::pin(async move {
        let started = match Started::begin(&state, &item, &run).await {
            Ok(s) => s,
            Err(outcome) => return outcome,
        };
        let outcome = restore(&state, &started.execution, &run, &started.log).await;
        started.end(outcome, &run).await
    })
}

async fn restore(
    state: &AppState,
    execution: &Execution,
    run: &RunningExecution,
    log: &ExecutionLogger,
) -> Outcome {
    let db = &state.db;
    let verification = execution.operation == Operation::Verification;
    let Some(source_id) = execution.source_execution_id.clone() else {
        return Outcome::failed("no backup to restore (source_execution_id is empty)");
    };
    let source = match executions::get(db, &source_id).await {
        Ok(Some(s))
            if s.status == ExecutionStatus::Completed && s.operation == Operation::Backup =>
        {
            s
        }
        Ok(Some(s)) => {
            return Outcome::failed(format!(
                "execution {source_id} is not a completed backup (status {})",
                s.status
            ))
        }
        Ok(None) => return Outcome::failed(format!("backup {source_id} no longer exists")),
        Err(e) => return Outcome::failed(e.to_string()),
    };
    let Some(prefix) = source.backup_path.clone() else {
        return Outcome::failed(format!("backup {source_id} has no stored path"));
    };
    let Some(target_id) = execution.datasource_id.clone() else {
        return Outcome::failed("the target datasource was deleted");
    };
    let target = match dg_store::datasources::get(db, &target_id).await {
        Ok(Some(ds)) => ds,
        Ok(None) => return Outcome::failed("the target datasource was deleted"),
        Err(e) => return Outcome::failed(e.to_string()),
    };
    let storages = match candidate_storages(state, execution, &source).await {
        Ok(s) if !s.is_empty() => s,
        Ok(_) => return Outcome::failed(format!("no storage holds backup {source_id}")),
        Err(e) => return Outcome::failed(e),
    };
    let spec = match RestoreSpec::of(execution) {
        Ok(spec) => spec,
        Err(message) => return Outcome::failed(message),
    };
    let choice = DatabaseChoice::of(&spec);
    let plan = match RestorePlan::of(state, execution, &spec, &target, &choice) {
        Ok(plan) => plan,
        Err(message) => return Outcome::failed(message),
    };
    if verification {
        return verify(
            state, execution, &target, &storages, &prefix, &plan, run, log,
        )
        .await;
    }
    log.info(format!(
        "restoring backup {source_id} ({prefix}){} into datasource `{}`{}",
        choice
            .database
            .as_ref()
            .map(|d| format!(", database `{d}`,"))
            .unwrap_or_default(),
        target.name,
        choice
            .target_name()
            .map(|d| format!(", database `{d}`"))
            .unwrap_or_default()
    ));
    let (engine, created) = match target_engine(state, &execution.id, &target, &choice, log).await {
        Ok(t) => t,
        Err(message) => return Outcome::failed(message),
    };
    if plan.parallel.is_some() && created.is_none() {
        if let Err(message) =
            dg_pipeline::check_parallel_target(&engine, plan.drop_existing, "drop_existing").await
        {
            return Outcome::failed(message);
        }
    }
    // Dropping a restore on cancel is safe: the engine's program is killed
    // and, for postgres, its single transaction never commits; a parallel
    // restore's spool is removed, and a database created for it dropped.
    let restored = tokio::select! {
        r = restore_from_any(&storages, &prefix, &engine, &plan, run, log) => Some(r),
        _ = run.cancel.cancelled() => None,
    };
    if !matches!(restored, Some(Ok(_))) {
        drop_created(state, &target, created.as_deref(), log).await;
    }
    match restored {
        None => Outcome::Cancelled,
        Some(Ok((storage_name, _))) => {
            let meta = json!({ "restored_from_storage": storage_name });
            match executions::finish(
                db,
                &execution.id,
                dg_core::domain::ExecutionStatus::Completed,
                None,
                Some(&meta),
            )
            .await
            {
                Ok(false) => already_ended(&execution.id, Operation::Restore),
                Ok(true) => {
                    log.info("restore completed");
                    let _ = dg_store::notifications::insert(
                        db,
                        dg_store::notifications::NewNotification {
                            kind: dg_core::domain::NotificationKind::RestoreCompleted,
                            severity: dg_core::domain::Severity::Info,
                            entity_type: Some(dg_core::domain::EntityType::Datasource),
                            entity_id: Some(&target.id),
                            title: format!("Restore into `{}` completed", target.name),
                            message: format!(
                                "{} of {} restored into `{}`{} from `{storage_name}`",
                                backup_label(db, &source).await,
                                source
                                    .started_at
                                    .unwrap_or(source.created_at)
                                    .format("%Y-%m-%d %H:%M UTC"),
                                target.name,
                                choice
                                    .target_name()
                                    .map(|d| format!(" (database `{d}`)"))
                                    .unwrap_or_default(),
                            ),
                            metadata: json!({"execution_id": execution.id, "source_execution_id": source_id}),
                        },
                    )
                    .await;
                    Outcome::Done
                }
                Err(e) => Outcome::failed(e.to_string()),
            }
        }
        Some(Err(outcome)) => outcome,
    }
}

/// What a restore or verification was asked to do. The API writes it
/// into the execution's `metadata` when it queues the work (these keys,
/// beside the results recorded later); the worker reads it back here. A
/// value that does not read fails the run naming the field, never a
/// default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RestoreSpec {
    pub operation: Operation,
    #[serde(default)]
    pub verification_mode: bool,
    /// Drop the objects of the same names first (`clean`).
    #[serde(default)]
    pub drop_existing: bool,
    /// The backup's checksum when the restore was asked for.
    #[serde(default)]
    pub source_checksum: Option<String>,
    /// The database inside a several-databases backup.
    #[serde(default)]
    pub database: Option<String>,
    /// The database of the target server to restore into.
    #[serde(default)]
    pub target_database: Option<String>,
    /// Parallel loading: a count, `"auto"` (this node's cores, resolved
    /// when the run starts), or absent for one stream.
    #[serde(default)]
    pub jobs: Option<Jobs>,
}

/// Parallel loading as asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Jobs {
    Count(u32),
    /// `"auto"`.
    Word(String),
}

impl RestoreSpec {
    /// The spec stored on `execution`, or a failure naming the field.
    pub fn of(execution: &Execution) -> Result<Self, String> {
        serde_path_to_error::deserialize(execution.metadata.0.clone()).map_err(|e| {
            format!(
                "the stored restore request does not read: metadata.{}: {}",
                e.path(),
                e.inner()
            )
        })
    }

    /// The spec as stored in the execution's metadata.
    pub fn to_metadata(&self) -> Value {
        serde_json::to_value(self).unwrap_or_else(|_| Value::Object(Default::default()))
    }

    /// Streams to load with; `auto` is this node's cores.
    fn resolved_jobs(&self) -> Result<u32, String> {
        match &self.jobs {
            None => Ok(1),
            Some(Jobs::Count(n)) => dg_pipeline::parse_jobs(&n.to_string()),
            Some(Jobs::Word(w)) => dg_pipeline::parse_jobs(w),
        }
        .map_err(|e| format!("metadata.jobs: {e}"))
    }
}

/// `the backup of job `shop nightly``, or of its id when the job is gone.
async fn backup_label(db: &dg_store::Db, backup: &Execution) -> String {
    let job = match backup.job_id.as_deref() {
        Some(id) => dg_store::jobs::get(db, id).await.ok().flatten(),
        None => None,
    };
    match job {
        Some(job) => format!("The backup of job `{}`", job.name),
        None => format!("Backup {}", backup.id),
    }
}

/// How to restore: the engine's options, the database to pick from a
/// several-databases backup, and whether to load in parallel.
struct RestorePlan {
    options: Vec<(String, String)>,
    drop_existing: bool,
    database: Option<String>,
    parallel: Option<dg_pipeline::Parallel>,
}

impl RestorePlan {
    fn of(
        state: &AppState,
        execution: &Execution,
        spec: &RestoreSpec,
        target: &Datasource,
        choice: &DatabaseChoice,
    ) -> Result<Self, String> {
        let drop_existing = spec.drop_existing;
        let options = if drop_existing {
            vec![("clean".into(), "true".into())]
        } else {
            Vec::new()
        };
        // `auto` is resolved here: the cores of the node that runs it.
        let jobs = spec.resolved_jobs()?;
        if jobs > 1 && !state.plugins.restores_in_parallel(&target.kind) {
            return Err(format!(
                "jobs {jobs}: the `{}` engine restores from one stream only",
                target.kind
            ));
        }
        let parallel = (jobs > 1).then(|| dg_pipeline::Parallel {
            jobs,
            spool: state.config.restore_spool.clone(),
            name: execution.id.clone(),
        });
        Ok(Self {
            options,
            drop_existing,
            database: choice.database.clone(),
            parallel,
        })
    }
}

/// Which database of a backup to restore, and under which name.
struct DatabaseChoice {
    /// The database inside a several-databases backup.
    database: Option<String>,
    /// The database of the target server to restore into, if not the
    /// datasource's own.
    target_database: Option<String>,
}

impl DatabaseChoice {
    fn of(spec: &RestoreSpec) -> Self {
        Self {
            database: spec.database.clone(),
            target_database: spec.target_database.clone(),
        }
    }

    /// The database of the target server the restore writes into, when
    /// it is not the one the datasource is configured with: only
    /// `target_database` says so. A database picked out of a
    /// several-databases backup goes into the datasource's own database
    /// otherwise, never into the name it had on the source server (which,
    /// on the target server, may be someone else's database).
    fn target_name(&self) -> Option<&str> {
        self.target_database.as_deref()
    }
}

/// The engine to restore with, pointed at the chosen database; that
/// database is created first when the server does not list it (its name
/// is returned, so a failed restore can drop it again).
async fn target_engine(
    state: &AppState,
    execution_id: &str,
    target: &Datasource,
    choice: &DatabaseChoice,
    log: &ExecutionLogger,
) -> Result<(EngineClient, Option<String>), String> {
    let admin = targets::engine_for(state, target, log.sink())
        .await
        .map_err(|e| e.to_string())?;
    let Some(name) = choice.target_name() else {
        return Ok((admin, None));
    };
    let exists = match admin.list_databases().await {
        Ok(listed) => listed.iter().any(|d| d == name),
        Err(e) => {
            log.warn(format!(
                "could not list the databases of `{}` ({e}); restoring into `{name}` as if it exists",
                target.name
            ));
            true
        }
    };
    let created = if exists {
        None
    } else {
        record_created_database(state, execution_id, name).await?;
        admin
            .create_scratch_database(name)
            .await
            .map_err(|e| format!("creating database `{name}`: {e}"))?;
        log.info(format!("created database `{name}` for the restore"));
        Some(name.to_string())
    };
    let config = super::backup::with_database(&target.connection_config.0, name);
    match targets::engine_with_config(state, target, config, log.sink()).await {
        Ok(engine) => Ok((engine, created)),
        Err(e) => {
            drop_created(state, target, created.as_deref(), log).await;
            Err(e.to_string())
        }
    }
}

/// Records, before it is created, the database a restore or verification
/// creates: if the process dies before the run can drop it again, crash
/// recovery does (`recovery::drop_created_database`).
async fn record_created_database(
    state: &AppState,
    execution_id: &str,
    name: &str,
) -> Result<(), String> {
    executions::note_in_metadata(
        &state.db,
        execution_id,
        CREATED_DATABASE,
        &Value::String(name.to_string()),
    )
    .await
    .map_err(|e| format!("recording database `{name}` before creating it: {e}"))
}

/// The metadata key naming the database a restore created.
pub const CREATED_DATABASE: &str = "created_database";

/// Drops a database this restore created, after the restore failed.
async fn drop_created(
    state: &AppState,
    target: &Datasource,
    created: Option<&str>,
    log: &ExecutionLogger,
) {
    let Some(name) = created else { return };
    let dropped = match targets::engine_for(state, target, log.sink()).await {
        Ok(admin) => admin
            .drop_scratch_database(name)
            .await
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    match dropped {
        Ok(()) => log.info(format!(
            "dropped database `{name}`, created for this failed restore"
        )),
        Err(e) => log.warn(format!(
            "dropping database `{name}` after the failed restore: {e}"
        )),
    }
}

/// The work finished after the execution had been ended elsewhere (the
/// heartbeat sweep failed it, say): its recorded outcome stands.
fn already_ended(execution_id: &str, what: Operation) -> Outcome {
    tracing::warn!(
        execution = %execution_id,
        "{what} finished after its execution had already been ended; its recorded status stands"
    );
    Outcome::Skipped
}

/// Storages to read from: the requested one, else every storage where
/// the backup completed, primary first.
async fn candidate_storages(
    state: &AppState,
    execution: &Execution,
    source: &Execution,
) -> Result<Vec<(String, StorageClient)>, String> {
    let db = &state.db;
    let mut ids = Vec::new();
    if let Some(chosen) = execution.storage_location_id.clone() {
        ids.push(chosen);
    } else {
        if let Some(primary) = &source.storage_location_id {
            ids.push(primary.clone());
        }
        for s in executions::storages(db, &source.id)
            .await
            .map_err(|e| e.to_string())?
        {
            if s.status == dg_core::domain::CopyStatus::Completed
                && !ids.contains(&s.storage_location_id)
            {
                ids.push(s.storage_location_id);
            }
        }
    }
    let mut out = Vec::new();
    for id in ids {
        if let Some(row) = dg_store::storages::get(db, &id)
            .await
            .map_err(|e| e.to_string())?
        {
            let client = targets::storage_for(state, &row, dg_plugin_host::tracing_sink())
                .await
                .map_err(|e| format!("storage `{}`: {e}", row.name))?;
            out.push((row.name, client));
        }
    }
    Ok(out)
}

/// Restores from the first storage that has an intact copy. Checksums are
/// checked while streaming; a copy found damaged stops the engine before it
/// commits, and the next copy is tried.
async fn restore_from_any(
    storages: &[(String, StorageClient)],
    prefix: &str,
    engine: &EngineClient,
    plan: &RestorePlan,
    run: &RunningExecution,
    log: &ExecutionLogger,
) -> Result<(String, BackupManifest), Outcome> {
    let mut errors = Vec::new();
    for (name, storage) in storages {
        log.info(match &plan.parallel {
            None => format!("restoring from `{name}`, checking checksums while streaming"),
            Some(p) => format!(
                "restoring from `{name}` with {} jobs: checking checksums into a spool in {}, \
                 then loading it",
                p.jobs,
                p.spool.dir.display()
            ),
        });
        let request = RestoreRequest {
            storage: storage.clone(),
            prefix: prefix.to_string(),
            engine: engine.clone(),
            options: plan.options.clone(),
            activity: run.activity.clone(),
            database: plan.database.clone(),
            parallel: plan.parallel.clone(),
        };
        match dg_pipeline::run_restore(request).await {
            Ok(manifest) => return Ok((name.clone(), manifest)),
            Err(PipelineError::Copy(e)) => {
                log.warn(format!(
                    "storage `{name}`: {e}; nothing was committed to the target"
                ));
                errors.push(format!("`{name}`: {e}"));
            }
            Err(e) => {
                return Err(Outcome::from_pipeline(
                    &e,
                    format!("restore from `{name}` failed: {e}"),
                ))
            }
        }
    }
    Err(Outcome::failed(format!(
        "no intact copy of the backup: {}",
        errors.join("; ")
    )))
}

#[allow(clippy::too_many_arguments)]
async fn verify(
    state: &AppState,
    execution: &Execution,
    target: &Datasource,
    storages: &[(String, StorageClient)],
    prefix: &str,
    plan: &RestorePlan,
    run: &RunningExecution,
    log: &ExecutionLogger,
) -> Outcome {
    let db = &state.db;
    let admin = match targets::engine_for(state, target, log.sink()).await {
        Ok(e) => e,
        Err(e) => return Outcome::failed(e.to_string()),
    };
    let scratch_name = format!("dg_verify_{}", &execution.id.replace('-', "")[..12]);
    if let Err(message) = record_created_database(state, &execution.id, &scratch_name).await {
        return Outcome::failed(message);
    }
    let scratch_config = match admin.create_scratch_database(&scratch_name).await {
        Ok(config) => config,
        Err(e) => return Outcome::failed(format!("creating the scratch database: {e}")),
    };
    let scratch = scratch_name.clone();
    log.info(format!(
        "verification restore into scratch database `{scratch}`"
    ));
    let work = async {
        let config: Value = serde_json::from_str(&scratch_config).map_err(|e| {
            Outcome::failed(format!("the engine's scratch database configuration: {e}"))
        })?;
        let engine = targets::engine_with_config(state, target, config, log.sink())
            .await
            .map_err(|e| Outcome::failed(e.to_string()))?;
        // Into an empty scratch database: never asked to drop anything.
        let plan = RestorePlan {
            options: Vec::new(),
            drop_existing: false,
            database: plan.database.clone(),
            parallel: plan.parallel.clone(),
        };
        let (storage_name, manifest) =
            restore_from_any(storages, prefix, &engine, &plan, run, log).await?;
        let restored = engine
            .inspect()
            .await
            .map_err(|e| Outcome::from_call(&e, format!("inspecting the scratch database: {e}")))?;
        Ok::<_, Outcome>((
            storage_name,
            compare_with_backup(&restored, &manifest.metadata),
        ))
    };
    // On cancel the work stops but the scratch database is still dropped.
    let result = tokio::select! {
        r = work => Some(r),
        _ = run.cancel.cancelled() => None,
    };
    match admin.drop_scratch_database(&scratch).await {
        Ok(()) => log.info(format!("dropped scratch database `{scratch}`")),
        Err(e) => log.warn(format!("dropping scratch database `{scratch}`: {e}")),
    }
    let Some(result) = result else {
        return Outcome::Cancelled;
    };
    match result {
        Ok((storage_name, report)) => {
            let passed = report.mismatches.is_empty();
            let meta = json!({ "verification": report.to_json(passed), "restored_from_storage": storage_name });
            if passed {
                log.info(format!("verification passed: {}", report.summary()));
                match executions::finish(
                    db,
                    &execution.id,
                    dg_core::domain::ExecutionStatus::Completed,
                    None,
                    Some(&meta),
                )
                .await
                {
                    Ok(true) => Outcome::Done,
                    Ok(false) => already_ended(&execution.id, Operation::Verification),
                    Err(e) => Outcome::failed(e.to_string()),
                }
            } else {
                Outcome::Failed {
                    message: format!(
                        "verification failed: {} of {} tables differ from the row counts \
                         recorded at backup time: {}",
                        report.mismatches.len(),
                        report.tables,
                        report.mismatches.join("; ")
                    ),
                    transient: false,
                    metadata: Some(meta),
                    crashed_plugin: None,
                }
            }
        }
        Err(outcome) => outcome,
    }
}

/// What a verification compared the restored copy with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Basis {
    /// Counts taken in the dump's own snapshot: must match exactly.
    Snapshot,
    /// Counts taken beside the dump: a table written meanwhile may differ.
    Approximate,
    /// The backup recorded no counts: only "it restores" was checked.
    None,
}

impl Basis {
    fn name(self) -> &'static str {
        match self {
            Basis::Snapshot => "backup_snapshot",
            Basis::Approximate => "backup_approximate",
            Basis::None => "none",
        }
    }
}

/// Row counts of a restored copy against those recorded in the backup.
struct Comparison {
    basis: Basis,
    tables: usize,
    mismatches: Vec<String>,
    counts: BTreeMap<String, (Option<u64>, Option<u64>)>,
}

impl Comparison {
    fn to_json(&self, passed: bool) -> Value {
        json!({
            "passed": passed,
            "compared_with": self.basis.name(),
            "tables_compared": self.tables,
            "mismatches": self.mismatches,
            "tables": self.counts.iter().map(|(t, (r, b))| json!({"table": t, "restored_rows": r, "backup_rows": b})).collect::<Vec<_>>(),
        })
    }

    fn summary(&self) -> String {
        match self.basis {
            Basis::Snapshot => format!(
                "{} tables, row counts equal to those taken in the backup's snapshot",
                self.tables
            ),
            Basis::Approximate => format!(
                "{} tables, row counts equal to those taken beside the backup (not in its \
                 snapshot)",
                self.tables
            ),
            Basis::None => format!(
                "the backup restores ({} tables); it recorded no row counts to compare with",
                self.tables
            ),
        }
    }
}

/// Compares what the scratch restore holds with the backup's own record;
/// the live source is never consulted (it has moved on since).
fn compare_with_backup(restored: &[TableCount], recorded: &Metadata) -> Comparison {
    let Some(expected) = &recorded.table_counts else {
        return Comparison {
            basis: Basis::None,
            tables: restored.len(),
            mismatches: Vec::new(),
            counts: restored
                .iter()
                .map(|t| (t.name.clone(), (Some(t.rows), None)))
                .collect(),
        };
    };
    let basis = if recorded.counts_consistent == Some(true) {
        Basis::Snapshot
    } else {
        Basis::Approximate
    };
    let mut counts: BTreeMap<String, (Option<u64>, Option<u64>)> = BTreeMap::new();
    for t in restored {
        counts.entry(t.name.clone()).or_default().0 = Some(t.rows);
    }
    for (name, rows) in expected {
        counts.entry(name.clone()).or_default().1 = Some(*rows);
    }
    let mismatches = counts
        .iter()
        .filter_map(|(t, (r, b))| match (r, b) {
            (Some(r), Some(b)) if r == b => None,
            (Some(r), Some(b)) => Some(format!(
                "{t}: {r} rows restored, {b} recorded in the backup"
            )),
            (Some(_), None) => Some(format!("{t}: restored but not recorded in the backup")),
            (None, Some(_)) => Some(format!("{t}: recorded in the backup but not restored")),
            (None, None) => None,
        })
        .collect();
    Comparison {
        basis,
        tables: counts.len(),
        mismatches,
        counts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(metadata: Value) -> Execution {
        let mut e =
            dg_store::executions::queued(Operation::Restore, dg_core::domain::Trigger::Manual);
        e.metadata = sqlx::types::Json(metadata);
        e
    }

    /// The spec reads back as written, and results recorded beside it
    /// later do not disturb it; a value that does not read names its field.
    #[test]
    fn a_restore_spec_round_trips_and_a_bad_value_names_its_field() {
        let spec = RestoreSpec {
            operation: Operation::Verification,
            verification_mode: true,
            drop_existing: false,
            source_checksum: Some("sha256:ab".into()),
            database: Some("shop".into()),
            target_database: None,
            jobs: Some(Jobs::Word("auto".into())),
        };
        let mut metadata = spec.to_metadata();
        metadata["restored_from_storage"] = json!("disk");
        assert_eq!(RestoreSpec::of(&stored(metadata)), Ok(spec));
        assert_eq!(
            RestoreSpec::of(&stored(json!({"operation": "restore", "jobs": 4})))
                .and_then(|s| s.resolved_jobs()),
            Ok(4)
        );
        let e = RestoreSpec::of(&stored(
            json!({"operation": "restore", "drop_existing": "yes"}),
        ))
        .unwrap_err();
        assert!(e.contains("metadata.drop_existing"), "{e}");
        let e = RestoreSpec::of(&stored(json!({"operation": "restore", "jobs": "many"})))
            .and_then(|s| s.resolved_jobs())
            .unwrap_err();
        assert!(e.starts_with("metadata.jobs: "), "{e}");
        let e = RestoreSpec::of(&stored(json!({"drop_existing": true}))).unwrap_err();
        assert!(e.contains("operation"), "{e}");
    }

    fn t(name: &str, rows: u64) -> TableCount {
        TableCount {
            name: name.into(),
            rows,
        }
    }

    fn recorded(counts: &[(&str, u64)], consistent: bool) -> Metadata {
        Metadata {
            table_counts: Some(counts.iter().map(|(n, r)| (n.to_string(), *r)).collect()),
            counts_consistent: Some(consistent),
            ..Metadata::default()
        }
    }

    #[test]
    fn comparison_with_the_backup_names_every_difference() {
        let c = compare_with_backup(
            &[t("a", 1), t("b", 2), t("c", 3)],
            &recorded(&[("a", 1), ("b", 5), ("d", 0)], true),
        );
        assert_eq!(c.basis, Basis::Snapshot);
        assert_eq!(c.tables, 4);
        assert_eq!(
            c.mismatches,
            vec![
                "b: 2 rows restored, 5 recorded in the backup",
                "c: restored but not recorded in the backup",
                "d: recorded in the backup but not restored"
            ]
        );
        let same = compare_with_backup(&[t("a", 1)], &recorded(&[("a", 1)], false));
        assert!(same.mismatches.is_empty());
        assert_eq!(same.basis, Basis::Approximate);
        let none = compare_with_backup(&[t("a", 1)], &Metadata::default());
        assert_eq!(none.basis, Basis::None);
        assert!(none.summary().contains("no row counts"));
    }
}
