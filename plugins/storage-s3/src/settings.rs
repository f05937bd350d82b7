//! The configuration of an S3-compatible storage and where its objects are
//! addressed.

use dataguardian_plugin_sdk::{config, CallContext, PluginError, PluginResult};
use serde::Deserialize;

/// Name of the secret holding the secret access key.
pub const SECRET: &str = "secret_access_key";
/// Part size when none is configured (boto3's default too).
const DEFAULT_PART_KIB: u64 = 8 * 1024;
/// Largest part buffered in plugin memory.
const MAX_PART_KIB: u64 = 64 * 1024;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub bucket: String,
    #[serde(default)]
    pub region: Option<String>,
    /// Base URL of an S3-compatible service; AWS when absent.
    #[serde(default)]
    pub endpoint: Option<String>,
    pub access_key_id: String,
    /// Never present in a call's config (the host keeps it); accepted so a
    /// full document validates.
    #[serde(default)]
    #[allow(dead_code)]
    pub secret_access_key: Option<serde::de::IgnoredAny>,
    /// Key prefix under which everything is kept.
    #[serde(default)]
    pub prefix: Option<String>,
    #[serde(default)]
    pub force_path_style: Option<bool>,
    #[serde(default)]
    pub storage_class: Option<String>,
    /// `AES256` or `aws:kms`.
    #[serde(default)]
    pub server_side_encryption: Option<String>,
    /// Multipart part size in KiB (default 8 MiB; doubled every 1000
    /// parts). S3 and most compatible services refuse parts under 5 MiB
    /// other than the last.
    #[serde(default)]
    pub part_size_kib: Option<u64>,
}

/// The storage types this plugin serves, with their defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    Aws,
    Minio,
    R2,
    Backblaze,
}

impl Flavor {
    fn of(ctx: &CallContext) -> Self {
        match config::option(ctx, "type") {
            Some("minio") => Self::Minio,
            Some("r2") => Self::R2,
            Some("backblaze") => Self::Backblaze,
            _ => Self::Aws,
        }
    }
}

fn invalid(message: String) -> PluginError {
    PluginError::InvalidConfig(message)
}

impl Config {
    /// Checks what holds for every type.
    pub fn check(&self) -> PluginResult<()> {
        let b = &self.bucket;
        let bucket_ok = (3..=63).contains(&b.len())
            && b.bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-' || c == b'.')
            && !b.starts_with(['-', '.'])
            && !b.ends_with(['-', '.']);
        if !bucket_ok {
            return Err(invalid(format!(
                "bucket: `{b}` is not a valid bucket name (3-63 lowercase letters, digits, `-`, `.`)"
            )));
        }
        if self.access_key_id.trim().is_empty() {
            return Err(invalid("access_key_id: must not be empty".into()));
        }
        if let Some(endpoint) = &self.endpoint {
            let rest = endpoint
                .strip_prefix("https://")
                .or_else(|| endpoint.strip_prefix("http://"))
                .ok_or_else(|| {
                    invalid(format!(
                        "endpoint: `{endpoint}` must start with http:// or https://"
                    ))
                })?;
            let host = rest.split('/').next().unwrap_or_default();
            if host.is_empty() || rest.trim_end_matches('/') != host {
                return Err(invalid(format!(
                    "endpoint: `{endpoint}` must be a base URL (scheme, host and port, no path)"
                )));
            }
            if self.force_path_style == Some(false) {
                return Err(invalid(
                    "force_path_style: a custom endpoint is addressed path-style; only AWS supports virtual-hosted buckets here".into(),
                ));
            }
        } else if self.region.as_deref().unwrap_or_default().is_empty() {
            return Err(invalid(
                "endpoint: required for minio, r2 and backblaze storages; an s3 (AWS) storage \
                 without one needs region"
                    .into(),
            ));
        }
        if let Some(region) = &self.region {
            if region.is_empty()
                || !region
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'-')
            {
                return Err(invalid(format!("region: `{region}` is not a region name")));
            }
        }
        if let Some(kib) = self.part_size_kib {
            if !(64..=MAX_PART_KIB).contains(&kib) {
                return Err(invalid(format!(
                    "part_size_kib: must be between 64 and {MAX_PART_KIB}"
                )));
            }
        }
        if let Some(sse) = &self.server_side_encryption {
            if sse != "AES256" && sse != "aws:kms" {
                return Err(invalid(format!(
                    "server_side_encryption: `{sse}` is not AES256 or aws:kms"
                )));
            }
        }
        if let Some(prefix) = &self.prefix {
            check_key(prefix).map_err(|_| {
                invalid(format!("prefix: `{prefix}` must be relative, without `..`"))
            })?;
        }
        Ok(())
    }

    /// Loads and checks the config of a call, with its type's rules.
    pub fn load(ctx: &CallContext) -> PluginResult<Resolved> {
        let cfg: Config = config::parse(ctx)?;
        cfg.check()?;
        let flavor = Flavor::of(ctx);
        if flavor != Flavor::Aws && cfg.endpoint.is_none() {
            let name = match flavor {
                Flavor::R2 => "Cloudflare R2",
                Flavor::Backblaze => "Backblaze B2",
                _ => "MinIO",
            };
            return Err(invalid(format!("endpoint: required for {name} storages")));
        }
        if !config::has_secret(ctx, SECRET) {
            return Err(invalid(format!("{SECRET}: required")));
        }
        let region = match (&cfg.region, flavor) {
            (Some(r), _) => r.clone(),
            (None, Flavor::R2) => "auto".into(),
            (None, _) => "us-east-1".into(),
        };
        Ok(Resolved {
            part_bytes: cfg.part_size_kib.unwrap_or(DEFAULT_PART_KIB) * 1024,
            region,
            cfg,
        })
    }
}

