//! MongoDB engine against fake `mongodump`, `mongorestore` and `mongosh`
//! (no MongoDB server runs here), over the server API: backup of a few MB
//! through the real pipeline, restore into another database name with the
//! exact bytes the dumper wrote, verification restores that pass and fail
//! by collection, an authentication failure, bad configs, and a password
//! that only ever sits in the files the host writes for the tools.

use crate::common;

use common::server::{Backend, TestServer};
use serde_json::{json, Value};
use std::path::PathBuf;

/// Quotes, a backslash, YAML and JS specials, and our own placeholder.
const PASSWORD: &str = r#"Dg-m0ngo "q" back\slash #: {secret} ü"#;

/// One fake for the three tools, picked by the name it runs under. Its
/// "server" lives in `state/` beside it (the host passes only PATH).
const FAKE: &str = r#"
import hashlib, json, os, re, struct, sys

prog = os.path.basename(sys.argv[0])
args = sys.argv[1:]
state = os.path.join(os.path.dirname(os.path.abspath(sys.argv[0])), "state")

def load(name, default):
    try:
        with open(os.path.join(state, name)) as f:
            return json.load(f)
    except FileNotFoundError:
        return default

def save(name, value):
    with open(os.path.join(state, name), "w") as f:
        json.dump(value, f)

def opt(name):
    for a in args:
        if a.startswith(name + "="):
            return a[len(name) + 1:]
    return None

def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()

secret_file = opt("--config") or opt("--file")
record = {"prog": prog, "argv": args, "file": read(secret_file) if secret_file else None}
with open(os.path.join(state, "calls.jsonl"), "a") as f:
    f.write(json.dumps(record) + "\n")
server = load("server.json", {})
password = read(os.path.join(state, "password"))

def auth_failed_tool():
    sys.stderr.write("2026-11-30T10:11:12.345+0000\tFailed: can't create session: failed to connect to mongodb://127.0.0.1:27017/: connection() error occurred during connection handshake: auth error: sasl conversation error: unable to authenticate using mechanism \"SCRAM-SHA-1\": (AuthenticationFailed) Authentication failed.\n")
    sys.exit(1)

def bson(fields):
    body = b""
    for k, v in fields:
        if isinstance(v, str):
            e = v.encode()
            body += b"\x02" + k.encode() + b"\0" + struct.pack("<i", len(e) + 1) + e + b"\0"
        else:
            body += b"\x10" + k.encode() + b"\0" + struct.pack("<i", v)
    return struct.pack("<i", len(body) + 5) + body + b"\0"

def prelude(stream):
    assert stream.read(4) == struct.pack("<I", 0x8199E26D), "not an archive"
    docs, first = [], True
    while True:
        head = stream.read(4)
        if head == b"\xff\xff\xff\xff":
            return docs
        doc = head + stream.read(struct.unpack("<i", head)[0] - 4)
        if first:
            first = False
            continue
        fields, at = {}, 4
        while doc[at] != 0:
            kind = doc[at]; at += 1
            end = doc.index(b"\0", at); name = doc[at:end].decode(); at = end + 1
            if kind == 2:
                n = struct.unpack("<i", doc[at:at + 4])[0]
                fields[name] = doc[at + 4:at + 3 + n].decode(); at += 4 + n
            else:
                fields[name] = struct.unpack("<i", doc[at:at + 4])[0]; at += 4
        docs.append(fields)

def tool_password():
    if secret_file is None:
        return None
    text = read(secret_file)
    m = re.fullmatch(r'password: (".*")\n', text, re.S)
    assert m, text
    return json.loads(m.group(1), strict=False)

