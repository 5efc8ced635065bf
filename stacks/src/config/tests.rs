//! The config loader and checker on the shipped environments and on bad input.

use super::*;

const STAGING: &str = include_str!("../../config/staging.toml");
const PRODUCTION: &str = include_str!("../../config/production.toml");
const STAGING_POLICY: &str = include_str!("../../policy/staging.toml");
const PRODUCTION_POLICY: &str = include_str!("../../policy/production.toml");

/// The shipped floors of an environment.
fn floors(name: &str) -> &'static str {
    match name {
        "staging" => STAGING_POLICY,
        "production" => PRODUCTION_POLICY,
        other => panic!("no shipped floors for {other}"),
    }
}

fn load(name: &str, text: &str) -> Result<Environment, ConfigError> {
    load_with_floors(name, text, floors(name))
}

fn load_with_floors(name: &str, text: &str, policy: &str) -> Result<Environment, ConfigError> {
    parse_environment(
        name,
        Source {
            path: Path::new(&format!("stacks/config/{name}.toml")),
            text,
        },
        Source {
            path: Path::new(&format!("stacks/policy/{name}.toml")),
            text: policy,
        },
    )
}

/// The error for `text` with `from` replaced by `to` (which must occur in it).
fn error_after(name: &str, text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "`{from}` is not in {name}.toml");
    match load(name, &text.replacen(from, to, 1)) {
        Ok(_) => panic!("{name}.toml with `{to}` was accepted"),
        Err(e) => e.to_string(),
    }
}

fn assert_error(error: &str, expected: &[&str]) {
    for part in expected {
        assert!(
            error.contains(part),
            "error does not mention `{part}`:\n{error}"
        );
    }
}

/// An environment's file with a public API endpoint for the office range,
/// as both had before GitOps made their endpoints private.
fn with_public_api(text: &str) -> String {
    let private = "endpoint_public_access = false\n";
    assert!(
        text.contains(private),
        "the shipped file has a private endpoint"
    );
    text.replacen(
        private,
        "endpoint_public_access = true\nendpoint_public_access_cidrs = [\"203.0.113.0/24\"]\n",
        1,
    )
}

fn cidrs(list: &[&str]) -> Vec<Ipv4Cidr> {
    list.iter().map(|s| s.parse().expect("test CIDR")).collect()
}

#[test]
fn shipped_environments_load_with_their_subnet_layout() {
    let staging = load("staging", STAGING).expect("staging.toml is valid");
    let layout: Vec<_> = staging
        .subnets
        .iter()
        .map(|s| (s.az.as_str(), s.suffix.as_str(), s.private, s.public))
        .collect();
    let [p0, p1, q0, q1] = [
        "10.10.0.0/20",
        "10.10.16.0/20",
        "10.10.255.0/24",
        "10.10.254.0/24",
    ]
    .map(|s| s.parse::<Ipv4Cidr>().expect("test CIDR"));
    assert_eq!(
        layout,
        vec![("eu-west-1a", "a", p0, q0), ("eu-west-1b", "b", p1, q1)]
    );

    let production = load("production", PRODUCTION).expect("production.toml is valid");
    assert_eq!(production.subnets.len(), 3);
    assert_eq!(production.subnets[2].private, cidrs(&["10.20.32.0/20"])[0]);
    assert_eq!(
        production.config.network.nat_gateway,
        NatGatewayMode::OnePerAz
    );
}

#[test]
fn explicit_subnets_are_used_as_given() {
    let text = STAGING.replacen(
        "nat_gateway = \"single\"",
        "nat_gateway = \"single\"\nprivate_subnets = [\"10.10.64.0/19\", \"10.10.96.0/19\"]\npublic_subnets = [\"10.10.0.0/24\", \"10.10.1.0/24\"]",
        1,
    );
    let env = load("staging", &text).expect("explicit subnets are valid");
    assert_eq!(
        env.subnets.iter().map(|s| s.private).collect::<Vec<_>>(),
        cidrs(&["10.10.64.0/19", "10.10.96.0/19"])
    );
    assert_eq!(env.subnets[1].public, cidrs(&["10.10.1.0/24"])[0]);
}

#[test]
fn unknown_keys_are_rejected_with_their_name() {
    let e = error_after(
        "staging",
        STAGING,
        "nat_gateway = \"single\"",
        "nat_gateway = \"single\"\nnat_gateways = 2",
    );
    assert_error(
        &e,
        &[
            "stacks/config/staging.toml",
            "TOML parse error at line 15",
            "unknown field `nat_gateways`, expected one of `vpc_cidr`",
        ],
    );
}

