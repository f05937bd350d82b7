//! A job's `backup_options`, checked once at the API and read by the
//! backup worker.

use dg_core::domain::FieldError;
use dg_pipeline::Compression;
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

/// The databases of one run, chosen from what the engine lists.
#[derive(Debug, Clone)]
pub struct DatabasePlan {
    selection: DatabaseSelection,
    exclude: globset::GlobSet,
}

impl DatabasePlan {
    /// Whether choosing needs the engine's list of databases (a `*` or a
    /// pattern); a list of plain names does not.
    pub fn needs_listing(&self) -> bool {
        match &self.selection {
            DatabaseSelection::All => true,
            DatabaseSelection::Named(names) => names.iter().any(|n| is_pattern(n)),
        }
    }

    /// The databases to back up, in order, without duplicates. A plain
    /// name is kept even when the engine did not list it: its backup then
    /// fails and says so, instead of being skipped in silence.
    pub fn choose(&self, listed: &[String]) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut add = |name: &str| {
            if !self.exclude.is_match(name) && !out.iter().any(|n| n == name) {
                out.push(name.to_string());
            }
        };
        match &self.selection {
            DatabaseSelection::All => listed.iter().for_each(|n| add(n)),
            DatabaseSelection::Named(names) => {
                for name in names {
                    if is_pattern(name) {
                        let Ok(glob) = glob(name) else { continue };
                        listed
                            .iter()
                            .filter(|n| glob.is_match(n))
                            .for_each(|n| add(n));
                    } else {
                        add(name);
                    }
                }
            }
        }
        out
    }
}

fn is_pattern(name: &str) -> bool {
    name.contains(['*', '?', '['])
}

fn glob(pattern: &str) -> Result<globset::GlobMatcher, String> {
    globset::GlobBuilder::new(pattern)
        .literal_separator(false)
        .build()
        .map(|g| g.compile_matcher())
        .map_err(|e| format!("`{pattern}` is not a valid pattern: {e}"))
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
    pub fn from_value(v: &Value) -> Result<Self, FieldError> {
        let options: BackupOptions = serde_path_to_error::deserialize(v.clone()).map_err(|e| {
            let path = e.path().to_string();
            let field = if path.is_empty() || path == "." {
                "backup_options".to_string()
            } else {
                format!("backup_options.{path}")
            };
            FieldError::new(field, e.into_inner().to_string())
        })?;
        options.effective()?;
        options.database_plan()?;
        Ok(options)
    }

    /// The several-databases plan, if the job asks for one.
    pub fn database_plan(&self) -> Result<Option<DatabasePlan>, FieldError> {
        let Some(selection) = &self.databases else {
            if !self.exclude_databases.is_empty() {
                return Err(FieldError::new(
                    "backup_options.exclude_databases",
                    "applies only with `databases`",
                ));
            }
            return Ok(None);
        };
        if let DatabaseSelection::Named(names) = selection {
            if names.is_empty() {
                return Err(FieldError::new(
                    "backup_options.databases",
                    "must not be empty: use \"*\" for every database",
                ));
            }
            for (i, name) in names.iter().enumerate() {
                check_entry(&format!("backup_options.databases[{i}]"), name)?;
            }
        }
        let mut exclude = globset::GlobSetBuilder::new();
        for (i, pattern) in self.exclude_databases.iter().enumerate() {
            let field = format!("backup_options.exclude_databases[{i}]");
            check_entry(&field, pattern)?;
            exclude.add(
                globset::GlobBuilder::new(pattern)
                    .literal_separator(false)
                    .build()
                    .map_err(|e| {
                        FieldError::new(
                            field.clone(),
                            format!("`{pattern}` is not a valid pattern: {e}"),
                        )
                    })?,
            );
        }
        let exclude = exclude
            .build()
            .map_err(|e| FieldError::new("backup_options.exclude_databases", e.to_string()))?;
        Ok(Some(DatabasePlan {
            selection: selection.clone(),
            exclude,
        }))
    }

    pub fn effective(&self) -> Result<Effective, FieldError> {
        let compression: Compression = match &self.compression {
            Some(c) => c
                .parse()
                .map_err(|e: String| FieldError::new("backup_options.compression", e))?,
            None => Compression::default(),
        };
        let level = self
            .compression_level
            .map(|l| compression.check_level(l))
            .transpose()
            .map_err(|e| FieldError::new("backup_options.compression_level", e))?;
        let max_part_bytes = match self.max_file_size_mb {
            Some(0) => {
                return Err(FieldError::new(
                    "backup_options.max_file_size_mb",
                    "must be greater than 0",
                ))
            }
            Some(mb) if mb > 1 << 30 => {
                return Err(FieldError::new(
                    "backup_options.max_file_size_mb",
                    "is unreasonably large",
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

/// A database name or pattern: non-empty, short, and a valid glob.
fn check_entry(field: &str, entry: &str) -> Result<(), FieldError> {
    if entry.trim().is_empty() || entry.len() > 128 {
        return Err(FieldError::new(field, "must be 1-128 characters"));
    }
    if entry.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            "must not contain control characters",
        ));
    }
    if is_pattern(entry) {
        glob(entry).map_err(|m| FieldError::new(field, m))?;
    }
    Ok(())
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
        assert_eq!(err.field, "backup_options.compression");
        let err = BackupOptions::from_value(&json!({"max_file_size_mb": 0})).unwrap_err();
        assert_eq!(err.field, "backup_options.max_file_size_mb");
        let err = BackupOptions::from_value(&json!({"max_file_size_mb": "big"})).unwrap_err();
        assert_eq!(err.field, "backup_options.max_file_size_mb");
    }

    fn plan(v: Value) -> DatabasePlan {
        BackupOptions::from_value(&v)
            .unwrap()
            .database_plan()
            .unwrap()
            .unwrap()
    }

    #[test]
    fn every_database_minus_the_excluded() {
        let listed: Vec<String> = ["postgres", "shop", "shop_archive", "template_x", "crm"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let all = plan(json!({"databases": "*", "exclude_databases": ["template*", "postgres"]}));
        assert!(all.needs_listing());
        assert_eq!(all.choose(&listed), ["shop", "shop_archive", "crm"]);
        let named = plan(json!({"databases": ["crm", "shop*", "missing", "crm"],
            "exclude_databases": ["*_archive"]}));
        assert!(named.needs_listing());
        assert_eq!(named.choose(&listed), ["crm", "shop", "missing"]);
        let plain = plan(json!({"databases": ["a", "b"]}));
        assert!(!plain.needs_listing());
        assert_eq!(plain.choose(&[]), ["a", "b"]);
        // The roundtrip through storage keeps the shape clients sent.
        let stored =
            serde_json::to_value(BackupOptions::from_value(&json!({"databases": "*"})).unwrap())
                .unwrap();
        assert_eq!(stored, json!({"databases": "*"}));
    }

    #[test]
    fn database_options_errors_name_the_field() {
        let field = |v: Value| BackupOptions::from_value(&v).unwrap_err().field;
        assert_eq!(
            field(json!({"databases": "all"})),
            "backup_options.databases"
        );
        assert_eq!(field(json!({"databases": [1]})), "backup_options.databases");
        assert_eq!(field(json!({"databases": []})), "backup_options.databases");
        assert_eq!(
            field(json!({"databases": ["ok", ""]})),
            "backup_options.databases[1]"
        );
        assert_eq!(
            field(json!({"databases": "*", "exclude_databases": ["[x"]})),
            "backup_options.exclude_databases[0]"
        );
        assert_eq!(
            field(json!({"exclude_databases": ["x"]})),
            "backup_options.exclude_databases"
        );
    }
}
