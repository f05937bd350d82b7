//! PostgreSQL engine: `pg_dump -Fc` out, `pg_restore` in, `psql` for
//! checks. The dump's bytes go from pg_dump's stdout to the sink host-side;
//! the password stays a host secret, handed to libpq as a `PGPASSFILE` the
//! host writes.

use dataguardian_plugin_sdk::health::{self, kv};
use dataguardian_plugin_sdk::process::Command;
use dataguardian_plugin_sdk::{
    config, export_engine, io, log, BackupStats, CallContext, Engine, HealthReport, InputStream,
    OutputStream, PluginError, PluginInfo, PluginKind, PluginResult, TableCount,
};
use serde::{Deserialize, Serialize};
use std::time::Instant;

#[derive(Deserialize, Serialize, Clone)]
#[serde(deny_unknown_fields)]
struct Config {
    host: String,
    #[serde(default = "default_port")]
    port: u16,
    database: String,
    username: String,
    /// libpq `sslmode` (disable, prefer, require, verify-full...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sslmode: Option<String>,
}

fn default_port() -> u16 {
    5432
}

impl Config {
    /// A libpq program connected to `database`.
    fn command(&self, ctx: &CallContext, program: &str, database: &str) -> Command {
        let mut cmd = Command::new(program)
            .args([
                "-h",
                &self.host,
                "-p",
                &self.port.to_string(),
                "-U",
                &self.username,
            ])
            .arg("--no-password")
            .env("PGCONNECT_TIMEOUT", "10")
            .env("PGAPPNAME", "dataguardian")
            .env("PGDATABASE", database);
        if let Some(mode) = &self.sslmode {
            cmd = cmd.env("PGSSLMODE", mode.as_str());
        }
        if config::has_secret(ctx, "password") {
            // A pgpass file rather than PGPASSWORD: the environment of a
            // running pg_dump is readable in /proc.
            cmd = cmd.secret_file("PGPASSFILE", "password", "*:*:*:*:{secret}\n", ":");
        }
        cmd
    }

    /// Runs one query with psql and returns its unaligned, tuples-only rows.
    fn query(&self, ctx: &CallContext, database: &str, sql: &str) -> PluginResult<Vec<String>> {
        let out = self
            .command(ctx, "psql", database)
            .args([
                "-X",
                "-A",
                "-t",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-F",
                "\t",
                "-c",
                sql,
            ])
            .output()
            .map_err(classify)?;
        Ok(out
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect())
    }
}

impl config::Checked for Config {
    fn check(&self) -> PluginResult<()> {
        let bad =
            |field: &str, why: &str| Err(PluginError::InvalidConfig(format!("{field}: {why}")));
        if self.host.is_empty() {
            return bad("host", "must not be empty");
        }
        if self.database.is_empty() {
            return bad("database", "must not be empty");
        }
        // libpq reads a `--dbname` holding `=` or a URI as a whole
        // connection string (host, passfile, sslcert...): only plain names.
        let lower = self.database.to_ascii_lowercase();
        if self.database.contains('=')
            || lower.starts_with("postgres://")
            || lower.starts_with("postgresql://")
        {
            return bad(
                "database",
                "must be a database name, not a connection string",
            );
        }
        if self.username.is_empty() {
            return bad("username", "must not be empty");
        }
        Ok(())
    }
}

/// Gives a libpq failure the kind that tells the operator what to fix.
fn classify(e: PluginError) -> PluginError {
    let PluginError::Failed(msg) = e else {
        return e;
    };
    let m = msg.to_lowercase();
    if m.contains("password authentication failed")
        || m.contains("no password supplied")
        || (m.contains("role") && m.contains("does not exist"))
    {
        PluginError::AuthFailed(msg)
    } else if m.contains("timeout expired") {
        PluginError::Timeout(msg)
    } else if m.contains("could not connect")
        || m.contains("connection refused")
        || m.contains("could not translate host name")
        || m.contains("no route to host")
    {
        PluginError::Unreachable(msg)
    } else if m.contains("database") && m.contains("does not exist") {
        PluginError::NotFound(msg)
    } else {
        PluginError::Failed(msg)
    }
}

/// Exact rows of every user table, one `schema.table<TAB>count` line each.
const COUNT_ROWS_SQL: &str = "select format('%s.%s', table_schema, table_name), \
     (xpath('/row/c/text()', query_to_xml(format('select count(*) as c from %I.%I', \
     table_schema, table_name), false, true, '')))[1]::text::bigint \
     from information_schema.tables where table_type = 'BASE TABLE' \
     and table_schema not in ('pg_catalog', 'information_schema') order by 1";

