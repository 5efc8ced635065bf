//! The observability component in the whole program of each shipped
//! environment: what its AWS resources allow, what its releases are given,
//! and what the repository's rule files promise.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{json, Value};
use synth::{Expr, SynthOptions};

use super::*;
use crate::config::load_environment;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn environment(name: &str) -> Environment {
    load_environment(&root(), name).expect("the committed config is valid")
}

/// The synthesized JSON files of an environment.
fn files(env: &Environment) -> BTreeMap<String, Value> {
    let module = crate::build(env, &crate::chart_dir(&root()))
        .expect("build")
        .synth(&SynthOptions::default())
        .unwrap_or_else(|e| panic!("{e}"));
    module
        .files
        .iter()
        .filter(|(name, _)| name.ends_with(".json"))
        .map(|(name, bytes)| (name.clone(), serde_json::from_slice(bytes).expect("JSON")))
        .collect()
}

fn release_values(env: &Environment, address: &str) -> Value {
    let app = crate::build(env, &crate::chart_dir(&root())).expect("build");
    crate::releases::release_values(&app)
        .into_iter()
        .find(|r| r.address == address)
        .unwrap_or_else(|| panic!("no {address}"))
        .values
}

/// The statements of a resource's `policy = jsonencode({...})`, with
/// references standing for themselves (`${aws_kms_key.loki.arn}`).
fn policy_statements(env: &Environment, ty: &str, name: &str) -> Vec<Value> {
    let app = crate::build(env, &crate::chart_dir(&root())).expect("build");
    let address = format!("{ty}.{name}");
    let resource = app
        .stacks()
        .iter()
        .flat_map(|s| s.resources())
        .find(|r| r.address().to_string() == address)
        .unwrap_or_else(|| panic!("no {address}"));
    let Some(Expr::Call(function, args)) = resource.get("policy") else {
        panic!("{address}: policy is not jsonencode(...)");
    };
    assert_eq!(function, "jsonencode");
    args[0].evaluate_with_stand_ins()["Statement"]
        .as_array()
        .expect("statements")
        .clone()
}

#[test]
fn the_log_buckets_are_private_encrypted_tls_only_and_expire_with_retention() {
    for name in ["staging", "production"] {
        let env = environment(name);
        let eks = &files(&env)["eks.tf.json"]["resource"];
        for id in ["loki_chunks", "loki_ruler"] {
            let block = &eks["aws_s3_bucket_public_access_block"][id];
            for flag in [
                "block_public_acls",
                "block_public_policy",
                "ignore_public_acls",
                "restrict_public_buckets",
            ] {
                assert_eq!(block[flag], true, "{name} {id} {flag}");
            }
            let sse = &eks["aws_s3_bucket_server_side_encryption_configuration"][id]["rule"][0]
                ["apply_server_side_encryption_by_default"];
            assert_eq!(sse["sse_algorithm"], "aws:kms");
            assert_eq!(sse["kms_master_key_id"], "${aws_kms_key.loki.arn}");
            let statements = policy_statements(&env, "aws_s3_bucket_policy", id);
            assert_eq!(statements.len(), 1);
            assert_eq!(statements[0]["Effect"], "Deny");
            assert_eq!(
                statements[0]["Condition"],
                json!({"Bool": {"aws:SecureTransport": "false"}})
            );
            assert_eq!(
                eks["aws_s3_bucket_ownership_controls"][id]["rule"]["object_ownership"],
                "BucketOwnerEnforced"
            );
        }
        let days = env.config.observability.logs.retention_days;
        let rules = &eks["aws_s3_bucket_lifecycle_configuration"];
        assert_eq!(
            rules["loki_chunks"]["rule"][0]["expiration"]["days"],
            days + 1,
            "{name}: chunks expire a day after Loki's retention"
        );
        assert!(
            rules["loki_ruler"]["rule"][0].get("expiration").is_none(),
            "{name}: rules are configuration and never expire"
        );
        assert_eq!(
            eks["aws_s3_bucket"]["loki_chunks"]["force_destroy"],
            env.config.observability.logs.force_destroy_buckets
        );
    }
}

