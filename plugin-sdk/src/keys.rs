//! Storage keys: the rules every storage plugin applies the same way.

use crate::{PluginError, PluginResult};

/// Normalizes a storage key: relative, `/`-separated, without `.` or `..`
/// parts (`./a//b/` is `a/b`; `""` is the root). An absolute key or one
/// climbing out with `..` is refused, naming the key.
pub fn normalize(key: &str) -> PluginResult<String> {
    let outside = || {
        PluginError::InvalidConfig(format!(
            "key `{key}`: must be a path inside the storage (relative, without `..`)"
        ))
    };
    let mut parts = Vec::new();
    for part in key.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err(outside()),
            p => parts.push(p),
        }
    }
    if key.starts_with('/') && !parts.is_empty() {
        return Err(outside());
    }
    Ok(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_stay_inside() {
        assert_eq!(normalize("./a//b/").expect("key"), "a/b");
        assert_eq!(normalize("/").expect("root"), "");
        assert!(normalize("a/../../x").is_err());
        assert!(normalize("/etc/passwd").is_err());
    }
}
