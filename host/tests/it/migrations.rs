//! Upgrading a metadata database written by the previous schema (0001 to
//! 0004) to the domain CHECK constraints of 0005, on both backends: the
//! rows already there migrate and read back as typed values; a value
//! outside its set is refused afterwards, naming the column; a database
//! already holding one fails the upgrade naming the column instead of
//! starting with a row the server could not read.

use crate::common;

use common::server::Backend;
use dataguardian::domain::{
    CopyStatus, DatasourceHealth, DeliveryStatus, EntityType, ExecutionStatus, NotificationKind,
    Operation, Severity, StorageStrategy, Trigger,
};
use dataguardian::store::{self, Db, Filter, Param};
use std::path::{Path, PathBuf};

/// The migrations of `backend` before this change, copied into `into`.
fn previous_migrations(backend: Backend, into: &Path) -> PathBuf {
    let name = match backend {
        Backend::Sqlite | Backend::InProcess => "sqlite",
        Backend::Postgres => "postgres",
    };
    let from = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../migrations")
        .join(name);
    let dir = into.join(format!("migrations-{name}"));
    std::fs::create_dir_all(&dir).expect("migrations dir");
    for entry in std::fs::read_dir(&from).expect("read migrations") {
        let path = entry.expect("entry").path();
        let file = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        if ["0001", "0002", "0003", "0004"]
            .iter()
            .any(|n| file.starts_with(n))
        {
            std::fs::copy(&path, dir.join(&file)).expect("copy migration");
        }
    }
    dir
}

/// Rows as the previous server wrote them: every status and kind column
/// holds a value of its set (`job_status` for the backup's status).
const ROWS: &[&str] = &[
    "INSERT INTO datasources (id, name, type, connection_config, status, created_at, updated_at)
     VALUES ('ds1', 'shop', 'postgres', '{}', 'critical', $1, $1)",
    "INSERT INTO storage_locations (id, name, type, config, status, created_at, updated_at)
     VALUES ('st1', 'disk', 'local', '{}', 'unreachable', $1, $1)",
    "INSERT INTO backup_jobs (id, name, datasource_id, storage_location_id, storage_strategy,
       schedule_cron, retention_policy, backup_options, created_at, updated_at)
     VALUES ('job1', 'nightly', 'ds1', 'st1', 'replicate', '0 3 * * *', '{}', '{}', $1, $1)",
    "INSERT INTO backup_executions (id, job_id, datasource_id, storage_location_id, operation,
       trigger_type, status, created_at, updated_at)
     VALUES ('ex1', 'job1', 'ds1', 'st1', 'backup', 'manual', $2, $1, $1)",
    "INSERT INTO execution_storages (execution_id, storage_location_id, status, updated_at)
     VALUES ('ex1', 'st1', 'deleted', $1)",
    "INSERT INTO health_checks (id, datasource_id, checked_at, status)
     VALUES ('hc1', 'ds1', $1, 'auth_failed')",
    "INSERT INTO notifications (id, type, severity, entity_type, entity_id, title, message,
       created_at)
     VALUES ('n1', 'backup_skipped', 'warning', 'backup_job', 'job1', 't', 'm', $1)",
    "INSERT INTO notification_channels (id, name, type, config, events, min_severity,
       created_at, updated_at)
     VALUES ('ch1', 'hook', 'webhook', '{}', '[\"backup_failed\"]', 'warning', $1, $1)",
    "INSERT INTO notification_deliveries (id, notification_id, channel_id, suppress_key, status,
       next_attempt_at, created_at, updated_at)
     VALUES ('d1', 'n1', 'ch1', 'backup_skipped:job1', 'suppressed', $1, $1, $1)",
    "INSERT INTO work_items (id, kind, execution_id, priority, status, max_attempts, run_after,
       created_at, updated_at)
     VALUES ('w1', 'backup', 'ex1', 1, 'done', 3, $1, $1, $1)",
];

