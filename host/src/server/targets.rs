//! Plugin clients for stored datasources and storage locations. Secrets
//! are split off the stored configuration here: plugins get their names,
//! the host injects the values into the programs they spawn.

use crate::plugin::client::Target;
use crate::plugin::{EngineClient, LogSink, Plugins, StorageClient};
use crate::store::rows::{Datasource, StorageLocation};
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;

/// Configuration keys whose values are secrets: kept out of plugin
/// configuration and out of API responses.
pub const SECRET_KEYS: &[&str] = &[
    "password",
    "secret_access_key",
    "secret_key",
    "token",
    "api_key",
    "private_key",
    "passphrase",
];

/// What API responses show instead of a secret.
pub const REDACTED: &str = "********";

#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error(transparent)]
    NotInstalled(#[from] crate::plugin::NotInstalled),
    #[error("{0}")]
    Invalid(String),
}

/// Splits secrets off a stored configuration.
pub fn split_secrets(config: &Value) -> (Value, HashMap<String, String>) {
    let mut plain = config.clone();
    let mut secrets = HashMap::new();
    if let Value::Object(map) = &mut plain {
        for key in SECRET_KEYS {
            if let Some(v) = map.remove(*key) {
                match v {
                    Value::String(s) if !s.is_empty() => {
                        secrets.insert((*key).to_string(), s);
                    }
                    Value::Null | Value::String(_) => {}
                    other => {
                        secrets.insert((*key).to_string(), other.to_string());
                    }
                }
            }
        }
    }
    (plain, secrets)
}

/// A configuration with every secret value replaced by [`REDACTED`].
pub fn redact(config: &Value) -> Value {
    let mut out = config.clone();
    if let Value::Object(map) = &mut out {
        for key in SECRET_KEYS {
            if let Some(v) = map.get_mut(*key) {
                if !v.is_null() {
                    *v = Value::String(REDACTED.into());
                }
            }
        }
    }
    out
}

/// Why an update carrying the redacted placeholder was refused.
pub const PLACEHOLDER_WITHOUT_VALUE: &str =
    "is the redacted placeholder `********` but no value is stored; send the real value";

/// Keeps stored secrets when an update sends them back redacted or omits
/// them, so clients can round-trip what they read. The redacted
/// placeholder with nothing stored behind it is refused (its key is
/// returned): it would otherwise become the secret itself.
pub fn merge_secrets(new: &mut Value, old: &Value) -> Result<(), &'static str> {
    if let (Value::Object(n), Value::Object(o)) = (new, old) {
        for key in SECRET_KEYS {
            let keep = match n.get(*key) {
                None => true,
                Some(Value::String(s)) => s == REDACTED,
                Some(_) => false,
            };
            if !keep {
                continue;
            }
            match o.get(*key) {
                Some(v) => {
                    n.insert((*key).to_string(), v.clone());
                }
                None if n.contains_key(*key) => return Err(key),
                None => {}
            }
        }
    }
    Ok(())
}

/// The engine client for a datasource.
pub fn engine_for(
    plugins: &Plugins,
    ds: &Datasource,
    log: LogSink,
) -> Result<EngineClient, TargetError> {
    let (config, secrets) = split_secrets(&ds.connection_config.0);
    let target = Target::new(config, log).with_secrets(secrets);
    Ok(plugins.engine(&ds.kind, target)?)
}

/// The engine client for a datasource with its configuration replaced by
/// `config` (the scratch database an engine created for a verification
/// restore); the datasource's secrets still apply.
pub fn engine_with_config(
    plugins: &Plugins,
    ds: &Datasource,
    config: Value,
    log: LogSink,
) -> Result<EngineClient, TargetError> {
    let (_, secrets) = split_secrets(&ds.connection_config.0);
    let (config, _) = split_secrets(&config);
    let target = Target::new(config, log).with_secrets(secrets);
    Ok(plugins.engine(&ds.kind, target)?)
}

/// The storage client for a storage location. A local storage's root is
/// created on first use (the plugin may only write inside it).
pub fn storage_for(
    plugins: &Plugins,
    s: &StorageLocation,
    log: LogSink,
) -> Result<StorageClient, TargetError> {
    if s.kind == "local" {
        let path = s
            .config
            .0
            .get("path")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                TargetError::Invalid("config.path: required for local storage".into())
            })?;
        std::fs::create_dir_all(Path::new(path))
            .map_err(|e| TargetError::Invalid(format!("config.path: creating {path}: {e}")))?;
    }
    let (config, secrets) = split_secrets(&s.config.0);
    let target = Target::new(config, log).with_secrets(secrets);
    Ok(plugins.storage(&s.kind, target)?)
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

        let mut update = json!({"host": "db2", "password": REDACTED});
        merge_secrets(&mut update, &stored).unwrap();
        assert_eq!(update["password"], "pw");
        let mut replaced = json!({"password": "new"});
        merge_secrets(&mut replaced, &stored).unwrap();
        assert_eq!(replaced["password"], "new");
        let mut placeholder = json!({"secret_key": REDACTED});
        assert_eq!(merge_secrets(&mut placeholder, &stored), Err("secret_key"));
    }
}
