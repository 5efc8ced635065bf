//! What the integration tests share: the checkout, the `infra` binary run as
//! a user runs it, and a scratch copy of the inputs a test may change.
// Each test binary uses a different part of this module.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn infra(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_infra"))
        .args(args)
        .current_dir(repo())
        .output()
        .unwrap()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A copy of the inputs (config, floors, prices and chart) that a test may break.
pub fn scratch_root() -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    for dir in [
        "stacks/config",
        "stacks/policy",
        "stacks/prices",
        "helm-chart",
    ] {
        copy_dir(&repo().join(dir), &root.path().join(dir));
    }
    root
}

pub fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), target).unwrap();
        }
    }
}
