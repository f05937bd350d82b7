//! T-SQL text, tool command lines and tool output: pure functions, so
//! every statement and argument list is unit-tested without a server.

use dataguardian_plugin_sdk::PluginError;

/// `[name]` with `]` doubled: SQL Server reads it back as exactly `name`.
pub fn quote_ident(name: &str) -> String {
    format!("[{}]", name.replace(']', "]]"))
}

/// `N'text'` with `'` doubled: a Unicode literal that cannot end early.
pub fn quote_str(text: &str) -> String {
    format!("N'{}'", text.replace('\'', "''"))
}

/// Every statement is run with row-count messages off, so sqlcmd's
/// output is the result rows and nothing else.
pub fn batch(sql: &str) -> String {
    format!("SET NOCOUNT ON; {sql}")
}

/// How sqlcmd and sqlpackage authenticate.
#[derive(Debug, Clone, PartialEq)]
pub enum Auth {
    /// A SQL login; the password travels in `SQLCMDPASSWORD`.
    Login(String),
    /// Integrated (Windows / Kerberos) authentication, no password.
    Integrated,
}

/// Connection settings shared by every command line.
#[derive(Debug, Clone)]
pub struct Target<'a> {
    pub host: &'a str,
    pub port: u16,
    pub encrypt: Option<bool>,
    pub trust_server_certificate: bool,
}

impl Target<'_> {
    /// `tcp:host,port`, the form both tools accept and the manifest pins.
    pub fn server(&self) -> String {
        format!("tcp:{},{}", self.host, self.port)
    }
}

/// sqlcmd's arguments to run `sql` in `database`. `-S` comes first (the
/// manifest pins it to the configured server); `-b` makes an error end
/// the batch with exit code 1, `-r1` sends every message to stderr (where
/// the host keeps it for the error), `-x` keeps `$(...)` in names from
/// being read as sqlcmd variables, `-h -1 -W -s TAB` prints bare
/// tab-separated rows. `-N` asks for encryption (`-No`: optional, the
/// sqlcmd 18 / go-sqlcmd spelling), `-C` trusts the server certificate.
pub fn sqlcmd_args(target: &Target, auth: &Auth, database: &str, sql: &str) -> Vec<String> {
    let mut args: Vec<String> = vec!["-S".into(), target.server(), "-d".into(), database.into()];
    match auth {
        Auth::Login(user) => {
            args.push("-U".into());
            args.push(user.clone());
        }
        Auth::Integrated => args.push("-E".into()),
    }
    for a in ["-b", "-r1", "-x", "-h", "-1", "-W", "-s", "\t", "-l", "15"] {
        args.push(a.into());
    }
    match target.encrypt {
        Some(true) => args.push("-N".into()),
        Some(false) => args.push("-No".into()),
        None => {}
    }
    if target.trust_server_certificate {
        args.push("-C".into());
    }
    args.push("-Q".into());
    args.push(batch(sql));
    args
}

/// sqlpackage's connection arguments for one side (`Source` or `Target`).
fn sqlpackage_connection(target: &Target, side: &str, database: &str) -> Vec<String> {
    let mut args = vec![
        format!("/{side}ServerName:{}", target.server()),
        format!("/{side}DatabaseName:{database}"),
    ];
    if let Some(encrypt) = target.encrypt {
        args.push(format!(
            "/{side}EncryptConnection:{}",
            if encrypt { "True" } else { "False" }
        ));
    }
    if target.trust_server_certificate {
        args.push(format!("/{side}TrustServerCertificate:True"));
    }
    args
}

/// `sqlpackage /Action:Export` of `database` into `file`. No user or
/// password: sqlpackage takes a password only on its command line, so
/// only integrated authentication is ever used.
pub fn sqlpackage_export(target: &Target, database: &str, file: &str) -> Vec<String> {
    let mut args = vec!["/Action:Export".to_string()];
    args.extend(sqlpackage_connection(target, "Source", database));
    args.push(format!("/TargetFile:{file}"));
    args.push("/Quiet:True".into());
    args
}

/// `sqlpackage /Action:Import` of `file` into `database` (new or empty).
pub fn sqlpackage_import(target: &Target, database: &str, file: &str) -> Vec<String> {
    let mut args = vec!["/Action:Import".to_string()];
    args.extend(sqlpackage_connection(target, "Target", database));
    args.push(format!("/SourceFile:{file}"));
    args.push("/Quiet:True".into());
    args
}

