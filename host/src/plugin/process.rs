//! Programs spawned on behalf of a plugin.
//!
//! Only granted programs run, with a cleared environment, found on the
//! host's PATH. Stdout and stdin become wasi streams the plugin splices;
//! stderr stays host-side: every line is logged and the tail is returned.

use super::call::{CallShared, LogLevel};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use tokio::io::AsyncBufReadExt;
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::task::JoinHandle;

/// Bytes of stderr kept for the error message.
const STDERR_TAIL: usize = 4096;
/// Write budget of a child's stdin stream.
const STDIN_BUDGET: usize = 1 << 20;
/// How often a running program's CPU time is sampled.
const CPU_SAMPLE: std::time::Duration = std::time::Duration::from_secs(5);

/// A running program owned by a plugin call; killed when dropped.
pub struct ChildProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Option<ChildStdout>,
    stderr: Option<JoinHandle<String>>,
    heartbeat: Option<JoinHandle<()>>,
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        if let Some(h) = self.heartbeat.take() {
            h.abort();
        }
    }
}

/// What to start.
pub struct SpawnSpec<'a> {
    pub program: &'a str,
    pub args: &'a [String],
    pub env: Vec<(String, String)>,
    pub stdin: bool,
    pub stdout: bool,
    pub cwd: Option<&'a Path>,
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
        let mut cmd = Command::new(&path);
        cmd.args(spec.args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("LC_ALL", "C.UTF-8")
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .stdin(if spec.stdin {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(if spec.stdout {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .current_dir(spec.cwd.unwrap_or(Path::new("/")));
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("starting `{}`: {e}", spec.program))?;
        let heartbeat = child
            .id()
            .map(|pid| tokio::spawn(cpu_heartbeat(pid, call.clone())));
        let stderr = child.stderr.take().map(|stderr| {
            let program = spec.program.to_string();
            tokio::spawn(collect_stderr(stderr, program, call))
        });
        Ok(Self {
            stdin: child.stdin.take(),
            stdout: child.stdout.take(),
            stderr,
            heartbeat,
            child,
        })
    }

    pub fn take_stdin(&mut self) -> Option<wasmtime_wasi::p2::pipe::AsyncWriteStream> {
        self.stdin
            .take()
            .map(|s| wasmtime_wasi::p2::pipe::AsyncWriteStream::new(STDIN_BUDGET, s))
    }

    pub fn take_stdout(&mut self) -> Option<wasmtime_wasi::p2::pipe::AsyncReadStream> {
        self.stdout
            .take()
            .map(wasmtime_wasi::p2::pipe::AsyncReadStream::new)
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
            LogLevel::Info,
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

/// Resolves `secret(name)` env values; an unknown secret is an error.
pub fn resolve_env(
    env: Vec<(String, Result<String, String>)>,
    secrets: &HashMap<String, String>,
) -> Result<Vec<(String, String)>, String> {
    env.into_iter()
        .map(|(name, value)| match value {
            Ok(plain) => Ok((name, plain)),
            Err(secret) => secrets
                .get(&secret)
                .map(|v| (name.clone(), v.clone()))
                .ok_or_else(|| format!("env `{name}` asks for unknown secret `{secret}`")),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cpu_time_of_a_live_process() {
        assert!(cpu_ticks(std::process::id()).is_some());
        assert!(cpu_ticks(u32::MAX).is_none());
    }

    #[test]
    fn secrets_resolve_by_name_only() {
        let secrets = HashMap::from([("password".to_string(), "s3cret".to_string())]);
        let env = vec![
            ("PGPASSWORD".to_string(), Err("password".to_string())),
            ("PGAPPNAME".to_string(), Ok("dg".to_string())),
        ];
        let resolved = resolve_env(env, &secrets).expect("known secret");
        assert_eq!(resolved[0], ("PGPASSWORD".into(), "s3cret".into()));
        let unknown = resolve_env(vec![("X".into(), Err("token".into()))], &secrets);
        assert!(unknown.unwrap_err().contains("unknown secret `token`"));
    }
}