if prog == "mongodump":
    if load("mode.json", "") == "auth_fail" or tool_password() != password:
        auth_failed_tool()
    db = opt("--db")
    assert "--archive" in args
    colls = server.get(db, {})
    out = struct.pack("<I", 0x8199E26D)
    out += bson([("version", "0.1"), ("server_version", "7.0.5"), ("tool_version", "100.9.4")])
    for c, n in sorted(colls.items()):
        out += bson([("db", db), ("collection", c), ("metadata", json.dumps({"count": n})), ("size", n)])
    out += b"\xff\xff\xff\xff"
    # A few MB: text that compresses and hashes that do not.
    h = hashlib.sha256(db.encode()).digest()
    for i in range(24000):
        h = hashlib.sha256(h).digest()
        out += (b"{\"_id\": %d, \"name\": \"customer\", \"h\": \"" % i) + h.hex().encode() + b"\"}\n" + h * 2
    with open(os.path.join(state, "dumped.bin"), "wb") as f:
        f.write(out)
    for i in range(0, len(out), 65536):
        sys.stdout.buffer.write(out[i:i + 65536])
    sys.stdout.flush()
    sys.stderr.write("2026-11-30T10:11:12.345+0000\tdone dumping %s\n" % db)

elif prog == "mongorestore":
    if tool_password() != password:
        auth_failed_tool()
    data = sys.stdin.buffer.read()
    import io
    docs = prelude(io.BytesIO(data))
    src = docs[0]["db"] if docs else None
    dst = src
    ns_from, ns_to = opt("--nsFrom"), opt("--nsTo")
    if ns_from is not None:
        assert ns_from == src + ".*", (ns_from, src)
        dst = ns_to[:-2]
    with open(os.path.join(state, "restored-%s.bin" % dst), "wb") as f:
        f.write(data)
    short = load("short.json", None)
    target = {} if "--drop" in args else server.get(dst, {})
    for d in docs:
        n = json.loads(d["metadata"])["count"]
        target[d["collection"]] = n - 1 if d["collection"] == short and dst != src else n
    server[dst] = target
    save("server.json", server)

elif prog == "mongosh":
    assert args[:3] == ["--nodb", "--quiet", "--norc"], args
    script = read(secret_file) if secret_file else args[args.index("--eval") + 1]
    dec = json.JSONDecoder()
    def literal_after(marker, start=0):
        at = script.index(marker, start) + len(marker)
        value, end = dec.raw_decode(script, at)
        return value, end
    m = script.find(".auth(")
    if m >= 0:
        user, end = literal_after(".auth(", m - 1)
        given, _ = dec.raw_decode(script, end + 2)
        if given != password:
            sys.stderr.write("MongoServerError: Authentication failed.\n")
            sys.exit(1)
    db, _ = literal_after("const dgDb = dgConn.getDB(")
    def answer(v):
        print("DG\t" + json.dumps(v))
    if "listDatabases" in script:
        answer(sorted(list(server.keys()) + ["admin", "config", "local"]))
    elif "dropDatabase" in script:
        at = script.rindex("dgConn.getDB(", 0, script.index("dropDatabase"))
        name, _ = literal_after("dgConn.getDB(", at)
        server.pop(name, None)
        save("server.json", server)
        answer(True)
    elif "countDocuments" in script:
        colls = server.get(db, {})
        answer({"version": "7.0.5", "counts": [[c, n] for c, n in sorted(colls.items()) if not c.startswith("system.")]})
    elif "serverStatus" in script:
        answer({"version": "7.0.5", "uptime_seconds": 3600, "active_connections": 4, "size_bytes": 123456})
    else:
        sys.stderr.write("unknown script\n")
        sys.exit(2)
else:
    sys.exit("unknown tool " + prog)
"#;

/// A directory with the three fakes and their state.
struct Fakes {
    dir: tempfile::TempDir,
}

