//! Opening an SFTP session: check the server's host key against the
//! configured fingerprint (before anything is sent but the key exchange),
//! then run OpenSSH's `ssh -s … sftp` on the host and speak SFTP over its
//! stdin/stdout.
//!
//! The host checks every argument against the manifest, whose patterns are
//! filled from this storage's config: `ssh` can reach the configured host
//! and port only. Secrets never enter plugin memory: the private key is a
//! file the host writes (`IdentityFile=${DG_SSH_KEY}`), a password or
//! passphrase reaches `sshpass` through its environment.

use crate::sftp;
use dataguardian_plugin_sdk::io::{OwnedStreamReader, StreamWriter};
use dataguardian_plugin_sdk::process::{Child, Command};
use dataguardian_plugin_sdk::{config, log, CallContext, OutputStream, PluginError, PluginResult};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::io::BufReader;
use std::io::Write;

/// Host key algorithms asked of the server, strongest first.
const KEY_TYPES: &str = "ed25519,ecdsa,rsa";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub host: String,
    #[serde(default)]
    pub port: Option<u16>,
    pub username: String,
    /// Absolute directory on the server under which everything is kept.
    pub path: String,
    /// `SHA256:…` as `ssh-keygen -lf` prints it.
    pub host_key_fingerprint: String,
    // Secrets: never present in a call's config (the host keeps them);
    // accepted so a full document validates.
    #[serde(default)]
    #[allow(dead_code)]
    pub password: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    #[allow(dead_code)]
    pub private_key: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    #[allow(dead_code)]
    pub passphrase: Option<serde::de::IgnoredAny>,
}

fn invalid(message: String) -> PluginError {
    PluginError::InvalidConfig(message)
}

impl Config {
    pub fn check(&self) -> PluginResult<()> {
        let host_ok = !self.host.is_empty()
            && !self.host.starts_with('-')
            && self
                .host
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b':' | b'_'));
        if !host_ok {
            return Err(invalid(format!(
                "host: `{}` is not a host name or address",
                self.host
            )));
        }
        let user_ok = !self.username.is_empty()
            && !self.username.starts_with('-')
            && self
                .username
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_'));
        if !user_ok {
            return Err(invalid(format!(
                "username: `{}` is not a user name",
                self.username
            )));
        }
        if self.port == Some(0) {
            return Err(invalid("port: must be between 1 and 65535".into()));
        }
        if !self.path.starts_with('/') || self.path.split('/').any(|p| p == "..") {
            return Err(invalid(format!(
                "path: `{}` must be an absolute directory on the server, without `..`",
                self.path
            )));
        }
        fingerprint_digest(&self.host_key_fingerprint)?;
        Ok(())
    }

    pub fn port(&self) -> u16 {
        self.port.unwrap_or(22)
    }

    /// The server path of a storage key (the SDK's key rules).
    pub fn remote(&self, key: &str) -> PluginResult<String> {
        let root = self.path.trim_end_matches('/');
        let key = dataguardian_plugin_sdk::keys::normalize(key)?;
        Ok(match (root.is_empty(), key.is_empty()) {
            (true, true) => "/".to_string(),
            (_, true) => root.to_string(),
            (_, false) => format!("{root}/{key}"),
        })
    }
}

/// The base64 SHA-256 digest of a `SHA256:…` fingerprint.
fn fingerprint_digest(text: &str) -> PluginResult<String> {
    let digest = text
        .strip_prefix("SHA256:")
        .unwrap_or(text)
        .trim_end_matches('=');
    let ok = digest.len() == 43
        && digest
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'+' || c == b'/');
    if !ok {
        return Err(invalid(
            "host_key_fingerprint: expected `SHA256:` and 43 base64 characters, as `ssh-keygen -lf` prints it".into(),
        ));
    }
    Ok(digest.to_string())
}

/// The OpenSSH fingerprint of a base64 public key blob.
pub fn fingerprint_of(blob_base64: &str) -> Option<String> {
    use base64::Engine as _;
    let blob = base64::engine::general_purpose::STANDARD
        .decode(blob_base64)
        .ok()?;
    let digest = Sha256::digest(&blob);
    Some(format!(
        "SHA256:{}",
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(digest)
    ))
}