#[test]
fn lokis_role_reaches_its_buckets_and_key_only() {
    let env = environment("production");
    let iam = &files(&env)["iam.tf.json"];
    let statements = policy_statements(&env, "aws_iam_role_policy", "loki");
    let mut resources = Vec::new();
    for statement in &statements {
        for resource in statement["Resource"].as_array().expect("resources") {
            resources.push(resource.as_str().expect("a string").to_owned());
        }
    }
    assert!(!resources.is_empty());
    for resource in &resources {
        assert!(
            resource.starts_with("${aws_s3_bucket.loki_") || resource == "${aws_kms_key.loki.arn}",
            "Loki's role reaches {resource}"
        );
    }
    let trust = &iam["data"]["aws_iam_policy_document"]["loki_trust"]["statement"][0];
    assert_eq!(
        trust["condition"][1]["values"],
        json!(["system:serviceaccount:monitoring:loki"])
    );
    let values = release_values(&env, "helm_release.loki");
    assert_eq!(
        values["serviceAccount"]["annotations"]["eks.amazonaws.com/role-arn"],
        "${aws_iam_role.loki.arn}"
    );
    assert_eq!(
        values["loki"]["storage"]["bucketNames"],
        json!({"chunks": "${aws_s3_bucket.loki_chunks.bucket}", "ruler": "${aws_s3_bucket.loki_ruler.bucket}"})
    );
}

#[test]
fn grafanas_password_comes_from_a_sensitive_variable_only() {
    let env = environment("staging");
    let files = files(&env);
    let variable = &files["variables.tf.json"]["variable"]["grafana_admin_password"];
    assert_eq!(variable["sensitive"], true);
    assert!(variable.get("default").is_none(), "no default password");
    let secret = &files["app.tf.json"]["resource"]["kubernetes_secret_v1"]["grafana_admin"];
    assert_eq!(
        secret["data"]["admin-password"],
        "${var.grafana_admin_password}"
    );
    let grafana = &release_values(&env, "helm_release.kube_prometheus_stack")["grafana"];
    assert_eq!(grafana["admin"]["existingSecret"], GRAFANA_ADMIN_SECRET);
    assert!(grafana.get("adminPassword").is_none());
}

#[test]
fn grafana_is_never_public() {
    let staging = &release_values(
        &environment("staging"),
        "helm_release.kube_prometheus_stack",
    );
    assert_eq!(staging["grafana"]["service"]["type"], "ClusterIP");
    let env = environment("production");
    let production = &release_values(&env, "helm_release.kube_prometheus_stack");
    let service = &production["grafana"]["service"];
    assert_eq!(service["type"], "LoadBalancer");
    assert_eq!(
        service["annotations"]["service.beta.kubernetes.io/aws-load-balancer-scheme"],
        "internal"
    );
    assert_eq!(
        service["loadBalancerSourceRanges"],
        json!([env.config.network.vpc_cidr.to_string()])
    );
}

#[test]
fn retention_and_sizes_follow_the_config() {
    for name in ["staging", "production"] {
        let env = environment(name);
        let o = &env.config.observability;
        let kps = release_values(&env, "helm_release.kube_prometheus_stack");
        let spec = &kps["prometheus"]["prometheusSpec"];
        assert_eq!(spec["retention"], format!("{}d", o.metrics.retention_days));
        assert_eq!(spec["replicas"], o.metrics.replicas);
        assert_eq!(
            spec["storageSpec"]["volumeClaimTemplate"]["spec"]["resources"]["requests"]["storage"],
            o.metrics.storage
        );
        // 85% of the volume, so Prometheus stops before the disk is full.
        let storage =
            crate::config::parse_quantity(&o.metrics.storage, crate::config::QuantityUnit::Bytes)
                .expect("checked");
        assert_eq!(
            spec["retentionSize"],
            format!("{}MB", (storage * 85 / 100) >> 20)
        );
        assert_eq!(spec["resources"]["limits"]["memory"], o.metrics.memory);
        let loki = release_values(&env, "helm_release.loki");
        assert_eq!(
            loki["loki"]["limits_config"]["retention_period"],
            format!("{}h", o.logs.retention_days * 24)
        );
        assert_eq!(loki["loki"]["compactor"]["retention_enabled"], true);
        assert_eq!(loki["singleBinary"]["replicas"], o.logs.replicas);
        assert_eq!(
            loki["loki"]["commonConfig"]["replication_factor"],
            o.logs.replication_factor()
        );
        // The chart's default chunks cache asks for 8 GiB.
        let cache =
            crate::config::parse_quantity(&o.logs.cache_memory, crate::config::QuantityUnit::Bytes)
                .expect("checked");
        assert_eq!(
            loki["chunksCache"]["allocatedMemory"],
            u64::try_from(cache >> 20).expect("small")
        );
        assert_eq!(loki["deploymentMode"], "Monolithic");
        assert_eq!(loki["loki"]["schemaConfig"]["configs"][0]["schema"], "v13");
        assert_eq!(loki["loki"]["schemaConfig"]["configs"][0]["store"], "tsdb");
    }
}

