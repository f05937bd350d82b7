//! Programs spawned on behalf of a plugin.
//!
//! Only granted programs run, with a cleared environment, found on the
//! host's PATH. Stdout and stdin become wasi streams the plugin splices;
//! stderr stays host-side: every line is logged and the tail is returned.
//! Each program leads its own process group, recorded on disk while it
//! runs, so that what it started dies with it and the next start can kill
//! it if the server itself was killed (see `leftovers`).

use crate::call::{CallShared, LogLevel};
use crate::leftovers::{self, ChildRecord};
use crate::pipes::{program_output, Paced};
use crate::streams::ChannelSource;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use tokio::io::AsyncBufReadExt;
use tokio::process::{Child, ChildStdin, Command};
use tokio::task::JoinHandle;

/// Bytes of stderr kept for the error message.
const STDERR_TAIL: usize = 4096;
/// Write budget of a child's stdin stream.
const STDIN_BUDGET: usize = 1 << 20;
/// How often a running program's CPU time is sampled.
const CPU_SAMPLE: std::time::Duration = std::time::Duration::from_secs(5);

/// A running program owned by a plugin call; killed when dropped, with
/// its process group.
pub struct ChildProcess {
    child: Child,
    /// On disk while the program may run; removed after it is gone.
    _record: Option<ChildRecord>,
    /// Secret files the program reads; removed after it is killed.
    _secrets: Option<SecretDir>,
    stdin: Option<ChildStdin>,
    /// The read end of the program's stdout, blocking and never polled
    /// (see `pipes`).
    stdout: Option<std::io::PipeReader>,
    stderr: Option<JoinHandle<String>>,
    heartbeat: Option<JoinHandle<()>>,
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        if let Some(h) = self.heartbeat.take() {
            h.abort();
        }
        // Not waited for yet, so the pid (and group id) is still this
        // program's: whatever it started goes with it.
        if let Some(pid) = self.child.id() {
            leftovers::kill_group(pid);
        }
    }
}

/// What to start.
pub struct SpawnSpec<'a> {
    pub program: &'a str,
    pub args: &'a [String],
    pub env: ResolvedEnv,
    pub stdin: bool,
    pub stdout: bool,
    pub cwd: Option<&'a Path>,
    /// Where the running program is recorded (`leftovers::CHILDREN` of
    /// the scratch root); `None` records nothing.
    pub records: Option<&'a Path>,
}

