//! Spawning granted programs on the host.
//!
//! Secrets never enter the plugin: [`Command::secret_file`] (preferred) and
//! [`Command::secret_env`] name a secret and the host puts its value where
//! the program reads it when it starts the program.

use crate::bindings::dataguardian::plugin::process as wit;
use crate::io::StreamReader;
use crate::{InputStream, OutputStream, PluginError, PluginResult};
use std::io::Read;

/// A program invocation, built up then [`spawn`](Command::spawn)ed.
pub struct Command {
    inner: wit::Command,
}

impl Command {
    /// A command running `program` with no arguments, no environment,
    /// empty stdin and discarded stdout. The manifest must name `program`
    /// and the operator grant it, or [`spawn`](Command::spawn) fails.
    pub fn new(program: &str) -> Self {
        Self {
            inner: wit::Command {
                program: program.to_string(),
                args: Vec::new(),
                env: Vec::new(),
                stdin: false,
                stdout: false,
            },
        }
    }

    /// Appends one argument, passed as is (no shell).
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.inner.args.push(arg.into());
        self
    }

    /// Appends several arguments, in order.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.inner.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets the environment variable `name` to a plain `value`. Not for
    /// secrets: use [`Command::secret_file`] or [`Command::secret_env`].
    pub fn env(mut self, name: &str, value: impl Into<String>) -> Self {
        self.inner.env.push(wit::EnvVar {
            name: name.to_string(),
            value: wit::EnvValue::Plain(value.into()),
        });
        self
    }

    /// Sets `name` to the value of the host-held secret `secret`. Other
    /// processes of the same user can read it from `/proc/PID/environ`:
    /// use [`Command::secret_file`] when the program reads files.
    pub fn secret_env(mut self, name: &str, secret: &str) -> Self {
        self.inner.env.push(wit::EnvVar {
            name: name.to_string(),
            value: wit::EnvValue::Secret(secret.to_string()),
        });
        self
    }

    /// Sets `name` to the path of a file the host writes from `template`,
    /// with `{secret}` replaced by the secret's value (each character of
    /// `escape`, and any backslash, escaped with a backslash). The file is
    /// 0600, out of the plugin's reach, and gone once the program is;
    /// unlike an environment variable it is not readable in
    /// `/proc/PID/environ`. For libpq: `secret_file("PGPASSFILE",
    /// "password", "*:*:*:*:{secret}\n", ":")`.
    pub fn secret_file(mut self, name: &str, secret: &str, template: &str, escape: &str) -> Self {
        self.inner.env.push(wit::EnvVar {
            name: name.to_string(),
            value: wit::EnvValue::SecretFile(wit::SecretFile {
                secret: secret.to_string(),
                template: template.to_string(),
                escape: escape.to_string(),
            }),
        });
        self
    }

    /// Pipes stdin so the plugin can feed the program.
    pub fn piped_stdin(mut self) -> Self {
        self.inner.stdin = true;
        self
    }

    /// Pipes stdout so the plugin can take it.
    pub fn piped_stdout(mut self) -> Self {
        self.inner.stdout = true;
        self
    }

    /// The program this command runs.
    pub fn program(&self) -> &str {
        &self.inner.program
    }

    /// Starts the program on the host. Fails when the manifest does not
    /// name it or the operator did not grant it.
    pub fn spawn(self) -> PluginResult<Child> {
        let program = self.inner.program.clone();
        let inner = wit::spawn(&self.inner)?;
        Ok(Child { inner, program })
    }

    /// Runs to completion and returns stdout as text. For small outputs
    /// (queries, version strings), never for data.
    pub fn output(self) -> PluginResult<String> {
        let child = self.piped_stdout().spawn()?;
        let mut text = String::new();
        if let Some(stdout) = child.take_stdout() {
            StreamReader::new(&stdout)
                .read_to_string(&mut text)
                .map_err(|e| PluginError::Failed(format!("reading output: {e}")))?;
        }
        child.wait_success()?;
        Ok(text)
    }

    /// Runs the program with its stdout spliced host-side into `sink` (a
    /// dump into a backup), and returns the bytes moved. When the stream
    /// fails the program is killed and the error says why (its stderr
    /// when it had given up first); a non-zero exit is an error carrying
    /// stderr.
    pub fn pipe_to(self, sink: &OutputStream) -> PluginResult<u64> {
        let child = self.piped_stdout().spawn()?;
        let stdout = child
            .take_stdout()
            .ok_or_else(|| PluginError::Failed(format!("{}: no stdout", child.program)))?;
        let moved = crate::io::pipe(&stdout, sink).map_err(|e| child.abort(e))?;
        drop(stdout);
        child.wait_success()?;
        Ok(moved)
    }

    /// Runs the program with `source` spliced host-side into its stdin (a
    /// backup into a restore tool), closes stdin at the end, and waits; the
    /// same error rules as [`Command::pipe_to`].
    pub fn feed_from(self, source: &InputStream) -> PluginResult<u64> {
        let child = self.piped_stdin().spawn()?;
        let stdin = child
            .take_stdin()
            .ok_or_else(|| PluginError::Failed(format!("{}: no stdin", child.program)))?;
        let moved = crate::io::pipe(source, &stdin).map_err(|e| child.abort(e))?;
        drop(stdin);
        child.wait_success()?;
        Ok(moved)
    }
}

