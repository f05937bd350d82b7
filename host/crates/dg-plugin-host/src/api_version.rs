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
