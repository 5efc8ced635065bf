//! Karpenter's blocks in the shipped environments, its controller policy
//! against IAM's size limit, and its custom resources as configured.

use std::path::Path;

use serde_json::Value;
use synth::{Address, App, Expr};

use super::*;
use crate::config::Environment;

fn environment(name: &str) -> Environment {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    crate::load_environment(&root, name).expect("shipped config")
}

/// IAM's limit on a managed policy document, whitespace not counted.
const MANAGED_POLICY_LIMIT: usize = 6144;

/// The controller's policies as IAM will store them, for the longest names
/// the config allows: a 32-character cluster name, the longest partition and
/// region names.
fn worst_case_policies() -> Vec<(&'static str, String)> {
    let cluster = "a".repeat(32);
    let partition = Partition::of("us-gov-west-1");
    let account =
        Expr::reference(Address::data("aws_caller_identity", "current")).attr("account_id");
    let node_role =
        Expr::reference(Address::resource("aws_iam_role", "karpenter_node")).attr("arn");
    let queue = Expr::reference(Address::resource("aws_sqs_queue", "q")).attr("arn");
    // A test fixture: the caller identity's account id, a string.
    let account_id = synth::Value::<synth::ty::String>::assume(account.clone());
    let scope = Scope {
        cluster: &cluster,
        partition: &partition,
        account_id: &account_id,
        node_role_arn: node_role.clone(),
        queue_arn: queue.clone(),
    };
    let mut fill_in = |unknown: &Expr| {
        let text = if *unknown == account {
            "123456789012".to_owned()
        } else if *unknown == node_role {
            format!("arn:aws-us-gov:iam::123456789012:role/{cluster}-karpenter-node")
        } else if *unknown == queue {
            format!("arn:aws-us-gov:sqs:us-gov-west-1:123456789012:{cluster}-karpenter")
        } else {
            panic!("unexpected unknown {}", unknown.to_hcl())
        };
        Value::String(text)
    };
    controller_policies(&scope)
        .into_iter()
        .map(|(part, _, statements)| {
            let value = synth::Expr::from(crate::aws::policy(statements)).evaluate(&mut fill_in);
            (
                part,
                value
                    .as_str()
                    .expect("jsonencode gives a string")
                    .to_owned(),
            )
        })
        .collect()
}

#[test]
fn the_controller_policies_fit_iams_limit_for_the_longest_names() {
    let policies = worst_case_policies();
    let mut sids = Vec::new();
    for (part, document) in &policies {
        let counted = document.chars().filter(|c| !c.is_whitespace()).count();
        assert!(
            counted <= MANAGED_POLICY_LIMIT,
            "{part}: {counted} characters, over IAM's limit"
        );
        let parsed: Value = serde_json::from_str(document).expect("policy JSON");
        for statement in parsed["Statement"].as_array().expect("statements") {
            sids.push((
                *part,
                statement["Sid"].as_str().unwrap_or_default().to_owned(),
            ));
        }
    }
    // Together they are one policy too long for IAM: the split is needed.
    let together: usize = policies.iter().map(|(_, d)| d.len()).sum();
    assert!(together > MANAGED_POLICY_LIMIT, "{together}");
    let lifecycle: Vec<&str> = sids
        .iter()
        .filter(|(part, _)| *part == "node-lifecycle")
        .map(|(_, sid)| sid.as_str())
        .collect();
    assert_eq!(
        lifecycle,
        [
            "AllowScopedEC2InstanceAccessActions",
            "AllowScopedEC2LaunchTemplateAccessActions",
            "AllowScopedEC2InstanceActionsWithTags",
            "AllowScopedResourceCreationTagging",
            "AllowScopedResourceTagging",
            "AllowScopedDeletion",
        ]
    );
    assert_eq!(sids.len(), 17, "{sids:?}");
}