/// The key line of `ssh-keyscan` output whose fingerprint matches.
fn matching_key(scan: &str, digest: &str) -> Result<(String, String), Vec<String>> {
    let mut offered = Vec::new();
    for line in scan.lines().filter(|l| !l.starts_with('#')) {
        let mut fields = line.split_whitespace();
        let (Some(_), Some(kind), Some(blob)) = (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let Some(fp) = fingerprint_of(blob) else {
            continue;
        };
        if fp.trim_start_matches("SHA256:") == digest {
            return Ok((kind.to_string(), blob.to_string()));
        }
        offered.push(format!("{fp} ({kind})"));
    }
    Err(offered)
}

/// Which secret authenticates, as the call holds them.
enum Auth {
    Key { passphrase: bool },
    Password,
}

impl Auth {
    fn of(ctx: &CallContext) -> PluginResult<Self> {
        if config::has_secret(ctx, "private_key") {
            Ok(Auth::Key {
                passphrase: config::has_secret(ctx, "passphrase"),
            })
        } else if config::has_secret(ctx, "password") {
            Ok(Auth::Password)
        } else {
            Err(invalid("password or private_key: one is required".into()))
        }
    }
}

/// `std::io::Write` that owns ssh's stdin for the session's life.
pub struct OwnedStreamWriter(OutputStream);

impl Write for OwnedStreamWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        StreamWriter::new(&self.0).write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        StreamWriter::new(&self.0).flush()
    }
}

/// Server SFTP session: the client, and the `ssh` carrying it.
pub struct Session {
    pub client: sftp::Client<BufReader<OwnedStreamReader>, OwnedStreamWriter>,
    pub cfg: Config,
    child: Child,
}

impl Session {
    pub fn open(ctx: &CallContext) -> PluginResult<Self> {
        let cfg: Config = config::parse(ctx)?;
        cfg.check()?;
        let auth = Auth::of(ctx)?;
        let scratch = config::scratch_dir(ctx)?;
        let known_hosts = format!("{scratch}/known_hosts");
        let key_type = trust_host_key(&cfg, &known_hosts)?;
        let child = ssh_command(&cfg, &auth, &known_hosts, &key_type)
            .piped_stdin()
            .piped_stdout()
            .spawn()?;
        let (Some(stdin), Some(stdout)) = (child.take_stdin(), child.take_stdout()) else {
            return Err(PluginError::Failed("ssh has no stdin or stdout".into()));
        };
        let reader = BufReader::with_capacity(256 * 1024, OwnedStreamReader::new(stdout));
        match sftp::Client::start(reader, OwnedStreamWriter(stdin)) {
            Ok(client) => Ok(Self { client, cfg, child }),
            Err(e) => Err(connection_error(&child, e)),
        }
    }

    /// A plugin error for a failed request, with ssh's own reason when the
    /// connection itself went away.
    pub fn error(&self, what: &str, e: sftp::Error) -> PluginError {
        match e {
            sftp::Error::Status { code, message } => {
                let text = format!("{what}: {message}");
                match code {
                    sftp::Error::NO_SUCH_FILE => PluginError::NotFound(text),
                    sftp::Error::PERMISSION_DENIED => PluginError::PermissionDenied(text),
                    sftp::Error::OP_UNSUPPORTED => PluginError::Unsupported(text),
                    _ => PluginError::Failed(text),
                }
            }
            sftp::Error::Protocol(m) => {
                let e = connection_error(&self.child, sftp::Error::Protocol(m));
                prefix(what, e)
            }
        }
    }

    pub fn close(self) {
        self.child.kill();
    }
}

fn prefix(what: &str, e: PluginError) -> PluginError {
    match e {
        PluginError::Unreachable(m) => PluginError::Unreachable(format!("{what}: {m}")),
        PluginError::AuthFailed(m) => PluginError::AuthFailed(format!("{what}: {m}")),
        PluginError::Transient(m) => PluginError::Transient(format!("{what}: {m}")),
        PluginError::Failed(m) => PluginError::Failed(format!("{what}: {m}")),
        other => other,
    }
}

