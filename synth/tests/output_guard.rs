//! What the writer refuses, and that a refusal changes nothing: manifest
//! entries outside the directory, symlinks it did not make, names taken by
//! someone else's files, and broken bookkeeping.
#![allow(clippy::unwrap_used)] // a panic in a test helper is a failed test with its location

mod common;

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;

use common::{assert_settled, chart_source, module, scratch, tree, view, write_flat, Version, A};
use synth::output::{read_output, write_module};
use synth::Module;

const BLUE: Version = A;

/// Writing `module` into `dir` fails with an error mentioning every needle,
/// and nothing in `dir` changes.
fn refused(dir: &Path, module: &Module, needles: &[&str]) {
    let before = tree(dir);
    let err = write_module(dir, module).expect_err("written").to_string();
    for needle in needles {
        assert!(
            err.contains(needle),
            "error does not mention `{needle}`:\n{err}"
        );
    }
    assert!(
        tree(dir) == before,
        "refused, but the directory changed:\n{err}"
    );
}

/// A flat directory (as synths before generations wrote it) whose manifest
/// lists `entry`.
fn flat_listing(dir: &Path, module: &Module, entry: &str) {
    write_flat(dir, module);
    let path = dir.join("manifest.json");
    let mut doc: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    doc["files"].as_array_mut().unwrap().push(entry.into());
    fs::write(&path, doc.to_string()).unwrap();
}

#[test]
fn manifest_entries_outside_the_directory_are_errors_naming_them() {
    let chart = chart_source();
    let outside = scratch();
    let victim = outside.path().join("victim");
    fs::write(&victim, "precious").unwrap();
    let blue = module(&BLUE, chart.path());
    for (entry, reason) in [
        (victim.to_str().unwrap(), "is an absolute path"),
        ("../victim", "leads out of the directory"),
        ("one.tf.json/../../victim", "leads out of the directory"),
        (".terraform/terraform.tfstate", "belongs to terraform"),
        ("terraform.blue.tfstate", "belongs to terraform"),
        (".synth/current", "is synth's own bookkeeping"),
        ("chart//a", "has an empty path component"),
    ] {
        let dir = scratch();
        flat_listing(dir.path(), &blue, entry);
        refused(
            dir.path(),
            &blue,
            &[&format!("manifest.json lists `{entry}`, which {reason}")],
        );
        let err = read_output(dir.path()).unwrap_err().to_string();
        assert!(err.contains(&format!("lists `{entry}`")), "{err}");
        assert_eq!(fs::read_to_string(&victim).unwrap(), "precious");
    }
}

#[test]
fn symlinks_synth_did_not_make_are_never_followed_or_replaced() {
    let chart = chart_source();
    let blue = module(&BLUE, chart.path());
    let outside = scratch();
    fs::write(outside.path().join("Chart.yaml"), "theirs").unwrap();

    // Flat: the listed chart folder is a link; a listed file is a link.
    let dir = scratch();
    write_flat(dir.path(), &blue);
    fs::remove_dir_all(dir.path().join("chart")).unwrap();
    symlink(outside.path(), dir.path().join("chart")).unwrap();
    refused(
        dir.path(),
        &blue,
        &["lists `chart/Chart.yaml`, which passes through the symlink"],
    );
    let dir = scratch();
    write_flat(dir.path(), &blue);
    fs::remove_file(dir.path().join("two.tf.json")).unwrap();
    symlink(
        outside.path().join("Chart.yaml"),
        dir.path().join("two.tf.json"),
    )
    .unwrap();
    refused(
        dir.path(),
        &blue,
        &["lists `two.tf.json`, which is the symlink"],
    );

    // Generations: a name that is someone else's link, or synth's own
    // directory replaced by one.
    let dir = scratch();
    write_module(dir.path(), &blue).unwrap();
    fs::remove_file(dir.path().join("chart")).unwrap();
    symlink(outside.path(), dir.path().join("chart")).unwrap();
    refused(
        dir.path(),
        &blue,
        &["chart is a symlink to", "synth did not make"],
    );
    let dir = scratch();
    fs::create_dir(dir.path().join("elsewhere")).unwrap();
    symlink("elsewhere", dir.path().join(".synth")).unwrap();
    refused(
        dir.path(),
        &blue,
        &[".synth is not a directory synth created"],
    );
    assert_eq!(fs::read_dir(outside.path()).unwrap().count(), 1);
    assert_eq!(
        fs::read_to_string(outside.path().join("Chart.yaml")).unwrap(),
        "theirs"
    );
}

