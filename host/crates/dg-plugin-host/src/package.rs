//! A plugin package (`.dgp`): one file holding the component, its manifest
//! and their checksums, as `dataguardian plugin pack` writes it and the
//! registry serves it.
//!
//! It is an uncompressed tar with exactly three members:
//! `plugin.wasm` (the component, its manifest built in), `plugin.toml`
//! (the same manifest, readable without parsing wasm) and `SHA256SUMS`
//! (`HEX  NAME` lines for the other two). Opening checks all three agree.

use crate::embedded;
use crate::manifest::{Manifest, ManifestError};
use sha2::{Digest, Sha256};
use std::io::Read;

/// The largest package the host reads (a component is a few MiB).
pub const MAX_PACKAGE_BYTES: u64 = 64 << 20;

const WASM: &str = "plugin.wasm";
const MANIFEST: &str = "plugin.toml";
const SUMS: &str = "SHA256SUMS";

#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    #[error("the package is not a DataGuardian plugin package: {0}")]
    Format(String),
    #[error("the package's {member} does not match its SHA256SUMS (altered or damaged)")]
    Checksum { member: &'static str },
    #[error(
        "the component carries no built-in manifest: build it with `dataguardian plugin build`"
    )]
    NoEmbeddedManifest,
    #[error("plugin.toml differs from the manifest built into the component")]
    ManifestMismatch,
    #[error(transparent)]
    Manifest(#[from] ManifestError),
}

/// An opened, self-consistent package.
pub struct Package {
    pub wasm: Vec<u8>,
    pub manifest_text: String,
    pub manifest: Manifest,
}

impl Package {
    /// A package of `wasm`, whose built-in manifest it carries.
    pub fn from_component(wasm: Vec<u8>) -> Result<Self, PackageError> {
        let manifest_text = embedded::manifest(&wasm).ok_or(PackageError::NoEmbeddedManifest)?;
        let manifest = Manifest::parse(&manifest_text)?;
        Ok(Self {
            wasm,
            manifest_text,
            manifest,
        })
    }

    /// The package file's bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, PackageError> {
        let sums = format!(
            "{}  {WASM}\n{}  {MANIFEST}\n",
            sha256_hex(&self.wasm),
            sha256_hex(self.manifest_text.as_bytes())
        );
        let mut builder = tar::Builder::new(Vec::new());
        for (name, data) in [
            (WASM, self.wasm.as_slice()),
            (MANIFEST, self.manifest_text.as_bytes()),
            (SUMS, sums.as_bytes()),
        ] {
            let mut header = tar::Header::new_ustar();
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            header.set_mtime(0);
            header.set_cksum();
            builder
                .append_data(&mut header, name, data)
                .map_err(|e| PackageError::Format(e.to_string()))?;
        }
        builder
            .into_inner()
            .map_err(|e| PackageError::Format(e.to_string()))
    }

    /// Opens a package file's bytes, checking the checksums and that the
    /// manifest beside the component is the one built into it.
    pub fn open(bytes: &[u8]) -> Result<Self, PackageError> {
        let format = |m: &str| PackageError::Format(m.to_string());
        // The tar reader's own errors may quote the bytes it choked on:
        // say what is wrong without echoing the package back.
        let not_tar = |_| format("it is not an uncompressed tar archive");
        let mut wasm = None;
        let mut manifest_text = None;
        let mut sums = None;
        let mut archive = tar::Archive::new(bytes);
        let entries = archive.entries().map_err(not_tar)?;
        for entry in entries {
            let mut entry = entry.map_err(not_tar)?;
            if entry.header().entry_type() != tar::EntryType::Regular {
                return Err(format("it holds something other than plain files"));
            }
            let name = entry
                .path()
                .map_err(not_tar)?
                .to_string_lossy()
                .into_owned();
            let mut data = Vec::new();
            (&mut entry)
                .take(MAX_PACKAGE_BYTES)
                .read_to_end(&mut data)
                .map_err(not_tar)?;
            let slot = match name.as_str() {
                WASM => &mut wasm,
                MANIFEST => &mut manifest_text,
                SUMS => &mut sums,
                other => {
                    let shown: String = other.chars().take(64).collect();
                    return Err(format(&format!("unexpected member `{shown}`")));
                }
            };
            if slot.replace(data).is_some() {
                return Err(format(&format!("`{name}` appears twice")));
            }
        }
        let missing = |name: &str| format(&format!("`{name}` is missing"));
        let wasm = wasm.ok_or_else(|| missing(WASM))?;
        let manifest_bytes = manifest_text.ok_or_else(|| missing(MANIFEST))?;
        let sums = String::from_utf8(sums.ok_or_else(|| missing(SUMS))?)
            .map_err(|_| format("SHA256SUMS is not text"))?;
        let listed = |member: &'static str| -> Result<String, PackageError> {
            sums.lines()
                .find_map(|line| {
                    let (hex, name) = line.split_once("  ")?;
                    (name == member).then(|| hex.to_string())
                })
                .ok_or_else(|| format(&format!("SHA256SUMS does not list `{member}`")))
        };
        if listed(WASM)? != sha256_hex(&wasm) {
            return Err(PackageError::Checksum { member: WASM });
        }
        if listed(MANIFEST)? != sha256_hex(&manifest_bytes) {
            return Err(PackageError::Checksum { member: MANIFEST });
        }
        let manifest_text =
            String::from_utf8(manifest_bytes).map_err(|_| format("plugin.toml is not UTF-8"))?;
        let embedded = embedded::manifest(&wasm).ok_or(PackageError::NoEmbeddedManifest)?;
        if embedded != manifest_text {
            return Err(PackageError::ManifestMismatch);
        }
        let manifest = Manifest::parse(&manifest_text)?;
        Ok(Self {
            wasm,
            manifest_text,
            manifest,
        })
    }
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY_COMPONENT: &[u8] = &[0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];
    const MANIFEST_TEXT: &str = "[plugin]\nid = \"ntfy\"\nversion = \"1.0.0\"\nkind = \"notifier\"\nprovides = [\"ntfy\"]\napi = \"^0.1\"\n";

    fn package() -> Vec<u8> {
        let wasm = embedded::append_section(
            EMPTY_COMPONENT,
            embedded::MANIFEST_SECTION,
            MANIFEST_TEXT.as_bytes(),
        );
        Package::from_component(wasm).unwrap().to_bytes().unwrap()
    }

    #[test]
    fn a_package_opens_and_names_its_plugin() {
        let opened = Package::open(&package()).unwrap();
        assert_eq!(opened.manifest.plugin.id, "ntfy");
        assert_eq!(opened.manifest_text, MANIFEST_TEXT);
    }

    #[test]
    fn an_altered_component_is_refused() {
        let mut bytes = package();
        // The component is the first member: its data follows a 512-byte header.
        bytes[512 + 3] ^= 1;
        let err = Package::open(&bytes).err().unwrap();
        assert!(
            err.to_string().contains("plugin.wasm does not match"),
            "{err}"
        );
    }

    #[test]
    fn a_component_without_a_built_in_manifest_is_not_packed() {
        let err = Package::from_component(EMPTY_COMPONENT.to_vec())
            .err()
            .unwrap();
        assert!(err.to_string().contains("plugin build"), "{err}");
        assert!(Package::open(b"not a tar at all").is_err());
    }
}