/// The kind a failure is given by [`classify`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Wrong credentials: the operator fixes the secret.
    AuthFailed,
    /// The server cannot be reached: address, port, network.
    Unreachable,
    /// It answered too late.
    Timeout,
    /// The database, bucket or path does not exist.
    NotFound,
    /// The account may not do this.
    PermissionDenied,
    /// Worth trying again later (the host retries only these).
    Transient,
}

/// Gives a program's failure (a [`PluginError::Failed`] carrying its
/// stderr, as [`Child::wait_success`] makes) the kind of the first rule
/// whose text its message contains, ignoring case; other errors and
/// unmatched messages are returned as they are.
///
/// ```
/// use dataguardian_plugin_sdk::process::{classify, Kind};
/// use dataguardian_plugin_sdk::PluginError;
/// let e = PluginError::Failed("mydb-dump: FATAL: password authentication failed".into());
/// let e = classify(e, &[("password authentication failed", Kind::AuthFailed),
///                       ("could not connect", Kind::Unreachable)]);
/// assert!(matches!(e, PluginError::AuthFailed(_)));
/// ```
pub fn classify(e: PluginError, rules: &[(&str, Kind)]) -> PluginError {
    let PluginError::Failed(message) = e else {
        return e;
    };
    let lower = message.to_lowercase();
    match rules
        .iter()
        .find(|(text, _)| lower.contains(&text.to_lowercase()))
    {
        Some((_, Kind::AuthFailed)) => PluginError::AuthFailed(message),
        Some((_, Kind::Unreachable)) => PluginError::Unreachable(message),
        Some((_, Kind::Timeout)) => PluginError::Timeout(message),
        Some((_, Kind::NotFound)) => PluginError::NotFound(message),
        Some((_, Kind::PermissionDenied)) => PluginError::PermissionDenied(message),
        Some((_, Kind::Transient)) => PluginError::Transient(message),
        None => PluginError::Failed(message),
    }
}

/// A running program.
pub struct Child {
    inner: wit::Child,
    program: String,
}

/// How a program ended.
pub type ExitStatus = wit::ExitStatus;

impl Child {
    /// The program's stdout, the first time only; `None` after that or
    /// when stdout was not piped ([`Command::piped_stdout`]).
    pub fn take_stdout(&self) -> Option<InputStream> {
        self.inner.take_stdout()
    }

    /// The program's stdin, the first time only; `None` after that or
    /// when stdin was not piped ([`Command::piped_stdin`]). Drop it once
    /// fed so the program sees the end of its input.
    pub fn take_stdin(&self) -> Option<OutputStream> {
        self.inner.take_stdin()
    }

    /// Waits for the program to exit and returns its exit code (`None`
    /// when killed by a signal) and the tail of its stderr. A non-zero
    /// exit is not an error here; see [`Child::wait_success`]. Stdin is
    /// closed first if it was never taken.
    pub fn wait(&self) -> PluginResult<ExitStatus> {
        self.inner.wait()
    }

    /// Kills the program (and the processes it started); [`Child::wait`]
    /// then returns how it ended.
    pub fn kill(&self) {
        self.inner.kill()
    }

    /// Stops the program after feeding it or reading from it failed with
    /// `e`, and returns the error worth reporting: a program that had
    /// already given up (a broken pipe on our side) said why on stderr
    /// (`relation "x" already exists`), which beats the pipe error.
    pub fn abort(&self, e: PluginError) -> PluginError {
        self.kill();
        match self.wait() {
            Ok(status) if !status.stderr_tail.trim().is_empty() => PluginError::Failed(format!(
                "{} failed: {} (the data stream stopped: {})",
                self.program,
                status.stderr_tail.trim(),
                error_text(&e)
            )),
            _ => e,
        }
    }

    /// Waits and turns a non-zero exit into an error carrying stderr.
    pub fn wait_success(&self) -> PluginResult<ExitStatus> {
        let status = self.wait()?;
        match status.code {
            Some(0) => Ok(status),
            code => Err(PluginError::Failed(describe_failure(
                &self.program,
                code,
                &status.stderr_tail,
            ))),
        }
    }
}

fn error_text(e: &PluginError) -> String {
    match e {
        PluginError::InvalidConfig(m)
        | PluginError::AuthFailed(m)
        | PluginError::Unreachable(m)
        | PluginError::Timeout(m)
        | PluginError::NotFound(m)
        | PluginError::PermissionDenied(m)
        | PluginError::Unsupported(m)
        | PluginError::Transient(m)
        | PluginError::Failed(m) => m.clone(),
    }
}

/// "pg_dump exited with code 1: <stderr>".
pub fn describe_failure(program: &str, code: Option<i32>, stderr: &str) -> String {
    let how = match code {
        Some(c) => format!("exited with code {c}"),
        None => "was killed by a signal".to_string(),
    };
    let stderr = stderr.trim();
    if stderr.is_empty() {
        format!("{program} {how}")
    } else {
        format!("{program} {how}: {stderr}")
    }
}
