//! Helpers the CLI test binaries share.

use std::fs;
use std::path::{Path, PathBuf};

/// The checkout the tests run in.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A copy of the inputs (config, floors and chart) that a test may break.
pub fn scratch_root() -> tempfile::TempDir {
    let root = tempfile::tempdir().expect("a temporary directory");
    for dir in ["stacks/config", "stacks/policy", "helm-chart"] {
        copy_dir(&repo().join(dir), &root.path().join(dir));
    }
    root
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("a directory");
    for entry in fs::read_dir(from).expect("a readable directory") {
        let entry = entry.expect("an entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("a file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), target).expect("a copied file");
        }
    }
}
