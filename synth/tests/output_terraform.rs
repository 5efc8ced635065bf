//! Real terraform reads every state a synth passes through: before each
//! change the writer makes, the directory is copied, and `terraform plan`
//! runs on the copy. Each plan must succeed and show exactly the outputs of
//! the old module or of the new one (each stack has an output naming its
//! version; one reads the `chart/` asset at plan time), never a mix.
//!
//! Needs terraform (1.9 or newer) on PATH, which `cargo test` cannot assume, so it
//! is run on demand (a few seconds):
//!
//! ```sh
//! cargo test -p synth --test output_terraform -- --ignored --nocapture
//! ```
#![allow(clippy::unwrap_used)] // a panic in a test helper is a failed test with its location

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use common::{chart_source, copy_tree, module, scratch, tree, write_flat, A, A2, B};
use synth::output::{write_module, write_module_observed};

fn terraform(dir: &Path, args: &[&str]) -> (bool, String) {
    let o = common::terraform(dir, args);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    (o.status.success(), text)
}

/// The outputs a plan would create, by name, with their planned values.
fn planned_outputs(dir: &Path) -> BTreeMap<String, String> {
    let (ok, text) = terraform(dir, &["plan", "-no-color", "-input=false", "-lock=false"]);
    assert!(ok, "terraform refused to plan {}:\n{text}", dir.display());
    let mut out = BTreeMap::new();
    let mut in_outputs = false;
    for line in text.lines() {
        if line.starts_with("Changes to Outputs:") {
            in_outputs = true;
        } else if in_outputs {
            match line.trim().strip_prefix("+ ") {
                Some(rest) => {
                    let (name, value) = rest.split_once('=').unwrap();
                    out.insert(name.trim().to_owned(), value.trim().to_owned());
                }
                None => break,
            }
        }
    }
    assert!(
        !out.is_empty(),
        "no outputs planned in {}:\n{text}",
        dir.display()
    );
    out
}

/// The part of a directory's state terraform can tell apart: the top-level
/// entries (links as their text), where `.synth/current` points, and the
/// bytes reachable through them.
fn visible(dir: &Path) -> String {
    let mut key = String::new();
    for (path, bytes) in tree(dir) {
        let top_level = !path.contains('/');
        if top_level || path == ".synth/current" {
            key.push_str(&format!(
                "{path} {}\n",
                String::from_utf8_lossy(&bytes).len()
            ));
        }
    }
    key.push_str(&format!("{:?}", common::view(dir)));
    key
}

#[test]
#[ignore = "needs terraform on PATH; run with --ignored (a few seconds)"]
fn terraform_plans_the_old_or_the_new_module_at_every_step() {
    let chart = chart_source();
    for (old, new, flat) in [(A, B, false), (B, A, false), (A, A2, false), (A, B, true)] {
        let work = scratch();
        let dir = work.path().join("out");
        let old_module = module(&old, chart.path());
        let new_module = module(&new, chart.path());
        if flat {
            write_flat(&dir, &old_module);
        } else {
            write_module(&dir, &old_module).unwrap();
        }
        let (ok, text) = terraform(&dir, &["init", "-input=false", "-no-color"]);
        assert!(ok, "{text}");
        let expected_old = planned_outputs(&dir);
        let reference = work.path().join("reference");
        write_module(&reference, &new_module).unwrap();
        let (ok, text) = terraform(&reference, &["init", "-input=false", "-no-color"]);
        assert!(ok, "{text}");
        let expected_new = planned_outputs(&reference);
        assert_ne!(expected_old, expected_new);

        // Snapshot every distinct state the directory passes through.
        let mut seen = BTreeSet::new();
        let mut snapshots = Vec::new();
        let mut changes = 0;
        let mut snapshot = |changes: usize| {
            if seen.insert(visible(&dir)) {
                let copy = work.path().join(format!("step-{changes}"));
                copy_tree(&dir, &copy);
                snapshots.push((changes, copy));
            }
        };
        write_module_observed(&dir, &new_module, &mut |_| {
            snapshot(changes);
            changes += 1;
            Ok(())
        })
        .unwrap();
        snapshot(changes);

        let (mut olds, mut news) = (0, 0);
        for (step, copy) in &snapshots {
            let outputs = planned_outputs(copy);
            if outputs == expected_old {
                olds += 1;
            } else if outputs == expected_new {
                news += 1;
            } else {
                panic!(
                    "{old:?} -> {new:?} (flat: {flat}), before change {step}: terraform plans a mix: {outputs:?}"
                );
            }
        }
        eprintln!(
            "{} -> {} (flat: {flat}): {changes} changes, {} distinct states: terraform planned \
             the old module in {olds} and the new one in {news}",
            old.marker,
            new.marker,
            snapshots.len()
        );
        assert!(olds > 0 && news > 0);
    }
}