/// Maps what ssh said on its way out to the error it means.
fn connection_error(child: &Child, e: sftp::Error) -> PluginError {
    child.kill();
    let stderr = match child.wait() {
        Ok(status) => status.stderr_tail,
        Err(_) => String::new(),
    };
    let said = stderr.trim();
    let detail = if said.is_empty() {
        format!("{e:?}")
    } else {
        said.to_string()
    };
    if said.contains("Permission denied") || said.contains("Too many authentication failures") {
        PluginError::AuthFailed(format!("ssh: {detail}"))
    } else if said.contains("Host key verification failed")
        || said.contains("REMOTE HOST IDENTIFICATION HAS CHANGED")
    {
        PluginError::AuthFailed(format!(
            "ssh: the server's host key is not the configured one: {detail}"
        ))
    } else if said.contains("Connection refused")
        || said.contains("Could not resolve")
        || said.contains("No route to host")
        || said.contains("Connection timed out")
        || said.contains("Connection closed")
    {
        PluginError::Unreachable(format!("ssh: {detail}"))
    } else {
        PluginError::Transient(format!("ssh: {detail}"))
    }
}

/// Fetches the server's host keys, keeps the one whose fingerprint is
/// configured and writes it as the only known host. Returns its type.
fn trust_host_key(cfg: &Config, known_hosts: &str) -> PluginResult<String> {
    let digest = fingerprint_digest(&cfg.host_key_fingerprint)?;
    let port = cfg.port().to_string();
    // ssh-keyscan exits 1 when no server answered: that is a server that
    // is down or unreachable (worth retrying), not a failure of ours.
    let scan = match Command::new("ssh-keyscan")
        .args(["-T", "10", "-t", KEY_TYPES, "-p", &port, &cfg.host])
        .output()
    {
        Ok(text) => text,
        Err(PluginError::Failed(m)) if m.starts_with("ssh-keyscan exited") => String::new(),
        Err(other) => return Err(other),
    };
    if scan.trim().is_empty() {
        return Err(PluginError::Unreachable(format!(
            "{}:{port}: no SSH server answered",
            cfg.host
        )));
    }
    let (kind, blob) = matching_key(&scan, &digest).map_err(|offered| {
        PluginError::AuthFailed(format!(
            "host_key_fingerprint: {}:{port} offers {}, not {}; nothing was sent",
            cfg.host,
            offered.join(", "),
            cfg.host_key_fingerprint
        ))
    })?;
    // The host hands ssh the address it checked in place of the name, so
    // the entry matches any host: this file is private to the call and
    // holds only the key whose fingerprint was configured.
    let host = if cfg.port() == 22 {
        cfg.host.clone()
    } else {
        format!("[{}]:{port}", cfg.host)
    };
    let pattern = if cfg.port() == 22 {
        "*".to_string()
    } else {
        format!("[*]:{port}")
    };
    std::fs::write(known_hosts, format!("{pattern} {kind} {blob}\n"))
        .map_err(|e| PluginError::Failed(format!("{known_hosts}: {e}")))?;
    log::debug(&format!("host key of {host} matches ({kind})"));
    Ok(kind)
}