#[test]
fn every_write_is_conditioned_on_the_clusters_tag() {
    let cluster_tag = format!("kubernetes.io/cluster/{}", "a".repeat(32));
    for (_, document) in worst_case_policies() {
        let parsed: Value = serde_json::from_str(&document).expect("policy JSON");
        for statement in parsed["Statement"].as_array().expect("statements") {
            let sid = statement["Sid"].as_str().unwrap_or_default();
            let actions = statement["Action"].to_string();
            let writes = [
                "Run",
                "Create",
                "Terminate",
                "Delete",
                "Tag",
                "AddRole",
                "RemoveRole",
            ]
            .iter()
            .any(|verb| {
                actions.contains(&format!("ec2:{verb}")) || actions.contains(&format!("iam:{verb}"))
            });
            // Launching uses images, subnets and security groups that are not
            // the cluster's own; the queue and the node role are named by ARN.
            if !writes || sid == "AllowScopedEC2InstanceAccessActions" {
                continue;
            }
            assert!(
                statement["Condition"].to_string().contains(&cluster_tag),
                "{sid} writes without the cluster's tag: {statement}"
            );
        }
    }
}

/// The synthesized module of an environment, every stack, as JSON per file.
fn module(env: &Environment) -> Result<Value, String> {
    let chart = crate::chart_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join(".."));
    let app = crate::build(env, &chart).map_err(|e| e.to_string())?;
    synthesized(&app)
}

fn synthesized(app: &App) -> Result<Value, String> {
    let module = app
        .synth(&synth::SynthOptions::default())
        .map_err(|e| e.to_string())?;
    let mut merged = serde_json::Map::new();
    for (file, bytes) in module.files.iter().filter(|(f, _)| f.ends_with(".tf.json")) {
        let json: Value = serde_json::from_slice(bytes).expect("JSON");
        merged.insert(file.trim_end_matches(".tf.json").to_owned(), json);
    }
    Ok(Value::Object(merged))
}

fn block<'a>(module: &'a Value, stack: &str, ty: &str, name: &str) -> &'a Value {
    module
        .pointer(&format!("/{stack}/resource/{ty}/{name}"))
        .unwrap_or_else(|| panic!("{stack}: {ty}.{name}"))
}