/// A loaded config with its defaults applied.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub cfg: Config,
    pub region: String,
    pub part_bytes: u64,
}

impl Resolved {
    /// Base URL of the bucket, ending without `/`.
    pub fn bucket_url(&self) -> String {
        let cfg = &self.cfg;
        match &cfg.endpoint {
            Some(endpoint) => format!("{}/{}", endpoint.trim_end_matches('/'), cfg.bucket),
            None if cfg.force_path_style == Some(true) => {
                format!("https://s3.{}.amazonaws.com/{}", self.region, cfg.bucket)
            }
            None => format!("https://{}.s3.{}.amazonaws.com", cfg.bucket, self.region),
        }
    }

    /// The full object key of a storage key (prefix applied).
    pub fn object_key(&self, key: &str) -> PluginResult<String> {
        let key = check_key(key)?;
        let prefix = self
            .cfg
            .prefix
            .as_deref()
            .unwrap_or_default()
            .trim_matches('/');
        Ok(match (prefix.is_empty(), key.is_empty()) {
            (true, _) => key,
            (false, true) => prefix.to_string(),
            (false, false) => format!("{prefix}/{key}"),
        })
    }

    /// The storage key of a full object key (prefix removed).
    pub fn storage_key<'a>(&self, object_key: &'a str) -> &'a str {
        let prefix = self
            .cfg
            .prefix
            .as_deref()
            .unwrap_or_default()
            .trim_matches('/');
        if prefix.is_empty() {
            return object_key;
        }
        object_key
            .strip_prefix(prefix)
            .map(|rest| rest.trim_start_matches('/'))
            .unwrap_or(object_key)
    }

    /// URL of an object, with an optional raw query (already encoded).
    pub fn object_url(&self, object_key: &str, query: &str) -> String {
        let mut url = format!("{}/{}", self.bucket_url(), encode(object_key, false));
        if !query.is_empty() {
            url.push('?');
            url.push_str(query);
        }
        url
    }

    /// The signing directive for the host.
    pub fn auth(&self) -> String {
        format!(
            "aws-sigv4 secret={SECRET} access-key-id={} region={} service=s3",
            self.cfg.access_key_id, self.region
        )
    }
}

pub use dataguardian_plugin_sdk::keys::normalize as check_key;

/// Percent-encodes everything but unreserved characters (and `/` unless
/// `slash` is set), as SigV4's canonical form wants.
pub fn encode(text: &str, slash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        let keep = b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'~')
            || (b == b'/' && !slash);
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(json: &str) -> Config {
        serde_json::from_str(json).expect("config")
    }

    fn resolved(json: &str) -> Resolved {
        let cfg = cfg(json);
        Resolved {
            region: cfg.region.clone().unwrap_or_else(|| "us-east-1".into()),
            part_bytes: 1 << 20,
            cfg,
        }
    }

    #[test]
    fn addressing_follows_endpoint_and_style() {
        let minio = resolved(
            r#"{"bucket":"backups","endpoint":"http://127.0.0.1:9000/","access_key_id":"k","prefix":"/dg/"}"#,
        );
        assert_eq!(minio.bucket_url(), "http://127.0.0.1:9000/backups");
        let key = minio.object_key("job/2026 11/backup.dump").expect("key");
        assert_eq!(key, "dg/job/2026 11/backup.dump");
        assert_eq!(
            minio.object_url(&key, ""),
            "http://127.0.0.1:9000/backups/dg/job/2026%2011/backup.dump"
        );
        assert_eq!(minio.storage_key(&key), "job/2026 11/backup.dump");
        let aws = resolved(r#"{"bucket":"backups","region":"eu-west-1","access_key_id":"k"}"#);
        assert_eq!(
            aws.bucket_url(),
            "https://backups.s3.eu-west-1.amazonaws.com"
        );
        let aws_path = resolved(
            r#"{"bucket":"backups","region":"eu-west-1","access_key_id":"k","force_path_style":true}"#,
        );
        assert_eq!(
            aws_path.bucket_url(),
            "https://s3.eu-west-1.amazonaws.com/backups"
        );
    }

    #[test]
    fn bad_fields_are_named() {
        let err = |json: &str| match cfg(json).check() {
            Err(PluginError::InvalidConfig(m)) => m,
            other => panic!("{other:?}"),
        };
        assert!(err(r#"{"bucket":"B","region":"x","access_key_id":"k"}"#).starts_with("bucket:"));
        assert!(err(r#"{"bucket":"backups","access_key_id":"k"}"#).starts_with("endpoint:"));
        assert!(
            err(r#"{"bucket":"backups","endpoint":"ftp://x","access_key_id":"k"}"#)
                .starts_with("endpoint:")
        );
        assert!(
            err(r#"{"bucket":"backups","endpoint":"http://x/p","access_key_id":"k"}"#)
                .starts_with("endpoint:")
        );
        assert!(err(r#"{"bucket":"backups","endpoint":"http://x","access_key_id":"k","force_path_style":false}"#).starts_with("force_path_style:"));
        assert!(
            err(r#"{"bucket":"backups","region":"r","access_key_id":"k","part_size_kib":1}"#)
                .starts_with("part_size_kib:")
        );
        assert!(
            err(r#"{"bucket":"backups","region":"r","access_key_id":"k","prefix":"../x"}"#)
                .starts_with("prefix:")
        );
    }

    #[test]
    fn keys_stay_inside() {
        assert_eq!(encode("a b/c+d", true), "a%20b%2Fc%2Bd");
    }
}
