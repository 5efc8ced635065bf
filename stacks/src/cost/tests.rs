//! The price arithmetic of both shipped environments against figures worked
//! out by hand from stacks/prices/eu-west-1.toml, and the price table's
//! checks on bad input.

use std::path::{Path, PathBuf};

use super::*;
use crate::config::{Environment, UsageConfig};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_owned()
}

fn day(text: &str) -> Date {
    text.parse().expect("test date")
}

/// Extended support for 1.32 began 2026-03-23; standard support before.
const EXTENDED: &str = "2026-12-01";
const STANDARD: &str = "2026-01-15";

fn environment(name: &str) -> Environment {
    crate::load_environment(&root(), name).expect("shipped environment")
}

fn estimate_of(env: &Environment, as_of: &str) -> Estimate {
    let app = crate::build(env, &crate::chart_dir(&root())).expect("build");
    let module = app.synth(&synth::SynthOptions::default()).expect("synth");
    estimate_module(&root(), &module.files, day(as_of)).expect("estimate")
}

fn monthly(e: &Estimate, address: &str, what: &str) -> f64 {
    let lines: Vec<&Line> = e
        .lines
        .iter()
        .filter(|l| l.address == address && l.what == what)
        .collect();
    assert_eq!(lines.len(), 1, "{address} {what}: {lines:#?}");
    lines[0].monthly
}

fn assert_close(actual: f64, expected: f64, what: &str) {
    assert!(
        (actual - expected).abs() < 1e-6,
        "{what}: {actual} is not the hand-computed {expected}"
    );
}

fn stack_total(e: &Estimate, stack: &str) -> f64 {
    e.lines
        .iter()
        .filter(|l| l.stack == stack)
        .map(|l| l.monthly)
        .sum()
}