/// The first line of `@@VERSION` (the rest holds line breaks, which would
/// split the row), the edition and `EngineEdition`.
pub const VERSION_QUERY: &str = "SELECT LEFT(@@VERSION, CHARINDEX(CHAR(10), @@VERSION + CHAR(10)) - 1), \
     CAST(SERVERPROPERTY('Edition') AS nvarchar(128)), CAST(SERVERPROPERTY('EngineEdition') AS int)";

/// Version, uptime, user sessions and the database's allocated size.
/// Uptime falls back to tempdb's creation (it is recreated at every
/// start) for a login without VIEW SERVER STATE.
pub const HEALTH_QUERY: &str = "DECLARE @start datetime2; \
     BEGIN TRY SELECT @start = sqlserver_start_time FROM sys.dm_os_sys_info; END TRY \
     BEGIN CATCH SELECT @start = create_date FROM sys.databases WHERE name = N'tempdb'; END CATCH; \
     SELECT LEFT(@@VERSION, CHARINDEX(CHAR(10), @@VERSION + CHAR(10)) - 1), \
     DATEDIFF(SECOND, @start, SYSDATETIME()), \
     (SELECT COUNT(*) FROM sys.dm_exec_sessions WHERE is_user_process = 1), \
     (SELECT SUM(CAST(size AS bigint)) * 8192 FROM sys.database_files)";

/// User databases (the four system databases have ids 1-4).
pub const LIST_DATABASES: &str =
    "SELECT name FROM sys.databases WHERE database_id > 4 ORDER BY name";

/// User tables as `schema<TAB>table`.
pub const LIST_TABLES: &str = "SELECT s.name, t.name FROM sys.tables t \
     JOIN sys.schemas s ON s.schema_id = t.schema_id \
     WHERE t.is_ms_shipped = 0 ORDER BY s.name, t.name";

/// Where the server puts new data and log files.
pub const DEFAULT_PATHS: &str =
    "SELECT CAST(SERVERPROPERTY('InstanceDefaultDataPath') AS nvarchar(4000)), \
     CAST(SERVERPROPERTY('InstanceDefaultLogPath') AS nvarchar(4000))";

/// Whether an edition can write compressed backups without trying:
/// Express and Web cannot (error 1844); every other edition since 2008 R2
/// can. A wrong guess is still caught by the 1844 fallback.
pub fn edition_compresses(edition: &str, engine_edition: Option<i64>) -> bool {
    let e = edition.to_ascii_lowercase();
    engine_edition != Some(4) && !e.contains("express") && !e.contains("web")
}

/// `BACKUP DATABASE`: a copy-only full backup (the server's own backup
/// chain and differential base stay untouched), page checksums verified
/// and written, a fresh media set in a file of its own.
pub fn backup_database(database: &str, path: &str, compression: bool) -> String {
    format!(
        "BACKUP DATABASE {} TO DISK = {} WITH COPY_ONLY, {}CHECKSUM, FORMAT, INIT",
        quote_ident(database),
        quote_str(path),
        if compression { "COMPRESSION, " } else { "" }
    )
}

/// True when a backup failed only because the edition cannot compress.
pub fn is_compression_unsupported(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("msg 1844") || m.contains("with compression is not supported")
}

/// One file of a backup, from `RESTORE FILELISTONLY`.
#[derive(Debug, Clone, PartialEq)]
pub struct BackupFile {
    pub logical: String,
    pub physical: String,
    /// `D` data, `L` log, `F` full-text catalog, `S` FILESTREAM or
    /// memory-optimized container (a directory).
    pub kind: String,
}

pub fn filelist_query(path: &str) -> String {
    format!("RESTORE FILELISTONLY FROM DISK = {}", quote_str(path))
}

/// Parses `RESTORE FILELISTONLY` rows (LogicalName, PhysicalName, Type,
/// then columns not needed here).
pub fn parse_filelist(rows: &[String]) -> Result<Vec<BackupFile>, PluginError> {
    let files: Vec<BackupFile> = rows
        .iter()
        .map(|row| {
            let mut cols = row.split('\t');
            match (cols.next(), cols.next(), cols.next()) {
                (Some(l), Some(p), Some(k)) if !l.is_empty() && !k.is_empty() => Ok(BackupFile {
                    logical: l.to_string(),
                    physical: p.to_string(),
                    kind: k.trim().to_ascii_uppercase(),
                }),
                _ => Err(PluginError::Failed(format!(
                    "unexpected RESTORE FILELISTONLY row `{row}`"
                ))),
            }
        })
        .collect::<Result<_, _>>()?;
    if files.is_empty() {
        return Err(PluginError::Failed(
            "RESTORE FILELISTONLY listed no files: not a database backup".into(),
        ));
    }
    Ok(files)
}

