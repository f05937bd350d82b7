//! A capability works only if the manifest asks for it **and** the operator
//! granted it. Built-in plugins are granted what their manifest asks;
//! third-party plugins get what an operator approved in `grant.toml`.

use crate::http::{GrantedOrigin, Origin};
use crate::manifest::{
    fill_template, parse_tcp_template, Capabilities, DirRule, ProcessRule, ResolvedDir, SmtpRule,
};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;

/// What the operator approved for a plugin.
#[derive(Debug, Clone)]
pub enum Grant {
    /// Everything the manifest declares (built-in plugins).
    Manifest,
    /// The listed capabilities, intersected with the manifest's.
    Approved(Capabilities),
}

impl Grant {
    /// The capabilities in force: manifest ∧ grant. A granted rule that
    /// narrows a requested one (a process rule with tighter argument
    /// patterns, a directory granted read-only where read-write was asked)
    /// is in force in its narrow form.
    pub fn effective(&self, asked: &Capabilities) -> Capabilities {
        let approved = match self {
            Grant::Manifest => return asked.clone(),
            Grant::Approved(approved) => approved,
        };
        Capabilities {
            process: approved
                .process
                .iter()
                .filter(|g| asked.process.iter().any(|m| process_narrows(g, m)))
                .cloned()
                .collect(),
            network: asked
                .network
                .iter()
                .filter(|n| approved.network.contains(n))
                .cloned()
                .collect(),
            http: asked
                .http
                .iter()
                .filter(|rule| approved.http.contains(rule))
                .cloned()
                .collect(),
            filesystem: asked
                .filesystem
                .iter()
                .filter_map(|rule| {
                    let granted = approved.filesystem.iter().find(|ok| ok.path == rule.path)?;
                    let mut narrowed = rule.clone();
                    narrowed.access = rule.access.min(granted.access);
                    Some(narrowed)
                })
                .collect(),
            smtp: asked
                .smtp
                .iter()
                .filter(|rule| approved.smtp.contains(rule))
                .cloned()
                .collect(),
            scratch: asked.scratch && approved.scratch,
            file_modes: asked.file_modes && approved.file_modes,
        }
    }

    /// The granted entries that match nothing the manifest asks for: an
    /// operator's approval that does nothing, said out loud at load.
    pub fn unmatched(&self, asked: &Capabilities) -> Vec<String> {
        let Grant::Approved(approved) = self else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for g in &approved.process {
            if !asked.process.iter().any(|m| process_narrows(g, m)) {
                out.push(format!("process `{}` {:?}", g.program, g.args));
            }
        }
        for n in &approved.network {
            if !asked.network.contains(n) {
                out.push(format!("network `{n}`"));
            }
        }
        for rule in &approved.http {
            if !asked.http.contains(rule) {
                out.push(format!("http `{}` (auth {:?})", rule.url, rule.auth));
            }
        }
        for rule in &approved.filesystem {
            if !asked.filesystem.iter().any(|m| m.path == rule.path) {
                out.push(format!("filesystem `{}`", rule.path));
            }
        }
        for rule in &approved.smtp {
            if !asked.smtp.contains(rule) {
                out.push(format!("smtp `{}:{}`", rule.host, rule.port));
            }
        }
        if approved.scratch && !asked.scratch {
            out.push("scratch".into());
        }
        if approved.file_modes && !asked.file_modes {
            out.push("file_modes".into());
        }
        out
    }
}

/// Whether the granted rule `g` allows nothing the requested rule `m`
/// does not: same program, connect target and a subset of its variables,
/// and argument patterns each equal to `m`'s, or a literal `m`'s pattern
/// matches, up to a `**` of `m` that allows any rest.
fn process_narrows(g: &ProcessRule, m: &ProcessRule) -> bool {
    if g.program != m.program || g.connect != m.connect || !g.env.iter().all(|e| m.env.contains(e))
    {
        return false;
    }
    let mut i = 0;
    loop {
        match (m.args.get(i), g.args.get(i)) {
            (Some(mp), _) if mp == "**" => return true,
            (None, None) => return true,
            (Some(mp), Some(gp)) if mp == gp || (!gp.contains('*') && glob_match(mp, gp)) => i += 1,
            _ => return false,
        }
    }
}

