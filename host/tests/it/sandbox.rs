//! A hostile plugin (plugins/test-hostile) tries to escape or take the host
//! down. Each attempt must fail its own call with a clear error, and the
//! next call must work.

use crate::common;

use dataguardian::plugin::client::Target;
use dataguardian::plugin::runtime::CallLimits;
use dataguardian::plugin::streams::ChannelSink;
use dataguardian::plugin::{
    tracing_sink, Activity, CallError, FailureKind, Plugins, RuntimeConfig,
};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Installs test-hostile as a third-party plugin, optionally approved.
fn plugins_with_hostile(dir: &Path, approved: bool) -> Plugins {
    let built = common::repo_root().join("plugins/target/wasm32-wasip2/release/test_hostile.wasm");
    let plugin_dir = dir.join("plugins");
    std::fs::create_dir_all(&plugin_dir).expect("plugin dir");
    std::fs::copy(&built, plugin_dir.join("test-hostile.wasm")).expect("copy wasm");
    let manifest = common::repo_root().join("plugins/test-hostile/plugin.toml");
    std::fs::copy(&manifest, plugin_dir.join("test-hostile.toml")).expect("copy manifest");
    if approved {
        // A grant approves one component: this one.
        let sha256 = common::sha256_file(&built);
        std::fs::write(
            plugin_dir.join("test-hostile.grant.toml"),
            format!("component_sha256 = \"{sha256}\"\n")
                + "process = [{ program = \"echo\", args = [\"hello\"] }, { program = \"sleep\", args = [\"*\"] }]\n\
             network = [\"tcp://127.0.0.1:1\"]\n\
             http = [{ url = \"{config.endpoint}\", auth = [\"aws-sigv4:secret_access_key\", \"bearer:token\"] }]\n",
        )
        .expect("grant");
    }
    let mut plugins = Plugins::with_builtins(RuntimeConfig {
        cache_dir: Some(dir.join("cache")),
        scratch_root: dir.join("tmp"),
        smtp_ca_files: Vec::new(),
        // A spinning control call is stopped after 2 s of CPU here.
        limits: CallLimits {
            control_cpu: Duration::from_secs(2),
            ..CallLimits::default()
        },
    })
    .expect("runtime");
    let problems = plugins.load_dir(&plugin_dir);
    assert!(problems.is_empty(), "{problems:?}");
    plugins
}

struct Outcome {
    result: Result<dataguardian::plugin::bindings::BackupStats, CallError>,
    bytes: usize,
}

async fn run(plugins: &Plugins, options: &[(&str, &str)], limit: Duration) -> Outcome {
    run_with(
        plugins,
        serde_json::json!({}),
        HashMap::new(),
        options,
        limit,
    )
    .await
}

async fn run_with(
    plugins: &Plugins,
    config: serde_json::Value,
    secrets: HashMap<String, String>,
    options: &[(&str, &str)],
    limit: Duration,
) -> Outcome {
    let mut target = Target::new(config, tracing_sink()).with_secrets(secrets);
    target.data_timeout = limit * 2;
    target.stall_after = limit;
    let engine = plugins.engine("test-hostile", target).expect("installed");
    let (tx, mut rx) = mpsc::channel(8);
    let drain = tokio::spawn(async move {
        let mut n = 0;
        while let Some(block) = rx.recv().await {
            n += bytes::Bytes::len(&block);
        }
        n
    });
    let activity: Arc<Activity> = Arc::default();
    let options = options
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let result = engine
        .backup(
            Box::new(ChannelSink::new(tx, activity.clone())),
            activity,
            options,
        )
        .await;
    Outcome {
        result,
        bytes: drain.await.expect("drain"),
    }
}

async fn assert_still_works(plugins: &Plugins) {
    let ok = run(
        plugins,
        &[("mode", "ok"), ("bytes", "300000")],
        Duration::from_secs(30),
    )
    .await;
    assert!(
        ok.result.is_ok(),
        "the next call failed: {:?}",
        ok.result.err()
    );
    assert_eq!(ok.bytes, 300_000);
}

