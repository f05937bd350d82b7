//! Which host names and origins the server answers to: the policy from
//! `--allowed-hosts` and `--public-url`. The checks that apply it to a
//! request live in the API (`api::guard`); the policy is here because the
//! server configuration (`state::ServerConfig`) holds it.

use dg_core::text::shorten;
use std::net::IpAddr;

/// Which names and origins the server answers to.
#[derive(Debug, Clone, Default)]
pub struct OriginPolicy {
    /// Extra host names (lowercase, no port). `*.example.com` matches the
    /// subdomains of example.com; `*` alone turns the host check off.
    pub allowed_hosts: Vec<String>,
    /// `scheme://host[:port]` of `--public-url`, accepted as an `Origin`.
    pub public_origin: Option<String>,
}

impl OriginPolicy {
    /// Builds the policy from `--allowed-hosts` and `--public-url`.
    pub fn new(allowed_hosts: &[String], public_url: Option<&str>) -> Result<Self, String> {
        let mut hosts = Vec::new();
        for raw in allowed_hosts {
            let h = raw.trim().trim_end_matches('.').to_ascii_lowercase();
            if h.is_empty() {
                continue;
            }
            if h.contains(['/', ':', ' ']) && !h.starts_with('[') {
                return Err(format!(
                    "--allowed-hosts: `{}` is not a host name (give names without scheme or port)",
                    shorten(raw)
                ));
            }
            hosts.push(h);
        }
        let public_origin = match public_url {
            None => None,
            Some(u) if u.trim().is_empty() => None,
            Some(u) => {
                let url = url::Url::parse(u.trim())
                    .map_err(|e| format!("--public-url: `{}` is not a URL: {e}", shorten(u)))?;
                if !matches!(url.scheme(), "http" | "https") {
                    return Err("--public-url: must start with http:// or https://".into());
                }
                let host = url
                    .host_str()
                    .ok_or("--public-url: has no host")?
                    .to_ascii_lowercase();
                hosts.push(host);
                Some(url.origin().ascii_serialization())
            }
        };
        Ok(Self {
            allowed_hosts: hosts,
            public_origin,
        })
    }

    /// Whether `name` (from a `Host` header, port removed) is served here.
    /// IP literals and `localhost` always are: a rebinding attack needs a
    /// name of the attacker's, and browsers resolve `localhost` themselves.
    pub fn serves_host(&self, name: &str) -> bool {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        if name == "localhost" || is_ip_literal(&name) {
            return true;
        }
        self.allowed_hosts.iter().any(|allowed| {
            allowed == "*"
                || *allowed == name
                || allowed
                    .strip_prefix("*.")
                    .is_some_and(|domain| name.ends_with(&format!(".{domain}")))
        })
    }
}

fn is_ip_literal(name: &str) -> bool {
    let bare = name.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<IpAddr>().is_ok()
}