/// An operator's grant file (`NAME.grant.toml`): the capabilities approved
/// (the shape of the manifest's `[capabilities]`), the component they were
/// approved for, and the types it may take over from another plugin.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GrantFile {
    /// Lowercase hex SHA-256 of the approved component. A grant for
    /// another component (a swapped `.wasm`) approves nothing.
    pub component_sha256: Option<String>,
    /// Types (or the plugin id) this plugin may serve in place of a
    /// built-in or another plugin: an explicit operator choice.
    pub replaces: Vec<String>,
    pub capabilities: Capabilities,
}

impl GrantFile {
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut table: toml::Table = toml::from_str(text).map_err(|e| format!("grant: {e}"))?;
        let component_sha256 = match table.remove("component_sha256") {
            Some(toml::Value::String(s)) => Some(s.to_ascii_lowercase()),
            Some(_) => return Err("grant: component_sha256: expected a hex string".into()),
            None => None,
        };
        let replaces = match table.remove("replaces") {
            Some(value) => value
                .try_into::<Vec<String>>()
                .map_err(|e| format!("grant: replaces: {e}"))?,
            None => Vec::new(),
        };
        let capabilities = toml::Value::Table(table)
            .try_into::<Capabilities>()
            .map_err(|e| format!("grant: {e}"))?;
        Ok(Self {
            component_sha256,
            replaces,
            capabilities,
        })
    }

    /// The file's text: a header saying what it approves, then the fields.
    pub fn to_toml(&self, plugin: &str) -> Result<String, String> {
        let mut table = match toml::Value::try_from(&self.capabilities) {
            Ok(toml::Value::Table(t)) => t,
            Ok(_) => toml::Table::new(),
            Err(e) => return Err(e.to_string()),
        };
        if let Some(sha) = &self.component_sha256 {
            table.insert("component_sha256".into(), toml::Value::String(sha.clone()));
        }
        if !self.replaces.is_empty() {
            table.insert(
                "replaces".into(),
                toml::Value::Array(
                    self.replaces
                        .iter()
                        .cloned()
                        .map(toml::Value::String)
                        .collect(),
                ),
            );
        }
        let body = toml::to_string(&table).map_err(|e| e.to_string())?;
        Ok(format!(
            "# What the operator approved for plugin `{plugin}`, for the component\n\
             # with this SHA-256 only (`dataguardian plugin grant {plugin}` rewrites it).\n{body}"
        ))
    }

    /// The grant in force for a component whose SHA-256 is `sha256`: its
    /// capabilities when the file approves that component, none otherwise
    /// (with the reason).
    pub fn for_component(&self, sha256: &str) -> (Grant, Option<String>) {
        match &self.component_sha256 {
            Some(approved) if approved == sha256 => {
                (Grant::Approved(self.capabilities.clone()), None)
            }
            Some(approved) => (
                Grant::Approved(Capabilities::default()),
                Some(format!(
                    "its grant approves the component with SHA-256 {approved}, this one is {sha256}: no capability is granted until the operator runs `dataguardian plugin grant`"
                )),
            ),
            None if *self == GrantFile::default() => (
                Grant::Approved(Capabilities::default()),
                Some("it has no grant (NAME.grant.toml): no capability is granted until the operator runs `dataguardian plugin grant`".into()),
            ),
            None => (
                Grant::Approved(Capabilities::default()),
                Some("its grant names no component_sha256: no capability is granted until the operator runs `dataguardian plugin grant`".into()),
            ),
        }
    }
}

