//! Installing, updating and removing plugins from a signed registry while
//! the server runs (and from the command line, which writes the same plugin
//! directory). Every step that can refuse does so before anything is
//! written: the index entry fits this host, the package's hash and
//! signature verify, the operator granted each capability kind it asks
//! for, it compiles and links, and it takes no type another plugin serves
//! unless the operator said it may.

use super::{Actor, UseCaseError};
use dg_core::access::Permission;
use dg_core::domain::FieldError;
use dg_plugin_host::egress::EgressPolicy;
use dg_plugin_host::grant::GrantFile;
use dg_plugin_host::manifest::Capabilities;
use dg_plugin_host::registry::{Index, IndexEntry, TrustedKeys, INDEX_FILE, MAX_INDEX_BYTES};
use dg_plugin_host::{LoadedPlugin, Plugins};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// A capability kind an operator approves at install. `scratch` (a private
/// directory removed after each call) needs no approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CapabilityKind {
    Process,
    Network,
    Http,
    Filesystem,
    Smtp,
    FileModes,
}

impl CapabilityKind {
    pub const ALL: [CapabilityKind; 6] = [
        Self::Process,
        Self::Network,
        Self::Http,
        Self::Filesystem,
        Self::Smtp,
        Self::FileModes,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Process => "process",
            Self::Network => "network",
            Self::Http => "http",
            Self::Filesystem => "filesystem",
            Self::Smtp => "smtp",
            Self::FileModes => "file_modes",
        }
    }

    /// What `caps` asks of this kind, in words; `None` when nothing.
    pub fn asked(self, caps: &Capabilities) -> Option<String> {
        let list = |items: Vec<String>| (!items.is_empty()).then(|| items.join("; "));
        match self {
            Self::Process => list(
                caps.process
                    .iter()
                    .map(|r| format!("run `{}` {}", r.program, r.args.join(" ")))
                    .collect(),
            ),
            Self::Network => list(caps.network.clone()),
            Self::Http => list(
                caps.http
                    .iter()
                    .map(|r| {
                        if r.auth.is_empty() {
                            r.url.clone()
                        } else {
                            format!("{} (host-side auth {})", r.url, r.auth.join(", "))
                        }
                    })
                    .collect(),
            ),
            Self::Filesystem => list(
                caps.filesystem
                    .iter()
                    .map(|r| {
                        let access = match r.access {
                            dg_plugin_host::manifest::Access::Read => "read",
                            dg_plugin_host::manifest::Access::ReadWrite => "read-write",
                        };
                        format!("{} ({access})", r.path)
                    })
                    .collect(),
            ),
            Self::Smtp => list(
                caps.smtp
                    .iter()
                    .map(|r| format!("{}:{}", r.host, r.port))
                    .collect(),
            ),
            Self::FileModes => caps
                .file_modes
                .then(|| "read and set file modes and owners".to_string()),
        }
    }

    /// `caps` keeping only this kind.
    fn keep(self, from: &Capabilities, into: &mut Capabilities) {
        match self {
            Self::Process => into.process = from.process.clone(),
            Self::Network => into.network = from.network.clone(),
            Self::Http => into.http = from.http.clone(),
            Self::Filesystem => into.filesystem = from.filesystem.clone(),
            Self::Smtp => into.smtp = from.smtp.clone(),
            Self::FileModes => into.file_modes = from.file_modes,
        }
    }
}

/// What `caps` grants of the asked `kinds` (plus `scratch`).
pub fn grant_kinds(asked: &Capabilities, kinds: &[CapabilityKind]) -> Capabilities {
    let mut granted = Capabilities {
        scratch: asked.scratch,
        ..Capabilities::default()
    };
    for kind in kinds {
        kind.keep(asked, &mut granted);
    }
    granted
}

/// The kinds `granted` approves of what is asked (an update keeps them).
pub fn kinds_granted(asked: &Capabilities, granted: &Capabilities) -> Vec<CapabilityKind> {
    CapabilityKind::ALL
        .into_iter()
        .filter(|k| k.asked(asked).is_some() && k.asked(granted).is_some())
        .collect()
}

