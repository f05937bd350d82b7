//! `dataguardian plugin test`: a plugin loaded in the real runtime, its
//! info, config validation and health check, and for storages the
//! **storage conformance kit** — the storage contract of docs/PLUGINS.md
//! checked call by call (the built-in storages pass it too).

use crate::plugin::bindings::{HealthStatus, ObjectInfo, PluginInfo};
use crate::plugin::client::{NotifierClient, StorageClient, Target};
use crate::plugin::streams::{ChannelSink, ChannelSource, SourceItem};
use crate::plugin::{Activity, EngineClient, Event, LoadedPlugin, PluginKind, Plugins, Severity};
use bytes::Bytes;
use std::sync::Arc;
use tokio::sync::mpsc;

/// The plugin's `info()`.
pub async fn info(plugins: &Plugins, plugin: &Arc<LoadedPlugin>) -> anyhow::Result<PluginInfo> {
    plugins
        .info(plugin)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))
}

fn target(plugin: &LoadedPlugin, config: &serde_json::Value) -> Target {
    let mut t = crate::plugin_cli::target_for(config);
    t.type_name = plugin.first_type();
    t
}

/// Runs every check, printing one line each; returns how many failed.
pub async fn run(plugins: &Plugins, plugin: Arc<LoadedPlugin>, config: serde_json::Value) -> usize {
    let mut report = Report::default();
    match info(plugins, &plugin).await {
        Ok(i) => report.pass(&format!(
            "info: {} {} provides {}",
            i.id,
            i.version,
            i.provides.join(", ")
        )),
        Err(e) => report.fail("info", &e.to_string()),
    }
    let runtime = plugins.runtime().clone();
    let target = target(&plugin, &config);
    match plugin.kind() {
        PluginKind::Engine => {
            let engine = EngineClient::new(runtime, plugin.clone(), target);
            report.check("validate-config", engine.validate_config().await);
            match engine.health_check().await {
                Ok(h) => report.health(h.status, h.message.as_deref()),
                Err(e) => report.fail("health-check", &e.to_string()),
            }
        }
        PluginKind::Notifier => {
            let notifier = NotifierClient::new(runtime, plugin.clone(), target);
            report.check("validate-config", notifier.validate_config().await);
            let event = Event {
                kind: "test".into(),
                severity: Severity::Info,
                title: "DataGuardian plugin test".into(),
                body: "A test event from `dataguardian plugin test`.".into(),
                fields: Vec::new(),
            };
            report.check("send (a test event)", notifier.send(event).await);
        }
        PluginKind::Storage => {
            let storage = StorageClient::new(runtime, plugin.clone(), target);
            report.check("validate-config", storage.validate_config().await);
            match storage.health_check().await {
                Ok(h) => report.health(h.status, h.message.as_deref()),
                Err(e) => report.fail("health-check", &e.to_string()),
            }
            conformance(&storage, &mut report).await;
        }
    }
    report.failed
}

#[derive(Default)]
struct Report {
    failed: usize,
}

impl Report {
    fn pass(&mut self, what: &str) {
        println!("ok    {what}");
    }
    fn fail(&mut self, what: &str, why: &str) {
        self.failed += 1;
        println!("FAIL  {what}: {why}");
    }
    fn check<T, E: std::fmt::Display>(&mut self, what: &str, r: Result<T, E>) {
        match r {
            Ok(_) => self.pass(what),
            Err(e) => self.fail(what, &e.to_string()),
        }
    }
    fn expect(&mut self, what: &str, ok: bool, why: impl FnOnce() -> String) {
        if ok {
            self.pass(what)
        } else {
            self.fail(what, &why())
        }
    }
    fn health(&mut self, status: HealthStatus, message: Option<&str>) {
        let message = message.unwrap_or_default();
        match status {
            HealthStatus::Ok => self.pass(&format!("health-check: ok {message}")),
            other => {
                let name = match other {
                    HealthStatus::Timeout => "timed out",
                    HealthStatus::AuthFailed => "authentication failed",
                    HealthStatus::Unreachable => "unreachable",
                    _ => "error",
                };
                self.fail("health-check", &format!("{name}: {message}"))
            }
        }
    }
}

async fn put(
    storage: &StorageClient,
    key: &str,
    data: &[u8],
    fail_after: Option<usize>,
) -> Result<u64, String> {
    let (tx, rx) = mpsc::channel::<SourceItem>(4);
    let pieces: Vec<Bytes> = data.chunks(64 * 1024).map(Bytes::copy_from_slice).collect();
    let feeder = tokio::spawn(async move {
        for (i, piece) in pieces.into_iter().enumerate() {
            if fail_after == Some(i) {
                let _ = tx.send(Err("the source failed on purpose".into())).await;
                return;
            }
            if tx.send(Ok(piece)).await.is_err() {
                return;
            }
        }
    });
    let source = Box::new(ChannelSource::unmetered(rx));
    let out = storage
        .put(
            key,
            source,
            Some(data.len() as u64),
            Arc::new(Activity::default()),
        )
        .await
        .map_err(|e| e.to_string());
    let _ = feeder.await;
    out
}

