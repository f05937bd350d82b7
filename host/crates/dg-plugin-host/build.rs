//! Builds the plugins workspace for wasm32-wasip2 and embeds the built-in
//! components in the binary. `test-*` plugins are built (the tests load
//! them from plugins/target) but never embedded.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Built-in plugins: (crate folder, wasm file stem).
const BUILTIN: &[(&str, &str)] = &[
    ("engine-postgres", "engine_postgres"),
    ("engine-mysql", "engine_mysql"),
    ("engine-sqlite", "engine_sqlite"),
    ("engine-files", "engine_files"),
    ("engine-mongodb", "engine_mongodb"),
    ("engine-sqlserver", "engine_sqlserver"),
    ("storage-local", "storage_local"),
    ("storage-s3", "storage_s3"),
    ("storage-sftp", "storage_sftp"),
    ("notifier-webhook", "notifier_webhook"),
    ("notifier-whatsapp", "notifier_whatsapp"),
    ("notifier-smtp", "notifier_smtp"),
];

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    // This crate is host/crates/dg-plugin-host: the repository root, which
    // holds plugins/, wit/ and plugin-sdk/, is three levels up.
    let root = manifest_dir
        .ancestors()
        .nth(3)
        .expect("host/crates/dg-plugin-host is three levels below the root")
        .to_path_buf();
    let plugins = root.join("plugins");
    watch(&plugins, &root);

    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&plugins)
        .args(["build", "--release", "--target", "wasm32-wasip2"]);
    // Settings meant for the host build must not leak into the guest build.
    for (key, _) in env::vars() {
        let host_only = key.starts_with("CARGO_") && key != "CARGO_HOME"
            || key == "RUSTFLAGS"
            || key == "RUSTC"
            || key == "RUSTC_WRAPPER"
            || key == "RUSTC_WORKSPACE_WRAPPER"
            || key == "RUSTDOC";
        if host_only {
            cmd.env_remove(&key);
        }
    }
    let status = cmd
        .status()
        .expect("running cargo for the plugins workspace");
    if !status.success() {
        panic!(
            "building plugins failed (is the target installed? `rustup target add wasm32-wasip2`)"
        );
    }

    let out = PathBuf::from(env::var("OUT_DIR").expect("set by cargo"));
    let built = plugins.join("target/wasm32-wasip2/release");
    let mut list = String::from(
        "/// Built-in plugins embedded at build time.\npub static BUILTIN: &[Builtin] = &[\n",
    );
    for (folder, stem) in BUILTIN {
        let wasm = out.join(format!("{stem}.wasm"));
        fs::copy(built.join(format!("{stem}.wasm")), &wasm).expect("copying a built plugin");
        let manifest = plugins.join(folder).join("plugin.toml");
        list.push_str(&format!(
            "    Builtin {{ wasm: include_bytes!({:?}), manifest: include_str!({:?}) }},\n",
            wasm.display().to_string(),
            manifest.display().to_string()
        ));
    }
    list.push_str("];\n");
    fs::write(out.join("builtin_plugins.rs"), list).expect("writing builtin list");
}

/// Rebuild when plugin sources, the SDK or the contract change — but not on
/// every change under plugins/target.
fn watch(plugins: &Path, root: &Path) {
    println!(
        "cargo:rerun-if-changed={}",
        plugins.join("Cargo.toml").display()
    );
    println!(
        "cargo:rerun-if-changed={}",
        plugins.join("Cargo.lock").display()
    );
    println!("cargo:rerun-if-changed={}", root.join("wit").display());
    println!(
        "cargo:rerun-if-changed={}",
        root.join("plugin-sdk/wit").display()
    );
    println!(
        "cargo:rerun-if-changed={}",
        root.join("plugin-sdk").display()
    );
    if let Ok(entries) = fs::read_dir(plugins) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() && path.file_name().is_some_and(|n| n != "target") {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
    }
}