/// The request updating the installed plugin `name`: the capability
/// kinds granted before stay granted, `more` are added, and what it
/// replaced it still replaces. For a plugin not installed, only `more`.
pub fn update_request(
    plugins: &Plugins,
    name: String,
    version: String,
    registry: Option<String>,
    more: Vec<CapabilityKind>,
) -> InstallRequest {
    let (mut grant, replace) = match plugins.installed(&name) {
        Some(current) => (
            kinds_granted(
                &current.manifest.capabilities,
                &current.grant.effective(&current.manifest.capabilities),
            ),
            current.replaces.clone(),
        ),
        None => (Vec::new(), Vec::new()),
    };
    grant.extend(more);
    InstallRequest {
        name,
        version,
        registry,
        grant,
        replace,
    }
}

/// Where plugins come from and go.
#[derive(Debug, Clone)]
pub struct PluginSources {
    /// Where installed plugins live (`--plugin-dir`, default
    /// DATA_DIR/plugins).
    pub dir: PathBuf,
    /// The default registry (`--registry`): the operator's, reached
    /// directly like the sign-on provider.
    pub registry: Option<String>,
    /// Publisher keys packages must be signed with (`--trusted-key`).
    pub trusted: TrustedKeys,
}

/// One install or update.
#[derive(Debug, Clone, Default)]
pub struct InstallRequest {
    pub name: String,
    /// A semver requirement (`^1.2`, `=1.0.0`); empty is any version.
    pub version: String,
    /// Another registry than the default; from API callers it must pass
    /// the egress policy.
    pub registry: Option<String>,
    /// Capability kinds the operator approves.
    pub grant: Vec<CapabilityKind>,
    /// Types (or ids) this plugin may take over from another plugin.
    pub replace: Vec<String>,
}

/// What was installed.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Installed {
    pub id: String,
    pub version: String,
    /// The version it replaced, for an update.
    pub previous_version: Option<String>,
    pub kind: String,
    pub provides: Vec<String>,
    /// The types it serves now.
    pub serves: Vec<String>,
    /// SHA-256 of the component its grant is bound to.
    pub sha256: String,
    pub registry: String,
    /// The publisher key that signed it.
    pub key_id: String,
    /// The capability kinds granted, with what each allows.
    pub granted: Vec<GrantedKind>,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct GrantedKind {
    pub kind: CapabilityKind,
    pub allows: String,
}

/// Serializes installs and updates (see [`install`]).
static INSTALLS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// How registries are reached: the CLI acts as its user, the server's
/// API callers go through the egress policy.
pub enum Reach {
    Direct,
    Policed(Arc<EgressPolicy>),
}

