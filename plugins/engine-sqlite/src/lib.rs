//! SQLite engine: backs up a live database file through the host's `sqlite3`.
//!
//! The plugin never opens the database itself. `sqlite3` runs on the host
//! and makes a transactionally consistent copy with `VACUUM INTO`, which is
//! safe while other processes write to the database; the copy then moves
//! host-side from the scratch directory into the sink. A restore lands in a
//! temporary file beside the target, is checked with `PRAGMA
//! integrity_check`, and only then renamed over the target, so a broken
//! artifact never replaces a good database.

use dataguardian_plugin_sdk::process::Command;
use dataguardian_plugin_sdk::{
    config, empty_stats, export_engine, fs, health, io, log, BackupStats, CallContext, Engine,
    HealthReport, InputStream, Kv, OutputStream, PluginError, PluginInfo, PluginKind, PluginResult,
    TableCount,
};
use serde::Deserialize;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// The program the manifest grants.
const SQLITE3: &str = "sqlite3";

/// Tables counted per `sqlite3` invocation, so the SQL argument stays well
/// below command-line length limits however many tables a database has.
const TABLES_PER_QUERY: usize = 200;

/// Side files SQLite keeps next to a database. A leftover one belongs to the
/// old database and would be replayed into a restored one, corrupting it.
const SIDE_FILES: [&str; 3] = ["-wal", "-shm", "-journal"];

#[derive(Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// Absolute path of the database file.
    path: String,
}

impl config::Checked for Config {
    fn check(&self) -> PluginResult<()> {
        // Absolute paths are what the host preopens; a leading `/` also keeps
        // `sqlite3` from reading the path as one of its own options.
        if !self.path.starts_with('/') || self.path.ends_with('/') {
            return Err(PluginError::InvalidConfig(
                "path: must be the absolute path of a database file".into(),
            ));
        }
        Ok(())
    }
}

/// `text` as an SQL string literal.
fn sql_string(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// `name` as an SQL identifier, whatever characters it holds.
fn sql_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Runs `sqlite3` on `db` and returns its output, one row per line with
/// columns separated by `|`.
///
/// The output-mode flags come after any `~/.sqliterc` is read, so a user's
/// personal settings cannot change what we parse. `-bail` stops at the first
/// error so a failure is never mistaken for partial output.
fn sqlite(db: &str, read_only: bool, sql: &str) -> PluginResult<String> {
    let mut cmd = Command::new(SQLITE3).args(["-batch", "-bail", "-noheader", "-list"]);
    if read_only {
        cmd = cmd.arg("-readonly");
    }
    cmd.arg(db).arg(sql).output().map_err(|e| match e {
        // sqlite3 says this for a missing file as well as for an unreadable
        // one; the message carries its exact words either way.
        PluginError::Failed(msg) if msg.contains("unable to open database") => {
            PluginError::NotFound(msg)
        }
        other => other,
    })
}

/// Decodes the upper-case hex `hex()` returns. Table names travel as hex
/// so names holding `|` or line breaks cannot confuse the line parsing.
fn decode_hex(hex: &str) -> PluginResult<String> {
    let bad = || PluginError::Failed(format!("sqlite3 returned malformed hex `{hex}`"));
    if !hex.len().is_multiple_of(2) {
        return Err(bad());
    }
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2).ok_or_else(bad)?, 16).map_err(|_| bad()))
        .collect::<PluginResult<Vec<u8>>>()?;
    String::from_utf8(bytes).map_err(|_| bad())
}

/// Names of the ordinary tables of `db`, sorted.
///
/// SQLite's internal tables are left out, and so are virtual tables: their
/// rows live in ordinary shadow tables (counted themselves), and counting
/// one may need a module the host's `sqlite3` was built without.
fn table_names(db: &str, read_only: bool) -> PluginResult<Vec<String>> {
    let out = sqlite(
        db,
        read_only,
        "SELECT hex(name) FROM sqlite_master WHERE type = 'table' \
         AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
         AND sql NOT LIKE 'CREATE VIRTUAL TABLE%' ORDER BY name;",
    )?;
    out.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(decode_hex)
        .collect()
}

