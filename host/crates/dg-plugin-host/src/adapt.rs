//! The bridge between plugin API versions. The host works in 0.1's types
//! (the frozen contract); a 0.2 component gets a typed call context built
//! from the same call, and what it returns is turned back into 0.1 types.
//! The imports need no bridge: 0.2 reuses 0.1's interfaces as they are.

use crate::bindings::next::types as v2;
use crate::bindings::{BackupStats, CallContext, Event, ObjectInfo, Severity, TableCount};

/// Call options the 0.2 context carries typed instead of as strings.
const TYPED: &[&str] = &["type", "clean", "jobs", "archive_file"];

/// The 0.2 call context of a call the host describes in 0.1 terms: the
/// served type and the restore options lifted out of the free-form ones.
pub fn context(ctx: CallContext) -> v2::CallContext {
    let option = |key: &str| {
        ctx.options
            .iter()
            .find(|kv| kv.key == key)
            .map(|kv| kv.value.clone())
    };
    let type_name = option("type").unwrap_or_default();
    let restore = ["clean", "jobs", "archive_file"]
        .iter()
        .any(|k| option(k).is_some())
        .then(|| v2::RestoreOptions {
            clean: option("clean").is_some_and(|v| v == "true"),
            jobs: option("jobs").and_then(|v| v.parse().ok()).unwrap_or(1),
            archive_file: option("archive_file"),
        });
    v2::CallContext {
        config: ctx.config,
        type_name,
        restore,
        options: ctx
            .options
            .into_iter()
            .filter(|kv| !TYPED.contains(&kv.key.as_str()))
            .collect(),
        scratch_dir: ctx.scratch_dir,
        secret_names: ctx.secret_names,
    }
}

/// A 0.1 event as 0.2 has it (the notifier's `send` converts with
/// `.into()`, an identity for 0.1 plugins).
impl From<Event> for v2::Event {
    fn from(e: Event) -> Self {
        v2::Event {
            kind: e.kind,
            severity: match e.severity {
                Severity::Info => v2::Severity::Info,
                Severity::Warning => v2::Severity::Warning,
                Severity::Critical => v2::Severity::Critical,
            },
            title: e.title,
            body: e.body,
            fields: e.fields,
        }
    }
}

/// What an export of either version returns, as the host's (0.1) type.
pub trait Adapt<T> {
    fn adapt(self) -> T;
}

impl<T> Adapt<T> for T {
    fn adapt(self) -> T {
        self
    }
}

impl Adapt<TableCount> for v2::TableCount {
    fn adapt(self) -> TableCount {
        TableCount {
            name: self.name,
            rows: self.rows,
        }
    }
}

impl Adapt<BackupStats> for v2::BackupStats {
    fn adapt(self) -> BackupStats {
        BackupStats {
            database_version: self.database_version,
            tables: self.tables,
            rows_approximate: self.rows_approximate,
            metadata: self.metadata,
            table_counts: self.table_counts.into_iter().map(Adapt::adapt).collect(),
            counts_consistent: self.counts_consistent,
        }
    }
}

impl Adapt<ObjectInfo> for v2::ObjectInfo {
    fn adapt(self) -> ObjectInfo {
        ObjectInfo {
            key: self.key,
            size: self.size,
            modified: self.modified,
            is_dir: self.is_dir,
        }
    }
}

impl Adapt<Vec<TableCount>> for Vec<v2::TableCount> {
    fn adapt(self) -> Vec<TableCount> {
        self.into_iter().map(Adapt::adapt).collect()
    }
}

impl Adapt<Vec<ObjectInfo>> for Vec<v2::ObjectInfo> {
    fn adapt(self) -> Vec<ObjectInfo> {
        self.into_iter().map(Adapt::adapt).collect()
    }
}

impl Adapt<Option<ObjectInfo>> for Option<v2::ObjectInfo> {
    fn adapt(self) -> Option<ObjectInfo> {
        self.map(Adapt::adapt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::Kv;

    fn kv(k: &str, v: &str) -> Kv {
        Kv {
            key: k.into(),
            value: v.into(),
        }
    }

    #[test]
    fn typed_options_are_lifted_out_of_the_free_form_ones() {
        let ctx = CallContext {
            config: "{}".into(),
            options: vec![
                kv("type", "postgres"),
                kv("jobs", "4"),
                kv("archive_file", "/spool/x"),
                kv("mode", "fast"),
            ],
            scratch_dir: None,
            secret_names: vec!["password".into()],
        };
        let typed = context(ctx);
        assert_eq!(typed.type_name, "postgres");
        let restore = typed.restore.expect("restore options");
        assert_eq!((restore.jobs, restore.clean), (4, false));
        assert_eq!(restore.archive_file.as_deref(), Some("/spool/x"));
        assert_eq!(typed.options.len(), 1);
        assert_eq!(typed.options[0].key, "mode");
        let plain = context(CallContext {
            config: "{}".into(),
            options: vec![kv("type", "s3")],
            scratch_dir: None,
            secret_names: vec![],
        });
        assert!(plain.restore.is_none());
    }
}
