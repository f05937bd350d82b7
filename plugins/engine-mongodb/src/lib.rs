//! MongoDB engine (type `mongodb`): `mongodump --archive` out,
//! `mongorestore --archive` in, `mongosh` for health, listing, counts and
//! scratch databases. The dump's bytes go from the dumper's stdout to the
//! sink host-side. The password reaches the tools in files the host
//! writes (a YAML `--config` file for the database tools, a connecting
//! script for mongosh); the plugin never holds it.
//!
//! A restore first spools the artifact into the call's scratch directory:
//! the host ends the stream cleanly only after every checksum matched, and
//! mongorestore writes collection by collection as it reads, so nothing
//! reaches the server before the whole artifact is known good.

use dataguardian_plugin_sdk::health::{self, kv};
use dataguardian_plugin_sdk::process::{Child, Command};
use dataguardian_plugin_sdk::{
    config, empty_stats, export_engine, fs, io, log, BackupStats, CallContext, Engine,
    HealthReport, InputStream, OutputStream, PluginError, PluginInfo, PluginKind, PluginResult,
    TableCount,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::io::Read;
use std::time::Instant;

/// Environment variable (and `{secret-file:…}` name) of the tools' YAML
/// configuration file holding the password.
const TOOL_SECRET: &str = "DG_MONGOCFG";
/// Same for mongosh's connecting script.
const SHELL_SECRET: &str = "DG_MONGOJS";
/// Marks the lines of mongosh output that carry our JSON answer, so
/// banners, warnings or an echoed `--eval` result are never parsed.
const MARK: &str = "DG\t";

#[derive(Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    port: Option<u16>,
    database: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    auth_database: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    uri: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    tls: bool,
}

const DEFAULT_PORT: u16 = 27017;
const DEFAULT_AUTH_DB: &str = "admin";

/// A database name that is safe as an argument and in a namespace
/// pattern: letters, digits, `_`, `-` (MongoDB also forbids `/\. "$`).
fn check_name(field: &str, name: &str) -> PluginResult<()> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && !name.starts_with('-')
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(invalid(
            field,
            &format!("`{name}` must be 1-63 letters, digits, `_` or `-`"),
        ))
    }
}

fn invalid(field: &str, why: &str) -> PluginError {
    PluginError::InvalidConfig(format!("{field}: {why}"))
}

/// What a connection URI holds that matters to us.
#[derive(Debug, PartialEq)]
struct UriParts {
    has_auth_source: bool,
}

/// Checks a `mongodb://` / `mongodb+srv://` URI: it is stored and shown
/// like any non-secret field, so it must not carry credentials; the
/// database comes from `database`.
fn check_uri(uri: &str, database: &str) -> PluginResult<UriParts> {
    let rest = uri
        .strip_prefix("mongodb://")
        .or_else(|| uri.strip_prefix("mongodb+srv://"))
        .ok_or_else(|| invalid("uri", "must start with mongodb:// or mongodb+srv://"))?;
    if uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid(
            "uri",
            "must not contain spaces or control characters",
        ));
    }
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    if let Some((userinfo, _)) = authority.rsplit_once('@') {
        return Err(if userinfo.contains(':') {
            invalid(
                "uri",
                "must not contain a password (user:password@): it would be stored and shown in \
                 clear; set `username` and `password` instead",
            )
        } else {
            invalid(
                "uri",
                "must not contain a user name (user@); set `username` instead",
            )
        });
    }
    if authority.is_empty() || authority.starts_with('-') {
        return Err(invalid("uri", "names no host"));
    }
    let (path, query) = match tail.split_once('?') {
        Some((p, q)) => (p, q),
        None => (tail, ""),
    };
    let path_db = path.trim_start_matches('/');
    if !path_db.is_empty() && path_db != database {
        return Err(invalid(
            "uri",
            &format!(
                "names database `{path_db}`; leave it out, the database comes from `database`"
            ),
        ));
    }
    let mut has_auth_source = false;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let key = pair.split_once('=').map_or(pair, |(k, _)| k);
        if key.eq_ignore_ascii_case("authSource") {
            has_auth_source = true;
        }
        if key.eq_ignore_ascii_case("password") {
            return Err(invalid("uri", "must not contain a password"));
        }
    }
    Ok(UriParts { has_auth_source })
}

fn check_host(host: &str) -> PluginResult<()> {
    let ok = !host.is_empty()
        && !host.starts_with('-')
        && host.bytes().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_' | b':' | b'[' | b']' | b'%')
        });
    if ok {
        Ok(())
    } else {
        Err(invalid("host", "must be a host name or address"))
    }
}

impl config::Checked for Config {
    fn check(&self) -> PluginResult<()> {
        check_name("database", &self.database)?;
        if let Some(db) = &self.auth_database {
            check_name("auth_database", db)?;
        }
        if let Some(user) = &self.username {
            if user.is_empty() || user.starts_with('-') || user.chars().any(char::is_control) {
                return Err(invalid(
                    "username",
                    "must be a non-empty name without control characters",
                ));
            }
        }
        match (&self.uri, &self.host) {
            (Some(_), Some(_)) => Err(invalid(
                "host",
                "leave it out when `uri` is set (the URI names the hosts)",
            )),
            (None, None) => Err(invalid("host", "required (or give a `uri`)")),
            (None, Some(host)) => check_host(host),
            (Some(uri), None) => {
                let parts = check_uri(uri, &self.database)?;
                if self.port.is_some() {
                    return Err(invalid("port", "leave it out when `uri` is set"));
                }
                if self.tls {
                    return Err(invalid("tls", "set `tls=true` in the uri instead"));
                }
                if parts.has_auth_source && self.auth_database.is_some() {
                    return Err(invalid(
                        "auth_database",
                        "the uri already sets authSource; keep one of them",
                    ));
                }
                Ok(())
            }
        }
    }
}

