//! Microsoft SQL Server engine (type `sqlserver`).
//!
//! Format `bak` (default): `sqlcmd` runs `BACKUP DATABASE … TO DISK`, so
//! the SQL Server process writes the `.bak` on its own filesystem, into
//! `backup_directory`; DataGuardian reads the same directory as
//! `host_backup_directory` (a shared volume, or the same path on the same
//! machine), splices the file into the sink host-side and deletes it. A
//! restore spools the artifact into that directory and runs `RESTORE
//! DATABASE … WITH MOVE` so a new name never collides with the source's
//! files.
//!
//! Format `bacpac`: `sqlpackage /Action:Export` into the call's scratch
//! directory, `/Action:Import` to restore. sqlpackage accepts a SQL
//! login's password only on its command line, so this format runs with
//! integrated authentication only and refuses a configured password.
//!
//! The password reaches sqlcmd as `SQLCMDPASSWORD`, injected by the host
//! from the secret (sqlcmd reads no password file); the plugin never
//! holds it.

mod tsql;

use dataguardian_plugin_sdk::health::{self, kv};
use dataguardian_plugin_sdk::process::Command;
use dataguardian_plugin_sdk::{
    config, empty_stats, export_engine, fs, io, log, BackupStats, CallContext, Engine,
    HealthReport, InputStream, OutputStream, PluginError, PluginInfo, PluginKind, PluginResult,
    TableCount,
};
use serde::{Deserialize, Serialize};
use std::time::Instant;
use tsql::{classify, Auth, Target};

/// What a backup produces.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Default)]
#[serde(rename_all = "lowercase")]
enum Format {
    /// A native full backup (`BACKUP DATABASE`), restored with `RESTORE`.
    #[default]
    Bak,
    /// A data-tier export (`sqlpackage`), restored with an import.
    Bacpac,
}

#[derive(Deserialize, Serialize, Clone, Debug)]
#[serde(deny_unknown_fields)]
struct Config {
    host: String,
    #[serde(default = "default_port")]
    port: u16,
    database: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    username: Option<String>,
    /// `None` leaves the tool's default (encrypted with sqlcmd 18).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    encrypt: Option<bool>,
    #[serde(default, skip_serializing_if = "is_false")]
    trust_server_certificate: bool,
    #[serde(default)]
    backup_format: Format,
    /// The backup directory as the SQL Server process sees it; defaults
    /// to `host_backup_directory` (SQL Server on this machine).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    backup_directory: Option<String>,
    /// The same directory as DataGuardian sees it: granted to the plugin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    host_backup_directory: Option<String>,
}

