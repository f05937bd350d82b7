//! Names and places of artifacts, exactly as operators find them on disk:
//! `{job_id}/{YYYY-MM-DD_HHmmss}/backup.{format}[.{gz|zst|lz4}][.part-NNN]`
//! plus `manifest.json`, which is written last.

use crate::Compression;
use chrono::{DateTime, Utc};

pub const MANIFEST_FILE: &str = "manifest.json";

/// Folder name of an execution.
pub fn execution_folder(started: DateTime<Utc>) -> String {
    started.format("%Y-%m-%d_%H%M%S").to_string()
}

/// The `n`-th candidate folder for runs of one job started in the same
/// second: `2025-02-13_060001`, then `2025-02-13_060001-002`, `-003`...
/// up to `-999` (three digits, so names still sort by time).
pub fn execution_folder_candidate(started: DateTime<Utc>, n: u32) -> String {
    match n {
        0 | 1 => execution_folder(started),
        n => format!("{}-{n:03}", execution_folder(started)),
    }
}

/// `backup.dump.zst`.
pub fn artifact_name(format: &str, compression: Compression) -> String {
    match compression.extension() {
        Some(ext) => format!("backup.{format}.{ext}"),
        None => format!("backup.{format}"),
    }
}

/// `002-shop.sql.zst`: the artifact of the `n`-th database of a
/// several-databases backup. The number keeps names unique whatever the
/// database names hold; characters unsafe in object keys become `_`.
pub fn database_artifact_name(
    n: usize,
    database: &str,
    format: &str,
    compression: Compression,
) -> String {
    let safe: String = database
        .chars()
        .take(64)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let stem = format!("{n:03}-{safe}");
    match compression.extension() {
        Some(ext) => format!("{stem}.{format}.{ext}"),
        None => format!("{stem}.{format}"),
    }
}

/// `backup.dump.zst.part-001`: three digits, starting at 1.
pub fn part_name(artifact: &str, number: u32) -> String {
    format!("{artifact}.part-{number:03}")
}

/// Joins key segments with `/`.
pub fn key(prefix: &str, file: &str) -> String {
    if prefix.is_empty() {
        file.to_string()
    } else {
        format!("{}/{file}", prefix.trim_end_matches('/'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn names_follow_the_documented_layout() {
        let t = Utc
            .with_ymd_and_hms(2025, 2, 13, 6, 0, 1)
            .single()
            .expect("valid time");
        assert_eq!(execution_folder(t), "2025-02-13_060001");
        assert_eq!(execution_folder_candidate(t, 1), "2025-02-13_060001");
        assert_eq!(execution_folder_candidate(t, 3), "2025-02-13_060001-003");
        assert!(execution_folder_candidate(t, 9) < execution_folder_candidate(t, 10));
        assert_eq!(artifact_name("dump", Compression::Gzip), "backup.dump.gz");
        assert_eq!(artifact_name("sql", Compression::Zstd), "backup.sql.zst");
        assert_eq!(artifact_name("tar", Compression::Lz4), "backup.tar.lz4");
        assert_eq!(artifact_name("db", Compression::None), "backup.db");
        assert_eq!(
            database_artifact_name(2, "shop", "sql", Compression::Zstd),
            "002-shop.sql.zst"
        );
        assert_eq!(
            database_artifact_name(12, "../a b/ç", "dump", Compression::None),
            "012-.._a_b__.dump"
        );
        assert_eq!(part_name("backup.dump.gz", 1), "backup.dump.gz.part-001");
        assert_eq!(part_name("backup.dump.gz", 12), "backup.dump.gz.part-012");
        assert_eq!(
            key("job/2025-02-13_060001", "manifest.json"),
            "job/2025-02-13_060001/manifest.json"
        );
    }
}
