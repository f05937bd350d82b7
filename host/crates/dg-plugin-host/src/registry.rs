//! The plugin registry: a static index (`index.json`) beside the packages
//! it lists, signed by publishers with ed25519 keys the server trusts.
//!
//! Nothing here touches the network: the host fetches the index and the
//! package (through its egress policy) and hands the bytes to
//! [`Index::parse`], [`Index::choose`] and [`TrustedKeys::verify`].

use crate::api_version;
use crate::package::{sha256_hex, Package, PackageError};
use base64::Engine as _;
use ed25519_dalek::{Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The file name of a registry's index.
pub const INDEX_FILE: &str = "index.json";
/// The index format this host reads and writes.
pub const INDEX_FORMAT: u32 = 1;
/// The largest index the host reads.
pub const MAX_INDEX_BYTES: u64 = 4 << 20;

const SECRET_KEY_TAG: &str = "dataguardian-registry-secret-key";
const PUBLIC_KEY_TAG: &str = "dataguardian-registry-public-key";
/// What a signature covers: this prefix, then the package's hex SHA-256.
const SIGNED_PREFIX: &str = "dataguardian-plugin-package:v1:";

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("{path}: {message}")]
    File { path: String, message: String },
    #[error("the registry index is not valid: {0}")]
    Index(String),
    #[error("the registry has no plugin `{0}`")]
    UnknownPlugin(String),
    #[error(
        "the registry has no version of `{name}` matching `{requirement}` (it has {available})"
    )]
    NoMatchingVersion {
        name: String,
        requirement: String,
        available: String,
    },
    #[error("`{name}` {version} needs plugin API `{api}`, and this server speaks plugin API {}: no version matching `{requirement}` fits this server", api_version::supported_text())]
    IncompatibleApi {
        name: String,
        version: String,
        api: String,
        requirement: String,
    },
    #[error("version requirement `{0}` is not valid semver (e.g. `1`, `^1.2`, `=1.0.0`)")]
    Requirement(String),
    #[error("the package's SHA-256 is {found}, the index says {expected}: it was altered or damaged in transit")]
    HashMismatch { expected: String, found: String },
    #[error("the package is signed by key `{0}`, which this server does not trust (add its public key with --trusted-key)")]
    UntrustedKey(String),
    #[error("the package's signature by key `{0}` does not verify: the package or its index entry was altered")]
    BadSignature(String),
    #[error(transparent)]
    Package(#[from] PackageError),
}

/// One published version of a plugin.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct IndexEntry {
    pub name: String,
    pub version: String,
    /// `engine`, `storage` or `notifier`.
    pub kind: String,
    /// The types the plugin serves.
    pub provides: Vec<String>,
    /// The plugin API requirement (`^0.1`).
    pub api: String,
    #[serde(default)]
    pub description: String,
    /// Lowercase hex SHA-256 of the package file.
    pub sha256: String,
    /// Size of the package file in bytes.
    pub size: u64,
    /// Where the package is, relative to the index (or absolute).
    pub url: String,
    /// Base64 ed25519 signature of `dataguardian-plugin-package:v1:SHA256`.
    pub signature: String,
    /// Id of the publisher key that signed it.
    pub key_id: String,
}

impl IndexEntry {
    /// Whether this server's plugin API satisfies the entry's requirement.
    pub fn fits_this_host(&self) -> bool {
        api_version::satisfies(&self.api)
    }
}

/// A registry's `index.json`.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Index {
    pub format: u32,
    pub plugins: Vec<IndexEntry>,
}

impl Index {
    pub fn parse(bytes: &[u8]) -> Result<Self, RegistryError> {
        let index: Index =
            serde_json::from_slice(bytes).map_err(|e| RegistryError::Index(e.to_string()))?;
        if index.format != INDEX_FORMAT {
            return Err(RegistryError::Index(format!(
                "format {} (this server reads format {INDEX_FORMAT})",
                index.format
            )));
        }
        Ok(index)
    }

