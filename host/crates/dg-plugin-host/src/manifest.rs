//! `plugin.toml`: what a plugin is and which capabilities it asks for.
//!
//! Capabilities may use templates filled from the call's configuration
//! (`{config.host}`, `{config.path:parent}`), so a grant covers exactly the
//! database or directory the call is about and nothing else.

pub use dg_core::domain::PluginKind;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Errors reading or resolving a manifest; messages name the field.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("plugin.toml: {0}")]
    Parse(String),
    #[error("plugin.toml: {field}: {message}")]
    Invalid { field: String, message: String },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub plugin: PluginSection,
    #[serde(default)]
    pub capabilities: Capabilities,
    #[serde(default)]
    pub limits: Limits,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginSection {
    pub id: String,
    pub version: String,
    pub kind: PluginKind,
    pub provides: Vec<String>,
    /// Semver requirement on the plugin API (`^0.1`).
    pub api: String,
    #[serde(default)]
    pub description: String,
    /// Engines: restores with `jobs` > 1 from a spooled archive file (the
    /// host passes the `archive_file` and `jobs` options).
    #[serde(default)]
    pub parallel_restore: bool,
    /// Configuration fields that hold secrets: sealed at rest, answered as
    /// `********`, never handed to the plugin (it names them in `auth`
    /// directives and `secret_file`, and the host applies them).
    #[serde(default)]
    pub secrets: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Capabilities {
    #[serde(default)]
    pub process: Vec<ProcessRule>,
    /// `tcp://HOST:PORT` entries, templates allowed.
    #[serde(default)]
    pub network: Vec<String>,
    /// Origins `wasi:http` requests may go to, templates allowed.
    #[serde(default)]
    pub http: Vec<HttpRule>,
    #[serde(default)]
    pub filesystem: Vec<DirRule>,
    /// SMTP servers the host may deliver mail to for the plugin (the
    /// `mail` import), templates allowed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub smtp: Vec<SmtpRule>,
    /// A private read-write directory per call.
    #[serde(default)]
    pub scratch: bool,
    /// The `file-modes` import: read modes and owners beneath the granted
    /// directories, set them beneath read-write ones. Opt-in because
    /// setting owners (as root) is more than writing bytes.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub file_modes: bool,
}

/// A program the plugin may run, with the argument patterns it may pass:
/// `*` matches within one argument, `**` matches any remaining arguments.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ProcessRule {
    pub program: String,
    #[serde(default)]
    pub args: Vec<String>,
    /// Environment variables the plugin may set for the program: `NAME`,
    /// or `NAME=secret` for one that must come from a secret (`secret` or
    /// `secret-file`). Anything else is refused: a variable like
    /// `LD_PRELOAD` would change what the program runs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<String>,
    /// `HOST:PORT` (templates allowed) the program connects to. The host
    /// resolves it, checks the addresses against the egress policy before
    /// the program starts, and hands the program the checked address in
    /// place of every argument that is the host name, so the program
    /// cannot resolve the name again to somewhere else.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect: Option<String>,
}

impl ProcessRule {
    /// Why the variable `name` (from a secret or not) may not be set for
    /// this rule's program; `None` when it may.
    pub fn env_refusal(&self, name: &str, from_secret: bool) -> Option<String> {
        let program = &self.program;
        for entry in &self.env {
            match entry.split_once('=') {
                Some((allowed, "secret")) if allowed == name => {
                    return (!from_secret).then(|| {
                        format!(
                            "environment variable `{name}` for `{program}` must come from a secret"
                        )
                    });
                }
                None if entry == name => return None,
                _ => {}
            }
        }
        Some(format!(
            "environment variable `{name}` is not granted for `{program}`"
        ))
    }
}

/// An origin (`scheme://host[:port]`, a path is ignored) outgoing HTTP
/// requests may go to. `unless` names a config key whose presence turns
/// the rule off: a default endpoint that a configured one replaces.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct HttpRule {
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unless: Option<String>,
    /// Host-side authentications the plugin may ask for on this origin,
    /// as `SCHEME:SECRET` (`aws-sigv4:secret_access_key`); none if empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub auth: Vec<String>,
}

