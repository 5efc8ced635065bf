//! Real terraform, real local state: a construct renamed without a `moved`
//! entry is refused by the writer with the line that keeps its state; with
//! the entry, `terraform validate` accepts the module and `terraform plan`
//! shows a move, not a destroy and a create, and the apply keeps the object.
//! An `import` block adopts an existing object and the next plan is clean.
//! `terraform_data` (built into terraform) stands for a stateful resource,
//! so no provider or cloud is needed.
//!
//! Needs terraform (1.9 or newer) on PATH, which `cargo test` cannot assume;
//! `just tf-validate` runs it (a few seconds):
//!
//! ```sh
//! cargo test -p synth --test refactor_terraform -- --ignored --nocapture
//! ```
#![allow(clippy::unwrap_used)] // a panic in a test helper is a failed test with its location

mod common;

use std::path::Path;

use serde_json::Value;
use synth::output::write_module;
use synth::{Address, App, Backend, Module, Output, RequiredProvider, SynthOptions};

use common::tree;

/// Exit status and standard output; standard error goes into the failure
/// message only (it can hold warnings about the machine's CLI config).
fn terraform(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let o = common::terraform(dir, args);
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let (code, out, err) = terraform(dir, args);
    assert_eq!(code, 0, "terraform {args:?} failed:\n{out}{err}");
    out
}

/// `terraform_data.<vault>`, stateful, and a site depending on it; state in
/// a local file. `edit` runs on the construct tree before synthesis.
fn module(vault: &str, edit: impl FnOnce(&mut App)) -> Module {
    let mut app = App::new("blue");
    app.backend(Backend::local("terraform.blue.tfstate"))
        .stateful("terraform_data", "what it recorded");
    let data = app.stack("data", "data");
    data.require_provider(
        "terraform",
        RequiredProvider::new("terraform.io/builtin/terraform", ""),
    );
    let vault = data
        .resource("terraform_data", vault)
        .set("input", "kept")
        .handle();
    data.resource("terraform_data", "site")
        .set("input", vault.attr("output"));
    data.output("vault_id", Output::new(vault.attr("id")));
    edit(&mut app);
    app.synth(&SynthOptions::default()).unwrap()
}

/// The planned changes of `terraform plan -json`: (action, address, previous address).
fn planned(dir: &Path) -> (Vec<(String, String, String)>, Value) {
    let text = ok(dir, &["plan", "-json", "-input=false", "-no-color"]);
    let mut changes = Vec::new();
    let mut summary = Value::Null;
    for line in text.lines() {
        let Ok(event) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        match event["type"].as_str() {
            Some("planned_change") => {
                let change = &event["change"];
                let at = |v: &Value| v["addr"].as_str().unwrap_or_default().to_owned();
                changes.push((
                    change["action"].as_str().unwrap_or_default().to_owned(),
                    at(&change["resource"]),
                    at(&change["previous_resource"]),
                ));
            }
            Some("change_summary") => summary = event["changes"].clone(),
            _ => {}
        }
    }
    changes.sort();
    (changes, summary)
}

