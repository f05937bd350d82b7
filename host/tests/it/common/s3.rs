//! A real S3-compatible server for the tests: moto in server mode with
//! request signatures checked (tests/it/fixtures/s3_server.py).

use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdin, Command, Stdio};

pub struct S3Server {
    child: Child,
    _stdin: ChildStdin,
    pub endpoint: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub bucket: String,
}

fn script() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/fixtures/s3_server.py")
}

impl S3Server {
    /// Starts moto on a free loopback port; parts down to `min_part` bytes
    /// are accepted so small backups still upload in several parts.
    pub fn start(min_part: u64) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let mut child = Command::new("python3")
            .arg(script())
            .args(["serve", &port.to_string(), &min_part.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 with moto (pip install 'moto[server]' boto3)");
        let stdin = child.stdin.take().expect("stdin");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("moto's first line");
        let v: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("moto did not start ({e}): {line:?}"));
        let field = |k: &str| v[k].as_str().expect("field").to_string();
        Self {
            endpoint: field("endpoint"),
            access_key_id: field("access_key_id"),
            secret_access_key: field("secret_access_key"),
            bucket: field("bucket"),
            child,
            _stdin: stdin,
        }
    }

    /// A storage config for this server; `extra` fields are merged in.
    pub fn config(&self, extra: Value) -> Value {
        let mut config = json!({
            "bucket": self.bucket, "endpoint": self.endpoint,
            "access_key_id": self.access_key_id,
            "secret_access_key": self.secret_access_key,
        });
        if let (Value::Object(c), Value::Object(e)) = (&mut config, extra) {
            c.extend(e);
        }
        config
    }

    /// Creates another bucket with boto3.
    pub fn create_bucket(&self, bucket: &str) {
        self.helper_on("mkbucket", bucket);
    }

    fn helper(&self, command: &str) -> Value {
        self.helper_on(command, &self.bucket)
    }

    fn helper_on(&self, command: &str, bucket: &str) -> Value {
        let out = Command::new("python3")
            .arg(script())
            .args([
                command,
                &self.endpoint,
                &self.access_key_id,
                &self.secret_access_key,
                bucket,
            ])
            .output()
            .expect("python3");
        assert!(
            out.status.success(),
            "s3 helper {command}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("helper JSON")
    }

    /// Keys of unfinished multipart uploads, read with boto3.
    pub fn unfinished_uploads(&self) -> Vec<String> {
        serde_json::from_value(self.helper("uploads")).expect("list")
    }

    /// Every object's key and sha256, read with boto3.
    pub fn objects(&self) -> std::collections::BTreeMap<String, String> {
        serde_json::from_value(self.helper("keys")).expect("map")
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
