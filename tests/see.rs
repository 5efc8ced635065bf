//! `infra cost`, `graph` and `report` as a user runs them: real processes,
//! real directories, a copy of the inputs where a test changes them.
#![allow(clippy::unwrap_used)] // a panic in a test helper is a failed test with its location

mod common;

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use common::{infra, repo, scratch_root, stderr, stdout};
use serde_json::Value;

/// The day the figures below were worked out for: Kubernetes 1.32 is in
/// extended support.
const AS_OF: &str = "2026-12-01";

fn ok(o: &Output) -> String {
    assert!(o.status.success(), "{}{}", stdout(o), stderr(o));
    stdout(o)
}

fn edit(path: &Path, from: &str, to: &str) {
    let text = fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "`{from}` is not in {}", path.display());
    fs::write(path, text.replacen(from, to, 1)).unwrap();
}

#[test]
fn cost_prints_every_priced_item_with_its_arithmetic_and_marks() {
    let text = ok(&infra(&["cost", "staging", "--as-of", AS_OF]));
    // The figures are worked out by hand in stacks/src/cost/tests.rs.
    for expected in [
        "staging: monthly estimate in USD, eu-west-1, as of 2026-12-01 (730 hours a month)",
        "     35.04   aws_nat_gateway.a                         NAT gateway: 730 h x 0.048",
        "      2.40*                                            data processed: 50 GB x 0.048 [usage.nat_data_gb]",
        "      5.00   aws_wafv2_web_acl.edge                    web ACL: 1 ACL-month x 5.00",
        "      0.40   aws_secretsmanager_secret.app_secret      secret: 1 secret-month x 0.40",
        "      0.00*                                            compute (128 MB): 125 GB-s x 0.000017 \
         [usage.lambda_invocations, usage.lambda_duration_ms]",
        "in the cluster: created by controllers, estimated from config (not in terraform)",
        "     18.40 ~ estimated.aws_lb.webapp                   load balancer (ALB): 730 h x 0.0252",
        "     56.06 ~ estimated.aws_instance.general            instances (c6i.large, spot at 60% below \
         on-demand (assumed)): 1,460 instance-h x 0.0384; 0.00 to 224.26 by scaling",
        "      1.76 ~ estimated.aws_ebs_volume.prometheus       volume (gp3, 20 GB each): 20 GB-month x 0.088",
        "      2.10                                             detailed monitoring (7 metrics each, at \
         1-minute resolution): 7 metric-month x 0.30",
        "      0.20*                                            e-mail notifications: 0.1 100k x 2.00 \
         [usage.sns_email_notifications]",
        "    726.74   total a month (USD)",
        "             from 665.39 to 995.94 as node groups and NodePools scale between their sizes",
        "lambda_invocations = 1,000 invocations (default)",
        "nat_data_gb = 50 GB (default)",
        "sns_email_notifications = 10,000 notifications (default)",
        "what the in-cluster estimates (~) rest on:",
        "  estimated.aws_instance.general: NodePool general: c6i.large assumed",
        "not priced: nothing",
        "prices: stacks/prices/eu-west-1.toml (read 2026-12-01;",
        "notice: aws_eks_cluster.main: Kubernetes 1.32 is in extended support since 2026-03-23",
    ] {
        assert!(text.contains(expected), "`{expected}` missing from:\n{text}");
    }
}

