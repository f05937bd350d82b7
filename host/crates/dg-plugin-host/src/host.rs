//! The store data of a plugin call and the host imports it implements.

use crate::bindings::host_world::dataguardian::plugin::{
    file_modes, log, mail, process, progress, types,
};
use crate::call::{CallShared, LogLevel};
use crate::egress::EgressPolicy;
use crate::grant::CallCapabilities;
use crate::http::HttpGate;
use crate::process::{resolve_env, ChildProcess, EnvSource, SpawnSpec};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use wasmtime::component::{Resource, ResourceTable};
use wasmtime::ResourceLimiter;
use wasmtime_wasi::p2::{DynInputStream, DynOutputStream};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// Caps linear memory; a plugin asking for more traps with a message that
/// names the limit.
pub struct MemoryCap {
    pub max_bytes: usize,
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_bytes {
            wasmtime::bail!(
                "plugin exceeded its memory limit of {} MiB",
                self.max_bytes >> 20
            );
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

/// Everything a call's store holds.
pub struct HostState {
    pub wasi: WasiCtx,
    pub http: WasiHttpCtx,
    pub http_gate: HttpGate,
    pub table: ResourceTable,
    pub memory: MemoryCap,
    pub call: Arc<CallShared>,
    pub caps: Arc<CallCapabilities>,
    pub secrets: Arc<HashMap<String, String>>,
    pub scratch: Option<PathBuf>,
    /// Where secret files for spawned programs are written: outside every
    /// directory the plugin can open.
    pub secret_root: PathBuf,
    /// Where running programs are recorded, for the next start to kill
    /// them should this process be killed.
    pub children_root: PathBuf,
    /// Extra CA certificates (PEM files) trusted for SMTP TLS.
    pub smtp_roots: Arc<[PathBuf]>,
    /// Where the call's connections may go.
    pub egress: Arc<EgressPolicy>,
    /// Who the server runs as, for the owners `file-modes` may give.
    pub owners: crate::modes::Owners,
    /// The call's granted directories with the handles they were opened
    /// and checked by.
    pub granted: Vec<crate::dirs::GrantedDir>,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.http_gate,
        }
    }
}

impl types::Host for HostState {}
impl crate::bindings::next::types::Host for HostState {}

impl log::Host for HostState {
    async fn log(
        &mut self,
        level: log::Level,
        message: String,
        fields: Vec<types::Kv>,
    ) -> wasmtime::Result<()> {
        let level = match level {
            log::Level::Trace => LogLevel::Trace,
            log::Level::Debug => LogLevel::Debug,
            log::Level::Info => LogLevel::Info,
            log::Level::Warn => LogLevel::Warn,
            log::Level::Error => LogLevel::Error,
        };
        let fields = fields.into_iter().map(|kv| (kv.key, kv.value)).collect();
        self.call.log(level, message, fields);
        Ok(())
    }
}

impl progress::Host for HostState {
    async fn report(&mut self, _done: u64, _total: Option<u64>) -> wasmtime::Result<()> {
        self.call.activity.report();
        Ok(())
    }

    async fn cancelled(&mut self) -> wasmtime::Result<bool> {
        Ok(self.call.cancelled.load(Ordering::Relaxed))
    }
}

impl mail::Host for HostState {
    async fn send(
        &mut self,
        server: mail::SmtpServer,
        message: mail::MailMessage,
    ) -> wasmtime::Result<Result<(), types::PluginError>> {
        let cx = crate::mail::MailContext {
            caps: &self.caps,
            secrets: &self.secrets,
            call: &self.call,
            extra_roots: &self.smtp_roots,
            egress: &self.egress,
        };
        Ok(crate::mail::send(cx, server, message).await)
    }
}

impl file_modes::Host for HostState {
    async fn stat(
        &mut self,
        path: String,
    ) -> wasmtime::Result<Result<file_modes::FileMode, types::PluginError>> {
        let outcome = crate::modes::stat(&self.granted, self.caps.file_modes, &path);
        Ok(outcome
            .map(|m| file_modes::FileMode {
                mode: m.mode,
                uid: m.uid,
                gid: m.gid,
            })
            .map_err(|e| self.mode_error(e)))
    }

    async fn set(
        &mut self,
        path: String,
        recorded: file_modes::FileMode,
    ) -> wasmtime::Result<Result<u32, types::PluginError>> {
        let recorded = crate::modes::FileMode {
            mode: recorded.mode,
            uid: recorded.uid,
            gid: recorded.gid,
        };
        let outcome = crate::modes::set(
            &self.granted,
            self.caps.file_modes,
            &mut self.owners,
            &path,
            recorded,
        );
        Ok(outcome.map_err(|e| self.mode_error(e)))
    }
}

impl HostState {
    /// A `file-modes` failure as the plugin sees it; refusals are also
    /// recorded as sandbox denials of the call.
    fn mode_error(&self, e: crate::modes::ModeError) -> types::PluginError {
        let message = e.to_string();
        if e.is_denial() {
            self.call.deny(message.clone());
            return types::PluginError::PermissionDenied(message);
        }
        match e {
            crate::modes::ModeError::NotFound(_) => types::PluginError::NotFound(message),
            _ => types::PluginError::Failed(message),
        }
    }
}

