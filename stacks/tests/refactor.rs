//! Refactoring the shipped environments without a destroy: the config's
//! imports and moves land on the resources they name, terraform's
//! prevent_destroy lands exactly on the stateful resources where the config
//! asks, and every stateful construct of both environments can be renamed:
//! refused without a `moved` entry (each named, with the line that keeps
//! it), written with one, which takes its state along.
//! `examples/rename_stateful.rs` writes the same renamed module for
//! `terraform validate` (`just tf-validate`).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use stacks::aws::stateful::{is_stateful, stateful_resources};
use synth::diff::{blocks, diff, resource_type, Change};
use synth::output::write_module;
use synth::{Address, App, Module, SynthOptions};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn environment(name: &str) -> stacks::Environment {
    stacks::load_environment(&repo_root(), name).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The environment's construct tree with its local state backend, as
/// `stacks::synthesize` builds it.
fn build(env: &stacks::Environment) -> Result<App, stacks::Error> {
    let mut app = stacks::build(env, &stacks::chart_dir(&repo_root()))?;
    app.backend(stacks::aws::state::backend(env, None));
    Ok(app)
}

fn synth(app: &App) -> Module {
    app.synth(&SynthOptions::default())
        .unwrap_or_else(|e| panic!("{e}"))
}

fn file(module: &Module, name: &str) -> Value {
    serde_json::from_slice(&module.files[name]).expect("synthesized JSON")
}

/// Every managed resource of the module, by address, with its body.
fn resources(module: &Module) -> BTreeMap<String, Value> {
    blocks(&module.files)
        .expect("module blocks")
        .into_iter()
        .filter(|(address, _)| resource_type(address).is_some())
        .collect()
}

#[test]
fn config_imports_and_moves_land_on_the_resources_they_name() {
    let mut env = environment("staging");
    env.config.state.import.push(stacks::config::ImportEntry {
        to: "aws_ecr_repository.service".into(),
        id: "webapp-staging".into(),
    });
    env.config.state.moved.push(stacks::config::MovedEntry {
        from: "aws_cloudwatch_log_group.control_plane".into(),
        to: "aws_cloudwatch_log_group.cluster".into(),
    });
    let module = synth(&build(&env).expect("staging with state entries"));
    assert_eq!(
        file(&module, synth::REFACTOR_FILE),
        json!({
            "import": [{"to": "aws_ecr_repository.service", "id": "webapp-staging"}],
            "moved": [{"from": "aws_cloudwatch_log_group.control_plane",
                       "to": "aws_cloudwatch_log_group.cluster"}]
        })
    );
    let shipped = synth(&build(&environment("staging")).expect("staging"));
    assert!(!shipped.files.contains_key(synth::REFACTOR_FILE));
}

#[test]
fn config_entries_must_name_resources_the_environment_has() {
    let mut env = environment("staging");
    let state = &mut env.config.state;
    state.import.push(stacks::config::ImportEntry {
        to: "aws_ecr_repository.services".into(),
        id: "x".into(),
    });
    state.moved.push(stacks::config::MovedEntry {
        from: "aws_kms_key.logs".into(),
        to: "aws_kms_key.eks_secrets".into(),
    });
    state.moved.push(stacks::config::MovedEntry {
        from: "aws_kms_key.old".into(),
        to: "aws_kms_key.nowhere".into(),
    });
    let err = build(&env).expect_err("entries naming nothing").to_string();
    for expected in [
        "stacks/config/staging.toml",
        "state.import[0].to: environment `staging` has no resource `aws_ecr_repository.services` (did you mean `aws_ecr_repository.service`?)",
        "state.moved[0].from: `aws_kms_key.logs` is still declared in environment `staging`",
        "state.moved[1].to: environment `staging` has no resource `aws_kms_key.nowhere`",
    ] {
        assert!(err.contains(expected), "missing `{expected}` in:\n{err}");
    }
}

#[test]
fn prevent_destroy_is_on_exactly_the_stateful_resources_where_the_config_asks() {
    for (name, wanted) in [("production", true), ("staging", false)] {
        let module = synth(&build(&environment(name)).expect("builds"));
        for (address, body) in resources(&module) {
            let protected = body.pointer("/lifecycle/prevent_destroy") == Some(&json!(true));
            let stateful = resource_type(&address).is_some_and(is_stateful);
            assert_eq!(
                protected,
                wanted && stateful,
                "{name}: {address} prevent_destroy is {protected}"
            );
        }
    }
}

/// Renames every stateful construct of `app` to `<name>_renamed`, with
/// `moved_from` on each when `keep`; returns the (old, new) addresses.
fn rename_stateful(app: &mut App, keep: bool) -> Vec<(String, String)> {
    let mut renamed = Vec::new();
    for old in stateful_resources(app) {
        let Address::Resource { ty, name } = &old else {
            continue;
        };
        let new = app
            .rename_resource(&old, &format!("{name}_renamed"))
            .expect("renames");
        if keep {
            app.stacks_mut()
                .iter_mut()
                .find_map(|s| s.find_mut(&new))
                .expect("renamed resource")
                .moved_from(ty, name);
        }
        renamed.push((old.to_string(), new.to_string()));
    }
    renamed
}

/// A local state file holding every managed resource of `module`, as after
/// a complete apply.
fn applied(dir: &Path, env: &str, module: &Module) {
    let held: Vec<Value> = resources(module)
        .keys()
        .map(|address| {
            let (ty, name) = address.split_once('.').expect("type.name");
            json!({"mode": "managed", "type": ty, "name": name,
                   "provider": "provider[\"registry.terraform.io/hashicorp/aws\"]",
                   "instances": [{"schema_version": 0, "attributes": {"id": name}}]})
        })
        .collect();
    let state = json!({"version": 4, "serial": 9, "lineage": "l", "resources": held});
    let file = stacks::aws::state::local_state_file(env);
    fs::write(dir.join(file), state.to_string()).expect("state file");
}

#[test]
fn every_stateful_construct_can_be_renamed_without_a_destroy() {
    for name in ["staging", "production"] {
        let env = environment(name);
        let dir = tempfile::tempdir().expect("scratch");
        let original = synth(&build(&env).expect("builds"));
        write_module(dir.path(), &original).expect("first synth");
        applied(dir.path(), name, &original);

        // Renamed with the moved entries forgotten: refused, each named
        // with the line to add and what it synthesizes; nothing written.
        let mut forgot = build(&env).expect("builds");
        let renamed = rename_stateful(&mut forgot, false);
        let types: Vec<&str> = renamed
            .iter()
            .filter_map(|(old, _)| resource_type(old))
            .collect();
        for ty in [
            "aws_cloudwatch_log_group",
            "aws_ecr_repository",
            "aws_eks_cluster",
            "aws_eks_node_group",
            "aws_kms_key",
        ] {
            assert!(types.contains(&ty), "{name}: no stateful {ty} renamed");
        }
        let before = fs::read(dir.path().join("eks.tf.json")).expect("eks.tf.json");
        let err = write_module(dir.path(), &synth(&forgot))
            .expect_err("renames without moved entries")
            .to_string();
        assert!(
            err.contains(&format!(
                "terraform would destroy {} stateful resource(s)",
                renamed.len()
            )),
            "{name}: {err}"
        );
        for (old, new) in &renamed {
            let (ty, old_name) = old.split_once('.').expect("type.name");
            for expected in [
                format!("  - {old} ("),
                format!(") looks renamed to {new} ("),
                format!("add `.moved_from(\"{ty}\", \"{old_name}\")` to the construct of {new}"),
                format!(r#"{{"moved": [{{"from": "{old}", "to": "{new}"}}]}}"#),
                format!("--allow-destroy {old}\n"),
            ] {
                assert!(
                    err.contains(&expected),
                    "{name}: missing `{expected}` in:\n{err}"
                );
            }
        }
        assert_eq!(
            fs::read(dir.path().join("eks.tf.json")).expect("eks.tf.json"),
            before,
            "{name}: a refused synth wrote"
        );

        // With them: written, nothing destroyed, and each resource moves.
        let mut kept = build(&env).expect("builds");
        assert_eq!(rename_stateful(&mut kept, true), renamed);
        let module = synth(&kept);
        let report = write_module(dir.path(), &module).expect("renames with moved entries");
        assert_eq!(report.assessment.destroyed, [], "{name}");
        assert_eq!(report.assessment.renames, [], "{name}");
        let changes = diff(
            &blocks(&original.files).expect("blocks"),
            &blocks(&module.files).expect("blocks"),
        );
        let moves: Vec<(String, String)> = changes
            .iter()
            .filter_map(|c| match c {
                Change::Moved { from, to, .. } => Some((from.clone(), to.clone())),
                _ => None,
            })
            .collect();
        let mut expected = renamed.clone();
        expected.sort();
        assert_eq!(moves, expected, "{name}");
        assert!(
            !changes
                .iter()
                .any(|c| matches!(c, Change::Removed(a) | Change::Added(a)
                if resource_type(a).is_some())),
            "{name}: a resource is removed or added: {changes:?}"
        );
    }
}