#[test]
fn names_taken_by_files_synth_does_not_own_are_refused() {
    let chart = chart_source();
    let blue = module(&BLUE, chart.path());
    // Flat with no manifest: nothing says synth wrote one.tf.json.
    let dir = scratch();
    fs::write(dir.path().join("one.tf.json"), "{}").unwrap();
    refused(
        dir.path(),
        &blue,
        &["one.tf.json is there, but no manifest.json says synth wrote it"],
    );
    // A corrupt manifest is not a claim either.
    fs::write(dir.path().join("manifest.json"), "{").unwrap();
    refused(dir.path(), &blue, &["manifest.json is unreadable"]);
    // Flat: a file in the chart folder the manifest does not list.
    let dir = scratch();
    write_flat(dir.path(), &blue);
    fs::write(dir.path().join("chart/mine.txt"), "mine").unwrap();
    refused(
        dir.path(),
        &blue,
        &["chart/mine.txt is not listed in manifest.json"],
    );
    // Generations: an editor replaced a link with its own, edited copy.
    let dir = scratch();
    write_module(dir.path(), &blue).unwrap();
    let one = dir.path().join("one.tf.json");
    let copy = fs::read(&one).unwrap();
    fs::remove_file(&one).unwrap();
    fs::write(&one, [copy.as_slice(), b" "].concat()).unwrap();
    refused(
        dir.path(),
        &blue,
        &["one.tf.json is a file synth did not make"],
    );
    // An unchanged copy loses nothing when it becomes a link again.
    fs::write(&one, &copy).unwrap();
    write_module(dir.path(), &blue).unwrap();
    assert!(fs::symlink_metadata(&one).unwrap().file_type().is_symlink());
    // A user's own files beside the module are left alone.
    fs::remove_file(&one).unwrap();
    fs::write(dir.path().join("override.tf.json"), "{}").unwrap();
    write_module(dir.path(), &blue).unwrap();
    assert_eq!(
        fs::read_to_string(dir.path().join("override.tf.json")).unwrap(),
        "{}"
    );
}

#[test]
fn broken_bookkeeping_is_named_not_guessed_at() {
    let chart = chart_source();
    let blue = module(&BLUE, chart.path());
    let dir = scratch();
    write_module(dir.path(), &blue).unwrap();
    let current = dir.path().join(".synth/current");
    fs::remove_file(&current).unwrap();
    symlink("../../somewhere", &current).unwrap();
    refused(
        dir.path(),
        &blue,
        &[
            ".synth/current is synth's bookkeeping",
            "points at ../../somewhere",
        ],
    );
    fs::remove_file(&current).unwrap();
    symlink("gen-gone", &current).unwrap();
    refused(
        dir.path(),
        &blue,
        &["its generation", "gen-gone is missing"],
    );

    // A generation whose manifest is gone still is the module: nothing is
    // unlinked on a guess, and the next synth replaces it whole.
    let dir = scratch();
    write_module(dir.path(), &blue).unwrap();
    let generation = fs::read_link(dir.path().join(".synth/current")).unwrap();
    fs::remove_file(
        dir.path()
            .join(".synth")
            .join(generation)
            .join("manifest.json"),
    )
    .unwrap();
    let before = view(dir.path());
    let previous = read_output(dir.path()).unwrap().unwrap();
    assert!(previous.manifest.is_none());
    assert_eq!(previous.files.len(), before.len());
    assert!(view(dir.path()) == before);
    write_module(dir.path(), &blue).unwrap();
    assert_settled(dir.path());
    assert!(view(dir.path()) == before);
}

#[test]
fn a_module_file_outside_the_directory_is_refused() {
    let chart = chart_source();
    let mut blue = module(&BLUE, chart.path());
    blue.files
        .insert("../escape.tf.json".into(), b"{}".to_vec());
    let dir = scratch();
    refused(
        dir.path(),
        &blue,
        &["refusing to write `../escape.tf.json`: it leads out of the directory"],
    );
}