/// Capabilities resolved against one call's configuration.
#[derive(Debug, Clone, Default)]
pub struct CallCapabilities {
    pub process: Vec<ProcessRule>,
    pub network: Vec<SocketAddr>,
    pub http: Vec<GrantedOrigin>,
    pub dirs: Vec<ResolvedDir>,
    /// SMTP servers (`host` lowercased, `port`) the `mail` import may use.
    pub smtp: Vec<(String, u16)>,
    pub scratch: bool,
    /// Whether the `file-modes` import may act beneath `dirs`.
    pub file_modes: bool,
}

impl CallCapabilities {
    /// Fills templates for `operation` and resolves host names. Entries
    /// whose template names a missing config key do not apply.
    pub fn resolve(caps: &Capabilities, config: &serde_json::Value, operation: &str) -> Self {
        let network = caps
            .network
            .iter()
            .filter_map(|t| fill_template(t, config))
            .filter_map(|entry| {
                let (host, port) = parse_tcp_template(&entry)?;
                let port: u16 = port.parse().ok()?;
                (host, port).to_socket_addrs().ok()
            })
            .flatten()
            .collect();
        let http = caps
            .http
            .iter()
            .filter(|rule| {
                let overridden = rule
                    .unless
                    .as_ref()
                    .is_some_and(|key| config.get(key).is_some_and(|v| !v.is_null()));
                !overridden
            })
            .filter_map(|rule| {
                Some(GrantedOrigin {
                    origin: Origin::of_url(&fill_template(&rule.url, config)?)?,
                    auth: rule.auth.clone(),
                })
            })
            .collect();
        let dirs = caps
            .filesystem
            .iter()
            .filter(|rule| applies(rule, operation))
            .filter_map(|rule| {
                let path = PathBuf::from(fill_template(&rule.path, config)?);
                path.is_absolute().then_some(ResolvedDir {
                    path,
                    access: rule.access,
                })
            })
            .collect();
        Self {
            process: caps
                .process
                .iter()
                .filter_map(|rule| fill_process_rule(rule, config))
                .collect(),
            network,
            http,
            dirs,
            smtp: caps
                .smtp
                .iter()
                .filter_map(|rule| fill_smtp_rule(rule, config))
                .collect(),
            scratch: caps.scratch,
            file_modes: caps.file_modes,
        }
    }

    /// Whether the `mail` import may deliver to `host:port`.
    pub fn allows_smtp(&self, host: &str, port: u16) -> bool {
        let host = host.to_ascii_lowercase();
        self.smtp.iter().any(|(h, p)| *h == host && *p == port)
    }

    /// Whether `program args...` may run with these environment variables
    /// (`(name, from a secret)`); the error says why not.
    pub fn check_process(
        &self,
        program: &str,
        args: &[String],
        env: &[(&str, bool)],
    ) -> Result<Option<&str>, String> {
        let rules: Vec<&ProcessRule> = self
            .process
            .iter()
            .filter(|r| r.program == program)
            .collect();
        if rules.is_empty() {
            return Err(format!("program `{program}` is not granted to this plugin"));
        }
        let matching: Vec<&&ProcessRule> =
            rules.iter().filter(|r| args_match(&r.args, args)).collect();
        if matching.is_empty() {
            return Err(format!(
                "arguments {args:?} for `{program}` are outside the granted patterns"
            ));
        }
        let mut refusal = None;
        for rule in matching {
            match env
                .iter()
                .find_map(|(name, secret)| rule.env_refusal(name, *secret))
            {
                None => return Ok(rule.connect.as_deref()),
                Some(why) => refusal = Some(why),
            }
        }
        Err(refusal.unwrap_or_default())
    }

    /// Whether the plugin may connect to `addr`.
    pub fn allows_connect(&self, addr: &SocketAddr) -> bool {
        self.network.contains(addr)
    }
}