    /// The highest version of `name` matching `requirement` whose API
    /// requirement this host satisfies. When versions match but none fits
    /// this host, the error names the newest one's API and this host's.
    pub fn choose(&self, name: &str, requirement: &str) -> Result<&IndexEntry, RegistryError> {
        let req = parse_requirement(requirement)?;
        let requirement = if requirement.trim().is_empty() {
            "*"
        } else {
            requirement
        };
        let mut versions: Vec<(semver::Version, &IndexEntry)> = self
            .plugins
            .iter()
            .filter(|e| e.name == name)
            .filter_map(|e| Some((semver::Version::parse(&e.version).ok()?, e)))
            .collect();
        if versions.is_empty() {
            return Err(RegistryError::UnknownPlugin(name.to_string()));
        }
        versions.sort_by(|a, b| b.0.cmp(&a.0));
        let matching: Vec<_> = versions.iter().filter(|(v, _)| req.matches(v)).collect();
        let Some((_, newest)) = matching.first() else {
            return Err(RegistryError::NoMatchingVersion {
                name: name.to_string(),
                requirement: requirement.to_string(),
                available: versions
                    .iter()
                    .map(|(v, _)| v.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        };
        matching
            .iter()
            .find(|(_, e)| e.fits_this_host())
            .map(|(_, e)| *e)
            .ok_or_else(|| RegistryError::IncompatibleApi {
                name: name.to_string(),
                version: newest.version.clone(),
                api: newest.api.clone(),
                requirement: requirement.to_string(),
            })
    }
}

/// A version requirement as people write it: empty or `*` is any, a bare
/// version `1.2` means `^1.2`.
pub fn parse_requirement(text: &str) -> Result<semver::VersionReq, RegistryError> {
    let text = text.trim();
    let text = if text.is_empty() { "*" } else { text };
    semver::VersionReq::parse(text).map_err(|_| RegistryError::Requirement(text.to_string()))
}

/// A publisher's signing key.
pub struct PublisherKey {
    signing: SigningKey,
}

impl PublisherKey {
    pub fn generate() -> Result<Self, RegistryError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| RegistryError::File {
            path: "(random)".into(),
            message: e.to_string(),
        })?;
        Ok(Self {
            signing: SigningKey::from_bytes(&seed),
        })
    }

    /// Writes the private key to `path` (mode 0600, refusing to replace a
    /// file) and the public key to `path.pub`.
    pub fn write(&self, path: &Path) -> Result<PathBuf, RegistryError> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let file_error = |p: &Path, e: std::io::Error| RegistryError::File {
            path: p.display().to_string(),
            message: e.to_string(),
        };
        let encode = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
        let id = key_id(&self.signing.verifying_key());
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| file_error(path, e))?;
        writeln!(
            file,
            "{SECRET_KEY_TAG} {id} {}",
            encode(self.signing.as_bytes())
        )
        .map_err(|e| file_error(path, e))?;
        let public = PathBuf::from(format!("{}.pub", path.display()));
        std::fs::write(
            &public,
            format!(
                "{PUBLIC_KEY_TAG} {id} {}\n",
                encode(self.signing.verifying_key().as_bytes())
            ),
        )
        .map_err(|e| file_error(&public, e))?;
        Ok(public)
    }

    pub fn read(path: &Path) -> Result<Self, RegistryError> {
        let bytes = read_key_file(path, SECRET_KEY_TAG)?;
        Ok(Self {
            signing: SigningKey::from_bytes(&bytes),
        })
    }

    pub fn id(&self) -> String {
        key_id(&self.signing.verifying_key())
    }

    /// The signature of a package whose SHA-256 is `sha256_hex`.
    pub fn sign(&self, sha256_hex: &str) -> String {
        let signature = self
            .signing
            .sign(format!("{SIGNED_PREFIX}{sha256_hex}").as_bytes());
        base64::engine::general_purpose::STANDARD.encode(signature.to_bytes())
    }
}

/// The publisher keys a server accepts packages from.
#[derive(Debug, Default, Clone)]
pub struct TrustedKeys {
    keys: Vec<(String, VerifyingKey)>,
}

impl TrustedKeys {
    /// Reads public key files (`KEY.pub` as `registry keygen` writes them).
    pub fn load(paths: &[PathBuf]) -> Result<Self, RegistryError> {
        let mut keys = Vec::new();
        for path in paths {
            let bytes = read_key_file(path, PUBLIC_KEY_TAG)?;
            let key = VerifyingKey::from_bytes(&bytes).map_err(|e| RegistryError::File {
                path: path.display().to_string(),
                message: format!("not an ed25519 public key: {e}"),
            })?;
            keys.push((key_id(&key), key));
        }
        Ok(Self { keys })
    }