fn message(e: &CallError) -> String {
    e.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_calls_fail_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plugins = plugins_with_hostile(dir.path(), true);
    let limit = Duration::from_secs(3);
    assert_still_works(&plugins).await;

    let out = run(&plugins, &[("mode", "spawn-forbidden")], limit).await;
    let err = out.result.expect_err("ls must not run");
    assert_eq!(err.kind(), Some(FailureKind::PermissionDenied), "{err}");
    assert!(message(&err).contains("`ls` is not granted"), "{err}");
    assert_still_works(&plugins).await;

    let out = run(
        &plugins,
        &[("mode", "connect-forbidden"), ("addr", "127.0.0.1:5432")],
        limit,
    )
    .await;
    let err = out.result.expect_err("connect must be refused");
    assert_eq!(err.kind(), Some(FailureKind::PermissionDenied), "{err}");
    assert!(message(&err).contains("127.0.0.1:5432"), "{err}");
    assert!(message(&err).contains("not granted"), "{err}");
    assert_still_works(&plugins).await;

    let out = run(
        &plugins,
        &[("mode", "read-forbidden"), ("path", "/etc/passwd")],
        limit,
    )
    .await;
    let err = out.result.expect_err("read must be refused");
    assert_eq!(err.kind(), Some(FailureKind::PermissionDenied), "{err}");
    assert!(message(&err).contains("/etc/passwd"), "{err}");
    // The host's denial, not just any read error: the file exists on the
    // host, yet inside the sandbox no preopen covers it, so it is not
    // there at all.
    assert!(std::path::Path::new("/etc/passwd").is_file());
    assert!(message(&err).contains("No such file or directory"), "{err}");
    assert_still_works(&plugins).await;

    let out = run(&plugins, &[("mode", "loop")], limit).await;
    let err = out.result.expect_err("a loop must be stopped");
    assert!(
        matches!(err, CallError::Timeout { .. } | CallError::Stalled { .. }),
        "{err}"
    );
    assert_still_works(&plugins).await;

    let out = run(&plugins, &[("mode", "membomb")], Duration::from_secs(30)).await;
    let err = out.result.expect_err("memory must be capped");
    assert!(matches!(err, CallError::Trap { .. }), "{err}");
    assert!(message(&err).contains("memory limit of 32 MiB"), "{err}");
    assert_still_works(&plugins).await;

    let out = run(&plugins, &[("mode", "trap")], limit).await;
    let err = out.result.expect_err("a panic is a failed call");
    assert!(matches!(err, CallError::Trap { .. }), "{err}");
    assert!(message(&err).contains("test-hostile"), "{err}");
    assert_still_works(&plugins).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_call_is_stopped_and_its_program_killed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plugins = plugins_with_hostile(dir.path(), true);
    let out = run(&plugins, &[("mode", "stall")], Duration::from_secs(2)).await;
    let err = out.result.expect_err("a stalled call must be stopped");
    assert!(matches!(err, CallError::Stalled { .. }), "{err}");
    // kill_on_drop: the `sleep 3600` the plugin started is gone (reaped
    // within moments: polled until absent, at most 5 s).
    let started = std::time::Instant::now();
    let left = loop {
        let left = std::process::Command::new("pgrep")
            .args(["-f", "^sleep 3600$"])
            .output()
            .expect("pgrep");
        if left.stdout.is_empty() || started.elapsed() > Duration::from_secs(5) {
            break left;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        left.stdout.is_empty(),
        "sleep survived: {}",
        String::from_utf8_lossy(&left.stdout)
    );
    assert_still_works(&plugins).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn granted_programs_run_and_unapproved_plugins_get_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let approved = plugins_with_hostile(&dir.path().join("a"), true);
    let out = run(
        &approved,
        &[("mode", "spawn-allowed")],
        Duration::from_secs(10),
    )
    .await;
    let stats = out.result.expect("the granted program ran");
    let echoed: Vec<(&str, &str)> = stats
        .metadata
        .iter()
        .map(|kv| (kv.key.as_str(), kv.value.as_str()))
        .collect();
    assert_eq!(
        echoed,
        [("echo", "hello")],
        "the plugin saw the program's output"
    );

    let unapproved = plugins_with_hostile(&dir.path().join("b"), false);
    let out = run(
        &unapproved,
        &[("mode", "spawn-allowed")],
        Duration::from_secs(10),
    )
    .await;
    let err = out.result.expect_err("no grant, no program");
    assert!(message(&err).contains("`echo` is not granted"), "{err}");
}

/// An HTTP server on loopback that answers every request with the request
/// head it received, and remembers those heads.
async fn echo_server() -> (u16, Arc<std::sync::Mutex<Vec<String>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut head = Vec::new();
            let mut buf = [0u8; 4096];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match socket.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let text = String::from_utf8_lossy(&head).into_owned();
            log.lock().expect("lock").push(text.clone());
            let reply = format!(
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
                text.len()
            );
            let _ = socket.write_all(reply.as_bytes()).await;
        }
    });
    (port, seen)
}

