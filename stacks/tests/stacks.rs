//! The stacks of the shipped environments: they build, every AWS block
//! passes the committed provider schema, the outputs others rely on exist,
//! the environments differ where their configs say so, and each policy
//! fails synthesis, naming itself and the resource, when it is violated.

use std::path::{Path, PathBuf};

use serde_json::Value;
use synth::{Address, App, Module, SynthError, SynthOptions};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn environment(name: &str) -> stacks::Environment {
    stacks::load_environment(&repo_root(), name).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn build(env: &stacks::Environment) -> App {
    stacks::build(env, &stacks::chart_dir(&repo_root()))
        .unwrap_or_else(|e| panic!("{}: {e:#}", env.name))
}

fn aws_only() -> SynthOptions {
    SynthOptions {
        stacks: Some(stacks::AWS_STACKS.iter().map(|s| (*s).to_owned()).collect()),
        tool: "test".into(),
    }
}

fn synth(app: &App) -> Result<Module, SynthError> {
    app.synth(&aws_only())
}

fn json(module: &Module, file: &str) -> Value {
    let bytes = module
        .files
        .get(file)
        .unwrap_or_else(|| panic!("{file} not synthesized"));
    serde_json::from_slice(bytes).expect("synthesized JSON")
}

/// Every resource of a type in the module, with its body.
fn resources(module: &Module, ty: &str) -> Vec<(String, Value)> {
    let mut found = Vec::new();
    for (file, _) in module.files.iter().filter(|(f, _)| f.ends_with(".tf.json")) {
        if let Some(Value::Object(of_type)) = json(module, file).pointer(&format!("/resource/{ty}"))
        {
            found.extend(
                of_type
                    .iter()
                    .map(|(name, body)| (name.clone(), body.clone())),
            );
        }
    }
    found
}

/// Synthesis errors after `change` is applied to the resource at `address`.
fn violations_after(
    app: &mut App,
    ty: &str,
    name: &str,
    change: impl FnOnce(&mut synth::Resource),
) -> String {
    let address = Address::resource(ty, name);
    let resource = app
        .stacks_mut()
        .iter_mut()
        .find_map(|s| s.find_mut(&address))
        .unwrap_or_else(|| panic!("{address} not found"));
    change(resource);
    match synth(app) {
        Ok(_) => panic!("synthesis accepted the change to {address}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn both_environments_synthesize_every_stack() {
    for name in ["staging", "production"] {
        let env = environment(name);
        let module = build(&env)
            .synth(&SynthOptions::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        for stack in stacks::STACKS {
            assert!(
                module.files.contains_key(&format!("{stack}.tf.json")),
                "{name}: {stack}"
            );
        }
    }
}

#[test]
fn aws_stacks_synthesize_alone_with_the_outputs_others_rely_on() {
    let module = synth(&build(&environment("staging"))).expect("staging AWS stacks");
    assert!(!module.files.contains_key("app.tf.json"));
    let mut outputs = Vec::new();
    for stack in stacks::AWS_STACKS {
        if let Some(Value::Object(o)) = json(&module, &format!("{stack}.tf.json")).get("output") {
            outputs.extend(o.keys().cloned());
        }
    }
    outputs.sort();
    assert_eq!(
        outputs,
        [
            "alerts_topic_arn",
            "api_tunnel",
            "ci_deployer_role_arn",
            "cluster_endpoint",
            "cluster_name",
            "configs_url",
            "ecr_repository_url",
            "kubeconfig_command",
            "load_balancer_hostname",
            "oidc_provider_arn",
            "private_subnet_ids",
            "public_subnet_ids",
            "service_url",
            "vpc_id",
        ]
    );
    let kubeconfig = json(&module, "eks.tf.json");
    assert_eq!(
        kubeconfig.pointer("/output/kubeconfig_command/value"),
        Some(&Value::from(
            "aws eks update-kubeconfig --region eu-west-1 --name ${aws_eks_cluster.main.name}"
        ))
    );
}

#[test]
fn every_resource_carries_the_default_tags_through_the_provider() {
    let module = synth(&build(&environment("production"))).expect("production");
    let providers = json(&module, "providers.tf.json");
    let tags = providers
        .pointer("/provider/aws/default_tags/tags")
        .expect("aws default_tags");
    assert_eq!(tags["Project"], "webapp");
    assert_eq!(tags["Environment"], "production");
    assert_eq!(tags["ManagedBy"], "terraform-infra");
    assert_eq!(tags["CostCenter"], "platform-production");
    assert_eq!(
        providers.pointer("/provider/aws/region"),
        Some(&Value::from("eu-west-1"))
    );
}

#[test]
fn environments_differ_where_their_configs_say() {
    let staging = synth(&build(&environment("staging"))).expect("staging");
    let production = synth(&build(&environment("production"))).expect("production");
    let count = |m: &Module, ty: &str| resources(m, ty).len();
    assert_eq!(
        (
            count(&staging, "aws_subnet"),
            count(&production, "aws_subnet")
        ),
        (4, 6)
    );
    assert_eq!(
        (
            count(&staging, "aws_nat_gateway"),
            count(&production, "aws_nat_gateway")
        ),
        (1, 3)
    );
    // Staging's private subnets all leave through its one NAT gateway.
    for (name, route) in resources(&staging, "aws_route")
        .iter()
        .filter(|(n, _)| n.starts_with("private_"))
    {
        assert_eq!(route["nat_gateway_id"], "${aws_nat_gateway.a.id}", "{name}");
    }
    let system = |m: &Module| {
        resources(m, "aws_eks_node_group")
            .into_iter()
            .find(|(name, _)| name == "system")
            .expect("the system node group")
            .1
    };
    assert_eq!(system(&staging)["capacity_type"], "SPOT");
    assert_eq!(system(&production)["capacity_type"], "ON_DEMAND");
    assert_eq!(system(&production)["scaling_config"]["min_size"], 3);
}

#[test]
fn network_layout_is_the_configured_one() {
    let module = synth(&build(&environment("production"))).expect("production");
    let subnets = resources(&module, "aws_subnet");
    let layout: Vec<(String, String, String)> = subnets
        .iter()
        .map(|(name, s)| {
            (
                name.clone(),
                s["availability_zone"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                s["cidr_block"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let expected = [
        ("private_a", "eu-west-1a", "10.20.0.0/20"),
        ("private_b", "eu-west-1b", "10.20.16.0/20"),
        ("private_c", "eu-west-1c", "10.20.32.0/20"),
        ("public_a", "eu-west-1a", "10.20.255.0/24"),
        ("public_b", "eu-west-1b", "10.20.254.0/24"),
        ("public_c", "eu-west-1c", "10.20.253.0/24"),
    ]
    .map(|(a, b, c)| (a.to_owned(), b.to_owned(), c.to_owned()));
    assert_eq!(layout, expected);
    for (name, subnet) in &subnets {
        let role = if name.starts_with("public") {
            "kubernetes.io/role/elb"
        } else {
            "kubernetes.io/role/internal-elb"
        };
        assert_eq!(subnet["tags"][role], "1", "{name}");
        assert_eq!(
            subnet["tags"]["kubernetes.io/cluster/webapp-production"], "shared",
            "{name}"
        );
    }
}

#[test]
fn misspelled_aws_attributes_fail_against_the_real_schema() {
    let mut app = build(&environment("staging"));
    let errors = violations_after(&mut app, "aws_vpc", "main", |vpc| {
        vpc.set("enable_dns_hostname", true);
    });
    assert!(errors.contains("aws_vpc.main"), "{errors}");
    assert!(errors.contains("enable_dns_hostname"), "{errors}");
    assert!(
        errors.contains("enable_dns_hostnames"),
        "no suggestion: {errors}"
    );
}

#[test]
fn untagged_resources_violate_tagged() {
    let mut app = build(&environment("staging"));
    let errors = violations_after(&mut app, "aws_vpc", "main", |vpc| {
        vpc.remove_path("tags");
    });
    assert!(
        errors.contains("aws_vpc.main: policy `tagged` violated"),
        "{errors}"
    );

    let mut app = build(&environment("staging"));
    let errors = violations_after(&mut app, "aws_launch_template", "node_system", |t| {
        t.remove_path("tag_specifications.1.tags.Project");
    });
    assert!(
        errors.contains("aws_launch_template.node_system: policy `tagged` violated: tag_specifications for `volume` lacks the `Project` tag"),
        "{errors}"
    );
}

#[test]
fn ingress_from_the_whole_internet_however_spelt_violates_no_public_ingress() {
    for blocks in [
        vec!["0.0.0.0/0"],
        vec!["0.0.0.0/1", "128.0.0.0/1"],
        vec!["1.0.0.0/8", "2.0.0.0/8"],
        vec!["0.0.0.1/0"],
    ] {
        let mut app = build(&environment("staging"));
        let errors = violations_after(&mut app, "aws_default_security_group", "default", |sg| {
            sg.set(
                "ingress",
                synth::Expr::list([synth::Expr::object([
                    ("protocol", synth::Expr::from("tcp")),
                    ("from_port", synth::Expr::from(22)),
                    ("to_port", synth::Expr::from(22)),
                    ("cidr_blocks", synth::Expr::list(blocks.clone())),
                ])]),
            );
        });
        assert!(
            errors.contains(
                "aws_default_security_group.default: policy `no-public-ingress` violated"
            ),
            "{blocks:?}: {errors}"
        );
    }
}

#[test]
fn unencrypted_logs_secrets_and_volumes_violate_encryption_at_rest() {
    let cases: [(&str, &str, &str); 5] = [
        ("aws_cloudwatch_log_group", "flow_logs", "kms_key_id"),
        ("aws_cloudwatch_log_group", "waf", "kms_key_id"),
        ("aws_secretsmanager_secret", "app_secret", "kms_key_id"),
        ("aws_eks_cluster", "main", "encryption_config"),
        (
            "aws_launch_template",
            "node_system",
            "block_device_mappings.0.ebs.encrypted",
        ),
    ];
    for (ty, name, path) in cases {
        let mut app = build(&environment("production"));
        let errors = violations_after(&mut app, ty, name, |r| {
            r.remove_path(path);
        });
        assert!(
            errors.contains(&format!(
                "{ty}.{name}: policy `encryption-at-rest` violated"
            )),
            "{ty}.{name} without {path}: {errors}"
        );
    }
}

#[test]
fn secret_values_written_by_terraform_violate_secret_values_outside_terraform() {
    let mut app = build(&environment("staging"));
    let errors = {
        let stack = app.stack("iam", "");
        stack
            .resource("aws_secretsmanager_secret_version", "app_secret")
            .set("secret_id", "x")
            .set("secret_string", "hunter2-hunter2");
        let app_stack = app.stack("app", "");
        app_stack
            .resource("kubernetes_secret_v1", "app")
            .set(
                "metadata",
                synth::Expr::object([("name", "webapp-secrets")]),
            )
            .set("data", synth::Expr::object([("APP_SECRET", "x")]));
        app.synth(&SynthOptions::default())
            .expect_err("secret values in terraform")
            .to_string()
    };
    for address in [
        "aws_secretsmanager_secret_version.app_secret",
        "kubernetes_secret_v1.app",
    ] {
        assert!(
            errors.contains(&format!(
                "{address}: policy `secret-values-outside-terraform` violated"
            )),
            "{errors}"
        );
    }
}

#[test]
fn cross_zone_nat_routes_violate_zone_redundancy_where_required() {
    let mut app = build(&environment("production"));
    let errors = violations_after(&mut app, "aws_route", "private_c_nat", |route| {
        route.set(
            "nat_gateway_id",
            synth::Expr::reference(Address::resource("aws_nat_gateway", "a")).attr("id"),
        );
    });
    assert!(
        errors.contains(
            "aws_subnet.private_c: policy `zone-redundancy` violated: private subnet in eu-west-1c does not route 0.0.0.0/0 through a NAT gateway in eu-west-1c (found eu-west-1a)"
        ),
        "{errors}"
    );
    // Staging's config allows one shared NAT gateway.
    assert!(synth(&build(&environment("staging"))).is_ok());
}

#[test]
fn too_few_zones_violate_zone_redundancy() {
    let mut env = environment("staging");
    // The config check already refuses this; the policy is the second line,
    // for blocks changed after the config was read.
    env.policy.min_azs = 3;
    let errors = synth(&build(&env))
        .expect_err("2 AZs with min_azs = 3")
        .to_string();
    assert!(
        errors
            .contains("policy `zone-redundancy` violated: subnets span 2 AZs; at least 3 required"),
        "{errors}"
    );
}

#[test]
fn node_groups_in_public_subnets_violate_private_node_groups() {
    let mut app = build(&environment("staging"));
    let errors = violations_after(&mut app, "aws_eks_node_group", "system", |group| {
        group.set(
            "subnet_ids",
            synth::Expr::list([synth::Expr::reference(Address::resource(
                "aws_subnet",
                "public_a",
            ))
            .attr("id")]),
        );
    });
    assert!(
        errors.contains(
            "aws_eks_node_group.system: policy `private-node-groups` violated: runs in aws_subnet.public_a, which is not a private subnet"
        ),
        "{errors}"
    );
}

#[test]
fn node_launch_templates_require_imdsv2_and_encrypted_gp3() {
    let module = synth(&build(&environment("staging"))).expect("staging");
    let (_, template) = resources(&module, "aws_launch_template").remove(0);
    assert_eq!(template["metadata_options"]["http_tokens"], "required");
    let ebs = &template["block_device_mappings"][0]["ebs"];
    assert_eq!(
        (ebs["volume_type"].as_str(), ebs["encrypted"].as_bool()),
        (Some("gp3"), Some(true))
    );
}

fn ci_deployer_policies(env: &stacks::Environment) -> (String, String) {
    let module = synth(&build(env)).expect("AWS stacks");
    let find = |ty: &str, name: &str| {
        resources(&module, ty)
            .into_iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("{ty}.{name}"))
            .1
    };
    let trust = find("aws_iam_role", "ci_deployer")["assume_role_policy"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let refresh = find("aws_iam_role_policy", "ci_deployer_refresh")["policy"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    (trust, refresh)
}

#[test]
fn ci_deployer_trusts_one_repository_environment_or_branch_only() {
    // Delivered by terraform, the deployer also refreshes and keeps state;
    // tests/gitops.rs has what it may do with GitOps on.
    let mut env = environment("production");
    env.config.gitops = None;
    let (trust, refresh) = ci_deployer_policies(&env);
    assert!(
        trust.contains(r#""token.actions.githubusercontent.com:sub" = "repo:example-org/webapp:environment:production""#),
        "{trust}"
    );
    assert!(
        trust.contains(r#""token.actions.githubusercontent.com:aud" = "sts.amazonaws.com""#),
        "{trust}"
    );
    // Its state object and lock only, in the configured bucket.
    assert!(
        refresh.contains(
            r#""arn:aws:s3:::example-org-webapp-tfstate/production/terraform.tfstate.tflock""#
        ),
        "{refresh}"
    );
    assert!(
        refresh.contains(r#""s3:prefix" = "production/*""#),
        "{refresh}"
    );

    env.config.ci.github_environment = None;
    let (trust, _) = ci_deployer_policies(&env);
    assert!(
        trust.contains(r#""token.actions.githubusercontent.com:sub" = "repo:example-org/webapp:ref:refs/heads/main""#),
        "{trust}"
    );
}

/// The AWS blocks of an environment with its name taken out, so a diff of
/// two environments shows only what their configs make differ.
fn anonymized(env: &str) -> std::collections::BTreeMap<String, Value> {
    let module = synth(&build(&environment(env))).expect("AWS stacks");
    let files = module
        .files
        .iter()
        .map(|(name, bytes)| {
            let text = String::from_utf8_lossy(bytes).replace(env, "ENV");
            (name.clone(), text.into_bytes())
        })
        .collect();
    synth::diff::blocks(&files).expect("module blocks")
}

#[test]
fn staging_and_production_differ_only_where_intended() {
    let changes = synth::diff::diff(&anonymized("staging"), &anonymized("production"));
    let summary: Vec<String> = changes
        .iter()
        .map(|change| match change {
            synth::diff::Change::Added(a) => format!("+ {a}"),
            synth::diff::Change::Removed(a) => format!("- {a}"),
            synth::diff::Change::Changed(a, attrs) => {
                let paths: Vec<&str> = attrs.iter().map(|c| c.path.as_str()).collect();
                format!("~ {a}: {}", paths.join(", "))
            }
            synth::diff::Change::Moved { from, to, .. } => format!("> {from} -> {to}"),
        })
        .collect();
    let expected = [
        // Each environment has its own public name.
        "~ aws_acm_certificate.edge: domain_name",
        // Terraform refuses to destroy production's stateful resources.
        "~ aws_cloudwatch_log_group.cluster: lifecycle",
        "~ aws_cloudwatch_log_group.flow_logs: lifecycle",
        "~ aws_cloudwatch_log_group.secret_rotation: lifecycle",
        "~ aws_cloudwatch_log_group.waf: lifecycle",
        "~ aws_ecr_repository.service: lifecycle",
        // A third AZ, with its own NAT gateway; the second AZ gets its own too.
        "+ aws_eip.nat_b",
        "+ aws_eip.nat_c",
        // Developers view production, and edit staging.
        "~ aws_eks_access_policy_association.team_developers: policy_arn",
        "~ aws_eks_cluster.main: lifecycle, vpc_config.subnet_ids",
        // Node sizes: the monitoring nodes' and the system group's, which is
        // on-demand in production.
        "~ aws_eks_node_group.monitoring: instance_types.0, instance_types.1, lifecycle, \
         scaling_config.desired_size, scaling_config.max_size, scaling_config.min_size, \
         subnet_ids",
        "~ aws_eks_node_group.system: capacity_type, instance_types.0, instance_types.1, \
         lifecycle, scaling_config.desired_size, scaling_config.max_size, \
         scaling_config.min_size, subnet_ids",
        "~ aws_kms_key.app_secrets: lifecycle",
        "~ aws_kms_key.eks_secrets: lifecycle",
        "~ aws_kms_key.logs: lifecycle",
        "~ aws_kms_key.loki: lifecycle",
        "~ aws_launch_template.node_monitoring: block_device_mappings.0.ebs.volume_size",
        "~ aws_launch_template.node_system: block_device_mappings.0.ebs.volume_size",
        "+ aws_nat_gateway.b",
        "+ aws_nat_gateway.c",
        "~ aws_route.private_b_nat: nat_gateway_id",
        "+ aws_route.private_c_nat",
        // The public name's record, in the network stack of both (GitOps).
        "~ aws_route53_record.webapp: name",
        "+ aws_route_table.private_c",
        "+ aws_route_table_association.private_c",
        "+ aws_route_table_association.public_c",
        // Production keeps its logs longer, and its log buckets survive a destroy.
        "~ aws_s3_bucket.loki_chunks: force_destroy, lifecycle",
        "~ aws_s3_bucket.loki_ruler: force_destroy, lifecycle",
        "~ aws_s3_bucket_lifecycle_configuration.loki_chunks: rule.0.expiration.days",
        // A deleted production secret stays restorable longer, and survives
        // a destroy.
        "~ aws_secretsmanager_secret.app_secret: lifecycle, recovery_window_in_days",
        // Its subscriptions are made by people, outside terraform.
        "~ aws_sns_topic.alerts: lifecycle",
        "~ aws_sqs_queue.karpenter_interruption: lifecycle",
        // Each environment has its own VPC range.
        "~ aws_subnet.private_a: cidr_block",
        "~ aws_subnet.private_b: cidr_block",
        "+ aws_subnet.private_c",
        "~ aws_subnet.public_a: cidr_block",
        "~ aws_subnet.public_b: cidr_block",
        "+ aws_subnet.public_c",
        "~ aws_vpc.main: cidr_block",
        "~ aws_vpc_endpoint.s3: route_table_ids",
        // Production admits fewer requests per client.
        "~ aws_wafv2_web_acl.edge: rule.0.statement.rate_based_statement.limit",
        // What `infra cost` estimates from config: the monitoring volumes'
        // sizes and replicas, Karpenter's nodes (spot in staging only) and a
        // Grafana internal load balancer in production. The service's ALB
        // listens alike in both.
        "~ estimated: estimated.aws_ebs_volume.alertmanager.count.expected, estimated.aws_ebs_volume.alertmanager.count.max, estimated.aws_ebs_volume.alertmanager.count.min, estimated.aws_ebs_volume.grafana.attributes.size, estimated.aws_ebs_volume.grafana.basis, estimated.aws_ebs_volume.loki.count.expected, estimated.aws_ebs_volume.loki.count.max, estimated.aws_ebs_volume.loki.count.min, estimated.aws_ebs_volume.prometheus.attributes.size, estimated.aws_ebs_volume.prometheus.basis, estimated.aws_ebs_volume.prometheus.count.expected, estimated.aws_ebs_volume.prometheus.count.max, estimated.aws_ebs_volume.prometheus.count.min, estimated.aws_instance.general.attributes.capacity_type, estimated.aws_instance.general.attributes.root_block_device.volume_size, estimated.aws_instance.general.basis, estimated.aws_instance.general.count.expected, estimated.aws_instance.general.count.max, estimated.aws_lb.grafana",
        "~ output.configs_url: value",
        "~ output.private_subnet_ids: value",
        "~ output.public_subnet_ids: value",
        "~ output.service_url: value",
        // The floors differ, and the diff shows each changed floor.
        "~ policy: access.max_team_level, allow_spot, gitops.admin_disabled, gitops.private_api, \
         gitops.required, min_azs, observability.min_logs_retention_days, \
         observability.min_metrics_retention_days, observability.min_replicas, \
         public_api.max_addresses, public_api.min_prefix, require_nat_gateway_per_az, \
         require_prevent_destroy, secrets.max_rotation_days, secrets.min_recovery_window_days",
    ];
    assert_eq!(
        summary, expected,
        "a difference between the environments is new: intended?"
    );
}

#[test]
fn optional_config_switches_synthesize_valid_blocks() {
    let mut env = environment("staging");
    env.config.ci.create_github_oidc_provider = false;
    env.config.cluster.endpoint_public_access = false;
    env.config.cluster.endpoint_public_access_cidrs.clear();
    let module = synth(&build(&env)).expect("staging with switches off");
    let iam = json(&module, "iam.tf.json");
    assert!(iam
        .pointer("/resource/aws_iam_openid_connect_provider/github")
        .is_none());
    assert_eq!(
        iam.pointer("/data/aws_iam_openid_connect_provider/github/url"),
        Some(&Value::from("https://token.actions.githubusercontent.com"))
    );
    let (_, cluster) = resources(&module, "aws_eks_cluster").remove(0);
    assert_eq!(cluster["vpc_config"]["endpoint_public_access"], false);
    assert!(cluster["vpc_config"].get("public_access_cidrs").is_none());
}

#[test]
fn spot_is_refused_where_argo_cd_delivers_the_node_pools_too() {
    // With GitOps on, the NodePools reach the cluster inside Argo CD's root
    // Application (terraform fills in their role); the policy reads them there.
    let mut env = environment("production");
    env.config.karpenter.node_pools[0]
        .capacity_types
        .push(stacks::config::NodeCapacity::Spot);
    let mut app = build(&env);
    stacks::gitops::deliver(&mut app, &env).expect("GitOps delivery");
    let errors = app
        .synth(&SynthOptions::default())
        .expect_err("spot in production")
        .to_string();
    assert!(
        errors.contains(
            "helm_release.argocd_bootstrap: policy `no-spot` violated: NodePool allows spot"
        ),
        "{errors}"
    );
}
