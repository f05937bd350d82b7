//! Precompiled components on disk, keyed by the wasm's sha256 and the
//! engine's compatibility hash, so a restart deserializes (≈0.2 ms) instead
//! of compiling (≈0.1–1 s per plugin).

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
    if path.exists() {
        // SAFETY: files in the cache directory are written only below,
        // atomically (temp file + rename), from code this engine compiled;
        // the name binds them to the wasm's hash and to this engine's
        // compatibility hash.
        if let Ok(c) = unsafe { Component::deserialize_file(engine, &path) } {
            return Ok(c);
        }
    }
    let compiled = engine
        .precompile_component(wasm)
        .map_err(|e| CompileError::Wasm(e.to_string()))?;
    let cache_err = |e| CompileError::Cache(path.display().to_string(), e);
    std::fs::create_dir_all(dir).map_err(cache_err)?;
    let tmp = path.with_extension(format!("tmp-{}", uuid::Uuid::new_v4()));
    std::fs::write(&tmp, &compiled).map_err(cache_err)?;
    std::fs::rename(&tmp, &path).map_err(cache_err)?;
    // SAFETY: as above; the file was just written from `compiled`.
    unsafe { Component::deserialize_file(engine, &path) }
        .map_err(|e| CompileError::Wasm(e.to_string()))
}