#[test]
fn cost_json_carries_the_figures_their_prices_and_sources() {
    let doc: Value = serde_json::from_str(&ok(&infra(&[
        "cost",
        "production",
        "--as-of",
        AS_OF,
        "--json",
    ])))
    .unwrap();
    let total = doc["totals"]["monthly"].as_f64().unwrap();
    assert!((total - 1643.7432833375).abs() < 1e-6, "{total}");
    let lines = doc["lines"].as_array().unwrap();
    let alb: Vec<&Value> = lines
        .iter()
        .filter(|l| l["address"] == "estimated.aws_lb.webapp")
        .collect();
    assert_eq!(alb.len(), 4);
    assert!(alb.iter().all(|l| l["estimated"] == true));
    let nat = lines
        .iter()
        .find(|l| l["address"] == "aws_nat_gateway.c" && l["what"] == "data processed")
        .unwrap();
    assert_eq!(nat["usage"], serde_json::json!(["nat_data_gb"]));
    assert_eq!(
        nat["prices"][0]["source"],
        "https://aws.amazon.com/vpc/pricing/"
    );
    assert_eq!(nat["prices"][0]["status"], "list");
    assert_eq!(doc["as_of"], AS_OF);
    let grafana: Vec<&Value> = lines
        .iter()
        .filter(|l| l["address"] == "estimated.aws_lb.grafana")
        .collect();
    assert_eq!(
        grafana.len(),
        2,
        "an internal NLB: hours and capacity units"
    );
    let basis = doc["estimates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["address"] == "estimated.aws_instance.general")
        .unwrap();
    assert_eq!(basis["controller"], "helm_release.karpenter");
    assert!(basis["basis"]
        .as_str()
        .unwrap()
        .contains("on-demand only; 3 expected"));
}

#[test]
fn cost_of_two_environments_side_by_side() {
    let text = ok(&infra(&["cost", "staging", "production", "--as-of", AS_OF]));
    assert!(
        text.contains("726.74   1,643.74    +917.01    total a month"),
        "{text}"
    );
    assert!(
        text.contains(
            "nodes (t3.medium, spot at 60% below on-demand (assumed) -> m6i.large, on-demand)"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "     56.06     210.24    +154.18 ~ estimated.aws_instance.general            instances \
             (c6i.large, spot at 60% below on-demand (assumed) -> c6i.large, on-demand)"
        ),
        "{text}"
    );
    assert!(
        text.contains("         -      35.04     +35.04   aws_nat_gateway.c "),
        "{text}"
    );
}

#[test]
fn diff_shows_the_cost_of_a_change() {
    let root = scratch_root();
    let root_arg = root.path().to_str().unwrap();
    let out = tempfile::tempdir().unwrap();
    let out_arg = out.path().to_str().unwrap();
    ok(&infra(&[
        "synth", "staging", "--out", out_arg, "--root", root_arg,
    ]));
    let config = root.path().join("stacks/config/staging.toml");
    edit(
        &config,
        "nat_gateway = \"single\"",
        "nat_gateway = \"one_per_az\"",
    );
    edit(
        &config,
        "[app.config]",
        "[usage]\nnat_data_gb = 100\n\n[app.config]",
    );
    let o = infra(&[
        "diff", "staging", "--out", out_arg, "--root", root_arg, "--as-of", AS_OF,
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let text = stdout(&o);
    // A second NAT gateway (35.04 + 100 GB x 0.048 = 4.80) and its EIP (3.65),
    // and the first gateway's data at 100 GB: 2.40 -> 4.80.
    // 726.7376833375 + 35.04 + 4.80 + 3.65 + 2.40 = 772.6276833375
    assert!(
        text.contains("~ usage\n    nat_data_gb: (absent) -> 100.0\n"),
        "{text}"
    );
    assert!(
        text.contains("monthly cost in USD, as of 2026-12-01: 726.74 -> 772.63 (+45.89)"),
        "{text}"
    );
    assert!(
        text.contains("2.40       4.80      +2.40*  aws_nat_gateway.a"),
        "{text}"
    );
    assert!(
        text.contains("-      35.04     +35.04   aws_nat_gateway.b"),
        "{text}"
    );
}

#[test]
fn diff_between_environments_ends_with_the_cost_change() {
    let o = infra(&["diff", "staging", "production", "--as-of", AS_OF]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("monthly cost in USD, as of 2026-12-01: 726.74 -> 1,643.74 (+917.01)"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn cost_without_a_price_table_fails_naming_the_file_and_diff_still_works() {
    let root = scratch_root();
    let root_arg = root.path().to_str().unwrap();
    fs::remove_file(root.path().join("stacks/prices/eu-west-1.toml")).unwrap();
    let o = infra(&["cost", "staging", "--root", root_arg]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("no price table for region `eu-west-1`")
            && stderr(&o).contains("stacks/prices/eu-west-1.toml"),
        "{}",
        stderr(&o)
    );
    let o = infra(&["diff", "staging", "production", "--root", root_arg]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stdout(&o).contains("monthly cost: not compared (pricing staging: no price table"));
}

#[test]
fn a_bad_date_is_refused() {
    let o = infra(&["cost", "staging", "--as-of", "2026-13-01"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--as-of: `2026-13-01` is not a date like 2026-12-01"));
}

/// The picture of `env` in `format`, compared with
/// tests/golden/graph/<env>.<ext> (`UPDATE_GOLDEN=1` writes it).
fn picture_matches_golden(env: &str, format: &str, ext: &str) {
    let text = ok(&infra(&["graph", env, "--format", format]));
    let golden = repo()
        .join("tests/golden/graph")
        .join(format!("{env}.{ext}"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        fs::create_dir_all(golden.parent().unwrap()).unwrap();
        fs::write(&golden, &text).unwrap();
        return;
    }
    let expected = fs::read_to_string(&golden).unwrap_or_default();
    assert!(
        expected == text,
        "infra graph {env} --format {format} differs from {}; review and run \
         UPDATE_GOLDEN=1 cargo test --test see",
        golden.display()
    );
}

#[test]
fn pictures_match_their_golden_files() {
    for env in ["staging", "production"] {
        picture_matches_golden(env, "mermaid", "mmd");
        picture_matches_golden(env, "dot", "dot");
    }
}

#[test]
fn readme_shows_the_current_staging_picture() {
    let readme = fs::read_to_string(repo().join("README.md")).unwrap();
    let begin = "<!-- infra graph staging: begin (just readme-picture) -->\n```mermaid\n";
    let block = readme
        .split(begin)
        .nth(1)
        .and_then(|rest| rest.split("```\n<!-- infra graph staging: end -->").next())
        .expect("README.md has the staging picture between its markers");
    assert!(
        block == ok(&infra(&["graph", "staging"])),
        "README.md's picture is stale: run `just readme-picture`"
    );
}

/// The subgraphs holding `id` in a Mermaid picture, outermost first.
fn enclosing(mermaid: &str, id: &str) -> Vec<String> {
    let mut stack: Vec<String> = Vec::new();
    for line in mermaid.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("subgraph ") {
            stack.push(rest.split('[').next().unwrap().to_owned());
        } else if line == "end" {
            stack.pop();
        } else if line
            .strip_prefix(id)
            .is_some_and(|rest| rest.starts_with(['[', '(', '{', '>']))
        {
            return stack;
        }
    }
    panic!("{id} is not drawn:\n{mermaid}");
}

/// The line drawing node `id`.
fn node_line<'a>(mermaid: &'a str, id: &str) -> &'a str {
    mermaid
        .lines()
        .map(str::trim)
        .find(|l| {
            l.strip_prefix(id)
                .is_some_and(|rest| rest.starts_with(['[', '(', '{', '>']))
        })
        .unwrap_or_else(|| panic!("{id} is not drawn"))
}

fn has_edge(mermaid: &str, edge: &str) {
    assert!(mermaid.contains(edge), "`{edge}` missing:\n{mermaid}");
}

#[test]
fn the_picture_holds_the_architecture_a_reader_expects() {
    let mermaid = ok(&infra(&["graph", "production"]));
    let (vpc, cluster) = ("g_aws_vpc_main", "g_aws_eks_cluster_main");
    // Three AZ columns, each with a public and a private subnet.
    for az in ["eu-west-1a", "eu-west-1b", "eu-west-1c"] {
        assert!(mermaid.contains(&format!("[\"<b>{az}</b>\"]")), "{az}");
    }
    assert_eq!(mermaid.matches("public subnet</b>").count(), 3);
    assert_eq!(mermaid.matches("private subnet</b>").count(), 3);
    for az in ["a", "b", "c"] {
        let private = format!("g_aws_subnet_private_{az}");
        let nat = format!("aws_nat_gateway_{az}__aws_subnet_public_{az}");
        // The system and monitoring node groups and Karpenter's nodes
        // (estimated, dashed) in each private subnet, each AZ's leaving
        // through its own NAT gateway (zone redundancy).
        for nodes in [
            "aws_eks_node_group_system",
            "aws_eks_node_group_monitoring",
            "estimated_aws_instance_general",
        ] {
            let id = format!("{nodes}__aws_subnet_private_{az}");
            assert_eq!(enclosing(&mermaid, &id).last(), Some(&private), "{id}");
            has_edge(&mermaid, &format!("{id} -->|\"egress\"| {nat}"));
        }
        // The monitoring nodes are kept for the monitoring stack.
        assert!(node_line(
            &mermaid,
            &format!("aws_eks_node_group_monitoring__aws_subnet_private_{az}")
        )
        .contains("tainted dedicated=monitoring"));
        has_edge(
            &mermaid,
            &format!(
                "aws_iam_role_node -.->|\"assumed by\"| aws_eks_node_group_system__aws_subnet_private_{az}"
            ),
        );
        has_edge(
            &mermaid,
            &format!(
                "aws_iam_role_karpenter_node -.->|\"assumed by\"| estimated_aws_instance_general__aws_subnet_private_{az}"
            ),
        );
    }
    let karpenter_nodes = node_line(
        &mermaid,
        "estimated_aws_instance_general__aws_subnet_private_a",
    );
    assert!(
        karpenter_nodes.contains("<b>NodePool general</b>")
            && karpenter_nodes.contains("c6i.large assumed, on-demand")
            && karpenter_nodes.contains("3 expected (0 to 32) across 3 AZs"),
        "{karpenter_nodes}"
    );
    assert!(mermaid.contains("class estimated_aws_lb_webapp__aws_subnet_public_a,"));
    assert!(mermaid.contains(",estimated_aws_instance_general__aws_subnet_private_a,"));
    // Karpenter's controller in kube-system on the system nodes, with its
    // role and the interruption queue it reads (its EventBridge rules are
    // a line of the queue, not boxes).
    let kube_system = format!("{cluster}_ns_kube_system");
    assert_eq!(
        enclosing(&mermaid, "helm_release_karpenter").last(),
        Some(&kube_system)
    );
    assert!(node_line(&mermaid, "helm_release_karpenter").contains("pods on node group system"));
    assert_eq!(
        enclosing(&mermaid, "aws_iam_role_karpenter_controller").last(),
        Some(&kube_system)
    );
    has_edge(
        &mermaid,
        "helm_release_karpenter -.->|\"reads\"| aws_sqs_queue_karpenter_interruption",
    );
    assert!(node_line(&mermaid, "aws_sqs_queue_karpenter_interruption")
        .contains("fed by 5 EventBridge rules (aws.ec2, aws.health)"));
    assert!(!mermaid.contains("event rule") && !mermaid.contains("ec2 tag"));
    // The observability stack in its namespace, on the monitoring nodes;
    // Loki's buckets and the alerts topic beside the VPC; Grafana's internal
    // NLB in the private subnets.
    let monitoring = format!("{cluster}_ns_monitoring");
    for release in [
        "helm_release_kube_prometheus_stack",
        "helm_release_loki",
        "helm_release_alloy",
        "helm_release_webapp_monitoring",
    ] {
        let at = enclosing(&mermaid, release);
        assert_eq!(at.last(), Some(&monitoring), "{release}");
        assert!(at.contains(&cluster.to_owned()), "{release}");
    }
    for release in ["helm_release_kube_prometheus_stack", "helm_release_loki"] {
        assert!(
            node_line(&mermaid, release).contains("pods on node group monitoring"),
            "{release}"
        );
    }
    assert!(node_line(&mermaid, "helm_release_alloy").contains("pods on every node"));
    assert!(node_line(&mermaid, &format!("{monitoring}_volumes"))
        .contains("prometheus: 2 x 100 GB gp3"));
    for service in [
        "aws_s3_bucket_loki_chunks",
        "aws_s3_bucket_loki_ruler",
        "aws_sns_topic_alerts",
    ] {
        assert_eq!(
            enclosing(&mermaid, service),
            ["g_region", "g_services"],
            "{service}"
        );
    }
    has_edge(
        &mermaid,
        "helm_release_loki -.->|\"stores in\"| aws_s3_bucket_loki_chunks",
    );
    has_edge(
        &mermaid,
        "helm_release_kube_prometheus_stack -.->|\"publishes to\"| aws_sns_topic_alerts",
    );
    assert_eq!(
        enclosing(&mermaid, "estimated_aws_lb_grafana__aws_subnet_private_b").last(),
        Some(&"g_aws_subnet_private_b".to_owned())
    );
    // Argo CD in the cluster, delivering the add-ons and the service from
    // the git repository.
    assert_eq!(
        enclosing(&mermaid, "helm_release_argo_cd").last(),
        Some(&format!("{cluster}_ns_argocd"))
    );
    let git = "git_git_github_com_example_org_webapp_git";
    assert!(node_line(&mermaid, git).contains("gitops/production on main"));
    has_edge(
        &mermaid,
        &format!("{git} -.->|\"desired state\"| helm_release_argo_cd"),
    );
    for namespace in ["kube_system", "external_secrets", "monitoring", "webapp"] {
        has_edge(
            &mermaid,
            &format!("helm_release_argo_cd -.->|\"delivers\"| {cluster}_ns_{namespace}"),
        );
    }
    assert!(
        !mermaid.contains("argocd_bootstrap"),
        "drawn as part of Argo CD"
    );
    // The edge: the service's ALB with its public name, the certificate it
    // presents and the web ACL it is filtered by, which logs to its group.
    let alb = "estimated_aws_lb_webapp__aws_subnet_public_a";
    let alb_line = node_line(&mermaid, alb);
    assert!(
        alb_line.contains("<b>ALB</b>")
            && alb_line.contains("listens 443/HTTPS, 80/HTTP")
            && alb_line.contains("public name webapp.example.com"),
        "{alb_line}"
    );
    has_edge(
        &mermaid,
        &format!("{alb} -.->|\"TLS with\"| aws_acm_certificate_edge"),
    );
    has_edge(
        &mermaid,
        &format!("{alb} -.->|\"filtered by\"| aws_wafv2_web_acl_edge"),
    );
    assert!(node_line(&mermaid, "aws_wafv2_web_acl_edge").contains("4 rules"));
    has_edge(
        &mermaid,
        "aws_wafv2_web_acl_edge -.->|\"logs requests to\"| aws_cloudwatch_log_group_waf",
    );
    // The secrets: rotated by their function, read only by the roles of the
    // rotation and of the namespace's SecretStore, which External Secrets
    // Operator (in its own namespace, delivered by Argo CD) authenticates as.
    let secret = "aws_secretsmanager_secret_app_secret";
    has_edge(
        &mermaid,
        &format!("aws_lambda_function_secret_rotation -.->|\"rotates\"| {secret}"),
    );
    let readers: Vec<&str> = mermaid
        .lines()
        .filter(|l| l.contains(&format!("|\"may read\"| {secret}")))
        .collect();
    assert_eq!(readers.len(), 2, "{readers:?}");
    has_edge(
        &mermaid,
        &format!("aws_iam_role_secrets_reader -.->|\"may read\"| {secret}"),
    );
    has_edge(
        &mermaid,
        "aws_iam_role_secrets_reader -.->|\"assumed by\"| helm_release_service_secrets",
    );
    assert_eq!(
        enclosing(&mermaid, "helm_release_external_secrets").last(),
        Some(&format!("{cluster}_ns_external_secrets"))
    );
    for plumbing in [
        "lambda permission",
        "secretsmanager secret rotation",
        "log resource policy",
    ] {
        assert!(!mermaid.contains(plumbing), "{plumbing} is drawn");
    }
    // The bastion in a private subnet beside its role, and the admin's way
    // through Session Manager to the private API.
    let bastion = "aws_instance_bastion__aws_subnet_private_a";
    assert_eq!(
        enclosing(&mermaid, bastion),
        [
            "g_region",
            vpc,
            "g_aws_vpc_main_eu_west_1a",
            "g_aws_subnet_private_a"
        ]
    );
    assert!(node_line(&mermaid, bastion).contains("managed by Systems Manager"));
    has_edge(
        &mermaid,
        &format!("aws_iam_role_bastion -.->|\"assumed by\"| {bastion}"),
    );
    assert_eq!(
        enclosing(&mermaid, "aws_iam_role_bastion").last(),
        Some(&"g_aws_subnet_private_a".to_owned())
    );
    has_edge(
        &mermaid,
        "account_people -.->|\"assumes\"| aws_iam_role_admin",
    );
    has_edge(
        &mermaid,
        &format!("aws_iam_role_admin ==>|\"Session Manager port forwarding\"| {bastion}"),
    );
    has_edge(
        &mermaid,
        &format!("{bastion} ==>|\"port 443 to the API\"| aws_eks_cluster_main"),
    );
    assert!(node_line(&mermaid, "aws_eks_cluster_main").contains("API: private only"));
    // The request path: the NLB (estimated, dashed) in the public subnets,
    // from the internet to the service's pods on Karpenter's nodes.
    has_edge(
        &mermaid,
        "internet ==>|\"requests\"| aws_internet_gateway_main",
    );
    has_edge(
        &mermaid,
        "estimated_aws_lb_webapp__aws_subnet_public_a ==>|\"to pod IPs\"| helm_release_webapp",
    );
    has_edge(
        &mermaid,
        "helm_release_webapp ==>|\"pods run on\"| estimated_aws_instance_general__aws_subnet_private_c",
    );
    assert!(!mermaid.contains("helm_release_webapp ==>|\"pods run on\"| aws_eks_node_group"));
    // Roles beside what assumes them.
    has_edge(
        &mermaid,
        "aws_iam_role_service -.->|\"assumed by\"| helm_release_webapp",
    );
    assert_eq!(
        enclosing(&mermaid, "aws_iam_role_loki").last(),
        Some(&monitoring)
    );
    // Staging's single NAT gateway serves the second AZ across zones.
    let staging = ok(&infra(&["graph", "staging"]));
    has_edge(
        &staging,
        "aws_eks_node_group_system__aws_subnet_private_b -->|\"egress\"| aws_nat_gateway_a__aws_subnet_public_a",
    );
}

#[test]
fn graph_writes_svg_drawn_in_rust_without_graphviz() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("staging.svg");
    // An empty PATH: no Graphviz can be found, and none is needed.
    let o = Command::new(env!("CARGO_BIN_EXE_infra"))
        .args([
            "graph",
            "staging",
            "--format",
            "box-svg",
            "--out",
            out.to_str().unwrap(),
        ])
        .current_dir(repo())
        .env("PATH", "")
        .output()
        .unwrap();
    ok(&o);
    let svg = fs::read_to_string(&out).unwrap();
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(
        svg.contains("role webapp-staging-service"),
        "roles sit in their users' boxes"
    );
    assert!(
        !svg.contains("http://") || !svg.contains("href=\"http"),
        "no links out"
    );
    let o = Command::new(env!("CARGO_BIN_EXE_infra"))
        .args(["graph", "staging", "--format", "svg"])
        .current_dir(repo())
        .env("PATH", "")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("Graphviz's `dot` is not installed (apt-get install graphviz)"));
}

#[test]
fn report_is_one_page_that_fetches_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("nested/staging.html");
    ok(&infra(&[
        "report",
        "staging",
        "--out",
        out.to_str().unwrap(),
        "--as-of",
        AS_OF,
    ]));
    let html = fs::read_to_string(&out).unwrap();
    for expected in [
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none';",
        "<svg xmlns=\"http://www.w3.org/2000/svg\"",
        "726.74",
        "Differences from production",
        "aws_wafv2_web_acl.edge",
        "aws_lambda_function.secret_rotation",
        "estimated.aws_instance.general",
        "What the in-cluster estimates rest on",
        "NodePool general: c6i.large assumed",
        "Delivered by Argo CD",
        "<td>kube-prometheus-stack 88.5.3</td><td>monitoring</td>",
        "<code>zone-redundancy</code>",
        "subnets in at least 2 AZs",
        "aws_nat_gateway.a",
        "estimated.aws_lb.webapp",
        "@media print",
    ] {
        assert!(
            html.contains(expected),
            "`{expected}` missing from the report"
        );
    }
    // Nothing to fetch: no external scripts, styles, images or fonts.
    for fetch in ["<script", "<link", "src=\"http", "url(http", "@import"] {
        assert!(!html.contains(fetch), "the report contains `{fetch}`");
    }
    let without = dir.path().join("alone.html");
    ok(&infra(&[
        "report",
        "staging",
        "--no-diff",
        "--out",
        without.to_str().unwrap(),
    ]));
    assert!(!fs::read_to_string(&without)
        .unwrap()
        .contains("Differences from"));
}
