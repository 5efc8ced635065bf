//! The plain writer, for a directory kept in git (a GitOps tree): plain files
//! and no links, the same bytes on every machine, nothing touched that did
//! not change; every change in turn killed or failed, after which each file
//! is whole (old or new) and the next write completes; the path checks the
//! module writer has; and a directory written as generations made plain.
#![allow(clippy::unwrap_used)] // a panic in a test helper is a failed test with its location

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt as _;
use std::path::Path;

use common::{scratch, tree};
use synth::output::{read_output, write_module, write_plain, write_plain_observed, Change};
use synth::{Module, SynthError};

/// A tree: the chart of Applications, a carried chart, charts of custom
/// resources; `marker` changes the values, `extra` adds a file and a chart.
fn tree_module(marker: &str, extra: bool) -> Module {
    let mut files: BTreeMap<String, Vec<u8>> = [
        ("apps/Chart.yaml", "name: apps\n".to_owned()),
        ("apps/values.yaml", format!("marker: {marker}\n")),
        ("chart/Chart.yaml", "name: service\n".to_owned()),
    ]
    .into_iter()
    .map(|(n, b)| (n.to_owned(), b.into_bytes()))
    .collect();
    if extra {
        files.insert("chart/templates/b.yaml".into(), b"kind: B\n".to_vec());
        files.insert("charts/new/Chart.yaml".into(), b"name: new\n".to_vec());
    } else {
        files.insert("chart/templates/a.yaml".into(), b"kind: A\n".to_vec());
        files.insert(
            "charts/old/templates/objects.yaml".into(),
            b"kind: Old\n".to_vec(),
        );
    }
    Module::from_files("blue", "test 0", files)
}

/// Every plain file under `dir` (the user's note and terraform's aside);
/// a symlink anywhere fails the test.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = tree(dir);
    for (name, bytes) in &out {
        assert!(!bytes.starts_with(b"-> "), "{name} is a symlink");
    }
    out.retain(|name, bytes| bytes.as_slice() != b"dir" && name != "notes.txt");
    out
}

