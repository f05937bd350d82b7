//! A job's `backup_options`, checked once at the API and read by the
//! backup worker.

use crate::pipeline::Compression;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BackupOptions {
    /// `none`, `gzip`, `zstd` (default) or `lz4`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compression: Option<String>,
    /// gzip 1-9 (default 6), zstd 1-19 (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compression_level: Option<i32>,
    /// Split the artifact into parts of at most this many MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_file_size_mb: Option<u64>,
    /// Files engine: globs to include / exclude.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
}

/// What the pipeline needs, validated.
#[derive(Debug, Clone, Copy)]
pub struct Effective {
    pub compression: Compression,
    pub level: Option<i32>,
    pub max_part_bytes: Option<u64>,
}

impl BackupOptions {
    /// Parses and validates; errors name the field.
    pub fn from_value(v: &Value) -> Result<Self, (String, String)> {
        let options: BackupOptions = serde_json::from_value(v.clone())
            .map_err(|e| ("backup_options".to_string(), e.to_string()))?;
        options.effective()?;
        Ok(options)
    }

    pub fn effective(&self) -> Result<Effective, (String, String)> {
        let compression: Compression = match &self.compression {
            Some(c) => c
                .parse()
                .map_err(|e: String| ("backup_options.compression".to_string(), e))?,
            None => Compression::default(),
        };
        let level = self
            .compression_level
            .map(|l| compression.check_level(l))
            .transpose()
            .map_err(|e| ("backup_options.compression_level".to_string(), e))?;
        let max_part_bytes = match self.max_file_size_mb {
            Some(0) => {
                return Err((
                    "backup_options.max_file_size_mb".into(),
                    "must be greater than 0".into(),
                ))
            }
            Some(mb) if mb > 1 << 30 => {
                return Err((
                    "backup_options.max_file_size_mb".into(),
                    "is unreasonably large".into(),
                ))
            }
            Some(mb) => Some(mb << 20),
            None => None,
        };
        Ok(Effective {
            compression,
            level,
            max_part_bytes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn options_are_validated_field_by_field() {
        let ok = BackupOptions::from_value(&json!({"compression": "gzip", "max_file_size_mb": 2}))
            .unwrap();
        let e = ok.effective().unwrap();
        assert_eq!(e.compression, Compression::Gzip);
        assert_eq!(e.max_part_bytes, Some(2 << 20));
        let err = BackupOptions::from_value(&json!({"compression": "rar"})).unwrap_err();
        assert_eq!(err.0, "backup_options.compression");
        let err = BackupOptions::from_value(&json!({"max_file_size_mb": 0})).unwrap_err();
        assert_eq!(err.0, "backup_options.max_file_size_mb");
        let err = BackupOptions::from_value(&json!({"max_file_size_mb": "big"})).unwrap_err();
        assert_eq!(err.0, "backup_options");
    }
}