#[test]
fn staging_matches_the_hand_computed_estimate() {
    let e = estimate_of(&environment("staging"), EXTENDED);
    // Prices (eu-west-1.toml): NAT 0.048/h and 0.048/GB; public IPv4 0.005/h;
    // KMS 1.00/key-month and 0.03 per 10k requests; logs 0.57/GB ingested
    // (vended the same), 0.03/GB-month stored, 15% stored per byte ingested;
    // EKS 0.60/h extended; t3.medium 0.0456/h, spot 60% off; gp3 0.088/GB-month;
    // NLB 0.0252/h, 0.006/NLCU-h; egress 0.09/GB; ECR 0.10/GB-month. 730 h.
    // Usage defaults: 50 GB per NAT, 5 GB per log group, 10,000 KMS requests,
    // 1 NLCU, 50 GB egress, 1 GB of images.
    //
    // network:
    //   flow log group: 5 x 0.57 = 2.85; stored 5 x 12 months x 0.15 = 9 GB-month x 0.03 = 0.27
    //   NAT EIP: 730 x 0.005 = 3.65
    //   logs KMS key: 1.00 + 10,000/10,000 x 0.03 = 1.03
    //   NAT gateway a: 730 x 0.048 = 35.04, data 50 x 0.048 = 2.40
    //   = 2.85 + 0.27 + 3.65 + 1.03 + 35.04 + 2.40 = 45.24
    assert_close(
        monthly(&e, "aws_nat_gateway.a", "NAT gateway"),
        35.04,
        "NAT hours",
    );
    assert_close(
        monthly(&e, "aws_nat_gateway.a", "data processed"),
        2.40,
        "NAT data",
    );
    assert_close(
        monthly(&e, "aws_eip.nat_a", "public IPv4 address"),
        3.65,
        "EIP",
    );
    let flow = "aws_cloudwatch_log_group.flow_logs";
    assert_close(monthly(&e, flow, "logs ingested"), 2.85, "flow logs in");
    assert_close(monthly(&e, flow, "logs stored"), 0.27, "flow logs kept");
    assert_close(stack_total(&e, "network"), 45.24, "network");
    // iam: the secrets KMS key, 1.00 + 0.03 = 1.03
    assert_close(stack_total(&e, "iam"), 1.03, "iam");
    // eks:
    //   control plane: 730 x 0.60 = 438.00
    //   nodes: 0.0456 x (1 - 0.60) = 0.01824/h x 730 h x 2 desired = 26.6304
    //     (1 to 3 nodes: 13.3152 to 39.9456)
    //   root volumes: 30 GB x 2 x 0.088 = 5.28
    //   cluster log group: 2.85 + 0.27 = 3.12; ECR: 1 x 0.10 = 0.10
    //   = 438.00 + 26.6304 + 5.28 + 3.12 + 0.10 = 473.1304
    assert_close(
        monthly(&e, "aws_eks_cluster.main", "control plane"),
        438.0,
        "EKS",
    );
    let nodes = "aws_eks_node_group.general";
    assert_close(monthly(&e, nodes, "nodes"), 26.6304, "spot nodes");
    let range = e
        .lines
        .iter()
        .find(|l| l.address == nodes && l.what == "nodes")
        .and_then(|l| l.range)
        .expect("a node group scales");
    assert_close(range.0, 13.3152, "one node");
    assert_close(range.1, 39.9456, "three nodes");
    assert_close(monthly(&e, nodes, "root volumes"), 5.28, "root volumes");
    assert_close(stack_total(&e, "eks"), 473.1304, "eks");
    // In the cluster, the service's NLB (not in terraform):
    //   730 x 0.0252 = 18.396; 1 NLCU x 730 x 0.006 = 4.38;
    //   2 public IPv4 (2 AZs) x 730 x 0.005 = 7.30; 50 GB x 0.09 = 4.50
    //   = 34.576
    let nlb = "estimated.aws_lb.webapp";
    assert_close(monthly(&e, nlb, "public IPv4 addresses"), 7.30, "NLB IPv4");
    assert_close(stack_total(&e, "in-cluster"), 34.576, "NLB");
    assert!(e
        .lines
        .iter()
        .filter(|l| l.address == nlb)
        .all(|l| l.estimated));
    // Total: 45.24 + 1.03 + 473.1304 + 34.576 = 553.9764
    assert_close(e.totals.monthly, 553.9764, "staging total");
    assert_close(e.totals.estimated_from_config, 34.576, "from config");
    // Usage-based: 3.12 (flow) + 0.06 (KMS) + 2.40 (NAT) + 3.12 (cluster logs)
    //   + 0.10 (ECR) + 4.38 (NLCU) + 4.50 (egress) = 17.68
    assert_close(e.totals.usage_based, 17.68, "usage-based");
    // Scaling: nodes and root volumes are (26.6304 + 5.28) / 2 = 15.9552 a node:
    // 553.9764 - 15.9552 = 538.0212 at one node, + 15.9552 = 569.9316 at three
    assert_close(e.totals.min, 538.0212, "fewest nodes");
    assert_close(e.totals.max, 569.9316, "most nodes");
    assert!(e.unpriced.is_empty(), "{:?}", e.unpriced);

    // Before 2026-03-24 the control plane was in standard support:
    // 730 x 0.10 = 73.00, so 553.9764 - 438 + 73 = 188.9764.
    let earlier = estimate_of(&environment("staging"), STANDARD);
    assert_close(
        earlier.totals.monthly,
        188.9764,
        "staging in standard support",
    );
    assert!(
        earlier
            .notices
            .iter()
            .all(|n| !n.contains("extended support since")),
        "{:?}",
        earlier.notices
    );
    assert!(e.notices.iter().any(|n| n.contains(
        "Kubernetes 1.32 is in extended support since 2026-03-23: $365.00 a month more"
    )));
}

#[test]
fn production_matches_the_hand_computed_estimate() {
    let e = estimate_of(&environment("production"), EXTENDED);
    // network: a NAT gateway and EIP per AZ (3):
    //   3 x (35.04 + 2.40) = 112.32; EIPs 3 x 3.65 = 10.95;
    //   flow logs 3.12; logs key 1.03
    //   = 112.32 + 10.95 + 3.12 + 1.03 = 127.42
    assert_close(stack_total(&e, "network"), 127.42, "network");
    assert_close(stack_total(&e, "iam"), 1.03, "iam");
    // eks: 438.00; m6i.large on-demand 0.107 x 730 x 3 = 234.33 (3 to 9
    //   nodes: 234.33 to 702.99); root volumes 50 GB x 3 x 0.088 = 13.20;
    //   cluster logs 3.12; ECR 0.10
    //   = 438.00 + 234.33 + 13.20 + 3.12 + 0.10 = 688.75
    let nodes = "aws_eks_node_group.general";
    assert_close(monthly(&e, nodes, "nodes"), 234.33, "on-demand nodes");
    assert_close(monthly(&e, nodes, "root volumes"), 13.20, "root volumes");
    assert_close(stack_total(&e, "eks"), 688.75, "eks");
    // NLB over 3 AZs: 18.396 + 4.38 + 3 x 730 x 0.005 (10.95) + 4.50 = 38.226
    assert_close(stack_total(&e, "in-cluster"), 38.226, "NLB");
    // Total: 127.42 + 1.03 + 688.75 + 38.226 = 855.426
    assert_close(e.totals.monthly, 855.426, "production total");
    // At 9 nodes: + 6 x (0.107 x 730 + 50 x 0.088) = + 6 x 82.51 = + 495.06
    assert_close(e.totals.max, 1350.486, "nine nodes");
    assert_close(e.totals.min, 855.426, "min_size is desired_size");
    assert!(e.unpriced.is_empty(), "{:?}", e.unpriced);
}