fn default_port() -> u16 {
    1433
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A database or login name: at most 128 characters (sysname), no
/// control characters, not starting like an option.
fn check_name(field: &str, name: &str) -> PluginResult<()> {
    let ok = !name.trim().is_empty()
        && name.chars().count() <= 128
        && !name.starts_with('-')
        && tsql::printable(name);
    if ok {
        Ok(())
    } else {
        Err(PluginError::InvalidConfig(format!(
            "{field}: `{name}` must be 1-128 characters, without control characters, not \
             starting with `-`"
        )))
    }
}

/// An absolute path as SQL Server may see it: POSIX (`/var/opt/mssql/…`),
/// a Windows drive (`D:\Backups`) or a UNC share (`\\nas\sql`).
fn server_path_ok(path: &str) -> bool {
    let b = path.as_bytes();
    let posix = path.starts_with('/');
    let drive = b.len() >= 3 && b[0].is_ascii_alphabetic() && b[1] == b':' && b[2] == b'\\';
    let unc = path.starts_with("\\\\") && path.len() > 2;
    (posix || drive || unc) && tsql::printable(path)
}

impl config::Checked for Config {
    fn check(&self) -> PluginResult<()> {
        let host_ok = !self.host.is_empty()
            && !self.host.starts_with('-')
            && !self
                .host
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || matches!(c, ',' | '*' | '/'));
        if !host_ok {
            return Err(PluginError::InvalidConfig(
                "host: must be a host name or address (no spaces, `,`, `/` or `*`)".into(),
            ));
        }
        if self.port == 0 {
            return Err(PluginError::InvalidConfig(
                "port: must be between 1 and 65535".into(),
            ));
        }
        check_name("database", &self.database)?;
        if let Some(user) = &self.username {
            check_name("username", user)?;
        }
        if let Some(dir) = &self.host_backup_directory {
            let ok = dir.starts_with('/')
                && tsql::printable(dir)
                && !dir.contains('*')
                && !dir.split('/').any(|part| part == "..");
            if !ok {
                return Err(PluginError::InvalidConfig(format!(
                    "host_backup_directory: `{dir}` must be an absolute path on this machine \
                     without `..`"
                )));
            }
        }
        if let Some(dir) = &self.backup_directory {
            if !server_path_ok(dir) {
                return Err(PluginError::InvalidConfig(format!(
                    "backup_directory: `{dir}` must be an absolute path as the SQL Server \
                     machine sees it (`/var/opt/mssql/backup`, `D:\\Backups`, `\\\\nas\\sql`)"
                )));
            }
            if self.host_backup_directory.is_none() {
                return Err(PluginError::InvalidConfig(
                    "host_backup_directory: required with backup_directory: the same directory \
                     as this machine sees it (a shared volume), where DataGuardian reads the \
                     .bak SQL Server writes"
                        .into(),
                ));
            }
        }
        if self.backup_format == Format::Bak && self.host_backup_directory.is_none() {
            return Err(PluginError::InvalidConfig(
                "host_backup_directory: required for backup_format `bak`: SQL Server writes the \
                 .bak on its own filesystem, so DataGuardian needs that directory as this machine \
                 sees it (the same path when SQL Server runs here; set backup_directory too when \
                 SQL Server sees it under another path)"
                    .into(),
            ));
        }
        Ok(())
    }
}

/// The JSON type each field must have, so a wrong one is reported under
/// the field's name (serde's own message names only a line and column).
const FIELD_TYPES: &[(&str, &str)] = &[
    ("host", "string"),
    ("port", "integer"),
    ("database", "string"),
    ("username", "string"),
    ("encrypt", "boolean"),
    ("trust_server_certificate", "boolean"),
    ("backup_format", "string"),
    ("backup_directory", "string"),
    ("host_backup_directory", "string"),
];

/// Parses and checks a configuration; every error names its field.
fn parse_config(text: &str) -> PluginResult<Config> {
    let mut value: serde_json::Value = config::parse_json(text)?;
    // The host removes secrets before any call; none is read here.
    if let Some(map) = value.as_object_mut() {
        map.remove("password");
    }
    let serde_json::Value::Object(map) = &value else {
        return Err(PluginError::InvalidConfig(
            "config: must be a JSON object".into(),
        ));
    };
    for (key, v) in map {
        let Some((_, want)) = FIELD_TYPES.iter().find(|(k, _)| k == key) else {
            return Err(PluginError::InvalidConfig(format!(
                "{key}: unknown field (expected one of host, port, database, username, password, \
                 encrypt, trust_server_certificate, backup_format, backup_directory, \
                 host_backup_directory)"
            )));
        };
        let fits = match *want {
            "string" => v.is_string(),
            "boolean" => v.is_boolean(),
            _ => v.as_u64().is_some_and(|n| (1..=65535).contains(&n)),
        };
        if !fits && !v.is_null() {
            return Err(PluginError::InvalidConfig(match (*key).as_str() {
                "port" => "port: must be an integer between 1 and 65535".to_string(),
                _ => format!("{key}: must be a {want}"),
            }));
        }
    }
    for key in ["host", "database"] {
        if !map.get(key).is_some_and(|v| v.is_string()) {
            return Err(PluginError::InvalidConfig(format!("{key}: required")));
        }
    }
    if let Some(f) = map.get("backup_format").and_then(|v| v.as_str()) {
        if f != "bak" && f != "bacpac" {
            return Err(PluginError::InvalidConfig(format!(
                "backup_format: `{f}` must be `bak` or `bacpac`"
            )));
        }
    }
    let cfg: Config = serde_json::from_value(value)
        .map_err(|e| PluginError::InvalidConfig(format!("config: {e}")))?;
    config::Checked::check(&cfg)?;
    Ok(cfg)
}

