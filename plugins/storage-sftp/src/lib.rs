//! SFTP storage (type `ssh`): a directory on an SSH server.
//!
//! SSH itself runs on the host (OpenSSH's `ssh -s … sftp`, argument by
//! argument as the manifest allows, reaching only the configured host and
//! port); this plugin checks the server's host key against the configured
//! fingerprint and speaks SFTP over the program's stdin/stdout. Uploads go
//! to a temporary name and are renamed once complete.

mod session;
mod sftp;

use dataguardian_plugin_sdk::bindings::dataguardian::plugin::progress;
use dataguardian_plugin_sdk::io::{self, StreamReader};
use dataguardian_plugin_sdk::{
    config, export_storage, health, CallContext, HealthReport, InputStream, ObjectInfo,
    OutputStream, PluginError, PluginInfo, PluginKind, PluginResult, Storage,
};
use session::{Config, Session};
use std::io::Read;
use std::time::Instant;

const SCHEMA: &str = r#"{"type":"object","required":["host","username","path","host_key_fingerprint"],"additionalProperties":false,"properties":{
"host":{"type":"string","description":"SSH server host name or address"},
"port":{"type":"integer","minimum":1,"maximum":65535,"default":22},
"username":{"type":"string"},
"password":{"type":"string","writeOnly":true,"description":"Password authentication (or private_key)"},
"private_key":{"type":"string","writeOnly":true,"description":"OpenSSH private key (PEM text)"},
"passphrase":{"type":"string","writeOnly":true,"description":"Passphrase of private_key"},
"path":{"type":"string","description":"Absolute directory on the server; must exist"},
"host_key_fingerprint":{"type":"string","pattern":"^SHA256:[A-Za-z0-9+/]{43}=?$","description":"As `ssh-keygen -lf` prints it; other host keys are refused"}}}"#;

/// Progress is reported (and cancellation checked) this often.
const REPORT_EVERY: u64 = 16 << 20;

struct Sftp;

fn object(key: &str, attrs: &sftp::Attrs) -> ObjectInfo {
    ObjectInfo {
        key: key.trim_matches('/').to_string(),
        size: if attrs.is_dir() {
            0
        } else {
            attrs.size.unwrap_or(0)
        },
        modified: attrs.mtime.map(u64::from),
        is_dir: attrs.is_dir(),
    }
}

fn parent_and_name(path: &str) -> (&str, &str) {
    match path.rsplit_once('/') {
        Some(("", name)) => ("/", name),
        Some((parent, name)) => (parent, name),
        None => (".", path),
    }
}

impl Sftp {
    /// Creates the directories between the storage root (which must exist)
    /// and `dir`.
    fn make_dirs(s: &mut Session, dir: &str) -> PluginResult<()> {
        let root = match s.cfg.path.trim_end_matches('/') {
            "" => "/".to_string(),
            trimmed => trimmed.to_string(),
        };
        match s.client.stat(&root) {
            Ok(a) if a.is_dir() => {}
            Ok(_) => return Err(PluginError::InvalidConfig(format!("path: {root} is not a directory on the server"))),
            Err(e) if e.is_missing() => {
                return Err(PluginError::NotFound(format!(
                    "path: {root} does not exist on the server; storage roots are never created implicitly"
                )))
            }
            Err(e) => return Err(s.error(&root, e)),
        }
        let Some(below) = dir.strip_prefix(&root) else {
            return Ok(());
        };
        let mut current = root.trim_end_matches('/').to_string();
        for part in below.split('/').filter(|p| !p.is_empty()) {
            current = format!("{current}/{part}");
            match s.client.mkdir(&current) {
                Ok(()) => {}
                Err(e) => match s.client.stat(&current) {
                    Ok(a) if a.is_dir() => {}
                    _ => return Err(s.error(&format!("creating {current}"), e)),
                },
            }
        }
        Ok(())
    }