#[test]
#[ignore = "needs terraform on PATH; run with --ignored (a few seconds)"]
fn a_renamed_construct_keeps_its_state_through_a_moved_block() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("out");
    write_module(&dir, &module("vault", |_| {})).unwrap();
    ok(&dir, &["init", "-input=false", "-no-color"]);
    ok(
        &dir,
        &["apply", "-auto-approve", "-input=false", "-no-color"],
    );
    let id = ok(&dir, &["output", "-raw", "vault_id"]);

    // Renamed, the moved entry forgotten: refused before terraform runs,
    // with the line to add; nothing changed.
    let old = Address::resource("terraform_data", "vault");
    let forgotten = module("vault", |app| {
        app.rename_resource(&old, "secrets").unwrap();
    });
    let before = tree(&dir);
    let err = write_module(&dir, &forgotten).unwrap_err().to_string();
    for expected in [
        "terraform_data.vault (what it recorded) looks renamed to terraform_data.secrets",
        r#"add `.moved_from("terraform_data", "vault")` to the construct of terraform_data.secrets, which synthesizes {"moved": [{"from": "terraform_data.vault", "to": "terraform_data.secrets"}]}"#,
        "--allow-destroy terraform_data.vault",
    ] {
        assert!(err.contains(expected), "missing `{expected}` in:\n{err}");
    }
    assert_eq!(before, tree(&dir));

    // What the guard prevented: allowed on a copy, terraform plans a
    // destroy and a create.
    let copy = work.path().join("allowed");
    common::copy_tree(&dir, &copy);
    let allowed = module("vault", |app| {
        app.rename_resource(&old, "secrets").unwrap();
        app.allow_destroy(&old);
    });
    write_module(&copy, &allowed).unwrap();
    let (changes, summary) = planned(&copy);
    assert!(
        changes.contains(&(
            "delete".into(),
            "terraform_data.vault".into(),
            String::new()
        )) && changes.contains(&(
            "create".into(),
            "terraform_data.secrets".into(),
            String::new()
        )),
        "{changes:?}"
    );
    assert_eq!(
        (summary["add"].as_u64(), summary["remove"].as_u64()),
        (Some(1), Some(1))
    );

    // With the line the guard asked for: terraform accepts it and moves.
    let moved = module("vault", |app| {
        let new = app.rename_resource(&old, "secrets").unwrap();
        app.stacks_mut()[0]
            .find_mut(&new)
            .unwrap()
            .moved_from("terraform_data", "vault");
    });
    write_module(&dir, &moved).unwrap();
    ok(&dir, &["validate", "-no-color"]);
    let (changes, summary) = planned(&dir);
    assert_eq!(
        changes,
        [(
            "move".into(),
            "terraform_data.secrets".into(),
            "terraform_data.vault".into()
        )],
        "a move, and nothing else"
    );
    assert_eq!(
        (
            summary["add"].as_u64(),
            summary["change"].as_u64(),
            summary["remove"].as_u64()
        ),
        (Some(0), Some(0), Some(0))
    );
    ok(
        &dir,
        &["apply", "-auto-approve", "-input=false", "-no-color"],
    );
    let state = ok(&dir, &["state", "list"]);
    assert_eq!(
        state.lines().collect::<Vec<_>>(),
        ["terraform_data.secrets", "terraform_data.site"]
    );
    assert_eq!(
        ok(&dir, &["output", "-raw", "vault_id"]),
        id,
        "the same object"
    );
}

#[test]
#[ignore = "needs terraform on PATH; run with --ignored (a few seconds)"]
fn an_import_block_adopts_an_object_and_the_next_plan_is_clean() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("out");
    let adopting = module("vault", |app| {
        app.stacks_mut()[0]
            .resource("terraform_data", "adopted")
            .set("input", "x")
            .import_from("made-elsewhere");
    });
    write_module(&dir, &adopting).unwrap();
    ok(&dir, &["init", "-input=false", "-no-color"]);
    ok(&dir, &["validate", "-no-color"]);
    let (_, summary) = planned(&dir);
    assert_eq!(summary["import"].as_u64(), Some(1), "{summary}");
    let applied = ok(
        &dir,
        &["apply", "-auto-approve", "-input=false", "-no-color"],
    );
    assert!(applied.contains("Resources: 1 imported"), "{applied}");
    let show = ok(
        &dir,
        &["state", "show", "-no-color", "terraform_data.adopted"],
    );
    assert!(show.contains("\"made-elsewhere\""), "{show}");
    // The import block stays, as a record: once in state it changes nothing.
    let (code, out, err) = terraform(
        &dir,
        &["plan", "-detailed-exitcode", "-input=false", "-no-color"],
    );
    assert_eq!(
        code, 0,
        "the plan after the import is not clean:\n{out}{err}"
    );
}
