//! Secrets at rest. Values under secret keys (`password`, `secret_access_key`,
//! ... at any depth of a stored configuration) are sealed with
//! XChaCha20-Poly1305 under a master key before they reach the metadata
//! database, and opened when a row is read. The key comes from
//! `DG_MASTER_KEY` or a key file created 0600 on first run; several keys
//! may be listed (the first seals, all open) so a rotation can re-seal row
//! by row without a window where a row cannot be read.

use base64::Engine as _;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::{OnceLock, RwLock};

/// Configuration keys whose values are secrets: sealed at rest, kept out
/// of plugin configuration and out of API responses and logs.
pub const SECRET_KEYS: &[&str] = &[
    "password",
    "secret_access_key",
    "secret_key",
    "token",
    "api_key",
    "private_key",
    "passphrase",
    "client_key",
    "credentials_json",
    // Notification channels: the webhook signing key, the WhatsApp token.
    "secret",
    "access_token",
];

/// Prefix of a sealed value: `dg-sealed:v1:KEYID:BASE64(nonce ‖ ciphertext)`.
const SEALED_PREFIX: &str = "dg-sealed:v1:";

/// What marks a sealed value; clients may not send strings that start
/// with it (they would be taken for sealed values).
pub const SEALED_MARK: &str = "dg-sealed:";
const NONCE_LEN: usize = 24;

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("no master key is loaded (set DG_MASTER_KEY or --master-key-file)")]
    NoKey,
    #[error("a stored secret is sealed with master key `{0}`, which is not loaded. Every node (and every restart) needs the key that sealed it: copy that key file (or DG_MASTER_KEY) from the node that wrote it; after a rotation load both, DG_MASTER_KEY=NEW,OLD")]
    UnknownKey(String),
    #[error("a sealed value does not open: it was altered, or sealed under another key with the same id")]
    Tampered,
    #[error("a sealed value is malformed")]
    Malformed,
    #[error("{0}")]
    Key(String),
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// One master key.
struct MasterKey {
    /// First 4 bytes of the key's SHA-256, hex: names the key in sealed
    /// values without revealing it.
    id: String,
    cipher: XChaCha20Poly1305,
    encoded: String,
}

impl MasterKey {
    fn from_encoded(text: &str) -> Result<Self, SecretsError> {
        let text = text.trim();
        // 64 hex digits also parse as (48 bytes of) base64: hex first.
        let hex_form = text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit());
        let bytes = if hex_form {
            hex::decode(text).ok()
        } else {
            base64::engine::general_purpose::STANDARD.decode(text).ok()
        }
        .ok_or_else(|| {
            SecretsError::Key("a master key must be 32 bytes in base64 or hex".into())
        })?;
        if bytes.len() != 32 {
            return Err(SecretsError::Key(format!(
                "a master key must be 32 bytes, this one has {}",
                bytes.len()
            )));
        }
        let cipher = XChaCha20Poly1305::new_from_slice(&bytes)
            .map_err(|_| SecretsError::Key("invalid master key".into()))?;
        Ok(Self {
            id: hex::encode(&Sha256::digest(&bytes)[..4]),
            cipher,
            encoded: base64::engine::general_purpose::STANDARD.encode(&bytes),
        })
    }

    fn generate() -> Self {
        let key = XChaCha20Poly1305::generate_key(&mut OsRng);
        let encoded = base64::engine::general_purpose::STANDARD.encode(key);
        // A freshly generated key always decodes.
        Self::from_encoded(&encoded).unwrap_or_else(|_| unreachable!("32 random bytes"))
    }
}

/// Where the master key comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// `DG_MASTER_KEY`: one or more keys, comma-separated, first current.
    Env,
    /// A key file: one key per line, first current.
    File(PathBuf),
}

/// The loaded master keys; the first seals, every one opens.
pub struct Keyring {
    keys: Vec<MasterKey>,
    pub source: KeySource,
}

