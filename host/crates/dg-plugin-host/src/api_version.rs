//! The plugin API version: embedded by the SDK in a custom section, checked
//! on load so an incompatible component is refused before it runs.

use crate::error::LoadError;

/// The plugin API version this host's own types are: the published,
/// frozen contract (`wit/since_v0.1`).
pub const HOST_API_VERSION: &str = "0.1.0";
/// Every plugin API version this host loads, oldest first: 0.1 and the
/// draft 0.2 (`wit/next`), bridged to 0.1 by `adapt`.
pub const SUPPORTED: &[&str] = &["0.1.0", "0.2.0"];
/// Custom section in which the SDK records a plugin's API version.
pub const SECTION: &str = "dataguardian:api-version";

/// A plugin API version this host speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiVersion {
    /// 0.1.x: the frozen contract.
    V0_1,
    /// 0.2.x: the draft next version.
    V0_2,
}

impl ApiVersion {
    /// The supported version a component's recorded version is
    /// compatible with (semver: 0.1.x with 0.1.0).
    fn of(found: &semver::Version) -> Option<Self> {
        SUPPORTED.iter().find_map(|v| {
            let req = semver::VersionReq::parse(&format!("^{v}")).ok()?;
            req.matches(found).then(|| {
                if v.starts_with("0.1.") {
                    ApiVersion::V0_1
                } else {
                    ApiVersion::V0_2
                }
            })
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ApiVersion::V0_1 => SUPPORTED[0],
            ApiVersion::V0_2 => SUPPORTED[1],
        }
    }
}

/// The versions this host speaks, for messages (`0.1.0 and 0.2.0`).
pub fn supported_text() -> String {
    SUPPORTED.join(" and ")
}

/// The version recorded in a component, if any.
pub fn read(wasm: &[u8]) -> Option<String> {
    crate::embedded::read_section(wasm, SECTION).and_then(|bytes| String::from_utf8(bytes).ok())
}

/// Accepts a plugin whose recorded version is one this host speaks and
/// whose manifest requirement that version satisfies; the version to
/// bind it with.
pub fn check(plugin: &str, found: &str, manifest_req: &str) -> Result<ApiVersion, LoadError> {
    let mismatch = || LoadError::ApiVersion {
        plugin: plugin.to_string(),
        found: found.to_string(),
        host: supported_text(),
    };
    let found_v = semver::Version::parse(found).map_err(|_| mismatch())?;
    let version = ApiVersion::of(&found_v).ok_or_else(mismatch)?;
    let manifest_req = semver::VersionReq::parse(manifest_req).map_err(|_| mismatch())?;
    let spoken = semver::Version::parse(version.as_str()).map_err(|_| mismatch())?;
    if manifest_req.matches(&spoken) {
        Ok(version)
    } else {
        Err(LoadError::ApiRequirement {
            plugin: plugin.to_string(),
            found: found.to_string(),
            requirement: manifest_req.to_string(),
        })
    }
}

/// Whether this host speaks some version a requirement (`^0.1`) accepts.
pub fn satisfies(requirement: &str) -> bool {
    let Ok(req) = semver::VersionReq::parse(requirement) else {
        return false;
    };
    SUPPORTED
        .iter()
        .filter_map(|v| semver::Version::parse(v).ok())
        .any(|v| req.matches(&v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_versions_must_be_compatible() {
        assert_eq!(check("p", "0.1.0", "^0.1").ok(), Some(ApiVersion::V0_1));
        assert_eq!(check("p", "0.1.7", "^0.1").ok(), Some(ApiVersion::V0_1));
        assert_eq!(check("p", "0.2.0", "^0.2").ok(), Some(ApiVersion::V0_2));
        assert!(check("p", "0.2.0", "^0.1").is_err());
        assert!(check("p", "0.1.0", "^0.2").is_err());
        assert!(check("p", "garbage", "^0.1").is_err());
        let refused = check("p", "0.3.0", "^0.3").unwrap_err().to_string();
        assert!(
            refused.contains("0.3.0") && refused.contains("0.1.0 and 0.2.0"),
            "{refused}"
        );
        assert!(satisfies("^0.2") && satisfies("^0.1") && !satisfies("^0.9"));
    }
}

#[cfg(test)]
mod frozen {
    use sha2::{Digest, Sha256};
    use std::path::{Path, PathBuf};

    fn repo() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../..")
    }

    fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
        let mut out = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).expect("wit dir").flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    let relative = path.strip_prefix(dir).expect("inside").to_path_buf();
                    out.push((relative, std::fs::read(&path).expect("wit file")));
                }
            }
        }
        out.sort();
        out
    }

    /// The published 0.1 contract is never edited: its text is pinned.
    #[test]
    fn the_published_0_1_contract_is_unchanged() {
        let text = std::fs::read(repo().join("wit/since_v0.1/plugin.wit")).expect("frozen WIT");
        assert_eq!(
            hex::encode(Sha256::digest(&text)),
            "b126f8a19465017d24e5806c53bb6ec5401e58a39a7e25846d7362a0bd5d0ac9",
            "wit/since_v0.1 is published and frozen: change the working WIT (plugin-sdk/wit) under a new version instead"
        );
    }

    /// While the SDK speaks 0.1.0, the working WIT is the frozen one: the
    /// first change to it needs a new version (and host bindings for it).
    #[test]
    fn the_working_wit_is_the_frozen_one_while_the_sdk_speaks_0_1() {
        let sdk = std::fs::read_to_string(repo().join("plugin-sdk/src/lib.rs")).expect("sdk");
        let speaks = sdk
            .lines()
            .find_map(|l| l.strip_prefix("pub const API_VERSION: &str = \""))
            .and_then(|rest| rest.strip_suffix("\";"))
            .expect("API_VERSION in the SDK");
        assert_eq!(speaks, super::HOST_API_VERSION);
        assert_eq!(
            files(&repo().join("plugin-sdk/wit")),
            files(&repo().join("wit/since_v0.1")),
            "plugin-sdk/wit changed while the SDK still says {speaks}"
        );
    }
}
