//! Backup → restore round trips on the real PostgreSQL, compared table by
//! table (row counts and content checksums) and object by object.

use crate::common;

use common::*;
use std::path::Path;

fn load_chinook_into(db: &TempDb) {
    load_chinook(&db.name);
}

fn load_edge_cases(db: &TempDb) {
    psql_file(
        &db.name,
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sql/edge_cases.sql"),
    );
}

/// Backs `source` up, restores into a fresh database, and asserts equality.
/// The summary is returned with the directory holding the store.
fn round_trip(
    source: &TempDb,
    compression: &str,
    extra: &[&str],
) -> (serde_json::Value, tempfile::TempDir) {
    let work = tempfile::tempdir().expect("tempdir");
    let data = work.path().join("data");
    let store = work.path().join("store");
    let url = source.url();
    let mut args = vec![
        "backup",
        "--engine",
        "postgres",
        "--source",
        &url,
        "--to",
        store.to_str().expect("utf8"),
        "--compression",
        compression,
        "--job-id",
        "job-pg",
    ];
    args.extend_from_slice(extra);
    let summary = dg_ok(&data, &args);
    assert_eq!(summary["status"], "completed");
    let exec = summary["execution_path"]
        .as_str()
        .expect("path")
        .to_string();
    assert!(Path::new(&exec).join("manifest.json").is_file());

    let target = TempDb::new("restore");
    let restored = restore(&data, &exec, "postgres", &target.url());
    assert_eq!(restored["status"], "restored");
    let before = pg_fingerprint(&source.name);
    assert!(!before.is_empty());
    assert_eq!(
        before,
        pg_fingerprint(&target.name),
        "{compression}: table data differs"
    );
    assert_eq!(
        pg_objects(&source.name),
        pg_objects(&target.name),
        "{compression}: objects differ"
    );
    (summary, work)
}

#[test]
fn chinook_round_trips_with_every_compression() {
    let source = TempDb::new("chinook");
    load_chinook_into(&source);
    for compression in ["gzip", "zstd", "lz4", "none"] {
        let (summary, _work) = round_trip(&source, compression, &[]);
        let files = summary["files"].as_array().expect("files");
        let ext = match compression {
            "gzip" => "backup.dump.gz",
            "zstd" => "backup.dump.zst",
            "lz4" => "backup.dump.lz4",
            _ => "backup.dump",
        };
        assert_eq!(files, &vec![serde_json::Value::from(ext)], "{compression}");
        let ratio = summary["compression_ratio"].as_f64().expect("ratio");
        if compression == "none" {
            assert_eq!(ratio, 1.0);
        } else {
            assert!(ratio < 0.9, "{compression} ratio {ratio}");
        }
    }
}

#[test]
fn edge_case_database_round_trips() {
    let source = TempDb::new("edge");
    load_edge_cases(&source);
    let objects = pg_objects(&source.name);
    for expected in [
        "view:labelled",
        "fn:note_insert",
        "trg:samples_audit",
        "seq:invoice_seq=1002",
    ] {
        assert!(
            objects.contains(expected),
            "fixture lacks {expected}: {objects}"
        );
    }
    round_trip(&source, "zstd", &[]);
    round_trip(&source, "gzip", &[]);
}

#[test]
fn chunked_artifacts_round_trip() {
    let source = TempDb::new("chunks");
    load_chinook_into(&source);
    // Chinook compresses to ~250 KB: 64 KiB parts give several.
    let (summary, _work) = round_trip(&source, "lz4", &["--max-file-size-bytes", "65536"]);
    let files: Vec<String> = summary["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| f.as_str().expect("name").to_string())
        .collect();
    assert!(files.len() >= 3, "expected several parts, got {files:?}");
    for (i, f) in files.iter().enumerate() {
        assert_eq!(f, &format!("backup.dump.lz4.part-{:03}", i + 1));
    }
    let exec = &execution_path(&summary);
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(Path::new(exec).join("manifest.json")).expect("manifest"),
    )
    .expect("json");
    for (i, chunk) in manifest["chunks"]
        .as_array()
        .expect("chunks")
        .iter()
        .enumerate()
    {
        let file = Path::new(exec).join(chunk["file"].as_str().expect("file"));
        assert_eq!(chunk["number"], i as u64 + 1);
        assert_eq!(chunk["checksum"], format!("sha256:{}", sha256_file(&file)));
        let size = std::fs::metadata(&file).expect("part").len();
        assert_eq!(chunk["size_bytes"], size);
        if i + 1 < files.len() {
            assert_eq!(size, 65536, "every part but the last is full");
        }
    }
}

#[test]
fn bad_source_fails_with_a_clear_error_and_leaves_nothing() {
    let work = tempfile::tempdir().expect("tempdir");
    let data = work.path().join("data");
    let store = work.path().join("store");
    let err = dg_err(
        &data,
        &[
            "backup",
            "--engine",
            "postgres",
            "--source",
            &format!("{PG}/no_such_db_dg"),
            "--to",
            store.to_str().expect("utf8"),
            "--job-id",
            "job-missing",
        ],
    );
    assert!(err.contains("no_such_db_dg"), "{err}");
    assert!(
        err.contains("not found") || err.contains("does not exist"),
        "{err}"
    );
    let leftovers: Vec<_> = std::fs::read_dir(store.join("job-missing"))
        .map(|d| d.filter_map(Result::ok).collect())
        .unwrap_or_default();
    assert!(
        leftovers.is_empty(),
        "a failed backup left files: {leftovers:?}"
    );
}