#[test]
fn invalid_cidrs_name_the_field() {
    let e = error_after("staging", STAGING, "\"10.10.0.0/16\"", "\"10.10.0.0/33\"");
    assert_error(
        &e,
        &[
            "stacks/config/staging.toml",
            "vpc_cidr",
            "prefix length must be a number from 0 to 32",
        ],
    );
    let e = error_after("staging", STAGING, "\"10.10.0.0/16\"", "\"10.10.1.0/16\"");
    assert_error(
        &e,
        &["vpc_cidr", "has host bits set; the network is 10.10.0.0/16"],
    );
    let e = error_after(
        "staging",
        &with_public_api(STAGING),
        "[\"203.0.113.0/24\"]",
        "[\"203.0.113/24\"]",
    );
    assert_error(
        &e,
        &[
            "endpoint_public_access_cidrs",
            "`203.0.113` is not an IPv4 address",
        ],
    );
    let e = error_after(
        "staging",
        &with_public_api(STAGING),
        "[\"203.0.113.0/24\"]",
        "[\"0.0.0.0/0\"]",
    );
    assert_error(
        &e,
        &["cluster.endpoint_public_access_cidrs[0]: 0.0.0.0/0 opens the Kubernetes API"],
    );
    let e = error_after(
        "staging",
        STAGING,
        "vpc_cidr = \"10.10.0.0/16\"",
        "vpc_cidr = \"10.0.0.0/8\"",
    );
    assert_error(
        &e,
        &["network.vpc_cidr: 10.0.0.0/8: a VPC block must be between /16 and /28"],
    );
}

#[test]
fn overlapping_cidrs_are_rejected() {
    let e = error_after(
        "staging",
        STAGING,
        "service_ipv4_cidr = \"172.20.0.0/16\"",
        "service_ipv4_cidr = \"10.10.0.0/20\"",
    );
    assert_error(
        &e,
        &["cluster.service_ipv4_cidr: 10.10.0.0/20 overlaps network.vpc_cidr (10.10.0.0/16)"],
    );
    let e = error_after(
        "staging",
        STAGING,
        "nat_gateway = \"single\"",
        "nat_gateway = \"single\"\nprivate_subnets = [\"10.10.0.0/20\", \"10.10.16.0/20\"]\npublic_subnets = [\"10.10.32.0/24\", \"10.10.15.0/24\"]",
    );
    assert_error(&e, &["network.public_subnets[1]: 10.10.15.0/24 overlaps network.private_subnets[0] (10.10.0.0/20)"]);
    let e = error_after(
        "staging",
        &with_public_api(STAGING),
        "[\"203.0.113.0/24\"]",
        "[\"203.0.113.0/24\", \"203.0.113.128/25\"]",
    );
    assert_error(&e, &["cluster.endpoint_public_access_cidrs[1]: 203.0.113.128/25 overlaps endpoint_public_access_cidrs[0]"]);
}

#[test]
fn subnets_that_do_not_fit_the_vpc_are_rejected() {
    let e = error_after(
        "production",
        PRODUCTION,
        "nat_gateway = \"one_per_az\"",
        "nat_gateway = \"one_per_az\"\nprivate_subnet_prefix = 17",
    );
    assert_error(&e, &[
        "stacks/config/production.toml",
        "network.private_subnet_prefix: 3 private /17 subnets do not fit in network.vpc_cidr (10.20.0.0/16), which holds 2",
    ]);
    let e = error_after(
        "staging",
        STAGING,
        "nat_gateway = \"single\"",
        "nat_gateway = \"single\"\nprivate_subnets = [\"10.10.0.0/20\", \"10.11.0.0/20\"]",
    );
    assert_error(&e, &["network.private_subnets[1]: 10.11.0.0/20 does not fit in network.vpc_cidr (10.10.0.0/16)"]);
    let e = error_after(
        "staging",
        STAGING,
        "nat_gateway = \"single\"",
        "nat_gateway = \"single\"\nprivate_subnets = [\"10.10.0.0/20\"]",
    );
    assert_error(&e, &["network.private_subnets: has 1 subnets for 2 AZs"]);
}