    /// Writes `source` to `path` through a temporary name.
    fn upload(s: &mut Session, path: &str, source: &mut dyn Read) -> PluginResult<u64> {
        let (parent, name) = parent_and_name(path);
        Self::make_dirs(s, parent)?;
        let temp = format!("{parent}/.{name}.dg-partial");
        let outcome = Self::write_file(s, &temp, source).and_then(|n| {
            s.client
                .rename(&temp, path)
                .map_err(|e| s.error(&format!("renaming {temp} to {path}"), e))?;
            Ok(n)
        });
        if outcome.is_err() {
            if let Err(e) = s.client.remove(&temp) {
                if !e.is_missing() {
                    dataguardian_plugin_sdk::log::warn(&format!("could not remove {temp}: {e:?}"));
                }
            }
        }
        outcome
    }

    fn write_file(s: &mut Session, path: &str, source: &mut dyn Read) -> PluginResult<u64> {
        // (see `write_error` for how a full disk is told apart)
        let flags = sftp::OPEN_WRITE | sftp::OPEN_CREATE | sftp::OPEN_TRUNCATE;
        let handle = s
            .client
            .open(path, flags)
            .map_err(|e| s.error(&format!("creating {path}"), e))?;
        let mut buf = vec![0u8; sftp::MAX_DATA];
        let mut offset = 0u64;
        let mut next_report = REPORT_EVERY;
        let written = loop {
            let n = match io::read_full(source, &mut buf) {
                Ok(n) => n,
                Err(e) => break Err(e),
            };
            if n == 0 {
                break Ok(offset);
            }
            if let Err(e) = s.client.write(&handle, offset, &buf[..n]) {
                break Err(write_error(s, path, offset, n, e));
            }
            offset += n as u64;
            if offset >= next_report {
                next_report = offset + REPORT_EVERY;
                progress::report(offset, None);
                if progress::cancelled() {
                    break Err(PluginError::Failed("cancelled".into()));
                }
            }
        };
        let synced = s
            .client
            .fsync(&handle)
            .map_err(|e| s.error(&format!("syncing {path}"), e));
        let closed = s
            .client
            .close(&handle)
            .map_err(|e| s.error(&format!("closing {path}"), e));
        let n = written?;
        synced?;
        closed?;
        progress::report(n, None);
        Ok(n)
    }

    /// Streams `length` bytes (all with `None`) of `path` from `offset`
    /// into `each`.
    fn read_file(
        s: &mut Session,
        path: &str,
        offset: u64,
        length: Option<u64>,
        each: &mut dyn FnMut(&[u8]) -> PluginResult<()>,
    ) -> PluginResult<u64> {
        let handle = s.client.open(path, sftp::OPEN_READ).map_err(|e| match e {
            e if e.is_missing() => PluginError::NotFound(format!("{path}: not found")),
            e => s.error(&format!("opening {path}"), e),
        })?;
        let mut done = 0u64;
        let outcome = loop {
            let want = match length {
                Some(total) if done >= total => break Ok(done),
                Some(total) => (total - done).min(sftp::MAX_DATA as u64) as u32,
                None => sftp::MAX_DATA as u32,
            };
            let data = match s.client.read(&handle, offset + done, want) {
                Ok(d) => d,
                Err(e) => break Err(s.error(&format!("reading {path}"), e)),
            };
            if data.is_empty() {
                break Ok(done);
            }
            if let Err(e) = each(&data) {
                break Err(e);
            }
            done += data.len() as u64;
        };
        let closed = s.client.close(&handle);
        let done = outcome?;
        closed.map_err(|e| s.error(&format!("closing {path}"), e))?;
        Ok(done)
    }

    fn remove_tree(s: &mut Session, path: &str) -> PluginResult<()> {
        let entries = s
            .client
            .list(path)
            .map_err(|e| s.error(&format!("listing {path}"), e))?;
        for (name, attrs) in entries {
            let child = format!("{path}/{name}");
            if attrs.is_dir() {
                Self::remove_tree(s, &child)?;
            } else {
                s.client
                    .remove(&child)
                    .map_err(|e| s.error(&format!("deleting {child}"), e))?;
            }
        }
        s.client
            .rmdir(path)
            .map_err(|e| s.error(&format!("deleting {path}"), e))
    }
}

