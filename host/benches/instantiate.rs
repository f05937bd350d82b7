//! Warm per-call overhead of the plugin runtime: fresh store + instantiate
//! (from the cached `InstancePre`) + one export call + drop. Prints µs per
//! call; run with `cargo bench -p dataguardian --bench instantiate`.

use dataguardian::plugin::client::Target;
use dataguardian::plugin::{tracing_sink, Plugins, RuntimeConfig};
use std::time::Instant;

fn main() {
    let dir = std::env::temp_dir().join(format!("dg-bench-{}", std::process::id()));
    let rt = tokio::runtime::Runtime::new().expect("tokio");
    let cold = Instant::now();
    let plugins =
        Plugins::with_builtins(RuntimeConfig::new(Some(dir.join("cache")), dir.join("tmp")))
            .expect("plugins");
    let first_load = cold.elapsed();
    let warm = Instant::now();
    drop(plugins);
    let plugins =
        Plugins::with_builtins(RuntimeConfig::new(Some(dir.join("cache")), dir.join("tmp")))
            .expect("plugins");
    let cached_load = warm.elapsed();
    let storage = plugins
        .storage(
            "local",
            Target::new(serde_json::json!({"path": "/tmp"}), tracing_sink()),
        )
        .expect("local storage");
    rt.block_on(async {
        for _ in 0..200 {
            storage.info().await.expect("info");
        }
        let n = 5000;
        let start = Instant::now();
        for _ in 0..n {
            storage.info().await.expect("info");
        }
        let per_call = start.elapsed().as_secs_f64() * 1e6 / n as f64;
        println!(
            "load 4 built-ins, cold (compile + cache): {:>8.1} ms",
            first_load.as_secs_f64() * 1e3
        );
        println!(
            "load 4 built-ins, warm (from cache):      {:>8.1} ms",
            cached_load.as_secs_f64() * 1e3
        );
        println!("store + instantiate + info() + drop:      {per_call:>8.1} µs/call ({n} calls)");
    });
    let _ = std::fs::remove_dir_all(&dir);
}