    pub fn ids(&self) -> Vec<String> {
        self.keys.iter().map(|(id, _)| id.clone()).collect()
    }

    /// Checks `package` against its index entry: size and SHA-256 first,
    /// then the signature by a trusted key; then opens it.
    pub fn verify(&self, entry: &IndexEntry, package: &[u8]) -> Result<Package, RegistryError> {
        let found = sha256_hex(package);
        if found != entry.sha256 {
            return Err(RegistryError::HashMismatch {
                expected: entry.sha256.clone(),
                found,
            });
        }
        let (_, key) = self
            .keys
            .iter()
            .find(|(id, _)| *id == entry.key_id)
            .ok_or_else(|| RegistryError::UntrustedKey(entry.key_id.clone()))?;
        let bad = || RegistryError::BadSignature(entry.key_id.clone());
        let raw = base64::engine::general_purpose::STANDARD
            .decode(entry.signature.trim())
            .map_err(|_| bad())?;
        let signature = ed25519_dalek::Signature::from_slice(&raw).map_err(|_| bad())?;
        key.verify(format!("{SIGNED_PREFIX}{found}").as_bytes(), &signature)
            .map_err(|_| bad())?;
        let package = Package::open(package)?;
        let m = &package.manifest.plugin;
        let agrees = m.id == entry.name
            && m.version == entry.version
            && m.kind.to_string() == entry.kind
            && m.provides == entry.provides
            && m.api == entry.api;
        if !agrees {
            return Err(RegistryError::Index(format!(
                "the entry for {} {} ({}, provides {}, API {}) holds {} {} ({}, provides {}, API {})",
                entry.name,
                entry.version,
                entry.kind,
                entry.provides.join(", "),
                entry.api,
                m.id,
                m.version,
                m.kind,
                m.provides.join(", "),
                m.api
            )));
        }
        Ok(package)
    }
}

/// Writes `package_file` into the registry directory `index_dir`
/// (`packages/NAME-VERSION.dgp`) and its signed entry into `index.json`,
/// replacing an entry of the same name and version.
pub fn publish(
    package_file: &Path,
    index_dir: &Path,
    key: &PublisherKey,
) -> Result<IndexEntry, RegistryError> {
    let file_error = |p: &Path, e: std::io::Error| RegistryError::File {
        path: p.display().to_string(),
        message: e.to_string(),
    };
    let bytes = std::fs::read(package_file).map_err(|e| file_error(package_file, e))?;
    let package = Package::open(&bytes)?;
    let m = &package.manifest.plugin;
    let sha256 = sha256_hex(&bytes);
    let relative = format!("packages/{}-{}.dgp", m.id, m.version);
    let entry = IndexEntry {
        name: m.id.clone(),
        version: m.version.clone(),
        kind: m.kind.to_string(),
        provides: m.provides.clone(),
        api: m.api.clone(),
        description: m.description.clone(),
        signature: key.sign(&sha256),
        sha256,
        size: bytes.len() as u64,
        url: relative,
        key_id: key.id(),
    };
    let index_path = index_dir.join(INDEX_FILE);
    let mut index = match std::fs::read(&index_path) {
        Ok(bytes) => Index::parse(&bytes)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Index {
            format: INDEX_FORMAT,
            plugins: Vec::new(),
        },
        Err(e) => return Err(file_error(&index_path, e)),
    };
    // A published version is immutable: servers that installed it trust
    // these bytes. Publishing the same bytes again changes nothing.
    if let Some(published) = index
        .plugins
        .iter()
        .find(|e| e.name == entry.name && e.version == entry.version)
    {
        if published.sha256 != entry.sha256 {
            return Err(RegistryError::Index(format!(
                "{} {} is already published with other bytes (sha256 {}); a published version never changes: publish a new version",
                entry.name, entry.version, published.sha256
            )));
        }
    }
    let target = index_dir.join(&entry.url);
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent).map_err(|e| file_error(parent, e))?;
    }
    std::fs::write(&target, &bytes).map_err(|e| file_error(&target, e))?;
    index
        .plugins
        .retain(|e| !(e.name == entry.name && e.version == entry.version));
    index.plugins.push(entry.clone());
    index
        .plugins
        .sort_by(|a, b| a.name.cmp(&b.name).then(a.version.cmp(&b.version)));
    let text =
        serde_json::to_string_pretty(&index).map_err(|e| RegistryError::Index(e.to_string()))?;
    let temp = index_dir.join(format!(".{INDEX_FILE}.tmp"));
    std::fs::write(&temp, text + "\n").map_err(|e| file_error(&temp, e))?;
    std::fs::rename(&temp, &index_path).map_err(|e| file_error(&index_path, e))?;
    Ok(entry)
}