#[test]
fn usage_inputs_change_only_the_figures_that_depend_on_them() {
    let mut env = environment("staging");
    let flow = "aws_cloudwatch_log_group.flow_logs";
    env.config.usage = toml::from_str(&format!(
        "nat_data_gb = 1000\n[resources.\"{flow}\"]\nlog_ingest_gb = 100\n"
    ))
    .expect("usage section");
    let e = estimate_of(&env, EXTENDED);
    // 1,000 GB x 0.048 = 48.00 instead of 2.40 (+45.60);
    // flow logs 100 GB: 100 x 0.57 = 57.00 in, 100 x 12 x 0.15 x 0.03 = 5.40 kept,
    // instead of 3.12 (+59.28); the cluster's log group keeps the default.
    assert_close(
        monthly(&e, "aws_nat_gateway.a", "data processed"),
        48.0,
        "NAT data",
    );
    assert_close(monthly(&e, flow, "logs ingested"), 57.0, "flow logs");
    assert_close(monthly(&e, flow, "logs stored"), 5.4, "flow logs kept");
    let cluster_logs = "aws_cloudwatch_log_group.cluster";
    assert_close(monthly(&e, cluster_logs, "logs ingested"), 2.85, "default");
    assert_close(e.totals.monthly, 553.9764 + 45.6 + 59.28, "total");
    let sources: Vec<(&str, UsageSource)> = e
        .usage
        .iter()
        .filter(|u| u.key == UsageKey::LogIngestGb)
        .map(|u| (u.resources[0].as_str(), u.source))
        .collect();
    assert!(
        sources.contains(&(flow, UsageSource::Resource)),
        "{sources:?}"
    );
    assert!(sources.contains(&(cluster_logs, UsageSource::Default)));
    assert!(e.notices.is_empty() || e.notices.iter().all(|n| !n.contains("usage.")));
}

#[test]
fn usage_that_prices_nothing_is_pointed_out() {
    let mut env = environment("staging");
    env.config.usage = toml::from_str(
        "s3_storage_gb = 5\n[resources.\"aws_nat_gateway.z\"]\nnat_data_gb = 1\n\
         [resources.\"aws_nat_gateway.a\"]\nlog_ingest_gb = 1\n",
    )
    .expect("usage section");
    let notices = estimate_of(&env, EXTENDED).notices.join("\n");
    for expected in [
        "usage.s3_storage_gb is set, but no resource of this module is priced by it",
        "usage.resources.\"aws_nat_gateway.z\" names no resource of this module",
        "usage.resources.\"aws_nat_gateway.a\".log_ingest_gb does not price aws_nat_gateway.a",
    ] {
        assert!(
            notices.contains(expected),
            "{expected} missing from:\n{notices}"
        );
    }
}

#[test]
fn a_type_without_a_price_rule_is_reported_not_counted_as_free() {
    let mut inventory = crate::inventory::Inventory::from_files(
        &crate::build(&environment("staging"), &crate::chart_dir(&root()))
            .expect("build")
            .synth(&synth::SynthOptions::default())
            .expect("synth")
            .files,
    )
    .expect("inventory");
    let mut mystery = inventory.blocks[0].clone();
    mystery.ty = "aws_mystery_appliance".into();
    mystery.address = "aws_mystery_appliance.x".into();
    inventory.blocks.push(mystery);
    let table = PriceTable::load(&root(), "eu-west-1").expect("price table");
    let e = estimate(&inventory, &table, day(EXTENDED));
    assert_eq!(e.unpriced.len(), 1);
    assert_eq!(e.unpriced[0].address, "aws_mystery_appliance.x");
    assert!(e.unpriced[0].reason.contains("no price rule"));
    assert!(estimate_table(&e).contains("not priced (1), so the total is too low"));
}

