//! What the writer refuses, and that a refusal changes nothing: terraform
//! state that is not the module's (whatever the manifest says), manifest
//! entries outside the directory, symlinks it did not make, names taken by
//! someone else's files, and broken bookkeeping.
#![allow(clippy::unwrap_used)] // a panic in a test helper is a failed test with its location

mod common;

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;

use common::{
    assert_settled, chart_source, module, module_with, scratch, tree, view, write_flat, Version, A,
};
use synth::output::{read_output, write_module};
use synth::{Backend, Module};

/// Blue and green differ only in their environment.
const BLUE: Version = A;
const GREEN: Version = Version { env: "green", ..A };

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

fn terraform_init(dir: &Path, backend: &str) {
    fs::create_dir_all(dir.join(".terraform")).unwrap();
    fs::write(
        dir.join(".terraform/terraform.tfstate"),
        format!(r#"{{"version": 3, "backend": {backend}}}"#),
    )
    .unwrap();
}

fn remote(key: &str) -> Backend {
    Backend::new("remote-store")
        .set("key", key)
        .set("encrypt", true)
}

#[test]
fn state_traces_of_another_module_are_refused_without_a_manifest() {
    let chart = chart_source();
    let blue = module(&BLUE, chart.path());
    let cases: [(&str, &str, &str); 5] = [
        (
            "terraform.green.tfstate",
            "{}",
            "terraform.green.tfstate: a local state file",
        ),
        (
            "terraform.green.tfstate.backup",
            "{}",
            "belongs to the local state terraform.green.tfstate",
        ),
        (
            ".terraform.green.tfstate.lock.info",
            "{}",
            "belongs to the local state terraform.green.tfstate",
        ),
        (
            "terraform.tfstate",
            "{}",
            "terraform.tfstate: a local state file",
        ),
        (
            "terraform.tfstate.d/ws/terraform.tfstate",
            "{}",
            "state of other terraform workspaces",
        ),
    ];
    for (file, content, needle) in cases {
        let dir = scratch();
        let path = dir.path().join(file);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, content).unwrap();
        refused(
            dir.path(),
            &blue,
            &[
                "refusing to write `blue`",
                "not this module's (which keeps its state in the local state file terraform.blue.tfstate)",
                "there is no manifest.json",
                needle,
            ],
        );
    }
    let dir = scratch();
    terraform_init(
        dir.path(),
        r#"{"type": "local", "config": {"path": "terraform.green.tfstate"}}"#,
    );
    refused(
        dir.path(),
        &blue,
        &["initialised for the local state file terraform.green.tfstate, not terraform.blue.tfstate"],
    );
    fs::write(dir.path().join(".terraform/terraform.tfstate"), "{ half").unwrap();
    refused(
        dir.path(),
        &blue,
        &[
            "terraform.tfstate: unreadable",
            "initialised for is unknown",
        ],
    );
}

#[test]
fn a_backend_matches_on_every_setting_the_module_gives_it() {
    let chart = chart_source();
    let dir = scratch();
    // terraform records every attribute of the backend, unset ones as null.
    terraform_init(
        dir.path(),
        r#"{"type": "remote-store", "config": {"key": "green/state", "encrypt": true, "token": "s3cret", "extra": null}}"#,
    );
    let blue = module_with(&BLUE, chart.path(), remote("blue/state"));
    refused(
        dir.path(),
        &blue,
        &[r#"initialised for backend "remote-store" with key = "green/state", not "blue/state""#],
    );
    let err = write_module(dir.path(), &blue).unwrap_err().to_string();
    assert!(
        !err.contains("s3cret"),
        "a credential in an error message: {err}"
    );
    let local = module(&BLUE, chart.path());
    refused(
        dir.path(),
        &local,
        &[
            r#"initialised for backend "remote-store" (encrypt = true, key = "green/state", token = (hidden))"#,
        ],
    );
    let green = module_with(&GREEN, chart.path(), remote("green/state"));
    write_module(dir.path(), &green).unwrap();
}

#[test]
fn the_modules_own_state_and_a_vouched_backend_change_are_accepted() {
    let chart = chart_source();
    let dir = scratch();
    for own in [
        "terraform.blue.tfstate",
        "terraform.blue.tfstate.backup",
        ".terraform.blue.tfstate.lock.info",
        ".terraform.lock.hcl",
    ] {
        fs::write(dir.path().join(own), "{}").unwrap();
    }
    terraform_init(
        dir.path(),
        r#"{"type": "local", "config": {"path": "terraform.blue.tfstate", "workspace_dir": null}}"#,
    );
    write_module(dir.path(), &module(&BLUE, chart.path())).unwrap();
    // The manifest records blue's local state: moving it to another backend
    // is allowed (terraform init -migrate-state does the rest)...
    write_module(
        dir.path(),
        &module_with(&BLUE, chart.path(), remote("blue/state")),
    )
    .unwrap();
    // ...but once the manifest records the new backend, the local state file
    // left behind is no longer vouched for.
    refused(
        dir.path(),
        &module_with(&BLUE, chart.path(), remote("blue/state")),
        &[
            "terraform.blue.tfstate: a local state file",
            r#"records `blue` with state in backend "remote-store""#,
        ],
    );
    // Another environment is refused on the manifest's word alone.
    refused(
        dir.path(),
        &module(&GREEN, chart.path()),
        &[
            "initialised for environment `blue`; refusing to write `green`",
            ".terraform.lock.hcl",
        ],
    );
}

#[test]
fn a_manifest_older_than_recorded_backends_vouches_for_nothing() {
    let chart = chart_source();
    let dir = scratch();
    let blue = module(&BLUE, chart.path());
    write_flat(dir.path(), &blue);
    let mut doc: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.path().join("manifest.json")).unwrap()).unwrap();
    doc.as_object_mut().unwrap().remove("backend");
    fs::write(dir.path().join("manifest.json"), doc.to_string()).unwrap();
    fs::write(dir.path().join("terraform.old.tfstate"), "{}").unwrap();
    refused(
        dir.path(),
        &blue,
        &[
            "records `blue` but not where its state is",
            "terraform.old.tfstate",
        ],
    );
    fs::remove_file(dir.path().join("terraform.old.tfstate")).unwrap();
    fs::write(dir.path().join("terraform.blue.tfstate"), "{}").unwrap();
    write_module(dir.path(), &blue).unwrap();
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