fn metadata(stats: &dataguardian::plugin::bindings::BackupStats) -> HashMap<String, String> {
    stats
        .metadata
        .iter()
        .map(|kv| (kv.key.clone(), kv.value.clone()))
        .collect()
}

/// `wasi:http` goes only to the granted origin, filled from the config;
/// secrets are applied by the host and never reach the plugin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_reaches_only_the_granted_origin_and_secrets_stay_host_side() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plugins = plugins_with_hostile(dir.path(), true);
    let (granted, seen) = echo_server().await;
    let (other, other_seen) = echo_server().await;
    let endpoint = format!("http://127.0.0.1:{granted}");
    let config = serde_json::json!({ "endpoint": endpoint });
    let secret = "TOPSECRET-5c1f9e";
    let secrets = HashMap::from([("secret_access_key".to_string(), secret.to_string())]);
    let limit = Duration::from_secs(20);

    // The granted endpoint, with a request signed host-side.
    let url = format!("{endpoint}/bucket/key");
    let auth =
        "aws-sigv4 secret=secret_access_key access-key-id=AKIDTEST region=us-east-1 service=s3";
    let out = run_with(
        &plugins,
        config.clone(),
        secrets.clone(),
        &[("mode", "http"), ("url", &url), ("auth", auth)],
        limit,
    )
    .await;
    let stats = out.result.expect("the granted origin answers");
    let seen_by_plugin = metadata(&stats);
    assert_eq!(seen_by_plugin["status"], "200");
    let request = seen.lock().expect("lock").join("\n");
    assert!(request.starts_with("GET /bucket/key"), "{request}");
    assert!(
        request
            .to_ascii_lowercase()
            .contains("authorization: aws4-hmac-sha256 credential=akidtest/"),
        "the host signed the request: {request}"
    );
    assert!(
        !request.to_ascii_lowercase().contains("x-dataguardian-auth"),
        "{request}"
    );
    for (what, value) in &seen_by_plugin {
        assert!(
            !value.contains(secret),
            "the plugin saw the secret in its {what}: {value}"
        );
    }
    assert!(
        !request.contains(secret),
        "the secret itself went on the wire"
    );

    // Another port of the same host: denied by the gate, named.
    let url = format!("http://127.0.0.1:{other}/");
    let out = run_with(
        &plugins,
        config.clone(),
        secrets.clone(),
        &[("mode", "http"), ("url", &url)],
        limit,
    )
    .await;
    let err = out.result.expect_err("another origin is denied");
    assert_eq!(err.kind(), Some(FailureKind::PermissionDenied), "{err}");
    assert!(
        message(&err).contains(&format!(
            "HTTP request to http://127.0.0.1:{other} is not granted"
        )),
        "{err}"
    );
    assert!(
        other_seen.lock().expect("lock").is_empty(),
        "nothing reached it"
    );

    // A secret the call does not hold cannot be asked for.
    let url = format!("{endpoint}/");
    let out = run_with(
        &plugins,
        config.clone(),
        HashMap::new(),
        &[
            ("mode", "http"),
            ("url", &url),
            ("auth", "bearer secret=token"),
        ],
        limit,
    )
    .await;
    let err = out.result.expect_err("no such secret");
    assert!(message(&err).contains("no secret named `token`"), "{err}");

    // A secret used in a way the manifest does not grant (the S3 key as a
    // bearer token would put it on the wire) is refused.
    let out = run_with(
        &plugins,
        config.clone(),
        secrets.clone(),
        &[
            ("mode", "http"),
            ("url", &url),
            ("auth", "bearer secret=secret_access_key"),
        ],
        limit,
    )
    .await;
    let err = out.result.expect_err("not granted");
    assert!(
        message(&err).contains("`bearer:secret_access_key` is not granted"),
        "{err}"
    );
    assert!(
        !seen.lock().expect("lock").join("\n").contains(secret),
        "the secret never went out"
    );

    // A directive naming two secrets: the granted `bearer:token` checked,
    // the S3 key sent — unless it is parsed once and refused.
    let both = HashMap::from([
        ("token".to_string(), "harmless-token".to_string()),
        ("secret_access_key".to_string(), secret.to_string()),
    ]);
    for auth in [
        "bearer secret=token secret=secret_access_key",
        "bearer secret=secret_access_key secret=token",
    ] {
        let out = run_with(
            &plugins,
            config.clone(),
            both.clone(),
            &[("mode", "http"), ("url", &url), ("auth", auth)],
            limit,
        )
        .await;
        let err = out.result.expect_err("a doubled secret is refused");
        assert!(message(&err).contains("given twice"), "{err}");
    }
    assert!(
        !seen.lock().expect("lock").join("\n").contains(secret),
        "the secret never went out"
    );

    // Without an operator grant for HTTP, nothing leaves.
    let unapproved = plugins_with_hostile(&dir.path().join("b"), false);
    let out = run_with(
        &unapproved,
        config,
        secrets,
        &[("mode", "http"), ("url", &url)],
        limit,
    )
    .await;
    let err = out.result.expect_err("no grant, no HTTP");
    assert!(message(&err).contains("is not granted"), "{err}");
}