#[test]
fn too_few_azs_are_rejected_per_the_environments_policy() {
    let e = error_after(
        "staging",
        STAGING,
        "azs = [\"eu-west-1a\", \"eu-west-1b\"]",
        "azs = [\"eu-west-1a\"]",
    );
    assert_error(
        &e,
        &["network.azs: lists 1 AZ; this environment needs at least 2"],
    );
    let e = error_after(
        "production",
        PRODUCTION,
        "azs = [\"eu-west-1a\", \"eu-west-1b\", \"eu-west-1c\"]",
        "azs = [\"eu-west-1a\", \"eu-west-1b\"]",
    );
    assert_error(
        &e,
        &[
            "stacks/config/production.toml",
            "network.azs: lists 2 AZs; this environment needs at least 3 (policy min_azs = 3)",
        ],
    );
    let e = load_with_floors(
        "staging",
        STAGING,
        &STAGING_POLICY.replacen("min_azs = 2", "min_azs = 1", 1),
    )
    .expect_err("min_azs = 1")
    .to_string();
    assert_error(&e, &["stacks/policy/staging.toml", "min_azs: 1 is below 2"]);
    let e = error_after("staging", STAGING, "\"eu-west-1b\"]", "\"us-east-1b\"]");
    assert_error(
        &e,
        &["network.azs[1]: `us-east-1b` is not an availability zone of region eu-west-1"],
    );
    let e = error_after("staging", STAGING, "\"eu-west-1b\"]", "\"eu-west-1a\"]");
    assert_error(&e, &["network.azs[1]: `eu-west-1a` is listed twice"]);
}

#[test]
fn nat_mode_must_meet_the_policy() {
    let e = error_after(
        "production",
        PRODUCTION,
        "nat_gateway = \"one_per_az\"",
        "nat_gateway = \"single\"",
    );
    assert_error(
        &e,
        &["network.nat_gateway: is `single` but policy require_nat_gateway_per_az is true"],
    );
}

#[test]
fn node_group_size_inversions_are_rejected() {
    let e = error_after("staging", STAGING, "min_size = 2", "min_size = 3");
    assert_error(
        &e,
        &["node_groups[0].min_size: 3 is greater than desired_size (2)"],
    );
    let e = error_after("staging", STAGING, "desired_size = 2", "desired_size = 4");
    assert_error(
        &e,
        &["node_groups[0].desired_size: 4 is greater than max_size (3)"],
    );
    let e = error_after("staging", STAGING, "max_size = 3", "max_size = 0");
    assert_error(&e, &["node_groups[0].max_size: must be at least 1"]);
    let e = error_after(
        "staging",
        STAGING,
        "disk_size_gib = 30",
        "disk_size_gib = 8",
    );
    assert_error(
        &e,
        &["node_groups[0].disk_size_gib: 8 is outside 20..=16384 GiB"],
    );
    let e = error_after(
        "staging",
        STAGING,
        "[\"t3.medium\", \"t3a.medium\"]",
        "[\"t3medium\"]",
    );
    assert_error(
        &e,
        &["node_groups[0].instance_types[0]: `t3medium` is not an EC2 instance type"],
    );
    let e = error_after(
        "staging",
        STAGING,
        "capacity_type = \"SPOT\"",
        "capacity_type = \"spot\"",
    );
    assert_error(&e, &["capacity_type", "unknown variant `spot`"]);
}

#[test]
fn bad_kubernetes_versions_are_rejected() {
    for (bad, message) in [
        (
            "v1.32",
            "`v1.32` is not a Kubernetes minor version like \"1.32\"",
        ),
        ("1.32.1", "`1.32.1` is not a Kubernetes minor version"),
        ("1.032", "`1.032` is not a Kubernetes minor version"),
        ("1.", "`1.` is not a Kubernetes minor version"),
        ("1.99", "`1.99` is not offered by EKS; use 1.28 to 1.33"),
    ] {
        let e = error_after(
            "staging",
            STAGING,
            "kubernetes_version = \"1.32\"",
            &format!("kubernetes_version = \"{bad}\""),
        );
        assert_error(
            &e,
            &[
                "stacks/config/staging.toml",
                &format!("cluster.kubernetes_version: {message}"),
            ],
        );
    }
}