impl process::Host for HostState {
    async fn spawn(
        &mut self,
        cmd: process::Command,
    ) -> wasmtime::Result<Result<Resource<ChildProcess>, types::PluginError>> {
        let env_names: Vec<(&str, bool)> = cmd
            .env
            .iter()
            .map(|v| {
                let secret = !matches!(v.value, process::EnvValue::Plain(_));
                (v.name.as_str(), secret)
            })
            .collect();
        let connect = match self.caps.check_process(&cmd.program, &cmd.args, &env_names) {
            Ok(connect) => connect.map(str::to_string),
            Err(why) => {
                self.call.deny(why.clone());
                return Ok(Err(types::PluginError::PermissionDenied(why)));
            }
        };
        let mut cmd = cmd;
        if let Some(destination) = connect {
            match pin_destination(&self.egress, &destination, &cmd.args).await {
                Ok(args) => cmd.args = args,
                Err(why) => {
                    self.call.deny(why.clone());
                    return Ok(Err(types::PluginError::PermissionDenied(why)));
                }
            }
        }
        let file_vars: Vec<String> = cmd
            .env
            .iter()
            .filter(|v| matches!(v.value, process::EnvValue::SecretFile(_)))
            .map(|v| v.name.clone())
            .collect();
        let env = cmd
            .env
            .into_iter()
            .map(|v| {
                let value = match v.value {
                    process::EnvValue::Plain(p) => EnvSource::Plain(p),
                    process::EnvValue::Secret(s) => EnvSource::Secret(s),
                    process::EnvValue::SecretFile(f) => EnvSource::SecretFile {
                        secret: f.secret,
                        template: f.template,
                        escape: f.escape,
                    },
                };
                (v.name, value)
            })
            .collect();
        let env = match resolve_env(env, &self.secrets, &self.secret_root) {
            Ok(env) => env,
            Err(why) => return Ok(Err(types::PluginError::InvalidConfig(why))),
        };
        let args = with_secret_file_paths(&cmd.args, &file_vars, &env.vars);
        let spec = SpawnSpec {
            program: &cmd.program,
            args: &args,
            env,
            stdin: cmd.stdin,
            stdout: cmd.stdout,
            cwd: self.scratch.as_deref(),
            records: Some(&self.children_root),
        };
        self.call.log(
            LogLevel::Debug,
            format!("spawning {} {}", cmd.program, cmd.args.join(" ")),
            Vec::new(),
        );
        match ChildProcess::spawn(spec, self.call.clone()) {
            Ok(child) => Ok(Ok(self.table.push(child)?)),
            Err(why) => Ok(Err(types::PluginError::Failed(why))),
        }
    }
}

/// Resolves the `HOST:PORT` a program will connect to, checks it against
/// the egress policy, and returns `args` with every argument that is the
/// host name replaced by the checked address: the program connects where
/// the check looked, whatever the name resolves to a moment later.
async fn pin_destination(
    egress: &EgressPolicy,
    destination: &str,
    args: &[String],
) -> Result<Vec<String>, String> {
    let (host, port) = destination
        .rsplit_once(':')
        .and_then(|(h, p)| Some((h.trim_matches(['[', ']']), p.parse::<u16>().ok()?)))
        .ok_or_else(|| format!("`{destination}` is not HOST:PORT"))?;
    let addrs = egress.resolve(host, port).await.map_err(|e| e.0)?;
    let Some(first) = addrs.first() else {
        return Err(format!("{destination}: no address"));
    };
    let checked = first.ip().to_string();
    Ok(args
        .iter()
        .map(|a| {
            if a == host {
                checked.clone()
            } else {
                a.clone()
            }
        })
        .collect())
}

/// Replaces `{secret-file:NAME}` in arguments with the path of the
/// secret file written for the variable `NAME`, for programs that take
/// the file as an argument (`mysqldump --defaults-extra-file=…`). The
/// manifest's patterns match the arguments as the plugin wrote them; the
/// path is not secret, its content is.
fn with_secret_file_paths(
    args: &[String],
    file_vars: &[String],
    vars: &[(String, String)],
) -> Vec<String> {
    args.iter()
        .map(|arg| {
            let mut arg = arg.clone();
            for name in file_vars {
                let placeholder = format!("{{secret-file:{name}}}");
                if let Some((_, path)) = vars.iter().find(|(n, _)| n == name) {
                    arg = arg.replace(&placeholder, path);
                }
            }
            arg
        })
        .collect()
}

impl process::HostChild for HostState {
    async fn take_stdin(
        &mut self,
        child: Resource<ChildProcess>,
    ) -> wasmtime::Result<Option<Resource<DynOutputStream>>> {
        let stream = self.table.get_mut(&child)?.take_stdin();
        match stream {
            Some(s) => {
                let boxed: DynOutputStream = Box::new(s);
                Ok(Some(self.table.push(boxed)?))
            }
            None => Ok(None),
        }
    }

    async fn take_stdout(
        &mut self,
        child: Resource<ChildProcess>,
    ) -> wasmtime::Result<Option<Resource<DynInputStream>>> {
        let stream = self.table.get_mut(&child)?.take_stdout();
        match stream {
            Some(s) => {
                let boxed: DynInputStream = Box::new(s);
                Ok(Some(self.table.push(boxed)?))
            }
            None => Ok(None),
        }
    }

    async fn wait(
        &mut self,
        child: Resource<ChildProcess>,
    ) -> wasmtime::Result<Result<process::ExitStatus, types::PluginError>> {
        let outcome = self.table.get_mut(&child)?.wait().await;
        Ok(outcome
            .map(|(code, stderr_tail)| process::ExitStatus { code, stderr_tail })
            .map_err(types::PluginError::Failed))
    }

    async fn kill(&mut self, child: Resource<ChildProcess>) -> wasmtime::Result<()> {
        self.table.get_mut(&child)?.kill();
        Ok(())
    }

    async fn drop(&mut self, child: Resource<ChildProcess>) -> wasmtime::Result<()> {
        self.table.delete(child)?;
        Ok(())
    }
}
