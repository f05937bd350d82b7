//! A job's `backup_options`, checked once at the API and read by the
//! backup worker.

use dg_core::domain::FieldError;
pub use dg_core::options::{BackupOptions, DatabaseSelection};
use dg_pipeline::Compression;
use serde_json::Value;

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

/// Parses and validates `backup_options` as sent; errors name the field.
pub fn parse(v: &Value) -> Result<BackupOptions, FieldError> {
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

/// What a job's options mean for a run, checked; errors name the field.
pub trait Checked {
    /// The several-databases plan, if the job asks for one.
    fn database_plan(&self) -> Result<Option<DatabasePlan>, FieldError>;
    /// The pipeline's compression and part size.
    fn effective(&self) -> Result<Effective, FieldError>;
}

impl Checked for BackupOptions {
    fn database_plan(&self) -> Result<Option<DatabasePlan>, FieldError> {
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

    fn effective(&self) -> Result<Effective, FieldError> {
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
        let ok = parse(&json!({"compression": "gzip", "max_file_size_mb": 2})).unwrap();
        let e = ok.effective().unwrap();
        assert_eq!(e.compression, Compression::Gzip);
        assert_eq!(e.max_part_bytes, Some(2 << 20));
        let err = parse(&json!({"compression": "rar"})).unwrap_err();
        assert_eq!(err.field, "backup_options.compression");
        let err = parse(&json!({"max_file_size_mb": 0})).unwrap_err();
        assert_eq!(err.field, "backup_options.max_file_size_mb");
        let err = parse(&json!({"max_file_size_mb": "big"})).unwrap_err();
        assert_eq!(err.field, "backup_options.max_file_size_mb");
    }

    fn plan(v: Value) -> DatabasePlan {
        parse(&v).unwrap().database_plan().unwrap().unwrap()
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
        let stored = serde_json::to_value(parse(&json!({"databases": "*"})).unwrap()).unwrap();
        assert_eq!(stored, json!({"databases": "*"}));
    }

    #[test]
    fn database_options_errors_name_the_field() {
        let field = |v: Value| parse(&v).unwrap_err().field;
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