/// Looks a bare program name up on the host PATH.
pub fn find_program(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

impl ChildProcess {
    pub fn spawn(spec: SpawnSpec<'_>, call: Arc<CallShared>) -> Result<Self, String> {
        let path = find_program(spec.program)
            .ok_or_else(|| format!("program `{}` was not found on the host PATH", spec.program))?;
        // Stdout is a pipe of our own rather than tokio's: tokio would
        // register it with epoll, and a polled pipe wakes its reader on
        // every write (`pipes::program_output`).
        let (stdout, stdout_end) = if spec.stdout {
            let (read, write) = std::io::pipe()
                .map_err(|e| format!("creating a pipe for `{}`: {e}", spec.program))?;
            (Some(read), Stdio::from(write))
        } else {
            (None, Stdio::null())
        };
        let mut cmd = Command::new(&path);
        cmd.args(spec.args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("LC_ALL", "C.UTF-8")
            .envs(spec.env.vars.iter().map(|(k, v)| (k, v)))
            .stdin(if spec.stdin {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(stdout_end)
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .process_group(0)
            .current_dir(spec.cwd.unwrap_or(Path::new("/")));
        let spawned = cmd.spawn();
        // Our copy of the write end goes now, so the output ends when the
        // program (and whatever inherited its stdout) is gone.
        drop(cmd);
        let mut child = spawned.map_err(|e| format!("starting `{}`: {e}", spec.program))?;
        let record = match (spec.records, child.id()) {
            (Some(dir), Some(pid)) => match ChildRecord::create(dir, pid, spec.program) {
                Ok(record) => Some(record),
                Err(e) => {
                    // Unrecorded, a crash would leave it running: stop now.
                    leftovers::kill_group(pid);
                    return Err(format!("recording `{}` as running: {e}", spec.program));
                }
            },
            _ => None,
        };
        let heartbeat = child
            .id()
            .map(|pid| tokio::spawn(cpu_heartbeat(pid, call.clone())));
        let stderr = child.stderr.take().map(|stderr| {
            let program = spec.program.to_string();
            tokio::spawn(collect_stderr(stderr, program, call))
        });
        Ok(Self {
            _record: record,
            _secrets: spec.env.secret_dir,
            stdin: child.stdin.take(),
            stdout,
            stderr,
            heartbeat,
            child,
        })
    }

    pub fn take_stdin(&mut self) -> Option<wasmtime_wasi::p2::pipe::AsyncWriteStream> {
        self.stdin
            .take()
            .map(|s| wasmtime_wasi::p2::pipe::AsyncWriteStream::new(STDIN_BUDGET, Paced::new(s)))
    }

    pub fn take_stdout(&mut self) -> Option<ChannelSource> {
        self.stdout.take().map(|pipe| program_output(pipe.into()))
    }

    /// Waits for exit; returns the exit code (None if signalled) and the
    /// tail of stderr.
    pub async fn wait(&mut self) -> Result<(Option<i32>, String), String> {
        drop(self.stdin.take());
        let status = self
            .child
            .wait()
            .await
            .map_err(|e| format!("waiting for program: {e}"))?;
        let tail = match self.stderr.take() {
            Some(task) => task.await.unwrap_or_default(),
            None => String::new(),
        };
        Ok((status.code(), tail))
    }

    pub fn kill(&mut self) {
        if let Some(pid) = self.child.id() {
            leftovers::kill_group(pid);
        }
        let _ = self.child.start_kill();
    }
}

/// A program that is computing (a long `VACUUM INTO`, a big sort) counts as
/// progress even when no byte moves; one blocked on a lock does not.
async fn cpu_heartbeat(pid: u32, call: Arc<CallShared>) {
    let mut last = None;
    loop {
        tokio::time::sleep(CPU_SAMPLE).await;
        let Some(ticks) = cpu_ticks(pid) else {
            return;
        };
        if last.is_some_and(|prev| ticks > prev) {
            call.activity.touch();
        }
        last = Some(ticks);
    }
}

/// utime + stime of a process, from /proc (Linux).
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may
    // contain spaces: state is field 3, utime 14, stime 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

async fn collect_stderr(
    stderr: tokio::process::ChildStderr,
    program: String,
    call: Arc<CallShared>,
) -> String {
    let mut lines = tokio::io::BufReader::new(stderr).lines();
    let mut tail = String::new();
    while let Ok(Some(line)) = lines.next_line().await {
        call.activity.touch();
        call.log(
            stderr_level(&line),
            format!("{program}: {line}"),
            vec![("stream".into(), "stderr".into())],
        );
        tail.push_str(&line);
        tail.push('\n');
        if tail.len() > STDERR_TAIL * 2 {
            let mut cut = tail.len() - STDERR_TAIL;
            while !tail.is_char_boundary(cut) {
                cut += 1;
            }
            tail.drain(..cut);
        }
    }
    tail
}

/// The level a program's stderr line deserves: database tools write
/// their progress (`pg_dump: dumping contents of table …`), warnings and
/// errors all to stderr, so the words of the line decide, not the stream.
pub fn stderr_level(line: &str) -> LogLevel {
    let lower = line.to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| lower.contains(w));
    if has(&[
        "error",
        "fatal",
        "panic",
        "failed",
        "denied",
        "could not",
        "cannot",
        "can't",
        "no such",
    ]) {
        LogLevel::Error
    } else if has(&["warning", "warn:", "deprecated"]) {
        LogLevel::Warn
    } else {
        LogLevel::Info
    }
}

/// Where a program's environment variable gets its value.
#[derive(Debug, Clone)]
pub enum EnvSource {
    Plain(String),
    /// The named secret's value itself.
    Secret(String),
    /// The path of a private file holding the named secret, rendered into
    /// `template` (`{secret}`) with the characters of `escape` and
    /// backslashes escaped.
    SecretFile {
        secret: String,
        template: String,
        escape: String,
    },
}

/// A directory of secret files for one spawned program, 0700 inside the
/// host's scratch root (outside every plugin's preopens); removed with
/// its files when the program's handle is dropped.
#[derive(Debug)]
pub struct SecretDir(PathBuf);

impl Drop for SecretDir {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.0) {
            tracing::warn!(path = %self.0.display(), "removing a secret file directory: {e}");
        }
    }
}

/// A program's environment with secrets resolved.
#[derive(Debug, Default)]
pub struct ResolvedEnv {
    pub vars: Vec<(String, String)>,
    pub secret_dir: Option<SecretDir>,
}

/// Resolves secret values and writes secret files under `secret_root`.
/// An unknown secret is an error; so is a value a line-based file cannot
/// hold.
pub fn resolve_env(
    env: Vec<(String, EnvSource)>,
    secrets: &HashMap<String, String>,
    secret_root: &Path,
) -> Result<ResolvedEnv, String> {
    let mut out = ResolvedEnv::default();
    let lookup = |name: &str, secret: &str| {
        secrets
            .get(secret)
            .cloned()
            .ok_or_else(|| format!("env `{name}` asks for unknown secret `{secret}`"))
    };
    for (name, source) in env {
        let value = match source {
            EnvSource::Plain(plain) => plain,
            EnvSource::Secret(secret) => lookup(&name, &secret)?,
            EnvSource::SecretFile {
                secret,
                template,
                escape,
            } => {
                let value = lookup(&name, &secret)?;
                // A file that is the secret alone (a private key) may hold
                // several lines; in a structured file (a pgpass line) a
                // line break would inject another entry.
                let whole_file = template.trim_end() == "{secret}";
                if value.contains('\0') || !whole_file && value.contains(['\n', '\r']) {
                    return Err(format!(
                        "secret `{secret}` contains a line break or NUL and cannot be written to a file for `{name}`"
                    ));
                }
                let dir = match &out.secret_dir {
                    Some(d) => d.0.clone(),
                    None => {
                        let d = secret_root.join(uuid::Uuid::new_v4().to_string());
                        dg_core::private::dir(&d)
                            .map_err(|e| format!("creating a secret file directory: {e}"))?;
                        out.secret_dir = Some(SecretDir(d.clone()));
                        d
                    }
                };
                let file = dir.join(format!("{}.secret", out.vars.len()));
                let content = template.replace("{secret}", &escaped(&value, &escape));
                dg_core::private::write_new(&file, content.as_bytes())
                    .map_err(|e| format!("writing the secret file for `{name}`: {e}"))?;
                file.to_string_lossy().into_owned()
            }
        };
        out.vars.push((name, value));
    }
    Ok(out)
}

/// `value` with backslashes and the characters of `escape` escaped.
fn escaped(value: &str, escape: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if c == '\\' || escape.contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn stderr_lines_are_logged_at_the_level_they_deserve() {
        use super::{stderr_level, LogLevel};
        assert_eq!(
            stderr_level("pg_dump: dumping contents of table \"public.album\""),
            LogLevel::Info
        );
        assert_eq!(
            stderr_level("pg_dump: error: connection to server failed"),
            LogLevel::Error
        );
        assert_eq!(
            stderr_level("mysqldump: [Warning] Using a password on the command line"),
            LogLevel::Warn
        );
        assert_eq!(
            stderr_level("FATAL:  password authentication failed"),
            LogLevel::Error
        );
        assert_eq!(
            stderr_level("sqlite3: Error: no such table"),
            LogLevel::Error
        );
    }

    use super::*;

    #[test]
    fn reads_cpu_time_of_a_live_process() {
        assert!(cpu_ticks(std::process::id()).is_some());
        assert!(cpu_ticks(u32::MAX).is_none());
    }

    #[test]
    fn secrets_resolve_by_name_only() {
        let root = tempfile::tempdir().unwrap();
        let secrets = HashMap::from([("password".to_string(), "s3:c\\ret".to_string())]);
        let env = vec![
            (
                "PGPASSWORD".to_string(),
                EnvSource::Secret("password".into()),
            ),
            ("PGAPPNAME".to_string(), EnvSource::Plain("dg".into())),
        ];
        let resolved = resolve_env(env, &secrets, root.path()).expect("known secret");
        assert_eq!(resolved.vars[0], ("PGPASSWORD".into(), "s3:c\\ret".into()));
        assert!(resolved.secret_dir.is_none());
        let unknown = resolve_env(
            vec![("X".into(), EnvSource::Secret("token".into()))],
            &secrets,
            root.path(),
        );
        assert!(unknown.unwrap_err().contains("unknown secret `token`"));
    }

    #[test]
    fn secret_files_are_private_escaped_and_removed() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        let secrets = HashMap::from([
            ("password".to_string(), "s3:c\\ret".to_string()),
            ("multi".to_string(), "a\nb".to_string()),
        ]);
        let env = vec![(
            "PGPASSFILE".to_string(),
            EnvSource::SecretFile {
                secret: "password".into(),
                template: "*:*:*:*:{secret}\n".into(),
                escape: ":".into(),
            },
        )];
        let resolved = resolve_env(env, &secrets, root.path()).expect("resolved");
        let file = PathBuf::from(&resolved.vars[0].1);
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            "*:*:*:*:s3\\:c\\\\ret\n"
        );
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&file), 0o600);
        assert_eq!(mode(file.parent().unwrap()), 0o700);
        drop(resolved);
        assert!(!file.exists(), "removed with the program's handle");
        let bad = vec![(
            "F".to_string(),
            EnvSource::SecretFile {
                secret: "multi".into(),
                template: "*:{secret}".into(),
                escape: String::new(),
            },
        )];
        assert!(resolve_env(bad, &secrets, root.path())
            .unwrap_err()
            .contains("line break"));
    }
}
