//! `verify` and `restore` refuse damaged artifacts: one flipped byte in any
//! chunk, or a missing part, and not a byte reaches the target.

use crate::common;

use common::*;
use std::path::{Path, PathBuf};

struct Backup {
    _work: tempfile::TempDir,
    data: PathBuf,
    exec: PathBuf,
    files: Vec<String>,
}

/// A backup of `source` with `extra` flags, kept until the test ends.
fn make_backup(source: &TempDb, extra: &[&str]) -> Backup {
    let work = tempfile::tempdir().expect("tempdir");
    let data = work.path().join("data");
    let summary = backup(
        &data,
        "postgres",
        &source.url(),
        &work.path().join("store"),
        extra,
    );
    Backup {
        exec: PathBuf::from(execution_path(&summary)),
        files: files(&summary),
        data,
        _work: work,
    }
}

/// A restore that must fail; returns its error output.
fn refused_restore(backup: &Backup, target: &TempDb) -> String {
    let exec = backup.exec.to_str().expect("utf8");
    dg_err(
        &backup.data,
        &[
            "restore",
            "--from",
            exec,
            "--engine",
            "postgres",
            "--target",
            &target.url(),
        ],
    )
}

fn flip_byte(path: &Path, at: usize) {
    let mut bytes = std::fs::read(path).expect("read part");
    let at = at.min(bytes.len() - 1);
    bytes[at] ^= 0x01;
    std::fs::write(path, bytes).expect("write part");
}

fn table_count(db: &str) -> String {
    psql(
        db,
        "select count(*) from information_schema.tables where table_schema = 'public'",
    )
}

#[test]
fn damaged_or_missing_parts_are_refused() {
    let source = TempDb::new("integrity");
    load_chinook(&source.name);
    let backup = make_backup(
        &source,
        &["--compression", "gzip", "--max-file-size-bytes", "50000"],
    );
    assert!(backup.files.len() >= 3, "{:?}", backup.files);
    let exec = backup.exec.to_str().expect("utf8").to_string();
    let ok = dg_ok(&backup.data, &["verify", &exec]);
    assert_eq!(ok["status"], "ok");

    // A flipped byte in the first, a middle and the last part.
    let picks = [0, backup.files.len() / 2, backup.files.len() - 1];
    for (round, &i) in picks.iter().enumerate() {
        let part = backup.exec.join(&backup.files[i]);
        let original = std::fs::read(&part).expect("read");
        flip_byte(&part, 1000 * (round + 1));
        // Exit code 4: integrity (docs/CLI.md).
        let err = dg_exit(&backup.data, &["verify", &exec], 4);
        assert!(
            err.contains(&backup.files[i]),
            "verify must name the bad part: {err}"
        );
        assert!(err.contains("checksum mismatch"), "{err}");

        let target = TempDb::new("refused");
        let err = refused_restore(&backup, &target);
        assert!(
            err.contains(&backup.files[i]),
            "restore must name the bad part: {err}"
        );
        assert_eq!(
            table_count(&target.name),
            "0",
            "nothing may reach the target"
        );
        std::fs::write(&part, original).expect("repair");
    }
    dg_ok(&backup.data, &["verify", &exec]);

    // A missing part.
    let missing = backup.exec.join(&backup.files[1]);
    std::fs::rename(&missing, backup.exec.join("moved-away")).expect("hide part");
    let err = dg_exit(&backup.data, &["verify", &exec], 4);
    assert!(
        err.contains(&backup.files[1]) && err.contains("missing"),
        "{err}"
    );
    let target = TempDb::new("missing");
    let err = refused_restore(&backup, &target);
    assert!(err.contains("missing"), "{err}");
    assert_eq!(table_count(&target.name), "0");
}

#[test]
fn a_folder_without_manifest_is_not_a_backup() {
    let source = TempDb::new("nomanifest");
    psql(
        &source.name,
        "create table t as select generate_series(1, 100) as n",
    );
    let backup = make_backup(&source, &[]);
    std::fs::remove_file(backup.exec.join("manifest.json")).expect("remove manifest");
    let err = dg_err(
        &backup.data,
        &["verify", backup.exec.to_str().expect("utf8")],
    );
    assert!(
        err.contains("manifest.json") && err.contains("not a complete backup"),
        "{err}"
    );
}