/// Creates a database at schema 0004 holding [`ROWS`], the backup's
/// status being `job_status`; returns its URL.
async fn previous_database(
    backend: Backend,
    dir: &Path,
    temp: &Option<common::TempDb>,
    job_status: &str,
) -> String {
    let migrations = previous_migrations(backend, dir);
    let migrator = sqlx::migrate::Migrator::new(migrations.as_path())
        .await
        .expect("migrator");
    let at = store::now();
    match (backend, temp) {
        (Backend::Sqlite | Backend::InProcess, _) => {
            let url = Db::sqlite_url(dir);
            let options: sqlx::sqlite::SqliteConnectOptions = url.parse().expect("url");
            let pool = sqlx::SqlitePool::connect_with(options.create_if_missing(true))
                .await
                .expect("sqlite");
            migrator.run(&pool).await.expect("migrations 0001-0004");
            for sql in ROWS {
                // Each statement binds the parameters it uses only.
                let q = sqlx::query(sql).bind(at);
                let q = if sql.contains("$2") {
                    q.bind(job_status)
                } else {
                    q
                };
                q.execute(&pool)
                    .await
                    .unwrap_or_else(|e| panic!("{sql}: {e}"));
            }
            pool.close().await;
            url
        }
        (Backend::Postgres, Some(temp)) => {
            let url = temp.url();
            let pool = sqlx::PgPool::connect(&url).await.expect("postgres");
            migrator.run(&pool).await.expect("migrations 0001-0004");
            for sql in ROWS {
                // Each statement binds the parameters it uses only.
                let q = sqlx::query(sql).bind(at);
                let q = if sql.contains("$2") {
                    q.bind(job_status)
                } else {
                    q
                };
                q.execute(&pool)
                    .await
                    .unwrap_or_else(|e| panic!("{sql}: {e}"));
            }
            pool.close().await;
            url
        }
        (Backend::Postgres, None) => unreachable!("a PostgreSQL test has its database"),
    }
}

/// Runs `sql` on the database at `url` outside the server's store.
async fn raw(backend: Backend, url: &str, sql: &str) -> Result<(), sqlx::Error> {
    match backend {
        Backend::Sqlite | Backend::InProcess => {
            let pool = sqlx::SqlitePool::connect(url).await?;
            let r = sqlx::query(sql).execute(&pool).await.map(|_| ());
            pool.close().await;
            r
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(url).await?;
            let r = sqlx::query(sql).execute(&pool).await.map(|_| ());
            pool.close().await;
            r
        }
    }
}

fn temp_for(backend: Backend, tag: &str) -> Option<common::TempDb> {
    matches!(backend, Backend::Postgres).then(|| common::TempDb::new(tag))
}

