//! Rebuilds the binary when the web UI's build output changes: the UI is
//! embedded (`src/api/ui.rs`), and a new build has new file names that no
//! `include_bytes!` of the previous build would notice.
//!
//! Also records the commit the binary is built from (`--version`):
//! `DG_GIT_COMMIT` when set (a container build without `.git`), else
//! `git rev-parse`, else nothing ("unknown").
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=../web/dist");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=DG_GIT_COMMIT");
    let commit = std::env::var("DG_GIT_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .or_else(|| {
            let out = Command::new("git")
                .args(["rev-parse", "--short=12", "HEAD"])
                .output()
                .ok()?;
            out.status
                .success()
                .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        });
    if let Some(commit) = commit {
        println!("cargo:rustc-env=DG_GIT_COMMIT={commit}");
    }
    // A new commit changes HEAD (detached) or the branch's ref.
    let git = std::path::Path::new("../.git");
    if git.join("HEAD").exists() {
        println!("cargo:rerun-if-changed=../.git/HEAD");
        if let Ok(head) = std::fs::read_to_string(git.join("HEAD")) {
            if let Some(branch) = head.trim().strip_prefix("ref: ") {
                println!("cargo:rerun-if-changed=../.git/{branch}");
            }
        }
    }
}