async fn get(
    storage: &StorageClient,
    key: &str,
    range: (u64, Option<u64>),
) -> Result<Vec<u8>, String> {
    let (tx, mut rx) = mpsc::channel::<Bytes>(8);
    let collect = tokio::spawn(async move {
        let mut all = Vec::new();
        while let Some(b) = rx.recv().await {
            all.extend_from_slice(&b);
        }
        all
    });
    let activity = Arc::new(Activity::default());
    let sink = Box::new(ChannelSink::new(tx, activity.clone()));
    let result = storage.get(key, sink, range, activity).await;
    let bytes = collect.await.unwrap_or_default();
    result.map(|_| bytes).map_err(|e| e.to_string())
}

fn keys(list: &[ObjectInfo]) -> Vec<String> {
    list.iter().map(|o| o.key.clone()).collect()
}

/// The storage contract, call by call, in a folder of its own that is
/// removed at the end.
async fn conformance(storage: &StorageClient, r: &mut Report) {
    let folder = format!("dg-conformance-{}", uuid::Uuid::new_v4().simple());
    let key = format!("{folder}/object.bin");
    let data: Vec<u8> = (0..300 * 1024u32).map(|i| (i % 251) as u8).collect();

    let stored = put(storage, &key, &data, None).await;
    r.expect(
        "put stores every byte and returns the size",
        stored == Ok(data.len() as u64),
        || format!("{stored:?}"),
    );
    let whole = get(storage, &key, (0, None)).await;
    r.expect(
        "get returns the bytes put",
        whole.as_deref() == Ok(&data[..]),
        || format!("{:?}", whole.map(|b| b.len())),
    );
    let part = get(storage, &key, (100_000, Some(1000))).await;
    r.expect(
        "get of a range returns exactly that range",
        part.as_deref() == Ok(&data[100_000..101_000]),
        || format!("{:?}", part.map(|b| b.len())),
    );
    let tail = get(storage, &key, (300 * 1024 - 10, None)).await;
    r.expect(
        "get from an offset to the end",
        tail.as_deref() == Ok(&data[data.len() - 10..]),
        || format!("{:?}", tail.map(|b| b.len())),
    );
    let stat = storage.stat(&key).await;
    r.expect(
        "stat gives the size",
        matches!(&stat, Ok(Some(o)) if o.size == data.len() as u64 && !o.is_dir),
        || format!("{stat:?}"),
    );
    let missing = storage.stat(&format!("{folder}/missing")).await;
    r.expect(
        "stat of a missing key is none, not an error",
        matches!(missing, Ok(None)),
        || format!("{missing:?}"),
    );
    let nested = format!("{folder}/sub/inner.txt");
    let _ = put(storage, &nested, b"inner", None).await;
    let listed = storage.list(&folder).await.map(|l| keys(&l));
    r.expect(
        "list(folder) gives full keys of its children, a subfolder once",
        matches!(&listed, Ok(k) if k.contains(&key) && k.iter().filter(|x| x.starts_with(&format!("{folder}/sub"))).count() == 1),
        || format!("{listed:?}"),
    );
    let none = storage.list(&format!("{folder}/no-such-folder")).await;
    r.expect(
        "list of a missing prefix is empty, not an error",
        matches!(&none, Ok(l) if l.is_empty()),
        || format!("{none:?}"),
    );
    let renamed = format!("{folder}/renamed.bin");
    let moved = storage.rename(&key, &renamed).await;
    let gone = storage.stat(&key).await;
    let there = storage.stat(&renamed).await;
    r.expect(
        "rename moves the object",
        moved.is_ok()
            && matches!(gone, Ok(None))
            && matches!(&there, Ok(Some(o)) if o.size == data.len() as u64),
        || format!("{moved:?} {gone:?} {there:?}"),
    );
    let partial = format!("{folder}/partial.bin");
    let failed = put(storage, &partial, &data, Some(2)).await;
    let left = storage.stat(&partial).await;
    r.expect(
        "a put whose source fails leaves no object",
        failed.is_err() && matches!(left, Ok(None)),
        || format!("put {failed:?}, then stat {left:?}"),
    );
    let deleted = storage.delete(&renamed).await;
    let after = storage.stat(&renamed).await;
    r.expect(
        "delete removes the object",
        deleted.is_ok() && matches!(after, Ok(None)),
        || format!("{deleted:?} {after:?}"),
    );
    let again = storage.delete(&renamed).await;
    r.expect("delete of a missing key succeeds", again.is_ok(), || {
        format!("{again:?}")
    });
    let escape = put(storage, "../escape.bin", b"x", None).await;
    r.expect(
        "a key leaving the root (`..`) is refused",
        escape.is_err(),
        || "it was stored".into(),
    );
    for root in ["", "/"] {
        let refused = storage.delete(root).await;
        r.expect(
            &format!("delete({root:?}) of the root is refused"),
            refused.is_err(),
            || "it was accepted".into(),
        );
    }
    let cleanup = storage.delete(&folder).await;
    let remaining = storage.list(&folder).await;
    r.expect(
        "delete of a folder removes what is beneath it",
        cleanup.is_ok() && matches!(&remaining, Ok(l) if l.is_empty()),
        || format!("{cleanup:?} {remaining:?}"),
    );
}