#[test]
fn the_monitoring_node_group_is_labelled_and_tainted_from_config() {
    let env = environment("staging");
    let nodes = &env.config.observability.nodes;
    let group = &files(&env)["eks.tf.json"]["resource"]["aws_eks_node_group"]["monitoring"];
    assert_eq!(
        group["labels"],
        json!({ nodes.label.key.clone(): nodes.label.value.clone() })
    );
    assert_eq!(
        group["taint"],
        json!([{"key": "dedicated", "value": "monitoring", "effect": "NO_SCHEDULE"}])
    );
    assert_eq!(group["capacity_type"], "ON_DEMAND");
}

#[test]
fn the_service_is_scraped_once_by_the_servicemonitor_of_this_component() {
    let env = environment("staging");
    let webapp = release_values(&env, "helm_release.webapp");
    assert!(
        webapp.get("serviceMonitor").is_none(),
        "the chart's own ServiceMonitor stays off (its default)"
    );
    let module = crate::build(&env, &crate::chart_dir(&root()))
        .expect("build")
        .synth(&SynthOptions::default())
        .expect("synth");
    let stream = String::from_utf8(module.files["charts/webapp-monitoring/objects.yaml"].clone())
        .expect("text");
    let parsed: Vec<Value> = stream
        .split("---\n")
        .filter(|doc| !doc.is_empty())
        .map(|doc| serde_json::from_str(doc).expect("one JSON object per document"))
        .collect();
    let objects: Vec<&Value> = parsed.iter().collect();
    let files = files(&env);
    let kinds: Vec<&str> = objects.iter().filter_map(|o| o["kind"].as_str()).collect();
    assert_eq!(
        kinds,
        [
            "ServiceMonitor",
            "PrometheusRule",
            "PrometheusRule",
            "ConfigMap"
        ]
    );
    let monitors: Vec<&&Value> = objects
        .iter()
        .filter(|o| o["kind"] == "ServiceMonitor")
        .collect();
    let spec = &monitors[0]["spec"];
    assert_eq!(
        spec["selector"]["matchLabels"],
        json!({"app.kubernetes.io/name": "webapp", "app.kubernetes.io/instance": crate::webapp::RELEASE_NAME})
    );
    assert_eq!(spec["namespaceSelector"]["matchNames"], json!(["webapp"]));
    let app = &files["app.tf.json"]["resource"]["helm_release"];
    assert!(
        app["webapp_monitoring"].get("values").is_none(),
        "fixed objects travel in the chart, not in values"
    );
    assert_eq!(
        app["webapp_monitoring"]["depends_on"],
        json!(["helm_release.kube_prometheus_stack"]),
        "the custom resources follow the operator that owns their CRDs"
    );
}

#[test]
fn the_service_chart_selects_pods_by_the_labels_the_servicemonitor_uses() {
    // The ServiceMonitor names the chart's selector labels; the chart must
    // still define them so (helm-chart/templates/_helpers.tpl).
    let helpers = std::fs::read_to_string(root().join("helm-chart/templates/_helpers.tpl"))
        .expect("chart helpers");
    let chart = std::fs::read_to_string(root().join("helm-chart/Chart.yaml")).expect("Chart.yaml");
    assert!(chart.lines().any(|l| l == "name: webapp"), "chart name");
    for label in service_selector().keys() {
        assert!(
            helpers.contains(&format!("{label}: ")),
            "{label} in selectorLabels"
        );
    }
}

#[test]
fn every_alert_says_what_it_means_and_links_an_existing_runbook() {
    let env = environment("production");
    let mut alerts = 0;
    for (path, file) in alert_rules(&env).expect("rule files") {
        for rule in file.groups.iter().flat_map(|g| &g.rules) {
            let Some(alert) = &rule.alert else { continue };
            alerts += 1;
            assert!(
                rule.annotations
                    .get("summary")
                    .is_some_and(|s| s.len() > 20),
                "{path}: {alert} has no summary"
            );
            assert!(
                matches!(
                    rule.labels.get("severity").map(String::as_str),
                    Some("critical" | "warning")
                ),
                "{path}: {alert} has no severity"
            );
            let url = rule.annotations.get("runbook_url").expect("runbook_url");
            let file = url
                .strip_prefix("https://github.com/example-org/webapp/blob/main/")
                .unwrap_or_else(|| panic!("{path}: {alert}: {url} is not in the repository"));
            assert!(
                root().join(file).is_file(),
                "{path}: {alert}: {file} missing"
            );
            let runbook = std::fs::read_to_string(root().join(file)).expect("runbook");
            assert!(
                runbook.contains(alert.as_str()),
                "{file} does not mention {alert}"
            );
        }
    }
    assert!(alerts >= 10, "{alerts} alerts");
}

