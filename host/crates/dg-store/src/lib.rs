//! The metadata store: one set of SQL statements run on SQLite (embedded
//! default) or PostgreSQL (production), chosen by the database URL.
//!
//! Statements use `$N` placeholders, which both drivers accept. Every
//! timestamp is written by the server (never by a SQL default), so SQLite's
//! text timestamps all share one format and compare correctly as text.

pub mod access;
pub mod channels;
pub mod datasources;
pub mod deliveries;
pub mod events;
pub mod executions;
pub mod health;
pub mod jobs;
pub mod leases;
pub mod metrics;
pub mod names;
pub mod nodes;
pub mod notifications;
pub mod rows;
pub mod sealed;
pub mod settings;
pub mod storages;
pub mod templates;
pub mod work;

use chrono::{DateTime, SubsecRound, Utc};
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

/// The two supported backends.
#[derive(Clone, Debug)]
pub enum Pool {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

/// Handle to the metadata database.
#[derive(Clone, Debug)]
pub struct Db {
    pool: Pool,
    /// Told of execution and notification rows as they are written; none
    /// until the application installs its event bus (`with_events`).
    events: events::Events,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique rule refused the write: `what` already exists, given in
    /// `field` when the client chose it (a name).
    #[error("{}{what} already exists", field.map(|f| format!("{f}: ")).unwrap_or_default())]
    Conflict {
        field: Option<&'static str>,
        what: String,
    },
    #[error("{0}")]
    Reference(String),
    #[error("metadata database: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("migrating the metadata database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("metadata database URL: {0}")]
    Url(String),
    #[error("stored secrets: {0}")]
    Secrets(#[from] dg_core::secrets::SecretsError),
}

impl StoreError {
    /// Turns unique and foreign-key violations into errors that name
    /// `what` (and the request `field` that chose it, when one did).
    pub fn classify(e: sqlx::Error, field: Option<&'static str>, what: &str) -> Self {
        if let sqlx::Error::Database(db) = &e {
            if db.is_unique_violation() {
                return StoreError::Conflict {
                    field,
                    what: what.to_string(),
                };
            }
            if db.is_foreign_key_violation() {
                return StoreError::Reference(format!(
                    "{what}: refers to something that does not exist or is still referenced"
                ));
            }
        }
        StoreError::Sql(e)
    }
}

/// Runs `$body` with `$pool` bound to the concrete pool of `$db`, so one
/// statement serves both backends.
macro_rules! with_pool {
    ($db:expr, |$pool:ident| $body:expr) => {
        match $db.pool() {
            $crate::Pool::Sqlite($pool) => $body,
            $crate::Pool::Postgres($pool) => $body,
        }
    };
}
pub(crate) use with_pool;

/// Like [`with_pool!`] for statements run for their effect only (the two
/// drivers' result types differ).
macro_rules! execute {
    ($db:expr, |$pool:ident| $body:expr) => {
        match $db.pool() {
            $crate::Pool::Sqlite($pool) => {
                $body;
            }
            $crate::Pool::Postgres($pool) => {
                $body;
            }
        }
    };
}
pub(crate) use execute;

/// A bind value for statements built at run time (list filters).
#[derive(Debug, Clone)]
pub enum Param {
    Text(String),
    Int(i64),
    Time(DateTime<Utc>),
}

/// Binds `$params` in order onto `$query` (inside a `with_pool!` arm).
macro_rules! bind_params {
    ($query:expr, $params:expr) => {{
        let mut q = $query;
        for p in $params {
            q = match p {
                $crate::Param::Text(s) => q.bind(s.clone()),
                $crate::Param::Int(i) => q.bind(*i),
                $crate::Param::Time(t) => q.bind(*t),
            };
        }
        q
    }};
}

/// `WHERE` clauses with numbered placeholders, built from optional filters.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    clauses: Vec<String>,
    pub params: Vec<Param>,
}

impl Filter {
    /// Adds `clause` where `?` stands for the next placeholder.
    pub fn push(&mut self, clause: &str, value: Param) -> &mut Self {
        self.params.push(value);
        let n = self.params.len();
        self.clauses.push(clause.replace('?', &format!("${n}")));
        self
    }

    /// Adds a clause without parameters.
    pub fn raw(&mut self, clause: &str) -> &mut Self {
        self.clauses.push(clause.to_string());
        self
    }

    pub fn sql(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.clauses.join(" AND "))
        }
    }
}