#[test]
fn the_aws_side_is_the_modules_with_a_tighter_queue() {
    let module = module(&environment("staging")).expect("staging");
    let queue = block(&module, "eks", "aws_sqs_queue", "karpenter_interruption");
    assert_eq!(queue["sqs_managed_sse_enabled"], true);
    assert_eq!(queue["message_retention_seconds"], 300);
    let queue_policy = block(
        &module,
        "eks",
        "aws_sqs_queue_policy",
        "karpenter_interruption",
    )["policy"]
        .as_str()
        .expect("policy")
        .to_owned();
    for expected in [
        r#""Effect" = "Deny""#,
        r#""aws:SecureTransport" = "false""#,
        r#""Service" = "events.amazonaws.com""#,
        "aws_cloudwatch_event_rule.karpenter_spot_interruption.arn",
    ] {
        assert!(
            queue_policy.contains(expected),
            "{expected}: {queue_policy}"
        );
    }
    let rules = module["eks"]["resource"]["aws_cloudwatch_event_rule"]
        .as_object()
        .expect("rules");
    let patterns: Vec<&str> = rules
        .values()
        .map(|r| r["event_pattern"].as_str().unwrap_or_default())
        .collect();
    for detail in [
        "EC2 Spot Instance Interruption Warning",
        "EC2 Instance Rebalance Recommendation",
        "EC2 Instance State-change Notification",
        "AWS Health Event",
    ] {
        assert!(patterns.iter().any(|p| p.contains(detail)), "{detail}");
    }
    for (name, _) in rules {
        let target = block(&module, "eks", "aws_cloudwatch_event_target", name);
        assert_eq!(target["arn"], "${aws_sqs_queue.karpenter_interruption.arn}");
        assert_eq!(
            target["rule"],
            format!("${{aws_cloudwatch_event_rule.{name}.name}}")
        );
    }

    let entry = block(&module, "eks", "aws_eks_access_entry", "karpenter_node");
    assert_eq!(entry["type"], "EC2_LINUX");
    assert_eq!(entry["principal_arn"], "${aws_iam_role.karpenter_node.arn}");
    let tag = block(&module, "eks", "aws_ec2_tag", "karpenter_discovery");
    assert_eq!(
        tag["resource_id"],
        "${aws_eks_cluster.main.vpc_config[0].cluster_security_group_id}"
    );
    assert_eq!(
        (&tag["key"], &tag["value"]),
        (&Value::from(DISCOVERY_TAG), &Value::from("webapp-staging"))
    );
    for (name, subnet) in module["network"]["resource"]["aws_subnet"]
        .as_object()
        .expect("subnets")
    {
        let discovery = subnet["tags"].get(DISCOVERY_TAG);
        if name.starts_with("private") {
            assert_eq!(discovery, Some(&Value::from("webapp-staging")), "{name}");
        } else {
            assert_eq!(discovery, None, "{name}");
        }
    }
    let node_role = block(&module, "iam", "aws_iam_role", "karpenter_node");
    assert!(node_role["assume_role_policy"]
        .as_str()
        .is_some_and(|t| t.contains(r#""Service" = "ec2.amazonaws.com""#)));
    let mut attached: Vec<String> = module["iam"]["resource"]["aws_iam_role_policy_attachment"]
        .as_object()
        .expect("attachments")
        .values()
        .filter(|a| a["role"] == "${aws_iam_role.karpenter_node.name}")
        .map(|a| a["policy_arn"].as_str().unwrap_or_default().to_owned())
        .collect();
    let mut expected: Vec<String> = NODE_POLICIES
        .iter()
        .map(|p| format!("arn:aws:iam::aws:policy/{p}"))
        .collect();
    attached.sort();
    expected.sort();
    assert_eq!(attached, expected);
}

#[test]
fn the_controller_runs_on_the_system_group_before_anything_needs_its_nodes() {
    let module = module(&environment("production")).expect("production");
    let release = block(&module, "app", "helm_release", "karpenter");
    assert_eq!(
        (
            &release["repository"],
            &release["chart"],
            &release["version"]
        ),
        (
            &Value::from("oci://public.ecr.aws/karpenter"),
            &Value::from("karpenter"),
            &Value::from("1.14.1")
        )
    );
    let values = release["values"][0].as_str().expect("values");
    for expected in [
        r#""nodeSelector" = { "eks.amazonaws.com/nodegroup" = "system" }"#,
        r#""tolerations" = [{ "effect" = "NoSchedule", "key" = "CriticalAddonsOnly", "operator" = "Equal", "value" = "true" }]"#,
        r#""interruptionQueue" = aws_sqs_queue.karpenter_interruption.name"#,
        r#""eks.amazonaws.com/role-arn" = aws_iam_role.karpenter_controller.arn"#,
    ] {
        assert!(values.contains(expected), "{expected}: {values}");
    }
    let system = block(&module, "eks", "aws_eks_node_group", "system");
    assert_eq!(
        system["taint"],
        serde_json::json!([{"key": "CriticalAddonsOnly", "value": "true", "effect": "NO_SCHEDULE"}])
    );
    assert!(
        system.pointer("/lifecycle/ignore_changes").is_none(),
        "the config owns the group's size"
    );
    assert_eq!(
        system["lifecycle"],
        serde_json::json!({"prevent_destroy": true}),
        "production keeps the nodes Karpenter's controller runs on"
    );

    let node_pools = block(&module, "app", "helm_release", "karpenter_node_pools");
    let after: Vec<&str> = node_pools["depends_on"]
        .as_array()
        .expect("depends_on")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for owner in [
        "helm_release.karpenter",
        "aws_eks_access_entry.karpenter_node",
        "aws_ec2_tag.karpenter_discovery",
    ] {
        assert!(after.contains(&owner), "{owner}: {after:?}");
    }
    // The service follows these two, so it follows the NodePools too.
    for later in ["metrics_server", "aws_load_balancer_controller"] {
        let depends = block(&module, "app", "helm_release", later)["depends_on"].to_string();
        assert!(
            depends.contains("helm_release.karpenter_node_pools"),
            "{later}: {depends}"
        );
    }
}

#[test]
fn node_pools_are_the_configs() {
    let module = module(&environment("production")).expect("production");
    let locals = &module["app"]["locals"];
    let pool = &locals["karpenter_node_pool_general"];
    let requirement = |key: &str| {
        pool["spec"]["template"]["spec"]["requirements"]
            .as_array()
            .expect("requirements")
            .iter()
            .find(|r| r["key"] == key)
            .cloned()
            .unwrap_or_else(|| panic!("{key}"))
    };
    assert_eq!(
        requirement("karpenter.sh/capacity-type")["values"],
        serde_json::json!(["on-demand"])
    );
    assert_eq!(
        requirement("karpenter.k8s.aws/instance-generation"),
        serde_json::json!({"key": "karpenter.k8s.aws/instance-generation", "operator": "Gt", "values": ["5"]})
    );
    assert_eq!(
        pool["spec"]["limits"],
        serde_json::json!({"cpu": "64", "memory": "256Gi"})
    );
    assert_eq!(
        pool["spec"]["disruption"]["budgets"][1],
        serde_json::json!({"nodes": "0", "reasons": ["Underutilized"], "schedule": "0 7 * * mon-fri", "duration": "11h"})
    );
    let class = &locals["karpenter_node_class"]["spec"];
    assert_eq!(class["role"], "${aws_iam_role.karpenter_node.name}");
    assert_eq!(
        class["amiSelectorTerms"],
        serde_json::json!([{"alias": "al2023@v20260714"}])
    );
    assert_eq!(class["metadataOptions"]["httpTokens"], "required");
    assert_eq!(class["blockDeviceMappings"][0]["ebs"]["encrypted"], true);
    assert_eq!(class["tags"]["ManagedBy"], "karpenter");
    assert_eq!(class["tags"]["Environment"], "production");
    let staging = module_of("staging");
    let capacity = &staging["app"]["locals"]["karpenter_node_pool_general"]["spec"]["template"]
        ["spec"]["requirements"][2];
    assert_eq!(capacity["values"], serde_json::json!(["spot", "on-demand"]));
}

fn module_of(name: &str) -> Value {
    module(&environment(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn spot_in_production_fails_synthesis_even_past_the_config_check() {
    let mut env = environment("production");
    // The config check refuses this at load; the policy is the second line,
    // for what is changed after the config was read.
    env.config.karpenter.node_pools[0]
        .capacity_types
        .insert(0, crate::config::NodeCapacity::Spot);
    let errors = module(&env).expect_err("spot in production");
    assert!(
        errors.contains(
            "local.karpenter_node_pool_general: policy `no-spot` violated: NodePool allows spot capacity"
        ),
        "{errors}"
    );
    // Staging's floors allow it.
    assert!(module(&environment("staging")).is_ok());
}

/// Synthesis errors of an environment after `change` to its blocks.
fn errors_after(name: &str, change: impl FnMut(&mut synth::Resource)) -> String {
    let chart = crate::chart_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join(".."));
    let mut app = crate::build(&environment(name), &chart).expect("build");
    app.visit_resources_mut(change);
    synthesized(&app).expect_err("the change must be refused")
}

#[test]
fn nodes_acting_as_the_cluster_role_fail_synthesis() {
    let errors = errors_after("staging", |r| {
        if r.ty() == "aws_eks_access_entry" && r.name() == "karpenter_node" {
            r.set(
                "principal_arn",
                Expr::reference(Address::resource("aws_iam_role", "cluster")).attr("arn"),
            );
        }
    });
    assert!(
        errors.contains(
            "aws_eks_access_entry.karpenter_node: policy `node-role-not-cluster-role` violated: \
             nodes would act as the cluster's role aws_iam_role.cluster"
        ),
        "{errors}"
    );
}

#[test]
fn an_unencrypted_interruption_queue_fails_synthesis() {
    let errors = errors_after("production", |r| {
        if r.ty() == "aws_sqs_queue" {
            r.remove_path("sqs_managed_sse_enabled");
        }
    });
    assert!(
        errors.contains(
            "aws_sqs_queue.karpenter_interruption: policy `encryption-at-rest` violated: queue has \
             neither sqs_managed_sse_enabled = true nor a kms_master_key_id"
        ),
        "{errors}"
    );
}

#[test]
fn discovery_tags_go_on_private_subnets_and_one_security_group_only() {
    let errors = errors_after("staging", |r| {
        if r.ty() == "aws_subnet" && r.name() == "public_a" {
            r.set(
                "tags",
                Expr::object([("Name", "public"), (DISCOVERY_TAG, "webapp-staging")]),
            );
        }
        if r.ty() == "aws_default_security_group" {
            r.set(
                "tags",
                Expr::object([("Name", "default"), (DISCOVERY_TAG, "webapp-staging")]),
            );
        }
    });
    assert!(
        errors.contains(
            "aws_subnet.public_a: policy `karpenter-discovery` violated: carries karpenter.sh/discovery \
             but is not a private subnet"
        ),
        "{errors}"
    );
    let errors = errors_after("staging", |r| {
        if r.ty() == "aws_ec2_tag" {
            r.set("key", "karpenter.sh/discover");
        }
    });
    assert!(
        errors.contains(
            "aws_eks_cluster.main: policy `karpenter-discovery` violated: 0 security groups carry \
             karpenter.sh/discovery"
        ),
        "{errors}"
    );
}

#[test]
fn the_environments_node_pools_differ_as_config_values() {
    let files = |name: &str| {
        let chart = crate::chart_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join(".."));
        let app = crate::build(&environment(name), &chart).expect("build");
        let module = app.synth(&synth::SynthOptions::default()).expect("synth");
        synth::diff::blocks(&module.files).expect("blocks")
    };
    let changes = synth::diff::diff(&files("staging"), &files("production"));
    let paths = |address: &str| -> Vec<String> {
        changes
            .iter()
            .find_map(|c| match c {
                synth::diff::Change::Changed(a, attrs) if a == address => {
                    Some(attrs.iter().map(|c| c.path.clone()).collect())
                }
                _ => None,
            })
            .unwrap_or_default()
    };
    assert_eq!(
        paths("local.karpenter_node_pool_general"),
        [
            "spec.disruption.budgets",
            "spec.disruption.consolidateAfter",
            "spec.limits.cpu",
            "spec.limits.memory",
            "spec.template.spec.expireAfter",
            "spec.template.spec.requirements.2.values",
            "spec.template.spec.requirements.4.values.0",
            "spec.template.spec.terminationGracePeriod",
        ]
    );
    // The controller's release is the same in both: what differs is data.
    assert_eq!(paths("helm_release.karpenter"), Vec::<String>::new());
    assert_eq!(
        paths("policy"),
        [
            "access.max_team_level",
            "allow_spot",
            "gitops.admin_disabled",
            "gitops.private_api",
            "gitops.required",
            "min_azs",
            "observability.min_logs_retention_days",
            "observability.min_metrics_retention_days",
            "observability.min_replicas",
            "public_api.max_addresses",
            "public_api.min_prefix",
            "require_nat_gateway_per_az",
            "require_prevent_destroy",
            "secrets.max_rotation_days",
            "secrets.min_recovery_window_days",
        ]
    );
}

#[test]
fn a_misspelt_chart_key_fails_against_the_charts_facts() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let facts = crate::upstream::ChartFacts::load(&root, CHART.name, CHART.version)
        .expect("facts of the pinned chart");
    let good = Expr::from(serde_json::json!({
        "settings": {"interruptionQueue": "q", "clusterName": "c"},
        "nodeSelector": {"eks.amazonaws.com/nodegroup": "system"},
    }));
    assert_eq!(facts.check(&good), Vec::<String>::new());
    let bad = Expr::from(serde_json::json!({"settings": {"interuptionQueue": "q"}}));
    assert_eq!(
        facts.check(&bad),
        [
            "values key `settings.interuptionQueue` is not defined by chart karpenter 1.14.1 \
          (did you mean `settings.interruptionQueue`?)"
        ]
    );
}