/// A process rule with its `{config.KEY}` argument templates filled. A
/// filled value must match literally, so one holding a glob character
/// (`*`) voids the rule rather than widening it, and an argument that is a
/// template alone may not start with `-` (a host name like
/// `-oProxyCommand=…` would be read as an option).
fn fill_process_rule(rule: &ProcessRule, config: &serde_json::Value) -> Option<ProcessRule> {
    let args = rule
        .args
        .iter()
        .map(|pattern| {
            if !pattern.contains("{config.") {
                return Some(pattern.clone());
            }
            let filled = fill_template(pattern, config)?;
            let literal_parts: usize = pattern.matches('*').count();
            let option_like = pattern.starts_with('{') && filled.starts_with('-');
            (filled.matches('*').count() == literal_parts && !option_like).then_some(filled)
        })
        .collect::<Option<Vec<_>>>()?;
    let connect = match &rule.connect {
        Some(template) => Some(fill_template(template, config)?),
        None => None,
    };
    Some(ProcessRule {
        program: rule.program.clone(),
        args,
        env: rule.env.clone(),
        connect,
    })
}

/// An SMTP rule filled from the config: the host must be a plain name or
/// address (no spaces, `/`, `@` or `:` but in an IPv6 literal), the port a
/// number; anything else voids the rule.
fn fill_smtp_rule(rule: &SmtpRule, config: &serde_json::Value) -> Option<(String, u16)> {
    let host = fill_template(&rule.host, config)?.to_ascii_lowercase();
    let port: u16 = fill_template(&rule.port, config)?.parse().ok()?;
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_');
    let ipv6 = host.parse::<std::net::Ipv6Addr>().is_ok();
    let ok = !host.is_empty() && !host.starts_with('-') && (ipv6 || host.chars().all(plain));
    (ok && port != 0).then_some((host, port))
}

fn applies(rule: &DirRule, operation: &str) -> bool {
    rule.operations.is_empty() || rule.operations.iter().any(|o| o == operation)
}

/// Positional match: `**` swallows the rest, `*` globs within one argument.
fn args_match(patterns: &[String], args: &[String]) -> bool {
    match (patterns.split_first(), args.split_first()) {
        (Some((p, _)), _) if p == "**" => true,
        (Some((p, prest)), Some((a, arest))) => glob_match(p, a) && args_match(prest, arest),
        (None, None) => true,
        _ => false,
    }
}