#[test]
fn other_bad_inputs_name_field_and_problem() {
    let e = error_after(
        "staging",
        STAGING,
        "retention_days = 365",
        "retention_days = 10",
    );
    assert_error(
        &e,
        &["logs.retention_days: 10 is not a retention CloudWatch Logs accepts"],
    );
    let e = error_after(
        "staging",
        STAGING,
        "CostCenter = ",
        "Environment = \"x\"\nCostCenter = ",
    );
    assert_error(&e, &["tags.Environment: is set by the stacks themselves"]);
    let e = error_after(
        "staging",
        STAGING,
        "name_prefix = \"webapp-staging\"",
        "name_prefix = \"Webapp_Staging\"",
    );
    assert_error(
        &e,
        &["name_prefix: `Webapp_Staging` must be 1 to 32 lowercase letters"],
    );
    let e = error_after("staging", STAGING, "branch = \"main\"", "branch = \"*\"");
    assert_error(
        &e,
        &["ci.branch: `*` must be one branch name, without wildcards"],
    );
    let e = error_after(
        "staging",
        STAGING,
        "github_environment = \"staging\"",
        "github_environment = \"staging:*\"",
    );
    assert_error(
        &e,
        &["ci.github_environment: `staging:*` must be one GitHub environment name"],
    );
    let e = error_after(
        "staging",
        STAGING,
        "state_bucket = \"example-org-webapp-tfstate\"",
        "state_bucket = \"Example_Bucket\"",
    );
    assert_error(
        &e,
        &["ci.state_bucket: `Example_Bucket` is not an S3 bucket name"],
    );
    let e = error_after(
        "staging",
        STAGING,
        "region = \"eu-west-1\"",
        "region = \"europe\"",
    );
    assert_error(&e, &["region: `europe` is not an AWS region name"]);
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = STAGING
        .replacen("min_size = 2", "min_size = 3", 1)
        .replacen("retention_days = 365", "retention_days = 10", 1);
    let Err(ConfigError::Invalid { problems, .. }) = load("staging", &text) else {
        panic!("expected an invalid-config error");
    };
    let fields: Vec<_> = problems.iter().map(|p| p.at.as_str()).collect();
    assert_eq!(
        fields,
        vec!["node_groups[0].min_size", "logs.retention_days"]
    );
}

#[test]
fn unknown_environment_lists_the_known_ones() {
    let root = tempfile::tempdir().expect("temp dir");
    let dir = crate::config_dir(root.path());
    std::fs::create_dir_all(&dir).expect("config dir");
    for name in ["staging", "production"] {
        std::fs::write(dir.join(format!("{name}.toml")), STAGING).expect("write config");
    }
    std::fs::write(dir.join("README.md"), "not a config").expect("write readme");
    assert_eq!(
        known_environments(&dir).expect("list"),
        vec!["production", "staging"]
    );
    let e = load_environment(root.path(), "prod")
        .expect_err("prod is not defined")
        .to_string();
    assert_error(
        &e,
        &[
            "unknown environment `prod`",
            "known environments",
            "production, staging",
        ],
    );
    let e = load_environment(root.path(), "../staging")
        .expect_err("paths are not names")
        .to_string();
    assert_error(&e, &["unknown environment `../staging`"]);
}

#[test]
fn the_public_api_floor_judges_what_the_cidrs_cover_not_their_spelling() {
    let e = error_after(
        "production",
        &with_public_api(PRODUCTION),
        "[\"203.0.113.0/24\"]",
        "[\"0.0.0.0/1\", \"128.0.0.0/1\"]",
    );
    assert_error(
        &e,
        &[
            "cluster.endpoint_public_access_cidrs[0]: 0.0.0.0/1 is wider than /24",
            "cluster.endpoint_public_access_cidrs[1]: 128.0.0.0/1 is wider than /24",
            "cluster.endpoint_public_access_cidrs: together cover 4294967296 addresses; this environment lets at most 1024",
        ],
    );
    // Blocks each narrow enough, but too many addresses together.
    let five: Vec<String> = (1..=5).map(|i| format!("\"198.51.{i}.0/24\"")).collect();
    let e = error_after(
        "production",
        &with_public_api(PRODUCTION),
        "[\"203.0.113.0/24\"]",
        &format!("[{}]", five.join(", ")),
    );
    assert_error(
        &e,
        &["cluster.endpoint_public_access_cidrs: together cover 1280 addresses; this environment lets at most 1024"],
    );
    // Staging's floor is wider: a /20 passes there.
    let text = with_public_api(STAGING).replacen("[\"203.0.113.0/24\"]", "[\"198.51.96.0/20\"]", 1);
    load("staging", &text).expect("a /20 meets staging's floor");
}

