//! Turning a `--source`/`--target` argument into a plugin configuration
//! and the secrets kept away from the plugin.
//!
//! URLs (`postgres://user:pw@host:port/db?sslmode=require`) are for server
//! engines; anything else is a filesystem path (sqlite, files).

use std::collections::HashMap;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
}

/// A plugin configuration plus its secrets.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    pub config: serde_json::Value,
    pub secrets: HashMap<String, String>,
}

/// Parses `value` (the argument named `field`) for an engine.
pub fn resolve(field: &str, value: &str) -> Result<Resolved, SourceError> {
    let invalid = |message: String| SourceError::Invalid {
        field: field.to_string(),
        message,
    };
    if value.contains("://") {
        let url = url::Url::parse(value).map_err(|e| invalid(format!("not a valid URL: {e}")))?;
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| invalid("the URL has no host".into()))?;
        let database = url.path().trim_start_matches('/');
        let username = percent_decode(url.username());
        let mut config = serde_json::json!({ "host": host, "database": percent_decode(database) });
        if let Some(port) = url.port() {
            config["port"] = port.into();
        }
        if !username.is_empty() {
            config["username"] = username.into();
        }
        for (k, v) in url.query_pairs() {
            config[k.as_ref()] = v.as_ref().into();
        }
        let mut secrets = HashMap::new();
        if let Some(pw) = url.password() {
            secrets.insert("password".to_string(), percent_decode(pw));
        }
        Ok(Resolved { config, secrets })
    } else {
        let path = Path::new(value);
        let absolute = if path.is_absolute() {
            path.to_path_buf()
        } else {
            std::env::current_dir()
                .map_err(|e| invalid(format!("current directory: {e}")))?
                .join(path)
        };
        let absolute = without_symlinks(&absolute);
        let text = absolute
            .to_str()
            .ok_or_else(|| invalid("path is not UTF-8".into()))?;
        Ok(Resolved {
            config: serde_json::json!({ "path": text }),
            secrets: HashMap::new(),
        })
    }
}

/// `path` with the symlinks of its existing part resolved. The CLI acts
/// as its user on whatever path that user names, but the host's
/// `file-modes` import never follows a symlink in a granted directory's
/// path: resolving it here, once, keeps `--source ~/link-to-project`
/// working.
fn without_symlinks(path: &Path) -> std::path::PathBuf {
    for existing in path.ancestors() {
        if let Ok(real) = std::fs::canonicalize(existing) {
            return match path.strip_prefix(existing) {
                Ok(rest) if !rest.as_os_str().is_empty() => real.join(rest),
                _ => real,
            };
        }
    }
    path.to_path_buf()
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_sources_keep_the_password_out_of_the_config() {
        let r = resolve(
            "source",
            "postgres://app:s%40cret@db.local:5433/shop?sslmode=require",
        )
        .expect("valid");
        assert_eq!(r.config["host"], "db.local");
        assert_eq!(r.config["port"], 5433);
        assert_eq!(r.config["database"], "shop");
        assert_eq!(r.config["username"], "app");
        assert_eq!(r.config["sslmode"], "require");
        assert_eq!(r.secrets["password"], "s@cret");
        assert!(!r.config.to_string().contains("cret"));
    }

    #[test]
    fn paths_become_absolute() {
        let r = resolve("source", "/var/lib/app.db").expect("valid");
        assert_eq!(r.config["path"], "/var/lib/app.db");
        let rel = resolve("source", "data/app.db").expect("valid");
        assert!(rel.config["path"]
            .as_str()
            .is_some_and(|p| p.starts_with('/')));
    }

    #[test]
    fn symlinks_in_paths_are_resolved() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let real = std::fs::canonicalize(tmp.path())
            .expect("real")
            .join("real");
        std::fs::create_dir(&real).expect("mkdir");
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&real, &link).expect("symlink");
        let r = resolve("source", &link.to_string_lossy()).expect("valid");
        assert_eq!(r.config["path"], real.to_string_lossy().as_ref());
        let r = resolve("target", &link.join("new/dir").to_string_lossy()).expect("valid");
        assert_eq!(
            r.config["path"],
            real.join("new/dir").to_string_lossy().as_ref()
        );
    }

    #[test]
    fn bad_urls_name_the_field() {
        let err = resolve("target", "postgres:///db").unwrap_err().to_string();
        assert!(err.starts_with("target:"), "{err}");
    }
}
