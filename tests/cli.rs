//! The `infra` command as a user runs it: real processes, real directories.
#![allow(clippy::unwrap_used)] // a panic in a test helper is a failed test with its location

mod common;

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use common::{infra, repo, scratch_root, stderr, stdout};
use serde_json::Value;

fn synth_into(env: &str, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["synth", env, "--out", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    infra(&args)
}

fn json(path: &Path) -> Value {
    serde_json::from_slice(&fs::read(path).unwrap()).unwrap()
}

/// Every file under `dir` with its bytes, sorted: a before/after picture.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(d) = pending.pop() {
        for entry in fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let rel = path.strip_prefix(dir).unwrap().display().to_string();
                out.push((rel, fs::read(&path).unwrap()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn synth_writes_one_root_module_per_environment() {
    let out = tempfile::tempdir().unwrap();
    let o = synth_into("staging", out.path(), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).starts_with("synthesized staging: stacks network, iam, eks, app"));
    for file in [
        "terraform.tf.json",
        "providers.tf.json",
        "variables.tf.json",
        "network.tf.json",
        "iam.tf.json",
        "eks.tf.json",
        "app.tf.json",
        "manifest.json",
        // Argo CD's projects and root Application: with GitOps on, the
        // service's chart travels in the GitOps tree instead.
        "charts/argocd-bootstrap/Chart.yaml",
    ] {
        assert!(out.path().join(file).is_file(), "{file} missing");
    }
    let tf = json(&out.path().join("terraform.tf.json"));
    assert_eq!(
        tf["terraform"]["backend"]["local"]["path"], "terraform.staging.tfstate",
        "each environment keeps its own state"
    );
    let keys: Vec<&String> = tf.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        ["terraform"],
        "the terraform block lives alone in its file"
    );
    let manifest = json(&out.path().join("manifest.json"));
    assert_eq!(manifest["environment"], "staging");
    assert_eq!(manifest["stacks"].as_array().unwrap().len(), 4);
}

#[test]
fn synth_is_byte_for_byte_deterministic() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    assert!(synth_into("production", a.path(), &[]).status.success());
    assert!(synth_into("production", b.path(), &[]).status.success());
    // What terraform reads, through the links; generation directories are
    // named per run.
    let module = |dir: &Path| -> Vec<(String, Vec<u8>)> {
        snapshot(dir)
            .into_iter()
            .filter(|(path, _)| !path.starts_with(".synth/"))
            .collect()
    };
    assert_eq!(module(a.path()), module(b.path()));
    assert!(!module(a.path()).is_empty());
}

