//! MySQL and MariaDB engine (types `mysql` and `mariadb`): `mysqldump` /
//! `mariadb-dump` out, the `mysql` / `mariadb` client in. The dump's bytes
//! pass through the plugin on their way to the sink, so that it counts
//! each table's rows in the dump's own snapshot (`rows.rs`). The password
//! reaches the tools in an option file the host writes; the plugin never
//! holds it.
//!
//! A restore first spools the artifact into the call's scratch directory:
//! the host ends the stream cleanly only after every checksum matched, and
//! MySQL cannot load a dump in one transaction (DDL commits), so nothing
//! reaches the server before the whole artifact is known good.

mod rows;

use dataguardian_plugin_sdk::health::{self, kv};
use dataguardian_plugin_sdk::process::Command;
use dataguardian_plugin_sdk::{
    config, empty_stats, export_engine, fs, io, log, BackupStats, CallContext, Engine,
    HealthReport, InputStream, OutputStream, PluginError, PluginInfo, PluginKind, PluginResult,
    TableCount,
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
}

fn default_port() -> u16 {
    3306
}

/// Which tool family to run.
#[derive(Clone, Copy, PartialEq)]
enum Flavor {
    Mysql,
    Mariadb,
}

impl Flavor {
    fn of(ctx: &CallContext) -> Self {
        match config::option(ctx, "type") {
            Some("mariadb") => Flavor::Mariadb,
            _ => Flavor::Mysql,
        }
    }
    fn client(self) -> &'static str {
        match self {
            Flavor::Mysql => "mysql",
            Flavor::Mariadb => "mariadb",
        }
    }
    fn dumper(self) -> &'static str {
        match self {
            Flavor::Mysql => "mysqldump",
            Flavor::Mariadb => "mariadb-dump",
        }
    }
}

/// A database name as an identifier: letters, digits, `_`, `$`, `-`.
fn check_name(field: &str, name: &str) -> PluginResult<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('-')
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'$' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(PluginError::InvalidConfig(format!(
            "{field}: `{name}` must be 1-64 letters, digits, `_`, `$` or `-`"
        )))
    }
}

impl config::Checked for Config {
    fn check(&self) -> PluginResult<()> {
        if self.host.is_empty() || self.host.starts_with('-') {
            return Err(PluginError::InvalidConfig(
                "host: must be a host name or address".into(),
            ));
        }
        check_name("database", &self.database)?;
        if self.username.is_empty() || self.username.starts_with('-') {
            return Err(PluginError::InvalidConfig(
                "username: must not be empty".into(),
            ));
        }
        Ok(())
    }
}

impl Config {
    /// `program` with the connection options; the password, if any, in a
    /// host-written option file (which must be the first argument).
    fn command(&self, ctx: &CallContext, program: &str) -> Command {
        let cmd = if config::has_secret(ctx, "password") {
            Command::new(program)
                .arg("--defaults-extra-file={secret-file:DG_MYCNF}")
                .secret_file(
                    "DG_MYCNF",
                    "password",
                    "[client]\npassword=\"{secret}\"\n",
                    "\"",
                )
        } else {
            Command::new(program).arg("--no-defaults")
        };
        cmd.arg(format!("--host={}", self.host))
            .arg(format!("--port={}", self.port))
            .arg(format!("--user={}", self.username))
            .arg("--default-character-set=utf8mb4")
    }

    /// Runs SQL with the client in batch mode; rows tab-separated.
    fn query(&self, ctx: &CallContext, database: &str, sql: &str) -> PluginResult<Vec<String>> {
        let out = self
            .command(ctx, Flavor::of(ctx).client())
            .args([
                "--connect-timeout=10",
                "--batch",
                "--skip-column-names",
                "--raw",
            ])
            .arg(format!("--database={database}"))
            .arg(format!("--execute={sql}"))
            .output()
            .map_err(classify)?;
        Ok(out
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect())
    }

    /// Drops the configured database and creates it again, empty, with
    /// its character set and collation.
    fn recreate_database(&self, ctx: &CallContext) -> PluginResult<()> {
        let name = &self.database;
        let charset = self
            .query(
                ctx,
                "information_schema",
                &format!(
                    "select default_character_set_name, default_collation_name \
                     from information_schema.schemata where schema_name = '{}'",
                    name.replace('\\', "\\\\").replace('\'', "\\'")
                ),
            )?
            .into_iter()
            .next()
            .and_then(|row| {
                let (cs, co) = row.split_once('\t')?;
                Some(format!(" character set {cs} collate {co}"))
            })
            .unwrap_or_else(|| " character set utf8mb4".into());
        self.query(
            ctx,
            "information_schema",
            &format!("drop database if exists `{name}`; create database `{name}`{charset}"),
        )?;
        Ok(())
    }