/// A field the plugin declares secret (`secrets = ["pin_code"]` in its
/// manifest) is redacted, split off host-side and never reaches the
/// plugin: the hostile plugin returns everything it can see of the call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_field_the_plugin_declares_secret_never_reaches_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plugins = plugins_with_hostile(dir.path(), true);
    let pin = "PIN-SECRET-77d1";
    let config = serde_json::json!({"host": "db", "pin_code": pin});
    assert_eq!(
        dataguardian::secrets::redact(&config)["pin_code"],
        dataguardian::server::targets::REDACTED
    );
    let (plain, secrets) = dataguardian::server::targets::split_secrets(&config);
    assert_eq!(secrets.get("pin_code").map(String::as_str), Some(pin));
    let out = run_with(
        &plugins,
        plain,
        secrets,
        &[("mode", "read-config")],
        Duration::from_secs(20),
    )
    .await;
    let seen = message(&out.result.expect_err("read-config reports what it saw"));
    assert!(seen.contains("\"host\":\"db\""), "{seen}");
    assert!(
        seen.contains("pin_code"),
        "the secret's name is listed: {seen}"
    );
    assert!(!seen.contains(pin), "the plugin saw the secret: {seen}");
}

/// A grant approves one component: the same file beside another `.wasm`
/// (a swapped component) grants nothing and says so; an entry that
/// matches nothing the manifest asks for is a warning.
#[test]
fn a_grant_binds_to_its_component() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plugin_dir = dir.path().join("plugins");
    {
        let plugins = plugins_with_hostile(dir.path(), true);
        let hostile = plugins.installed("test-hostile").expect("loaded");
        assert!(hostile.warnings.is_empty(), "{:?}", hostile.warnings);
        let granted = hostile.grant.effective(&hostile.manifest.capabilities);
        assert_eq!(granted.process.len(), 2);
    }
    // The approval names another component.
    let grant_path = plugin_dir.join("test-hostile.grant.toml");
    let text = std::fs::read_to_string(&grant_path).expect("grant");
    let swapped = text.replacen("component_sha256 = \"", "component_sha256 = \"00", 1);
    std::fs::write(
        &grant_path,
        swapped + "smtp = [{ host = \"mail\", port = \"25\" }]\n",
    )
    .expect("grant");
    let mut plugins = Plugins::with_builtins(RuntimeConfig::new(
        Some(dir.path().join("cache")),
        dir.path().join("tmp"),
    ))
    .expect("runtime");
    assert!(plugins.load_dir(&plugin_dir).is_empty());
    let hostile = plugins.installed("test-hostile").expect("loaded");
    let granted = hostile.grant.effective(&hostile.manifest.capabilities);
    assert!(granted.process.is_empty() && granted.http.is_empty());
    let warnings = hostile.warnings.join("\n");
    assert!(warnings.contains("no capability is granted"), "{warnings}");
    assert!(warnings.contains("smtp `mail:25`"), "{warnings}");
}