#[derive(Clone, Copy, Debug)]
enum Start {
    Empty,
    Plain(&'static str, bool),
    /// Written by the module writer, as generations and links.
    Generations(&'static str, bool),
}

fn setup(start: Start) -> tempfile::TempDir {
    let dir = scratch();
    match start {
        Start::Empty => {}
        Start::Plain(marker, extra) => {
            write_plain(dir.path(), &tree_module(marker, extra)).unwrap();
        }
        Start::Generations(marker, extra) => {
            write_module(dir.path(), &tree_module(marker, extra)).unwrap();
        }
    }
    fs::write(dir.path().join("notes.txt"), "mine").unwrap();
    dir
}

fn old_files(start: Start) -> BTreeMap<String, Vec<u8>> {
    match start {
        Start::Empty => BTreeMap::new(),
        Start::Plain(m, e) | Start::Generations(m, e) => tree_module(m, e).files,
    }
}

#[test]
fn a_tree_is_plain_files_the_same_on_every_machine() {
    let module = tree_module("v1", false);
    let (a, b) = (scratch(), scratch());
    write_plain(a.path(), &module).unwrap();
    write_plain(b.path(), &module).unwrap();
    assert_eq!(files(a.path()), module.files, "exactly the module's files");
    assert_eq!(tree(a.path()), tree(b.path()));
    assert!(!a.path().join(".synth").exists());
    let read = read_output(a.path()).unwrap().unwrap();
    assert_eq!(read.module_files(), module.files);
    assert_eq!(read.environment(), Some("blue"));
}

#[test]
fn only_what_changed_is_written_and_the_manifest_last() {
    let dir = setup(Start::Plain("v1", false));
    let mut changes = Vec::new();
    let report = write_plain_observed(dir.path(), &tree_module("v1", false), &mut |c| {
        changes.push(format!("{c:?}"));
        Ok(())
    })
    .unwrap();
    assert!(
        changes.is_empty(),
        "an unchanged tree is not touched: {changes:?}"
    );
    assert_eq!((report.written.len(), report.unchanged.len()), (0, 5));

    let kept = fs::metadata(dir.path().join("apps/Chart.yaml"))
        .unwrap()
        .ino();
    let mut last = String::new();
    let report = write_plain_observed(dir.path(), &tree_module("v2", true), &mut |c| {
        let text = format!("{c:?}");
        assert!(!text.contains("apps/Chart.yaml"), "{text}");
        if let Change::Rename { to, .. } = c {
            last = to.display().to_string();
        }
        Ok(())
    })
    .unwrap();
    assert_eq!(
        report.written,
        [
            "apps/values.yaml",
            "chart/templates/b.yaml",
            "charts/new/Chart.yaml"
        ]
    );
    assert_eq!(
        report.removed,
        [
            "chart/templates/a.yaml",
            "charts/old/templates/objects.yaml"
        ]
    );
    assert!(last.ends_with("/manifest.json"), "{last}");
    assert_eq!(files(dir.path()), tree_module("v2", true).files);
    assert!(
        !dir.path().join("charts/old").exists(),
        "a directory left empty goes"
    );
    assert_eq!(
        fs::metadata(dir.path().join("apps/Chart.yaml"))
            .unwrap()
            .ino(),
        kept
    );
    assert_eq!(fs::read(dir.path().join("notes.txt")).unwrap(), b"mine");
}

const TRANSITIONS: &[(Start, &str, bool)] = &[
    (Start::Empty, "v1", false),
    (Start::Plain("v1", false), "v2", true),
    (Start::Plain("v2", true), "v1", false),
    (Start::Generations("v1", false), "v2", true),
];

fn killed() -> io::Error {
    io::Error::other("killed")
}

/// Writes `module` into `dir` with change `at` failing (nothing is undone:
/// the write stops there, as if killed); returns the error.
fn interrupted(dir: &Path, module: &Module, at: usize) -> SynthError {
    let mut n = 0;
    write_plain_observed(dir, module, &mut |_| {
        n += 1;
        if n - 1 == at {
            return Err(killed());
        }
        Ok(())
    })
    .expect_err("interrupted")
}

/// The files the manifest in `dir` lists.
fn listed(dir: &Path) -> Vec<String> {
    let manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_write_cut_short_at_any_change_leaves_whole_files_and_the_next_completes_it() {
    let mut points = 0;
    for &(start, marker, extra) in TRANSITIONS {
        let new = tree_module(marker, extra);
        let old = old_files(start);
        let clean = setup(start);
        let mut total = 0;
        write_plain_observed(clean.path(), &new, &mut |_| {
            total += 1;
            Ok(())
        })
        .unwrap();
        let expected = tree(clean.path());
        assert!(total > 0, "{start:?}");
        for at in 0..total {
            let dir = setup(start);
            let e = interrupted(dir.path(), &new, at);
            assert!(
                e.to_string().contains("`git status`"),
                "{start:?} at {at}: {e}"
            );
            // A tree being turned from generations into plain files still
            // has some of its links and generation: the plain files count.
            let mut present = tree(dir.path());
            present.retain(|name, bytes| {
                !name.starts_with(".synth/")
                    && !bytes.starts_with(b"-> .synth/")
                    && name != ".synth"
                    && bytes.as_slice() != b"dir"
                    && name != "notes.txt"
            });
            for (name, bytes) in &present {
                let file = name.rsplit('/').next().unwrap_or(name);
                assert!(
                    old.get(name) == Some(bytes)
                        || new.files.get(name) == Some(bytes)
                        || file.starts_with(".synth-tmp-")
                        || name == "manifest.json",
                    "{start:?} cut at {at}: {name} is neither the old file nor the new"
                );
            }
            // Whatever is there of synth's, its manifest claims, so the next
            // write replaces or removes it.
            if present.contains_key("manifest.json") {
                let claimed = listed(dir.path());
                for name in present
                    .keys()
                    .filter(|n| new.files.contains_key(*n) || old.contains_key(*n))
                {
                    assert!(
                        name == "manifest.json" || claimed.contains(name),
                        "{start:?} cut at {at}: {name} is not in the manifest"
                    );
                }
            }
            read_output(dir.path()).unwrap();
            write_plain(dir.path(), &new)
                .unwrap_or_else(|e| panic!("{start:?} after a cut at {at}: {e}"));
            assert_eq!(tree(dir.path()), expected, "{start:?} after a cut at {at}");
            points += 1;
        }
    }
    eprintln!("{points} interruptions, each completed by the next write");
}

#[test]
fn a_tree_written_as_generations_becomes_plain_files() {
    let dir = setup(Start::Generations("v1", false));
    assert!(dir.path().join(".synth/current").exists());
    let report = write_plain(dir.path(), &tree_module("v1", false)).unwrap();
    assert_eq!(
        report.written.len(),
        5,
        "every file comes back as a plain one"
    );
    assert!(!dir.path().join(".synth").exists());
    assert_eq!(files(dir.path()), tree_module("v1", false).files);
    assert_eq!(fs::read(dir.path().join("notes.txt")).unwrap(), b"mine");
}

/// The error of a write into `dir` that must be refused, with nothing in
/// `dir` changed.
fn refused(dir: &Path, module: &Module) -> String {
    let before = tree(dir);
    let e = write_plain(dir, module).expect_err("refused").to_string();
    assert_eq!(
        tree(dir),
        before,
        "a refused write changed {}",
        dir.display()
    );
    e
}

#[test]
fn nothing_through_a_link_outside_the_directory_or_not_synths() {
    let module = tree_module("v1", false);
    let outside = scratch();
    fs::write(outside.path().join("Chart.yaml"), "theirs").unwrap();

    let dir = scratch();
    std::os::unix::fs::symlink(outside.path(), dir.path().join("chart")).unwrap();
    let e = refused(dir.path(), &module);
    assert!(e.contains("chart is a symlink"), "{e}");

    let dir = scratch();
    fs::create_dir(dir.path().join("apps")).unwrap();
    fs::write(dir.path().join("apps/values.yaml"), "someone's").unwrap();
    let e = refused(dir.path(), &module);
    assert!(
        e.contains("apps/values.yaml is a file no manifest.json of synth's lists"),
        "{e}"
    );

    let dir = setup(Start::Plain("v1", false));
    fs::remove_file(dir.path().join("apps/values.yaml")).unwrap();
    std::os::unix::fs::symlink(
        outside.path().join("Chart.yaml"),
        dir.path().join("apps/values.yaml"),
    )
    .unwrap();
    let e = refused(dir.path(), &tree_module("v2", false));
    assert!(
        e.contains("lists `apps/values.yaml`, which is the symlink"),
        "{e}"
    );

    let dir = setup(Start::Plain("v1", false));
    let manifest = fs::read_to_string(dir.path().join("manifest.json")).unwrap();
    fs::write(
        dir.path().join("manifest.json"),
        manifest.replace("\"apps/Chart.yaml\"", "\"../Chart.yaml\""),
    )
    .unwrap();
    let e = refused(dir.path(), &module);
    assert!(e.contains("lists `../Chart.yaml`"), "{e}");

    let mut escaping = module.clone();
    escaping
        .files
        .insert("../escape.yaml".into(), b"kind: X\n".to_vec());
    let e = refused(scratch().path(), &escaping);
    assert!(e.contains("../escape.yaml"), "{e}");
    assert_eq!(
        fs::read(outside.path().join("Chart.yaml")).unwrap(),
        b"theirs"
    );
}