impl Config {
    /// The user to authenticate as, when the call holds a password; an
    /// error when only one of the two is given (mongodump would prompt).
    fn login(&self, with_password: bool) -> PluginResult<Option<&str>> {
        match (self.username.as_deref(), with_password) {
            (Some(user), true) => Ok(Some(user)),
            (None, false) => Ok(None),
            (Some(_), false) => Err(invalid("password", "required when `username` is set")),
            (None, true) => Err(invalid("username", "required when a password is set")),
        }
    }

    /// The authentication database to name, unless the URI names one.
    fn auth_source(&self) -> Option<&str> {
        let in_uri = self
            .uri
            .as_deref()
            .and_then(|u| check_uri(u, &self.database).ok())
            .is_some_and(|p| p.has_auth_source);
        if in_uri {
            None
        } else {
            Some(self.auth_database.as_deref().unwrap_or(DEFAULT_AUTH_DB))
        }
    }

    /// Connection options of mongodump / mongorestore (no password).
    fn connection_args(&self, with_password: bool) -> PluginResult<Vec<String>> {
        let mut args = Vec::new();
        match (&self.uri, &self.host) {
            (Some(uri), _) => args.push(format!("--uri={uri}")),
            (None, Some(host)) => {
                args.push(format!("--host={host}"));
                args.push(format!("--port={}", self.port.unwrap_or(DEFAULT_PORT)));
            }
            (None, None) => return Err(invalid("host", "required (or give a `uri`)")),
        }
        if let Some(user) = self.login(with_password)? {
            args.push(format!("--username={user}"));
            if let Some(source) = self.auth_source() {
                args.push(format!("--authenticationDatabase={source}"));
            }
        }
        if self.tls {
            args.push("--ssl".into());
        }
        Ok(args)
    }

    /// mongodump's arguments: the archive on stdout, one database.
    fn dump_args(&self, with_password: bool) -> PluginResult<Vec<String>> {
        let mut args = config_arg(with_password);
        args.push("--archive".into());
        args.push(format!("--db={}", self.database));
        args.extend(self.connection_args(with_password)?);
        Ok(args)
    }

    /// mongorestore's arguments: the archive on stdin, stop at the first
    /// error (a duplicate key must not pass as a restore), `--drop` on
    /// request, and the dumped database renamed to the configured one.
    fn restore_args(
        &self,
        with_password: bool,
        drop: bool,
        source_db: Option<&str>,
    ) -> PluginResult<Vec<String>> {
        let mut args = config_arg(with_password);
        args.push("--archive".into());
        args.push("--stopOnError".into());
        args.extend(self.connection_args(with_password)?);
        if drop {
            args.push("--drop".into());
        }
        if let Some(src) = source_db.filter(|s| *s != self.database) {
            args.push(format!("--nsFrom={}.*", escape_ns(src)));
            args.push(format!("--nsTo={}.*", self.database));
        }
        Ok(args)
    }

    /// The connection string mongosh connects with (no credentials).
    fn shell_uri(&self) -> String {
        match (&self.uri, &self.host) {
            (Some(uri), _) => uri.clone(),
            (None, host) => {
                let host = host.as_deref().unwrap_or("localhost");
                let host = if host.contains(':') && !host.starts_with('[') {
                    format!("[{host}]")
                } else {
                    host.to_string()
                };
                let tls = if self.tls { "&tls=true" } else { "" };
                format!(
                    "mongodb://{host}:{}/?directConnection=true&serverSelectionTimeoutMS=10000{tls}",
                    self.port.unwrap_or(DEFAULT_PORT)
                )
            }
        }
    }

    /// A mongosh script that connects, authenticates (with the password
    /// as `{secret}` for the host to fill) and runs `body`, which may use
    /// `dgConn` (the connection) and `dgDb` (the configured database).
    fn shell_script(&self, with_password: bool, body: &str) -> PluginResult<String> {
        let mut js = format!(
            "const dgConn = new Mongo({});\n",
            js_string(&self.shell_uri())
        );
        if let Some(user) = self.login(with_password)? {
            // Where mongodump would authenticate: ours, or the URI's own.
            let source = self
                .auth_source()
                .or_else(|| uri_auth_source(self.uri.as_deref().unwrap_or_default()))
                .unwrap_or(DEFAULT_AUTH_DB);
            js.push_str(&format!(
                "dgConn.getDB({}).auth({}, \"{{secret}}\");\n",
                js_string(source),
                js_string(user)
            ));
        }
        js.push_str(&format!(
            "const dgDb = dgConn.getDB({});\n",
            js_string(&self.database)
        ));
        js.push_str(body);
        Ok(js)
    }

