//! A deliberately misbehaving engine for the host's sandbox tests. Never
//! shipped to users.
//!
//! `backup` does what the call option `mode` asks: behave, or try to break
//! out of the sandbox (spawn an ungranted program, connect, read a file),
//! or exhaust a resource (CPU, memory, wall time) so the host's limits can
//! be seen to hold. Every "breach" mode returns a `Failed` error mentioning
//! "sandbox breach" if the attempt succeeds, so a test only has to check
//! that this text never appears.

use dataguardian_plugin_sdk::http;
use dataguardian_plugin_sdk::io::{StreamReader, StreamWriter};
use dataguardian_plugin_sdk::process::Command;
use dataguardian_plugin_sdk::{
    config, empty_stats, export_engine, io, BackupStats, CallContext, Engine, HealthReport,
    HealthStatus, InputStream, Kv, OutputStream, PluginError, PluginInfo, PluginKind, PluginResult,
};
use std::hint::black_box;
use std::io::Write;

/// Bytes written by `ok` when the `bytes` option is absent.
const DEFAULT_BYTES: u64 = 1000;

/// Size of each allocation of `membomb`.
const BOMB_BLOCK: usize = 16 << 20;

/// The byte at `offset` of the `ok` output: a cycle of 251 (a prime, so it
/// never lines up with block sizes) lets a test spot a lost or moved chunk.
fn pattern(offset: u64) -> u8 {
    (offset % 251) as u8
}

fn write_pattern(sink: &OutputStream, total: u64) -> PluginResult<()> {
    let mut chunk = vec![0u8; 64 * 1024];
    let mut done = 0u64;
    while done < total {
        let n = (total - done).min(chunk.len() as u64) as usize;
        for (i, b) in chunk[..n].iter_mut().enumerate() {
            *b = pattern(done + i as u64);
        }
        io::write_all(sink, &chunk[..n])?;
        done += n as u64;
    }
    // The host must hold every byte before the call returns.
    StreamWriter::new(sink)
        .flush()
        .map_err(|e| PluginError::Failed(format!("flushing: {e}")))
}

fn option_u64(ctx: &CallContext, key: &str, default: u64) -> PluginResult<u64> {
    match config::option(ctx, key) {
        None => Ok(default),
        Some(text) => text.parse().map_err(|_| {
            PluginError::InvalidConfig(format!("option {key}: `{text}` is not a number"))
        }),
    }
}

fn spawn_forbidden() -> PluginResult<BackupStats> {
    match Command::new("ls").arg("/").output() {
        Ok(_) => Err(PluginError::Failed("sandbox breach: ls ran".into())),
        Err(e) => Err(e),
    }
}

fn connect_forbidden(addr: &str) -> PluginResult<BackupStats> {
    match std::net::TcpStream::connect(addr) {
        Ok(_) => Err(PluginError::Failed("sandbox breach: connected".into())),
        Err(e) => Err(PluginError::PermissionDenied(format!(
            "connect {addr}: {e}"
        ))),
    }
}

fn read_forbidden(path: &str) -> PluginResult<BackupStats> {
    match std::fs::read(path) {
        Ok(data) => Err(PluginError::Failed(format!(
            "sandbox breach: read {} bytes of {path}",
            data.len()
        ))),
        Err(e) => Err(PluginError::PermissionDenied(format!("read {path}: {e}"))),
    }
}

/// Spins forever; `black_box` keeps the compiler from proving the loop
/// useless, so only the host's fuel or epoch limit can stop it.
fn busy_loop() -> ! {
    let mut n: u64 = 0;
    loop {
        n = black_box(n.wrapping_add(1));
    }
}

/// Allocates 16 MiB blocks forever, touching every page so they are really
/// committed, until the host's memory limit stops it.
fn membomb() -> ! {
    let mut blocks: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut block = vec![0u8; BOMB_BLOCK];
        for page in block.iter_mut().step_by(4096) {
            *page = 1;
        }
        blocks.push(black_box(block));
    }
}

/// Blocks on a granted `sleep 3600` so the host's watchdog has to kill it.
fn stall() -> PluginResult<BackupStats> {
    let child = Command::new("sleep").arg("3600").piped_stdout().spawn()?;
    let status = child.wait()?;
    Err(PluginError::Failed(format!(
        "sleep returned early with code {:?}",
        status.code
    )))
}

