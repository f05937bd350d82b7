//! Plugin clients for stored datasources and storage locations. Secrets
//! are split off the stored configuration here: plugins get their names,
//! the host injects the values into the programs they spawn.

use crate::paths::{Occupied, PathRefusal, PathUse};
use crate::state::AppState;
use dg_plugin_host::client::Target;
use dg_plugin_host::manifest::fill_template;
use dg_plugin_host::runtime::LoadedPlugin;
use dg_plugin_host::{EngineClient, LogSink, PluginKind, StorageClient};
use dg_store::rows::{Datasource, StorageLocation};
use dg_store::StoreError;
use serde_json::Value;
use std::collections::HashMap;
use std::path::PathBuf;

use dg_core::secrets::is_secret_key;
pub use dg_core::secrets::{redact, secret_keys, REDACTED, SECRET_KEYS};

#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error(transparent)]
    NotInstalled(#[from] dg_plugin_host::NotInstalled),
    /// A configured path the policy refuses; `field` is dotted
    /// (`connection_config.path`).
    #[error("{field}: {refusal}")]
    Path { field: String, refusal: PathRefusal },
    /// The target is configured right but cannot be reached now (a
    /// storage root that does not exist).
    #[error("{0}")]
    Unreachable(String),
    #[error("reading the metadata store: {0}")]
    Store(#[from] StoreError),
}

/// Splits secrets off a stored configuration, at any depth: a nested
/// secret is named by its dotted path (`auth.token`).
pub fn split_secrets(config: &Value) -> (Value, HashMap<String, String>) {
    let mut plain = config.clone();
    let mut secrets = HashMap::new();
    split_in(&mut plain, "", &mut secrets);
    (plain, secrets)
}

fn split_in(value: &mut Value, prefix: &str, secrets: &mut HashMap<String, String>) {
    if let Value::Array(items) = value {
        let base = prefix.trim_end_matches('.');
        for (i, item) in items.iter_mut().enumerate() {
            split_in(item, &format!("{base}[{i}]."), secrets);
        }
        return;
    }
    let Value::Object(map) = value else {
        return;
    };
    let keys: Vec<String> = map.keys().cloned().collect();
    for key in keys {
        let name = format!("{prefix}{key}");
        if is_secret_key(&key) && !map[&key].is_object() {
            match map.remove(&key) {
                Some(Value::String(s)) if !s.is_empty() => {
                    secrets.insert(name, s);
                }
                // Secrets are strings; the API refuses anything else, so a
                // number or boolean here was written behind its back and
                // is handed to no one.
                Some(other) if !other.is_null() && !other.is_string() => {
                    tracing::warn!(
                        "configuration key `{name}` holds a secret that is not a string; it is ignored"
                    );
                }
                Some(_) | None => {}
            }
        } else if let Some(v) = map.get_mut(&key) {
            split_in(v, &format!("{name}."), secrets);
        }
    }
}

/// Why an update carrying the redacted placeholder was refused.
pub const PLACEHOLDER_WITHOUT_VALUE: &str =
    "is the redacted placeholder `********` but no value is stored; send the real value";

/// Configuration keys that say where a secret is sent, or on whose
/// behalf: when one changes, stored secrets are not carried over (they
/// would go to a new place the client never proved it may send them to).
/// For notification channels that includes who receives a message and
/// whom it claims to be from (`from`, `to`, `cc`, `recipients`,
/// `phone_number_id`): a stored SMTP password or WhatsApp token must not
/// let whoever can edit a channel mail anyone in the organisation's name.
const DESTINATION_KEYS: &[&str] = &[
    "host",
    "hostname",
    "port",
    "endpoint",
    "url",
    "base_url",
    "uri",
    "server",
    "bucket",
    "from",
    "to",
    "cc",
    "bcc",
    "recipients",
    "phone_number_id",
];

/// Why stored secrets could not be kept in an update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MergeRefusal {
    /// `********` sent for a key with no stored value.
    Placeholder(String),
    /// The secret would be kept while a destination key changed.
    Moved { secret: String, moved: String },
}

impl MergeRefusal {
    /// The dotted field at fault under `prefix` and why.
    pub fn to_api(&self, prefix: &str) -> (String, String) {
        match self {
            MergeRefusal::Placeholder(key) => (
                format!("{prefix}.{key}"),
                PLACEHOLDER_WITHOUT_VALUE.to_string(),
            ),
            MergeRefusal::Moved { secret, moved } => (
                format!("{prefix}.{secret}"),
                format!(
                    "must be sent again: `{moved}` changed, and a stored secret is never sent \
                     to a new destination"
                ),
            ),
        }
    }
}