/// The configuration of a call, checked.
fn load(ctx: &CallContext) -> PluginResult<Config> {
    parse_config(&ctx.config)
}

/// A file in the shared backup directory, under both of its names.
struct SharedFile {
    /// As DataGuardian (and the plugin) open it.
    host_path: String,
    /// As SQL Server opens it.
    server_path: String,
}

/// Removes a file when dropped, so a temporary `.bak` goes on every way
/// out of a call (a call the host kills can still leave one behind).
struct RemoveOnDrop(String);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        match std::fs::remove_file(&self.0) {
            Ok(()) => log::debug(&format!("removed {}", self.0)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => log::warn(&format!("could not remove {}: {e}", self.0)),
        }
    }
}

/// A name no other call picks: the wall clock in nanoseconds.
fn unique_suffix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{nanos:x}")
}

impl Config {
    fn target(&self) -> Target<'_> {
        Target {
            host: &self.host,
            port: self.port,
            encrypt: self.encrypt,
            trust_server_certificate: self.trust_server_certificate,
        }
    }

    /// A SQL login when the host holds a password, integrated
    /// authentication when neither a password nor a username is set.
    fn auth(&self, ctx: &CallContext) -> PluginResult<Auth> {
        match (&self.username, config::has_secret(ctx, "password")) {
            (Some(user), true) => Ok(Auth::Login(user.clone())),
            (None, true) => Err(PluginError::InvalidConfig(
                "username: required with a password".into(),
            )),
            (Some(user), false) => Err(PluginError::InvalidConfig(format!(
                "password: username `{user}` is set but no password is stored (remove username \
                 to use integrated authentication)"
            ))),
            (None, false) => Ok(Auth::Integrated),
        }
    }

    /// sqlcmd running `sql` in `database`; the password, if any, only in
    /// its environment.
    fn sqlcmd(&self, ctx: &CallContext, database: &str, sql: &str) -> PluginResult<Command> {
        let auth = self.auth(ctx)?;
        let cmd =
            Command::new("sqlcmd").args(tsql::sqlcmd_args(&self.target(), &auth, database, sql));
        Ok(match auth {
            Auth::Login(_) => cmd.secret_env("SQLCMDPASSWORD", "password"),
            Auth::Integrated => cmd,
        })
    }

    /// Result rows of `sql`, each a tab-separated line.
    fn query(&self, ctx: &CallContext, database: &str, sql: &str) -> PluginResult<Vec<String>> {
        let out = self
            .sqlcmd(ctx, database, sql)?
            .output()
            .map_err(classify)?;
        Ok(tsql::rows(&out))
    }

    /// The only row of `sql`, split into columns.
    fn row(&self, ctx: &CallContext, database: &str, sql: &str) -> PluginResult<Vec<String>> {
        let rows = self.query(ctx, database, sql)?;
        let row = rows
            .first()
            .ok_or_else(|| PluginError::Failed(format!("no result from `{sql}`")))?;
        Ok(row.split('\t').map(str::to_string).collect())
    }

    /// The shared backup directory's file `name`, or why there is none.
    fn shared_file(&self, name: &str) -> PluginResult<SharedFile> {
        let host_dir = self.host_backup_directory.as_deref().ok_or_else(|| {
            PluginError::InvalidConfig(
                "host_backup_directory: required to back up or restore a .bak: SQL Server reads \
                 and writes it on its own filesystem"
                    .into(),
            )
        })?;
        let server_dir = self.backup_directory.as_deref().unwrap_or(host_dir);
        Ok(SharedFile {
            host_path: tsql::join_server_path(host_dir, name),
            server_path: tsql::join_server_path(server_dir, name),
        })
    }

    /// bacpac mode runs sqlpackage, which takes a password only on its
    /// command line (`/SourcePassword:`, a connection string), readable
    /// by every user of the machine: refused.
    fn check_bacpac(&self, ctx: &CallContext) -> PluginResult<()> {
        if config::has_secret(ctx, "password") || self.username.is_some() {
            return Err(PluginError::InvalidConfig(
                "backup_format: `bacpac` runs sqlpackage, which accepts a SQL login's password \
                 only on its command line, where every user of this machine can read it; use \
                 integrated authentication (no username or password) or backup_format `bak`"
                    .into(),
            ));
        }
        Ok(())
    }

    /// Exact rows of every user table of `database`, named `schema.table`.
    fn count_rows(&self, ctx: &CallContext, database: &str) -> PluginResult<Vec<TableCount>> {
        let mut tables = Vec::new();
        for row in self.query(ctx, database, tsql::LIST_TABLES)? {
            let Some((schema, table)) = row.split_once('\t') else {
                return Err(PluginError::Failed(format!("unexpected table row `{row}`")));
            };
            tables.push((schema.to_string(), table.to_string()));
        }
        let mut counts = Vec::new();
        for query in tsql::count_queries(&tables) {
            for row in self.query(ctx, database, &query)? {
                let (name, count) = row
                    .rsplit_once('\t')
                    .ok_or_else(|| PluginError::Failed(format!("unexpected count row `{row}`")))?;
                counts.push(TableCount {
                    name: name.to_string(),
                    rows: count
                        .trim()
                        .parse()
                        .map_err(|_| PluginError::Failed(format!("unexpected count `{count}`")))?,
                });
            }
        }
        counts.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(counts)
    }

    /// `BACKUP DATABASE` into the shared directory, compressed when the
    /// edition can; returns whether it was compressed.
    fn backup_to(
        &self,
        ctx: &CallContext,
        file: &SharedFile,
        edition: &str,
        engine: Option<i64>,
    ) -> PluginResult<bool> {
        let compress = tsql::edition_compresses(edition, engine);
        let run = |compression: bool| {
            // Run in the database itself: db_backupoperator there is
            // enough, no access to master needed.
            self.query(
                ctx,
                &self.database,
                &tsql::backup_database(&self.database, &file.server_path, compression),
            )
        };
        if !compress {
            run(false)?;
            return Ok(false);
        }
        match run(true) {
            Ok(_) => Ok(true),
            Err(PluginError::Unsupported(m)) if tsql::is_compression_unsupported(&m) => {
                log::info(
                    "this edition cannot compress backups (error 1844); backing up uncompressed",
                );
                run(false)?;
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// Splices a finished file into the sink host-side.
    fn stream_file(path: &str, sink: &OutputStream) -> PluginResult<u64> {
        let file = fs::open_read(path, 0)?;
        io::pipe(&file.stream, sink)
    }

    fn backup_bak(
        &self,
        ctx: &CallContext,
        sink: &OutputStream,
        stats: &mut BackupStats,
    ) -> PluginResult<()> {
        let info = self.row(ctx, &self.database, tsql::VERSION_QUERY)?;
        stats.database_version = info.first().cloned();
        let edition = info.get(1).cloned().unwrap_or_default();
        let engine = info.get(2).and_then(|v| v.trim().parse().ok());
        let name = format!(
            "dataguardian-{}-{}.bak",
            tsql::file_part(&self.database),
            unique_suffix()
        );
        let file = self.shared_file(&name)?;
        let _cleanup = RemoveOnDrop(file.host_path.clone());
        log::info(&format!(
            "BACKUP DATABASE into {} (here {})",
            file.server_path, file.host_path
        ));
        let compressed = self.backup_to(ctx, &file, &edition, engine)?;
        let size = fs::file_size(&file.host_path).map_err(|e| match e {
            PluginError::NotFound(m) => PluginError::NotFound(format!(
                "{m}: SQL Server reported the backup written but it is not here: do \
                 backup_directory and host_backup_directory name the same directory?"
            )),
            other => other,
        })?;
        let moved = Self::stream_file(&file.host_path, sink)?;
        if moved != size {
            return Err(PluginError::Failed(format!(
                "{}: streamed {moved} of {size} bytes",
                file.host_path
            )));
        }
        stats.metadata.push(kv("format", "bak"));
        stats.metadata.push(kv("compressed", compressed));
        stats.metadata.push(kv("backup_bytes", size));
        Ok(())
    }

    fn backup_bacpac(
        &self,
        ctx: &CallContext,
        sink: &OutputStream,
        stats: &mut BackupStats,
    ) -> PluginResult<()> {
        self.check_bacpac(ctx)?;
        stats.database_version = self
            .row(ctx, &self.database, tsql::VERSION_QUERY)?
            .first()
            .cloned();
        let path = format!("{}/export.bacpac", config::scratch_dir(ctx)?);
        let _cleanup = RemoveOnDrop(path.clone());
        Command::new("sqlpackage")
            .args(tsql::sqlpackage_export(
                &self.target(),
                &self.database,
                &path,
            ))
            .output()
            .map_err(classify)?;
        let moved = Self::stream_file(&path, sink)?;
        stats.metadata.push(kv("format", "bacpac"));
        stats.metadata.push(kv("backup_bytes", moved));
        Ok(())
    }

    /// Restores a `.bak` spooled in the shared directory into `self.database`.
    fn restore_bak(&self, ctx: &CallContext, file: &SharedFile, replace: bool) -> PluginResult<()> {
        let files = tsql::parse_filelist(&self.query(
            ctx,
            "master",
            &tsql::filelist_query(&file.server_path),
        )?)?;
        if let Some(bad) = files.iter().find(|f| !tsql::printable(&f.logical)) {
            return Err(PluginError::Failed(format!(
                "the backup's logical file name {:?} holds control characters",
                bad.logical
            )));
        }
        let paths = self.row(ctx, "master", tsql::DEFAULT_PATHS)?;
        let usable = |v: Option<&String>| v.filter(|p| !p.is_empty() && *p != "NULL").cloned();
        let data_dir = usable(paths.first()).ok_or_else(|| {
            PluginError::Unsupported(
                "the server reports no InstanceDefaultDataPath (SQL Server 2012 or later is needed)"
                    .into(),
            )
        })?;
        let log_dir = usable(paths.get(1)).unwrap_or_else(|| data_dir.clone());
        let moves = tsql::move_clauses(&files, &self.database, &data_dir, &log_dir);
        let mut sql = String::new();
        if replace {
            sql.push_str(&tsql::drop_database(&self.database));
            sql.push_str("; ");
        }
        sql.push_str(&tsql::restore_database(
            &self.database,
            &file.server_path,
            &moves,
            replace,
        ));
        self.query(ctx, "master", &sql)?;
        Ok(())
    }

    fn restore_bacpac(&self, ctx: &CallContext, path: &str, replace: bool) -> PluginResult<()> {
        self.check_bacpac(ctx)?;
        if replace {
            self.query(ctx, "master", &tsql::drop_database(&self.database))?;
        }
        Command::new("sqlpackage")
            .args(tsql::sqlpackage_import(
                &self.target(),
                &self.database,
                path,
            ))
            .output()
            .map_err(classify)?;
        Ok(())
    }
}

/// A bacpac is a ZIP package; a `.bak` is a Microsoft Tape Format media
/// set (`TAPE`). Anything not a ZIP is handed to `RESTORE`, which judges.
fn is_zip(path: &str) -> PluginResult<bool> {
    use std::io::Read;
    let mut magic = [0u8; 4];
    let mut file =
        std::fs::File::open(path).map_err(|e| PluginError::Failed(format!("{path}: {e}")))?;
    let n = file
        .read(&mut magic)
        .map_err(|e| PluginError::Failed(format!("{path}: {e}")))?;
    Ok(n == 4 && magic == *b"PK\x03\x04")
}

struct SqlServer;

const SCHEMA: &str = r#"{"type":"object","required":["host","database"],"additionalProperties":false,"properties":{"host":{"type":"string"},"port":{"type":"integer","default":1433,"minimum":1,"maximum":65535},"database":{"type":"string","minLength":1,"maxLength":128},"username":{"type":"string","description":"SQL login; leave out (with password) for integrated authentication"},"password":{"type":"string","writeOnly":true,"description":"reaches sqlcmd as SQLCMDPASSWORD, injected by the host"},"encrypt":{"type":"boolean","description":"request an encrypted connection; unset keeps the tool's default"},"trust_server_certificate":{"type":"boolean","default":false},"backup_format":{"type":"string","enum":["bak","bacpac"],"default":"bak"},"backup_directory":{"type":"string","description":"where SQL Server writes and reads .bak files, as the SQL Server machine sees it; defaults to host_backup_directory"},"host_backup_directory":{"type":"string","description":"the same directory as DataGuardian sees it (a shared volume); required for bak"}}}"#;

impl Engine for SqlServer {
    fn info() -> PluginInfo {
        PluginInfo {
            id: "sqlserver".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind: PluginKind::Engine,
            provides: vec!["sqlserver".into()],
            // One extension for both formats: a restore tells a bacpac
            // (ZIP) from a .bak by its first bytes.
            artifact_format: Some("bak".into()),
            description:
                "Microsoft SQL Server: BACKUP DATABASE through sqlcmd, or sqlpackage bacpac".into(),
            config_schema: SCHEMA.into(),
        }
    }

    fn validate_config(text: &str) -> PluginResult<()> {
        parse_config(text).map(|_| ())
    }

    fn health_check(ctx: &CallContext) -> HealthReport {
        let started = Instant::now();
        let outcome = load(ctx).and_then(|cfg| {
            let cols = cfg.row(ctx, &cfg.database, tsql::HEALTH_QUERY)?;
            let mut meta = Vec::new();
            for (i, key) in ["uptime_seconds", "active_connections", "size_bytes"]
                .iter()
                .enumerate()
            {
                if let Some(v) = cols.get(i + 1).filter(|v| *v != "NULL") {
                    meta.push(kv(key, v));
                }
            }
            Ok((cols.first().cloned(), meta))
        });
        health::report(started, outcome)
    }

    fn list_databases(ctx: &CallContext) -> PluginResult<Vec<String>> {
        let cfg = load(ctx)?;
        cfg.query(ctx, &cfg.database, tsql::LIST_DATABASES)
    }

    /// Row counts are taken right after the backup, in a session of their
    /// own: a restored `.bak` holds the database as it was when the backup
    /// ended, but a table written meanwhile can differ, so the counts are
    /// exact yet not the backup's own (`counts-consistent` is false).
    fn backup(ctx: &CallContext, sink: &OutputStream) -> PluginResult<BackupStats> {
        let cfg = load(ctx)?;
        let mut stats = empty_stats();
        match cfg.backup_format {
            Format::Bak => cfg.backup_bak(ctx, sink, &mut stats)?,
            Format::Bacpac => cfg.backup_bacpac(ctx, sink, &mut stats)?,
        }
        let counts = cfg.count_rows(ctx, &cfg.database)?;
        stats.tables = Some(counts.len() as u64);
        stats.rows_approximate = Some(counts.iter().map(|c| c.rows).sum());
        stats.table_counts = counts;
        stats.counts_consistent = false;
        Ok(stats)
    }

    /// The artifact is spooled whole first (SQL Server restores from a
    /// file, and nothing should reach the server before every checksum
    /// matched): into the shared directory when there is one (SQL Server
    /// must read a .bak itself), else the call's scratch directory.
    fn restore(ctx: &CallContext, source: &InputStream) -> PluginResult<()> {
        let cfg = load(ctx)?;
        let replace = config::option(ctx, "clean") == Some("true");
        let name = format!(
            "dataguardian-restore-{}-{}.bak",
            tsql::file_part(&cfg.database),
            unique_suffix()
        );
        let shared = match cfg.host_backup_directory {
            Some(_) => Some(cfg.shared_file(&name)?),
            None => None,
        };
        let spool = match &shared {
            Some(f) => f.host_path.clone(),
            None => format!("{}/{name}", config::scratch_dir(ctx)?),
        };
        let _cleanup = RemoveOnDrop(spool.clone());
        {
            let file = fs::create_write(&spool)?;
            io::pipe(source, &file.stream)?;
            file.file.sync_data().map_err(|e| fs::fs_error(&spool, e))?;
        }
        log::info("artifact received and verified; restoring it");
        if is_zip(&spool)? {
            // sqlpackage goes by the file's extension.
            let bacpac = format!("{}.bacpac", spool.trim_end_matches(".bak"));
            let _cleanup = RemoveOnDrop(bacpac.clone());
            std::fs::rename(&spool, &bacpac)
                .map_err(|e| PluginError::Failed(format!("{spool}: {e}")))?;
            return cfg.restore_bacpac(ctx, &bacpac, replace);
        }
        match &shared {
            Some(file) => cfg.restore_bak(ctx, file, replace),
            None => Err(PluginError::InvalidConfig(
                "host_backup_directory: restoring a .bak needs a directory SQL Server can read \
                 (backup_directory / host_backup_directory)"
                    .into(),
            )),
        }
    }

    /// The scratch database is not created here: `RESTORE` and the bacpac
    /// import create it themselves, and a `RESTORE` onto an existing
    /// database would need `REPLACE`. Its name is only checked free.
    fn create_scratch_database(ctx: &CallContext, name: &str) -> PluginResult<String> {
        check_name("name", name)?;
        let cfg = load(ctx)?;
        let exists = cfg.row(ctx, "master", &tsql::exists_query(name))?;
        if exists.first().map(String::as_str) != Some("0") {
            return Err(PluginError::Failed(format!(
                "database `{name}` already exists; not using it as a scratch database"
            )));
        }
        let mut scratch = cfg.clone();
        scratch.database = name.to_string();
        serde_json::to_string(&scratch).map_err(|e| PluginError::Failed(e.to_string()))
    }

    fn drop_scratch_database(ctx: &CallContext, name: &str) -> PluginResult<()> {
        check_name("name", name)?;
        let cfg = load(ctx)?;
        cfg.query(ctx, "master", &tsql::drop_database(name))?;
        Ok(())
    }

    fn inspect(ctx: &CallContext) -> PluginResult<Vec<TableCount>> {
        let cfg = load(ctx)?;
        cfg.count_rows(ctx, &cfg.database)
    }
}

export_engine!(SqlServer);

#[cfg(test)]
mod tests {
    use super::*;

    fn check(json: &str) -> PluginResult<()> {
        parse_config(json).map(|_| ())
    }

    fn message(r: PluginResult<()>) -> String {
        match r {
            Err(PluginError::InvalidConfig(m)) => m,
            other => panic!("expected invalid-config, got {other:?}"),
        }
    }

    #[test]
    fn configs_are_checked_field_by_field() {
        let ok = r#"{"host":"db.lan","database":"shop","username":"backup","host_backup_directory":"/srv/mssql-backup"}"#;
        assert!(check(ok).is_ok());
        let cfg: Config = config::parse_json(ok).expect("parsed");
        assert_eq!(cfg.port, 1433);
        assert_eq!(cfg.backup_format, Format::Bak);
        assert!(check(r#"{"host":"db","database":"s","backup_format":"bacpac"}"#).is_ok());
        assert!(check(r#"{"host":"db","database":"s","host_backup_directory":"/b","backup_directory":"D:\\Backups","encrypt":true,"trust_server_certificate":true}"#).is_ok());
        assert!(check(r#"{"host":"db","database":"s","host_backup_directory":"/b","backup_directory":"\\\\nas\\sql"}"#).is_ok());

        for (json, field) in [
            (
                r#"{"host":"-oProxy","database":"s","host_backup_directory":"/b"}"#,
                "host:",
            ),
            (
                r#"{"host":"a,1","database":"s","host_backup_directory":"/b"}"#,
                "host:",
            ),
            (
                r#"{"host":"db","port":0,"database":"s","host_backup_directory":"/b"}"#,
                "port:",
            ),
            (
                r#"{"host":"db","database":"","host_backup_directory":"/b"}"#,
                "database:",
            ),
            (
                r#"{"host":"db","database":"a\nb","host_backup_directory":"/b"}"#,
                "database:",
            ),
            (
                r#"{"host":"db","database":"s","username":"-x","host_backup_directory":"/b"}"#,
                "username:",
            ),
            (r#"{"host":"db","database":"s"}"#, "host_backup_directory:"),
            (
                r#"{"host":"db","database":"s","host_backup_directory":"relative"}"#,
                "host_backup_directory:",
            ),
            (
                r#"{"host":"db","database":"s","host_backup_directory":"/a/../etc"}"#,
                "host_backup_directory:",
            ),
            (
                r#"{"host":"db","database":"s","host_backup_directory":"/b","backup_directory":"backups"}"#,
                "backup_directory:",
            ),
            (
                r#"{"host":"db","database":"s","backup_format":"bacpac","backup_directory":"/b"}"#,
                "host_backup_directory:",
            ),
        ] {
            let m = message(check(json));
            assert!(m.starts_with(field), "{json}: {m}");
        }
        // serde names the field for type errors and unknown fields.
        assert!(message(check(
            r#"{"host":"db","database":"s","port":"x","host_backup_directory":"/b"}"#
        ))
        .contains("port"));
        assert!(message(check(
            r#"{"host":"db","database":"s","backup_format":"tar","host_backup_directory":"/b"}"#
        ))
        .contains("tar"));
        assert!(message(check(
            r#"{"host":"db","database":"s","nope":1,"host_backup_directory":"/b"}"#
        ))
        .contains("nope"));
        assert!(
            message(check(r#"{"database":"s","host_backup_directory":"/b"}"#)).contains("host")
        );
    }

    #[test]
    fn scratch_config_round_trips_without_defaults() {
        let cfg: Config = config::parse_json(
            r#"{"host":"db","database":"s","username":"u","host_backup_directory":"/b"}"#,
        )
        .expect("parsed");
        let json = serde_json::to_string(&cfg).expect("json");
        assert!(!json.contains("password") && !json.contains("encrypt"));
        assert!(check(&json).is_ok(), "{json}");
    }

    #[test]
    fn shared_files_have_two_names() {
        let cfg: Config = config::parse_json(
            r#"{"host":"db","database":"s","host_backup_directory":"/mnt/sqlbackup","backup_directory":"/var/opt/mssql/backup"}"#,
        )
        .expect("parsed");
        let f = cfg.shared_file("x.bak").expect("file");
        assert_eq!(f.host_path, "/mnt/sqlbackup/x.bak");
        assert_eq!(f.server_path, "/var/opt/mssql/backup/x.bak");
        let same: Config =
            config::parse_json(r#"{"host":"db","database":"s","host_backup_directory":"/srv/b/"}"#)
                .expect("parsed");
        let f = same.shared_file("x.bak").expect("file");
        assert_eq!(f.host_path, f.server_path);
        assert_eq!(f.host_path, "/srv/b/x.bak");
    }
}
