//! `manifest.json`: everything needed to verify and restore an execution
//! from storage alone, without the metadata database.

use super::Compression;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const MANIFEST_VERSION: &str = "1.0";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BackupManifest {
    pub version: String,
    pub created_at: DateTime<Utc>,
    pub execution_id: String,
    pub job_id: String,
    pub datasource_type: String,
    pub backup_type: String,
    pub compression: Compression,
    /// Artifact format extension (`dump`, `db`, `tar`...).
    pub format: String,
    /// The artifact as stored when it is one file; parts are in `chunks`.
    pub file: String,
    /// Bytes produced by the engine, before compression.
    pub total_size_bytes: u64,
    /// Bytes stored (all chunks).
    pub compressed_size_bytes: u64,
    pub compression_ratio: f64,
    /// `sha256:<hex>` of the stored bytes, all chunks in order.
    pub checksum: String,
    /// Stored files in order; one entry when the artifact is not split.
    pub chunks: Vec<ChunkEntry>,
    pub metadata: Metadata,
    pub engine: EngineRef,
    pub duration_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ChunkEntry {
    pub number: u32,
    pub file: String,
    pub size_bytes: u64,
    pub checksum: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Metadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tables_backed_up: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows_approximate: Option<u64>,
    /// Exact rows per table, counted at backup time: what a verification
    /// restore is compared with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table_counts: Option<BTreeMap<String, u64>>,
    /// The counts were taken in the dump's own snapshot (exact), not
    /// beside it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counts_consistent: Option<bool>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EngineRef {
    pub plugin: String,
    pub version: String,
}

/// `sha256:<hex>`.
pub fn checksum_string(digest: &[u8]) -> String {
    format!("sha256:{}", hex::encode(digest))
}

impl BackupManifest {
    /// Parses and sanity-checks a manifest; errors name the field.
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        let m: BackupManifest = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        if m.version.split('.').next() != Some("1") {
            return Err(format!(
                "version: unsupported manifest version {}",
                m.version
            ));
        }
        if m.chunks.is_empty() {
            return Err("chunks: empty".into());
        }
        for (i, c) in m.chunks.iter().enumerate() {
            if c.number as usize != i + 1 {
                return Err(format!("chunks[{i}].number: expected {}", i + 1));
            }
            if c.file.contains('/') || c.file.starts_with('.') {
                return Err(format!(
                    "chunks[{i}].file: `{}` is not a plain file name",
                    c.file
                ));
            }
            if !c.checksum.starts_with("sha256:") {
                return Err(format!("chunks[{i}].checksum: expected sha256:<hex>"));
            }
        }
        if !m.checksum.starts_with("sha256:") {
            return Err("checksum: expected sha256:<hex>".into());
        }
        let sum: u64 = m.chunks.iter().map(|c| c.size_bytes).sum();
        if sum != m.compressed_size_bytes {
            return Err(format!(
                "compressed_size_bytes: {} but chunks add up to {sum}",
                m.compressed_size_bytes
            ));
        }
        Ok(m)
    }
}
