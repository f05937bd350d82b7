//! Precompiled components on disk, keyed by the wasm's sha256 and the
//! engine's compatibility hash, so a restart deserializes (≈0.2 ms) instead
//! of compiling (≈0.1–1 s per plugin).

use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::path::Path;
use wasmtime::component::Component;
use wasmtime::Engine;

pub enum CompileError {
    Cache(String, std::io::Error),
    Wasm(String),
}

/// Compiles `wasm`, reusing the cached compilation in `dir` when present.
pub fn compile(
    engine: &Engine,
    dir: Option<&Path>,
    wasm: &[u8],
    sha256: &str,
) -> Result<Component, CompileError> {
    let Some(dir) = dir else {
        return Component::new(engine, wasm).map_err(|e| CompileError::Wasm(e.to_string()));
    };
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    let path = dir.join(format!("{}-{:016x}.cwasm", &sha256[..32], hasher.finish()));
    let digest = path.with_extension("cwasm.sha256");
    if let Some(component) = load_verified(engine, &path, &digest) {
        return Ok(component);
    }
    let compiled = engine
        .precompile_component(wasm)
        .map_err(|e| CompileError::Wasm(e.to_string()))?;
    let cache_err = |e| CompileError::Cache(path.display().to_string(), e);
    dg_core::private::dir(dir).map_err(cache_err)?;
    // The digest is written first and the artifact renamed in last, so a
    // reader never finds an artifact without the digest it must match.
    replace(&digest, hex::encode(Sha256::digest(&compiled)).as_bytes()).map_err(cache_err)?;
    replace(&path, &compiled).map_err(cache_err)?;
    // SAFETY: `compiled` was produced by this engine just now.
    unsafe { Component::deserialize(engine, &compiled) }
        .map_err(|e| CompileError::Wasm(e.to_string()))
}

/// The cached artifact at `path` if its SHA-256 matches the digest
/// recorded when it was written. It is loaded as native code, so a file
/// that was altered (or half-written by a crash) is never trusted: it is
/// compiled again and replaced.
fn load_verified(engine: &Engine, path: &Path, digest: &Path) -> Option<Component> {
    let bytes = std::fs::read(path).ok()?;
    let expected = std::fs::read_to_string(digest).ok()?;
    if hex::encode(Sha256::digest(&bytes)) != expected.trim() {
        tracing::warn!(
            path = %path.display(),
            "cached plugin does not match its recorded digest; compiling it again"
        );
        return None;
    }
    // SAFETY: the bytes are what this server wrote into its private (0700)
    // cache, checked against the digest recorded with them; the file name
    // binds them to the wasm's hash and to this engine's compatibility
    // hash, and deserialization checks the engine configuration too.
    unsafe { Component::deserialize(engine, &bytes) }.ok()
}

/// Writes `bytes` to `path` atomically through a private temp file.
fn replace(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("tmp-{}", uuid::Uuid::new_v4()));
    dg_core::private::write_new(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tampered_artifact_is_compiled_again() {
        let engine = Engine::default();
        let wasm = crate::builtin::BUILTIN[0].wasm.to_vec();
        let sha = hex::encode(Sha256::digest(&wasm));
        let dir = tempfile::tempdir().unwrap();
        assert!(compile(&engine, Some(dir.path()), &wasm, &sha).is_ok());
        let artifact = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|x| x == "cwasm"))
            .expect("cached artifact");
        let digest = artifact.with_extension("cwasm.sha256");
        let good = std::fs::read(&artifact).unwrap();
        assert!(load_verified(&engine, &artifact, &digest).is_some());
        let mut bad = good.clone();
        let mid = bad.len() / 2;
        bad[mid] ^= 0xff;
        std::fs::write(&artifact, &bad).unwrap();
        assert!(load_verified(&engine, &artifact, &digest).is_none());
        assert!(compile(&engine, Some(dir.path()), &wasm, &sha).is_ok());
        assert_eq!(
            std::fs::read(&artifact).unwrap(),
            good,
            "rewritten from source"
        );
    }
}