/// An SMTP server (`host`, `port`, both templates, e.g. `{config.host}`
/// and `{config.port|587}`) the `mail` import may deliver to.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SmtpRule {
    pub host: String,
    pub port: String,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct DirRule {
    pub path: String,
    pub access: Access,
    /// Operations the rule applies to; empty means all.
    #[serde(default)]
    pub operations: Vec<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, serde::Serialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum Access {
    Read,
    ReadWrite,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    #[serde(default = "default_memory_mb")]
    pub memory_mb: u64,
}

/// Largest memory a manifest may ask for.
pub const MAX_MEMORY_MB: u64 = 4096;

fn default_memory_mb() -> u64 {
    256
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory_mb: default_memory_mb(),
        }
    }
}

impl Manifest {
    /// Whether configuration field `name` is a secret for this plugin: it
    /// declares it, or it is one the host always seals.
    pub fn is_secret(&self, name: &str) -> bool {
        self.plugin.secrets.iter().any(|s| s == name)
            || dg_core::secrets::is_builtin_secret_key(name)
    }

    pub fn parse(text: &str) -> Result<Self, ManifestError> {
        let manifest: Manifest =
            toml::from_str(text).map_err(|e| ManifestError::Parse(e.to_string()))?;
        manifest.check()?;
        Ok(manifest)
    }

    fn check(&self) -> Result<(), ManifestError> {
        let invalid = |field: &str, message: &str| ManifestError::Invalid {
            field: field.into(),
            message: message.into(),
        };
        let id_ok = !self.plugin.id.is_empty()
            && self
                .plugin
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !id_ok {
            return Err(invalid("plugin.id", "use letters, digits, `-` and `_`"));
        }
        semver::Version::parse(&self.plugin.version)
            .map_err(|e| invalid("plugin.version", &e.to_string()))?;
        semver::VersionReq::parse(&self.plugin.api)
            .map_err(|e| invalid("plugin.api", &e.to_string()))?;
        if self.plugin.provides.is_empty() {
            return Err(invalid("plugin.provides", "must name at least one type"));
        }
        for rule in &self.capabilities.process {
            if rule.program.is_empty() || rule.program.contains('/') {
                return Err(invalid(
                    "capabilities.process.program",
                    "a bare program name looked up on the host PATH",
                ));
            }
        }
        for net in &self.capabilities.network {
            parse_tcp_template(net).ok_or_else(|| {
                invalid(
                    "capabilities.network",
                    &format!("`{net}`: expected tcp://HOST:PORT"),
                )
            })?;
        }
        for rule in &self.capabilities.http {
            let scheme_ok = ["http://", "https://", "{config."]
                .iter()
                .any(|p| rule.url.starts_with(p));
            if !scheme_ok {
                return Err(invalid(
                    "capabilities.http.url",
                    &format!(
                        "`{}`: expected an http(s) URL or a {{config.KEY}} template",
                        rule.url
                    ),
                ));
            }
        }
        for rule in &self.capabilities.http {
            for auth in &rule.auth {
                let secret = auth.split_once(':').map(|(_, s)| s).unwrap_or_default();
                if !self.is_secret(secret) {
                    return Err(invalid(
                        "capabilities.http.auth",
                        &format!(
                            "`{auth}` names `{secret}`, which is not a secret field: list it in plugin.secrets"
                        ),
                    ));
                }
            }
        }
        for name in &self.plugin.secrets {
            let ok = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !ok {
                return Err(invalid(
                    "plugin.secrets",
                    &format!("`{name}`: a field name (letters, digits, `_`, `-`)"),
                ));
            }
        }
        for rule in &self.capabilities.smtp {
            if rule.host.trim().is_empty() || rule.port.trim().is_empty() {
                return Err(invalid(
                    "capabilities.smtp",
                    "each rule needs `host` and `port` (templates allowed)",
                ));
            }
        }
        if self.limits.memory_mb == 0 || self.limits.memory_mb > MAX_MEMORY_MB {
            return Err(invalid(
                "limits.memory_mb",
                &format!("must be between 1 and {MAX_MEMORY_MB}"),
            ));
        }
        Ok(())
    }
}