#[test]
fn floors_live_in_their_own_file_only() {
    let e = error_after(
        "staging",
        STAGING,
        "[tags]",
        "[policy]\nmin_azs = 1\n\n[tags]",
    );
    assert_error(
        &e,
        &["stacks/config/staging.toml", "unknown field `policy`"],
    );
    let root = tempfile::tempdir().expect("temp dir");
    let dir = crate::config_dir(root.path());
    std::fs::create_dir_all(&dir).expect("config dir");
    std::fs::write(dir.join("staging.toml"), STAGING).expect("write config");
    let e = load_environment(root.path(), "staging")
        .expect_err("no floors")
        .to_string();
    assert_error(&e, &["cannot read", "stacks/policy/staging.toml"]);
}

#[test]
fn a_vpc_too_small_for_the_default_subnets_is_blamed_on_itself() {
    let e = error_after(
        "staging",
        STAGING,
        "vpc_cidr = \"10.10.0.0/16\"",
        "vpc_cidr = \"10.10.0.0/24\"",
    );
    assert_error(
        &e,
        &["network.vpc_cidr: 10.10.0.0/24 is too small for 2 private /20 and 2 public /24 subnets (one of each per AZ); it needs to be a /18 or larger"],
    );
    assert!(!e.contains("subnet_prefix:"), "{e}");
    // A VPC that holds the default layout exactly is fine.
    let text = STAGING.replacen(
        "vpc_cidr = \"10.10.0.0/16\"",
        "vpc_cidr = \"10.10.0.0/18\"",
        1,
    );
    load("staging", &text).expect("2 x (/20 + /24) fit in a /18");
}

#[test]
fn usage_inputs_are_checked_at_load() {
    let with_usage = |usage: &str| format!("{STAGING}\n[usage]\n{usage}\n");
    let error = |usage: &str| match load("staging", &with_usage(usage)) {
        Ok(_) => panic!("[usage] {usage} was accepted"),
        Err(e) => e.to_string(),
    };
    assert_error(
        &error("nat_gb = 5"),
        &["staging.toml", "unknown variant `nat_gb`", "nat_data_gb"],
    );
    assert_error(
        &error("nat_data_gb = -5"),
        &["usage.nat_data_gb: -5 is not a usage figure"],
    );
    assert_error(
        &error("[usage.resources.\"aws_nat\"]\nnat_data_gb = 1"),
        &["usage.resources.\"aws_nat\": is not a resource address"],
    );
    assert_error(
        &error("[usage.resources.\"estimated.aws_lb.webapp\"]\nlb_capacity_units = -1"),
        &["usage.resources.\"estimated.aws_lb.webapp\".lb_capacity_units: -1 is not"],
    );
    let env = load(
        "staging",
        &with_usage("nat_data_gb = 200\n[usage.resources.\"estimated.aws_lb.webapp\"]\nlb_capacity_units = 2.5"),
    )
    .expect("valid usage");
    assert_eq!(
        env.config
            .usage
            .value(UsageKey::NatDataGb, "aws_nat_gateway.a")
            .value,
        200.0
    );
    assert_eq!(
        env.config
            .usage
            .value(UsageKey::LbCapacityUnits, "estimated.aws_lb.webapp")
            .source,
        UsageSource::Resource
    );
}

#[test]
fn production_must_keep_terraforms_prevent_destroy() {
    let e = error_after(
        "production",
        PRODUCTION,
        "prevent_destroy = true",
        "prevent_destroy = false",
    );
    assert_error(
        &e,
        &[
            "stacks/config/production.toml",
            "state.prevent_destroy: is false but policy require_prevent_destroy is true",
        ],
    );
    // Staging's floor leaves it to the config.
    let staging = load("staging", STAGING).expect("staging.toml is valid");
    assert!(!staging.config.state.prevent_destroy);
    assert!(!staging.policy.require_prevent_destroy);
}