/// A plugin that would serve a built-in's type is not loaded unless its
/// grant lets it replace it; then it serves that type and the built-in
/// serves nothing of it.
#[test]
fn a_plugin_claiming_a_built_in_type_needs_the_operators_word() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plugin_dir = dir.path().join("plugins");
    std::fs::create_dir_all(&plugin_dir).expect("plugin dir");
    let built = common::repo_root().join("plugins/target/wasm32-wasip2/release/test_hostile.wasm");
    std::fs::copy(&built, plugin_dir.join("impostor.wasm")).expect("copy");
    let manifest =
        std::fs::read_to_string(common::repo_root().join("plugins/test-hostile/plugin.toml"))
            .expect("manifest")
            .replace("id = \"test-hostile\"", "id = \"impostor\"")
            .replace("provides = [\"test-hostile\"]", "provides = [\"postgres\"]");
    std::fs::write(plugin_dir.join("impostor.toml"), &manifest).expect("manifest");
    let runtime = || {
        Plugins::with_builtins(RuntimeConfig::new(
            Some(dir.path().join("cache")),
            dir.path().join("tmp"),
        ))
        .expect("runtime")
    };
    let mut plugins = runtime();
    let problems = plugins.load_dir(&plugin_dir).join("\n");
    assert!(
        problems.contains("the engine type `postgres`")
            && problems.contains("built-in plugin `postgres`")
            && problems.contains("replaces"),
        "{problems}"
    );
    let engine = plugins
        .find(dataguardian::plugin::PluginKind::Engine, "postgres")
        .expect("postgres");
    assert_eq!(engine.id(), "postgres");

    std::fs::write(
        plugin_dir.join("impostor.grant.toml"),
        format!(
            "component_sha256 = \"{}\"\nreplaces = [\"postgres\"]\n",
            common::sha256_file(&built)
        ),
    )
    .expect("grant");
    let mut plugins = runtime();
    assert!(plugins.load_dir(&plugin_dir).is_empty());
    let engine = plugins
        .find(dataguardian::plugin::PluginKind::Engine, "postgres")
        .expect("postgres");
    assert_eq!(engine.id(), "impostor");
    let builtin = plugins
        .list()
        .into_iter()
        .find(|p| p.builtin && p.id() == "postgres")
        .expect("built-in");
    assert_eq!(plugins.serves(&builtin), ["postgresql"]);
}

/// A control call that spins is stopped by its CPU budget in seconds (its
/// wall-clock limit is minutes), with an error saying so; the next call
/// works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spinning_control_call_is_stopped_by_its_cpu_budget() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plugins = plugins_with_hostile(dir.path(), true);
    let engine = |config| {
        plugins
            .engine("test-hostile", Target::new(config, tracing_sink()))
            .expect("installed")
    };
    let started = std::time::Instant::now();
    let err = engine(serde_json::json!({"spin": true}))
        .list_databases()
        .await
        .expect_err("stopped");
    let took = started.elapsed();
    assert!(matches!(err, CallError::CpuExhausted { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("CPU") && text.contains("list-databases"),
        "{text}"
    );
    assert!(took < Duration::from_secs(15), "took {took:?}");
    let listed = engine(serde_json::json!({}))
        .list_databases()
        .await
        .expect("next call");
    assert_eq!(listed, ["hostile"]);
}

/// A component built against the draft plugin API 0.2 (plugins/
/// test-api-next, `wit/next`) loads beside the 0.1 built-ins and is called
/// with the typed context through the adapter, using the 0.1 imports it
/// reuses; one claiming an API this host does not speak is refused naming
/// both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_0_2_component_loads_beside_0_1_plugins() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plugin_dir = dir.path().join("plugins");
    std::fs::create_dir_all(&plugin_dir).expect("plugin dir");
    let built = common::repo_root().join("plugins/target/wasm32-wasip2/release/test_api_next.wasm");
    let manifest = common::repo_root().join("plugins/test-api-next/plugin.toml");
    std::fs::copy(&built, plugin_dir.join("test-api-next.wasm")).expect("copy");
    std::fs::copy(&manifest, plugin_dir.join("test-api-next.toml")).expect("copy");
    // The same component claiming 0.3 (same length, patched in place).
    let mut future = std::fs::read(&built).expect("wasm");
    // The section's data follows its name.
    let name = b"dataguardian:api-version";
    let at = future
        .windows(name.len())
        .position(|w| w == name)
        .expect("the API version section")
        + name.len();
    assert_eq!(&future[at..at + 5], b"0.2.0");
    future[at..at + 5].copy_from_slice(b"0.3.0");
    std::fs::write(plugin_dir.join("test-api-future.wasm"), &future).expect("write");
    let text = std::fs::read_to_string(&manifest).expect("manifest");
    std::fs::write(
        plugin_dir.join("test-api-future.toml"),
        text.replace("test-api-next", "test-api-future")
            .replace("^0.2", "^0.3"),
    )
    .expect("write");

    let mut plugins = Plugins::with_builtins(RuntimeConfig::new(
        Some(dir.path().join("cache")),
        dir.path().join("tmp"),
    ))
    .expect("runtime");
    let problems = plugins.load_dir(&plugin_dir).join("\n");
    assert!(
        problems.contains("test-api-future")
            && problems.contains("0.3.0")
            && problems.contains("0.1.0 and 0.2.0"),
        "{problems}"
    );
    let next = plugins.installed("test-api-next").expect("0.2 loaded");
    assert_eq!(next.api_version, "0.2.0");
    let webhook = plugins
        .find(dataguardian::plugin::PluginKind::Notifier, "webhook")
        .expect("0.1 built-in");
    assert_eq!(webhook.api_version, "0.1.0");

    let lines: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
    let seen = lines.clone();
    let sink: dataguardian::plugin::LogSink = Arc::new(move |r| {
        seen.lock().expect("lines").push(r.message.clone());
    });
    let notifier = plugins
        .notifier("test-api-next", Target::new(serde_json::json!({}), sink))
        .expect("served");
    let info = notifier.info().await.expect("info");
    assert_eq!(info.version, "0.2.0");
    notifier
        .send(dataguardian::plugin::Event {
            kind: "test".into(),
            severity: dataguardian::plugin::Severity::Info,
            title: "hello from 0.1".into(),
            body: String::new(),
            fields: Vec::new(),
        })
        .await
        .expect("sent through the adapter");
    let lines = lines.lock().expect("lines").join("\n");
    assert!(
        lines.contains("api 0.2 notifier got `hello from 0.1` for type test-api-next"),
        "{lines}"
    );
}

