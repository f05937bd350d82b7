//! `info()` from the plugin's own `plugin.toml`, so what the plugin says it
//! is and what its manifest says cannot disagree (`dataguardian plugin
//! build` also embeds that same file in the component).

use crate::{PluginInfo, PluginKind};
use serde::Deserialize;

#[derive(Deserialize)]
struct ManifestFile {
    plugin: Section,
}

#[derive(Deserialize)]
struct Section {
    id: String,
    version: String,
    kind: String,
    provides: Vec<String>,
    #[serde(default)]
    description: String,
}

/// The [`PluginInfo`] a manifest describes, with `config_schema` (a JSON
/// Schema document). Panics on a manifest that does not parse: the
/// plugin cannot describe itself, and `plugin build` reports it first.
/// `artifact_format` is `None` and `description` defaults to empty.
///
/// ```
/// use dataguardian_plugin_sdk::manifest::info_from_manifest;
/// use dataguardian_plugin_sdk::PluginKind;
///
/// let manifest = r#"
///     [plugin]
///     id = "log-notifier"
///     version = "0.1.0"
///     kind = "notifier"
///     provides = ["log"]
/// "#;
/// let info = info_from_manifest(manifest, r#"{"type":"object"}"#.into());
/// assert_eq!(info.id, "log-notifier");
/// assert!(matches!(info.kind, PluginKind::Notifier));
/// assert_eq!(info.provides, ["log"]);
/// ```
pub fn info_from_manifest(manifest: &str, config_schema: String) -> PluginInfo {
    let file: ManifestFile = match toml::from_str(manifest) {
        Ok(file) => file,
        Err(e) => panic!("plugin.toml does not parse: {e}"),
    };
    let kind = match file.plugin.kind.as_str() {
        "engine" => PluginKind::Engine,
        "storage" => PluginKind::Storage,
        "notifier" => PluginKind::Notifier,
        other => panic!("plugin.toml: kind `{other}` is not engine, storage or notifier"),
    };
    PluginInfo {
        id: file.plugin.id,
        version: file.plugin.version,
        kind,
        provides: file.plugin.provides,
        artifact_format: None,
        description: file.plugin.description,
        config_schema,
    }
}

/// `info()` from the `plugin.toml` next to the calling crate's
/// `Cargo.toml` (read at compile time) and the JSON Schema of the
/// configuration type `$config` (which derives [`schemars::JsonSchema`]).
/// Panics like [`info_from_manifest`] on a manifest that does not parse.
///
/// ```no_run
/// use dataguardian_plugin_sdk::schemars::JsonSchema;
/// use dataguardian_plugin_sdk::serde::Deserialize;
/// use dataguardian_plugin_sdk::{manifest_info, PluginInfo};
/// # // The SDK crate has no `plugin.toml` of its own: this doc test
/// # // stands in for the file so the example compiles.
/// # macro_rules! include_str {
/// #     ($path:expr) => {
/// #         "[plugin]\nid = \"example\"\nversion = \"0.1.0\"\nkind = \"notifier\"\nprovides = [\"example\"]\n"
/// #     };
/// # }
///
/// // The SDK's re-exports stand in for `serde` and `schemars` dependencies.
/// #[derive(Deserialize, JsonSchema)]
/// #[serde(crate = "dataguardian_plugin_sdk::serde")]
/// #[schemars(crate = "dataguardian_plugin_sdk::schemars")]
/// struct Config {
///     url: String,
/// }
///
/// fn info() -> PluginInfo {
///     manifest_info!(Config)
/// }
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! manifest_info {
    ($config:ty) => {
        $crate::manifest::info_from_manifest(
            include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/plugin.toml")),
            $crate::serde_json::to_string(&$crate::schemars::schema_for!($config))
                .unwrap_or_default(),
        )
    };
}