/// Installs `request.name` (`update`: replaces the installed one) from the
/// registry, and activates it at once.
pub async fn install(
    actor: &Actor,
    plugins: &Plugins,
    sources: &PluginSources,
    reach: Reach,
    request: InstallRequest,
    update: bool,
) -> Result<(Installed, Arc<LoadedPlugin>), UseCaseError> {
    actor.require(Permission::PluginsInstall)?;
    // One install at a time: two of the same plugin would both pass the
    // "not installed yet" check and write the same staged files.
    let _one_at_a_time = INSTALLS.lock().await;
    let invalid =
        |field: &str, message: String| UseCaseError::Invalid(FieldError::new(field, message));
    let name_ok = !request.name.is_empty()
        && request.name.len() <= 64
        && request
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !name_ok {
        return Err(invalid(
            "name",
            "a plugin name: 1 to 64 letters, digits, `-` and `_`".into(),
        ));
    }
    let current = plugins.installed(&request.name);
    if update
        && current.is_none()
        && plugins
            .list()
            .iter()
            .any(|p| p.builtin && p.id() == request.name)
    {
        return Err(UseCaseError::Conflict(format!(
            "`{}` is a built-in plugin: it is updated with the server",
            request.name
        )));
    }
    let mut request = request;
    request.grant.sort_by_key(|k| k.as_str());
    request.grant.dedup();
    match (&current, update) {
        (Some(p), false) => {
            return Err(UseCaseError::Conflict(format!(
                "plugin `{}` {} is already installed; update it (POST /api/plugins/{}/update, `dataguardian plugin update {}`)",
                p.id(),
                p.manifest.plugin.version,
                p.id(),
                p.id()
            )))
        }
        (None, true) => return Err(UseCaseError::not_found("installed plugin", &request.name)),
        _ => {}
    }
    let (registry, reach) = match (&request.registry, &sources.registry) {
        (Some(given), _) => (given.clone(), reach),
        (None, Some(default)) => (default.clone(), Reach::Direct),
        (None, None) => {
            return Err(invalid(
                "registry",
                "no registry given, and the server has no default (--registry)".into(),
            ))
        }
    };
    let index_url = index_url(&registry).map_err(|m| invalid("registry", m))?;
    let index_bytes = fetch(&index_url, &reach, MAX_INDEX_BYTES)
        .await
        .map_err(|m| invalid("registry", m))?;
    let index = Index::parse(&index_bytes).map_err(|e| invalid("registry", e.to_string()))?;
    let entry = index.choose(&request.name, &request.version).map_err(|e| {
        use dg_plugin_host::registry::RegistryError as R;
        match e {
            R::UnknownPlugin(_) => invalid("name", e.to_string()),
            _ => invalid("version", e.to_string()),
        }
    })?;
    if let Some(p) = &current {
        if p.manifest.plugin.version == entry.version {
            return Err(UseCaseError::Conflict(format!(
                "plugin `{}` is already at {}, the newest version matching `{}`",
                p.id(),
                entry.version,
                if request.version.is_empty() {
                    "*"
                } else {
                    &request.version
                }
            )));
        }
    }
    let package_url = index_url
        .join(&entry.url)
        .map_err(|e| invalid("registry", format!("the entry's url `{}`: {e}", entry.url)))?;
    let bytes = fetch(
        &package_url,
        &reach,
        entry.size.min(dg_plugin_host::package::MAX_PACKAGE_BYTES),
    )
    .await
    .map_err(|m| UseCaseError::Upstream(format!("downloading {}: {m}", entry.url)))?;
    let package = sources
        .trusted
        .verify(entry, &bytes)
        .map_err(|e| invalid("name", format!("`{}` {}: {e}", entry.name, entry.version)))?;
    activate(
        plugins,
        &sources.dir,
        package,
        entry,
        &registry,
        &request,
        current,
    )
}