impl Storage for Sftp {
    fn info() -> PluginInfo {
        PluginInfo {
            id: "sftp".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind: PluginKind::Storage,
            provides: vec!["ssh".into()],
            artifact_format: None,
            description: "A directory on an SSH server, over SFTP".into(),
            config_schema: SCHEMA.into(),
        }
    }

    fn validate_config(text: &str) -> PluginResult<()> {
        config::parse_json::<Config>(text)?.check()
    }

    /// Connects (host key checked), checks the root is a directory and
    /// reports its free space where the server tells it.
    fn health_check(ctx: &CallContext) -> HealthReport {
        let started = Instant::now();
        let outcome = Session::open(ctx).and_then(|mut s| {
            let root = s.cfg.remote("")?;
            let attrs = s.client.stat(&root).map_err(|e| match e {
                e if e.is_missing() => {
                    PluginError::NotFound(format!("path: {root} does not exist on the server"))
                }
                e => s.error(&root, e),
            })?;
            if !attrs.is_dir() {
                return Err(PluginError::InvalidConfig(format!(
                    "path: {root} is not a directory"
                )));
            }
            let mut metadata = vec![health::kv("path", &root)];
            if let Some(space) = s.client.space(&root).map_err(|e| s.error("statvfs", e))? {
                metadata.push(health::kv("available_bytes", space.available_bytes));
                metadata.push(health::kv("total_bytes", space.total_bytes));
            }
            s.close();
            Ok((None, metadata))
        });
        health::report(started, outcome)
    }

    fn put(
        ctx: &CallContext,
        key: &str,
        source: &InputStream,
        _size_hint: Option<u64>,
    ) -> PluginResult<u64> {
        let mut s = Session::open(ctx)?;
        let path = s.cfg.remote(key)?;
        let n = Self::upload(&mut s, &path, &mut StreamReader::new(source))?;
        s.close();
        Ok(n)
    }

    fn get(
        ctx: &CallContext,
        key: &str,
        sink: &OutputStream,
        offset: u64,
        length: Option<u64>,
    ) -> PluginResult<u64> {
        let mut s = Session::open(ctx)?;
        let path = s.cfg.remote(key)?;
        let n = Self::read_file(&mut s, &path, offset, length, &mut |data| {
            io::write_all(sink, data)
        })?;
        s.close();
        Ok(n)
    }

    fn list(ctx: &CallContext, prefix: &str) -> PluginResult<Vec<ObjectInfo>> {
        let mut s = Session::open(ctx)?;
        let dir = s.cfg.remote(prefix)?;
        let base = prefix.trim_matches('/');
        let entries = match s.client.list(&dir) {
            Ok(entries) => entries,
            Err(e) if e.is_missing() => Vec::new(),
            Err(e) => return Err(s.error(&format!("listing {dir}"), e)),
        };
        let mut out: Vec<ObjectInfo> = entries
            .iter()
            .filter(|(name, _)| !name.ends_with(".dg-partial"))
            .map(|(name, attrs)| {
                let key = if base.is_empty() {
                    name.clone()
                } else {
                    format!("{base}/{name}")
                };
                object(&key, attrs)
            })
            .collect();
        out.sort_by(|a, b| a.key.cmp(&b.key));
        s.close();
        Ok(out)
    }

    fn stat(ctx: &CallContext, key: &str) -> PluginResult<Option<ObjectInfo>> {
        let mut s = Session::open(ctx)?;
        let path = s.cfg.remote(key)?;
        let found = match s.client.stat(&path) {
            Ok(attrs) => Some(object(key, &attrs)),
            Err(e) if e.is_missing() => None,
            Err(e) => return Err(s.error(&format!("reading {path}"), e)),
        };
        s.close();
        Ok(found)
    }

