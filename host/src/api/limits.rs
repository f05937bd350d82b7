//! Bounds on what the API stores: every string has a length cap, names and
//! tags carry no control or bidirectional-override characters (U+202E
//! turns `gpj.exe` into `exe.jpg` on screen), and configuration objects
//! have a bounded shape. Errors name the field and never quote more than
//! a short prefix of the value.

use super::error::{ApiError, ApiResult};
use serde_json::Value;

/// Longest name, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// Most tags on one object, and the longest tag.
pub const MAX_TAGS: usize = 32;
pub const MAX_TAG_CHARS: usize = 50;
/// Longest string inside a configuration object, in bytes; keys holding
/// keys or certificates may be longer.
pub const MAX_CONFIG_STRING: usize = 4096;
pub const MAX_CONFIG_BLOB: usize = 64 * 1024;
/// Longest host name (DNS).
pub const MAX_HOST_BYTES: usize = 253;
/// Entries per configuration object or array, nesting depth, key length.
pub const MAX_CONFIG_ENTRIES: usize = 64;
pub const MAX_CONFIG_DEPTH: usize = 6;
pub const MAX_CONFIG_KEY: usize = 64;
/// Cron expressions and IANA timezone names.
pub const MAX_CRON_CHARS: usize = 256;
pub const MAX_TIMEZONE_CHARS: usize = 64;

pub use dg_core::text::is_bidi;

/// Control or reordering characters, which no name, tag or path needs.
fn has_hidden(s: &str) -> bool {
    s.chars().any(|c| c.is_control() || is_bidi(c))
}

/// A display name: trimmed, 1–100 characters, nothing hidden.
pub fn name(field: &str, value: &str) -> ApiResult<String> {
    label(field, value, MAX_NAME_CHARS)
}