#[test]
fn state_entries_are_checked_for_their_form_at_their_field() {
    let entries = r#"[state]
prevent_destroy = false

[[state.import]]
to = "aws_ecr_repository.service"
id = "webapp-staging"

[[state.import]]
to = "aws_ecr_repository.service"
id = " "

[[state.import]]
to = "data.aws_region.current"
id = "eu-west-1"

[[state.moved]]
from = "aws_kms_key.logs"
to = "aws_kms_key.logs"

[[state.moved]]
from = "aws_kms_key.a"
to = "aws_kms_key.b"

[[state.moved]]
from = "aws_kms_key.a"
to = "aws_kms_key[0]"
"#;
    let e = error_after(
        "staging",
        STAGING,
        "[state]\nprevent_destroy = false\n",
        entries,
    );
    assert_error(
        &e,
        &[
            "state.import[1].to: `aws_ecr_repository.service` is imported twice",
            "state.import[1].id: is empty",
            "state.import[2].to: `data.aws_region.current` is a data source",
            "state.moved[0]: moves a resource to its own address",
            "state.moved[2].to: `aws_kms_key[0]` is not a resource address",
            "state.moved[2].from: `aws_kms_key.a` is moved twice",
        ],
    );
    let e = error_after(
        "staging",
        STAGING,
        "prevent_destroy = false",
        "prevent_destroy = false\nprotect = true",
    );
    assert_error(&e, &["unknown field `protect`"]);
}

#[test]
fn the_edge_floor_keeps_the_waf_in_front_and_its_log() {
    let e = error_after("staging", STAGING, "kind = \"alb\"", "kind = \"nlb\"");
    assert_error(
        &e,
        &[
            "edge.waf: AWS WAF cannot be attached to a Network Load Balancer",
            "app.load_balancer.kind: is `nlb`, but this environment must be published through an ALB with a WAF (policy edge.require_waf)",
        ],
    );
    let e = error_after(
        "production",
        PRODUCTION,
        "[edge.waf]\n# Requests per client address per 5 minutes before it is blocked.\nrate_limit = 1000\nlog_retention_days = 365\n",
        "",
    );
    assert_error(
        &e,
        &["edge.waf: is missing, but this environment requires a WAF in front of the service (policy edge.require_waf)"],
    );
    let e = error_after(
        "production",
        PRODUCTION,
        "log_retention_days = 365\n\n# The service's secrets",
        "log_retention_days = 90\n\n# The service's secrets",
    );
    assert_error(
        &e,
        &["edge.waf.log_retention_days: 90 is below the 365 days this environment keeps WAF logs (policy edge.min_waf_log_retention_days)"],
    );
}

#[test]
fn the_secret_and_access_floors_bound_rotation_recovery_and_team_levels() {
    let e = error_after(
        "production",
        PRODUCTION,
        "rotation_days = 30",
        "rotation_days = 60",
    );
    assert_error(
        &e,
        &["secrets.rotation_days: 60 is longer than the 30 days a secret may live here (policy secrets.max_rotation_days)"],
    );
    let e = error_after(
        "production",
        PRODUCTION,
        "recovery_window_days = 30",
        "recovery_window_days = 7",
    );
    assert_error(
        &e,
        &["secrets.recovery_window_days: 7 is shorter than the 14 days a deleted secret stays restorable here"],
    );
    let e = error_after(
        "production",
        PRODUCTION,
        "level = \"view\"",
        "level = \"edit\"",
    );
    assert_error(
        &e,
        &["access.teams[0].level: `edit` (AmazonEKSEditPolicy) goes beyond `view`, the most this environment grants a team (policy access.max_team_level)"],
    );
    // Staging's floor allows edit.
    load("staging", STAGING).expect("staging.toml is valid");
    let e = load_with_floors(
        "staging",
        STAGING,
        &STAGING_POLICY.replace("max_rotation_days = 90", "max_rotation_days = 0"),
    )
    .expect_err("a floor outside what Secrets Manager rotates within");
    assert_error(
        &e.to_string(),
        &[
            "stacks/policy/staging.toml",
            "secrets.max_rotation_days: 0 is outside the 1 to 1000 days",
        ],
    );
}

#[test]
fn teams_are_named_once_and_scoped_to_namespaces() {
    let e = error_after(
        "staging",
        STAGING,
        "namespaces = [\"webapp\"]",
        "namespaces = []\n\n[[access.teams]]\nname = \"developers\"\nlevel = \"view\"\nnamespaces = [\"webapp\", \"webapp\"]",
    );
    assert_error(
        &e,
        &[
            "access.teams[0].namespaces: is empty; a team is granted access in named namespaces only",
            "access.teams[1].name: `developers` is listed twice",
            "access.teams[1].namespaces[1]: `webapp` is listed twice",
        ],
    );
}

/// The `[observability]` section and its floors.
mod observability;
