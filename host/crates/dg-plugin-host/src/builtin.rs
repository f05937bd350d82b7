//! The plugins compiled from this repository and shipped in the binary.

/// A built-in plugin: its component and its manifest.
pub struct Builtin {
    pub wasm: &'static [u8],
    pub manifest: &'static str,
}

include!(concat!(env!("OUT_DIR"), "/builtin_plugins.rs"));
