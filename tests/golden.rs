//! Golden files: the synthesized module of each environment, committed under
//! tests/golden/<env>/, so every infrastructure change shows up in review.
//! After an intended change: `UPDATE_GOLDEN=1 cargo test --test golden`.
#![allow(clippy::unwrap_used)] // a panic in a test helper is a failed test with its location

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The synthesized files of an environment, without the chart copy (the
/// chart is reviewed where it lives; its hash in app.tf.json tracks it).
fn synthesized(env: &str) -> BTreeMap<String, Vec<u8>> {
    let out = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_infra"))
        .args(["synth", env, "--out", out.path().to_str().unwrap()])
        .current_dir(repo())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    read_dir(out.path())
}

fn read_dir(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for entry in fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        // Synthesized files are links into .synth/current: follow them.
        if fs::metadata(entry.path()).unwrap().is_file() {
            files.insert(
                entry.file_name().to_string_lossy().into_owned(),
                fs::read(entry.path()).unwrap(),
            );
        }
    }
    files
}

fn check(env: &str) {
    let golden_dir = repo().join("tests/golden").join(env);
    let actual = synthesized(env);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        let _ = fs::remove_dir_all(&golden_dir);
        fs::create_dir_all(&golden_dir).unwrap();
        for (name, bytes) in &actual {
            fs::write(golden_dir.join(name), bytes).unwrap();
        }
        return;
    }
    let expected = read_dir(&golden_dir);
    let names = |m: &BTreeMap<String, Vec<u8>>| m.keys().cloned().collect::<Vec<_>>();
    assert_eq!(
        names(&expected),
        names(&actual),
        "{env}: the set of synthesized files changed; review and run UPDATE_GOLDEN=1 cargo test --test golden"
    );
    for (name, bytes) in &actual {
        assert!(
            &expected[name] == bytes,
            "{env}/{name} differs from tests/golden/{env}/{name}; review with \
             `cargo run -- diff {env} --out tests/golden/{env}` and, if intended, \
             run UPDATE_GOLDEN=1 cargo test --test golden"
        );
    }
}

#[test]
fn staging_matches_its_golden_files() {
    check("staging");
}

#[test]
fn production_matches_its_golden_files() {
    check("production");
}