    /// mongosh's arguments for `body`; the script itself is the secret
    /// file's template when there is a password.
    fn shell_args(&self, with_password: bool, body: &str) -> PluginResult<(Vec<String>, String)> {
        let script = self.shell_script(with_password, body)?;
        let mut args: Vec<String> = ["--nodb", "--quiet", "--norc"].map(String::from).to_vec();
        if with_password {
            args.push(format!("--file={{secret-file:{SHELL_SECRET}}}"));
        } else {
            args.push("--eval".into());
            args.push(script.clone());
        }
        Ok((args, script))
    }

    /// A mongosh process running `body`.
    fn shell(&self, ctx: &CallContext, body: &str) -> PluginResult<Command> {
        let with_password = config::has_secret(ctx, "password");
        let (args, script) = self.shell_args(with_password, body)?;
        let cmd = Command::new("mongosh").args(args);
        Ok(if with_password {
            // JS double-quoted string: the host escapes `"` and `\`;
            // line breaks are refused by the host for such templates.
            cmd.secret_file(SHELL_SECRET, "password", &script, "\"")
        } else {
            cmd
        })
    }

    /// Runs `body` in mongosh and returns the JSON it printed.
    fn eval(&self, ctx: &CallContext, body: &str) -> PluginResult<Value> {
        let out = self.shell(ctx, body)?.output().map_err(classify)?;
        parse_answer(&out)
    }

    /// mongodump or mongorestore with `args`; the password, if any, in a
    /// host-written YAML file named by the first argument.
    fn tool(&self, ctx: &CallContext, program: &str, args: Vec<String>) -> Command {
        let cmd = Command::new(program).args(args);
        if config::has_secret(ctx, "password") {
            // YAML double-quoted scalar: `\"` and `\\` are its escapes.
            cmd.secret_file(TOOL_SECRET, "password", "password: \"{secret}\"\n", "\"")
        } else {
            cmd
        }
    }

    /// Starts counting every collection's documents in a mongosh of its
    /// own, so the server counts while the dump runs.
    fn start_counting(&self, ctx: &CallContext) -> PluginResult<Counting> {
        let child = self.shell(ctx, COUNTS_JS)?.piped_stdout().spawn()?;
        Ok(Counting { child })
    }

    fn counts(&self, ctx: &CallContext) -> PluginResult<(Option<String>, Vec<TableCount>)> {
        parse_counts(&self.eval(ctx, COUNTS_JS)?)
    }
}

/// `--config=…` naming the password file, when there is a password.
fn config_arg(with_password: bool) -> Vec<String> {
    if with_password {
        vec![format!("--config={{secret-file:{TOOL_SECRET}}}")]
    } else {
        Vec::new()
    }
}

/// `authSource` of a connection string, if it names one.
fn uri_auth_source(uri: &str) -> Option<&str> {
    let query = uri.split_once('?')?.1;
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        k.eq_ignore_ascii_case("authSource").then_some(v)
    })
}

/// A namespace part for `--nsFrom`: mongorestore reads `*` as a wildcard
/// and `\` as its escape.
fn escape_ns(name: &str) -> String {
    name.replace('\\', "\\\\").replace('*', "\\*")
}

/// A JS string literal. Everything but plain ASCII is `\uXXXX`-escaped,
/// so no value can close the literal, break the line, or hold the
/// `{secret}` placeholder the host fills.
fn js_string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for unit in value.encode_utf16() {
        let plain = unit < 0x80 && {
            let c = unit as u8;
            c.is_ascii_alphanumeric() || b" ._-:/?=&@%+,[]()!~*'#;".contains(&c)
        };
        if plain {
            out.push(unit as u8 as char);
        } else {
            out.push_str(&format!("\\u{unit:04x}"));
        }
    }
    out.push('"');
    out
}

/// The answer line of a mongosh run (the last one marked).
fn parse_answer(out: &str) -> PluginResult<Value> {
    let line = out
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix(MARK))
        .ok_or_else(|| {
            PluginError::Failed(format!(
                "mongosh printed no answer: {}",
                out.trim().chars().take(300).collect::<String>()
            ))
        })?;
    serde_json::from_str(line)
        .map_err(|e| PluginError::Failed(format!("unexpected mongosh answer `{line}`: {e}")))
}

/// Server version and exact documents per collection, `system.*` and
/// views left out (they hold no documents of their own).
const COUNTS_JS: &str = r#"const dgNames = dgDb.getCollectionInfos({ type: "collection" }, { nameOnly: true })
  .map((c) => c.name).filter((n) => !n.startsWith("system.")).sort();
const dgCounts = dgNames.map((n) => [n, Number(dgDb.getCollection(n).countDocuments({}))]);
print("DG\t" + JSON.stringify({ version: dgDb.version(), counts: dgCounts }));
"#;

/// Ping, version, and what serverStatus / dbStats tell when the user may
/// run them (a backup-only role may not: then they are left out).
const HEALTH_JS: &str = r#"dgDb.runCommand({ ping: 1 });
const dgOut = { version: dgDb.version() };
try {
  const s = dgDb.adminCommand({ serverStatus: 1 });
  dgOut.uptime_seconds = Number(s.uptime);
  dgOut.active_connections = Number(s.connections.current);
} catch (e) {}
try {
  const st = dgDb.runCommand({ dbStats: 1 });
  dgOut.size_bytes = Number(st.storageSize) + Number(st.indexSize);
} catch (e) {}
print("DG\t" + JSON.stringify(dgOut));
"#;