/// Keeps stored secrets when an update sends them back redacted or omits
/// them, so clients can round-trip what they read — as long as the
/// destination (`host`, `endpoint`...) stays the same. The redacted
/// placeholder with nothing stored behind it is refused: it would
/// otherwise become the secret itself.
pub fn merge_secrets(new: &mut Value, old: &Value) -> Result<(), MergeRefusal> {
    let (Value::Object(n), Value::Object(o)) = (new, old) else {
        return Ok(());
    };
    let moved = DESTINATION_KEYS
        .iter()
        .find(|k| n.get(**k) != o.get(**k))
        .map(|k| k.to_string());
    for key in secret_keys() {
        let key = key.as_str();
        let keep = match n.get(key) {
            None => true,
            Some(Value::String(s)) => s == REDACTED,
            Some(_) => false,
        };
        if !keep {
            continue;
        }
        match (o.get(key), &moved) {
            (Some(_), Some(moved)) => {
                return Err(MergeRefusal::Moved {
                    secret: key.to_string(),
                    moved: moved.clone(),
                })
            }
            (Some(v), None) => {
                n.insert(key.to_string(), v.clone());
            }
            (None, _) if n.contains_key(key) => {
                return Err(MergeRefusal::Placeholder(key.to_string()))
            }
            (None, _) => {}
        }
    }
    for (key, value) in n.iter_mut() {
        if let (Value::Object(_), Some(old)) = (&*value, o.get(key)) {
            merge_secrets(value, old)?;
        }
    }
    Ok(())
}

/// Refuses the redacted placeholder in a new configuration: with nothing
/// stored behind it, it would become the secret itself.
pub fn refuse_placeholders(new: &Value) -> Result<(), MergeRefusal> {
    merge_secrets(&mut new.clone(), &Value::Object(Default::default()))
}

/// The engine client for a datasource, its paths confined and resolved.
pub async fn engine_for(
    state: &AppState,
    ds: &Datasource,
    log: LogSink,
) -> Result<EngineClient, TargetError> {
    let config = confine_datasource(state, &ds.kind, &ds.connection_config.0).await?;
    let (config, secrets) = split_secrets(&config);
    let target = Target::new(config, log).with_secrets(secrets);
    Ok(state.plugins.engine(&ds.kind, target)?)
}

/// The engine client for a datasource with its configuration replaced by
/// `config` (the scratch database an engine created for a verification
/// restore); the datasource's secrets still apply.
pub async fn engine_with_config(
    state: &AppState,
    ds: &Datasource,
    config: Value,
    log: LogSink,
) -> Result<EngineClient, TargetError> {
    let (_, secrets) = split_secrets(&ds.connection_config.0);
    let config = confine_datasource(state, &ds.kind, &config).await?;
    let (config, _) = split_secrets(&config);
    let target = Target::new(config, log).with_secrets(secrets);
    Ok(state.plugins.engine(&ds.kind, target)?)
}

/// The storage client for a storage location, its root confined and
/// resolved. A root that does not exist makes the storage unreachable: it
/// is never created here (an unmounted disk must not look healthy and
/// fill the disk under its mount point).
pub async fn storage_for(
    state: &AppState,
    s: &StorageLocation,
    log: LogSink,
) -> Result<StorageClient, TargetError> {
    let config = confine_storage(state, &s.kind, &s.config.0, Some(&s.id), false).await?;
    for (key, dir) in storage_dirs(state, &s.kind, &config)? {
        if !dir.is_dir() {
            return Err(TargetError::Unreachable(format!(
                "config.{key}: {} does not exist (is its disk mounted?); storage roots are \
                 never created implicitly",
                dir.display()
            )));
        }
    }
    let (config, secrets) = split_secrets(&config);
    let target = Target::new(config, log).with_secrets(secrets);
    Ok(state.plugins.storage(&s.kind, target)?)
}

/// The directories a storage plugin is granted from `config` (a local
/// root), with the key each comes from.
pub fn storage_dirs(
    state: &AppState,
    kind: &str,
    config: &Value,
) -> Result<Vec<(String, PathBuf)>, TargetError> {
    let plugin = state.plugins.find(PluginKind::Storage, kind)?;
    Ok(fs_paths(&plugin, config))
}