async fn previous_schema_upgrades(backend: Backend) {
    let dir = tempfile::tempdir().expect("tempdir");
    let temp = temp_for(backend, "upgrade");
    let url = previous_database(backend, dir.path(), &temp, "completed").await;

    let db = Db::connect(&url).await.expect("upgrade to 0005");
    let e = store::executions::get(&db, "ex1")
        .await
        .expect("read")
        .expect("ex1");
    assert_eq!(
        (e.operation, e.trigger_type, e.status),
        (
            Operation::Backup,
            Trigger::Manual,
            ExecutionStatus::Completed
        )
    );
    let copies = store::executions::storages(&db, "ex1")
        .await
        .expect("copies");
    assert_eq!(copies[0].status, CopyStatus::Deleted);
    let job = store::jobs::get(&db, "job1")
        .await
        .expect("read")
        .expect("job1");
    assert_eq!(job.storage_strategy, StorageStrategy::Replicate);
    let n = store::notifications::get(&db, "n1")
        .await
        .expect("read")
        .expect("n1");
    assert_eq!(
        (n.kind, n.severity, n.entity_type),
        (
            NotificationKind::BackupSkipped,
            Severity::Warning,
            Some(EntityType::BackupJob)
        )
    );
    assert_eq!(
        store::datasources::count_by_status(&db)
            .await
            .expect("count"),
        vec![(DatasourceHealth::Critical, 1)]
    );
    let mut f = Filter::default();
    f.push("id = ?", Param::Text("d1".into()));
    let (deliveries, _) = store::deliveries::list(&db, &f, 10, 0)
        .await
        .expect("deliveries");
    assert_eq!(deliveries[0].status, DeliveryStatus::Suppressed);

    // After the upgrade, a value outside its set is refused on insert and
    // on update, naming the column.
    let named = |e: sqlx::Error, column: &str| {
        let text = e.to_string();
        let (table, col) = column.split_once('.').expect("table.column");
        assert!(
            text.contains(column) || text.contains(&format!("{table}_{col}_check")),
            "{column}: {text}"
        );
    };
    let e = raw(
        backend,
        &url,
        "UPDATE backup_executions SET status = 'finished' WHERE id = 'ex1'",
    )
    .await
    .expect_err("an unknown status is refused");
    named(e, "backup_executions.status");
    let e = raw(
        backend,
        &url,
        "INSERT INTO notifications (id, type, severity, title, message, created_at)
         VALUES ('n2', 'backup_done', 'info', 't', 'm', '2026-01-01T00:00:00+00:00')",
    )
    .await
    .expect_err("an unknown kind is refused");
    named(e, "notifications.type");
    // Values of the sets still pass.
    raw(
        backend,
        &url,
        "UPDATE backup_executions SET status = 'failed' WHERE id = 'ex1'",
    )
    .await
    .expect("a known status");

    // A channel's `events` (a JSON list, beyond a CHECK's reach) read as
    // kinds; one that is not a kind is an error naming the column, never
    // a channel silently taking every kind or none.
    let channel = store::channels::get(&db, "ch1")
        .await
        .expect("read")
        .expect("ch1");
    assert_eq!(channel.events.0, vec![NotificationKind::BackupFailed]);
    assert_eq!(channel.min_severity, Severity::Warning);
    raw(
        backend,
        &url,
        "UPDATE notification_channels SET events = '[\"backup_done\"]' WHERE id = 'ch1'",
    )
    .await
    .expect("events is not checked by the database");
    let e = store::channels::get(&db, "ch1")
        .await
        .expect_err("an unknown kind in events is an error");
    let text = e.to_string();
    assert!(
        text.contains("events") && text.contains("backup_done"),
        "{text}"
    );
}
on_both_backends!(previous_schema_upgrades_, previous_schema_upgrades);

async fn a_value_outside_its_set_stops_the_upgrade(backend: Backend) {
    let dir = tempfile::tempdir().expect("tempdir");
    let temp = temp_for(backend, "badrow");
    let url = previous_database(backend, dir.path(), &temp, "finished").await;
    let e = Db::connect(&url)
        .await
        .expect_err("a row the server could not read stops the upgrade");
    let text = e.to_string();
    assert!(
        text.contains("backup_executions.status")
            || text.contains("backup_executions_status_check"),
        "{text}"
    );
}
on_both_backends!(
    a_value_outside_its_set_stops_the_upgrade_,
    a_value_outside_its_set_stops_the_upgrade
);

/// A job's typed columns: a stored retention policy that does not read
/// (written behind the server's back) is an error naming the column, in
/// the log of the request that met it, never "keep everything".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_policy_that_does_not_read_names_its_column() {
    let server = crate::common::server::TestServer::start(Backend::Sqlite).await;
    let (storage, _) = server.local_storage("disk").await;
    let ds = server.pg_datasource("any", "postgres").await;
    let job = server
        .job("nightly", &ds, &storage, serde_json::json!({}))
        .await;
    let out = std::process::Command::new("sqlite3")
        .arg(server.data_dir().join("dataguardian.db"))
        .arg(format!(
            "update backup_jobs set retention_policy = '{{\"max_backups\": \"many\"}}' where id = '{job}'"
        ))
        .output()
        .expect("sqlite3");
    assert!(out.status.success(), "{out:?}");
    let (status, body) = server.get(&format!("/api/backup-jobs/{job}")).await;
    assert_eq!(status, 500, "{body}");
    assert!(
        server.log().contains("retention_policy"),
        "{}",
        server.log_tail()
    );
}