#[test]
fn a_stack_subset_carries_only_the_aws_provider() {
    let out = tempfile::tempdir().unwrap();
    let o = synth_into("staging", out.path(), &["--stacks", "network,iam,eks"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!out.path().join("app.tf.json").exists());
    let providers = json(&out.path().join("providers.tf.json"));
    let names: Vec<&String> = providers["provider"].as_object().unwrap().keys().collect();
    assert_eq!(names, ["aws"]);
    let tf = json(&out.path().join("terraform.tf.json"));
    let required: Vec<&String> = tf["terraform"]["required_providers"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(required, ["aws"]);
}

#[test]
fn switching_to_the_full_environment_then_back_removes_only_our_files() {
    let out = tempfile::tempdir().unwrap();
    assert!(synth_into("staging", out.path(), &[]).status.success());
    fs::create_dir(out.path().join(".terraform")).unwrap();
    fs::write(out.path().join(".terraform/environment"), "x").unwrap();
    fs::write(out.path().join(".terraform.lock.hcl"), "lock").unwrap();
    fs::write(
        out.path().join("terraform.staging.tfstate"),
        "{\"state\": 1}",
    )
    .unwrap();
    let o = synth_into("staging", out.path(), &["--stacks", "network,iam,eks"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!out.path().join("app.tf.json").exists());
    assert!(!out.path().join("chart").exists());
    assert_eq!(
        fs::read_to_string(out.path().join(".terraform.lock.hcl")).unwrap(),
        "lock"
    );
    assert_eq!(
        fs::read_to_string(out.path().join("terraform.staging.tfstate")).unwrap(),
        "{\"state\": 1}"
    );
    assert_eq!(
        fs::read_to_string(out.path().join(".terraform/environment")).unwrap(),
        "x"
    );
}

#[test]
fn production_cannot_be_written_over_staging_state() {
    let out = tempfile::tempdir().unwrap();
    assert!(synth_into("staging", out.path(), &[]).status.success());
    fs::write(out.path().join("terraform.staging.tfstate"), "{}").unwrap();
    let before = snapshot(out.path());
    let o = synth_into("production", out.path(), &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o)
            .contains("initialised for environment `staging`; refusing to write `production`"),
        "{}",
        stderr(&o)
    );
    assert_eq!(before, snapshot(out.path()));
}

#[test]
fn unknown_environment_lists_the_known_ones() {
    let o = infra(&["synth", "stagin", "--out", "/nonexistent/never-written"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("stagin"), "{err}");
    assert!(
        err.contains("production") && err.contains("staging"),
        "{err}"
    );
    assert!(!Path::new("/nonexistent/never-written").exists());
}

#[test]
fn unknown_stack_is_an_error_naming_the_known_ones() {
    let out = tempfile::tempdir().unwrap();
    let o = synth_into("staging", out.path(), &["--stacks", "network,dns"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("unknown stack `dns` (known stacks: network, iam, eks, app)"),
        "{}",
        stderr(&o)
    );
}

/// Bad config: each edit of a valid file, and what the error must say.
const BAD_CONFIGS: &[(&str, &str, &str, &[&str])] = &[
    (
        "an unknown key",
        "region = ",
        "regoin = \"eu-west-1\"\nregion = ",
        &["staging.toml", "regoin"],
    ),
    (
        "an invalid VPC CIDR",
        "vpc_cidr = \"10.10.0.0/16\"",
        "vpc_cidr = \"10.300.0.0/16\"",
        &["staging.toml", "vpc_cidr", "line 10", "not an IPv4 address"],
    ),
    (
        "subnets that do not fit the VPC",
        "vpc_cidr = \"10.10.0.0/16\"",
        "vpc_cidr = \"10.10.0.0/24\"",
        &["staging.toml", "network"],
    ),
    (
        "a service CIDR overlapping the VPC",
        "service_ipv4_cidr = \"172.20.0.0/16\"",
        "service_ipv4_cidr = \"10.10.0.0/16\"",
        &["staging.toml", "cluster.service_ipv4_cidr", "overlap"],
    ),
    (
        "fewer availability zones than the policy requires",
        "azs = [\"eu-west-1a\", \"eu-west-1b\"]",
        "azs = [\"eu-west-1a\"]",
        &["staging.toml", "network.azs"],
    ),
    (
        "a node group whose minimum exceeds its maximum",
        "min_size = 2",
        "min_size = 5",
        &["staging.toml", "node_groups[0]", "min_size"],
    ),
    (
        "a bad Kubernetes version",
        "kubernetes_version = \"1.32\"",
        "kubernetes_version = \"v1.x\"",
        &["staging.toml", "cluster.kubernetes_version"],
    ),
];

#[test]
fn bad_config_is_named_and_leaves_previous_output_untouched() {
    let root = scratch_root();
    let root_arg = root.path().to_str().unwrap().to_owned();
    let out = tempfile::tempdir().unwrap();
    let out_arg = out.path().to_str().unwrap().to_owned();
    let synth = |root: &str| infra(&["synth", "staging", "--out", &out_arg, "--root", root]);
    assert!(synth(&root_arg).status.success());
    fs::write(out.path().join("terraform.staging.tfstate"), "state").unwrap();
    let before = snapshot(out.path());
    let config = root.path().join("stacks/config/staging.toml");
    let good = fs::read_to_string(&config).unwrap();
    for (what, find, replace, expected) in BAD_CONFIGS {
        assert!(
            good.contains(find),
            "staging.toml no longer contains `{find}` ({what})"
        );
        fs::write(&config, good.replacen(find, replace, 1)).unwrap();
        let o = synth(&root_arg);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{what}: {err}");
        for needle in *expected {
            assert!(
                err.contains(needle),
                "{what}: error does not mention `{needle}`:\n{err}"
            );
        }
        assert_eq!(before, snapshot(out.path()), "{what}: output changed");
    }
}

#[test]
fn validate_checks_and_writes_nothing() {
    let o = infra(&["validate", "production"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("pass every check"), "{}", stdout(&o));
}

#[test]
fn list_shows_environments_stacks_and_blocks() {
    let o = infra(&["list"]);
    assert!(o.status.success());
    assert!(stdout(&o).contains("environments: production, staging"));
    let o = infra(&["list", "staging"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(
        text.contains("network (") && text.contains("  aws_vpc.main"),
        "{text}"
    );
    assert!(text.contains("  output.cluster_name"), "{text}");
}

#[test]
fn diff_against_the_output_directory() {
    let out = tempfile::tempdir().unwrap();
    let out_arg = out.path().to_str().unwrap();
    assert!(synth_into("staging", out.path(), &[]).status.success());
    let same = infra(&["diff", "staging", "--out", out_arg]);
    assert_eq!(
        same.status.code(),
        Some(0),
        "{}{}",
        stdout(&same),
        stderr(&same)
    );
    assert!(stdout(&same).contains("0 added, 0 removed, 0 changed"));

    let subset = tempfile::tempdir().unwrap();
    let subset_arg = subset.path().to_str().unwrap();
    assert!(
        synth_into("staging", subset.path(), &["--stacks", "network,iam,eks"])
            .status
            .success()
    );
    let o = infra(&["diff", "staging", "--out", subset_arg]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "compares the stacks the directory holds: {}",
        stdout(&o)
    );

    let network = out.path().join("network.tf.json");
    let edited = fs::read_to_string(&network).unwrap().replacen(
        "\"enable_dns_hostnames\": true",
        "\"enable_dns_hostnames\": false",
        1,
    );
    fs::write(&network, edited).unwrap();
    let differs = infra(&["diff", "staging", "--out", out_arg]);
    assert_eq!(differs.status.code(), Some(1));
    assert!(
        stdout(&differs).contains("~ aws_vpc.main\n    enable_dns_hostnames: false -> true"),
        "{}",
        stdout(&differs)
    );
}

#[test]
fn diff_between_environments_shows_the_intended_differences() {
    let o = infra(&["diff", "staging", "production"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let text = stdout(&o);
    // Production: a third zone with its own subnets, and a NAT gateway per zone.
    for added in [
        "+ aws_subnet.private_c\n",
        "+ aws_subnet.public_c\n",
        "+ aws_nat_gateway.b\n",
        "+ aws_nat_gateway.c\n",
        "+ aws_eip.nat_c\n",
    ] {
        assert!(text.contains(added), "{added}missing from:\n{text}");
    }
    assert!(
        text.contains("    capacity_type: \"SPOT\" -> \"ON_DEMAND\"\n"),
        "{text}"
    );
    assert!(
        !text.contains("\n- "),
        "production removes nothing staging has:\n{text}"
    );
}

#[test]
fn diff_of_an_unknown_environment_or_directory_exits_2() {
    let o = infra(&["diff", "staging", "qa"]);
    assert_eq!(o.status.code(), Some(2));
    let o = infra(&["diff", "staging", "--out", "/nonexistent/cdktf.out"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains(
            "there is no synthesized output in /nonexistent/cdktf.out yet; make one with \
             `infra synth staging --out /nonexistent/cdktf.out`"
        ),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_subset_missing_its_dependencies_says_which_stacks_to_add() {
    let out = tempfile::tempdir().unwrap();
    let o = synth_into("staging", out.path(), &["--stacks", "eks"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o)
            .contains("--stacks: the selected stacks depend on stack(s) iam, network; add them"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        fs::read_dir(out.path()).unwrap().count(),
        0,
        "nothing written"
    );
}

#[test]
fn a_bad_state_bucket_name_is_refused() {
    let out = tempfile::tempdir().unwrap();
    let o = synth_into("staging", out.path(), &["--state-bucket", "Bad_Bucket/x"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--state-bucket `Bad_Bucket/x` is not an S3 bucket name"),
        "{}",
        stderr(&o)
    );
    let o = synth_into(
        "staging",
        out.path(),
        &["--state-bucket", "example-org-webapp-tfstate"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let tf = json(&out.path().join("terraform.tf.json"));
    assert_eq!(
        tf["terraform"]["backend"]["s3"]["key"],
        "staging/terraform.tfstate"
    );
    assert_eq!(tf["terraform"]["backend"]["s3"]["use_lockfile"], true);
}

#[test]
fn errors_exit_2_even_when_stderr_is_closed() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_infra"))
        .args(["synth", "no-such-env", "--out", "/nonexistent/x"])
        .current_dir(repo())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stderr.take());
    assert_eq!(child.wait().unwrap().code(), Some(2));
}

#[test]
fn help_is_useful_at_every_level() {
    let o = infra(&["--help"]);
    assert!(stdout(&o).contains("synth") && stdout(&o).contains("terraform -chdir=cdktf.out"));
    for cmd in ["synth", "validate", "list", "diff"] {
        let o = infra(&[cmd, "--help"]);
        assert!(o.status.success());
        assert!(stdout(&o).contains("Usage: infra"), "{cmd}");
    }
    assert!(stdout(&infra(&["diff", "--help"]))
        .contains("Exit status: 0 no differences, 1 differences, 2 error"));
}

#[test]
fn diff_shows_a_changed_floor_on_its_own_line() {
    let root = scratch_root();
    let root_arg = root.path().to_str().unwrap();
    let out = tempfile::tempdir().unwrap();
    let out_arg = out.path().to_str().unwrap();
    let o = infra(&["synth", "staging", "--out", out_arg, "--root", root_arg]);
    assert!(o.status.success(), "{}", stderr(&o));
    let floors = root.path().join("stacks/policy/staging.toml");
    let text = fs::read_to_string(&floors).unwrap();
    fs::write(
        &floors,
        text.replacen("max_addresses = 4096", "max_addresses = 8192", 1),
    )
    .unwrap();
    let o = infra(&["diff", "staging", "--out", out_arg, "--root", root_arg]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(
        text.contains("~ policy\n    public_api.max_addresses: 4096 -> 8192\n"),
        "{text}"
    );
    assert!(text.contains("0 added, 0 removed, 1 changed"), "{text}");
}

#[test]
fn an_os_error_is_told_once() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain-file");
    fs::write(&file, "not a directory").unwrap();
    let out = file.join("out");
    let o = synth_into("staging", &out, &[]);
    assert_eq!(o.status.code(), Some(2));
    let text = stderr(&o);
    assert_eq!(text.matches("(os error").count(), 1, "{text}");
}

/// A local state file holding every managed resource synthesized in `out`,
/// as after a complete apply.
fn applied_state(out: &Path, env: &str) {
    let mut held = Vec::new();
    for entry in fs::read_dir(out).unwrap() {
        let path = entry.unwrap().path();
        if !path.to_string_lossy().ends_with(".tf.json") {
            continue;
        }
        let doc = json(&path);
        for (ty, named) in doc["resource"].as_object().into_iter().flatten() {
            for name in named.as_object().unwrap().keys() {
                held.push(
                    serde_json::json!({"mode": "managed", "type": ty, "name": name,
                    "provider": "p", "instances": [{"attributes": {}}]}),
                );
            }
        }
    }
    let state = serde_json::json!({"version": 4, "serial": 1, "lineage": "l", "resources": held});
    fs::write(
        out.join(format!("terraform.{env}.tfstate")),
        state.to_string(),
    )
    .unwrap();
}

#[test]
fn a_subset_that_would_drop_stateful_resources_from_state_is_refused() {
    let out = tempfile::tempdir().unwrap();
    assert!(synth_into("staging", out.path(), &[]).status.success());
    applied_state(out.path(), "staging");
    let before = snapshot(out.path());
    let o = synth_into("staging", out.path(), &["--stacks", "network"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    for expected in [
        "terraform would destroy 17 stateful resource(s) that its state holds (the local state file terraform.staging.tfstate)",
        "aws_kms_key.eks_secrets (everything encrypted with it, unreadable once the key is gone) is declared in stack `iam`",
        "aws_eks_cluster.main (the cluster and every Kubernetes object in it) is declared in stack `eks`, which --stacks leaves out",
        "to keep it: add `eks` to --stacks",
        "to destroy it on purpose: --allow-destroy aws_eks_cluster.main",
        "aws_ecr_repository.service (every image pushed to it)",
        "Nothing was written.",
    ] {
        assert!(err.contains(expected), "missing `{expected}` in:\n{err}");
    }
    assert_eq!(before, snapshot(out.path()));

    // Allowed by address: written, and each destroy is told.
    let allowed = "aws_cloudwatch_log_group.cluster,aws_cloudwatch_log_group.secret_rotation,\
                   aws_ecr_repository.service,aws_eks_cluster.main,aws_eks_node_group.monitoring,\
                   aws_eks_node_group.system,aws_kms_key.app_secrets,aws_kms_key.eks_secrets,\
                   aws_kms_key.loki,aws_s3_bucket.loki_chunks,aws_s3_bucket.loki_ruler,\
                   aws_secretsmanager_secret.app_secret,aws_sns_topic.alerts,\
                   aws_sqs_queue.karpenter_interruption,kubernetes_namespace_v1.app,\
                   kubernetes_namespace_v1.external_secrets,kubernetes_namespace_v1.monitoring";
    let o = synth_into(
        "staging",
        out.path(),
        &["--stacks", "network", "--allow-destroy", allowed],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(
            "warning: terraform will destroy aws_eks_cluster.main (the cluster and every \
             Kubernetes object in it) on the next apply: allowed by --allow-destroy"
        ),
        "{}",
        stderr(&o)
    );
    // An address this synth does not destroy (a typo) is said, not ignored.
    // The state still holds the other stacks: each synth must allow them.
    let o = synth_into(
        "staging",
        out.path(),
        &[
            "--stacks",
            "network",
            "--allow-destroy",
            &format!("{allowed},aws_kms_key.logz"),
        ],
    );
    assert!(
        stderr(&o).contains(
            "note: --allow-destroy aws_kms_key.logz: this synth takes no stateful resource of \
             that address out of the state"
        ),
        "{}",
        stderr(&o)
    );
    let o = synth_into("staging", out.path(), &["--allow-destroy", "eks.main"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--allow-destroy `eks.main` is not a resource address"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_node_group_renamed_in_config_takes_a_moved_entry_there() {
    let root = scratch_root();
    let config = root.path().join("stacks/config/staging.toml");
    let out = tempfile::tempdir().unwrap();
    let synth = |command: &[&str]| {
        let mut args = command.to_vec();
        args.extend_from_slice(&[
            "--root",
            root.path().to_str().unwrap(),
            "--out",
            out.path().to_str().unwrap(),
        ]);
        infra(&args)
    };
    assert!(synth(&["synth", "staging"]).status.success());
    applied_state(out.path(), "staging");
    let text = fs::read_to_string(&config).unwrap();
    // The group, and Karpenter's reference to it, which the config checks.
    let renamed = text
        .replacen(
            "[[node_groups]]\nname = \"system\"",
            "[[node_groups]]\nname = \"core\"",
            1,
        )
        .replacen(
            "controller_node_group = \"system\"",
            "controller_node_group = \"core\"",
            1,
        );
    assert_eq!(renamed.matches("\"core\"").count(), 2, "{renamed}");
    fs::write(&config, &renamed).unwrap();

    // `diff` shows it before a synth is tried.
    let o = synth(&["diff", "staging"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let report = stdout(&o);
    for expected in [
        "stateful resources this takes out of the state (the local state file terraform.staging.tfstate)",
        "aws_eks_node_group.system (its nodes, and the pods running on them are evicted) looks renamed to aws_eks_node_group.core",
        "likely renames without a moved entry",
        "aws_launch_template.node_system -> aws_launch_template.node_core",
    ] {
        assert!(report.contains(expected), "missing `{expected}` in:\n{report}");
    }
    let o = synth(&["synth", "staging"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains(
            r#"{"moved": [{"from": "aws_eks_node_group.system", "to": "aws_eks_node_group.core"}]}"#
        ),
        "{}",
        stderr(&o)
    );

    let moved = "[[state.moved]]\nfrom = \"aws_eks_node_group.system\"\nto = \"aws_eks_node_group.core\"\n\n\
                 [[state.moved]]\nfrom = \"aws_launch_template.node_system\"\nto = \"aws_launch_template.node_core\"\n";
    fs::write(&config, format!("{renamed}\n{moved}")).unwrap();
    let o = synth(&["diff", "staging"]);
    let report = stdout(&o);
    assert!(
        report.contains("> aws_eks_node_group.system -> aws_eks_node_group.core (moved)"),
        "{report}"
    );
    assert!(!report.contains("likely renames"), "{report}");
    let o = synth(&["synth", "staging"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stderr(&o).contains("looks renamed"), "{}", stderr(&o));
}
