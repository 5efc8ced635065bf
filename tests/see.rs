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
    for expected in [
        "staging: monthly estimate in USD, eu-west-1, as of 2026-12-01 (730 hours a month)",
        "     35.04   aws_nat_gateway.a",
        "NAT gateway: 730 h x 0.048",
        "      2.40*                                      data processed: 50 GB x 0.048 [usage.nat_data_gb]",
        "in the cluster: created by controllers, estimated from config (not in terraform)",
        "     18.40 ~ estimated.aws_lb.webapp",
        "    553.98   total a month (USD)",
        "nat_data_gb = 50 GB (default)",
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
    assert!((total - 855.426).abs() < 1e-6, "{total}");
    let lines = doc["lines"].as_array().unwrap();
    let nlb: Vec<&Value> = lines
        .iter()
        .filter(|l| l["address"] == "estimated.aws_lb.webapp")
        .collect();
    assert_eq!(nlb.len(), 4);
    assert!(nlb.iter().all(|l| l["estimated"] == true));
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
}

#[test]
fn cost_of_two_environments_side_by_side() {
    let text = ok(&infra(&["cost", "staging", "production", "--as-of", AS_OF]));
    assert!(
        text.contains("553.98     855.43    +301.45    total a month"),
        "{text}"
    );
    assert!(
        text.contains(
            "nodes (t3.medium, spot at 60% below on-demand (assumed) -> m6i.large, on-demand)"
        ),
        "{text}"
    );
    assert!(
        text.contains("         -      35.04     +35.04   aws_nat_gateway.c"),
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
    // 553.9764 + 35.04 + 4.80 + 3.65 + 2.40 = 599.8664
    assert!(
        text.contains("~ usage\n    nat_data_gb: (absent) -> 100.0\n"),
        "{text}"
    );
    assert!(
        text.contains("monthly cost in USD, as of 2026-12-01: 553.98 -> 599.87 (+45.89)"),
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
        stdout(&o).contains("monthly cost in USD, as of 2026-12-01: 553.98 -> 855.43 (+301.45)"),
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

#[test]
fn the_picture_holds_the_architecture_a_reader_expects() {
    let mermaid = ok(&infra(&["graph", "production"]));
    // Three AZ columns, each with a public and a private subnet.
    for az in ["eu-west-1a", "eu-west-1b", "eu-west-1c"] {
        assert!(mermaid.contains(&format!("[\"<b>{az}</b>\"]")), "{az}");
    }
    assert_eq!(mermaid.matches("public subnet</b>").count(), 3);
    assert_eq!(mermaid.matches("private subnet</b>").count(), 3);
    // A NAT gateway in each public subnet, and each AZ's nodes leave through
    // their own (zone redundancy).
    for az in ["a", "b", "c"] {
        let nat = format!("aws_nat_gateway_{az}__aws_subnet_public_{az}");
        assert!(
            mermaid.contains(&format!(
                "aws_eks_node_group_general__aws_subnet_private_{az} -->|\"egress\"| {nat}"
            )),
            "egress of {az}:\n{mermaid}"
        );
    }
    // The NLB (estimated, dashed) in the public subnets, from the internet to the pods.
    assert!(mermaid.contains("internet ==>|\"requests\"| aws_internet_gateway_main"));
    assert!(mermaid.contains(
        "estimated_aws_lb_webapp__aws_subnet_public_a ==>|\"to pod IPs\"| helm_release_webapp"
    ));
    assert!(mermaid.contains("class estimated_aws_lb_webapp__aws_subnet_public_a,"));
    // Roles beside what assumes them.
    assert!(mermaid.contains("aws_iam_role_service -.->|\"assumed by\"| helm_release_webapp"));
    assert!(mermaid.contains(
        "aws_iam_role_node -.->|\"assumed by\"| aws_eks_node_group_general__aws_subnet_private_c"
    ));
    // Staging's single NAT gateway serves the second AZ across zones.
    let staging = ok(&infra(&["graph", "staging"]));
    assert!(staging.contains(
        "aws_eks_node_group_general__aws_subnet_private_b -->|\"egress\"| aws_nat_gateway_a__aws_subnet_public_a"
    ));
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
        "553.98",
        "Differences from production",
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