/// Tags: at most 32, each 1–50 characters with nothing hidden; trimmed,
/// duplicates dropped.
pub fn tags(tags: Vec<String>) -> ApiResult<Vec<String>> {
    if tags.len() > MAX_TAGS {
        return Err(ApiError::invalid(
            "tags",
            format!("at most {MAX_TAGS} tags, got {}", tags.len()),
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(tags.len());
    for (i, tag) in tags.iter().enumerate() {
        let tag = label(&format!("tags[{i}]"), tag, MAX_TAG_CHARS)?;
        if !out.contains(&tag) {
            out.push(tag);
        }
    }
    Ok(out)
}

/// A short label shown to people: trimmed, 1–`max` characters, nothing
/// hidden.
fn label(field: &str, value: &str, max: usize) -> ApiResult<String> {
    let value = value.trim();
    if value.is_empty() {
        return Err(ApiError::invalid(field, "must not be empty"));
    }
    short_text(field, value, max)?;
    Ok(value.to_string())
}

/// Keys whose values may be long (PEM keys, certificates, JSON service
/// accounts) and may hold line breaks.
const BLOB_KEYS: &[&str] = &[
    "private_key",
    "ca_certificate",
    "client_certificate",
    "client_key",
    "credentials_json",
];

fn is_secret(key: Option<&str>) -> bool {
    key.is_some_and(crate::secrets::is_secret_key)
}

/// A plugin configuration object: bounded size and shape, no NUL, no
/// control characters outside multi-line secrets, and `path`/`host`
/// values within their own limits. `field` is the object's own name
/// (`connection_config`, `config`).
pub fn config(field: &str, value: &Value) -> ApiResult<()> {
    if !value.is_object() {
        return Err(ApiError::invalid(field, "must be a JSON object"));
    }
    walk(field, None, value, 0)
}

fn walk(path: &str, key: Option<&str>, value: &Value, depth: usize) -> ApiResult<()> {
    if depth > MAX_CONFIG_DEPTH {
        return Err(ApiError::invalid(
            path,
            format!("nests deeper than {MAX_CONFIG_DEPTH} levels"),
        ));
    }
    // Secrets are strings (docs/SECURITY.md): a number or a boolean would
    // otherwise be sealed, opened and handed on in a form no plugin
    // documents. `null` means "none".
    if is_secret(key) && !(value.is_string() || value.is_null()) {
        return Err(ApiError::invalid(path, "is a secret and must be a string"));
    }
    match value {
        Value::String(s) => string(path, key.unwrap_or(""), s),
        Value::Array(items) => {
            if items.len() > MAX_CONFIG_ENTRIES {
                return Err(ApiError::invalid(
                    path,
                    format!("at most {MAX_CONFIG_ENTRIES} items"),
                ));
            }
            for (i, item) in items.iter().enumerate() {
                walk(&format!("{path}[{i}]"), key, item, depth + 1)?;
            }
            Ok(())
        }
        Value::Object(map) => {
            if map.len() > MAX_CONFIG_ENTRIES {
                return Err(ApiError::invalid(
                    path,
                    format!("at most {MAX_CONFIG_ENTRIES} keys"),
                ));
            }
            for (k, v) in map {
                if k.is_empty() || k.len() > MAX_CONFIG_KEY || has_hidden(k) {
                    return Err(ApiError::invalid(
                        path,
                        format!(
                            "key `{}` must be 1–{MAX_CONFIG_KEY} bytes without control characters",
                            super::guard::shorten(k)
                        ),
                    ));
                }
                walk(&format!("{path}.{k}"), Some(k), v, depth + 1)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn string(field: &str, key: &str, s: &str) -> ApiResult<()> {
    if s.starts_with(crate::secrets::SEALED_MARK) {
        return Err(ApiError::invalid(
            field,
            "must not start with `dg-sealed:` (reserved for sealed values)",
        ));
    }
    if s.contains('\0') {
        return Err(ApiError::invalid(
            field,
            "must not contain NUL characters (\\u0000)",
        ));
    }
    let blob = BLOB_KEYS.contains(&key);
    let max = if blob {
        MAX_CONFIG_BLOB
    } else if key == "host" {
        MAX_HOST_BYTES
    } else {
        MAX_CONFIG_STRING
    };
    if s.len() > max {
        return Err(ApiError::invalid(
            field,
            format!("must be at most {max} bytes"),
        ));
    }
    let allowed_control = |c: char| blob && matches!(c, '\n' | '\r' | '\t');
    if s.chars()
        .any(|c| (c.is_control() && !allowed_control(c)) || is_bidi(c))
    {
        return Err(ApiError::invalid(
            field,
            "must not contain control characters or bidirectional overrides",
        ));
    }
    Ok(())
}

/// A bounded free-text field (cron, timezone): at most `max` characters.
pub fn short_text(field: &str, value: &str, max: usize) -> ApiResult<()> {
    if value.chars().count() > max {
        return Err(ApiError::invalid(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if has_hidden(value) {
        return Err(ApiError::invalid(
            field,
            "must not contain control characters or bidirectional overrides",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field_of(r: ApiResult<impl std::fmt::Debug>) -> String {
        r.expect_err("refused").field.expect("names a field")
    }

    #[test]
    fn names_and_tags() {
        assert_eq!(name("name", "  shop ").unwrap(), "shop");
        assert_eq!(field_of(name("name", "evil\u{202e}gpj.exe")), "name");
        assert_eq!(field_of(name("name", &"x".repeat(101))), "name");
        assert_eq!(tags(vec!["a".into(), " a ".into()]).unwrap(), vec!["a"]);
        assert_eq!(field_of(tags(vec!["ok".into(), "a\0b".into()])), "tags[1]");
        assert_eq!(field_of(tags(vec!["x".repeat(51)])), "tags[0]");
        assert_eq!(field_of(tags(vec!["t".into(); 33])), "tags");
    }

    #[test]
    fn configs_are_bounded() {
        assert!(config(
            "c",
            &json!({"host": "db", "port": 5432, "password": "p@ss:w\\rd"})
        )
        .is_ok());
        assert!(config(
            "c",
            &json!({"private_key": "-----BEGIN-----\nabc\n-----END-----\n"})
        )
        .is_ok());
        assert_eq!(
            field_of(config("c", &json!({"path": "/tmp/a\u{0}b"}))),
            "c.path"
        );
        assert_eq!(
            field_of(config("c", &json!({"host": "h".repeat(300)}))),
            "c.host"
        );
        assert_eq!(
            field_of(config("c", &json!({"user": "x".repeat(5000)}))),
            "c.user"
        );
        assert_eq!(
            field_of(config("c", &json!({"password": "a\nb"}))),
            "c.password"
        );
        assert_eq!(
            field_of(config("c", &json!({"opts": {"list": ["ok", "\u{202e}"]}}))),
            "c.opts.list[1]"
        );
        assert_eq!(field_of(config("c", &json!([1]))), "c");
        assert_eq!(
            field_of(config("c", &json!({"database": "dg-sealed:v1:x"}))),
            "c.database"
        );
        assert_eq!(
            field_of(config("c", &json!({"password": {"v": "x"}}))),
            "c.password"
        );
        assert_eq!(field_of(config("c", &json!({"token": ["x"]}))), "c.token");
        // Secrets are strings (or null: none), at any depth.
        for (value, field) in [
            (json!({"password": 1234}), "c.password"),
            (json!({"password": true}), "c.password"),
            (json!({"auth": {"token": 1.5}}), "c.auth.token"),
            (json!({"hops": [{"secret": false}]}), "c.hops[0].secret"),
        ] {
            let e = config("c", &value).expect_err("refused");
            assert_eq!(e.field.as_deref(), Some(field), "{value}");
            assert!(e.message.contains("must be a string"), "{}", e.message);
        }
        assert!(config("c", &json!({"password": null, "port": 5432})).is_ok());
        let mut deep = json!("x");
        for _ in 0..10 {
            deep = json!({ "k": deep });
        }
        assert!(config("c", &deep).is_err());
    }
}