/// Checks a datasource configuration's paths (restore targets included)
/// against the path policy and every storage root; returns the
/// configuration with those paths replaced by their real locations.
pub async fn confine_datasource(
    state: &AppState,
    kind: &str,
    config: &Value,
) -> Result<Value, TargetError> {
    let others = occupied(state, None, false).await?;
    confine(
        state,
        PluginKind::Engine,
        kind,
        config,
        "connection_config",
        PathUse::Datasource,
        &others,
    )
}

/// As [`confine_datasource`] for a storage: its root must also stay clear
/// of other storages and, `with_datasources` (when it is saved), of
/// datasource paths. At use time a datasource that drifted onto a storage
/// is refused on its own side, so it cannot stop every backup.
pub async fn confine_storage(
    state: &AppState,
    kind: &str,
    config: &Value,
    own_id: Option<&str>,
    with_datasources: bool,
) -> Result<Value, TargetError> {
    let others = occupied(state, own_id, with_datasources).await?;
    confine(
        state,
        PluginKind::Storage,
        kind,
        config,
        "config",
        PathUse::StorageRoot,
        &others,
    )
}

/// Filesystem paths of a plugin configuration: for each directory the
/// plugin's manifest asks for from `{config.KEY}`, the key, and the
/// directory as granted (`{config.path:parent}` grants the parent).
fn fs_paths(plugin: &LoadedPlugin, config: &Value) -> Vec<(String, PathBuf)> {
    let mut out: Vec<(String, PathBuf)> = Vec::new();
    let mut push = |key: &str, path: PathBuf| {
        if !out.iter().any(|(k, p)| k == key && *p == path) {
            out.push((key.to_string(), path));
        }
    };
    for rule in &plugin.manifest.capabilities.filesystem {
        let Some(key) = rule
            .path
            .split("{config.")
            .nth(1)
            .and_then(|rest| rest.split(['}', ':']).next())
        else {
            continue;
        };
        // The directory exactly as the runtime will grant it, whatever
        // the placeholders' values are.
        if let Some(granted) = fill_template(&rule.path, config) {
            push(key, PathBuf::from(granted));
        }
        // A template that is one placeholder names a path of its own (an
        // SQLite file whose parent is granted): that path is checked too.
        let whole = rule.path.starts_with("{config.")
            && rule.path.ends_with('}')
            && rule.path.matches('{').count() == 1;
        if let (true, Some(value)) = (whole, config.get(key).and_then(Value::as_str)) {
            push(key, PathBuf::from(value));
        }
    }
    out
}

fn confine(
    state: &AppState,
    plugin_kind: PluginKind,
    kind: &str,
    config: &Value,
    field: &str,
    use_: PathUse,
    others: &[Occupied],
) -> Result<Value, TargetError> {
    let plugin = state.plugins.find(plugin_kind, kind)?;
    let mut out = config.clone();
    for (key, path) in fs_paths(&plugin, config) {
        let field = format!("{field}.{key}");
        let text = path.to_str().ok_or_else(|| TargetError::Path {
            field: field.clone(),
            refusal: PathRefusal::Invalid("is not valid UTF-8".into()),
        })?;
        let real = state
            .paths
            .check(text, use_, others)
            .map_err(|refusal| TargetError::Path {
                field: field.clone(),
                refusal,
            })?;
        let given = config.get(&key).and_then(Value::as_str);
        if given == Some(text) {
            if use_ == PathUse::StorageRoot && real.exists() && !real.is_dir() {
                return Err(TargetError::Path {
                    field,
                    refusal: PathRefusal::Invalid(format!(
                        "{} is a file, not a directory",
                        real.display()
                    )),
                });
            }
            if let (Some(map), Some(real)) = (out.as_object_mut(), real.to_str()) {
                map.insert(key.clone(), Value::String(real.to_string()));
            }
        } else if real.exists() && !real.is_dir() {
            return Err(TargetError::Path {
                field,
                refusal: PathRefusal::Invalid(format!(
                    "the directory granted for it, {}, is not a directory",
                    real.display()
                )),
            });
        }
    }
    Ok(out)
}