/// A page of `table` rows matching `filter`, ordered by `order`, and the
/// total that match. `table` and `order` come from our code, never from a
/// request.
pub async fn page<T>(
    db: &Db,
    table: &'static str,
    order: &'static str,
    filter: &Filter,
    limit: i64,
    offset: i64,
) -> Result<(Vec<T>, i64), StoreError>
where
    T: Send
        + Unpin
        + for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
        + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>,
{
    let where_sql = filter.sql();
    let rows_sql =
        format!("SELECT * FROM {table}{where_sql} ORDER BY {order} LIMIT {limit} OFFSET {offset}");
    let count_sql = format!("SELECT COUNT(*) FROM {table}{where_sql}");
    // Counted first: a row that starts to match between the two queries
    // then shows in `rows` and the total is raised to cover it, so a page
    // never says "1 in all" while holding none.
    let (rows, total): (Vec<T>, i64) = with_pool!(db, |p| {
        let total: i64 = bind_params!(sqlx::query_scalar(&count_sql), &filter.params)
            .fetch_one(p)
            .await?;
        let rows = bind_params!(sqlx::query_as::<_, T>(&rows_sql), &filter.params)
            .fetch_all(p)
            .await?;
        (rows, total)
    });
    let seen = offset.saturating_add(i64::try_from(rows.len()).unwrap_or(i64::MAX));
    let total = if rows.is_empty() {
        total
    } else {
        total.max(seen)
    };
    Ok((rows, total))
}

/// The row of `table` with `id`.
pub async fn by_id<T>(db: &Db, table: &'static str, id: &str) -> Result<Option<T>, StoreError>
where
    T: Send
        + Unpin
        + for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
        + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>,
{
    let sql = format!("SELECT * FROM {table} WHERE id = $1");
    Ok(with_pool!(db, |p| sqlx::query_as::<_, T>(&sql)
        .bind(id)
        .fetch_optional(p)
        .await?))
}

/// Deletes the row of `table` with `id`; false if there was none. A
/// foreign-key refusal names `what`.
pub async fn delete_by_id(
    db: &Db,
    table: &'static str,
    id: &str,
    what: &str,
) -> Result<bool, StoreError> {
    let sql = format!("DELETE FROM {table} WHERE id = $1");
    let n = with_pool!(db, |p| sqlx::query(&sql)
        .bind(id)
        .execute(p)
        .await
        .map_err(|e| StoreError::classify(e, None, what))?
        .rows_affected());
    Ok(n > 0)
}

/// The current time at the precision both backends keep (microseconds).
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

impl Db {
    /// This handle, reporting written execution and notification rows to
    /// `sink`. Set once, right after `connect`, before the handle is
    /// cloned: clones share the sink.
    pub fn with_events(mut self, sink: std::sync::Arc<dyn events::EventSink>) -> Self {
        self.events = events::Events(sink);
        self
    }

    /// Where written rows are reported.
    pub(crate) fn events(&self) -> &dyn events::EventSink {
        &*self.events.0
    }

    /// Opens (creating if needed) the database at `url`: `sqlite://PATH` or
    /// `postgres://...`; runs the migrations of that backend.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let connect = || {
                PgPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect(url)
            };
            let pool = match connect().await {
                Err(e) if is_missing_database(&e) => {
                    create_pg_database(url).await?;
                    connect().await?
                }
                other => other?,
            };
            sqlx::migrate!("../../../migrations/postgres")
                .run(&pool)
                .await?;
            Pool::Postgres(pool)
        } else if url.starts_with("sqlite:") {
            let options =
                SqliteConnectOptions::from_str(url).map_err(|e| StoreError::Url(e.to_string()))?;
            // The file holds every configuration: created 0600, and the
            // WAL and shared-memory files SQLite creates take its mode.
            let file = options.get_filename().to_path_buf();
            if file.as_os_str() != ":memory:" {
                let private = |p: &Path| {
                    dg_core::private::narrow(p, 0o600).map_err(|e| {
                        StoreError::Url(format!("making {} private: {e}", p.display()))
                    })
                };
                dg_core::private::touch(&file)
                    .map_err(|e| StoreError::Url(format!("creating {}: {e}", file.display())))?;
                for suffix in ["", "-wal", "-shm"] {
                    let mut side = file.clone().into_os_string();
                    side.push(suffix);
                    private(Path::new(&side))?;
                }
            }
            let options = options
                .create_if_missing(true)
                // Freed pages are zeroed: an overwritten secret does not
                // linger in the file.
                .pragma("secure_delete", "ON")
                .journal_mode(SqliteJournalMode::Wal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(30));
            let pool = SqlitePoolOptions::new()
                .max_connections(8)
                .connect_with(options)
                .await?;
            sqlx::migrate!("../../../migrations/sqlite")
                .run(&pool)
                .await?;
            Pool::Sqlite(pool)
        } else {
            return Err(StoreError::Url(format!(
                "`{}`: expected sqlite://PATH or postgres://...",
                redact_url(url)
            )));
        };
        Ok(Self {
            pool,
            events: events::Events::default(),
        })
    }

    /// The embedded default: `DIR/dataguardian.db`.
    pub fn sqlite_url(data_dir: &Path) -> String {
        format!("sqlite://{}", data_dir.join("dataguardian.db").display())
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    pub fn backend(&self) -> &'static str {
        match self.pool {
            Pool::Sqlite(_) => "sqlite",
            Pool::Postgres(_) => "postgres",
        }
    }

    /// Round trip to the database (health endpoints).
    pub async fn ping(&self) -> Result<(), StoreError> {
        execute!(self, |p| sqlx::query("SELECT 1").execute(p).await?);
        Ok(())
    }

    /// SQLite: copies the WAL into the database file and truncates it, so
    /// rewritten rows leave no older page versions behind (after sealing
    /// secrets that were stored in the clear). Nothing to do on PostgreSQL.
    pub async fn checkpoint(&self) -> Result<(), StoreError> {
        if let Pool::Sqlite(p) = &self.pool {
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(p)
                .await?;
        }
        Ok(())
    }

    pub async fn close(&self) {
        with_pool!(self, |p| p.close().await)
    }
}