const LIST_JS: &str = r#"const dgList = dgDb.adminCommand({ listDatabases: 1, nameOnly: true, authorizedDatabases: true });
print("DG\t" + JSON.stringify(dgList.databases.map((d) => d.name)));
"#;

fn drop_js(name: &str) -> String {
    format!(
        "dgConn.getDB({}).dropDatabase();\nprint(\"DG\\t\" + JSON.stringify(true));\n",
        js_string(name)
    )
}

fn parse_counts(v: &Value) -> PluginResult<(Option<String>, Vec<TableCount>)> {
    let version = v["version"].as_str().map(str::to_string);
    let rows = v["counts"]
        .as_array()
        .ok_or_else(|| PluginError::Failed(format!("unexpected counts `{v}`")))?;
    let counts = rows
        .iter()
        .map(|row| match (row[0].as_str(), row[1].as_u64()) {
            (Some(name), Some(rows)) => Ok(TableCount {
                name: name.to_string(),
                rows,
            }),
            _ => Err(PluginError::Failed(format!("unexpected count `{row}`"))),
        })
        .collect::<PluginResult<Vec<_>>>()?;
    Ok((version, counts))
}

/// Counting under way in its own mongosh.
struct Counting {
    child: Child,
}

impl Counting {
    fn finish(self) -> PluginResult<(Option<String>, Vec<TableCount>)> {
        let mut text = String::new();
        if let Some(stdout) = self.child.take_stdout() {
            io::StreamReader::new(&stdout)
                .read_to_string(&mut text)
                .map_err(|e| PluginError::Failed(format!("reading the counts: {e}")))?;
        }
        self.child.wait_success().map_err(classify)?;
        parse_counts(&parse_answer(&text)?)
    }
}

/// Gives a tool failure the kind that tells the operator what to fix,
/// from the texts mongodump / mongorestore (Go driver) and mongosh (Node
/// driver) print.
fn classify(e: PluginError) -> PluginError {
    let PluginError::Failed(msg) = e else {
        return e;
    };
    let m = msg.to_lowercase();
    if m.contains("authentication failed") || m.contains("authenticationfailed") {
        PluginError::AuthFailed(msg)
    } else if m.contains("not authorized") || m.contains("unauthorized") {
        PluginError::PermissionDenied(msg)
    } else if m.contains("server selection")
        || m.contains("connection refused")
        || m.contains("econnrefused")
        || m.contains("no reachable servers")
        || m.contains("no such host")
        || m.contains("enotfound")
        || m.contains("could not connect")
    {
        PluginError::Unreachable(msg)
    } else if m.contains("timed out") || m.contains("timeout") || m.contains("deadline exceeded") {
        PluginError::Timeout(msg)
    } else {
        PluginError::Failed(msg)
    }
}

/// The databases a mongodump archive holds, from its prelude (magic
/// number, header document, one document per collection, terminator);
/// the data after it is not read.
fn archive_databases(input: &mut dyn Read) -> PluginResult<Vec<String>> {
    let bad =
        |why: &str| PluginError::Failed(format!("the artifact is not a mongodump archive: {why}"));
    let mut word = [0u8; 4];
    input
        .read_exact(&mut word)
        .map_err(|e| bad(&format!("reading its start: {e}")))?;
    if u32::from_le_bytes(word) != 0x8199_e26d {
        return Err(bad("wrong magic number"));
    }
    let mut dbs: Vec<String> = Vec::new();
    let mut first = true;
    loop {
        input
            .read_exact(&mut word)
            .map_err(|e| bad(&format!("reading its prelude: {e}")))?;
        if word == [0xff; 4] {
            return Ok(dbs);
        }
        let len = i32::from_le_bytes(word);
        // A BSON document is at most 16 MiB.
        if !(5..=16 * 1024 * 1024 + 16 * 1024).contains(&len) {
            return Err(bad(&format!("a prelude document of {len} bytes")));
        }
        let mut doc = vec![0u8; len as usize];
        doc[..4].copy_from_slice(&word);
        input
            .read_exact(&mut doc[4..])
            .map_err(|e| bad(&format!("reading its prelude: {e}")))?;
        if first {
            first = false;
            continue;
        }
        let db = bson_string(&doc, "db").ok_or_else(|| bad("a collection entry without `db`"))?;
        // The oplog of `--oplog` dumps sits in the "" database.
        if !db.is_empty() && !dbs.contains(&db) {
            dbs.push(db);
        }
    }
}

/// The string field `key` at the top level of a BSON document.
fn bson_string(doc: &[u8], key: &str) -> Option<String> {
    let mut at = 4;
    while at < doc.len() {
        let kind = doc[at];
        if kind == 0 {
            return None;
        }
        at += 1;
        let name_end = at + doc.get(at..)?.iter().position(|b| *b == 0)?;
        let name = &doc[at..name_end];
        at = name_end + 1;
        let int_at = |p: usize| -> Option<usize> {
            let b = doc.get(p..p + 4)?;
            usize::try_from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])).ok()
        };
        let size = match kind {
            0x01 | 0x09 | 0x11 | 0x12 => 8,
            0x02 | 0x0D | 0x0E => {
                let n = int_at(at)?;
                if kind == 0x02 && name == key.as_bytes() {
                    let text = doc.get(at + 4..at + 4 + n.checked_sub(1)?)?;
                    return String::from_utf8(text.to_vec()).ok();
                }
                4 + n
            }
            0x03 | 0x04 => int_at(at)?,
            0x05 => 5 + int_at(at)?,
            0x07 => 12,
            0x08 => 1,
            0x0A | 0x06 | 0x7F | 0xFF => 0,
            0x10 => 4,
            0x13 => 16,
            _ => return None,
        };
        at = at.checked_add(size)?;
    }
    None
}