#[test]
fn two_environments_compare_item_by_item() {
    let staging = estimate_of(&environment("staging"), EXTENDED);
    let production = estimate_of(&environment("production"), EXTENDED);
    let c = compare(&staging, &production, ("staging", "production"));
    // 855.426 - 553.9764 = 301.4496
    assert_close(c.change(), 301.4496, "change");
    let row = |address: &str, what: &str| {
        c.rows
            .iter()
            .find(|r| r.address == address && r.what == what)
            .unwrap_or_else(|| panic!("{address} {what}"))
            .clone()
    };
    let added = row("aws_nat_gateway.c", "NAT gateway");
    assert_eq!(added.monthly, (None, Some(35.04)));
    let nodes = row("aws_eks_node_group.general", "nodes");
    assert_close(nodes.change(), 234.33 - 26.6304, "nodes");
    assert!(!row("aws_eks_cluster.main", "control plane").differs());
    let text = comparison_table(&c, false);
    assert!(text.contains("+301.45    total a month"), "{text}");
}

fn table_text() -> String {
    std::fs::read_to_string(root().join("stacks/prices/eu-west-1.toml")).expect("price table")
}

fn parse_error(text: &str) -> String {
    match PriceTable::parse(Path::new("stacks/prices/test.toml"), text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn the_shipped_price_table_is_whole() {
    let table = PriceTable::load(&root(), "eu-west-1").expect("valid table");
    for key in PriceKey::ALL {
        assert!(table.price(*key).usd >= 0.0);
    }
    // Every instance type the shipped node groups use has a price.
    for env in ["staging", "production"] {
        for group in &environment(env).config.node_groups {
            for ty in &group.instance_types {
                assert!(table.ec2.contains_key(ty), "{env}: {ty} has no price");
            }
        }
    }
    // Every Kubernetes version config accepts has a support window.
    for minor in crate::config::KUBERNETES_MINOR_VERSIONS {
        assert!(
            table.eks_versions.contains_key(&format!("1.{minor}")),
            "1.{minor}"
        );
    }
}

#[test]
fn a_bad_price_table_names_the_key_at_fault() {
    let text = table_text();
    let missing = text.replacen("[price.nat_gateway_gb]", "[price.nat_gateway_gigabyte]", 1);
    let error = parse_error(&missing);
    assert!(
        error.contains("stacks/prices/test.toml: invalid price table"),
        "{error}"
    );
    assert!(error.contains("price.nat_gateway_gb: missing"), "{error}");
    assert!(
        error.contains("price.nat_gateway_gigabyte: unknown key"),
        "{error}"
    );

    let negative = text.replacen("usd = 0.048", "usd = -0.048", 1);
    assert!(parse_error(&negative).contains("price.nat_gateway_hour.usd: -0.048 is not a price"));

    // TOML itself refuses impossible days; a time of day is refused here.
    let bad_day = text.replacen("read = 2026-12-01", "read = 2026-02-30", 1);
    assert!(
        parse_error(&bad_day).contains("line 33"),
        "{}",
        parse_error(&bad_day)
    );
    let with_time = text.replacen("read = 2026-12-01", "read = 2026-12-01T10:00:00", 1);
    assert!(
        parse_error(&with_time)
            .contains("price.eks_cluster_hour.read: `2026-12-01T10:00:00` is not a date"),
        "{}",
        parse_error(&with_time)
    );

    let order = text.replacen(
        "standard_until = 2024-11-26",
        "standard_until = 2026-11-26",
        1,
    );
    assert!(parse_error(&order).contains("must come in that order"));

    let status = text.replacen("status = \"list\"", "status = \"maybe\"", 1);
    assert!(parse_error(&status).contains("maybe"));
}

#[test]
fn usage_defaults_apply_unless_set() {
    let usage: UsageConfig =
        toml::from_str("nat_data_gb = 7\n[resources.\"aws_nat_gateway.b\"]\nnat_data_gb = 9\n")
            .expect("usage");
    let value = |address| usage.value(UsageKey::NatDataGb, address);
    assert_eq!(
        (
            value("aws_nat_gateway.a").value,
            value("aws_nat_gateway.a").source
        ),
        (7.0, UsageSource::Environment)
    );
    assert_eq!(
        (
            value("aws_nat_gateway.b").value,
            value("aws_nat_gateway.b").source
        ),
        (9.0, UsageSource::Resource)
    );
    let other = usage.value(UsageKey::LogIngestGb, "aws_nat_gateway.a");
    assert_eq!((other.value, other.source), (5.0, UsageSource::Default));
}