impl Keyring {
    /// Loads the keys from `env` (the value of `DG_MASTER_KEY`) or from
    /// `file`, creating the file with a new key (0600, parent 0700) when
    /// neither exists. A key file others can read is refused.
    pub fn load_or_create(env: Option<&str>, file: &Path) -> Result<Self, SecretsError> {
        if let Some(env) = env.filter(|e| !e.trim().is_empty()) {
            let keys = env
                .split(',')
                .filter(|k| !k.trim().is_empty())
                .map(MasterKey::from_encoded)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| SecretsError::Key(format!("DG_MASTER_KEY: {e}")))?;
            return Ok(Self {
                keys,
                source: KeySource::Env,
            });
        }
        let io = |source| SecretsError::Io {
            path: file.display().to_string(),
            source,
        };
        match std::fs::read_to_string(file) {
            Ok(text) => {
                check_private(file)?;
                let keys = text
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                    .map(MasterKey::from_encoded)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| SecretsError::Key(format!("{}: {e}", file.display())))?;
                if keys.is_empty() {
                    return Err(SecretsError::Key(format!(
                        "{}: holds no key",
                        file.display()
                    )));
                }
                Ok(Self {
                    keys,
                    source: KeySource::File(file.to_path_buf()),
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let ring = Self {
                    keys: vec![MasterKey::generate()],
                    source: KeySource::File(file.to_path_buf()),
                };
                ring.write_file(file, true)?;
                tracing::info!(
                    "created master key {} in {} (keep a copy: without it stored passwords cannot be read)",
                    ring.current_id(),
                    file.display()
                );
                Ok(ring)
            }
            Err(e) => Err(io(e)),
        }
    }

    /// The id of the key that seals.
    pub fn current_id(&self) -> &str {
        &self.keys[0].id
    }

    /// Ids of every loaded key, current first.
    pub fn ids(&self) -> Vec<String> {
        self.keys.iter().map(|k| k.id.clone()).collect()
    }

    /// Puts a new key in front (it seals from now on); the old ones keep
    /// opening until [`Keyring::retire_old`].
    pub fn rotate(&mut self) {
        self.keys.insert(0, MasterKey::generate());
    }

    /// Keeps only the current key.
    pub fn retire_old(&mut self) {
        self.keys.truncate(1);
    }