struct MongoDb;

impl Engine for MongoDb {
    fn info() -> PluginInfo {
        PluginInfo {
            id: "mongodb".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind: PluginKind::Engine,
            provides: vec!["mongodb".into()],
            artifact_format: Some("archive".into()),
            description: "MongoDB through mongodump / mongorestore (archive) and mongosh".into(),
            config_schema: r#"{"type":"object","required":["database"],"additionalProperties":false,"properties":{"host":{"type":"string","description":"host name or address; or give `uri`"},"port":{"type":"integer","default":27017,"minimum":1,"maximum":65535},"uri":{"type":"string","pattern":"^mongodb(\\+srv)?://","description":"a connection string instead of host/port, without credentials"},"database":{"type":"string","pattern":"^[A-Za-z0-9_][A-Za-z0-9_-]{0,62}$"},"username":{"type":"string"},"password":{"type":"string","writeOnly":true},"auth_database":{"type":"string","default":"admin"},"tls":{"type":"boolean","default":false}}}"#.into(),
        }
    }

    fn validate_config(text: &str) -> PluginResult<()> {
        config::validate::<Config>(text)
    }

    fn health_check(ctx: &CallContext) -> HealthReport {
        let started = Instant::now();
        let outcome = config::load::<Config>(ctx).and_then(|cfg| {
            let v = cfg.eval(ctx, HEALTH_JS)?;
            let meta = ["uptime_seconds", "active_connections", "size_bytes"]
                .iter()
                .filter_map(|key| v[*key].as_f64().map(|n| kv(key, n as u64)))
                .collect();
            Ok((v["version"].as_str().map(str::to_string), meta))
        });
        health::report(started, outcome)
    }

    /// User databases; `admin`, `local` and `config` are the server's own.
    fn list_databases(ctx: &CallContext) -> PluginResult<Vec<String>> {
        let cfg = config::load::<Config>(ctx)?;
        let v = cfg.eval(ctx, LIST_JS)?;
        let names = v
            .as_array()
            .ok_or_else(|| PluginError::Failed(format!("unexpected database list `{v}`")))?;
        Ok(names
            .iter()
            .filter_map(Value::as_str)
            .filter(|n| !matches!(*n, "admin" | "local" | "config"))
            .map(str::to_string)
            .collect())
    }

    /// Counts are taken while the dump runs, in a mongosh of their own:
    /// mongodump reads each collection at its own moment (no snapshot
    /// across collections; `--oplog` would need a replica set and a
    /// whole-server dump), so they are exact but not the dump's own
    /// (`counts-consistent` is false).
    fn backup(ctx: &CallContext, sink: &OutputStream) -> PluginResult<BackupStats> {
        let cfg = config::load::<Config>(ctx)?;
        let with_password = config::has_secret(ctx, "password");
        let counting = cfg.start_counting(ctx)?;
        let child = cfg
            .tool(ctx, "mongodump", cfg.dump_args(with_password)?)
            .piped_stdout()
            .spawn()?;
        let stdout = child
            .take_stdout()
            .ok_or_else(|| PluginError::Failed("mongodump has no stdout".into()))?;
        let moved = io::pipe(&stdout, sink);
        drop(stdout);
        if let Err(e) = moved {
            counting.child.kill();
            return Err(classify(child.abort(e)));
        }
        if let Err(e) = child.wait_success() {
            counting.child.kill();
            return Err(classify(e));
        }
        let (version, counts) = counting.finish()?;
        let mut stats = empty_stats();
        stats.database_version = version;
        stats.tables = Some(counts.len() as u64);
        stats.rows_approximate = Some(counts.iter().map(|c| c.rows).sum());
        stats.metadata.push(kv("dumper", "mongodump"));
        stats.metadata.push(kv("source_database", &cfg.database));
        stats.table_counts = counts;
        stats.counts_consistent = false;
        Ok(stats)
    }