#[test]
fn an_unknown_placeholder_in_a_rule_file_is_named() {
    let values = [("service", "webapp".to_owned())];
    assert_eq!(
        substitute("up{job=\"${service}\"}", &values).as_deref(),
        Ok("up{job=\"webapp\"}")
    );
    let err = substitute("up{job=\"${servce}\"}", &values).expect_err("misspelt");
    assert_eq!(err, "unknown placeholder `${servce}`; known: service");
    assert!(substitute("x ${service", &values).is_err());
}

#[test]
fn log_pipeline_labels_only_the_bounded_fields() {
    let text = log_pipeline("monitoring", "webapp");
    assert!(text
        .contains("url = \"http://loki-gateway.monitoring.svc.cluster.local/loki/api/v1/push\""));
    assert!(
        !text.contains("{{"),
        "the chart passes the config through tpl"
    );
    assert!(text.contains("values = { level = \"\" }"));
    for unbounded in ["path", "remote", "status", "duration_us"] {
        assert!(
            !text.contains(&format!("{unbounded} = \"\"")),
            "{unbounded} must not become a label"
        );
    }
    assert_eq!(SERVICE_LABELS, ["level"]);
}

#[test]
fn alerts_go_to_an_encrypted_topic_alertmanager_alone_may_publish_to() {
    let env = environment("staging");
    let files = files(&env);
    let topic = &files["eks.tf.json"]["resource"]["aws_sns_topic"]["alerts"];
    assert_eq!(topic["kms_master_key_id"], "alias/aws/sns");
    let statements = policy_statements(&env, "aws_iam_role_policy", "alertmanager");
    assert_eq!(
        statements,
        [
            json!({"Sid": "PublishAlerts", "Effect": "Allow", "Action": ["sns:Publish"],
                "Resource": ["${aws_sns_topic.alerts.arn}"]})
        ]
    );
    let trust = &files["iam.tf.json"]["data"]["aws_iam_policy_document"]["alertmanager_trust"]
        ["statement"][0];
    assert_eq!(
        trust["condition"][1]["values"],
        json!(["system:serviceaccount:monitoring:alertmanager"])
    );
    let alertmanager = &release_values(&env, "helm_release.kube_prometheus_stack")["alertmanager"];
    assert_eq!(
        alertmanager["serviceAccount"]["annotations"]["eks.amazonaws.com/role-arn"],
        "${aws_iam_role.alertmanager.arn}"
    );
    let config = &alertmanager["config"];
    assert_eq!(config["route"]["receiver"], "sns");
    assert_eq!(
        config["route"]["routes"],
        json!([{"matchers": ["alertname = \"Watchdog\""], "receiver": "null"}]),
        "the always-firing Watchdog notifies no one"
    );
    let sns = &config["receivers"][1];
    assert_eq!(sns["name"], "sns");
    assert_eq!(
        sns["sns_configs"][0]["topic_arn"],
        "${aws_sns_topic.alerts.arn}"
    );
    assert_eq!(sns["sns_configs"][0]["sigv4"]["region"], "eu-west-1");
}

#[test]
fn a_rule_that_is_neither_alert_nor_recording_is_refused() {
    let file: RuleFile =
        toml::from_str("[[groups]]\nname = \"g\"\n[[groups.rules]]\nexpr = \"up\"\n")
            .expect("valid TOML");
    assert_eq!(
        file.check(),
        Err("group `g`, rule 1: needs exactly one of `alert` and `record`".to_owned())
    );
    let file: RuleFile = toml::from_str(
        "[[groups]]\nname = \"g\"\n[[groups.rules]]\nalert = \"A\"\nexpr = \"up\"\n",
    )
    .expect("valid TOML");
    assert_eq!(
        file.check(),
        Err("group `g`, rule 1: alert A has no severity label".to_owned())
    );
}
