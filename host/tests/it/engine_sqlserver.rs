//! SQL Server engine against a fake `sqlcmd` (no SQL Server runs here):
//! a Python script first on the server's PATH that records every command
//! line and whether `SQLCMDPASSWORD` came with the right value, writes a
//! deterministic `.bak` where `BACKUP DATABASE … TO DISK` points, records
//! the SHA-256 of the file a `RESTORE` reads, and answers the catalog
//! queries from its state. Driven through the REST API.

use crate::common;

use common::server::{Backend, TestServer};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The fake. Its state lives beside it (spawned programs get only PATH
/// and LC_ALL from the host).
const FAKE_SQLCMD: &str = r#"#!/usr/bin/env python3
import hashlib, json, os, re, sys

state = os.path.join(os.path.dirname(os.path.abspath(__file__)), "state")
args = sys.argv[1:]

def opt(flag):
    return args[args.index(flag) + 1] if flag in args else None

def record(name, entry):
    with open(os.path.join(state, name), "a") as f:
        f.write(json.dumps(entry) + "\n")

def fail(msg):
    sys.stderr.write(msg + "\n")
    sys.exit(1)

def has(name):
    return os.path.exists(os.path.join(state, name))

database, user, sql = opt("-d"), opt("-U"), opt("-Q") or ""
password = os.environ.get("SQLCMDPASSWORD")
record("argv.log", {"argv": sys.argv[1:], "password_env": password is not None})
with open(os.path.join(state, "password")) as f:
    expected = f.read()
if user is not None and password != expected:
    fail("Msg 18456, Level 14, State 1, Server fakesql, Line 1\nLogin failed for user '%s'." % user)

def literal(prefix):
    m = re.search(prefix + r" = N'((?:[^']|'')*)'", sql)
    return m.group(1).replace("''", "'") if m else None

def dbs():
    with open(os.path.join(state, "databases")) as f:
        return [l for l in f.read().split("\n") if l]

def set_dbs(names):
    with open(os.path.join(state, "databases"), "w") as f:
        f.write("".join(n + "\n" for n in names))

VERSION = "Microsoft SQL Server 2022 (RTM-CU12) (KB5033663) - 16.0.4115.5 (X64) "
if "BACKUP DATABASE" in sql:
    if "COMPRESSION" in sql and (has("express") or has("web")):
        fail("Msg 1844, Level 16, State 1, Server fakesql, Line 1\nBACKUP DATABASE WITH COMPRESSION is not supported on Express Edition (64-bit).\nMsg 3013, Level 16, State 1, Server fakesql, Line 1\nBACKUP DATABASE is terminating abnormally.")
    path = literal("TO DISK")
    data, block = bytearray(b"TAPE"), hashlib.sha256(b"fake bak").digest()
    while len(data) < 3 * 1024 * 1024 + 12345:
        block = hashlib.sha256(block).digest()
        data += block * 64
    with open(path, "wb") as f:
        f.write(data)
    record("backups.log", {"path": path, "sql": sql, "sha256": hashlib.sha256(data).hexdigest()})
    sys.stderr.write("Processed 424 pages for database 'shop', file 'shop' on file 1.\nBACKUP DATABASE successfully processed 426 pages in 0.051 seconds (65.234 MB/sec).\n")
elif "RESTORE FILELISTONLY" in sql:
    path = literal("FROM DISK")
    if not os.path.exists(path):
        fail("Msg 3201, Level 16, State 2, Server fakesql, Line 1\nCannot open backup device '%s'. Operating system error 2(The system cannot find the file specified.)." % path)
    print("shop\t/var/opt/mssql/data/shop.mdf\tD\tPRIMARY\t8388608\t35184372080640\t1\t0\t0\t00000000-0000-0000-0000-000000000000\t0\t0\t3407872\t512\t1\tNULL\t37000000053600037\t6f3a6a3e-5f2e-4b8e-9a51-0d1c3f2b7c11\t0\t1\tNULL\tNULL")
    print("shop_log\t/var/opt/mssql/data/shop_log.ldf\tL\tNULL\t8388608\t2199023255552\t2\t0\t0\t00000000-0000-0000-0000-000000000000\t0\t0\t0\t512\t0\tNULL\t0\t00000000-0000-0000-0000-000000000000\t0\t1\tNULL\tNULL")
elif "InstanceDefaultDataPath" in sql:
    print("/var/opt/mssql/data/\t/var/opt/mssql/log/")
elif "RESTORE DATABASE" in sql:
    target = re.search(r"RESTORE DATABASE \[((?:[^\]]|\]\])*)\]", sql).group(1).replace("]]", "]")
    if "DROP DATABASE" in sql:
        set_dbs([d for d in dbs() if d != target])
    if target in dbs() and "REPLACE" not in sql:
        fail("Msg 3154, Level 16, State 4, Server fakesql, Line 1\nThe backup set holds a backup of a database other than the existing '%s' database.\nMsg 3013, Level 16, State 1, Server fakesql, Line 1\nRESTORE DATABASE is terminating abnormally." % target)
    with open(literal("FROM DISK"), "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    record("restores.log", {"database": target, "sha256": digest, "sql": sql})
    set_dbs([d for d in dbs() if d != target] + [target])
elif "DROP DATABASE" in sql:
    name = re.search(r"DB_ID\(N'((?:[^']|'')*)'\)", sql).group(1).replace("''", "'")
    record("drops.log", {"database": name})
    set_dbs([d for d in dbs() if d != name])
elif "CASE WHEN DB_ID" in sql:
    name = re.search(r"DB_ID\(N'((?:[^']|'')*)'\)", sql).group(1).replace("''", "'")
    print(1 if name in dbs() else 0)
elif "database_id > 4" in sql:
    for d in sorted(dbs()):
        print(d)
elif "FROM sys.tables" in sql:
    if database in dbs():
        print("dbo\tAlbum")
        print("sales\tOrder Details")
elif "COUNT_BIG" in sql:
    short = database.startswith("dg_verify_") and has("short_counts")
    print("dbo.Album\t347")
    print("sales.Order Details\t%d" % (2155 - (5 if short else 0)))
elif "sys.dm_os_sys_info" in sql:
    print(VERSION + "\t86400\t7\t16777216")
elif "EngineEdition" in sql:
    # "web" stands for an edition misjudged as able to compress: the
    # server's error 1844 is what tells.
    edition = "Express Edition (64-bit)\t4" if has("express") else "Standard Edition (64-bit)\t2" if has("web") else "Developer Edition (64-bit)\t3"
    print(VERSION + "\t" + edition)
"#;

const PASSWORD: &str = "Dg-mssql-s3cret-9931!";

/// A fake `sqlpackage`: Export writes a small ZIP-looking package where
/// `/TargetFile:` points; Import records the SHA-256 of `/SourceFile:`.
const FAKE_SQLPACKAGE: &str = r#"#!/usr/bin/env python3
import hashlib, json, os, sys

state = os.path.join(os.path.dirname(os.path.abspath(__file__)), "state")
opts = {}
for a in sys.argv[1:]:
    key, _, value = a[1:].partition(":")
    opts[key] = value
entry = {"argv": sys.argv[1:], "env": sorted(os.environ)}
if opts.get("Action") == "Export":
    data = b"PK\x03\x04" + hashlib.sha256(b"bacpac").digest() * 40000
    with open(opts["TargetFile"], "wb") as f:
        f.write(data)
    entry["sha256"] = hashlib.sha256(data).hexdigest()
elif opts.get("Action") == "Import":
    with open(opts["SourceFile"], "rb") as f:
        entry["sha256"] = hashlib.sha256(f.read()).hexdigest()
    entry["database"] = opts["TargetDatabaseName"]
else:
    sys.stderr.write("*** Unrecognized action\n")
    sys.exit(1)
with open(os.path.join(state, "sqlpackage.log"), "a") as f:
    f.write(json.dumps(entry) + "\n")
"#;

/// A fake tools directory: `sqlcmd` plus its state.
struct Fake {
    dir: tempfile::TempDir,
}

impl Fake {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let script = dir.path().join("sqlcmd");
        std::fs::write(&script, FAKE_SQLCMD).expect("fake sqlcmd");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let state = dir.path().join("state");
        std::fs::create_dir(&state).expect("state");
        std::fs::write(state.join("password"), PASSWORD).expect("password");
        std::fs::write(state.join("databases"), "shop\n").expect("databases");
        Self { dir }
    }

    /// Adds the fake `sqlpackage` beside the fake `sqlcmd`.
    fn with_sqlpackage(self) -> Self {
        let script = self.dir.path().join("sqlpackage");
        std::fs::write(&script, FAKE_SQLPACKAGE).expect("fake sqlpackage");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        self
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn state(&self, name: &str) -> PathBuf {
        self.dir.path().join("state").join(name)
    }

    fn log(&self, name: &str) -> Vec<Value> {
        std::fs::read_to_string(self.state(name))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("log line"))
            .collect()
    }

    fn raw(&self, name: &str) -> String {
        std::fs::read_to_string(self.state(name)).unwrap_or_default()
    }
}

fn files_in(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|it| {
            it.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

async fn datasource(server: &TestServer, name: &str, config: Value) -> String {
    server
        .post_ok(
            "/api/datasources",
            &json!({"name": name, "type": "sqlserver", "connection_config": config}),
            201,
        )
        .await["id"]
        .as_str()
        .expect("id")
        .to_string()
}

async fn verify(server: &TestServer, backup: &str) -> Value {
    server
        .restore_with(backup, &json!({"verification_mode": true}))
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlserver_through_the_api_with_a_fake_sqlcmd() {
    let fake = Fake::new();
    let shared = tempfile::tempdir().expect("backup dir");
    let backup_dir = shared.path().join("mssql-backup");
    let server = TestServer::start_with_path(Backend::Sqlite, &[fake.path()]).await;
    let config = |database: &str, password: &str| {
        json!({"host": "127.0.0.1", "port": 1433, "database": database, "username": "sa",
               "password": password, "trust_server_certificate": true,
               "host_backup_directory": backup_dir})
    };

    // Bad configurations are refused, naming the field.
    for (bad, field) in [
        (
            json!({"host": "127.0.0.1", "database": "shop", "username": "sa", "password": "x"}),
            "host_backup_directory",
        ),
        (
            json!({"host": "127.0.0.1", "port": "1433", "database": "shop",
                   "host_backup_directory": backup_dir}),
            "port",
        ),
        (
            json!({"host": "127.0.0.1", "database": "shop", "host_backup_directory": backup_dir,
                   "backup_format": "zip"}),
            "backup_format",
        ),
    ] {
        let (status, body) = server
            .post(
                "/api/datasources",
                &json!({"name": "bad", "type": "sqlserver", "connection_config": bad}),
            )
            .await;
        assert!(status.is_client_error(), "{status} {body}");
        let text = body.to_string();
        assert!(text.contains(field), "{field}: {text}");
    }

    let source = datasource(&server, "shop", config("shop", PASSWORD)).await;
    let health = server
        .post_ok(
            &format!("/api/datasources/{source}/test-connection"),
            &json!({}),
            200,
        )
        .await;
    assert_eq!(health["status"], "ok", "{health}");
    assert!(
        health["version"]
            .as_str()
            .is_some_and(|v| v.starts_with("Microsoft SQL Server 2022")),
        "{health}"
    );
    assert_eq!(health["metadata"]["uptime_seconds"], "86400", "{health}");
    assert_eq!(health["metadata"]["active_connections"], "7", "{health}");
    assert_eq!(health["metadata"]["size_bytes"], "16777216", "{health}");

    // Backup: the fake's .bak reaches the storage byte for byte, and the
    // temporary file is gone from the shared directory.
    let (storage, root) = server.local_storage("disk").await;
    let job = server
        .job(
            "mssql",
            &source,
            &storage,
            json!({"backup_options": {"compression": "none"}}),
        )
        .await;
    let exec = server.run_job(&job).await;
    assert_eq!(exec["status"], "completed", "{exec}\n{}", server.log_tail());
    let backups = fake.log("backups.log");
    assert_eq!(backups.len(), 1, "{backups:?}");
    let sql = backups[0]["sql"].as_str().expect("sql");
    assert!(
        sql.starts_with("SET NOCOUNT ON; BACKUP DATABASE [shop] TO DISK = N'")
            && sql.ends_with("' WITH COPY_ONLY, COMPRESSION, CHECKSUM, FORMAT, INIT"),
        "{sql}"
    );
    let written = backups[0]["sha256"].as_str().expect("sha").to_string();
    assert!(
        backups[0]["path"]
            .as_str()
            .is_some_and(|p| p.starts_with(&backup_dir.display().to_string())),
        "{backups:?}"
    );
    assert_eq!(
        files_in(&backup_dir),
        Vec::<String>::new(),
        "the .bak is removed"
    );
    let artifact = walk(&root)
        .into_iter()
        .find(|p| p.file_name().is_some_and(|n| n == "backup.bak"))
        .unwrap_or_else(|| panic!("no backup.bak under {}", root.display()));
    assert_eq!(common::sha256_file(&artifact), written);
    assert_eq!(exec["metadata"]["tables_backed_up"], 2, "{exec}");
    assert_eq!(exec["metadata"]["rows_approximate"], 347 + 2155, "{exec}");
    let id = exec["id"].as_str().expect("id").to_string();

    // Restore into a new database: the fake read exactly the backup's
    // bytes, the files moved under the target's name, the spool removed.
    let target = datasource(&server, "copy", config("shop_copy", PASSWORD)).await;
    let restored = server.restore_into(&id, &target).await;
    assert_eq!(
        restored["status"],
        "completed",
        "{restored}\n{}",
        server.log_tail()
    );
    let restores = fake.log("restores.log");
    assert_eq!(restores.len(), 1, "{restores:?}");
    assert_eq!(restores[0]["database"], "shop_copy");
    assert_eq!(restores[0]["sha256"], written.as_str());
    let sql = restores[0]["sql"].as_str().expect("sql");
    assert!(
        sql.contains("MOVE N'shop' TO N'/var/opt/mssql/data/shop_copy_shop.mdf', MOVE N'shop_log' TO N'/var/opt/mssql/log/shop_copy_shop_log.ldf', RECOVERY")
            && !sql.contains("REPLACE"),
        "{sql}"
    );
    assert_eq!(files_in(&backup_dir), Vec::<String>::new());

    // A restore onto an existing database without drop_existing fails
    // with SQL Server's own message.
    let onto_source = server.restore_into(&id, &source).await;
    assert_eq!(onto_source["status"], "failed", "{onto_source}");
    let message = onto_source["error_message"].as_str().unwrap_or_default();
    assert!(
        message.contains("other than the existing 'shop' database"),
        "{message}"
    );
    // With drop_existing it replaces it.
    let r = server
        .post_ok(
            &format!("/api/backups/{id}/restore"),
            &json!({"target_datasource_id": source, "confirm_overwrite": true, "drop_existing": true}),
            202,
        )
        .await;
    let replaced = server
        .wait_execution(
            r["execution_id"].as_str().expect("id"),
            Duration::from_secs(120),
        )
        .await;
    assert_eq!(
        replaced["status"],
        "completed",
        "{replaced}\n{}",
        server.log_tail()
    );
    let last = fake.log("restores.log").pop().expect("restore");
    assert_eq!(last["database"], "shop");
    assert!(
        last["sql"]
            .as_str()
            .is_some_and(|s| s.contains("DROP DATABASE [shop]") && s.contains("WITH REPLACE, MOVE")),
        "{last}"
    );

    // Verification: passes against the recorded counts, the scratch
    // database is dropped; fails naming the table when a count is short.
    let verified = verify(&server, &id).await;
    assert_eq!(
        verified["status"],
        "completed",
        "{verified}\n{}",
        server.log_tail()
    );
    assert_eq!(
        verified["metadata"]["verification"]["passed"], true,
        "{verified}"
    );
    assert_eq!(
        verified["metadata"]["verification"]["tables_compared"], 2,
        "{verified}"
    );
    let dropped = fake.log("drops.log");
    assert!(
        dropped.iter().any(|d| d["database"]
            .as_str()
            .is_some_and(|n| n.starts_with("dg_verify_"))),
        "{dropped:?}"
    );
    assert!(!fake.raw("databases").contains("dg_verify_"));
    std::fs::write(fake.state("short_counts"), "").expect("short");
    let short = verify(&server, &id).await;
    assert_eq!(short["status"], "failed", "{short}");
    let message = short["error_message"].as_str().unwrap_or_default();
    assert!(
        message.contains("verification failed") && message.contains("sales.Order Details"),
        "{message}"
    );
    assert!(!message.contains("dbo.Album"), "{message}");

    // Editions without backup compression: Express is known and not
    // asked; one that refuses with error 1844 is asked again without.
    let backup_attempts = |fake: &Fake| -> Vec<String> {
        fake.log("argv.log")
            .iter()
            .filter_map(|c| c["argv"].as_array()?.last()?.as_str().map(str::to_string))
            .filter(|q| q.contains("BACKUP DATABASE"))
            .collect()
    };
    for (flag, attempts) in [("express", 1), ("web", 2)] {
        let before = backup_attempts(&fake).len();
        std::fs::write(fake.state(flag), "").expect("flag");
        let exec = server.run_job(&job).await;
        assert_eq!(exec["status"], "completed", "{exec}\n{}", server.log_tail());
        std::fs::remove_file(fake.state(flag)).expect("flag");
        let tried = backup_attempts(&fake)[before..].to_vec();
        assert_eq!(tried.len(), attempts, "{flag}: {tried:?}");
        assert!(
            tried[0].contains("COMPRESSION") == (flag == "web"),
            "{tried:?}"
        );
        let last = fake.log("backups.log").pop().expect("backup");
        let sql = last["sql"].as_str().expect("sql");
        assert!(
            sql.ends_with("WITH COPY_ONLY, CHECKSUM, FORMAT, INIT"),
            "{sql}"
        );
        assert_eq!(files_in(&backup_dir), Vec::<String>::new());
    }

    // Every sqlcmd got the password in its environment, never in argv.
    let calls = fake.log("argv.log");
    assert!(calls.len() > 10, "{calls:?}");
    for call in &calls {
        assert_eq!(call["password_env"], true, "{call}");
        let argv = call["argv"].to_string();
        assert!(!argv.contains(PASSWORD), "password in argv: {argv}");
        assert!(!argv.contains("\"-P\""), "{argv}");
        assert!(argv.starts_with(r#"["-S","tcp:127.0.0.1,1433""#), "{argv}");
        assert!(argv.contains(r#""-C""#), "{argv}");
    }

    // A wrong password: the real "Login failed" is `auth_failed`, and a
    // backup fails with the server's words.
    let bad = datasource(&server, "bad", config("shop", "wrong-password")).await;
    let health = server
        .post_ok(
            &format!("/api/datasources/{bad}/test-connection"),
            &json!({}),
            200,
        )
        .await;
    assert_eq!(health["status"], "auth_failed", "{health}");
    let bad_job = server.job("bad", &bad, &storage, json!({})).await;
    let failed = server.run_job(&bad_job).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    let message = failed["error_message"].as_str().unwrap_or_default();
    assert!(message.contains("Login failed for user 'sa'"), "{message}");
    assert_eq!(files_in(&backup_dir), Vec::<String>::new());

    // The password shows in no log, execution log or error.
    let mut seen = server
        .everything_said(&[
            id.as_str(),
            restored["id"].as_str().expect("id"),
            verified["id"].as_str().expect("id"),
            failed["id"].as_str().expect("id"),
        ])
        .await;
    seen.push_str(
        &server
            .get_ok(&format!("/api/datasources/{source}"))
            .await
            .to_string(),
    );
    assert!(!seen.contains(PASSWORD), "the password leaked");
    assert!(
        seen.contains("BACKUP DATABASE"),
        "the execution logs were read"
    );
}

/// Every file under `dir`.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// `backup_format: bacpac`: sqlpackage exports into the scratch directory
/// and imports on restore, with integrated authentication only; a SQL
/// login is refused rather than put on sqlpackage's command line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlserver_bacpac_with_a_fake_sqlpackage() {
    let fake = Fake::new().with_sqlpackage();
    let server = TestServer::start_with_path(Backend::Sqlite, &[fake.path()]).await;
    let source = datasource(
        &server,
        "shop",
        json!({"host": "127.0.0.1", "database": "shop", "backup_format": "bacpac"}),
    )
    .await;
    let (storage, root) = server.local_storage("disk").await;
    let job = server
        .job(
            "bacpac",
            &source,
            &storage,
            json!({"backup_options": {"compression": "none"}}),
        )
        .await;
    let exec = server.run_job(&job).await;
    assert_eq!(exec["status"], "completed", "{exec}\n{}", server.log_tail());
    assert_eq!(exec["metadata"]["tables_backed_up"], 2, "{exec}");
    let exports = fake.log("sqlpackage.log");
    assert_eq!(exports.len(), 1, "{exports:?}");
    let argv: Vec<&str> = exports[0]["argv"]
        .as_array()
        .expect("argv")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        argv[..3],
        [
            "/Action:Export",
            "/SourceServerName:tcp:127.0.0.1,1433",
            "/SourceDatabaseName:shop"
        ]
    );
    assert!(
        argv.iter()
            .all(|a| !a.contains("Password") && !a.contains("ConnectionString")),
        "{argv:?}"
    );
    let artifact = walk(&root)
        .into_iter()
        .find(|p| p.file_name().is_some_and(|n| n == "backup.bak"))
        .expect("artifact");
    let exported = exports[0]["sha256"].as_str().expect("sha");
    assert_eq!(common::sha256_file(&artifact), exported);

    // Restored by content (a ZIP): imported under the target's name.
    let target = datasource(
        &server,
        "copy",
        json!({"host": "127.0.0.1", "database": "shop_bacpac", "backup_format": "bacpac"}),
    )
    .await;
    let restored = server
        .restore_into(exec["id"].as_str().expect("id"), &target)
        .await;
    assert_eq!(
        restored["status"],
        "completed",
        "{restored}\n{}",
        server.log_tail()
    );
    let import = fake.log("sqlpackage.log").pop().expect("import");
    assert_eq!(import["database"], "shop_bacpac", "{import}");
    assert_eq!(import["sha256"], exported, "{import}");
    assert!(
        import["argv"][0] == "/Action:Import"
            && import["argv"][1] == "/TargetServerName:tcp:127.0.0.1,1433",
        "{import}"
    );
    assert!(
        import["argv"].as_array().is_some_and(|a| a
            .iter()
            .filter_map(Value::as_str)
            .any(|a| a.starts_with("/SourceFile:") && a.ends_with(".bacpac"))),
        "{import}"
    );
    // sqlcmd (version, counts) ran with integrated authentication.
    for call in fake.log("argv.log") {
        let argv = call["argv"].to_string();
        assert!(
            argv.contains(r#""-E""#) && !argv.contains(r#""-U""#),
            "{argv}"
        );
        assert_eq!(call["password_env"], false, "{call}");
    }

    // With a SQL login, bacpac refuses to run: sqlpackage would need the
    // password on its command line.
    let login = datasource(
        &server,
        "login",
        json!({"host": "127.0.0.1", "database": "shop", "backup_format": "bacpac",
               "username": "sa", "password": PASSWORD}),
    )
    .await;
    let job = server.job("login", &login, &storage, json!({})).await;
    let refused = server.run_job(&job).await;
    assert_eq!(refused["status"], "failed", "{refused}");
    let message = refused["error_message"].as_str().unwrap_or_default();
    assert!(
        message.contains("backup_format") && message.contains("command line"),
        "{message}"
    );
    assert_eq!(
        fake.log("sqlpackage.log").len(),
        2,
        "no further sqlpackage ran"
    );
    let seen = server
        .everything_said(&[refused["id"].as_str().expect("id")])
        .await;
    assert!(!seen.contains(PASSWORD), "the password leaked");
}
