//! A spawned `dataguardian serve` on a random port with a fresh metadata
//! store (SQLite file or PostgreSQL database), driven over real HTTP.

use super::{psql, TempDb};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Metadata backend of a test server.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Backend {
    Sqlite,
    Postgres,
    /// No process: the API router over a SQLite store in this test
    /// process, driven with `tower::ServiceExt::oneshot` (no listener, no
    /// workers). For the request guard, the extractors, validation and
    /// the OpenAPI document, which need neither.
    InProcess,
}

/// The master key of every in-process server: the keyring is one per
/// process, so the servers of one test process share it (32 zero bytes;
/// a test key, never a real one).
const IN_PROCESS_KEY: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

pub struct TestServer {
    child: Option<Child>,
    pub base: String,
    pub dir: tempfile::TempDir,
    pub backend: Backend,
    meta_db: Option<TempDb>,
    extra: Vec<String>,
    /// Use the test run's shared plugin cache (see `shared_plugin_cache`).
    shared_cache: bool,
    /// Directories put first on the server's PATH (fake tools).
    path_prefix: Vec<PathBuf>,
    /// Started without the test run's widened path and egress policies
    /// (tests of the defaults themselves).
    confined: bool,
    /// Another node's metadata database (PostgreSQL URL) this one shares;
    /// that node owns it.
    shared_meta: Option<String>,
    /// Extra environment of the process.
    env: Vec<(String, String)>,
    /// The API router, when the server runs in this process.
    router: Option<axum::Router>,
    /// A client sending the admin's token with every request.
    pub http: reqwest::Client,
    /// The API token of the `admin` user every test server starts with
    /// (created with `dataguardian admin create` and `token create`).
    pub token: String,
}

/// The user every test server has, and their password.
pub const ADMIN: &str = "admin";
pub const ADMIN_PASSWORD: &str = "admin-password-for-tests";

/// A client sending `token` as `Authorization: Bearer` with every request.
pub fn client_with_token(token: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {token}").parse().expect("header value"),
    );
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .expect("HTTP client")
}

impl TestServer {
    pub async fn start(backend: Backend) -> Self {
        Self::start_with(backend, &[]).await
    }

    /// Starts with extra `serve` flags (e.g. `--scheduler-tick-secs 1`).
    pub async fn start_with(backend: Backend, extra: &[&str]) -> Self {
        if backend == Backend::InProcess {
            return Self::in_process(extra).await;
        }
        Self::launch(backend, extra, true)
    }