    fn restore(ctx: &CallContext, source: &InputStream) -> PluginResult<()> {
        let cfg = config::load::<Config>(ctx)?;
        let with_password = config::has_secret(ctx, "password");
        let spool = format!("{}/artifact.archive", config::scratch_dir(ctx)?);
        {
            let file = fs::create_write(&spool)?;
            io::pipe(source, &file.stream)?;
        }
        // The archive names the database it was dumped from: restoring
        // into another name renames its namespaces.
        let dbs = {
            let file = fs::open_read(&spool, 0)?;
            archive_databases(&mut io::StreamReader::new(&file.stream))?
        };
        if dbs.len() > 1 {
            return Err(PluginError::Unsupported(format!(
                "the archive holds several databases ({}); this engine restores one",
                dbs.join(", ")
            )));
        }
        let source_db = dbs.first().map(String::as_str);
        if let Some(src) = source_db.filter(|s| s.contains('$')) {
            return Err(PluginError::Failed(format!(
                "the archive's database `{src}` cannot be renamed by mongorestore"
            )));
        }
        let drop_existing = config::option(ctx, "clean") == Some("true")
            || config::option(ctx, "drop_existing") == Some("true");
        log::info(&format!(
            "artifact received and verified; restoring {} into `{}`{}",
            source_db.map_or("an empty archive".to_string(), |s| format!("`{s}`")),
            cfg.database,
            if drop_existing {
                " (dropping existing collections)"
            } else {
                ""
            }
        ));
        let child = cfg
            .tool(
                ctx,
                "mongorestore",
                cfg.restore_args(with_password, drop_existing, source_db)?,
            )
            .piped_stdin()
            .spawn()?;
        let stdin = child
            .take_stdin()
            .ok_or_else(|| PluginError::Failed("mongorestore has no stdin".into()))?;
        let fed = fs::open_read(&spool, 0).and_then(|file| io::pipe(&file.stream, &stdin));
        drop(stdin);
        if let Err(e) = fed {
            return Err(classify(child.abort(e)));
        }
        child.wait_success().map_err(classify)?;
        Ok(())
    }

    /// MongoDB creates a database on its first write: nothing to run.
    fn create_scratch_database(ctx: &CallContext, name: &str) -> PluginResult<String> {
        check_name("name", name)?;
        let cfg = config::load::<Config>(ctx)?;
        let mut scratch = cfg.clone();
        scratch.database = name.to_string();
        serde_json::to_string(&scratch).map_err(|e| PluginError::Failed(e.to_string()))
    }

    fn drop_scratch_database(ctx: &CallContext, name: &str) -> PluginResult<()> {
        check_name("name", name)?;
        let cfg = config::load::<Config>(ctx)?;
        cfg.eval(ctx, &drop_js(name))?;
        Ok(())
    }

    fn inspect(ctx: &CallContext) -> PluginResult<Vec<TableCount>> {
        let cfg = config::load::<Config>(ctx)?;
        Ok(cfg.counts(ctx)?.1)
    }
}