fn glob_match(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, tail)) => {
            let Some(rest) = text.strip_prefix(head) else {
                return false;
            };
            (0..=rest.len())
                .filter(|i| rest.is_char_boundary(*i))
                .any(|i| glob_match(tail, &rest[i..]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{Access, HttpRule};
    use serde_json::json;

    fn rule(program: &str, args: &[&str]) -> ProcessRule {
        ProcessRule {
            program: program.into(),
            args: args.iter().map(|s| s.to_string()).collect(),
            env: vec!["PGAPPNAME".into(), "PGPASSFILE=secret".into()],
            connect: None,
        }
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn asked() -> Capabilities {
        Capabilities {
            process: vec![rule("pg_dump", &["**"]), rule("psql", &["-c", "*"])],
            network: vec!["tcp://{config.host}:{config.port}".into()],
            http: vec![
                HttpRule {
                    url: "{config.endpoint}".into(),
                    unless: None,
                    auth: vec!["aws-sigv4:secret_access_key".into()],
                },
                HttpRule {
                    url: "https://s3.{config.region}.amazonaws.com".into(),
                    unless: Some("endpoint".into()),
                    auth: vec![],
                },
            ],
            filesystem: vec![DirRule {
                path: "{config.path}".into(),
                access: Access::ReadWrite,
                operations: vec!["restore".into()],
            }],
            smtp: vec![SmtpRule {
                host: "{config.host}".into(),
                port: "{config.smtp_port|587}".into(),
            }],
            scratch: true,
            file_modes: true,
        }
    }

    #[test]
    fn a_grant_may_narrow_a_process_rule_but_not_widen_it() {
        let m = rule("pg_dump", &["--format=custom", "**"]);
        assert!(process_narrows(
            &rule("pg_dump", &["--format=custom", "--all"]),
            &m
        ));
        assert!(process_narrows(&m, &m));
        assert!(!process_narrows(&rule("pg_dump", &["**"]), &m));
        assert!(!process_narrows(&rule("pg_dump", &["--format=*"]), &m));
        let exact = rule("echo", &["*"]);
        assert!(process_narrows(&rule("echo", &["hello"]), &exact));
        assert!(!process_narrows(&rule("echo", &["hello", "world"]), &exact));
        assert!(!process_narrows(&rule("rm", &["*"]), &exact));
    }

    #[test]
    fn builtin_grant_is_the_manifest() {
        assert_eq!(Grant::Manifest.effective(&asked()), asked());
    }

    #[test]
    fn approval_intersects_with_the_manifest() {
        let approved = Capabilities {
            process: vec![rule("pg_dump", &["**"]), rule("rm", &["**"])],
            network: vec![],
            http: vec![],
            filesystem: vec![DirRule {
                path: "{config.path}".into(),
                access: Access::Read,
                operations: vec![],
            }],
            smtp: vec![],
            scratch: false,
            file_modes: false,
        };
        let eff = Grant::Approved(approved).effective(&asked());
        assert_eq!(eff.process, vec![rule("pg_dump", &["**"])]);
        assert!(eff.network.is_empty());
        assert!(eff.http.is_empty());
        // A read grant narrows a read-write ask: the directory is read-only.
        assert_eq!(eff.filesystem.len(), 1);
        assert_eq!(eff.filesystem[0].access, Access::Read);
        assert!(!eff.scratch);
        assert!(!eff.file_modes, "file modes need the operator's approval");
        assert!(
            eff.smtp.is_empty(),
            "an SMTP server needs the operator's approval"
        );
    }

    #[test]
    fn smtp_servers_follow_the_config() {
        let caps =
            CallCapabilities::resolve(&asked(), &json!({"host": "Mail.Example.com"}), "send");
        assert!(caps.allows_smtp("mail.example.com", 587));
        assert!(caps.allows_smtp("MAIL.example.com", 587));
        assert!(!caps.allows_smtp("mail.example.com", 25), "another port");
        assert!(!caps.allows_smtp("evil.example.com", 587), "another host");
        let caps = CallCapabilities::resolve(
            &asked(),
            &json!({"host": "127.0.0.1", "smtp_port": 2525}),
            "send",
        );
        assert!(caps.allows_smtp("127.0.0.1", 2525));
        assert!(!caps.allows_smtp("127.0.0.1", 587));
        for bad in ["mail.example.com:25", "a b", "-oops", "user@host", ""] {
            let caps = CallCapabilities::resolve(&asked(), &json!({ "host": bad }), "send");
            assert!(caps.smtp.is_empty(), "{bad:?} voids the rule");
        }
        let caps = CallCapabilities::resolve(&asked(), &json!({"host": "::1"}), "send");
        assert!(caps.allows_smtp("::1", 587));
        let none = CallCapabilities::resolve(&asked(), &json!({}), "send");
        assert!(none.smtp.is_empty(), "no host, no server");
    }

    #[test]
    fn http_origins_follow_the_configured_endpoint() {
        let own = json!({"endpoint": "http://127.0.0.1:9000/", "region": "us-east-1"});
        let caps = CallCapabilities::resolve(&asked(), &own, "put");
        let origins: Vec<String> = caps.http.iter().map(|o| o.origin.to_string()).collect();
        assert_eq!(origins, ["http://127.0.0.1:9000"], "the AWS default is off");
        assert_eq!(caps.http[0].auth, ["aws-sigv4:secret_access_key"]);
        let aws = json!({"region": "eu-west-1"});
        let caps = CallCapabilities::resolve(&asked(), &aws, "put");
        let origins: Vec<String> = caps.http.iter().map(|o| o.origin.to_string()).collect();
        assert_eq!(origins, ["https://s3.eu-west-1.amazonaws.com:443"]);
    }

    #[test]
    fn program_environments_are_granted_by_name() {
        let caps = CallCapabilities {
            process: vec![rule("pg_dump", &["**"])],
            ..Default::default()
        };
        let args = strings(&["db"]);
        assert!(caps
            .check_process("pg_dump", &args, &[("PGAPPNAME", false)])
            .is_ok());
        assert!(caps
            .check_process("pg_dump", &args, &[("PGPASSFILE", true)])
            .is_ok());
        let plain = caps
            .check_process("pg_dump", &args, &[("PGPASSFILE", false)])
            .unwrap_err();
        assert!(plain.contains("must come from a secret"), "{plain}");
        let preload = caps
            .check_process("pg_dump", &args, &[("LD_PRELOAD", false)])
            .unwrap_err();
        assert!(preload.contains("`LD_PRELOAD` is not granted"), "{preload}");
    }

    #[test]
    fn process_arguments_follow_the_config() {
        let asked = Capabilities {
            process: vec![rule(
                "ssh",
                &["-p", "{config.port|22}", "{config.host}", "**"],
            )],
            ..Default::default()
        };
        let caps = CallCapabilities::resolve(&asked, &json!({"host": "nas.lan"}), "put");
        assert!(caps
            .check_process("ssh", &strings(&["-p", "22", "nas.lan", "sftp"]), &[])
            .is_ok());
        assert!(caps
            .check_process("ssh", &strings(&["-p", "2222", "nas.lan"]), &[])
            .is_err());
        assert!(caps
            .check_process("ssh", &strings(&["-p", "22", "evil.lan"]), &[])
            .is_err());
        let caps =
            CallCapabilities::resolve(&asked, &json!({"host": "nas.lan", "port": 2222}), "put");
        assert!(caps
            .check_process("ssh", &strings(&["-p", "2222", "nas.lan"]), &[])
            .is_ok());
        // A glob in a config value is not a wildcard: the rule is void.
        let caps = CallCapabilities::resolve(&asked, &json!({"host": "*"}), "put");
        assert!(caps
            .check_process("ssh", &strings(&["-p", "22", "evil.lan"]), &[])
            .is_err());
        let sneaky = "-oProxyCommand=sh";
        let caps = CallCapabilities::resolve(&asked, &json!({"host": sneaky}), "put");
        assert!(caps
            .check_process("ssh", &strings(&["-p", "22", sneaky]), &[])
            .is_err());
        // A missing key without a default voids the rule.
        let caps = CallCapabilities::resolve(&asked, &json!({}), "put");
        assert!(caps
            .check_process("ssh", &strings(&["-p", "22", "x"]), &[])
            .is_err());
    }

    #[test]
    fn process_patterns() {
        let caps = CallCapabilities {
            process: vec![rule("pg_dump", &["**"]), rule("psql", &["-c", "select *"])],
            ..Default::default()
        };
        assert!(caps
            .check_process("pg_dump", &strings(&["-Fc", "db"]), &[])
            .is_ok());
        assert!(caps
            .check_process("psql", &strings(&["-c", "select 1"]), &[])
            .is_ok());
        assert!(caps
            .check_process("psql", &strings(&["-c", "drop table x"]), &[])
            .is_err());
        assert!(caps
            .check_process("psql", &strings(&["-c", "select 1", "extra"]), &[])
            .is_err());
        let err = caps.check_process("ls", &[], &[]).unwrap_err();
        assert!(err.contains("`ls` is not granted"), "{err}");
    }

    #[test]
    fn resolution_per_operation() {
        let cfg = json!({"host": "127.0.0.1", "port": 5432, "path": "/srv/data"});
        let backup = CallCapabilities::resolve(&asked(), &cfg, "backup");
        assert!(backup.dirs.is_empty());
        assert!(backup.allows_connect(&"127.0.0.1:5432".parse().expect("addr")));
        assert!(!backup.allows_connect(&"127.0.0.1:5433".parse().expect("addr")));
        assert!(backup.http.is_empty(), "no endpoint nor region: no origin");
        let restore = CallCapabilities::resolve(&asked(), &cfg, "restore");
        assert_eq!(restore.dirs[0].path, PathBuf::from("/srv/data"));
        assert_eq!(restore.dirs[0].access, Access::ReadWrite);
        assert_eq!(restore.dirs.len(), 1);
    }
}
