//! Reading the call's configuration and options.

use crate::{CallContext, PluginError, PluginResult};
use serde::de::DeserializeOwned;

/// Parses a JSON configuration, naming the offending field on failure.
/// It is read as a value first: errors then name the field (`missing
/// field `host``) without the parser's position in the host's JSON text,
/// which means nothing to the person who sent it.
pub fn parse_json<T: DeserializeOwned>(config: &str) -> PluginResult<T> {
    let value: serde_json::Value = serde_json::from_str(config).map_err(|_| {
        PluginError::InvalidConfig("the configuration is not a JSON document".into())
    })?;
    // The host says which configuration this is (`config`,
    // `connection_config`): the message names only the setting.
    serde_json::from_value(value).map_err(|e| PluginError::InvalidConfig(e.to_string()))
}

/// Parses the configuration of a call.
pub fn parse<T: DeserializeOwned>(ctx: &CallContext) -> PluginResult<T> {
    parse_json(&ctx.config)
}

/// The value of an option of this call, if given.
pub fn option<'a>(ctx: &'a CallContext, key: &str) -> Option<&'a str> {
    ctx.options
        .iter()
        .find(|kv| kv.key == key)
        .map(|kv| kv.value.as_str())
}

/// True when the host holds a secret of that name for this call.
pub fn has_secret(ctx: &CallContext, name: &str) -> bool {
    ctx.secret_names.iter().any(|n| n == name)
}

/// The scratch directory of this call, or an error naming the manifest field.
pub fn scratch_dir(ctx: &CallContext) -> PluginResult<&str> {
    ctx.scratch_dir.as_deref().ok_or_else(|| {
        PluginError::PermissionDenied(
            "no scratch directory: declare `scratch = true` under [capabilities]".into(),
        )
    })
}

/// A configuration that checks itself beyond what serde can (absolute
/// paths, non-empty names...). Errors should name the field.
pub trait Checked: DeserializeOwned {
    /// Checks the parsed configuration; [`load`] and [`validate`] call it
    /// after parsing. The default accepts everything.
    fn check(&self) -> PluginResult<()> {
        Ok(())
    }
}

/// Parses and checks the configuration of a call.
pub fn load<T: Checked>(ctx: &CallContext) -> PluginResult<T> {
    let cfg: T = parse(ctx)?;
    cfg.check()?;
    Ok(cfg)
}

/// Parses and checks a configuration document (`validate-config`).
pub fn validate<T: Checked>(config: &str) -> PluginResult<()> {
    parse_json::<T>(config)?.check()
}