/// A URL with its password replaced, for messages.
/// PostgreSQL's "database does not exist" (SQLSTATE 3D000).
fn is_missing_database(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.code().as_deref() == Some("3D000"))
}

/// Creates the metadata database a PostgreSQL URL names, through the
/// server's `postgres` maintenance database, so a first start needs no
/// manual step; when that is not allowed, says exactly what to run.
async fn create_pg_database(url: &str) -> Result<(), StoreError> {
    let parsed = url::Url::parse(url).map_err(|e| StoreError::Url(e.to_string()))?;
    let name = parsed.path().trim_start_matches('/').to_string();
    let refuse = |why: String| {
        StoreError::Url(format!(
            "the metadata database `{name}` does not exist and could not be created ({why}); \
             create it with `createdb -h {} -p {} -U {} {name}` (or CREATE DATABASE) and start again",
            parsed.host_str().unwrap_or("localhost"),
            parsed.port().unwrap_or(5432),
            if parsed.username().is_empty() { "postgres" } else { parsed.username() },
        ))
    };
    if name.is_empty() || name.contains('"') {
        return Err(refuse("the URL names no usable database".into()));
    }
    let mut admin = parsed.clone();
    admin.set_path("/postgres");
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        .connect(admin.as_str())
        .await
        .map_err(|e| refuse(e.to_string()))?;
    let created = sqlx::query(&format!("CREATE DATABASE \"{name}\""))
        .execute(&pool)
        .await;
    pool.close().await;
    match created {
        Ok(_) => {
            tracing::info!("created the metadata database `{name}`");
            Ok(())
        }
        // Another node created it meanwhile: fine.
        Err(sqlx::Error::Database(db)) if db.code().as_deref() == Some("42P04") => Ok(()),
        Err(e) => Err(refuse(e.to_string())),
    }
}

pub fn redact_url(url: &str) -> String {
    if url.starts_with("sqlite:") {
        return url.to_string(); // a path, no credentials
    }
    let Ok(mut u) = url::Url::parse(url) else {
        return "<unparseable database URL>".into();
    };
    if u.password().is_some() {
        let _ = u.set_password(Some("***"));
    }
    if u.query_pairs().any(|(k, _)| k == "password") {
        let pairs: Vec<(String, String)> = u
            .query_pairs()
            .map(|(k, v)| {
                let v = if k == "password" {
                    "***".into()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        u.query_pairs_mut().clear().extend_pairs(pairs);
    }
    u.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_passwords_never_printed() {
        let shown = redact_url("postgres://dg:s3cret@db:5432/meta?sslmode=disable&password=qq");
        assert!(
            !shown.contains("s3cret") && !shown.contains("qq"),
            "{shown}"
        );
        assert!(
            shown.contains("sslmode=disable") && shown.contains("db:5432/meta"),
            "{shown}"
        );
        assert_eq!(
            redact_url("postgres://dg:a#b@db/x"),
            "<unparseable database URL>"
        );
        assert_eq!(redact_url("sqlite:///data/dg.db"), "sqlite:///data/dg.db");
    }

    #[test]
    fn filters_number_their_placeholders() {
        let mut f = Filter::default();
        f.push("status = ?", Param::Text("ok".into()))
            .raw("enabled")
            .push("created_at >= ?", Param::Int(3));
        assert_eq!(
            f.sql(),
            " WHERE status = $1 AND enabled AND created_at >= $2"
        );
        assert_eq!(f.params.len(), 2);
    }

    #[test]
    fn passwords_are_redacted_from_urls() {
        assert_eq!(
            redact_url("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
    }
}