/// `[sshpass -e [-P passphrase]] ssh … -s HOST sftp`, in the exact
/// argument order the manifest allows.
fn ssh_command(cfg: &Config, auth: &Auth, known_hosts: &str, key_type: &str) -> Command {
    let mut ssh_args: Vec<String> = [
        "-F",
        "/dev/null",
        "-T",
        "-x",
        "-a",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    ssh_args.push(format!("UserKnownHostsFile={known_hosts}"));
    ssh_args.push("-o".into());
    // An RSA key is checked with SHA-2 signatures (`ssh-rsa` means SHA-1,
    // which OpenSSH refuses).
    let algorithms = match key_type {
        "ssh-rsa" => "rsa-sha2-512,rsa-sha2-256",
        other => other,
    };
    ssh_args.push(format!("HostKeyAlgorithms={algorithms}"));
    ssh_args.push("-o".into());
    let batch = matches!(auth, Auth::Key { passphrase: false });
    ssh_args.push(format!("BatchMode={}", if batch { "yes" } else { "no" }));
    ssh_args.push("-o".into());
    ssh_args.push(match auth {
        Auth::Key { .. } => "IdentityFile=${DG_SSH_KEY}".into(),
        Auth::Password => "IdentityFile=none".into(),
    });
    for fixed in [
        "IdentitiesOnly=yes",
        "ConnectTimeout=15",
        "ServerAliveInterval=15",
        "ServerAliveCountMax=4",
    ] {
        ssh_args.push("-o".into());
        ssh_args.push(fixed.into());
    }
    ssh_args.extend([
        "-p".into(),
        cfg.port().to_string(),
        "-l".into(),
        cfg.username.clone(),
        "-s".into(),
        cfg.host.clone(),
        "sftp".into(),
    ]);
    let command = match auth {
        Auth::Key { passphrase: false } => Command::new("ssh").args(ssh_args),
        Auth::Key { passphrase: true } => Command::new("sshpass")
            .args(["-P", "passphrase", "-e", "ssh"])
            .args(ssh_args)
            .secret_env("SSHPASS", "passphrase"),
        Auth::Password => Command::new("sshpass")
            .args(["-e", "ssh"])
            .args(ssh_args)
            .secret_env("SSHPASS", "password"),
    };
    match auth {
        Auth::Key { .. } => command.secret_file("DG_SSH_KEY", "private_key", "{secret}\n", ""),
        Auth::Password => command,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_as_openssh_prints_them() {
        // ssh-keygen -lf of this ed25519 key prints the fingerprint below.
        let blob = "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";
        let fp = fingerprint_of(blob).expect("fingerprint");
        assert!(fp.starts_with("SHA256:") && fp.len() == 7 + 43, "{fp}");
        let scan = format!("# comment\n[h]:2222 ssh-ed25519 {blob}\n");
        let digest = fingerprint_digest(&fp).expect("digest");
        assert_eq!(
            matching_key(&scan, &digest).expect("match").0,
            "ssh-ed25519"
        );
        let other = fingerprint_digest("SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
            .expect("digest");
        let offered = matching_key(&scan, &other).expect_err("no match");
        assert_eq!(offered, [format!("{fp} (ssh-ed25519)")]);
    }

    #[test]
    fn config_fields_are_checked() {
        let cfg = |json: &str| serde_json::from_str::<Config>(json).expect("config");
        let fp = "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        let ok = cfg(&format!(
            r#"{{"host":"nas.lan","username":"backup","path":"/srv/dg","host_key_fingerprint":"{fp}"}}"#
        ));
        assert!(ok.check().is_ok());
        assert_eq!(ok.port(), 22);
        assert_eq!(ok.remote("job/a/b").expect("path"), "/srv/dg/job/a/b");
        assert!(ok.remote("../x").is_err());
        let bad_host = cfg(&format!(
            r#"{{"host":"-oProxyCommand=x","username":"b","path":"/p","host_key_fingerprint":"{fp}"}}"#
        ));
        assert!(
            matches!(bad_host.check(), Err(PluginError::InvalidConfig(m)) if m.starts_with("host:"))
        );
        let bad_fp =
            cfg(r#"{"host":"h","username":"b","path":"/p","host_key_fingerprint":"MD5:aa"}"#);
        assert!(
            matches!(bad_fp.check(), Err(PluginError::InvalidConfig(m)) if m.starts_with("host_key_fingerprint:"))
        );
        let relative = cfg(&format!(
            r#"{{"host":"h","username":"b","path":"srv","host_key_fingerprint":"{fp}"}}"#
        ));
        assert!(
            matches!(relative.check(), Err(PluginError::InvalidConfig(m)) if m.starts_with("path:"))
        );
    }
}
