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

/// The module as `infra synth` writes it: every component built, then the
/// releases handed to Argo CD (both shipped environments have GitOps on).
fn estimate_of(env: &Environment, as_of: &str) -> Estimate {
    let mut app = crate::build(env, &crate::chart_dir(&root())).expect("build");
    crate::gitops::deliver(&mut app, env).expect("GitOps delivery");
    let module = app.synth(&synth::SynthOptions::default()).expect("synth");
    estimate_module(&root(), &module.files, day(as_of)).expect("estimate")
}

fn line<'a>(e: &'a Estimate, address: &str, what: &str) -> &'a Line {
    let lines: Vec<&Line> = e
        .lines
        .iter()
        .filter(|l| l.address == address && l.what == what)
        .collect();
    assert_eq!(lines.len(), 1, "{address} {what}: {lines:#?}");
    lines[0]
}

fn monthly(e: &Estimate, address: &str, what: &str) -> f64 {
    line(e, address, what).monthly
}

/// The monthly cost at the fewest and most instances the config allows.
fn range(e: &Estimate, address: &str, what: &str) -> (f64, f64) {
    line(e, address, what)
        .range
        .unwrap_or_else(|| panic!("{address} {what} has no range"))
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

/// Every line of `address`, together.
fn resource_total(e: &Estimate, address: &str) -> f64 {
    e.lines
        .iter()
        .filter(|l| l.address == address)
        .map(|l| l.monthly)
        .sum()
}

#[test]
fn staging_matches_the_hand_computed_estimate() {
    let e = estimate_of(&environment("staging"), EXTENDED);
    // Prices (eu-west-1.toml): NAT 0.048/h and 0.048/GB; public IPv4 0.005/h;
    // KMS 1.00/key-month and 0.03 per 10k requests; logs 0.57/GB ingested
    // (vended the same), 0.03/GB-month stored, 15% stored per byte ingested;
    // EKS 0.60/h extended; t3.micro 0.0114/h, t3.medium 0.0456/h, t3.large
    // 0.0912/h, c6i.large 0.096/h, spot 60% off; gp3 0.088/GB-month;
    // CloudWatch metric 0.30/month, 7 per instance with detailed monitoring;
    // S3 0.023/GB-month, 0.005 per 1k PUTs, 0.0004 per 1k GETs; SQS 0.40 and
    // SNS 0.50 per million requests; SNS e-mail 2.00 per 100k, HTTP(S) 0.60
    // per million; ALB and NLB 0.0252/h, 0.008/LCU-h (ALB), 0.006/NLCU-h;
    // egress 0.09/GB; ECR 0.10/GB-month; WAF 5.00/web ACL-month, 1.00/rule-
    // month, 0.60 per million requests; Secrets Manager 0.40/secret-month,
    // 0.05 per 10k calls; Lambda 0.20 per million requests, 0.0000166667/GB-s;
    // an ACM public certificate and Route 53 records (alias queries to a
    // load balancer) nothing. 730 h.
    // Usage defaults: 50 GB per NAT, 5 GB per log group, 10,000 KMS requests,
    // 1 GB of images, 10 GB / 100,000 PUTs / 1,000,000 GETs per bucket,
    // 1 million SQS requests, 0.01 million SNS publishes, 10,000 e-mail and
    // 10,000 HTTP(S) notifications, 1 (N)LCU, 50 GB egress, 10 million WAF
    // requests, 10,000 secret API calls, 1,000 Lambda invocations of 1,000 ms.
    //
    // network:
    //   flow log group: 5 x 0.57 = 2.85; stored 5 x 12 months x 0.15 = 9 GB-month x 0.03 = 0.27
    //   NAT EIP: 730 x 0.005 = 3.65
    //   logs KMS key: 1.00 + 10,000/10,000 x 0.03 = 1.03
    //   NAT gateway a: 730 x 0.048 = 35.04, data 50 x 0.048 = 2.40
    //   WAF log group: 2.85 + 0.27 = 3.12
    //   web ACL: 5.00 + 4 rules (3 managed groups, the rate limit) x 1.00 +
    //     10 x 0.60 = 15.00
    //   = 2.85 + 0.27 + 3.65 + 1.03 + 35.04 + 2.40 + 3.12 + 15.00 = 63.36
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
    let acl = "aws_wafv2_web_acl.edge";
    assert_close(monthly(&e, acl, "rules"), 4.0, "WAF rules");
    assert_close(resource_total(&e, acl), 15.0, "web ACL");
    assert_close(stack_total(&e, "network"), 63.36, "network");
    // iam: the cluster's secrets KMS key 1.00 + 0.03 = 1.03, Loki's and the
    //   app secrets', the same: 3 x 1.03 = 3.09
    //   the rotation function's log group: 3.12
    //   the app secret: 0.40 + 10,000/10,000 x 0.05 = 0.45
    //   the rotation function: 1,000/1,000 x 0.0002 = 0.0002 in requests;
    //     1,000 x 1 s x 128/1024 GB = 125 GB-s x 0.0000166667 = 0.0020833375
    //   = 3.09 + 3.12 + 0.45 + 0.0002 + 0.0020833375 = 6.6622833375
    assert_close(resource_total(&e, "aws_kms_key.loki"), 1.03, "Loki's key");
    let secret = "aws_secretsmanager_secret.app_secret";
    assert_close(resource_total(&e, secret), 0.45, "app secret");
    let rotation = "aws_lambda_function.secret_rotation";
    assert_close(monthly(&e, rotation, "requests"), 0.0002, "rotations");
    assert_close(monthly(&e, rotation, "compute"), 0.0020833375, "GB-s");
    assert_close(stack_total(&e, "iam"), 6.6622833375, "iam");
    // eks:
    //   control plane: 730 x 0.60 = 438.00
    //   system nodes: 0.0456 x (1 - 0.60) = 0.01824/h x 730 h = 13.3152 a node
    //     x 2 desired = 26.6304 (2 to 3 nodes: 26.6304 to 39.9456);
    //     root volumes 30 GB x 0.088 = 2.64 a node x 2 = 5.28 (5.28 to 7.92)
    //   monitoring nodes: t3.large on-demand 0.0912 x 730 = 66.576 x 1 desired
    //     (1 to 2 nodes: 66.576 to 133.152); root volumes 30 x 0.088 = 2.64
    //     (2.64 to 5.28)
    //   bastion: t3.micro 0.0114 x 730 = 8.322; root volume 8 GB x 0.088 = 0.704;
    //     detailed monitoring 7 metrics x 0.30 = 2.10; = 11.126
    //   cluster log group: 2.85 + 0.27 = 3.12; ECR: 1 x 0.10 = 0.10
    //   Loki's two buckets: 10 x 0.023 = 0.23, 100,000/1,000 x 0.005 = 0.50,
    //     1,000,000/1,000 x 0.0004 = 0.40: 1.13 each, 2.26
    //   alerts topic: 0.01 x 0.50 = 0.005; 10,000/100,000 x 2.00 = 0.20;
    //     10,000/1,000,000 x 0.60 = 0.006; = 0.211
    //   interruption queue: 1 x 0.40 = 0.40
    //   the five EventBridge rules match AWS service events only: free
    //   = 438.00 + 26.6304 + 5.28 + 66.576 + 2.64 + 11.126 + 3.12 + 0.10
    //     + 2.26 + 0.211 + 0.40 = 556.3434
    assert_close(
        monthly(&e, "aws_eks_cluster.main", "control plane"),
        438.0,
        "EKS",
    );
    let system = "aws_eks_node_group.system";
    assert_close(monthly(&e, system, "nodes"), 26.6304, "spot system nodes");
    let (fewest, most) = range(&e, system, "nodes");
    assert_close(fewest, 26.6304, "two system nodes");
    assert_close(most, 39.9456, "three system nodes");
    assert_close(monthly(&e, system, "root volumes"), 5.28, "system roots");
    let monitoring = "aws_eks_node_group.monitoring";
    assert_close(monthly(&e, monitoring, "nodes"), 66.576, "monitoring node");
    assert_close(range(&e, monitoring, "nodes").1, 133.152, "two of them");
    assert_close(
        monthly(&e, monitoring, "root volumes"),
        2.64,
        "monitoring root",
    );
    let bastion = "aws_instance.bastion";
    assert_close(monthly(&e, bastion, "instances"), 8.322, "bastion");
    assert_close(monthly(&e, bastion, "root volumes"), 0.704, "bastion disk");
    assert_close(
        monthly(&e, bastion, "detailed monitoring"),
        2.10,
        "bastion metrics",
    );
    assert_close(
        resource_total(&e, "aws_s3_bucket.loki_chunks"),
        1.13,
        "chunks bucket",
    );
    assert_close(resource_total(&e, "aws_sns_topic.alerts"), 0.211, "alerts");
    assert_close(
        monthly(&e, "aws_sqs_queue.karpenter_interruption", "requests"),
        0.40,
        "queue",
    );
    assert!(e.lines.iter().all(|l| l.ty != "aws_cloudwatch_event_rule"));
    assert_eq!(e.no_charge.get("aws_cloudwatch_event_rule"), Some(&5));
    assert_close(stack_total(&e, "eks"), 556.3434, "eks");
    // In the cluster (not in terraform):
    //   Karpenter's NodePool general: c6i.large spot, 0.096 x 0.40 = 0.0384/h
    //     x 730 = 28.032 a node x 2 expected (the service's 2 pods) = 56.064
    //     (0 to 8 nodes: 16 CPUs / 2 vCPUs = 8, 64 GiB / 4 GiB = 16, the
    //     lower: 0 to 224.256); root volumes 30 x 0.088 = 2.64 a node x 2 =
    //     5.28 (0 to 21.12)
    //   volumes (gp3): Prometheus 1 x 20 GB x 0.088 = 1.76; Alertmanager
    //     1 x 2 x 0.088 = 0.176; Loki 1 x 10 x 0.088 = 0.88; Grafana 1 x 2 x
    //     0.088 = 0.176; = 2.992
    //   the service's ALB: 730 x 0.0252 = 18.396; 1 LCU x 730 x 0.008 = 5.84;
    //     2 public IPv4 (2 AZs) x 730 x 0.005 = 7.30; 50 GB x 0.09 = 4.50
    //     = 36.036
    //   = 56.064 + 5.28 + 2.992 + 36.036 = 100.372
    let nodes = "estimated.aws_instance.general";
    assert_close(monthly(&e, nodes, "instances"), 56.064, "Karpenter's nodes");
    assert_close(range(&e, nodes, "instances").0, 0.0, "no node");
    assert_close(range(&e, nodes, "instances").1, 224.256, "eight nodes");
    assert_close(monthly(&e, nodes, "root volumes"), 5.28, "their roots");
    assert!(line(&e, nodes, "instances")
        .detail
        .starts_with("c6i.large, spot"));
    assert_close(
        monthly(&e, "estimated.aws_ebs_volume.prometheus", "volume"),
        1.76,
        "Prometheus' volume",
    );
    let volumes: f64 = e
        .lines
        .iter()
        .filter(|l| l.ty == "aws_ebs_volume")
        .map(|l| l.monthly)
        .sum();
    assert_close(volumes, 2.992, "the stores' volumes");
    let alb = "estimated.aws_lb.webapp";
    assert_close(monthly(&e, alb, "public IPv4 addresses"), 7.30, "ALB IPv4");
    assert_close(monthly(&e, alb, "capacity units"), 5.84, "ALB LCU");
    assert_close(resource_total(&e, alb), 36.036, "ALB");
    assert!(e
        .lines
        .iter()
        .all(|l| l.estimated == (l.stack == "in-cluster")));
    assert_close(stack_total(&e, "in-cluster"), 100.372, "in the cluster");
    // Total: 63.36 + 6.6622833375 + 556.3434 + 100.372 = 726.7376833375
    assert_close(e.totals.monthly, 726.7376833375, "staging total");
    assert_close(e.totals.estimated_from_config, 100.372, "from config");
    // Usage-based: 3.12 (flow) + 3.12 (WAF logs) + 6.00 (WAF requests) + 3.12
    //   (rotation logs) + 4 x 0.03 = 0.12 (KMS) + 0.05 (secret calls) +
    //   0.0022833375 (Lambda) + 2.40 (NAT) + 3.12 (cluster logs) + 0.10 (ECR)
    //   + 2.26 (buckets) + 0.211 (SNS) + 0.40 (SQS) + 5.84 (LCU) + 4.50
    //   (egress) = 34.3632833375
    assert_close(e.totals.usage_based, 34.3632833375, "usage-based");
    // Fewest: node groups at their min_size (= desired here), Karpenter at
    //   none: 726.7376833375 - 56.064 - 5.28 = 665.3936833375
    // Most: monitoring + 1 x (66.576 + 2.64) = 69.216; system + 1 x
    //   (13.3152 + 2.64) = 15.9552; Karpenter + 6 x (28.032 + 2.64) = 184.032:
    //   726.7376833375 + 69.216 + 15.9552 + 184.032 = 995.9408833375
    assert_close(e.totals.min, 665.3936833375, "fewest nodes");
    assert_close(e.totals.max, 995.9408833375, "most nodes");
    assert!(e.unpriced.is_empty(), "{:?}", e.unpriced);
    // Each estimate says what it rests on.
    let basis = |address: &str| {
        e.estimates
            .iter()
            .find(|b| b.address == address)
            .unwrap_or_else(|| panic!("{address} has no basis"))
            .basis
            .clone()
    };
    assert!(
        basis(nodes).contains("c6i.large assumed"),
        "{}",
        basis(nodes)
    );
    assert!(basis(nodes).contains("at most 8"), "{}", basis(nodes));

    // Before 2026-03-24 the control plane was in standard support:
    // 730 x 0.10 = 73.00, so 726.7376833375 - 438 + 73 = 361.7376833375.
    let earlier = estimate_of(&environment("staging"), STANDARD);
    assert_close(
        earlier.totals.monthly,
        361.7376833375,
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
    //   flow logs 3.12; logs key 1.03; WAF logs 3.12 and web ACL 15.00 (as
    //   in staging: the rate limit is lower, the rules as many)
    //   = 112.32 + 10.95 + 3.12 + 1.03 + 3.12 + 15.00 = 145.54
    assert_close(stack_total(&e, "network"), 145.54, "network");
    // iam: as in staging, 6.6622833375
    assert_close(stack_total(&e, "iam"), 6.6622833375, "iam");
    // eks:
    //   control plane 438.00
    //   system nodes: m6i.large on-demand 0.107 x 730 = 78.11 a node x 3 =
    //     234.33 (3 to 4 nodes: 234.33 to 312.44); root volumes 50 GB x 0.088
    //     = 4.40 a node x 3 = 13.20 (13.20 to 17.60)
    //   monitoring nodes: m6i.xlarge on-demand 0.214 x 730 = 156.22 a node x 3
    //     = 468.66 (3 to 4: 468.66 to 624.88); root volumes 4.40 x 3 = 13.20
    //   bastion: 8.322 + 0.704 + 2.10 = 11.126 (as in staging)
    //   cluster logs 3.12; ECR 0.10; buckets 2.26; alerts 0.211; queue 0.40
    //   = 438.00 + 234.33 + 13.20 + 468.66 + 13.20 + 11.126 + 3.12 + 0.10
    //     + 2.26 + 0.211 + 0.40 = 1,184.607
    let system = "aws_eks_node_group.system";
    assert_close(monthly(&e, system, "nodes"), 234.33, "on-demand nodes");
    assert_close(monthly(&e, system, "root volumes"), 13.20, "root volumes");
    let monitoring = "aws_eks_node_group.monitoring";
    assert_close(monthly(&e, monitoring, "nodes"), 468.66, "monitoring nodes");
    assert_close(range(&e, monitoring, "nodes").1, 624.88, "four of them");
    assert_close(stack_total(&e, "eks"), 1184.607, "eks");
    // In the cluster:
    //   Karpenter's NodePool general: c6i.large on-demand 0.096 x 730 = 70.08
    //     a node x 3 expected (the service's 3 pods) = 210.24 (0 to 32 nodes:
    //     64 CPUs / 2 = 32, 256 GiB / 4 GiB = 64, the lower: 0 to 2,242.56);
    //     root volumes 50 x 0.088 = 4.40 a node x 3 = 13.20 (0 to 140.80)
    //   volumes: Prometheus 2 x 100 GB = 200 x 0.088 = 17.60; Alertmanager
    //     2 x 2 = 4 x 0.088 = 0.352; Loki 3 x 10 = 30 x 0.088 = 2.64; Grafana
    //     5 x 0.088 = 0.44; = 21.032
    //   Grafana's internal NLB: 18.396 + 4.38 = 22.776 (no public address,
    //     no internet egress)
    //   the service's ALB over 3 AZs: 18.396 + 5.84 + 3 x 730 x 0.005 (10.95)
    //     + 4.50 = 39.686
    //   = 210.24 + 13.20 + 21.032 + 22.776 + 39.686 = 306.934
    let nodes = "estimated.aws_instance.general";
    assert_close(monthly(&e, nodes, "instances"), 210.24, "Karpenter's nodes");
    assert_close(range(&e, nodes, "instances").1, 2242.56, "32 nodes");
    assert_close(monthly(&e, nodes, "root volumes"), 13.20, "their roots");
    assert_eq!(
        line(&e, nodes, "instances").detail,
        "c6i.large, on-demand",
        "production's NodePool has no spot"
    );
    assert_close(
        monthly(&e, "estimated.aws_ebs_volume.prometheus", "volume"),
        17.60,
        "two Prometheus volumes",
    );
    assert_close(
        resource_total(&e, "estimated.aws_lb.grafana"),
        22.776,
        "Grafana's NLB",
    );
    assert_close(
        resource_total(&e, "estimated.aws_lb.webapp"),
        39.686,
        "the service's ALB",
    );
    assert_close(stack_total(&e, "in-cluster"), 306.934, "in the cluster");
    // Total: 145.54 + 6.6622833375 + 1,184.607 + 306.934 = 1,643.7432833375
    assert_close(e.totals.monthly, 1643.7432833375, "production total");
    // Fewest: the node groups' min_size is their desired size; Karpenter at
    //   none: 1,643.7432833375 - 210.24 - 13.20 = 1,420.3032833375
    // Most: system + 1 x (78.11 + 4.40) = 82.51; monitoring + 1 x (156.22 +
    //   4.40) = 160.62; Karpenter + 29 x (70.08 + 4.40) = 2,159.92:
    //   1,643.7432833375 + 82.51 + 160.62 + 2,159.92 = 4,046.7932833375
    assert_close(e.totals.min, 1420.3032833375, "fewest nodes");
    assert_close(e.totals.max, 4046.7932833375, "most nodes");
    // Usage-based: 3.12 + 3.12 + 6.00 + 3.12 + 0.12 + 0.05 + 0.0022833375
    //   (flow and WAF logs, WAF requests, rotation logs, KMS, secret calls,
    //   Lambda) + 3 x 2.40 (7.20) + 3.12 + 0.10 + 2.26 + 0.211 + 0.40 + 4.38
    //   (Grafana's NLCU) + 5.84 (the service's LCU) + 4.50 = 43.5432833375
    assert_close(e.totals.usage_based, 43.5432833375, "usage-based");
    assert!(e.unpriced.is_empty(), "{:?}", e.unpriced);
}

#[test]
fn usage_inputs_change_only_the_figures_that_depend_on_them() {
    let mut env = environment("staging");
    let flow = "aws_cloudwatch_log_group.flow_logs";
    env.config.usage = toml::from_str(&format!(
        "nat_data_gb = 1000\nsns_email_notifications = 100000\n\
         [resources.\"{flow}\"]\nlog_ingest_gb = 100\n"
    ))
    .expect("usage section");
    let e = estimate_of(&env, EXTENDED);
    // 1,000 GB x 0.048 = 48.00 instead of 2.40 (+45.60);
    // flow logs 100 GB: 100 x 0.57 = 57.00 in, 100 x 12 x 0.15 x 0.03 = 5.40 kept,
    // instead of 3.12 (+59.28); the cluster's log group keeps the default;
    // 100,000 e-mails / 100,000 x 2.00 = 2.00 instead of 0.20 (+1.80).
    assert_close(
        monthly(&e, "aws_nat_gateway.a", "data processed"),
        48.0,
        "NAT data",
    );
    assert_close(monthly(&e, flow, "logs ingested"), 57.0, "flow logs");
    assert_close(monthly(&e, flow, "logs stored"), 5.4, "flow logs kept");
    let cluster_logs = "aws_cloudwatch_log_group.cluster";
    assert_close(monthly(&e, cluster_logs, "logs ingested"), 2.85, "default");
    assert_close(
        monthly(&e, "aws_sns_topic.alerts", "e-mail notifications"),
        2.0,
        "e-mails",
    );
    assert_close(
        e.totals.monthly,
        726.7376833375 + 45.6 + 59.28 + 1.8,
        "total",
    );
    let sources: Vec<(&str, UsageSource)> = e
        .usage
        .iter()
        .filter(|u| u.key == UsageKey::LogIngestGb)
        .flat_map(|u| u.resources.iter().map(|r| (r.as_str(), u.source)))
        .collect();
    assert!(
        sources.contains(&(flow, UsageSource::Resource)),
        "{sources:?}"
    );
    assert!(
        sources.contains(&(cluster_logs, UsageSource::Default)),
        "{sources:?}"
    );
    assert!(e.notices.is_empty() || e.notices.iter().all(|n| !n.contains("usage.")));
}

#[test]
fn usage_that_prices_nothing_is_pointed_out() {
    let mut env = environment("staging");
    // Karpenter's EventBridge rules take AWS service events only, which are
    // free: custom events price nothing in this module.
    env.config.usage = toml::from_str(
        "eventbridge_events_million = 5\n[resources.\"aws_nat_gateway.z\"]\nnat_data_gb = 1\n\
         [resources.\"aws_nat_gateway.a\"]\nlog_ingest_gb = 1\n",
    )
    .expect("usage section");
    let notices = estimate_of(&env, EXTENDED).notices.join("\n");
    for expected in [
        "usage.eventbridge_events_million is set, but no resource of this module is priced by it",
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
    let mut app = crate::build(&environment("staging"), &crate::chart_dir(&root())).expect("build");
    crate::gitops::deliver(&mut app, &environment("staging")).expect("delivery");
    let mut inventory = crate::inventory::Inventory::from_files(
        &app.synth(&synth::SynthOptions::default())
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
fn an_event_rule_for_custom_events_is_priced_by_them() {
    let mut app = crate::build(&environment("staging"), &crate::chart_dir(&root())).expect("build");
    crate::gitops::deliver(&mut app, &environment("staging")).expect("delivery");
    let mut inventory = crate::inventory::Inventory::from_files(
        &app.synth(&synth::SynthOptions::default())
            .expect("synth")
            .files,
    )
    .expect("inventory");
    let mut rule = inventory
        .blocks
        .iter()
        .find(|b| b.address == "aws_cloudwatch_event_rule.karpenter_health")
        .expect("a Karpenter rule")
        .clone();
    rule.address = "aws_cloudwatch_event_rule.orders".into();
    rule.body["event_pattern"] =
        "${jsonencode({ \"source\" = [\"aws.ec2\", \"example.orders\"] })}".into();
    inventory.blocks.push(rule);
    inventory.usage = toml::from_str(
        "[resources.\"aws_cloudwatch_event_rule.orders\"]\neventbridge_events_million = 3\n",
    )
    .expect("usage");
    let table = PriceTable::load(&root(), "eu-west-1").expect("price table");
    let e = estimate(&inventory, &table, day(EXTENDED));
    // A source that is not an AWS service: 3 million x 1.00 = 3.00.
    assert_close(
        monthly(&e, "aws_cloudwatch_event_rule.orders", "custom events"),
        3.0,
        "custom events",
    );
    assert_eq!(e.no_charge.get("aws_cloudwatch_event_rule"), Some(&5));
}

#[test]
fn two_environments_compare_item_by_item() {
    let staging = estimate_of(&environment("staging"), EXTENDED);
    let production = estimate_of(&environment("production"), EXTENDED);
    let c = compare(&staging, &production, ("staging", "production"));
    // 1,643.7432833375 - 726.7376833375 = 917.0056
    assert_close(c.change(), 917.0056, "change");
    let row = |address: &str, what: &str| {
        c.rows
            .iter()
            .find(|r| r.address == address && r.what == what)
            .unwrap_or_else(|| panic!("{address} {what}"))
            .clone()
    };
    let added = row("aws_nat_gateway.c", "NAT gateway");
    assert_eq!(added.monthly, (None, Some(35.04)));
    let nodes = row("aws_eks_node_group.system", "nodes");
    assert_close(nodes.change(), 234.33 - 26.6304, "nodes");
    let karpenter = row("estimated.aws_instance.general", "instances");
    assert_close(karpenter.change(), 210.24 - 56.064, "Karpenter's nodes");
    let grafana = row("estimated.aws_lb.grafana", "load balancer");
    assert_eq!(grafana.monthly.0, None, "staging's Grafana has no NLB");
    assert!(!row("aws_eks_cluster.main", "control plane").differs());
    let text = comparison_table(&c, false);
    assert!(text.contains("+917.01    total a month"), "{text}");
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
    // Every instance type the shipped environments launch has a price: the
    // node groups', the monitoring group's, the bastion's, and the one each
    // NodePool's estimate assumes.
    for env in ["staging", "production"] {
        let environment = environment(env);
        let config = &environment.config;
        let mut types: Vec<String> = config
            .node_groups
            .iter()
            .flat_map(|g| g.instance_types.clone())
            .chain(config.observability.nodes.instance_types.clone())
            .collect();
        types.extend(
            config
                .gitops
                .iter()
                .map(|g| g.bastion.instance_type.clone()),
        );
        types.extend(
            crate::karpenter::estimated(&environment)
                .iter()
                .filter_map(|e| e.attributes["instance_type"].as_str().map(str::to_owned)),
        );
        for ty in types {
            assert!(table.ec2.contains_key(&ty), "{env}: {ty} has no price");
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
