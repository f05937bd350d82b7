//! `manifest.json`: everything needed to verify and restore an execution
//! from storage alone, without the metadata database.

use crate::Compression;
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
    /// Backups of several databases: one artifact per database. The
    /// top-level `chunks` then list every database's files in this order
    /// (and `checksum` covers them all), so whole-folder checks, copies
    /// and retention need not know; a restore picks one database.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub databases: Option<Vec<DatabaseEntry>>,
}

/// One database of a several-databases backup.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DatabaseEntry {
    pub name: String,
    /// Present when this database was stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact: Option<DatabaseArtifact>,
    /// Why this database was not stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A database's own artifact inside a several-databases backup.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DatabaseArtifact {
    pub file: String,
    pub total_size_bytes: u64,
    pub compressed_size_bytes: u64,
    pub checksum: String,
    pub chunks: Vec<ChunkEntry>,
    pub metadata: Metadata,
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

/// Checks a list of chunks and what it must add up to; `at` prefixes
/// the field names (`databases[1].`).
fn check_chunks(at: &str, chunks: &[ChunkEntry], checksum: &str, size: u64) -> Result<(), String> {
    if chunks.is_empty() {
        return Err(format!("{at}chunks: empty"));
    }
    for (i, c) in chunks.iter().enumerate() {
        if c.number as usize != i + 1 {
            return Err(format!("{at}chunks[{i}].number: expected {}", i + 1));
        }
        if c.file.contains('/') || c.file.starts_with('.') {
            return Err(format!(
                "{at}chunks[{i}].file: `{}` is not a plain file name",
                c.file
            ));
        }
        if !c.checksum.starts_with("sha256:") {
            return Err(format!("{at}chunks[{i}].checksum: expected sha256:<hex>"));
        }
    }
    if !checksum.starts_with("sha256:") {
        return Err(format!("{at}checksum: expected sha256:<hex>"));
    }
    let sum: u64 = chunks.iter().map(|c| c.size_bytes).sum();
    if sum != size {
        return Err(format!(
            "{at}compressed_size_bytes: {size} but chunks add up to {sum}"
        ));
    }
    Ok(())
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
        check_chunks("", &m.chunks, &m.checksum, m.compressed_size_bytes)?;
        if let Some(databases) = &m.databases {
            let mut files = Vec::new();
            for (i, db) in databases.iter().enumerate() {
                if let Some(a) = &db.artifact {
                    let at = format!("databases[{i}].");
                    check_chunks(&at, &a.chunks, &a.checksum, a.compressed_size_bytes)?;
                    files.extend(
                        a.chunks
                            .iter()
                            .map(|c| (&c.file, c.size_bytes, &c.checksum)),
                    );
                }
            }
            let top: Vec<_> = m
                .chunks
                .iter()
                .map(|c| (&c.file, c.size_bytes, &c.checksum))
                .collect();
            if files != top {
                return Err("databases: their chunks are not the top-level chunks in order".into());
            }
        }
        Ok(m)
    }

    /// Names of the databases stored in a several-databases backup.
    pub fn stored_databases(&self) -> Vec<&str> {
        self.databases
            .iter()
            .flatten()
            .filter(|d| d.artifact.is_some())
            .map(|d| d.name.as_str())
            .collect()
    }

    /// The manifest of one restorable artifact: this one, or for a
    /// several-databases backup the named database's, shaped like a
    /// one-database manifest so restore and download need not know.
    pub fn artifact(
        &self,
        database: Option<&str>,
    ) -> Result<BackupManifest, dg_core::domain::FieldError> {
        let refused = |message: String| dg_core::domain::FieldError::new("database", message);
        match (&self.databases, database) {
            (None, None) => Ok(self.clone()),
            (None, Some(name)) => Err(refused(format!(
                "this backup holds one database, not several; omit `database` \
                 (asked for `{name}`)"
            ))),
            (Some(_), None) => Err(refused(format!(
                "this backup holds several databases; name one of: {}",
                self.stored_databases().join(", ")
            ))),
            (Some(databases), Some(name)) => {
                let entry = databases.iter().find(|d| d.name == name).ok_or_else(|| {
                    refused(format!(
                        "`{name}` is not in this backup; it holds: {}",
                        self.stored_databases().join(", ")
                    ))
                })?;
                let a = entry.artifact.as_ref().ok_or_else(|| {
                    refused(format!(
                        "`{name}` failed in this backup and was not stored: {}",
                        entry.error.as_deref().unwrap_or("no reason recorded")
                    ))
                })?;
                let mut one = self.clone();
                one.databases = None;
                one.file = a.file.clone();
                one.total_size_bytes = a.total_size_bytes;
                one.compressed_size_bytes = a.compressed_size_bytes;
                one.checksum = a.checksum.clone();
                one.chunks = a.chunks.clone();
                one.metadata = a.metadata.clone();
                Ok(one)
            }
        }
    }
}
