//! The GitOps tree as a user meets it: the committed trees are what synth
//! writes, `infra synth` writes a tree where a checkout keeps it (and only
//! there), `infra diff` compares it application by application, and `infra
//! values` lists what Argo CD delivers.
#![allow(clippy::unwrap_used)] // a panic in a test helper is a failed test with its location

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::{Command, Output};

mod common;
use common::{repo, scratch_root};

fn infra_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_infra"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Every file under `dir` but CI's image file, each a plain file: git holds
/// what Argo CD reads, never a link or a generation directory.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let rel = path.strip_prefix(base).unwrap().display().to_string();
            if rel == "image.yaml" {
                continue;
            }
            assert!(!rel.starts_with(".synth"), "{}: {rel}", base.display());
            let meta = fs::symlink_metadata(&path).unwrap();
            assert!(
                !meta.is_symlink(),
                "{rel} is a symlink in {}",
                base.display()
            );
            if meta.is_dir() {
                walk(base, &path, out);
            } else {
                out.insert(rel, fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

#[test]
fn the_committed_trees_are_what_synth_writes() {
    for env in ["staging", "production"] {
        let work = tempfile::tempdir().unwrap();
        let tree = work.path().join("tree");
        let o = infra_in(
            &repo(),
            &[
                "synth",
                env,
                "--out",
                work.path().join("module").to_str().unwrap(),
                "--gitops-out",
                tree.to_str().unwrap(),
            ],
        );
        assert!(o.status.success(), "{}", text(&o.stderr));
        let committed = files(&repo().join("gitops").join(env));
        let synthesized = files(&tree);
        assert_eq!(
            committed.keys().collect::<Vec<_>>(),
            synthesized.keys().collect::<Vec<_>>(),
            "gitops/{env}: run `cargo run -- synth {env}` and commit the tree"
        );
        for (name, bytes) in &synthesized {
            assert!(
                committed[name] == *bytes,
                "gitops/{env}/{name} is not what synth writes: run `cargo run -- synth {env}` and commit it"
            );
        }
    }
}

#[test]
fn synth_writes_the_tree_into_the_checkout_and_leaves_it_alone_when_unchanged() {
    let root = scratch_root();
    let o = infra_in(root.path(), &["synth", "staging"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(
        out.contains("GitOps tree of staging: 11 Argo CD applications into"),
        "{out}"
    );
    let tree = root.path().join("gitops/staging");
    let written = files(&tree);
    assert!(written.contains_key("apps/values.yaml"));
    assert!(written.contains_key("chart/Chart.yaml"));
    assert!(root.path().join("cdktf.out/app.tf.json").is_file());
    let count = written.len() - 1; // the manifest aside
    let modified = |name: &str| fs::metadata(tree.join(name)).unwrap().modified().unwrap();
    let before = modified("apps/values.yaml");

    let again = infra_in(root.path(), &["synth", "staging"]);
    assert!(again.status.success());
    assert!(
        text(&again.stdout).contains(&format!("(0 written, {count} unchanged, 0 removed)")),
        "{}",
        text(&again.stdout)
    );
    assert_eq!(
        files(&tree),
        written,
        "an unchanged tree does not move in git"
    );
    assert_eq!(modified("apps/values.yaml"), before, "nor is it rewritten");
}

#[test]
fn two_checkouts_synthesize_the_same_tree() {
    let (a, b) = (scratch_root(), scratch_root());
    for root in [&a, &b] {
        let o = infra_in(root.path(), &["synth", "production"]);
        assert!(o.status.success(), "{}", text(&o.stderr));
    }
    assert_eq!(
        files(&a.path().join("gitops/production")),
        files(&b.path().join("gitops/production"))
    );
}

#[test]
fn a_scratch_or_phase_1_synth_writes_no_tree() {
    let root = scratch_root();
    let scratch = root.path().join("scratch");
    let o = infra_in(
        root.path(),
        &["synth", "staging", "--out", scratch.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stderr)
        .contains("the GitOps tree of staging was not written (--out without --gitops-out)"));
    let o = infra_in(
        root.path(),
        &["synth", "staging", "--stacks", "network,iam,eks"],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(!root.path().join("gitops").exists());
}

#[test]
fn diff_compares_the_tree_application_by_application() {
    let root = scratch_root();
    assert!(infra_in(root.path(), &["synth", "staging"])
        .status
        .success());
    let clean = infra_in(root.path(), &["diff", "staging"]);
    assert_eq!(clean.status.code(), Some(0), "{}", text(&clean.stdout));
    assert!(text(&clean.stdout).contains("staging (GitOps tree): 0 added, 0 removed, 0 changed"));

    let config = root.path().join("stacks/config/staging.toml");
    let edited = fs::read_to_string(&config)
        .unwrap()
        .replace("max_replicas = 4", "max_replicas = 5");
    fs::write(&config, edited).unwrap();
    let o = infra_in(root.path(), &["diff", "staging"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(
        out.contains("~ application webapp\n    values.autoscaling.maxReplicas: 4 -> 5\n"),
        "{out}"
    );
    assert!(
        out.contains("-> staging: 0 added, 0 removed, 0 changed"),
        "terraform does not change: {out}"
    );
}

#[test]
fn values_lists_the_releases_argo_cd_delivers() {
    let o = infra_in(&repo(), &["values", "staging"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["gitops_tree"], "gitops/staging");
    let delivery: BTreeMap<String, String> = doc["releases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap().to_owned(),
                r["delivery"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(delivery["argocd"], "terraform");
    assert_eq!(delivery["argocd-bootstrap"], "terraform");
    assert_eq!(delivery["webapp"], "argocd");
    assert_eq!(delivery["metrics-server"], "argocd");
}
