//! The plugin API version: embedded by the SDK in a custom section, checked
//! on load so an incompatible component is refused before it runs.

use crate::error::LoadError;

/// The plugin API version this host implements.
pub const HOST_API_VERSION: &str = "0.1.0";
/// Custom section in which the SDK records a plugin's API version.
pub const SECTION: &str = "dataguardian:api-version";

/// The version recorded in a component, if any.
pub fn read(wasm: &[u8]) -> Option<String> {
    crate::embedded::read_section(wasm, SECTION).and_then(|bytes| String::from_utf8(bytes).ok())
}

/// Accepts a plugin whose version is semver-compatible with this host and
/// whose manifest requirement this host satisfies.
pub fn check(plugin: &str, found: &str, manifest_req: &str) -> Result<(), LoadError> {
    let mismatch = || LoadError::ApiVersion {
        plugin: plugin.to_string(),
        found: found.to_string(),
        host: HOST_API_VERSION.to_string(),
    };
    let found_v = semver::Version::parse(found).map_err(|_| mismatch())?;
    let host_req =
        semver::VersionReq::parse(&format!("^{HOST_API_VERSION}")).map_err(|_| mismatch())?;
    let manifest_req = semver::VersionReq::parse(manifest_req).map_err(|_| mismatch())?;
    let host_v = semver::Version::parse(HOST_API_VERSION).map_err(|_| mismatch())?;
    if host_req.matches(&found_v) && manifest_req.matches(&host_v) {
        Ok(())
    } else {
        Err(mismatch())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_versions_must_be_compatible() {
        assert!(check("p", "0.1.0", "^0.1").is_ok());
        assert!(check("p", "0.1.7", "^0.1").is_ok());
        assert!(check("p", "0.2.0", "^0.1").is_err());
        assert!(check("p", "0.1.0", "^0.2").is_err());
        assert!(check("p", "garbage", "^0.1").is_err());
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