    /// Writes the keys to `file` atomically (temp file 0600, fsync, rename).
    pub fn write_file(&self, file: &Path, create_only: bool) -> Result<(), SecretsError> {
        use std::io::Write;
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
        let io = |source| SecretsError::Io {
            path: file.display().to_string(),
            source,
        };
        if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(io)?;
        }
        let mut text = String::from(
            "# DataGuardian master key(s): the first seals, all open. Keep a copy elsewhere.\n",
        );
        for k in &self.keys {
            text.push_str(&k.encoded);
            text.push('\n');
        }
        let tmp = file.with_extension(format!("tmp-{}", uuid::Uuid::new_v4()));
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io)?;
        f.write_all(text.as_bytes()).map_err(io)?;
        f.sync_all().map_err(io)?;
        drop(f);
        if create_only && file.exists() {
            let _ = std::fs::remove_file(&tmp);
            return Err(SecretsError::Key(format!(
                "{} appeared while it was being created",
                file.display()
            )));
        }
        std::fs::rename(&tmp, file).map_err(io)?;
        if let Some(dir) = file.parent() {
            if let Ok(d) = std::fs::File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }

    fn seal_str(&self, name: &str, plain: &str) -> String {
        let key = &self.keys[0];
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let payload = Payload {
            msg: plain.as_bytes(),
            aad: name.as_bytes(),
        };
        // Encryption with a valid key and nonce does not fail for inputs
        // this small (limit: 256 GiB).
        let sealed = key
            .cipher
            .encrypt(&nonce, payload)
            .unwrap_or_else(|_| unreachable!("XChaCha20-Poly1305 encrypt"));
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&sealed);
        format!(
            "{SEALED_PREFIX}{}:{}",
            key.id,
            base64::engine::general_purpose::STANDARD.encode(blob)
        )
    }

    fn open_str(&self, name: &str, sealed: &str) -> Result<String, SecretsError> {
        let rest = sealed
            .strip_prefix(SEALED_PREFIX)
            .ok_or(SecretsError::Malformed)?;
        let (id, data) = rest.split_once(':').ok_or(SecretsError::Malformed)?;
        let key = self
            .keys
            .iter()
            .find(|k| k.id == id)
            .ok_or_else(|| SecretsError::UnknownKey(id.to_string()))?;
        let blob = base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(|_| SecretsError::Malformed)?;
        if blob.len() < NONCE_LEN {
            return Err(SecretsError::Malformed);
        }
        let (nonce, ct) = blob.split_at(NONCE_LEN);
        let plain = key
            .cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ct,
                    aad: name.as_bytes(),
                },
            )
            .map_err(|_| SecretsError::Tampered)?;
        String::from_utf8(plain).map_err(|_| SecretsError::Malformed)
    }

    /// `config` with every secret value sealed (values already sealed
    /// under the current key are kept; others are re-sealed).
    pub fn seal(&self, config: &Value) -> Result<Value, SecretsError> {
        let mut out = config.clone();
        self.seal_in(&mut out)?;
        Ok(out)
    }

    fn seal_in(&self, value: &mut Value) -> Result<(), SecretsError> {
        match value {
            Value::Object(map) => {
                for (k, v) in map.iter_mut() {
                    if is_secret_key(k) && !v.is_object() && !v.is_array() {
                        let plain = match &*v {
                            Value::Null => continue,
                            Value::String(s) if s.is_empty() => continue,
                            Value::String(s) if s.starts_with(SEALED_PREFIX) => {
                                if s[SEALED_PREFIX.len()..]
                                    .starts_with(&format!("{}:", self.keys[0].id))
                                {
                                    continue;
                                }
                                self.open_str(k, s)?
                            }
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        *v = Value::String(self.seal_str(k, &plain));
                    } else {
                        self.seal_in(v)?;
                    }
                }
            }
            Value::Array(items) => {
                for v in items {
                    self.seal_in(v)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// `config` with every sealed value opened.
    pub fn open(&self, config: &Value) -> Result<Value, SecretsError> {
        let mut out = config.clone();
        self.open_in(&mut out, None)?;
        Ok(out)
    }

    /// Opens sealed values under secret keys only, as `seal_in` seals
    /// them; a look-alike string anywhere else is left alone.
    fn open_in(&self, value: &mut Value, key: Option<&str>) -> Result<(), SecretsError> {
        match value {
            Value::String(s) if s.starts_with(SEALED_PREFIX) => {
                if let Some(key) = key.filter(|k| is_secret_key(k)) {
                    *s = self.open_str(key, s)?;
                }
            }
            Value::Object(map) => {
                for (k, v) in map.iter_mut() {
                    self.open_in(v, Some(k))?;
                }
            }
            Value::Array(items) => {
                for v in items {
                    self.open_in(v, None)?;
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// Whether a configuration key names a secret: one the host always
/// seals, or one a loaded plugin declared (`plugin.secrets`).
pub fn is_secret_key(key: &str) -> bool {
    is_builtin_secret_key(key)
        || DECLARED
            .read()
            .map(|names| names.iter().any(|n| n == key))
            .unwrap_or(true)
}

/// Whether `key` is one of the names the host seals in every
/// configuration ([`SECRET_KEYS`]).
pub fn is_builtin_secret_key(key: &str) -> bool {
    SECRET_KEYS.contains(&key)
}

/// Secret field names declared by loaded plugins. A name once declared
/// stays secret for the life of the process, in every configuration:
/// sealing a field too many is safe, unsealing one a stored row holds is
/// not.
static DECLARED: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Makes `names` secret from now on (a plugin declaring them was loaded).
pub fn declare_secret_keys(names: &[String]) {
    if let Ok(mut declared) = DECLARED.write() {
        for name in names {
            if !is_builtin_secret_key(name) && !declared.contains(name) {
                declared.push(name.clone());
            }
        }
    }
}

/// Every secret name in force: the host's and the declared ones.
pub fn secret_keys() -> Vec<String> {
    let mut all: Vec<String> = SECRET_KEYS.iter().map(|s| s.to_string()).collect();
    if let Ok(declared) = DECLARED.read() {
        all.extend(declared.iter().cloned());
    }
    all
}

/// Whether a stored configuration holds a secret that is not sealed under
/// the current key (plaintext from before encryption, or an old key).
pub fn needs_sealing(config: &Value, current_id: &str) -> bool {
    match config {
        Value::Object(map) => map.iter().any(|(k, v)| {
            if is_secret_key(k) {
                match v {
                    Value::Null => false,
                    Value::String(s) if s.is_empty() => false,
                    Value::String(s) => !s.starts_with(&format!("{SEALED_PREFIX}{current_id}:")),
                    Value::Object(_) | Value::Array(_) => needs_sealing(v, current_id),
                    _ => true,
                }
            } else {
                needs_sealing(v, current_id)
            }
        }),
        Value::Array(items) => items.iter().any(|v| needs_sealing(v, current_id)),
        _ => false,
    }
}

/// Refuses a key file that group or others can read or write.
fn check_private(file: &Path) -> Result<(), SecretsError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(file)
        .map_err(|source| SecretsError::Io {
            path: file.display().to_string(),
            source,
        })?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(SecretsError::Key(format!(
            "{} is accessible to other users (mode {:o}); run `chmod 600 {}`",
            file.display(),
            mode & 0o777,
            file.display()
        )));
    }
    Ok(())
}

/// The process's keyring, installed once at start-up by the commands that
/// open the metadata store, replaced only by a key rotation.
static KEYRING: OnceLock<RwLock<Option<Keyring>>> = OnceLock::new();

fn slot() -> &'static RwLock<Option<Keyring>> {
    KEYRING.get_or_init(|| RwLock::new(None))
}

/// Makes `ring` the process's keyring.
pub fn install(ring: Keyring) {
    let mut guard = slot().write().unwrap_or_else(|p| p.into_inner());
    *guard = Some(ring);
}

/// Changes the installed keyring (a rotation).
pub fn update(
    change: impl FnOnce(&mut Keyring) -> Result<(), SecretsError>,
) -> Result<(), SecretsError> {
    let mut guard = slot().write().unwrap_or_else(|p| p.into_inner());
    match guard.as_mut() {
        Some(ring) => change(ring),
        None => Err(SecretsError::NoKey),
    }
}

/// Runs `f` with the installed keyring.
pub fn with_keyring<T>(
    f: impl FnOnce(&Keyring) -> Result<T, SecretsError>,
) -> Result<T, SecretsError> {
    let guard = slot().read().unwrap_or_else(|p| p.into_inner());
    match guard.as_ref() {
        Some(ring) => f(ring),
        None => Err(SecretsError::NoKey),
    }
}

/// Seals a configuration with the installed keyring. A configuration
/// without secrets needs no key.
pub fn seal(config: &Value) -> Result<Value, SecretsError> {
    if !any_secret(config, &|v| !v.is_null() && v.as_str() != Some("")) {
        return Ok(config.clone());
    }
    with_keyring(|ring| ring.seal(config))
}

/// Opens a configuration with the installed keyring; one holding no
/// sealed value (under a secret key, where `seal` puts them) needs no key.
pub fn open(config: &Value) -> Result<Value, SecretsError> {
    if !any_secret(config, &|v| {
        v.as_str().is_some_and(|s| s.starts_with(SEALED_PREFIX))
    }) {
        return Ok(config.clone());
    }
    with_keyring(|ring| ring.open(config))
}

/// Whether a value under a secret key, at any depth, satisfies `pred`.
/// Runs on every configuration read and written, so it only walks.
fn any_secret(value: &Value, pred: &dyn Fn(&Value) -> bool) -> bool {
    match value {
        Value::Object(map) => map
            .iter()
            .any(|(k, v)| (is_secret_key(k) && pred(v)) || any_secret(v, pred)),
        Value::Array(items) => items.iter().any(|v| any_secret(v, pred)),
        _ => false,
    }
}

/// What API responses show instead of a secret.
pub const REDACTED: &str = "********";

/// A configuration with every secret value, at any depth, replaced by
/// [`REDACTED`].
pub fn redact(config: &Value) -> Value {
    let mut out = config.clone();
    redact_in(&mut out);
    out
}

fn redact_in(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if is_secret_key(k) && !v.is_null() && !v.is_object() {
                    *v = Value::String(REDACTED.into());
                } else {
                    redact_in(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_in),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ring() -> Keyring {
        Keyring {
            keys: vec![MasterKey::generate()],
            source: KeySource::Env,
        }
    }

    #[test]
    fn seals_every_secret_at_any_depth_and_opens_them() {
        let r = ring();
        let config = json!({"host": "db", "password": "pw", "auth": {"token": "t", "user": "u"},
                            "list": [{"api_key": "k"}], "port": 5432, "passphrase": null});
        let sealed = r.seal(&config).unwrap();
        let text = sealed.to_string();
        for plain in ["\"pw\"", "\"t\"", "\"k\""] {
            assert!(!text.contains(plain), "{plain} in {text}");
        }
        assert_eq!(sealed["host"], "db");
        assert_eq!(sealed["auth"]["user"], "u");
        assert!(!needs_sealing(&sealed, r.current_id()));
        assert!(needs_sealing(&config, r.current_id()));
        assert_eq!(r.open(&sealed).unwrap(), config);
        // Sealing twice keeps the value; nonces differ between seals.
        assert_eq!(r.seal(&sealed).unwrap(), sealed);
        assert_ne!(r.seal(&config).unwrap()["password"], sealed["password"]);
    }

    #[test]
    fn tampering_moving_and_unknown_keys_are_caught() {
        let r = ring();
        let sealed = r.seal(&json!({"password": "pw"})).unwrap();
        let s = sealed["password"].as_str().unwrap().to_string();
        let mut bytes = s.clone().into_bytes();
        let last = bytes.len() - 3;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        let altered = json!({"password": String::from_utf8(bytes).unwrap()});
        assert!(matches!(r.open(&altered), Err(SecretsError::Tampered)));
        // A sealed password cannot be moved into another key.
        assert!(matches!(
            r.open(&json!({"token": s})),
            Err(SecretsError::Tampered)
        ));
        assert!(matches!(
            ring().open(&sealed),
            Err(SecretsError::UnknownKey(_))
        ));
    }

    #[test]
    fn rotation_reseals_under_the_new_key() {
        let mut r = ring();
        let old = r.seal(&json!({"password": "pw"})).unwrap();
        r.rotate();
        assert!(needs_sealing(&old, r.current_id()));
        let new = r.seal(&old).unwrap();
        assert!(!needs_sealing(&new, r.current_id()));
        r.retire_old();
        assert_eq!(r.open(&new).unwrap()["password"], "pw");
        assert!(r.open(&old).is_err());
    }

    #[test]
    fn keys_come_in_base64_or_hex() {
        let key = [7u8; 32];
        let b64 = base64::engine::general_purpose::STANDARD.encode(key);
        let hex = hex::encode(key);
        let a = MasterKey::from_encoded(&b64).unwrap();
        let b = MasterKey::from_encoded(&hex).unwrap();
        assert_eq!(a.id, b.id);
        assert!(MasterKey::from_encoded("c2hvcnQ=").is_err());
        let ring =
            Keyring::load_or_create(Some(&format!("{hex},{b64}")), Path::new("/nonexistent"))
                .unwrap();
        assert_eq!(ring.ids().len(), 2);
    }

    #[test]
    fn key_file_is_created_private_and_refused_when_not() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("keys/master.key");
        let created = Keyring::load_or_create(None, &file).unwrap();
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = Keyring::load_or_create(None, &file).unwrap();
        assert_eq!(created.current_id(), again.current_id());
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = Keyring::load_or_create(None, &file).err().expect("refused");
        assert!(e.to_string().contains("chmod 600"), "{e}");
        let env = Keyring::load_or_create(Some("not a key"), &file);
        assert!(env.is_err());
    }
}
