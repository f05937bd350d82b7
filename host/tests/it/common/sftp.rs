//! A real OpenSSH server for the tests: `sshd` on a loopback port with a
//! throwaway host key and user key, serving SFTP (internal-sftp) to root.

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct SshServer {
    dir: tempfile::TempDir,
    child: Option<Child>,
    pub port: u16,
    /// `SHA256:…` of the host key.
    pub fingerprint: String,
    /// A directory served as the storage root.
    pub root: PathBuf,
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("spawn");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl SshServer {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        for key in ["host_key", "user_key"] {
            run(Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-C", key, "-f"])
                .arg(d.join(key)));
        }
        std::fs::copy(d.join("user_key.pub"), d.join("authorized_keys")).expect("authorized_keys");
        let listed = run(Command::new("ssh-keygen")
            .arg("-lf")
            .arg(d.join("host_key.pub")));
        let fingerprint = listed
            .split_whitespace()
            .nth(1)
            .expect("fingerprint")
            .to_string();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {host}\nPidFile {pid}\n\
             AuthorizedKeysFile {auth}\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
             PubkeyAuthentication yes\nPermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\n\
             Subsystem sftp internal-sftp\n",
            host = d.join("host_key").display(),
            pid = d.join("sshd.pid").display(),
            auth = d.join("authorized_keys").display(),
        );
        std::fs::write(d.join("sshd_config"), config).expect("config");
        let root = d.join("remote");
        std::fs::create_dir_all(&root).expect("root");
        std::fs::create_dir_all("/run/sshd").expect("privilege separation dir");
        let mut server = Self {
            dir,
            child: None,
            port,
            fingerprint,
            root,
        };
        server.resume();
        server
    }

    /// Starts (again) on the same port with the same keys.
    pub fn resume(&mut self) {
        let child = Command::new("/usr/sbin/sshd")
            .args(["-D", "-e", "-f"])
            .arg(self.dir.path().join("sshd_config"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.dir.path().join("sshd.log")).expect("log"))
            .spawn()
            .expect("/usr/sbin/sshd (apt-get install openssh-server)");
        self.child = Some(child);
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "sshd did not start: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }

    pub fn user_key(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("user_key")).expect("key")
    }

    /// A storage config for this server; `extra` fields are merged in.
    pub fn config(&self, extra: Value) -> Value {
        let mut config = json!({
            "host": "127.0.0.1", "port": self.port, "username": "root",
            "private_key": self.user_key(), "path": self.root,
            "host_key_fingerprint": self.fingerprint,
        });
        if let (Value::Object(c), Value::Object(e)) = (&mut config, extra) {
            c.extend(e);
        }
        config
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for SshServer {
    fn drop(&mut self) {
        self.stop();
    }
}