    /// Exact rows per base table (of a restored copy, for verification).
    fn count_rows(&self, ctx: &CallContext, database: &str) -> PluginResult<Vec<TableCount>> {
        let tables = self.query(
            ctx,
            database,
            "select table_name from information_schema.tables \
             where table_schema = database() and table_type = 'BASE TABLE' order by table_name",
        )?;
        if tables.is_empty() {
            return Ok(Vec::new());
        }
        let union: Vec<String> = tables
            .iter()
            .map(|t| {
                let quoted = t.replace('`', "``");
                let literal = t.replace('\\', "\\\\").replace('\'', "\\'");
                format!("select '{literal}', count(*) from `{quoted}`")
            })
            .collect();
        self.query(ctx, database, &union.join(" union all "))?
            .iter()
            .map(|row| {
                let (name, count) = row
                    .rsplit_once('\t')
                    .ok_or_else(|| PluginError::Failed(format!("unexpected row `{row}`")))?;
                Ok(TableCount {
                    name: name.to_string(),
                    rows: count
                        .parse()
                        .map_err(|_| PluginError::Failed(format!("unexpected count `{count}`")))?,
                })
            })
            .collect()
    }
}

/// Gives a client failure the kind that tells the operator what to fix.
fn classify(e: PluginError) -> PluginError {
    let PluginError::Failed(msg) = e else {
        return e;
    };
    let m = msg.to_lowercase();
    if m.contains("access denied for user") {
        PluginError::AuthFailed(msg)
    } else if m.contains("can't connect") || m.contains("unknown server host") {
        PluginError::Unreachable(msg)
    } else if m.contains("unknown database") {
        PluginError::NotFound(msg)
    } else if m.contains("lost connection") || m.contains("timed out") {
        PluginError::Timeout(msg)
    } else if m.contains("command denied") || m.contains("access denied") {
        PluginError::PermissionDenied(msg)
    } else {
        PluginError::Failed(msg)
    }
}

struct Mysql;

impl Engine for Mysql {
    fn info() -> PluginInfo {
        PluginInfo {
            id: "mysql".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind: PluginKind::Engine,
            provides: vec!["mysql".into(), "mariadb".into()],
            artifact_format: Some("sql".into()),
            description: "MySQL / MariaDB through mysqldump and the mysql client".into(),
            config_schema: r#"{"type":"object","required":["host","database","username"],"additionalProperties":false,"properties":{"host":{"type":"string"},"port":{"type":"integer","default":3306,"minimum":1,"maximum":65535},"database":{"type":"string","pattern":"^[A-Za-z0-9_$][A-Za-z0-9_$-]{0,63}$"},"username":{"type":"string"},"password":{"type":"string","writeOnly":true}}}"#.into(),
        }
    }

    fn validate_config(text: &str) -> PluginResult<()> {
        config::validate::<Config>(text)
    }

    fn health_check(ctx: &CallContext) -> HealthReport {
        let started = Instant::now();
        let outcome = config::load::<Config>(ctx).and_then(|cfg| {
            let rows = cfg.query(
                ctx,
                &cfg.database,
                "select version(), (select variable_value from information_schema.global_status \
                 where variable_name = 'UPTIME'), (select count(*) from information_schema.processlist), \
                 (select coalesce(sum(data_length + index_length), 0) from information_schema.tables \
                 where table_schema = database())",
            )?;
            let cols: Vec<&str> = rows.first().map(|r| r.split('\t').collect()).unwrap_or_default();
            let mut meta = Vec::new();
            for (i, key) in ["uptime_seconds", "active_connections", "size_bytes"].iter().enumerate() {
                if let Some(v) = cols.get(i + 1) {
                    meta.push(kv(key, v));
                }
            }
            Ok((cols.first().map(|v| v.to_string()), meta))
        });
        health::report(started, outcome)
    }

    /// The server's own schemas are never listed: a "every database" job
    /// must name them to back them up.
    fn list_databases(ctx: &CallContext) -> PluginResult<Vec<String>> {
        let cfg = config::load::<Config>(ctx)?;
        cfg.query(
            ctx,
            "information_schema",
            "select schema_name from information_schema.schemata where schema_name not in \
             ('information_schema', 'performance_schema', 'mysql', 'sys') order by 1",
        )
    }