/// Grants, loads, admits and writes the verified package.
fn activate(
    plugins: &Plugins,
    dir: &Path,
    package: dg_plugin_host::package::Package,
    entry: &IndexEntry,
    registry: &str,
    request: &InstallRequest,
    current: Option<Arc<LoadedPlugin>>,
) -> Result<(Installed, Arc<LoadedPlugin>), UseCaseError> {
    let invalid =
        |field: &str, message: String| UseCaseError::Invalid(FieldError::new(field, message));
    let asked = &package.manifest.capabilities;
    let missing: Vec<String> = CapabilityKind::ALL
        .into_iter()
        .filter(|k| !request.grant.contains(k))
        .filter_map(|k| {
            k.asked(asked)
                .map(|what| format!("{} ({what})", k.as_str()))
        })
        .collect();
    if !missing.is_empty() {
        return Err(invalid(
            "grant",
            format!(
                "`{}` {} asks for capabilities that were not granted: {}. Review them and install again granting them (\"grant\": [{}]; CLI: --grant KIND)",
                entry.name,
                entry.version,
                missing.join(", "),
                CapabilityKind::ALL
                    .into_iter()
                    .filter(|k| !request.grant.contains(k) && k.asked(asked).is_some())
                    .map(|k| format!("\"{}\"", k.as_str()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    let sha256 = dg_plugin_host::package::sha256_hex(&package.wasm);
    let grant = GrantFile {
        component_sha256: Some(sha256.clone()),
        replaces: request.replace.clone(),
        capabilities: grant_kinds(asked, &request.grant),
    };
    let loaded = plugins
        .load_component(&package.wasm, None, &grant)
        .map_err(|m| invalid("name", m))?;
    let id = loaded.id().to_string();
    let grant_text = grant
        .to_toml(&id)
        .map_err(|m| UseCaseError::Upstream(format!("writing the grant: {m}")))?;
    // Refused before anything is written; checked again when admitted.
    plugins
        .check_admission(&loaded)
        .map_err(|e| invalid("replace", e.to_string()))?;
    let written = |e: std::io::Error| {
        UseCaseError::Upstream(format!(
            "installing `{id}` into {}: {e}; nothing was changed",
            dir.display()
        ))
    };
    let committed = StagedFiles::write(dir, &id, &package.wasm, &grant_text)
        .and_then(StagedFiles::commit)
        .map_err(written)?;
    let admitted = match plugins.admit(loaded) {
        Ok(p) => p,
        Err(e) => {
            committed.roll_back();
            return Err(invalid("replace", e.to_string()));
        }
    };
    committed.finish();
    let installed = Installed {
        id: id.clone(),
        version: admitted.manifest.plugin.version.clone(),
        previous_version: current.map(|p| p.manifest.plugin.version.clone()),
        kind: admitted.kind().to_string(),
        provides: admitted.manifest.plugin.provides.clone(),
        serves: plugins.serves(&admitted),
        sha256,
        registry: shown_registry(registry),
        key_id: entry.key_id.clone(),
        granted: request
            .grant
            .iter()
            .filter_map(|k| {
                k.asked(asked)
                    .map(|allows| GrantedKind { kind: *k, allows })
            })
            .collect(),
        warnings: admitted.warnings.clone(),
    };
    Ok((installed, admitted))
}

/// Removes the installed plugin `name` and its files. Built-in plugins
/// cannot be removed; `in_use` names what still uses a type only it serves.
pub fn remove(
    actor: &Actor,
    plugins: &Plugins,
    dir: &Path,
    name: &str,
) -> Result<Arc<LoadedPlugin>, UseCaseError> {
    actor.require(Permission::PluginsInstall)?;
    let Some(plugin) = plugins.installed(name) else {
        if plugins.list().iter().any(|p| p.builtin && p.id() == name) {
            return Err(UseCaseError::Conflict(format!(
                "`{name}` is a built-in plugin; it cannot be removed"
            )));
        }
        return Err(UseCaseError::not_found("installed plugin", name));
    };
    for suffix in ["wasm", "grant.toml", "toml"] {
        let path = dir.join(format!("{name}.{suffix}"));
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(UseCaseError::Upstream(format!(
                    "removing {}: {e}",
                    path.display()
                )))
            }
        }
    }
    plugins.remove(plugin.id());
    Ok(plugin)
}

/// The index of `registry` (a base URL, or the index file's own URL).
pub async fn available(registry: &str, reach: &Reach) -> Result<Index, String> {
    let url = index_url(registry)?;
    let bytes = fetch(&url, reach, MAX_INDEX_BYTES).await?;
    Index::parse(&bytes).map_err(|e| e.to_string())
}

/// `url` as messages, logs and the audit trail show it: without the
/// user name and password it may carry.
pub fn shown_url(url: &url::Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_password(None);
    let _ = shown.set_username("");
    shown.to_string()
}

/// A registry as given by a caller, shown without credentials (anything
/// but an http(s) URL is shown from after its last `@`).
pub fn shown_registry(registry: &str) -> String {
    match url::Url::parse(registry.trim()) {
        Ok(url) if matches!(url.scheme(), "http" | "https") => shown_url(&url),
        _ => registry
            .split('@')
            .next_back()
            .unwrap_or_default()
            .chars()
            .take(200)
            .collect(),
    }
}

/// `registry` as the URL of its index: `…/index.json` as given, or the
/// index file beneath a base URL.
pub fn index_url(registry: &str) -> Result<url::Url, String> {
    let shown = shown_registry(registry);
    let mut url =
        url::Url::parse(registry.trim()).map_err(|e| format!("`{shown}` is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "`{shown}`: only http and https registries are read"
        ));
    }
    if !url.path().ends_with(".json") {
        if !url.path().ends_with('/') {
            let path = format!("{}/", url.path());
            url.set_path(&path);
        }
        url = url.join(INDEX_FILE).map_err(|e| e.to_string())?;
    }
    Ok(url)
}

/// GETs `url` (no redirects), at most `limit` bytes; through the egress
/// policy when `reach` says so, connecting only to the addresses it
/// checked.
async fn fetch(url: &url::Url, reach: &Reach, limit: u64) -> Result<Vec<u8>, String> {
    let mut client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(120));
    if let Reach::Policed(egress) = reach {
        let host = url.host_str().ok_or("the URL has no host")?.to_string();
        let port = url.port_or_known_default().ok_or("the URL has no port")?;
        let addrs = egress.resolve(&host, port).await.map_err(|r| r.0)?;
        client = client.resolve_to_addrs(host.trim_matches(['[', ']']), &addrs);
    }
    let client = client.build().map_err(|e| e.to_string())?;
    // Messages name the URL without credentials it may carry; reqwest's
    // own errors would repeat it whole.
    let shown = shown_url(url);
    let mut response = client
        .get(url.clone())
        .send()
        .await
        .map_err(|e| format!("GET {shown}: {}", e.without_url()))?;
    if response.status().is_redirection() {
        let to = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("?");
        return Err(format!(
            "GET {shown}: HTTP {} to {to}; redirects are not followed: give the final URL",
            response.status()
        ));
    }
    if !response.status().is_success() {
        return Err(format!("GET {shown}: HTTP {}", response.status()));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| format!("GET {shown}: {}", e.without_url()))?
    {
        body.extend_from_slice(&chunk);
        if body.len() as u64 > limit {
            return Err(format!("GET {shown}: larger than {limit} bytes"));
        }
    }
    Ok(body)
}

/// A plugin's new files written beside the old ones (`.ID.wasm.new`),
/// then moved into place — the old ones kept aside (`.ID.wasm.old`) until
/// the plugin is admitted, so a failure at any step puts the directory
/// back as it was. [`recover`] finishes or undoes what a crash interrupted.
struct StagedFiles {
    /// (staged, target, kept-aside) per file: the grant first, the
    /// component last (the component is what makes a plugin installed).
    files: Vec<(PathBuf, PathBuf, PathBuf)>,
    stale_manifest: PathBuf,
}

/// Files moved into place, the old ones still kept aside.
struct Committed {
    files: Vec<(PathBuf, PathBuf, PathBuf)>,
}

impl StagedFiles {
    fn write(dir: &Path, id: &str, wasm: &[u8], grant: &str) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let mut files = Vec::new();
        for (name, bytes) in [
            (format!("{id}.grant.toml"), grant.as_bytes()),
            (format!("{id}.wasm"), wasm),
        ] {
            let staged = dir.join(format!(".{name}.new"));
            if let Err(e) = std::fs::write(&staged, bytes) {
                let _ = std::fs::remove_file(&staged);
                for (written, _, _) in &files {
                    let _ = std::fs::remove_file(written);
                }
                return Err(e);
            }
            files.push((staged, dir.join(&name), dir.join(format!(".{name}.old"))));
        }
        Ok(Self {
            files,
            stale_manifest: dir.join(format!("{id}.toml")),
        })
    }

    fn commit(self) -> std::io::Result<Committed> {
        let mut moved: Vec<(PathBuf, PathBuf, PathBuf)> = Vec::new();
        let step = |(staged, target, aside): &(PathBuf, PathBuf, PathBuf)| -> std::io::Result<()> {
            match std::fs::rename(target, aside) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
            if let Err(e) = std::fs::rename(staged, target) {
                let _ = std::fs::rename(aside, target);
                return Err(e);
            }
            Ok(())
        };
        for file in &self.files {
            if let Err(e) = step(file) {
                Committed { files: moved }.roll_back();
                for (staged, _, _) in &self.files {
                    let _ = std::fs::remove_file(staged);
                }
                return Err(e);
            }
            moved.push(file.clone());
        }
        // The manifest is built into the component; an older file beside
        // it would disagree with it at the next start.
        let _ = std::fs::remove_file(&self.stale_manifest);
        Ok(Committed { files: moved })
    }
}

impl Committed {
    /// Puts the old files back (none: removes the new ones).
    fn roll_back(self) {
        for (_, target, aside) in self.files.iter().rev() {
            let _ = std::fs::remove_file(target);
            let _ = std::fs::rename(aside, target);
        }
    }

    /// Drops the old files: the new plugin is in.
    fn finish(self) {
        for (_, _, aside) in &self.files {
            let _ = std::fs::remove_file(aside);
        }
    }
}

/// Finishes or undoes an install a crash interrupted in `dir`: staged
/// files (`.X.new`) are removed; a file kept aside (`.X.old`) goes back
/// where it was when that place is empty, and is removed otherwise. A
/// component whose grant is missing is the older state restored. Returns
/// what it did, one line each, for the log.
pub fn recover(dir: &Path) -> Vec<String> {
    let mut done = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return done;
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.') && (n.ends_with(".new") || n.ends_with(".old")))
        .collect();
    names.sort();
    for name in names {
        let path = dir.join(&name);
        if let Some(original) = name.strip_suffix(".old").and_then(|n| n.strip_prefix('.')) {
            let target = dir.join(original);
            if target.exists() {
                let _ = std::fs::remove_file(&path);
                done.push(format!("removed {name}, left by an install that completed"));
            } else if std::fs::rename(&path, &target).is_ok() {
                done.push(format!("restored {original}: an install was interrupted"));
            }
        } else if std::fs::remove_file(&path).is_ok() {
            done.push(format!("removed {name}, left by an interrupted install"));
        }
    }
    done
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_interrupted_install_is_finished_or_undone() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("a.wasm"), "new").unwrap();
        std::fs::write(d.join(".a.wasm.old"), "old").unwrap();
        std::fs::write(d.join(".b.wasm.old"), "old b").unwrap();
        std::fs::write(d.join(".c.wasm.new"), "half").unwrap();
        let done = recover(d);
        assert_eq!(done.len(), 3, "{done:?}");
        assert_eq!(std::fs::read_to_string(d.join("a.wasm")).unwrap(), "new");
        assert_eq!(std::fs::read_to_string(d.join("b.wasm")).unwrap(), "old b");
        let left: Vec<_> = std::fs::read_dir(d)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(left.len(), 2, "{left:?}");
    }

    #[test]
    fn a_failed_commit_puts_the_old_files_back() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("p.wasm"), "v1").unwrap();
        std::fs::write(d.join("p.grant.toml"), "g1").unwrap();
        let committed = StagedFiles::write(d, "p", b"v2", "g2")
            .unwrap()
            .commit()
            .unwrap();
        assert_eq!(std::fs::read_to_string(d.join("p.wasm")).unwrap(), "v2");
        committed.roll_back();
        assert_eq!(std::fs::read_to_string(d.join("p.wasm")).unwrap(), "v1");
        assert_eq!(
            std::fs::read_to_string(d.join("p.grant.toml")).unwrap(),
            "g1"
        );
        // The component cannot be moved aside (a directory is in the way):
        // the grant already moved goes back, nothing staged is left.
        std::fs::write(d.join("q.wasm"), "q1").unwrap();
        std::fs::create_dir_all(d.join(".q.wasm.old/x")).unwrap();
        assert!(StagedFiles::write(d, "q", b"q2", "g")
            .unwrap()
            .commit()
            .is_err());
        let mut left: Vec<_> = std::fs::read_dir(d)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, [".q.wasm.old", "p.grant.toml", "p.wasm", "q.wasm"]);
        assert_eq!(std::fs::read_to_string(d.join("q.wasm")).unwrap(), "q1");
    }

    #[test]
    fn credentials_in_a_registry_url_are_never_shown() {
        assert_eq!(
            shown_registry("https://bob:s3cret@reg.example/plugins"),
            "https://reg.example/plugins"
        );
        let err = index_url("ftp://bob:s3cret@reg.example/").unwrap_err();
        assert!(!err.contains("s3cret") && !err.contains("bob"), "{err}");
        assert!(!shown_registry("bob:s3cret@nowhere").contains("s3cret"));
    }

    #[test]
    fn registry_urls_name_their_index() {
        assert_eq!(
            index_url("http://h:1/reg").unwrap().as_str(),
            "http://h:1/reg/index.json"
        );
        assert_eq!(
            index_url("https://h/reg/").unwrap().as_str(),
            "https://h/reg/index.json"
        );
        assert_eq!(
            index_url("http://h/x/custom.json").unwrap().as_str(),
            "http://h/x/custom.json"
        );
        assert!(index_url("file:///etc").is_err());
        assert!(index_url("nope").is_err());
    }
}