export_engine!(MongoDb);

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(json: &str) -> PluginResult<Config> {
        let c: Config = config::parse_json(json)?;
        config::Checked::check(&c)?;
        Ok(c)
    }

    fn field_of(e: PluginError) -> String {
        match e {
            PluginError::InvalidConfig(m) => m.split(':').next().unwrap_or_default().to_string(),
            other => panic!("not invalid-config: {other:?}"),
        }
    }

    #[test]
    fn names_are_plain() {
        assert!(check_name("database", "shop_2024-x").is_ok());
        for bad in ["", "-x", "a.b", "a$b", "a b", "a/b", "a*b", &"x".repeat(64)] {
            assert!(check_name("database", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn config_errors_name_the_field() {
        let ok = cfg(r#"{"host":"db.lan","database":"shop","username":"backup"}"#).unwrap();
        assert_eq!(ok.port, None);
        let cases = [
            (r#"{"database":"shop"}"#, "host"),
            (r#"{"host":"-oX","database":"shop"}"#, "host"),
            (r#"{"host":"a b","database":"shop"}"#, "host"),
            (r#"{"host":"h","database":"a.b"}"#, "database"),
            (
                r#"{"host":"h","database":"s","auth_database":"$x"}"#,
                "auth_database",
            ),
            (r#"{"host":"h","database":"s","username":""}"#, "username"),
            (r#"{"host":"h","database":"s","username":"-u"}"#, "username"),
            (r#"{"uri":"mongodb://u:pw@h/","database":"s"}"#, "uri"),
            (
                r#"{"uri":"mongodb+srv://u:p%40ss@cluster0.example.net","database":"s"}"#,
                "uri",
            ),
            (r#"{"uri":"mongodb://u@h/","database":"s"}"#, "uri"),
            (r#"{"uri":"postgres://h/","database":"s"}"#, "uri"),
            (r#"{"uri":"mongodb://h/other","database":"s"}"#, "uri"),
            (
                r#"{"uri":"mongodb://h/","host":"h","database":"s"}"#,
                "host",
            ),
            (r#"{"uri":"mongodb://h/","port":1,"database":"s"}"#, "port"),
            (r#"{"uri":"mongodb://h/","tls":true,"database":"s"}"#, "tls"),
            (
                r#"{"uri":"mongodb://h/?authSource=x","auth_database":"y","database":"s"}"#,
                "auth_database",
            ),
        ];
        for (json, field) in cases {
            let e = cfg(json).expect_err(json);
            assert_eq!(field_of(e), field, "{json}");
        }
        let e = cfg(r#"{"host":"h","database":"s","pasword":"x"}"#).expect_err("unknown");
        assert!(matches!(e, PluginError::InvalidConfig(m) if m.contains("pasword")));
        // The password message says why.
        let e = cfg(r#"{"uri":"mongodb://u:pw@h/","database":"s"}"#).expect_err("pw");
        assert!(matches!(e, PluginError::InvalidConfig(m) if m.contains("password")));
        assert!(cfg(
            r#"{"uri":"mongodb+srv://cluster0.example.net/s?retryWrites=true","database":"s"}"#
        )
        .is_ok());
    }

    #[test]
    fn dump_command_line() {
        let c = cfg(
            r#"{"host":"db.lan","port":27018,"database":"shop","username":"backup","tls":true}"#,
        )
        .unwrap();
        assert_eq!(
            c.dump_args(true).unwrap(),
            [
                "--config={secret-file:DG_MONGOCFG}",
                "--archive",
                "--db=shop",
                "--host=db.lan",
                "--port=27018",
                "--username=backup",
                "--authenticationDatabase=admin",
                "--ssl"
            ]
        );
        let anon = cfg(r#"{"host":"127.0.0.1","database":"shop"}"#).unwrap();
        assert_eq!(
            anon.dump_args(false).unwrap(),
            ["--archive", "--db=shop", "--host=127.0.0.1", "--port=27017"]
        );
        // A user without a password (mongodump would prompt), and the reverse.
        assert_eq!(field_of(c.dump_args(false).unwrap_err()), "password");
        assert_eq!(field_of(anon.dump_args(true).unwrap_err()), "username");
        let uri = cfg(r#"{"uri":"mongodb+srv://c.example.net/?authSource=users","database":"shop","username":"b"}"#).unwrap();
        assert_eq!(
            uri.dump_args(true).unwrap(),
            [
                "--config={secret-file:DG_MONGOCFG}",
                "--archive",
                "--db=shop",
                "--uri=mongodb+srv://c.example.net/?authSource=users",
                "--username=b"
            ]
        );
    }

    #[test]
    fn restore_command_line() {
        let c = cfg(r#"{"host":"h","database":"copy","username":"u","auth_database":"users"}"#)
            .unwrap();
        assert_eq!(
            c.restore_args(true, true, Some("shop")).unwrap(),
            [
                "--config={secret-file:DG_MONGOCFG}",
                "--archive",
                "--stopOnError",
                "--host=h",
                "--port=27017",
                "--username=u",
                "--authenticationDatabase=users",
                "--drop",
                "--nsFrom=shop.*",
                "--nsTo=copy.*"
            ]
        );
        // Same name, or an empty archive: nothing to rename.
        let same = c.restore_args(true, false, Some("copy")).unwrap();
        assert!(!same.iter().any(|a| a.starts_with("--ns") || a == "--drop"));
        assert!(!c
            .restore_args(true, false, None)
            .unwrap()
            .iter()
            .any(|a| a.starts_with("--ns")));
        assert_eq!(escape_ns(r"a*b\c"), r"a\*b\\c");
    }

    #[test]
    fn shell_script_holds_the_password_placeholder_only_in_the_file() {
        let c = cfg(r#"{"host":"::1","database":"shop","username":"o\"dd{secret}"}"#).unwrap();
        let (args, script) = c.shell_args(true, COUNTS_JS).unwrap();
        assert_eq!(
            args,
            [
                "--nodb",
                "--quiet",
                "--norc",
                "--file={secret-file:DG_MONGOJS}"
            ]
        );
        assert!(script.starts_with(
            "const dgConn = new Mongo(\"mongodb://[::1]:27017/?directConnection=true&serverSelectionTimeoutMS=10000\");\n"
        ));
        // The user's quote and braces are escaped: the only `{secret}` is ours.
        assert_eq!(script.matches("{secret}").count(), 1);
        assert!(script.contains(
            "dgConn.getDB(\"admin\").auth(\"o\\u0022dd\\u007bsecret\\u007d\", \"{secret}\");"
        ));
        let anon = cfg(r#"{"host":"h","database":"shop","tls":true}"#).unwrap();
        let (args, script) = anon.shell_args(false, LIST_JS).unwrap();
        assert_eq!(args[..4], ["--nodb", "--quiet", "--norc", "--eval"]);
        assert_eq!(args[4], script);
        assert!(!script.contains("auth("));
        assert!(script.contains("&tls=true"));
        // A URI's own authSource is where the user authenticates.
        let uri = cfg(r#"{"uri":"mongodb://a,b/?replicaSet=rs&authSource=users","database":"s","username":"u"}"#).unwrap();
        let script = uri.shell_script(true, "").unwrap();
        assert!(script.contains("new Mongo(\"mongodb://a,b/?replicaSet=rs&authSource=users\")"));
        assert!(script.contains("getDB(\"users\").auth("));
    }

    /// What the host writes, for odd passwords: `"` and `\` escaped with
    /// a backslash (valid in YAML double-quoted scalars and JS strings).
    fn host_escape(value: &str, escape: &str) -> String {
        let mut out = String::new();
        for c in value.chars() {
            if c == '\\' || escape.contains(c) {
                out.push('\\');
            }
            out.push(c);
        }
        out
    }

    /// Reads a YAML double-quoted scalar back (the escapes the host emits).
    fn unquote(s: &str) -> String {
        let mut out = String::new();
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                out.extend(chars.next());
            } else {
                out.push(c);
            }
        }
        out
    }

    #[test]
    fn odd_passwords_survive_the_file_templates() {
        for pw in [
            r#"pa"ss"#,
            r"back\slash",
            r#"\"#,
            "#colon: x",
            "tab\there",
            "ünï{secret}",
        ] {
            let yaml = "password: \"{secret}\"\n".replace("{secret}", &host_escape(pw, "\""));
            let inner = yaml
                .strip_prefix("password: \"")
                .and_then(|s| s.strip_suffix("\"\n"))
                .unwrap();
            // No unescaped quote ends the scalar early.
            let mut prev_backslashes = 0;
            for c in inner.chars() {
                if c == '"' {
                    assert_eq!(prev_backslashes % 2, 1, "{yaml}");
                }
                prev_backslashes = if c == '\\' { prev_backslashes + 1 } else { 0 };
            }
            assert_eq!(unquote(inner), pw);
        }
    }

    #[test]
    fn answers_are_found_among_other_output() {
        let out = "Warning: something\nDG\t{\"version\":\"7.0.5\",\"counts\":[[\"orders\",3],[\"users\",2]]}\nundefined\n";
        let (version, counts) = parse_counts(&parse_answer(out).unwrap()).unwrap();
        assert_eq!(version.as_deref(), Some("7.0.5"));
        assert_eq!(counts.len(), 2);
        assert_eq!((counts[1].name.as_str(), counts[1].rows), ("users", 2));
        assert!(parse_answer("nothing here").is_err());
    }

    #[test]
    fn tool_messages_map_to_kinds() {
        let kind = |m: &str| classify(PluginError::Failed(m.into()));
        // mongodump 100.x, wrong password.
        assert!(matches!(
            kind("mongodump exited with code 1: 2024-05-02T10:11:12.345+0000\tFailed: can't create session: failed to connect to mongodb://db.lan:27017/: connection() error occurred during connection handshake: auth error: sasl conversation error: unable to authenticate using mechanism \"SCRAM-SHA-1\": (AuthenticationFailed) Authentication failed."),
            PluginError::AuthFailed(_)
        ));
        // Older mongodump.
        assert!(matches!(
            kind("Failed: error connecting to db server: server returned error on SASL authentication step: Authentication failed."),
            PluginError::AuthFailed(_)
        ));
        // mongosh.
        assert!(matches!(
            kind("mongosh exited with code 1: MongoServerError: Authentication failed."),
            PluginError::AuthFailed(_)
        ));
        assert!(matches!(
            kind("Failed: can't create session: could not connect to server: server selection error: server selection timeout, current topology: { Type: Single, Servers: [{ Addr: localhost:27017, Type: Unknown, Last error: connection() error occurred during connection handshake: dial tcp 127.0.0.1:27017: connect: connection refused }, ] }"),
            PluginError::Unreachable(_)
        ));
        assert!(matches!(
            kind("MongoServerSelectionError: connect ECONNREFUSED 127.0.0.1:27017"),
            PluginError::Unreachable(_)
        ));
        assert!(matches!(
            kind("Failed: error connecting to db server: no reachable servers"),
            PluginError::Unreachable(_)
        ));
        assert!(matches!(
            kind("Failed: error counting shop.orders: (Unauthorized) not authorized on shop to execute command { count: \"orders\", lsid: { id: {4 [1 2 3]} }, $db: \"shop\" }"),
            PluginError::PermissionDenied(_)
        ));
        assert!(matches!(
            kind("MongoServerError[Unauthorized]: not authorized on admin to execute command { listDatabases: 1 }"),
            PluginError::PermissionDenied(_)
        ));
        assert!(matches!(
            kind("Failed: error writing data for collection `shop.orders` to disk: error reading collection: connection(db.lan:27017[-3]) incomplete read of message header: read tcp 10.0.0.2:51234->10.0.0.5:27017: i/o timeout"),
            PluginError::Timeout(_)
        ));
        assert!(matches!(
            kind("Failed: yaml: line 1: found unknown escape character"),
            PluginError::Failed(_)
        ));
    }

    /// A BSON document of string fields.
    fn bson(fields: &[(&str, &str)]) -> Vec<u8> {
        let mut body = Vec::new();
        for (k, v) in fields {
            body.push(0x02);
            body.extend_from_slice(k.as_bytes());
            body.push(0);
            body.extend_from_slice(&((v.len() + 1) as i32).to_le_bytes());
            body.extend_from_slice(v.as_bytes());
            body.push(0);
        }
        // An int32 field after them, as `size` is in real archives.
        body.push(0x10);
        body.extend_from_slice(b"size\0");
        body.extend_from_slice(&7i32.to_le_bytes());
        let mut doc = ((body.len() + 5) as i32).to_le_bytes().to_vec();
        doc.extend(body);
        doc.push(0);
        doc
    }

    fn archive(dbs: &[&str]) -> Vec<u8> {
        let mut a = 0x8199_e26du32.to_le_bytes().to_vec();
        a.extend(bson(&[("version", "0.1"), ("server_version", "7.0.5")]));
        for db in dbs {
            a.extend(bson(&[
                ("metadata", "{\"indexes\":[]}"),
                ("db", db),
                ("collection", "c"),
            ]));
        }
        a.extend([0xff; 4]);
        a.extend(b"data that is never read");
        a
    }

    #[test]
    fn archive_prelude_names_its_databases() {
        let read = |bytes: Vec<u8>| archive_databases(&mut bytes.as_slice());
        assert_eq!(read(archive(&["shop", "shop"])).unwrap(), ["shop"]);
        assert_eq!(read(archive(&[])).unwrap(), Vec::<String>::new());
        assert_eq!(read(archive(&["a", "", "b"])).unwrap(), ["a", "b"]);
        assert!(read(b"-- MySQL dump".to_vec()).is_err());
        let mut cut = archive(&["shop"]);
        cut.truncate(30);
        assert!(read(cut).is_err());
    }
}