/// A key's id: the first 8 bytes of the SHA-256 of its public key, hex.
fn key_id(key: &VerifyingKey) -> String {
    sha256_hex(key.as_bytes())[..16].to_string()
}

fn read_key_file(path: &Path, tag: &str) -> Result<[u8; 32], RegistryError> {
    let invalid = |message: String| RegistryError::File {
        path: path.display().to_string(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| invalid(e.to_string()))?;
    let mut words = text.split_whitespace();
    if words.next() != Some(tag) {
        return Err(invalid(format!("not a {tag} file")));
    }
    let _id = words.next();
    let raw = words
        .next()
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .ok_or_else(|| invalid("the key is not base64".into()))?;
    raw.try_into()
        .map_err(|_| invalid("the key is not 32 bytes".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(version: &str, api: &str) -> IndexEntry {
        IndexEntry {
            name: "ntfy".into(),
            version: version.into(),
            kind: "notifier".into(),
            provides: vec!["ntfy".into()],
            api: api.into(),
            description: String::new(),
            sha256: String::new(),
            size: 0,
            url: String::new(),
            signature: String::new(),
            key_id: String::new(),
        }
    }

    #[test]
    fn the_highest_compatible_version_is_chosen() {
        let index = Index {
            format: 1,
            plugins: vec![
                entry("1.0.0", "^0.1"),
                entry("1.2.0", "^0.1"),
                entry("2.0.0", "^0.9"),
            ],
        };
        assert_eq!(index.choose("ntfy", "").unwrap().version, "1.2.0");
        assert_eq!(index.choose("ntfy", "=1.0.0").unwrap().version, "1.0.0");
        let err = index.choose("ntfy", "^2").unwrap_err().to_string();
        assert!(
            err.contains("^0.9") && err.contains("0.1.0 and 0.2.0"),
            "{err}"
        );
        let err = index.choose("ntfy", "^3").unwrap_err().to_string();
        assert!(err.contains("1.0.0, ") || err.contains("2.0.0"), "{err}");
        assert!(matches!(
            index.choose("nope", ""),
            Err(RegistryError::UnknownPlugin(_))
        ));
        assert!(matches!(
            index.choose("ntfy", "not a req"),
            Err(RegistryError::Requirement(_))
        ));
    }

    #[test]
    fn signatures_verify_only_with_the_signers_key() {
        let dir = tempfile::tempdir().unwrap();
        let key = PublisherKey::generate().unwrap();
        let public = key.write(&dir.path().join("k")).unwrap();
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(dir.path().join("k"))
                .unwrap()
                .permissions(),
        );
        assert_eq!(mode & 0o777, 0o600);
        let reread = PublisherKey::read(&dir.path().join("k")).unwrap();
        assert_eq!(reread.id(), key.id());
        let trusted = TrustedKeys::load(&[public]).unwrap();
        assert_eq!(trusted.ids(), [key.id()]);

        let bytes = b"package bytes".to_vec();
        let mut e = entry("1.0.0", "^0.1");
        e.sha256 = sha256_hex(&bytes);
        e.key_id = key.id();
        e.signature = key.sign(&e.sha256);
        // Signature fine; the bytes are not a package.
        assert!(matches!(
            trusted.verify(&e, &bytes),
            Err(RegistryError::Package(_))
        ));
        let mut flipped = bytes.clone();
        flipped[0] ^= 1;
        assert!(matches!(
            trusted.verify(&e, &flipped),
            Err(RegistryError::HashMismatch { .. })
        ));
        let other = PublisherKey::generate().unwrap();
        let mut forged = e.clone();
        forged.signature = other.sign(&e.sha256);
        assert!(matches!(
            trusted.verify(&forged, &bytes),
            Err(RegistryError::BadSignature(_))
        ));
        forged.key_id = other.id();
        assert!(matches!(
            trusted.verify(&forged, &bytes),
            Err(RegistryError::UntrustedKey(_))
        ));
    }
}