fn parse_count(row: &str) -> PluginResult<TableCount> {
    let (name, count) = row
        .split_once('\t')
        .ok_or_else(|| PluginError::Failed(format!("unexpected psql row `{row}`")))?;
    let rows = count
        .parse()
        .map_err(|_| PluginError::Failed(format!("unexpected count `{count}`")))?;
    Ok(TableCount {
        name: name.to_string(),
        rows,
    })
}

/// A psql session holding a read-only repeatable-read transaction whose
/// snapshot is exported: `pg_dump --snapshot` dumps exactly what this
/// session sees, so the row counts it takes describe the dump itself.
struct Snapshot {
    child: dataguardian_plugin_sdk::process::Child,
    stdin: Option<OutputStream>,
    lines: std::io::Lines<std::io::BufReader<io::OwnedStreamReader>>,
    id: String,
}

/// Marks the end of a query's output in the session's stdout.
const END_MARK: &str = "dg-end-of-output";

impl Snapshot {
    fn open(cfg: &Config, ctx: &CallContext) -> PluginResult<Self> {
        let child = cfg
            .command(ctx, "psql", &cfg.database)
            .args(["-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-F", "\t"])
            .piped_stdin()
            .piped_stdout()
            .spawn()?;
        let stdin = child.take_stdin();
        let stdout = child
            .take_stdout()
            .ok_or_else(|| PluginError::Failed("psql has no stdout".into()))?;
        let lines =
            std::io::BufRead::lines(std::io::BufReader::new(io::OwnedStreamReader::new(stdout)));
        let mut session = Self {
            child,
            stdin,
            lines,
            id: String::new(),
        };
        let out = session
            .run("begin isolation level repeatable read read only; select pg_export_snapshot();")?;
        session.id = out.into_iter().next().unwrap_or_default();
        if session.id.is_empty() {
            return Err(session.fail("psql exported no snapshot"));
        }
        Ok(session)
    }

    /// Sends `sql` and returns its output lines.
    fn run(&mut self, sql: &str) -> PluginResult<Vec<String>> {
        self.send(sql)?;
        self.collect()
    }

    /// Sends `sql`; the server runs it while the plugin does other work
    /// (the counts run beside pg_dump, in the same snapshot).
    fn send(&mut self, sql: &str) -> PluginResult<()> {
        let stdin = self
            .stdin
            .as_ref()
            .ok_or_else(|| PluginError::Failed("psql stdin is closed".into()))?;
        io::write_all(stdin, format!("{sql}\nselect '{END_MARK}';\n").as_bytes())
    }

    /// The output lines of the statement sent last.
    fn collect(&mut self) -> PluginResult<Vec<String>> {
        let mut out = Vec::new();
        loop {
            match self.lines.next() {
                Some(Ok(line)) if line == END_MARK => return Ok(out),
                Some(Ok(line)) if line.is_empty() => {}
                Some(Ok(line)) => out.push(line),
                Some(Err(e)) => return Err(self.fail(&format!("reading psql output: {e}"))),
                None => return Err(self.fail("psql ended early")),
            }
        }
    }

    /// Starts counting every table's rows; [`Snapshot::counts`] collects.
    fn start_counting(&mut self) -> PluginResult<()> {
        self.send(&format!("{COUNT_ROWS_SQL};"))
    }

    fn counts(&mut self) -> PluginResult<Vec<TableCount>> {
        let rows = self.collect()?;
        rows.iter().map(|row| parse_count(row)).collect()
    }

    /// Ends the transaction and the session.
    fn close(mut self) -> PluginResult<()> {
        if let Some(stdin) = self.stdin.take() {
            io::write_all(&stdin, b"commit;\n")?;
        }
        self.child.wait_success().map_err(classify)?;
        Ok(())
    }

    /// The session's own error (psql's stderr) in preference to ours.
    fn fail(&mut self, what: &str) -> PluginError {
        self.stdin.take();
        match self.child.wait_success() {
            Err(e) => classify(e),
            Ok(_) => PluginError::Failed(what.to_string()),
        }
    }
}

/// Scratch database names are generated by the host; accept only those.
fn check_scratch_name(name: &str) -> PluginResult<()> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(PluginError::InvalidConfig(format!(
            "scratch database name `{name}`: use a-z, 0-9 and _"
        )))
    }
}

struct Postgres;

impl Engine for Postgres {
    fn info() -> PluginInfo {
        PluginInfo {
            id: "postgres".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind: PluginKind::Engine,
            provides: vec!["postgres".into(), "postgresql".into()],
            artifact_format: Some("dump".into()),
            description: "PostgreSQL via pg_dump -Fc / pg_restore".into(),
            config_schema: r#"{"type":"object","required":["host","database","username"],"additionalProperties":false,"properties":{"host":{"type":"string"},"port":{"type":"integer","default":5432},"database":{"type":"string"},"username":{"type":"string"},"sslmode":{"type":"string","enum":["disable","allow","prefer","require","verify-ca","verify-full"]}},"x-secrets":["password"]}"#.into(),
        }
    }