    /// The API router built as `serve` builds its state, in this process.
    async fn in_process(extra: &[&str]) -> Self {
        use std::io::Write;
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
        let mut server = Self::unstarted(Backend::InProcess, extra, true);
        let data = server.data_dir();
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&data)
            .expect("data dir");
        let key = data.join("master.key");
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&key)
            .and_then(|mut f| f.write_all(IN_PROCESS_KEY.as_bytes()))
            .expect("master key");
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("repository root");
        let roots = format!("{},{}", std::env::temp_dir().display(), repo.display());
        let data_arg = data.display().to_string();
        let db = format!("sqlite://{}", data.join("dataguardian.db").display());
        server.provision_admin(Some(&db));
        let cache = super::shared_plugin_cache().display().to_string();
        let mut args = vec![
            "dataguardian",
            "--data-dir",
            &data_arg,
            "--plugin-cache-dir",
            &cache,
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            &db,
            "--health-interval-secs",
            "3600",
        ];
        if !extra.contains(&"--allowed-roots") {
            args.extend(["--allowed-roots", &roots]);
        }
        if !extra.contains(&"--allow-egress") {
            args.extend(["--allow-egress", "127.0.0.0/8,::1"]);
        }
        args.extend(extra);
        let cli = <dataguardian::cli::Cli as clap::Parser>::try_parse_from(args)
            .expect("serve arguments");
        let router = dataguardian::cli::in_process(cli)
            .await
            .expect("in-process server");
        server.router = Some(router);
        server.base = "http://localhost".into();
        server
    }

    /// Starts with the server's default path and egress policies: no
    /// `--allowed-roots`, no `--allow-egress` unless `extra` names them.
    pub async fn start_confined(backend: Backend, extra: &[&str]) -> Self {
        let mut server = Self::unstarted(backend, extra, true);
        server.confined = true;
        server.spawn();
        server
    }

    /// Starts with the plugin cache in its own data dir (tests of the
    /// cache itself).
    pub async fn start_with_own_cache(backend: Backend) -> Self {
        Self::launch(backend, &[], false)
    }

    /// Starts with `dirs` first on the server's PATH, so programs the
    /// plugins spawn are found there first (fake `mongodump`, `sqlcmd`...).
    pub async fn start_with_path(backend: Backend, dirs: &[&Path]) -> Self {
        let mut server = Self::unstarted(backend, &[], true);
        server.path_prefix = dirs.iter().map(|d| d.to_path_buf()).collect();
        server.spawn();
        server
    }

    fn launch(backend: Backend, extra: &[&str], shared_cache: bool) -> Self {
        let mut server = Self::unstarted(backend, extra, shared_cache);
        server.spawn();
        server
    }

    fn unstarted(backend: Backend, extra: &[&str], shared_cache: bool) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let meta_db = (backend == Backend::Postgres).then(|| TempDb::new("meta"));
        Self {
            child: None,
            base: String::new(),
            dir,
            backend,
            meta_db,
            extra: extra.iter().map(|s| s.to_string()).collect(),
            shared_cache,
            path_prefix: Vec::new(),
            confined: false,
            shared_meta: None,
            env: Vec::new(),
            router: None,
            http: reqwest::Client::new(),
            token: String::new(),
        }
    }

    /// A second node beside `first` (PostgreSQL backend): its own data
    /// dir and node id, the same metadata database and master key.
    pub async fn second_node(first: &TestServer, extra: &[&str]) -> Self {
        let url = first
            .meta_db
            .as_ref()
            .expect("several nodes share a PostgreSQL metadata database")
            .url();
        let key = std::fs::read_to_string(first.data_dir().join("master.key"))
            .expect("the first node's master key");
        let key = key
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect::<Vec<_>>()
            .join(",");
        let mut node = Self::unstarted(Backend::Postgres, extra, true);
        node.meta_db = None;
        node.shared_meta = Some(url);
        node.env.push(("DG_MASTER_KEY".into(), key));
        node.token = first.token.clone();
        node.http = client_with_token(&node.token);
        node.spawn();
        node
    }

    /// The PostgreSQL metadata database's name (PostgreSQL backend only).
    pub fn meta_db_name(&self) -> Option<&str> {
        self.meta_db.as_ref().map(|db| db.name.as_str())
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The metadata database URL the process is given, if not the data
    /// dir's SQLite file.
    fn database_url(&self) -> Option<String> {
        self.meta_db
            .as_ref()
            .map(|db| db.url())
            .or_else(|| self.shared_meta.clone())
    }

    /// Runs `dataguardian ARGS` on this server's data dir and metadata
    /// database (`url` when given), feeding `stdin`; demands success and
    /// returns stdout.
    pub fn cli(&self, url: Option<&str>, args: &[&str], stdin: Option<&str>) -> String {
        use std::io::Write;
        let url = url.map(str::to_string).or_else(|| self.database_url());
        let url = url.or_else(|| {
            (self.backend == Backend::InProcess).then(|| {
                format!(
                    "sqlite://{}",
                    self.data_dir().join("dataguardian.db").display()
                )
            })
        });
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_dataguardian"));
        cmd.arg("--data-dir")
            .arg(self.data_dir())
            .args(args)
            .env("DG_LOG", "warn")
            .env_remove("DATABASE_URL")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(u) = &url {
            cmd.env("DATABASE_URL", u);
        }
        let mut child = cmd.spawn().expect("running dataguardian");
        {
            let mut input = child.stdin.take().expect("stdin");
            if let Some(text) = stdin {
                input.write_all(text.as_bytes()).expect("writing stdin");
            }
        }
        let out = child.wait_with_output().expect("dataguardian");
        assert!(
            out.status.success(),
            "dataguardian {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A new user with `role` (password `ADMIN_PASSWORD`), through the CLI.
    pub fn add_user(&self, username: &str, role: &str) {
        self.cli(
            None,
            &[
                "admin",
                "create",
                "--username",
                username,
                "--role",
                role,
                "--password-stdin",
            ],
            Some(&format!("{ADMIN_PASSWORD}\n")),
        );
    }

    /// A new API token of `username` through the CLI, limited to
    /// `permissions` when any are given.
    pub fn token_of(&self, username: &str, name: &str, permissions: &[&str]) -> String {
        let mut args = vec!["token", "create", "--username", username, "--name", name];
        for p in permissions {
            args.extend(["--permission", p]);
        }
        let out = self.cli(None, &args, None);
        out.lines().last().expect("a token line").trim().to_string()
    }

    /// Creates the `admin` user and a token for it with the command line,
    /// as an operator does before the first start.
    fn provision_admin(&mut self, database_url: Option<&str>) {
        self.cli(
            database_url,
            &["admin", "create", "--username", ADMIN, "--password-stdin"],
            Some(&format!("{ADMIN_PASSWORD}\n")),
        );
        let out = self.cli(
            database_url,
            &["token", "create", "--username", ADMIN, "--name", "tests"],
            None,
        );
        self.token = out.lines().last().expect("a token line").trim().to_string();
        self.http = client_with_token(&self.token);
    }

    fn spawn(&mut self) {
        if self.token.is_empty() {
            self.provision_admin(None);
        }
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_dataguardian"));
        cmd.arg("--data-dir")
            .arg(self.data_dir())
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(&self.extra)
            .env("DG_LOG", "info,sqlx=warn,tower_http=warn")
            .env("NO_COLOR", "1")
            .env_remove("DATABASE_URL")
            .stdout(Stdio::piped())
            .stderr(Stdio::from(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(self.dir.path().join("server.log"))
                    .expect("server log"),
            ));
        if let Some(db) = &self.meta_db {
            cmd.env("DATABASE_URL", db.url());
        }
        if let Some(url) = &self.shared_meta {
            cmd.env("DATABASE_URL", url);
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        // Tests keep their files in the temporary directory (and fixtures
        // in the repository) and their services on loopback: the run's
        // servers may use both unless a test checks the defaults.
        if !self.confined {
            if !self.extra.iter().any(|a| a == "--allowed-roots") {
                let repo = Path::new(env!("CARGO_MANIFEST_DIR"))
                    .parent()
                    .expect("repository root");
                let roots = format!("{},{}", std::env::temp_dir().display(), repo.display());
                cmd.args(["--allowed-roots", &roots]);
            }
            if !self.extra.iter().any(|a| a == "--allow-egress") {
                cmd.args(["--allow-egress", "127.0.0.0/8,::1"]);
            }
        }
        // Health checks stay out of the way unless the test asks for them.
        if !self.extra.iter().any(|a| a == "--health-interval-secs") {
            cmd.args(["--health-interval-secs", "3600"]);
        }
        if !self.path_prefix.is_empty() {
            let inherited = std::env::var_os("PATH").unwrap_or_default();
            let dirs = self
                .path_prefix
                .iter()
                .cloned()
                .chain(std::env::split_paths(&inherited));
            cmd.env("PATH", std::env::join_paths(dirs).expect("PATH entries"));
        }
        if self.shared_cache {
            cmd.env("DG_PLUGIN_CACHE_DIR", super::shared_plugin_cache());
        } else {
            cmd.env_remove("DG_PLUGIN_CACHE_DIR");
        }
        let mut child = cmd.spawn().expect("spawning dataguardian serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("reading the listening line");
        let v: Value = serde_json::from_str(line.trim())
            .unwrap_or_else(|_| panic!("server did not start: {line:?}\n{}", self.log()));
        self.base = format!("http://{}", v["listening"].as_str().expect("listening"));
        self.child = Some(child);
    }

    /// The server's log so far (for assertion messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// The end of the server's log.
    pub fn log_tail(&self) -> String {
        let log = self.log();
        let start = log.len().saturating_sub(4000);
        let start = (start..log.len())
            .find(|i| log.is_char_boundary(*i))
            .unwrap_or(0);
        log[start..].to_string()
    }

    /// The server process's id (to read its `/proc/PID/status`).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Sends SIGTERM (a graceful stop); does not wait.
    pub fn terminate(&self) {
        let pid = self.child.as_ref().expect("running").id();
        let status = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// Waits for the process to exit by itself; its exit status.
    pub async fn wait_exit(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let started = Instant::now();
        let child = self.child.as_mut().expect("running");
        loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                self.child = None;
                return status;
            }
            assert!(
                started.elapsed() < timeout,
                "server still running after {timeout:?}\n{}",
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Starts again on the same data dir and metadata database.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        self.request_as(Some(&self.token), method, path, body).await
    }

    /// A request sending `token` as the bearer (`None`: no credentials).
    pub async fn request_as(
        &self,
        token: Option<&str>,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        if let Some(router) = &self.router {
            return Self::oneshot(router, token, method, path, body).await;
        }
        static PLAIN: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
        let plain = PLAIN.get_or_init(reqwest::Client::new);
        let mut req = plain.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.expect("HTTP request");
        let status = resp.status();
        let text = resp.text().await.expect("body");
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, value)
    }

    /// One request through the in-process router.
    async fn oneshot(
        router: &axum::Router,
        token: Option<&str>,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        use tower::ServiceExt;
        let mut req = axum::http::Request::builder()
            .method(method.as_str())
            .uri(path)
            .header("host", "localhost");
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let bytes = match body {
            Some(b) => {
                req = req.header("content-type", "application/json");
                serde_json::to_vec(b).expect("JSON body")
            }
            None => Vec::new(),
        };
        let req = req.body(axum::body::Body::from(bytes)).expect("request");
        let resp = router.clone().oneshot(req).await.expect("infallible");
        let status = StatusCode::from_u16(resp.status().as_u16()).expect("status");
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .expect("body");
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        (status, value)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.request(reqwest::Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        self.request(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        self.request(reqwest::Method::PUT, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.request(reqwest::Method::DELETE, path, None).await
    }

    /// POST that must answer `expected`; returns the body.
    pub async fn post_ok(&self, path: &str, body: &Value, expected: u16) -> Value {
        let (status, v) = self.post(path, body).await;
        assert_eq!(
            status.as_u16(),
            expected,
            "POST {path} {body}: {v}\n{}",
            self.log_tail()
        );
        v
    }

    /// `GET /metrics` as text.
    pub async fn metrics_text(&self) -> String {
        self.http
            .get(self.url("/metrics"))
            .send()
            .await
            .expect("GET /metrics")
            .text()
            .await
            .expect("metrics text")
    }

    /// Creates an object (`POST path`, answered 201); its id.
    pub async fn create(&self, path: &str, body: &Value) -> String {
        self.post_ok(path, body, 201).await["id"]
            .as_str()
            .expect("id")
            .to_string()
    }

    pub async fn get_ok(&self, path: &str) -> Value {
        let (status, v) = self.get(path).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "GET {path}: {v}\n{}",
            self.log_tail()
        );
        v
    }

    /// A local storage under this test's directory.
    pub async fn local_storage(&self, name: &str) -> (String, PathBuf) {
        let root = self.dir.path().join(format!("storage-{name}"));
        let v = self
            .post_ok(
                "/api/storage-locations",
                &json!({"name": name, "type": "local", "create_root": true, "config": {"path": root}}),
                201,
            )
            .await;
        (v["id"].as_str().expect("id").to_string(), root)
    }

    /// A PostgreSQL datasource for database `db`.
    pub async fn pg_datasource(&self, name: &str, db: &str) -> String {
        self.pg_datasource_with_password(name, db, "unused-with-trust")
            .await
    }

    /// A PostgreSQL datasource with a password of the test's choosing (the
    /// server trusts loopback, so any works), to look for it where it must
    /// never appear.
    pub async fn pg_datasource_with_password(
        &self,
        name: &str,
        db: &str,
        password: &str,
    ) -> String {
        let v = self
            .post_ok(
                "/api/datasources",
                &json!({"name": name, "type": "postgres", "connection_config": {
                    "host": "127.0.0.1", "port": 5432, "database": db,
                    "username": "postgres", "password": password}}),
                201,
            )
            .await;
        v["id"].as_str().expect("id").to_string()
    }

    /// A job; `extra` fields override the defaults.
    pub async fn job(&self, name: &str, datasource: &str, storage: &str, extra: Value) -> String {
        let mut body = json!({
            "name": name, "datasource_id": datasource, "storage_location_id": storage,
            "schedule_cron": "0 3 * * *", "schedule_timezone": "UTC",
        });
        if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
            b.extend(e);
        }
        let v = self.post_ok("/api/backup-jobs", &body, 201).await;
        v["id"].as_str().expect("id").to_string()
    }

    /// Runs a job now and waits for its execution to end.
    pub async fn run_job(&self, job: &str) -> Value {
        let v = self
            .post_ok(&format!("/api/backup-jobs/{job}/run"), &json!({}), 202)
            .await;
        let id = v["execution_id"]
            .as_str()
            .expect("execution_id")
            .to_string();
        self.wait_execution(&id, Duration::from_secs(120)).await
    }

    /// Queues a retry-upload of backup `id` (202, operation `copy`) and
    /// waits for the copy to end; returns the copy execution (what it did
    /// per storage is in `metadata.copy`).
    pub async fn retry_upload(&self, id: &str) -> Value {
        let accepted = self
            .post_ok(
                &format!("/api/executions/{id}/retry-upload"),
                &json!({}),
                202,
            )
            .await;
        assert_eq!(accepted["operation"], "copy", "{accepted}");
        let copy = accepted["execution_id"].as_str().expect("execution_id");
        self.wait_execution(copy, Duration::from_secs(120)).await
    }

    /// Restores a backup into a datasource (confirmed) and waits for the
    /// restore execution to end; returns it.
    pub async fn restore_into(&self, backup: &str, target_datasource: &str) -> Value {
        self.restore_with(
            backup,
            &json!({"target_datasource_id": target_datasource, "confirm_overwrite": true}),
        )
        .await
    }

    /// Queues a restore (or verification) of `backup` with `body` and
    /// waits for its execution to end; returns it.
    pub async fn restore_with(&self, backup: &str, body: &Value) -> Value {
        let r = self
            .post_ok(&format!("/api/backups/{backup}/restore"), body, 202)
            .await;
        let id = r["execution_id"]
            .as_str()
            .expect("execution_id")
            .to_string();
        self.wait_execution(&id, Duration::from_secs(180)).await
    }

    /// Everything the server said about `executions`: its log, and each
    /// one's detail and log lines (where a leaked secret would show).
    pub async fn everything_said(&self, executions: &[&str]) -> String {
        let mut seen = self.log();
        for e in executions {
            for path in [
                format!("/api/executions/{e}/logs"),
                format!("/api/executions/{e}"),
            ] {
                seen.push_str(&self.get_ok(&path).await.to_string());
            }
        }
        seen
    }

    /// Polls an execution until it is completed, failed or cancelled.
    pub async fn wait_execution(&self, id: &str, timeout: Duration) -> Value {
        let started = Instant::now();
        loop {
            let v = self.get_ok(&format!("/api/executions/{id}")).await;
            let status = v["status"].as_str().unwrap_or_default().to_string();
            if ["completed", "failed", "cancelled"].contains(&status.as_str()) {
                return v;
            }
            assert!(
                started.elapsed() < timeout,
                "execution {id} still {status} after {timeout:?}\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Polls `GET path` until `pred` holds.
    pub async fn wait_for(
        &self,
        path: &str,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        let started = Instant::now();
        loop {
            let v = self.get_ok(path).await;
            if pred(&v) {
                return v;
            }
            assert!(
                started.elapsed() < timeout,
                "GET {path} never matched: {v}\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The files of an execution folder under a local storage root.
/// The status of one storage's copy in an execution's detail.
pub fn storage_status(execution: &Value, storage: &str) -> String {
    execution["storages"]
        .as_array()
        .expect("storages")
        .iter()
        .find(|s| s["storage_location_id"] == storage)
        .map(|s| s["status"].as_str().unwrap_or_default().to_string())
        .unwrap_or_default()
}

pub fn execution_dir(root: &Path, backup_path: &str) -> PathBuf {
    root.join(backup_path)
}

/// A PostgreSQL database holding Chinook.
pub fn chinook_db(tag: &str) -> TempDb {
    let db = TempDb::new(tag);
    super::load_chinook(&db.name);
    db
}

/// Row count of a table.
pub fn count(db: &str, table: &str) -> i64 {
    psql(db, &format!("select count(*) from {table}"))
        .trim()
        .parse()
        .expect("count")
}

/// Runs the same async test body on both metadata backends.
/// One test of `$body` on the in-process server (see
/// [`Backend::InProcess`]).
macro_rules! in_process {
    ($name:ident, $body:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            $body(common::server::Backend::InProcess).await;
        }
    };
}

macro_rules! on_both_backends {
    ($name:ident, $body:ident) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $body(common::server::Backend::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                $body(common::server::Backend::Postgres).await;
            }
        }
    };
}