    /// Row counts are read from the dump itself as it streams by: they
    /// are exactly what the artifact holds, in the dump's own snapshot
    /// (MySQL cannot share a snapshot with a second session), and the
    /// server does no extra work for them.
    fn backup(ctx: &CallContext, sink: &OutputStream) -> PluginResult<BackupStats> {
        let cfg = config::load::<Config>(ctx)?;
        let flavor = Flavor::of(ctx);
        let version = cfg
            .query(ctx, &cfg.database, "select version()")?
            .into_iter()
            .next();
        let mut cmd = cfg.command(ctx, flavor.dumper()).args([
            "--single-transaction",
            "--routines",
            "--triggers",
            "--events",
            "--hex-blob",
            "--quick",
            "--skip-lock-tables",
            // A restore must not replace tables in silence: without
            // `drop_existing` a table that exists stops it with MySQL's
            // own "already exists".
            "--skip-add-drop-table",
        ]);
        // MySQL with GTIDs writes SET @@GLOBAL.GTID_PURGED, which fails on
        // a restore into a server with its own GTID history: leave it out.
        // MariaDB's dumper has no such option.
        let mariadb = version.as_deref().is_some_and(|v| v.contains("MariaDB"));
        if flavor == Flavor::Mysql && !mariadb {
            cmd = cmd.arg("--set-gtid-purged=OFF");
        }
        let child = cmd.arg(&cfg.database).piped_stdout().spawn()?;
        let stdout = child
            .take_stdout()
            .ok_or_else(|| PluginError::Failed("the dumper has no stdout".into()))?;
        let mut rows = rows::RowCounter::default();
        let moved = io::pipe_inspected(&stdout, sink, &mut |piece| rows.feed(piece));
        drop(stdout);
        if let Err(e) = moved {
            return Err(classify(child.abort(e)));
        }
        child.wait_success().map_err(classify)?;
        let counts: Vec<TableCount> = rows
            .finish()
            .into_iter()
            .map(|(name, rows)| TableCount { name, rows })
            .collect();
        let mut stats = empty_stats();
        stats.database_version = version;
        stats.tables = Some(counts.len() as u64);
        stats.rows_approximate = Some(counts.iter().map(|c| c.rows).sum());
        stats.metadata.push(kv("dumper", flavor.dumper()));
        stats.table_counts = counts;
        stats.counts_consistent = true;
        Ok(stats)
    }

    /// With `clean` (the restore's `drop_existing`) the database is
    /// dropped and created again, empty, once the artifact is known good.
    fn restore(ctx: &CallContext, source: &InputStream) -> PluginResult<()> {
        let cfg = config::load::<Config>(ctx)?;
        let spool = format!("{}/artifact.sql", config::scratch_dir(ctx)?);
        {
            let file = fs::create_write(&spool)?;
            io::pipe(source, &file.stream)?;
        }
        if config::option(ctx, "clean") == Some("true") {
            log::info(&format!(
                "artifact received and verified; dropping and creating `{}` again",
                cfg.database
            ));
            cfg.recreate_database(ctx)?;
        }
        log::info("artifact received and verified; loading it");
        let child = cfg
            .command(ctx, Flavor::of(ctx).client())
            .arg(format!("--database={}", cfg.database))
            .piped_stdin()
            .spawn()?;
        let stdin = child
            .take_stdin()
            .ok_or_else(|| PluginError::Failed("the client has no stdin".into()))?;
        let fed = fs::open_read(&spool, 0).and_then(|file| io::pipe(&file.stream, &stdin));
        drop(stdin);
        if let Err(e) = fed {
            return Err(classify(child.abort(e)));
        }
        child.wait_success().map_err(classify)?;
        Ok(())
    }

    fn create_scratch_database(ctx: &CallContext, name: &str) -> PluginResult<String> {
        check_name("name", name)?;
        let cfg = config::load::<Config>(ctx)?;
        cfg.query(
            ctx,
            &cfg.database,
            &format!("create database `{name}` character set utf8mb4"),
        )?;
        let mut scratch = cfg.clone();
        scratch.database = name.to_string();
        serde_json::to_string(&scratch).map_err(|e| PluginError::Failed(e.to_string()))
    }

    fn drop_scratch_database(ctx: &CallContext, name: &str) -> PluginResult<()> {
        check_name("name", name)?;
        let cfg = config::load::<Config>(ctx)?;
        let admin = if cfg.database == name {
            "information_schema"
        } else {
            cfg.database.as_str()
        };
        cfg.query(ctx, admin, &format!("drop database if exists `{name}`"))?;
        Ok(())
    }

    fn inspect(ctx: &CallContext) -> PluginResult<Vec<TableCount>> {
        let cfg = config::load::<Config>(ctx)?;
        cfg.count_rows(ctx, &cfg.database)
    }
}

export_engine!(Mysql);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_identifiers() {
        assert!(check_name("database", "chinook_2024").is_ok());
        assert!(check_name("database", "-x").is_err());
        assert!(check_name("database", "a`b").is_err());
        assert!(check_name("database", "").is_err());
    }

    #[test]
    fn client_messages_map_to_kinds() {
        let kind = |m: &str| classify(PluginError::Failed(m.into()));
        assert!(matches!(
            kind(
                "ERROR 1045 (28000): Access denied for user 'x'@'localhost' (using password: YES)"
            ),
            PluginError::AuthFailed(_)
        ));
        assert!(matches!(
            kind("ERROR 2002 (HY000): Can't connect to server on '127.0.0.1' (115)"),
            PluginError::Unreachable(_)
        ));
        assert!(matches!(
            kind("ERROR 1049 (42000): Unknown database 'nope'"),
            PluginError::NotFound(_)
        ));
    }
}