    fn validate_config(text: &str) -> PluginResult<()> {
        config::validate::<Config>(text)
    }

    fn health_check(ctx: &CallContext) -> HealthReport {
        let started = Instant::now();
        let outcome = config::load::<Config>(ctx).and_then(|cfg| {
            cfg.query(
                ctx,
                &cfg.database,
                "select current_setting('server_version'), \
                 (select count(*) from pg_stat_activity), \
                 pg_database_size(current_database())",
            )
        });
        health::report(
            started,
            outcome.map(|rows| {
                let cols: Vec<&str> = rows
                    .first()
                    .map(|r| r.split('\t').collect())
                    .unwrap_or_default();
                let mut metadata = Vec::new();
                if let Some(c) = cols.get(1) {
                    metadata.push(kv("active_connections", c));
                }
                if let Some(s) = cols.get(2) {
                    metadata.push(kv("size_bytes", s));
                }
                (cols.first().map(|v| format!("PostgreSQL {v}")), metadata)
            }),
        )
    }

    /// Lists through the server's maintenance database, so it works even
    /// when the configured database does not exist (yet, or any more);
    /// the configured one is the fallback for roles kept out of `postgres`.
    fn list_databases(ctx: &CallContext) -> PluginResult<Vec<String>> {
        let cfg = config::load::<Config>(ctx)?;
        let sql =
            "select datname from pg_database where datallowconn and not datistemplate order by 1";
        cfg.query(ctx, "postgres", sql)
            .or_else(|_| cfg.query(ctx, &cfg.database, sql))
    }

    fn backup(ctx: &CallContext, sink: &OutputStream) -> PluginResult<BackupStats> {
        let cfg = config::load::<Config>(ctx)?;
        let facts = cfg.query(
            ctx,
            &cfg.database,
            "select current_setting('server_version'), count(*), \
             coalesce(sum(greatest(c.reltuples, 0)), 0)::bigint \
             from pg_class c join pg_namespace n on n.oid = c.relnamespace \
             where c.relkind in ('r', 'p') \
             and n.nspname not in ('pg_catalog', 'information_schema') \
             and n.nspname not like 'pg_toast%'",
        )?;
        let cols: Vec<&str> = facts
            .first()
            .map(|r| r.split('\t').collect())
            .unwrap_or_default();

        // Row counts and the dump share one snapshot, so verification can
        // compare a restored copy with exactly what was dumped.
        let mut snapshot = Snapshot::open(&cfg, ctx)?;
        // The server counts while pg_dump dumps: both read the same
        // snapshot, side by side, so counting adds no wall time of its own
        // on a server with a core to spare.
        snapshot.start_counting()?;
        // -Z0: the host compresses; pg_dump only dumps.
        let child = cfg
            .command(ctx, "pg_dump", &cfg.database)
            .args(["--format=custom", "--compress=0"])
            .arg(format!("--snapshot={}", snapshot.id))
            .piped_stdout()
            .spawn()?;
        let stdout = child
            .take_stdout()
            .ok_or_else(|| PluginError::Failed("pg_dump has no stdout".into()))?;
        let moved = io::pipe(&stdout, sink);
        drop(stdout);
        if let Err(e) = moved {
            child.kill();
            let _ = child.wait();
            return Err(e);
        }
        child.wait_success().map_err(classify)?;
        let counts = snapshot.counts()?;
        // The dump and the counts are complete: a session the server ended
        // while it sat idle (idle_in_transaction_session_timeout) must not
        // fail a good backup.
        if let Err(e) = snapshot.close() {
            log::warn(&format!("closing the snapshot session: {e:?}"));
        }
        log::info("pg_dump finished");
        Ok(BackupStats {
            database_version: cols.first().map(|v| format!("PostgreSQL {v}")),
            tables: cols.get(1).and_then(|v| v.parse().ok()),
            rows_approximate: Some(counts.iter().map(|c| c.rows).sum()),
            metadata: vec![kv("format", "custom")],
            table_counts: counts,
            counts_consistent: true,
        })
    }

    fn restore(ctx: &CallContext, source: &InputStream) -> PluginResult<()> {
        let cfg = config::load::<Config>(ctx)?;
        if let Some(archive) = config::option(ctx, "archive_file") {
            return restore_file(ctx, &cfg, archive);
        }
        let mut cmd = cfg
            .command(ctx, "pg_restore", &cfg.database)
            .args([
                "--no-owner",
                "--no-acl",
                "--exit-on-error",
                "--single-transaction",
            ])
            .arg(format!("--dbname={}", cfg.database));
        if config::option(ctx, "clean") == Some("true") {
            cmd = cmd.args(["--clean", "--if-exists"]);
        }
        let child = cmd.piped_stdin().spawn()?;
        let stdin = child
            .take_stdin()
            .ok_or_else(|| PluginError::Failed("pg_restore has no stdin".into()))?;
        let fed = io::pipe(source, &stdin);
        drop(stdin);
        if let Err(e) = fed {
            // A truncated archive must never be committed: stop pg_restore
            // before its single transaction can finish — and report its own
            // reason if it had stopped first.
            return Err(classify(child.abort(e)));
        }
        child.wait_success().map_err(classify)?;
        Ok(())
    }

