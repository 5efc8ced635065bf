//! `[observability]` on bad input: every problem named at its field, and
//! the floors of `stacks/policy/<env>.toml` enforced where the value lives.

use super::*;

#[test]
fn shipped_environments_differ_in_size_and_retention() {
    let staging = load("staging", STAGING).expect("staging.toml is valid");
    let production = load("production", PRODUCTION).expect("production.toml is valid");
    let (s, p) = (
        &staging.config.observability,
        &production.config.observability,
    );
    assert!(s.metrics.retention_days < p.metrics.retention_days);
    assert!(s.logs.retention_days < p.logs.retention_days);
    assert_eq!((s.metrics.replicas, p.metrics.replicas), (1, 2));
    assert_eq!(p.logs.replication_factor(), 3);
    assert_eq!(s.grafana.access, GrafanaAccess::PortForward);
}

#[test]
fn retention_below_the_floor_is_refused_at_the_config_field() {
    let e = error_after(
        "production",
        PRODUCTION,
        "retention_days = 90",
        "retention_days = 14",
    );
    assert_error(
        &e,
        &[
            "stacks/config/production.toml",
            "observability.logs.retention_days: is 14; this environment needs at least 30 \
             (policy observability.min_logs_retention_days)",
        ],
    );
    let text = PRODUCTION.replacen(
        "[observability.metrics]\nreplicas = 2\nretention_days = 30",
        "[observability.metrics]\nreplicas = 1\nretention_days = 3",
        1,
    );
    let e = load("production", &text).expect_err("below two floors");
    assert_error(
        &e.to_string(),
        &[
            "observability.metrics.retention_days: is 3; this environment needs at least 15",
            "observability.metrics.replicas: is 1; this environment needs at least 2 \
             (policy observability.min_replicas)",
        ],
    );
    // The same values meet staging's floors.
    let text = STAGING.replacen("retention_days = 7", "retention_days = 3", 1);
    load("staging", &text).expect("staging's floor is a day");
}

#[test]
fn the_floors_file_must_state_them() {
    let policy = PRODUCTION_POLICY.replacen("min_logs_retention_days = 30\n", "", 1);
    let e = load_with_floors("production", PRODUCTION, &policy).expect_err("floor missing");
    assert_error(
        &e.to_string(),
        &[
            "stacks/policy/production.toml",
            "missing field `min_logs_retention_days`",
        ],
    );
}

#[test]
fn bad_node_isolation_settings_name_their_fields() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "effect = \"NoSchedule\"",
            "effect = \"PreferNoSchedule\"",
            "unknown variant `PreferNoSchedule`, expected `NoSchedule` or `NoExecute`",
        ),
        (
            "label = { key = \"dedicated\"",
            "label = { key = \"kubernetes.io/role\"",
            "observability.nodes.label.key: `kubernetes.io/role` is in a namespace the kubelet may not set",
        ),
        (
            "taint = { key = \"dedicated\", value = \"monitoring\"",
            "taint = { key = \"dedicated\", value = \"-bad-\"",
            "observability.nodes.taint.value: `-bad-` is not a label value",
        ),
        (
            "name = \"monitoring\"",
            "name = \"system\"",
            "observability.nodes.name: `system` is also the name of a [[node_groups]] entry",
        ),
        (
            "min_size = 1\ndesired_size = 1\nmax_size = 2\ndisk_size_gib = 30\nlabel",
            "min_size = 0\ndesired_size = 3\nmax_size = 2\ndisk_size_gib = 30\nlabel",
            "observability.nodes: sizes must satisfy min_size <= desired_size <= max_size (found 0 <= 3 <= 2)",
        ),
        (
            "namespace = \"monitoring\"",
            "namespace = \"webapp\"",
            "observability.namespace: `webapp` is the service's namespace",
        ),
        (
            "[observability.logs]\nreplicas = 1",
            "[observability.logs]\nreplicas = 2",
            "observability.logs.replicas: 2 is not 1 or 3..=9",
        ),
        (
            "cache_memory = \"256Mi\"",
            "cache_memory = \"8GB\"",
            "observability.logs.cache_memory: `8GB` is not a memory quantity",
        ),
        (
            "storage = \"20Gi\"",
            "storage = \"512Mi\"",
            "observability.metrics.storage: `512Mi` is less than 1024 MiB",
        ),
        (
            "access = \"port-forward\"",
            "access = \"public\"",
            "unknown variant `public`, expected `port-forward` or `internal-load-balancer`",
        ),
    ];
    for (from, to, expected) in cases {
        let e = error_after("staging", STAGING, from, to);
        assert_error(&e, &["stacks/config/staging.toml", expected]);
    }
}

#[test]
fn replicas_need_nodes_to_spread_over() {
    let text = STAGING.replacen(
        "[observability.metrics]\nreplicas = 1",
        "[observability.metrics]\nreplicas = 2",
        1,
    );
    let e = load("staging", &text).expect_err("two replicas on one node");
    assert_error(
        &e.to_string(),
        &["observability.nodes.min_size: is 1 while metrics.replicas is 2"],
    );
}

#[test]
fn a_general_node_group_with_the_monitoring_label_breaks_isolation() {
    let system = "disk_size_gib = 30\n\n[[node_groups.taints]]";
    assert!(STAGING.contains(system));
    let text = STAGING.replacen(
        system,
        "disk_size_gib = 30\nlabels = { dedicated = \"monitoring\" }\n\n[[node_groups.taints]]",
        1,
    );
    let e = load("staging", &text).expect_err("general nodes labelled for monitoring");
    assert_error(
        &e.to_string(),
        &["node_groups[0].labels: carries the monitoring nodes' label dedicated=monitoring"],
    );
}
