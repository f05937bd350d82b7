//! Rebuilds the binary when the web UI's build output changes: the UI is
//! embedded (`src/api/ui.rs`), and a new build has new file names that no
//! `include_bytes!` of the previous build would notice.
fn main() {
    println!("cargo:rerun-if-changed=../web/dist");
    println!("cargo:rerun-if-changed=build.rs");
}