impl Fakes {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        // The host clears the environment: name the interpreter exactly.
        let python = std::process::Command::new("python3")
            .args(["-c", "import sys; print(sys.executable)"])
            .output()
            .expect("python3");
        let python = String::from_utf8_lossy(&python.stdout).trim().to_string();
        let script = format!("#!{python}\n{FAKE}");
        for tool in ["mongodump", "mongorestore", "mongosh"] {
            let path = dir.path().join(tool);
            std::fs::write(&path, &script).expect("fake");
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        std::fs::create_dir(dir.path().join("state")).expect("state");
        let fakes = Self { dir };
        std::fs::write(fakes.state("password"), PASSWORD).expect("password");
        fakes.set(
            "server.json",
            json!({"shop": {"orders": 1200, "users": 35, "system.profile": 3}}),
        );
        fakes
    }

    fn state(&self, name: &str) -> PathBuf {
        self.dir.path().join("state").join(name)
    }

    fn set(&self, name: &str, value: Value) {
        std::fs::write(self.state(name), value.to_string()).expect("state file");
    }

    fn server(&self) -> Value {
        serde_json::from_str(&std::fs::read_to_string(self.state("server.json")).expect("server"))
            .expect("json")
    }

    /// Every recorded call: program, argv and the secret file's content.
    fn calls(&self) -> Vec<Value> {
        std::fs::read_to_string(self.state("calls.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("call"))
            .collect()
    }
}

async fn datasource(server: &TestServer, name: &str, database: &str) -> String {
    server
        .post_ok(
            "/api/datasources",
            &json!({"name": name, "type": "mongodb", "connection_config": {
                "host": "127.0.0.1", "port": 27017, "database": database,
                "username": "backup", "password": PASSWORD}}),
            201,
        )
        .await["id"]
        .as_str()
        .expect("id")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mongodb_through_the_api_with_fake_tools() {
    let fakes = Fakes::new();
    let server = TestServer::start_with_path(Backend::Sqlite, &[fakes.dir.path()]).await;

    // Bad configurations are refused naming the field.
    for (config, field) in [
        (
            json!({"uri": "mongodb://backup:pw@db.lan/", "database": "shop"}),
            "uri",
        ),
        (json!({"database": "shop"}), "host"),
        (json!({"host": "db.lan", "database": "a.b"}), "database"),
    ] {
        let (status, body) = server
            .post(
                "/api/datasources",
                &json!({"name": "bad", "type": "mongodb", "connection_config": config}),
            )
            .await;
        assert!(status.is_client_error(), "{config}: {status} {body}");
        assert!(body.to_string().contains(field), "{config}: {body}");
    }

    let source = datasource(&server, "shop", "shop").await;
    let health = server
        .post_ok(
            &format!("/api/datasources/{source}/test-connection"),
            &json!({}),
            200,
        )
        .await;
    assert_eq!(health["status"], "ok", "{health}");
    assert!(health.to_string().contains("7.0.5"), "{health}");
    let dbs = server
        .get_ok(&format!("/api/datasources/{source}/databases"))
        .await;
    assert_eq!(
        dbs["data"],
        json!(["shop"]),
        "the server's own databases are left out"
    );

    // Backup: a few MB through compression, storage and checksums.
    let (storage, _) = server.local_storage("disk").await;
    let job = server
        .job(
            "mongo",
            &source,
            &storage,
            json!({"backup_options": {"compression": "zstd"}}),
        )
        .await;
    let exec = server.run_job(&job).await;
    assert_eq!(exec["status"], "completed", "{exec}\n{}", server.log_tail());
    assert_eq!(exec["metadata"]["tables_backed_up"], 2, "{exec}");
    assert_eq!(exec["metadata"]["rows_approximate"], 1235, "{exec}");
    let dumped = common::sha256_file(&fakes.state("dumped.bin"));
    assert!(
        std::fs::metadata(fakes.state("dumped.bin"))
            .expect("dump")
            .len()
            > 3_000_000
    );
    let id = exec["id"].as_str().expect("id").to_string();

    // Restore into another database name: the exact bytes, renamed.
    let copy = datasource(&server, "copy", "shop_copy").await;
    let restored = server
        .restore_with(
            &id,
            &json!({"target_datasource_id": copy, "confirm_overwrite": true, "drop_existing": true}),
        )
        .await;
    assert_eq!(
        restored["status"],
        "completed",
        "{restored}\n{}",
        server.log_tail()
    );
    assert_eq!(
        common::sha256_file(&fakes.state("restored-shop_copy.bin")),
        dumped
    );
    assert_eq!(
        fakes.server()["shop_copy"],
        json!({"orders": 1200, "users": 35, "system.profile": 3})
    );
    let last_restore = fakes
        .calls()
        .into_iter()
        .rfind(|c| c["prog"] == "mongorestore")
        .expect("mongorestore ran");
    let argv: Vec<&str> = last_restore["argv"]
        .as_array()
        .expect("argv")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for wanted in [
        "--archive",
        "--stopOnError",
        "--drop",
        "--nsFrom=shop.*",
        "--nsTo=shop_copy.*",
        "--username=backup",
        "--authenticationDatabase=admin",
    ] {
        assert!(argv.contains(&wanted), "{wanted} in {argv:?}");
    }

    // Verification into a scratch database passes, and the scratch
    // database is dropped afterwards.
    let verified = server
        .restore_with(&id, &json!({"verification_mode": true}))
        .await;
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
    let left: Vec<String> = fakes
        .server()
        .as_object()
        .expect("server")
        .keys()
        .filter(|k| k.starts_with("dg_verify_"))
        .cloned()
        .collect();
    assert!(left.is_empty(), "scratch databases left: {left:?}");

    // A restore that comes up one document short fails, naming the collection.
    fakes.set("short.json", json!("orders"));
    let failed = server
        .restore_with(&id, &json!({"verification_mode": true}))
        .await;
    assert_eq!(failed["status"], "failed", "{failed}");
    let why = failed["error_message"].as_str().unwrap_or_default();
    assert!(
        why.contains("orders: 1199 rows restored, 1200 recorded"),
        "{failed}"
    );
    assert!(!why.contains("users"), "{why}");
    std::fs::remove_file(fakes.state("short.json")).expect("short");

    // A dumper that cannot authenticate: the execution fails with its words.
    fakes.set("mode.json", json!("auth_fail"));
    let bad = server.run_job(&job).await;
    assert_eq!(bad["status"], "failed", "{bad}");
    let why = bad["error_message"].as_str().unwrap_or_default();
    assert!(why.contains("Authentication failed"), "{bad}");
    std::fs::remove_file(fakes.state("mode.json")).expect("mode");

    // The password: in every tool's secret file, escaped for its format,
    // and nowhere else.
    let calls = fakes.calls();
    let yaml = format!(
        "password: \"{}\"\n",
        PASSWORD.replace('\\', "\\\\").replace('"', "\\\"")
    );
    for call in &calls {
        let argv = call["argv"].to_string();
        assert!(
            !argv.contains("m0ngo"),
            "password on a command line: {call}"
        );
        match call["prog"].as_str() {
            Some("mongodump" | "mongorestore") => {
                assert_eq!(call["file"].as_str(), Some(yaml.as_str()), "{call}");
                assert!(argv.contains("--config="), "{call}");
            }
            Some("mongosh") => {
                let file = call["file"].as_str().expect("mongosh read a script file");
                assert!(
                    file.contains(&format!(
                        "\"{}\"",
                        PASSWORD.replace('\\', "\\\\").replace('"', "\\\"")
                    )),
                    "{file}"
                );
            }
            other => panic!("unexpected program {other:?}"),
        }
    }
    assert!(calls.iter().any(|c| c["prog"] == "mongosh"));
    let mut seen = server
        .everything_said(&[
            &id,
            restored["id"].as_str().expect("id"),
            verified["id"].as_str().expect("id"),
            failed["id"].as_str().expect("id"),
            bad["id"].as_str().expect("id"),
        ])
        .await;
    seen.push_str(
        &server
            .get_ok(&format!("/api/datasources/{source}"))
            .await
            .to_string(),
    );
    assert!(!seen.contains("m0ngo"), "the password leaked");
}