/// Exact row counts of every table of `db`, sorted by table name.
///
/// Each batch of counts runs inside one read transaction so the numbers of
/// that batch agree with each other even while the database is written.
fn table_counts(db: &str, read_only: bool) -> PluginResult<Vec<TableCount>> {
    let names = table_names(db, read_only)?;
    let mut counts = Vec::with_capacity(names.len());
    for batch in names.chunks(TABLES_PER_QUERY) {
        let mut sql = String::from("BEGIN;");
        for name in batch {
            sql.push_str(&format!("SELECT count(*) FROM {};", sql_identifier(name)));
        }
        sql.push_str("COMMIT;");
        let out = sqlite(db, read_only, &sql)?;
        let rows: Vec<&str> = out.lines().filter(|l| !l.trim().is_empty()).collect();
        if rows.len() != batch.len() {
            return Err(PluginError::Failed(format!(
                "sqlite3 returned {} row counts for {} tables",
                rows.len(),
                batch.len()
            )));
        }
        for (name, row) in batch.iter().zip(rows) {
            let rows = row.trim().parse::<u64>().map_err(|_| {
                PluginError::Failed(format!("sqlite3 returned `{row}` as the row count"))
            })?;
            counts.push(TableCount {
                name: name.clone(),
                rows,
            });
        }
    }
    Ok(counts)
}

fn sqlite_version(db: &str) -> PluginResult<String> {
    Ok(sqlite(db, true, "SELECT sqlite_version();")?
        .trim()
        .to_string())
}

fn io_error(path: &str, e: std::io::Error) -> PluginError {
    match e.kind() {
        std::io::ErrorKind::NotFound => PluginError::NotFound(format!("{path}: not found")),
        std::io::ErrorKind::PermissionDenied => {
            PluginError::PermissionDenied(format!("{path}: permission denied"))
        }
        _ => PluginError::Failed(format!("{path}: {e}")),
    }
}

/// Removes `path`, treating "already gone" as success.
fn remove_if_present(path: &str) -> PluginResult<bool> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io_error(path, e)),
    }
}

/// A name beside the target no other restore picks at the same moment.
/// Nanoseconds of the wall clock are unique enough: two restores of one
/// target at once are a conflict the host prevents anyway.
/// `.dg-scratch-NAME.db` in the directory of `target`.
fn scratch_path(target: &str, name: &str) -> PluginResult<String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !ok {
        return Err(PluginError::InvalidConfig(format!(
            "scratch database name `{name}`: use a-z, 0-9 and _"
        )));
    }
    let dir = target.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
    Ok(format!("{dir}/.dg-scratch-{name}.db"))
}

fn temp_path(target: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{target}.dg-restore-{nanos:x}")
}

/// Streams `source` into `tmp` and checks it is a sound, non-empty database.
fn receive_and_check(tmp: &str, source: &InputStream) -> PluginResult<u64> {
    let file = fs::create_write(tmp)?;
    let written = io::pipe(source, &file.stream)?;
    drop(file.stream);
    file.file.sync_data().map_err(|e| fs::fs_error(tmp, e))?;
    drop(file.file);
    // sqlite3 happily treats an empty file as an empty database, which
    // would pass the integrity check and wipe the target.
    if written == 0 {
        return Err(PluginError::Failed("the artifact is empty".into()));
    }
    let verdict = sqlite(tmp, true, "PRAGMA integrity_check;")?;
    if verdict.trim() != "ok" {
        return Err(PluginError::Failed(format!(
            "restored database fails the integrity check: {}",
            verdict.trim()
        )));
    }
    Ok(written)
}

struct Sqlite;

impl Engine for Sqlite {
    fn info() -> PluginInfo {
        PluginInfo {
            id: "sqlite".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind: PluginKind::Engine,
            provides: vec!["sqlite".into()],
            artifact_format: Some("db".into()),
            description: "SQLite database file, copied online with VACUUM INTO".into(),
            config_schema: r#"{"type":"object","required":["path"],"additionalProperties":false,"properties":{"path":{"type":"string","description":"Absolute path of the database file"}}}"#.into(),
        }
    }

    fn validate_config(config: &str) -> PluginResult<()> {
        config::validate::<Config>(config)
    }

    fn health_check(ctx: &CallContext) -> HealthReport {
        let started = Instant::now();
        let outcome = config::load::<Config>(ctx).and_then(|cfg| {
            // Size comes from the page count: the plugin has no grant to
            // stat the file outside restores.
            let out = sqlite(
                &cfg.path,
                true,
                "SELECT sqlite_version(), page_count * page_size \
                 FROM pragma_page_count(), pragma_page_size(); PRAGMA quick_check;",
            )?;
            let mut lines = out.lines();
            let first = lines.next().unwrap_or_default();
            let (version, size) = first.split_once('|').ok_or_else(|| {
                PluginError::Failed(format!("unexpected sqlite3 output `{first}`"))
            })?;
            let check: Vec<&str> = lines.collect();
            if check != ["ok"] {
                return Err(PluginError::Failed(format!(
                    "quick_check: {}",
                    check.join("; ")
                )));
            }
            Ok((
                Some(version.to_string()),
                vec![health::kv("size_bytes", size)],
            ))
        });
        health::report(started, outcome)
    }