/// `tcp://host:port` split into its templates.
pub fn parse_tcp_template(entry: &str) -> Option<(&str, &str)> {
    let rest = entry.strip_prefix("tcp://")?;
    let (host, port) = rest.rsplit_once(':')?;
    (!host.is_empty() && !port.is_empty()).then_some((host, port))
}

/// Fills `{config.KEY}`, `{config.KEY:parent}` and `{config.KEY|DEFAULT}`
/// from the call's configuration. `None` when a key without a default is
/// missing: the capability then does not apply to this call.
pub fn fill_template(template: &str, config: &serde_json::Value) -> Option<String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}')? + start;
        let expr = &rest[start + 1..end];
        let (expr, default) = match expr.split_once('|') {
            Some((e, d)) => (e, Some(d)),
            None => (expr, None),
        };
        let (key, filter) = match expr.split_once(':') {
            Some((k, f)) => (k, Some(f)),
            None => (expr, None),
        };
        let value = match config.get(key.strip_prefix("config.")?) {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(serde_json::Value::Number(n)) => n.to_string(),
            None | Some(serde_json::Value::Null) => default?.to_string(),
            _ => return None,
        };
        match filter {
            None => out.push_str(&value),
            Some("parent") => out.push_str(Path::new(&value).parent()?.to_str()?),
            Some(_) => return None,
        }
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// A directory grant resolved for one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedDir {
    pub path: PathBuf,
    pub access: Access,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const POSTGRES: &str = r#"
        [plugin]
        id = "postgres"
        version = "1.0.0"
        kind = "engine"
        provides = ["postgres"]
        api = "^0.1"
        [capabilities]
        process = [{ program = "pg_dump", args = ["**"] }]
        network = ["tcp://{config.host}:{config.port}"]
        [limits]
        memory_mb = 128
    "#;

    #[test]
    fn parses_a_full_manifest() {
        let m = Manifest::parse(POSTGRES).expect("valid manifest");
        assert_eq!(m.plugin.kind, PluginKind::Engine);
        assert_eq!(m.capabilities.process[0].program, "pg_dump");
        assert_eq!(m.limits.memory_mb, 128);
    }

    #[test]
    fn rejects_bad_fields_by_name() {
        let bad_program = POSTGRES.replace("\"pg_dump\"", "\"/bin/sh\"");
        let err = Manifest::parse(&bad_program).unwrap_err().to_string();
        assert!(err.contains("capabilities.process.program"), "{err}");

        let bad_net = POSTGRES.replace("tcp://{config.host}:{config.port}", "udp://x");
        let err = Manifest::parse(&bad_net).unwrap_err().to_string();
        assert!(err.contains("capabilities.network"), "{err}");

        let no_port = POSTGRES.replace(
            "[limits]",
            "smtp = [{ host = \"{config.host}\", port = \"\" }]\n[limits]",
        );
        let err = Manifest::parse(&no_port).unwrap_err().to_string();
        assert!(err.contains("capabilities.smtp"), "{err}");

        let unknown = POSTGRES.replace("[limits]", "[limits]\nfoo = 1");
        assert!(Manifest::parse(&unknown).is_err());
    }

    #[test]
    fn fills_templates_from_config() {
        let cfg = json!({"host": "db.internal", "port": 5432, "path": "/srv/app/data.db"});
        assert_eq!(
            fill_template("tcp://{config.host}:{config.port}", &cfg).as_deref(),
            Some("tcp://db.internal:5432")
        );
        assert_eq!(
            fill_template("{config.path:parent}", &cfg).as_deref(),
            Some("/srv/app")
        );
        assert_eq!(fill_template("{config.missing}", &cfg), None);
        assert_eq!(fill_template("{config.path:nope}", &cfg), None);
    }
}
