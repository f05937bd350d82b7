//! A job's `backup_options` as stored and sent: plain data (the column
//! is typed with it). What the options mean for a run (the pipeline's
//! compression, the several-databases plan) is worked out in the
//! application layer (`dg_app::workers::options`).

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
    /// Back up several databases of the server in one execution: `"*"`
    /// for every database the engine lists, or names and glob patterns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>, example = json!("*"))]
    pub databases: Option<DatabaseSelection>,
    /// Names or glob patterns (`template*`) left out of `databases`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude_databases: Vec<String>,
}

/// Which databases of a server a job backs up.
#[derive(Debug, Clone, PartialEq)]
pub enum DatabaseSelection {
    /// `"*"`: every database the engine lists (system databases are never
    /// listed).
    All,
    /// Names, or glob patterns matched against the engine's list.
    Named(Vec<String>),
}

impl Serialize for DatabaseSelection {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            DatabaseSelection::All => s.serialize_str("*"),
            DatabaseSelection::Named(names) => names.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for DatabaseSelection {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::String(s) if s == "*" => Ok(DatabaseSelection::All),
            Value::Array(items) => items
                .into_iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s),
                    _ => Err(serde::de::Error::custom(
                        "expected \"*\" or a list of database names",
                    )),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(DatabaseSelection::Named),
            _ => Err(serde::de::Error::custom(
                "expected \"*\" or a list of database names",
            )),
        }
    }
}