    fn backup(ctx: &CallContext, sink: &OutputStream) -> PluginResult<BackupStats> {
        let cfg = config::load::<Config>(ctx)?;
        let scratch = config::scratch_dir(ctx)?;
        // sqlite3 runs in the host's working directory, not ours, so a
        // relative scratch path would name a different place for it.
        if !scratch.starts_with('/') {
            return Err(PluginError::Failed(format!(
                "scratch directory `{scratch}` is not absolute; the host must pass an absolute path"
            )));
        }
        let snapshot = format!("{scratch}/snapshot.db");
        sqlite(
            &cfg.path,
            true,
            &format!("VACUUM INTO {};", sql_string(&snapshot)),
        )?;
        // Stats come from the snapshot, so they describe exactly what the
        // artifact holds.
        let counts = table_counts(&snapshot, true)?;
        let version = sqlite_version(&snapshot)?;
        let file = fs::open_read(&snapshot, 0)?;
        let bytes = io::pipe(&file.stream, sink)?;
        log::info(&format!(
            "sqlite snapshot of {} streamed: {bytes} bytes",
            cfg.path
        ));
        let mut stats = empty_stats();
        stats.database_version = Some(version);
        stats.tables = Some(counts.len() as u64);
        stats.rows_approximate = Some(counts.iter().map(|c| c.rows).sum());
        // Counted in the snapshot that was streamed: exactly its content.
        stats.table_counts = counts;
        stats.counts_consistent = true;
        stats.metadata.push(Kv {
            key: "size_bytes".into(),
            value: bytes.to_string(),
        });
        Ok(stats)
    }

    fn restore(ctx: &CallContext, source: &InputStream) -> PluginResult<()> {
        let cfg = config::load::<Config>(ctx)?;
        let tmp = temp_path(&cfg.path);
        let outcome = receive_and_check(&tmp, source).and_then(|bytes| {
            for suffix in SIDE_FILES {
                let side = format!("{}{suffix}", cfg.path);
                if remove_if_present(&side)? {
                    log::warn(&format!("removed stale {side} of the replaced database"));
                }
            }
            std::fs::rename(&tmp, &cfg.path).map_err(|e| io_error(&cfg.path, e))?;
            Ok(bytes)
        });
        // Whatever happened, no temporary file (nor a side file the check
        // may have left) stays behind; after a rename there is nothing left
        // under the temporary name.
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let leftover = format!("{tmp}{suffix}");
            if let Err(e) = remove_if_present(&leftover) {
                log::warn(&format!("could not remove {leftover}: {e:?}"));
            }
        }
        let bytes = outcome?;
        log::info(&format!("restored {} ({bytes} bytes)", cfg.path));
        Ok(())
    }

    /// A scratch database is a file beside the configured one (the only
    /// directory the plugin may write); the restore creates it.
    fn create_scratch_database(ctx: &CallContext, name: &str) -> PluginResult<String> {
        let cfg = config::load::<Config>(ctx)?;
        let scratch = Config {
            path: scratch_path(&cfg.path, name)?,
        };
        serde_json::to_string(&scratch).map_err(|e| PluginError::Failed(e.to_string()))
    }

    fn drop_scratch_database(ctx: &CallContext, name: &str) -> PluginResult<()> {
        let cfg = config::load::<Config>(ctx)?;
        let path = scratch_path(&cfg.path, name)?;
        for suffix in ["", "-wal", "-shm", "-journal"] {
            remove_if_present(&format!("{path}{suffix}"))?;
        }
        Ok(())
    }

    fn inspect(ctx: &CallContext) -> PluginResult<Vec<TableCount>> {
        let cfg = config::load::<Config>(ctx)?;
        table_counts(&cfg.path, true)
    }
}

export_engine!(Sqlite);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_doubles_the_quote_character() {
        assert_eq!(sql_string("/tmp/it's"), "'/tmp/it''s'");
        assert_eq!(sql_identifier("a\"b"), "\"a\"\"b\"");
    }

    #[test]
    fn hex_names_decode() {
        assert_eq!(decode_hex("77657C697264").ok().as_deref(), Some("we|ird"));
        assert!(decode_hex("7").is_err());
        assert!(decode_hex("ZZ").is_err());
    }
}