    fn delete(ctx: &CallContext, key: &str) -> PluginResult<()> {
        let mut s = Session::open(ctx)?;
        let path = s.cfg.remote(key)?;
        if path.trim_end_matches('/') == s.cfg.path.trim_end_matches('/') {
            return Err(PluginError::InvalidConfig(
                "key: refusing to delete the storage root".into(),
            ));
        }
        match s.client.stat(&path) {
            Ok(attrs) if attrs.is_dir() => Self::remove_tree(&mut s, &path)?,
            Ok(_) => s
                .client
                .remove(&path)
                .map_err(|e| s.error(&format!("deleting {path}"), e))?,
            Err(e) if e.is_missing() => {}
            Err(e) => return Err(s.error(&format!("reading {path}"), e)),
        }
        s.close();
        Ok(())
    }

    /// SFTP has no server-side copy everywhere: the bytes go through this
    /// plugin, one packet at a time, over two sessions.
    fn copy(ctx: &CallContext, from: &str, to: &str) -> PluginResult<()> {
        let mut reader_session = Session::open(ctx)?;
        let mut writer_session = Session::open(ctx)?;
        let source = reader_session.cfg.remote(from)?;
        let target = writer_session.cfg.remote(to)?;
        let handle = reader_session
            .client
            .open(&source, sftp::OPEN_READ)
            .map_err(|e| match e {
                e if e.is_missing() => PluginError::NotFound(format!("{source}: not found")),
                e => reader_session.error(&format!("opening {source}"), e),
            })?;
        let mut reader = SessionReader {
            session: &mut reader_session,
            handle: &handle,
            offset: 0,
        };
        let copied = Self::upload(&mut writer_session, &target, &mut reader);
        let closed = reader_session.client.close(&handle);
        copied?;
        closed.map_err(|e| reader_session.error(&format!("closing {source}"), e))?;
        reader_session.close();
        writer_session.close();
        Ok(())
    }

    fn rename(ctx: &CallContext, from: &str, to: &str) -> PluginResult<()> {
        let mut s = Session::open(ctx)?;
        let (source, target) = (s.cfg.remote(from)?, s.cfg.remote(to)?);
        Self::make_dirs(&mut s, parent_and_name(&target).0)?;
        s.client
            .rename(&source, &target)
            .map_err(|e| s.error(&format!("renaming {source} to {target}"), e))?;
        s.close();
        Ok(())
    }
}

/// `Read` over a file open in a session, one READ request per call.
struct SessionReader<'a> {
    session: &'a mut Session,
    handle: &'a [u8],
    offset: u64,
}

impl Read for SessionReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let want = buf.len().min(sftp::MAX_DATA) as u32;
        let data = self
            .session
            .client
            .read(self.handle, self.offset, want)
            .map_err(|e| std::io::Error::other(format!("{e:?}")))?;
        buf[..data.len()].copy_from_slice(&data);
        self.offset += data.len() as u64;
        Ok(data.len())
    }
}

export_storage!(Sftp);
/// The error of a failed write. SFTP version 3 (OpenSSH) reports a full
/// disk as the generic `Failure`; when the server offers
/// `statvfs@openssh.com`, its free space tells a full disk apart, so the
/// error says so instead of "Failure".
fn write_error(
    s: &mut Session,
    path: &str,
    offset: u64,
    len: usize,
    e: sftp::Error,
) -> PluginError {
    let what = format!("writing {path} at byte {offset}");
    if matches!(e, sftp::Error::Status { code, .. } if code == sftp::Error::FAILURE) {
        let dir = path
            .rsplit_once('/')
            .map_or("/", |(d, _)| if d.is_empty() { "/" } else { d });
        if let Ok(Some(space)) = s.client.space(dir) {
            if space.available_bytes < len as u64 {
                return PluginError::Failed(format!(
                    "{what}: the SFTP server's disk is full ({} bytes free)",
                    space.available_bytes
                ));
            }
        }
    }
    s.error(&what, e)
}
