//! `dataguardian plugin …` and `dataguardian registry …`: authoring
//! (new, build, pack, test), the registry (keygen, publish) and the
//! operator's side (install, update, remove, grant, list, inspect). The
//! command line acts as the user who runs it: it writes the plugin
//! directory a server loads at its next start (a running server installs
//! through the API, without a restart).

use crate::plugin::client::Target;
use crate::plugin::grant::{Grant, GrantFile};
use crate::plugin::manifest::Manifest;
use crate::plugin::package::{sha256_hex, Package};
use crate::plugin::registry::{self, PublisherKey, TrustedKeys};
use crate::plugin::{embedded, tracing_sink, LoadedPlugin, Plugins};
use anyhow::{bail, Context};
use clap::Subcommand;
use dg_app::usecases::plugins::{self as install, CapabilityKind, InstallRequest, PluginSources};
use dg_app::usecases::Actor;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Subcommand, Debug)]
pub enum PluginCommand {
    /// One line per plugin, with the types each serves; `--available`
    /// lists the registry's plugins instead.
    List {
        #[arg(long)]
        available: bool,
    },
    /// Kind, version, API version, capabilities asked and granted, and
    /// warnings of a plugin, as JSON.
    Inspect { name: String },
    /// Writes a new plugin project NAME/ that builds as it is.
    New {
        name: String,
        #[arg(long, value_parser = ["engine", "storage", "notifier"])]
        kind: String,
        /// The plugin SDK's directory (default: the one this binary was
        /// built from, when it is still there).
        #[arg(long)]
        sdk_path: Option<PathBuf>,
    },
    /// Builds DIR for wasm32-wasip2 (release), checks its exports against
    /// its world and its `info()` against plugin.toml, and writes the
    /// component with the manifest built in to DIR/target/dataguardian/ID.wasm.
    Build { dir: PathBuf },
    /// Packs DIR's built component into one file (component, manifest,
    /// checksums) for `registry publish`.
    Pack {
        dir: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
    /// Loads DIR's built component in the real runtime and runs info,
    /// config validation and the health check (a test event for a
    /// notifier); for a storage, the storage conformance kit. DIR may
    /// also name a loaded plugin (`local`, `s3`, an installed one).
    ///
    /// `--config JSON` is the plugin's configuration here (secrets
    /// included: they stay host-side), not a configuration file.
    Test { dir: PathBuf },
    /// Installs NAME[@REQ] from the registry (--registry) into the plugin
    /// directory.
    Install {
        spec: String,
        /// A capability kind to grant (process, network, http, filesystem,
        /// smtp, file_modes); repeatable. Installing is refused while the
        /// plugin asks for a kind not granted.
        #[arg(long = "grant")]
        grant: Vec<String>,
        /// A type (or id) this plugin may take over from another plugin.
        #[arg(long = "replace")]
        replace: Vec<String>,
    },
    /// Updates an installed plugin to the highest compatible version.
    Update {
        name: String,
        /// A semver requirement (`^1.2`); default any.
        #[arg(long)]
        version: Option<String>,
        /// Capability kinds to grant besides those granted before.
        #[arg(long = "grant")]
        grant: Vec<String>,
    },
    /// Removes an installed plugin and its files.
    Remove { name: String },
    /// Shows what an installed plugin asks for and writes the operator's
    /// grant for that component (bound to its SHA-256).
    Grant {
        name: String,
        /// A type (or id) it may take over from another plugin.
        #[arg(long = "replace")]
        replace: Vec<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum RegistryCommand {
    /// Writes a publisher key pair: KEY (private, 0600) and KEY.pub.
    Keygen {
        #[arg(long)]
        out: PathBuf,
    },
    /// Writes a package and its signed entry into the registry directory.
    Publish {
        file: PathBuf,
        #[arg(long)]
        index: PathBuf,
        #[arg(long)]
        key: PathBuf,
    },
}

/// `registry …`: needs no plugin runtime.
pub fn registry_command(command: &RegistryCommand) -> anyhow::Result<()> {
    match command {
        RegistryCommand::Keygen { out } => {
            let key = PublisherKey::generate()?;
            let public = key.write(out)?;
            println!("key id {}", key.id());
            println!("private key: {} (keep it secret)", out.display());
            println!(
                "public key:  {} (servers trust it with --trusted-key)",
                public.display()
            );
        }
        RegistryCommand::Publish { file, index, key } => {
            let key = PublisherKey::read(key)?;
            let entry = registry::publish(file, index, &key)?;
            println!(
                "published {} {} ({} bytes, sha256 {}) signed by {} into {}",
                entry.name,
                entry.version,
                entry.size,
                entry.sha256,
                entry.key_id,
                index.join(registry::INDEX_FILE).display()
            );
        }
    }
    Ok(())
}

fn cli_actor() -> Actor {
    Actor::Cli {
        user: std::env::var("USER").unwrap_or_else(|_| "unknown".into()),
    }
}

fn kinds(names: &[String]) -> anyhow::Result<Vec<CapabilityKind>> {
    names
        .iter()
        .map(|n| {
            CapabilityKind::ALL
                .into_iter()
                .find(|k| k.as_str() == n)
                .with_context(|| {
                    format!("--grant {n}: expected process, network, http, filesystem, smtp or file_modes")
                })
        })
        .collect()
}

pub async fn plugin_command(
    plugins: &Plugins,
    sources: &PluginSources,
    command: PluginCommand,
    test_config: Option<String>,
) -> anyhow::Result<()> {
    match command {
        PluginCommand::List { available: false } => {
            println!(
                "{:<14} {:<9} {:<8} {:<5} {:<9} SERVES",
                "ID", "KIND", "VERSION", "API", "ORIGIN"
            );
            for p in plugins.list() {
                let serves = plugins.serves(&p);
                println!(
                    "{:<14} {:<9} {:<8} {:<5} {:<9} {}",
                    p.id(),
                    p.kind().to_string(),
                    p.manifest.plugin.version,
                    p.api_version,
                    if p.builtin { "built-in" } else { "installed" },
                    if serves.is_empty() {
                        "(nothing: replaced)".to_string()
                    } else {
                        serves.join(",")
                    }
                );
            }
        }
        PluginCommand::List { available: true } => {
            let registry = sources
                .registry
                .as_deref()
                .context("--registry (DG_REGISTRY) is required with --available")?;
            let index = install::available(registry, &install::Reach::Direct)
                .await
                .map_err(anyhow::Error::msg)?;
            println!(
                "{:<14} {:<9} {:<8} {:<8} {:<17} INSTALLED",
                "NAME", "KIND", "VERSION", "API", "KEY"
            );
            for e in &index.plugins {
                let installed = plugins
                    .installed(&e.name)
                    .map(|p| p.manifest.plugin.version.clone())
                    .unwrap_or_default();
                let api = if e.fits_this_host() {
                    e.api.clone()
                } else {
                    format!("{} (unfit)", e.api)
                };
                println!(
                    "{:<14} {:<9} {:<8} {:<8} {:<17} {}",
                    e.name, e.kind, e.version, api, e.key_id, installed
                );
            }
        }
        PluginCommand::Inspect { name } => {
            let plugin = plugins
                .list()
                .into_iter()
                .find(|p| p.id() == name || p.manifest.plugin.provides.contains(&name))
                .ok_or_else(|| {
                    crate::exit::NotFound(format!(
                        "no plugin named `{name}` (see `dataguardian plugin list`)"
                    ))
                })?;
            let effective = plugin.grant.effective(&plugin.manifest.capabilities);
            let out = serde_json::json!({
                "id": plugin.id(),
                "kind": plugin.kind(),
                "version": plugin.manifest.plugin.version,
                "api_version": plugin.api_version,
                "api_requirement": plugin.manifest.plugin.api,
                "description": plugin.manifest.plugin.description,
                "provides": plugin.manifest.plugin.provides,
                "serves": plugins.serves(&plugin),
                "replaces": plugin.replaces,
                "secrets": plugin.manifest.plugin.secrets,
                "builtin": plugin.builtin,
                "sha256": plugin.wasm_sha256,
                "capabilities": {
                    "requested": plugin.manifest.capabilities,
                    "granted": effective,
                },
                "limits": plugin.manifest.limits,
                "warnings": plugin.warnings,
            });
            println!("{}", serde_json::to_string_pretty(&out)?);
        }
        PluginCommand::New { .. } => unreachable!("handled before plugins load"),
        PluginCommand::Build { dir } => {
            let (path, plugin) = build(plugins, &dir).await?;
            println!(
                "built {} {} ({}) → {}",
                plugin.id(),
                plugin.manifest.plugin.version,
                plugin.kind(),
                path.display()
            );
            println!("sha256 {}", plugin.wasm_sha256);
        }
        PluginCommand::Pack { dir, out } => {
            let built = built_component(&dir)?;
            let package = Package::from_component(std::fs::read(&built)?)?;
            let bytes = package.to_bytes()?;
            std::fs::write(&out, &bytes).with_context(|| format!("writing {}", out.display()))?;
            println!(
                "packed {} {} → {} ({} bytes, sha256 {})",
                package.manifest.plugin.id,
                package.manifest.plugin.version,
                out.display(),
                bytes.len(),
                sha256_hex(&bytes)
            );
        }
        PluginCommand::Test { dir } => {
            let config = test_config.context(
                "--config JSON is required: the plugin's configuration (e.g. --config '{\"path\": \"/tmp/x\"}')",
            )?;
            let config: serde_json::Value =
                serde_json::from_str(&config).context("--config: not valid JSON")?;
            // A plugin project, or the name of a loaded plugin (the
            // built-in storages run the conformance kit this way).
            let loaded = (!dir.exists())
                .then(|| {
                    let name = dir.to_string_lossy();
                    plugins.list().into_iter().find(|p| p.id() == name)
                })
                .flatten();
            let plugin = match loaded {
                Some(plugin) => plugin,
                None => {
                    let built = built_component(&dir)?;
                    let wasm = std::fs::read(&built)?;
                    Arc::new(
                        plugins
                            .runtime()
                            .load(&wasm, None, Grant::Manifest, false)
                            .map_err(|e| anyhow::anyhow!("{e}"))?,
                    )
                }
            };
            crate::secrets::declare_secret_keys(&plugin.manifest.plugin.secrets);
            let failures = crate::plugin_test::run(plugins, plugin, config).await;
            if failures > 0 {
                bail!("{failures} check(s) failed");
            }
        }
        PluginCommand::Install {
            spec,
            grant,
            replace,
        } => {
            let (name, version) = match spec.split_once('@') {
                Some((n, v)) => (n.to_string(), v.to_string()),
                None => (spec.clone(), String::new()),
            };
            let request = InstallRequest {
                name,
                version,
                registry: None,
                grant: kinds(&grant)?,
                replace,
            };
            run_install(plugins, sources, request, false).await?;
        }
        PluginCommand::Update {
            name,
            version,
            grant,
        } => {
            if plugins.installed(&name).is_none() {
                return Err(crate::exit::NotFound(format!("no installed plugin `{name}`")).into());
            }
            let request = install::update_request(
                plugins,
                name,
                version.unwrap_or_default(),
                None,
                kinds(&grant)?,
            );
            run_install(plugins, sources, request, true).await?;
        }
        PluginCommand::Remove { name } => {
            let removed = install::remove(&cli_actor(), plugins, &sources.dir, &name)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!(
                "removed {} {} from {}",
                removed.id(),
                removed.manifest.plugin.version,
                sources.dir.display()
            );
        }
        PluginCommand::Grant { name, replace } => grant(plugins, &sources.dir, &name, replace)?,
    }
    Ok(())
}

/// Installs or updates as the command-line user and says what happened.
async fn run_install(
    plugins: &Plugins,
    sources: &PluginSources,
    request: InstallRequest,
    update: bool,
) -> anyhow::Result<()> {
    let (installed, _) = install::install(
        &cli_actor(),
        plugins,
        sources,
        install::Reach::Direct,
        request,
        update,
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    print_installed(&installed, &sources.dir);
    Ok(())
}

fn print_installed(installed: &install::Installed, dir: &Path) {
    println!(
        "installed {} {} ({}, serves {}) into {}; signed by key {}",
        installed.id,
        installed.version,
        installed.kind,
        installed.serves.join(", "),
        dir.display(),
        installed.key_id
    );
    for g in &installed.granted {
        println!("  granted {}: {}", g.kind.as_str(), g.allows);
    }
    for w in &installed.warnings {
        println!("  warning: {w}");
    }
    println!("a running server loads it at its next start (or install it through the API)");
}

/// Shows what the installed plugin `name` asks for and writes a grant of
/// all of it for this very component.
fn grant(plugins: &Plugins, dir: &Path, name: &str, replace: Vec<String>) -> anyhow::Result<()> {
    let wasm_path = dir.join(format!("{name}.wasm"));
    let files = crate::plugin::runtime::read_plugin_files(&wasm_path)
        .with_context(|| format!("no installed plugin at {}", wasm_path.display()))?;
    let plugin = plugins
        .load_component(
            &files.wasm,
            files.manifest.as_deref(),
            &GrantFile::default(),
        )
        .map_err(anyhow::Error::msg)?;
    let asked = &plugin.manifest.capabilities;
    println!(
        "plugin `{}` {} (sha256 {}) asks for:",
        plugin.id(),
        plugin.manifest.plugin.version,
        plugin.wasm_sha256
    );
    let mut any = false;
    for kind in CapabilityKind::ALL {
        if let Some(what) = kind.asked(asked) {
            any = true;
            println!("  {}: {what}", kind.as_str());
        }
    }
    if !any {
        println!("  nothing beyond its own memory");
    }
    let file = GrantFile {
        component_sha256: Some(plugin.wasm_sha256.clone()),
        replaces: replace,
        capabilities: asked.clone(),
    };
    let path = dir.join(format!("{name}.grant.toml"));
    std::fs::write(
        &path,
        file.to_toml(plugin.id()).map_err(anyhow::Error::msg)?,
    )
    .with_context(|| format!("writing {}", path.display()))?;
    println!("granted all of it in {}", path.display());
    Ok(())
}

/// Builds DIR and writes its component with the manifest built in.
async fn build(plugins: &Plugins, dir: &Path) -> anyhow::Result<(PathBuf, Arc<LoadedPlugin>)> {
    let manifest_text = std::fs::read_to_string(dir.join("plugin.toml"))
        .with_context(|| format!("reading {}", dir.join("plugin.toml").display()))?;
    let manifest = Manifest::parse(&manifest_text)?;
    let output = std::process::Command::new("cargo")
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--message-format=json-render-diagnostics",
        ])
        .current_dir(dir)
        .stderr(std::process::Stdio::inherit())
        .output()
        .context("running cargo (is the Rust toolchain installed, with `rustup target add wasm32-wasip2`?)")?;
    if !output.status.success() {
        bail!("cargo build failed in {}", dir.display());
    }
    let component = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact")
        .flat_map(|m| {
            m["filenames"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter_map(|f| f.as_str().map(PathBuf::from))
        })
        .rfind(|f| f.extension().is_some_and(|e| e == "wasm"))
        .context("cargo built no .wasm: is the crate a `cdylib`?")?;
    let wasm = std::fs::read(&component)?;
    let wasm = embedded::append_section(
        &embedded::strip_section(&wasm, embedded::MANIFEST_SECTION),
        embedded::MANIFEST_SECTION,
        manifest_text.as_bytes(),
    );
    let plugin = Arc::new(
        plugins
            .runtime()
            .load(&wasm, None, Grant::Manifest, false)
            .map_err(|e| anyhow::anyhow!("{e}"))?,
    );
    let info = crate::plugin_test::info(plugins, &plugin).await?;
    let m = &manifest.plugin;
    let mut differences = Vec::new();
    if info.id != m.id {
        differences.push(format!("id `{}` vs `{}`", info.id, m.id));
    }
    if info.version != m.version {
        differences.push(format!("version `{}` vs `{}`", info.version, m.version));
    }
    if info.provides != m.provides {
        differences.push(format!("provides {:?} vs {:?}", info.provides, m.provides));
    }
    if !differences.is_empty() {
        bail!(
            "info() and plugin.toml disagree: {} (use `manifest_info!` so they cannot)",
            differences.join(", ")
        );
    }
    let out_dir = dir.join("target/dataguardian");
    std::fs::create_dir_all(&out_dir)?;
    let path = out_dir.join(format!("{}.wasm", m.id));
    std::fs::write(&path, &wasm)?;
    Ok((path, plugin))
}

/// DIR's built component (`plugin build`), checked to carry DIR's
/// current plugin.toml.
fn built_component(dir: &Path) -> anyhow::Result<PathBuf> {
    let text = std::fs::read_to_string(dir.join("plugin.toml"))
        .with_context(|| format!("reading {}", dir.join("plugin.toml").display()))?;
    let manifest = Manifest::parse(&text)?;
    let path = dir.join(format!("target/dataguardian/{}.wasm", manifest.plugin.id));
    let wasm = std::fs::read(&path).with_context(|| {
        format!(
            "{} is missing: run `dataguardian plugin build {}` first",
            path.display(),
            dir.display()
        )
    })?;
    if embedded::manifest(&wasm).as_deref() != Some(text.as_str()) {
        bail!(
            "{} was built from another plugin.toml: run `dataguardian plugin build {}` again",
            path.display(),
            dir.display()
        );
    }
    Ok(path)
}

/// Used by `plugin test`: a client target for `config` (secrets split
/// off as the server does).
pub fn target_for(config: &serde_json::Value) -> Target {
    let (config, secrets) = crate::server::targets::split_secrets(config);
    Target::new(config, tracing_sink()).with_secrets(secrets)
}

/// The publisher keys a server or the CLI trusts.
pub fn trusted_keys(files: &[PathBuf]) -> anyhow::Result<TrustedKeys> {
    TrustedKeys::load(files).context("--trusted-key")
}