/// The SDK's HTTP client: an empty-bodied DELETE says `content-length: 0`
/// (not chunked), a request body streams from an input stream host-side,
/// and a failure names the method and the URL without its query.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_http_sends_lengths_streams_bodies_and_names_requests() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plugins = plugins_with_hostile(dir.path(), true);
    let receiver = common::receiver::Receiver::start().await;
    let config = serde_json::json!({ "endpoint": receiver.url });
    let limit = Duration::from_secs(20);

    let url = format!("{}/bucket/old-key", receiver.url);
    let out = run_with(
        &plugins,
        config.clone(),
        HashMap::new(),
        &[("mode", "http"), ("url", &url), ("method", "DELETE")],
        limit,
    )
    .await;
    out.result.expect("DELETE answered");
    let got = receiver.take();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].method, "DELETE");
    assert_eq!(got[0].header("content-length").as_deref(), Some("0"));
    assert_eq!(got[0].header("transfer-encoding"), None);

    // A restore's source PUT as the request body, streamed.
    let body: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
    let (tx, rx) = mpsc::channel(4);
    let pieces: Vec<bytes::Bytes> = body
        .chunks(32 * 1024)
        .map(bytes::Bytes::copy_from_slice)
        .collect();
    tokio::spawn(async move {
        for piece in pieces {
            if tx.send(Ok(piece)).await.is_err() {
                return;
            }
        }
    });
    let engine = plugins
        .engine("test-hostile", Target::new(config.clone(), tracing_sink()))
        .expect("installed");
    let put_url = format!("{}/bucket/new-key", receiver.url);
    let length = body.len().to_string();
    engine
        .restore(
            Box::new(dataguardian::plugin::streams::ChannelSource::unmetered(rx)),
            Arc::default(),
            vec![("url".into(), put_url), ("length".into(), length.clone())],
        )
        .await
        .expect("streamed PUT");
    let got = receiver.take();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].method, "PUT");
    assert_eq!(got[0].header("content-length"), Some(length));
    assert!(got[0].body == body, "the streamed body differs");

    // Nothing listens on the granted origin's port now: the error names
    // the request, not the query.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let endpoint = format!("http://127.0.0.1:{port}");
    let url = format!("{endpoint}/bucket/gone?X-Amz-Signature=abc");
    let out = run_with(
        &plugins,
        serde_json::json!({ "endpoint": endpoint }),
        HashMap::new(),
        &[("mode", "http"), ("url", &url), ("method", "DELETE")],
        limit,
    )
    .await;
    let err = message(&out.result.expect_err("nothing listens"));
    assert!(
        err.contains(&format!("DELETE http://127.0.0.1:{port}/bucket/gone")),
        "{err}"
    );
    assert!(!err.contains("X-Amz-Signature"), "{err}");
}