/// Sends a GET to option `url` (with option `auth` as the host-side
/// authentication directive) and reports everything the plugin can see:
/// the response, its config and its environment. A test checks that a
/// secret's value appears in none of it.
fn http_get(ctx: &CallContext) -> PluginResult<BackupStats> {
    let url = config::option(ctx, "url")
        .ok_or_else(|| PluginError::InvalidConfig("option url is required".into()))?;
    let method = config::option(ctx, "method").unwrap_or("GET");
    let mut request = http::Request::new(method, url)?;
    if let Some(auth) = config::option(ctx, "auth") {
        request = request.auth(auth);
    }
    let mut response = request.send(&[])?;
    let body = response.text(64 * 1024)?;
    let env: Vec<String> = std::env::vars().map(|(k, v)| format!("{k}={v}")).collect();
    let mut stats = empty_stats();
    for (key, value) in [
        ("status", response.status.to_string()),
        ("body", body),
        ("config", ctx.config.clone()),
        ("env", env.join("\n")),
    ] {
        stats.metadata.push(Kv {
            key: key.into(),
            value,
        });
    }
    Ok(stats)
}

fn spawn_allowed() -> PluginResult<BackupStats> {
    let out = Command::new("echo").arg("hello").output()?;
    let mut stats = empty_stats();
    stats.metadata.push(Kv {
        key: "echo".into(),
        value: out.trim().to_string(),
    });
    Ok(stats)
}

struct Hostile;

impl Engine for Hostile {
    fn info() -> PluginInfo {
        PluginInfo {
            id: "test-hostile".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind: PluginKind::Engine,
            provides: vec!["test-hostile".into()],
            artifact_format: Some("bin".into()),
            description: "Misbehaving engine for sandbox tests; not for users".into(),
            config_schema: r#"{"type":"object"}"#.into(),
        }
    }

    /// A control call that spins when the config asks (`{"spin": true}`):
    /// the host's CPU budget for control calls must stop it.
    fn list_databases(ctx: &CallContext) -> PluginResult<Vec<String>> {
        if ctx.config.contains("\"spin\":true") {
            busy_loop();
        }
        Ok(vec!["hostile".into()])
    }

    fn health_check(_ctx: &CallContext) -> HealthReport {
        HealthReport {
            status: HealthStatus::Ok,
            latency_ms: 0,
            version: None,
            message: None,
            metadata: Vec::new(),
        }
    }

    fn backup(ctx: &CallContext, sink: &OutputStream) -> PluginResult<BackupStats> {
        let mode = config::option(ctx, "mode")
            .ok_or_else(|| PluginError::InvalidConfig("option mode is required".into()))?;
        match mode {
            "ok" => {
                write_pattern(sink, option_u64(ctx, "bytes", DEFAULT_BYTES)?)?;
                Ok(empty_stats())
            }
            "spawn-forbidden" => spawn_forbidden(),
            "connect-forbidden" => {
                connect_forbidden(config::option(ctx, "addr").unwrap_or("127.0.0.1:5432"))
            }
            "read-forbidden" => {
                read_forbidden(config::option(ctx, "path").unwrap_or("/etc/passwd"))
            }
            "loop" => busy_loop(),
            "membomb" => membomb(),
            "trap" => panic!("deliberate trap"),
            "stall" => stall(),
            "spawn-allowed" => spawn_allowed(),
            "http" => http_get(ctx),
            // Everything of the call the plugin can see, as the error.
            "read-config" => Err(PluginError::Failed(format!(
                "config={} secret_names={:?} options={:?}",
                ctx.config,
                ctx.secret_names,
                ctx.options
                    .iter()
                    .map(|kv| format!("{}={}", kv.key, kv.value))
                    .collect::<Vec<_>>()
            ))),
            other => Err(PluginError::InvalidConfig(format!(
                "option mode: unknown mode `{other}`"
            ))),
        }
    }

    /// Drains the source; with the option `url`, PUTs it there instead,
    /// streamed host-side (`length`: sent with that content-length).
    fn restore(ctx: &CallContext, source: &InputStream) -> PluginResult<()> {
        if let Some(url) = config::option(ctx, "url") {
            let length = config::option(ctx, "length").and_then(|n| n.parse().ok());
            let response = http::Request::new("PUT", url)?.send_stream(source, length)?;
            return if response.is_success() {
                Ok(())
            } else {
                Err(PluginError::Failed(format!("HTTP {}", response.status)))
            };
        }
        std::io::copy(&mut StreamReader::new(source), &mut std::io::sink())
            .map_err(|e| PluginError::Failed(format!("draining the source: {e}")))?;
        Ok(())
    }
}

export_engine!(Hostile);