/// Paths other objects hold: storage roots (all but `except`) and, when
/// `with_datasources`, datasource paths.
async fn occupied(
    state: &AppState,
    except: Option<&str>,
    with_datasources: bool,
) -> Result<Vec<Occupied>, TargetError> {
    let mut out = Vec::new();
    for s in dg_store::storages::all(&state.db).await? {
        if Some(s.id.as_str()) == except {
            continue;
        }
        let Ok(plugin) = state.plugins.find(PluginKind::Storage, &s.kind) else {
            continue;
        };
        for (_, path) in fs_paths(&plugin, &s.config.0) {
            out.push(Occupied {
                label: format!("storage `{}`", s.name),
                path,
            });
        }
    }
    if with_datasources {
        for d in dg_store::datasources::all(&state.db).await? {
            let Ok(plugin) = state.plugins.find(PluginKind::Engine, &d.kind) else {
                continue;
            };
            for (_, path) in fs_paths(&plugin, &d.connection_config.0) {
                out.push(Occupied {
                    label: format!("datasource `{}`", d.name),
                    path,
                });
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_are_split_redacted_and_kept_on_update() {
        let stored = json!({"host": "db", "password": "pw", "username": "u"});
        let (plain, secrets) = split_secrets(&stored);
        assert_eq!(plain, json!({"host": "db", "username": "u"}));
        assert_eq!(secrets["password"], "pw");
        assert_eq!(redact(&stored)["password"], REDACTED);
        // A secret that is not a string (written behind the API's back)
        // is handed to no one, not stringified.
        let (plain, secrets) = split_secrets(&json!({"host": "db", "password": 1234}));
        assert_eq!(plain, json!({"host": "db"}));
        assert!(secrets.is_empty());

        let mut update = json!({"host": "db", "sslmode": "require", "password": REDACTED});
        merge_secrets(&mut update, &stored).unwrap();
        assert_eq!(update["password"], "pw");
        let mut replaced = json!({"password": "new"});
        merge_secrets(&mut replaced, &stored).unwrap();
        assert_eq!(replaced["password"], "new");
        let mut placeholder = json!({"host": "db", "secret_key": REDACTED});
        assert_eq!(
            merge_secrets(&mut placeholder, &stored),
            Err(MergeRefusal::Placeholder("secret_key".into()))
        );
        // A stored password is never carried to a new host.
        let mut moved = json!({"host": "attacker.example", "username": "u"});
        assert!(matches!(
            merge_secrets(&mut moved, &stored),
            Err(MergeRefusal::Moved { ref secret, .. }) if secret == "password"
        ));
        let mut resent = json!({"host": "db2", "password": "pw2"});
        merge_secrets(&mut resent, &stored).unwrap();
        assert_eq!(resent["password"], "pw2");
    }

    #[test]
    fn secrets_follow_who_a_message_goes_to_and_is_from() {
        let smtp = json!({"host": "smtp", "from": "dg@corp", "to": ["ops@corp"],
            "cc": [], "password": "pw", "timeout_secs": 30});
        let mut same = smtp.clone();
        same["timeout_secs"] = json!(60);
        same["password"] = json!(REDACTED);
        merge_secrets(&mut same, &smtp).unwrap();
        assert_eq!(same["password"], "pw");
        for (key, value) in [
            ("from", json!("ceo@corp")),
            ("to", json!(["ops@corp", "attacker@evil.example"])),
            ("cc", json!(["attacker@evil.example"])),
        ] {
            let mut moved = smtp.clone();
            moved[key] = value;
            moved["password"] = json!(REDACTED);
            assert_eq!(
                merge_secrets(&mut moved, &smtp),
                Err(MergeRefusal::Moved {
                    secret: "password".into(),
                    moved: key.to_string()
                }),
                "{key}"
            );
        }
        let whatsapp = json!({"phone_number_id": "1065", "recipients": ["+5511987654321"],
            "access_token": "tok"});
        for (key, value) in [
            ("phone_number_id", json!("9999")),
            ("recipients", json!(["+5511987654321", "+4915112345678"])),
        ] {
            let mut moved = whatsapp.clone();
            moved[key] = value;
            moved
                .as_object_mut()
                .expect("object")
                .remove("access_token");
            assert!(
                matches!(
                    merge_secrets(&mut moved, &whatsapp),
                    Err(MergeRefusal::Moved { ref secret, .. }) if secret == "access_token"
                ),
                "{key}"
            );
        }
    }
}