/// Letters, digits, `_`, `-` and `.` kept, anything else `_`: a file
/// name part that means the same on Linux and Windows.
pub fn file_part(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// `dir` and `name` joined in the directory's own style (`\` for a
/// Windows path, `/` otherwise).
pub fn join_server_path(dir: &str, name: &str) -> String {
    if dir.ends_with('/') || dir.ends_with('\\') {
        format!("{dir}{name}")
    } else if dir.contains('\\') {
        format!("{dir}\\{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// The extension of a physical file name (`.mdf`), if any.
fn extension(physical: &str) -> &str {
    let name = physical.rsplit(['/', '\\']).next().unwrap_or(physical);
    match name.rfind('.') {
        Some(i) if i > 0 => &name[i..],
        _ => "",
    }
}

/// `MOVE` clauses putting every file of the backup under the server's
/// default data and log directories, named after the target database, so
/// a restore under a new name never collides with the source's files.
pub fn move_clauses(
    files: &[BackupFile],
    target: &str,
    data_dir: &str,
    log_dir: &str,
) -> Vec<String> {
    let mut used: Vec<String> = Vec::new();
    files
        .iter()
        .map(|f| {
            let dir = if f.kind == "L" { log_dir } else { data_dir };
            let ext = match (f.kind.as_str(), extension(&f.physical)) {
                // A container is a directory: no extension of its own.
                ("S", _) => "",
                (_, "") if f.kind == "L" => ".ldf",
                (_, "") => ".ndf",
                (_, ext) => ext,
            };
            let stem = format!("{}_{}", file_part(target), file_part(&f.logical));
            let mut path = join_server_path(dir, &format!("{stem}{ext}"));
            let mut n = 2;
            while used.iter().any(|u| u.eq_ignore_ascii_case(&path)) {
                path = join_server_path(dir, &format!("{stem}_{n}{ext}"));
                n += 1;
            }
            used.push(path.clone());
            format!("MOVE {} TO {}", quote_str(&f.logical), quote_str(&path))
        })
        .collect()
}

/// `RESTORE DATABASE` from a file; `REPLACE` only when asked to replace
/// an existing database.
pub fn restore_database(target: &str, path: &str, moves: &[String], replace: bool) -> String {
    let mut with: Vec<String> = Vec::new();
    if replace {
        with.push("REPLACE".into());
    }
    with.extend(moves.iter().cloned());
    with.push("RECOVERY".into());
    format!(
        "RESTORE DATABASE {} FROM DISK = {} WITH {}",
        quote_ident(target),
        quote_str(path),
        with.join(", ")
    )
}

/// Drops a database if it exists, ending its sessions first (run from
/// `master`).
pub fn drop_database(name: &str) -> String {
    let q = quote_ident(name);
    format!(
        "IF DB_ID({}) IS NOT NULL BEGIN ALTER DATABASE {q} SET SINGLE_USER WITH ROLLBACK IMMEDIATE; \
         DROP DATABASE {q}; END",
        quote_str(name)
    )
}

/// `1` when the database exists, `0` otherwise.
pub fn exists_query(name: &str) -> String {
    format!(
        "SELECT CASE WHEN DB_ID({}) IS NULL THEN 0 ELSE 1 END",
        quote_str(name)
    )
}

/// Longest count query handed to one sqlcmd (Linux caps one argument at
/// 128 KiB).
const COUNT_QUERY_BYTES: usize = 60_000;

/// Exact row-count queries for `(schema, table)` pairs, each row
/// `schema.table<TAB>count`, split so no query outgrows one argument.
pub fn count_queries(tables: &[(String, String)]) -> Vec<String> {
    let mut queries = Vec::new();
    let mut current = String::new();
    for (schema, table) in tables {
        let part = format!(
            "SELECT {}, COUNT_BIG(*) FROM {}.{}",
            quote_str(&format!("{schema}.{table}")),
            quote_ident(schema),
            quote_ident(table)
        );
        if !current.is_empty() && current.len() + part.len() + 11 > COUNT_QUERY_BYTES {
            queries.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push_str(" UNION ALL ");
        }
        current.push_str(&part);
    }
    if !current.is_empty() {
        queries.push(current);
    }
    queries
}

/// A name sqlcmd can be handed on one line: no control characters (a line
/// break would let the rest be read as a sqlcmd command such as `!!`).
pub fn printable(name: &str) -> bool {
    !name.chars().any(char::is_control)
}

/// Non-empty output lines, without the `\r` of a Windows build.
pub fn rows(output: &str) -> Vec<String> {
    output
        .lines()
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

/// Gives a sqlcmd / sqlpackage failure the kind that tells the operator
/// what to fix. Messages are matched as the ODBC sqlcmd and go-sqlcmd
/// print them.
pub fn classify(e: PluginError) -> PluginError {
    let PluginError::Failed(msg) = e else {
        return e;
    };
    let m = msg.to_lowercase();
    // 4060 comes with "Login failed for user" from ODBC: check it first.
    if m.contains("cannot open database") && m.contains("requested by the login") {
        PluginError::NotFound(msg)
    } else if m.contains("login failed for user") || m.contains("msg 18456") {
        PluginError::AuthFailed(msg)
    } else if m.contains("permission denied")
        || m.contains("permission was denied")
        || m.contains("operating system error 5(")
    {
        PluginError::PermissionDenied(msg)
    } else if m.contains("tcp provider")
        || m.contains("network-related or instance-specific")
        || m.contains("no connection could be made")
        || m.contains("connection refused")
        || m.contains("unable to open tcp connection")
        || m.contains("no such host")
    {
        PluginError::Unreachable(msg)
    } else if m.contains("login timeout expired")
        || m.contains("timeout expired")
        || m.contains("i/o timeout")
    {
        PluginError::Timeout(msg)
    } else if is_compression_unsupported(&m) {
        PluginError::Unsupported(msg)
    } else if m.contains("ssl provider") || m.contains("certificate verify failed") {
        PluginError::Failed(format!(
            "{msg} (set trust_server_certificate to accept a self-signed server certificate)"
        ))
    } else if m.contains("cannot open backup device") {
        PluginError::Failed(format!(
            "{msg} (backup_directory must exist on the SQL Server machine and be writable by \
             the SQL Server service account)"
        ))
    } else {
        PluginError::Failed(msg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(encrypt: Option<bool>, trust: bool) -> Target<'static> {
        Target {
            host: "db.lan",
            port: 1433,
            encrypt,
            trust_server_certificate: trust,
        }
    }

    #[test]
    fn identifiers_and_literals_are_quoted() {
        assert_eq!(quote_ident("sales"), "[sales]");
        assert_eq!(quote_ident("we]ird[name"), "[we]]ird[name]");
        assert_eq!(quote_ident("a]]b"), "[a]]]]b]");
        assert_eq!(quote_str("/var/backups/x.bak"), "N'/var/backups/x.bak'");
        assert_eq!(quote_str("O'Brien''s"), "N'O''Brien''''s'");
        assert_eq!(quote_str("ação"), "N'ação'");
    }

    #[test]
    fn sqlcmd_command_line() {
        let args = sqlcmd_args(
            &target(None, false),
            &Auth::Login("backup".into()),
            "shop",
            "SELECT 1",
        );
        assert_eq!(
            args,
            [
                "-S",
                "tcp:db.lan,1433",
                "-d",
                "shop",
                "-U",
                "backup",
                "-b",
                "-r1",
                "-x",
                "-h",
                "-1",
                "-W",
                "-s",
                "\t",
                "-l",
                "15",
                "-Q",
                "SET NOCOUNT ON; SELECT 1"
            ]
        );
        let args = sqlcmd_args(&target(Some(true), true), &Auth::Integrated, "master", "x");
        assert!(args.contains(&"-E".to_string()) && !args.contains(&"-U".to_string()));
        let tail: Vec<&str> = args[args.len() - 4..].iter().map(String::as_str).collect();
        assert_eq!(tail, ["-N", "-C", "-Q", "SET NOCOUNT ON; x"]);
        let args = sqlcmd_args(&target(Some(false), false), &Auth::Integrated, "m", "x");
        assert!(args.contains(&"-No".to_string()) && !args.contains(&"-C".to_string()));
    }

    #[test]
    fn sqlpackage_command_lines() {
        assert_eq!(
            sqlpackage_export(&target(Some(true), true), "shop", "/tmp/s/x.bacpac"),
            [
                "/Action:Export",
                "/SourceServerName:tcp:db.lan,1433",
                "/SourceDatabaseName:shop",
                "/SourceEncryptConnection:True",
                "/SourceTrustServerCertificate:True",
                "/TargetFile:/tmp/s/x.bacpac",
                "/Quiet:True"
            ]
        );
        assert_eq!(
            sqlpackage_import(&target(None, false), "copy", "/tmp/s/in.bacpac"),
            [
                "/Action:Import",
                "/TargetServerName:tcp:db.lan,1433",
                "/TargetDatabaseName:copy",
                "/SourceFile:/tmp/s/in.bacpac",
                "/Quiet:True"
            ]
        );
    }

    #[test]
    fn backup_statement() {
        assert_eq!(
            backup_database("sh]op", "/var/opt/mssql/backup/dg-1.bak", true),
            "BACKUP DATABASE [sh]]op] TO DISK = N'/var/opt/mssql/backup/dg-1.bak' \
             WITH COPY_ONLY, COMPRESSION, CHECKSUM, FORMAT, INIT"
        );
        assert_eq!(
            backup_database("shop", "D:\\Backups\\it's.bak", false),
            "BACKUP DATABASE [shop] TO DISK = N'D:\\Backups\\it''s.bak' \
             WITH COPY_ONLY, CHECKSUM, FORMAT, INIT"
        );
        assert!(edition_compresses("Developer Edition (64-bit)", Some(3)));
        assert!(edition_compresses("Standard Edition (64-bit)", Some(2)));
        assert!(!edition_compresses("Express Edition (64-bit)", Some(4)));
        assert!(!edition_compresses("Web Edition (64-bit)", Some(2)));
    }

    /// As sqlcmd prints `RESTORE FILELISTONLY` with `-h -1 -W -s TAB`
    /// (a database with a secondary data file and a FILESTREAM group).
    const FILELIST: &str = "AdventureWorks2022\tC:\\Program Files\\Microsoft SQL Server\\MSSQL16.MSSQLSERVER\\MSSQL\\DATA\\AdventureWorks2022.mdf\tD\tPRIMARY\t272629760\t35184372080640\t1\t0\t0\t00000000-0000-0000-0000-000000000000\t0\t0\t224395264\t512\t1\tNULL\t1318000000051000037\t8e8b1e6b-4d35-4a2e-8a3b-06b3b41bbd2a\t0\t1\tNULL\tNULL\r\n\
AdventureWorks2022_log\tC:\\Program Files\\Microsoft SQL Server\\MSSQL16.MSSQLSERVER\\MSSQL\\DATA\\AdventureWorks2022_log.ldf\tL\tNULL\t75497472\t2199023255552\t2\t0\t0\t00000000-0000-0000-0000-000000000000\t0\t0\t0\t512\t0\tNULL\t0\t00000000-0000-0000-0000-000000000000\t0\t1\tNULL\tNULL\r\n\
Sales 2\t/var/opt/mssql/data/sales2\tD\tSECONDARY\t8388608\t-1\t3\t0\t0\t00000000-0000-0000-0000-000000000000\t0\t0\t0\t512\t2\tNULL\t0\t00000000-0000-0000-0000-000000000000\t0\t1\tNULL\tNULL\n\
docs_fs\t/var/opt/mssql/data/docs_fs\tS\tDOCS\t0\t-1\t4\t0\t0\t00000000-0000-0000-0000-000000000000\t0\t0\t0\t512\t3\tNULL\t0\t00000000-0000-0000-0000-000000000000\t0\t1\tNULL\tNULL\n\n";

    #[test]
    fn move_clauses_from_a_recorded_filelist() {
        let files = parse_filelist(&rows(FILELIST)).expect("parsed");
        assert_eq!(files.len(), 4);
        assert_eq!(files[1].logical, "AdventureWorks2022_log");
        assert_eq!(files[1].kind, "L");
        let moves = move_clauses(
            &files,
            "dg_verify_0a1b",
            "/var/opt/mssql/data/",
            "/var/opt/mssql/log",
        );
        assert_eq!(
            moves,
            [
                "MOVE N'AdventureWorks2022' TO N'/var/opt/mssql/data/dg_verify_0a1b_AdventureWorks2022.mdf'",
                "MOVE N'AdventureWorks2022_log' TO N'/var/opt/mssql/log/dg_verify_0a1b_AdventureWorks2022_log.ldf'",
                "MOVE N'Sales 2' TO N'/var/opt/mssql/data/dg_verify_0a1b_Sales_2.ndf'",
                "MOVE N'docs_fs' TO N'/var/opt/mssql/data/dg_verify_0a1b_docs_fs'",
            ]
        );
        // Windows default paths keep their separator.
        let moves = move_clauses(&files[..1], "copy", "D:\\Data\\", "E:\\Logs");
        assert_eq!(
            moves,
            ["MOVE N'AdventureWorks2022' TO N'D:\\Data\\copy_AdventureWorks2022.mdf'"]
        );
        // Logical names that map to the same file name stay apart.
        let twins = vec![
            BackupFile {
                logical: "a b".into(),
                physical: "/d/x.ndf".into(),
                kind: "D".into(),
            },
            BackupFile {
                logical: "a_b".into(),
                physical: "/d/y.ndf".into(),
                kind: "D".into(),
            },
        ];
        let moves = move_clauses(&twins, "t", "/d", "/l");
        assert_eq!(moves[0], "MOVE N'a b' TO N'/d/t_a_b.ndf'");
        assert_eq!(moves[1], "MOVE N'a_b' TO N'/d/t_a_b_2.ndf'");
        assert!(parse_filelist(&[]).is_err());
        assert!(parse_filelist(&["only-one-column".to_string()]).is_err());
    }

    #[test]
    fn restore_statement() {
        let moves = vec!["MOVE N'x' TO N'/d/t_x.mdf'".to_string()];
        assert_eq!(
            restore_database("new]db", "/b/it's.bak", &moves, false),
            "RESTORE DATABASE [new]]db] FROM DISK = N'/b/it''s.bak' WITH MOVE N'x' TO N'/d/t_x.mdf', RECOVERY"
        );
        assert!(restore_database("t", "/b/x.bak", &moves, true).contains("WITH REPLACE, MOVE N'x'"));
        assert_eq!(
            drop_database("o'k]"),
            "IF DB_ID(N'o''k]') IS NOT NULL BEGIN ALTER DATABASE [o'k]]] SET SINGLE_USER WITH \
             ROLLBACK IMMEDIATE; DROP DATABASE [o'k]]]; END"
        );
    }

    #[test]
    fn counts_are_exact_and_split() {
        let tables = vec![
            ("dbo".to_string(), "Album".to_string()),
            ("sales".to_string(), "Or]der's".to_string()),
        ];
        assert_eq!(
            count_queries(&tables),
            [
                "SELECT N'dbo.Album', COUNT_BIG(*) FROM [dbo].[Album] UNION ALL \
              SELECT N'sales.Or]der''s', COUNT_BIG(*) FROM [sales].[Or]]der's]"
            ]
        );
        let many: Vec<(String, String)> = (0..5000)
            .map(|i| ("dbo".to_string(), format!("table_number_{i}")))
            .collect();
        let queries = count_queries(&many);
        assert!(queries.len() > 1);
        assert!(queries.iter().all(|q| q.len() <= COUNT_QUERY_BYTES));
        let total: usize = queries.iter().map(|q| q.matches("COUNT_BIG").count()).sum();
        assert_eq!(total, 5000);
        assert!(count_queries(&[]).is_empty());
        assert!(printable("Order Details"));
        assert!(!printable("evil\n!!rm -rf /"));
    }

    #[test]
    fn paths_join_in_their_own_style() {
        assert_eq!(
            join_server_path("/var/opt/mssql/backup", "x.bak"),
            "/var/opt/mssql/backup/x.bak"
        );
        assert_eq!(
            join_server_path("D:\\Backups", "x.bak"),
            "D:\\Backups\\x.bak"
        );
        assert_eq!(
            join_server_path("\\\\nas\\sql\\", "x.bak"),
            "\\\\nas\\sql\\x.bak"
        );
        assert_eq!(file_part("my db/ü"), "my_db__");
    }

    /// Real messages, as ODBC sqlcmd 17/18 and go-sqlcmd print them.
    #[test]
    fn tool_messages_map_to_kinds() {
        let kind = |m: &str| classify(PluginError::Failed(m.into()));
        for auth in [
            "sqlcmd exited with code 1: Sqlcmd: Error: Microsoft ODBC Driver 18 for SQL Server : Login failed for user 'sa'..",
            "sqlcmd exited with code 1: Msg 18456, Level 14, State 1, Server mssql, Line 1\nLogin failed for user 'sa'.",
        ] {
            assert!(matches!(kind(auth), PluginError::AuthFailed(_)), "{auth}");
        }
        for unreachable in [
            "Sqlcmd: Error: Microsoft ODBC Driver 18 for SQL Server : TCP Provider: Error code 0x2749.\n\
             Sqlcmd: Error: Microsoft ODBC Driver 18 for SQL Server : Login timeout expired.\n\
             Sqlcmd: Error: Microsoft ODBC Driver 18 for SQL Server : A network-related or instance-specific error has occurred while establishing a connection to SQL Server. Server is not found or not accessible. Check if instance name is correct and if SQL Server is configured to allow remote connections. For more information see SQL Server Books Online..",
            "Sqlcmd: Error: Microsoft ODBC Driver 17 for SQL Server : TCP Provider: No connection could be made because the target machine actively refused it.",
            "Mssql: login error: unable to open tcp connection with host 'db.lan:1433': dial tcp 10.0.0.5:1433: connect: connection refused",
        ] {
            assert!(matches!(kind(unreachable), PluginError::Unreachable(_)), "{unreachable}");
        }
        assert!(matches!(
            kind("Sqlcmd: Error: Microsoft ODBC Driver 18 for SQL Server : Login timeout expired."),
            PluginError::Timeout(_)
        ));
        assert!(matches!(
            kind("Sqlcmd: Error: Microsoft ODBC Driver 18 for SQL Server : Cannot open database \"nope\" requested by the login. The login failed..\n\
                  Sqlcmd: Error: Microsoft ODBC Driver 18 for SQL Server : Login failed for user 'sa'.."),
            PluginError::NotFound(_)
        ));
        for denied in [
            "Msg 262, Level 14, State 1, Server mssql, Line 1\nBACKUP DATABASE permission denied in database 'shop'.\nMsg 3013, Level 16, State 1, Server mssql, Line 1\nBACKUP DATABASE is terminating abnormally.",
            "Msg 262, Level 14, State 1, Server mssql, Line 1\nCREATE DATABASE permission denied in database 'master'.",
            "Msg 229, Level 14, State 5, Server mssql, Line 1\nThe SELECT permission was denied on the object 'Orders', database 'shop', schema 'dbo'.",
            "Msg 3201, Level 16, State 1, Server mssql, Line 1\nCannot open backup device '/var/opt/mssql/backup/x.bak'. Operating system error 5(Access is denied.).",
        ] {
            assert!(matches!(kind(denied), PluginError::PermissionDenied(_)), "{denied}");
        }
        let compression = "Msg 1844, Level 16, State 1, Server mssql, Line 1\nBACKUP DATABASE WITH COMPRESSION is not supported on Express Edition (64-bit).\nMsg 3013, Level 16, State 1, Server mssql, Line 1\nBACKUP DATABASE is terminating abnormally.";
        assert!(is_compression_unsupported(compression));
        assert!(matches!(kind(compression), PluginError::Unsupported(_)));
        assert!(!is_compression_unsupported(
            "BACKUP DATABASE successfully processed 0 pages"
        ));
        match kind("Sqlcmd: Error: Microsoft ODBC Driver 18 for SQL Server : SSL Provider: [error:0A000086:SSL routines::certificate verify failed:self-signed certificate].") {
            PluginError::Failed(m) => assert!(m.contains("trust_server_certificate")),
            other => panic!("{other:?}"),
        }
        match kind("Msg 3201, Level 16, State 1, Server mssql, Line 1\nCannot open backup device '/nope/x.bak'. Operating system error 2(The system cannot find the file specified.).") {
            PluginError::Failed(m) => assert!(m.contains("backup_directory must exist")),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            kind(
                "Msg 3154, Level 16, State 4, Server mssql, Line 1\nThe backup set holds a backup of a database other than the existing 'shop' database."
            ),
            PluginError::Failed(_)
        ));
    }
}