    fn create_scratch_database(ctx: &CallContext, name: &str) -> PluginResult<String> {
        check_scratch_name(name)?;
        let cfg = config::load::<Config>(ctx)?;
        cfg.query(ctx, &cfg.database, &format!("create database \"{name}\""))?;
        let mut scratch = cfg.clone();
        scratch.database = name.to_string();
        serde_json::to_string(&scratch).map_err(|e| PluginError::Failed(e.to_string()))
    }

    fn drop_scratch_database(ctx: &CallContext, name: &str) -> PluginResult<()> {
        check_scratch_name(name)?;
        let cfg = config::load::<Config>(ctx)?;
        let maintenance = if cfg.database == name {
            "postgres"
        } else {
            cfg.database.as_str()
        };
        cfg.query(
            ctx,
            maintenance,
            &format!("drop database if exists \"{name}\" with (force)"),
        )?;
        Ok(())
    }

    fn inspect(ctx: &CallContext) -> PluginResult<Vec<TableCount>> {
        let cfg = config::load::<Config>(ctx)?;
        let rows = cfg.query(ctx, &cfg.database, COUNT_ROWS_SQL)?;
        rows.iter().map(|row| parse_count(row)).collect()
    }
}

/// Most `pg_restore --jobs` accepted (PostgreSQL's own limit is higher;
/// beyond this a restore only opens more idle connections).
const MAX_JOBS: u32 = 64;

/// Parallel restore from an archive file the host spooled and verified:
/// `pg_restore --jobs N` (which cannot read standard input, and cannot run
/// as one transaction — the host only asks for it into an empty or new
/// database).
fn restore_file(ctx: &CallContext, cfg: &Config, archive: &str) -> PluginResult<()> {
    let jobs = restore_jobs(config::option(ctx, "jobs"))?;
    let mut cmd = cfg
        .command(ctx, "pg_restore", &cfg.database)
        .args(["--no-owner", "--no-acl", "--exit-on-error"])
        .arg(format!("--jobs={jobs}"))
        .arg(format!("--dbname={}", cfg.database));
    if config::option(ctx, "clean") == Some("true") {
        cmd = cmd.args(["--clean", "--if-exists"]);
    }
    log::info(&format!("pg_restore --jobs={jobs} from the verified spool"));
    cmd.arg(archive).output().map_err(classify)?;
    Ok(())
}

fn restore_jobs(option: Option<&str>) -> PluginResult<u32> {
    let text = option.unwrap_or("1");
    match text.parse::<u32>() {
        Ok(n) if (1..=MAX_JOBS).contains(&n) => Ok(n),
        _ => Err(PluginError::InvalidConfig(format!(
            "jobs: `{text}` is not a number from 1 to {MAX_JOBS}"
        ))),
    }
}

export_engine!(Postgres);

#[cfg(test)]
mod tests {
    use super::*;
    use dataguardian_plugin_sdk::config::Checked;

    fn config(database: &str) -> Config {
        Config {
            host: "db".into(),
            port: 5432,
            database: database.into(),
            username: "u".into(),
            sslmode: None,
        }
    }

    #[test]
    fn jobs_are_a_bounded_number() {
        assert_eq!(restore_jobs(None).unwrap(), 1);
        assert_eq!(restore_jobs(Some("4")).unwrap(), 4);
        for bad in ["0", "65", "-1", "two", ""] {
            let e = restore_jobs(Some(bad)).unwrap_err();
            assert!(
                matches!(e, PluginError::InvalidConfig(ref m) if m.starts_with("jobs:")),
                "{bad}"
            );
        }
    }

    #[test]
    fn database_names_are_not_connection_strings() {
        assert!(config("shop").check().is_ok());
        for bad in [
            "host=evil.example passfile=/tmp/x",
            "postgres://evil.example/db",
            "POSTGRESQL://x",
        ] {
            let e = config(bad).check().expect_err(bad);
            assert!(format!("{e:?}").contains("connection string"), "{e:?}");
        }
    }

    #[test]
    fn row_counts_parse_or_name_the_line() {
        let t = parse_count("public.orders\t2000").expect("parsed");
        assert_eq!((t.name.as_str(), t.rows), ("public.orders", 2000));
        assert!(parse_count("no tab").is_err());
        assert!(parse_count("public.t\tmany").is_err());
    }
}
