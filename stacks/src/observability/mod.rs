//! The observability component: metrics, dashboards, alerts and logs of the
//! environment, on nodes of their own (docs/observability.md).
//!
//! - AWS (phase 1): the dedicated node group (labelled and tainted from
//!   `[observability.nodes]`), the EBS CSI driver and its IRSA role (the
//!   stores' volumes), Loki's KMS key, its chunks and ruler buckets and the
//!   IRSA role scoped to them, the SNS topic alerts go to and Alertmanager's
//!   role allowed to publish there, and what the CI deployer needs to
//!   refresh them.
//! - Cluster (phase 2): the namespace, Grafana's admin Secret (from a
//!   sensitive variable), the encrypted gp3 StorageClass, kube-prometheus-stack
//!   (Prometheus, Alertmanager, the operator, node-exporter,
//!   kube-state-metrics, Grafana), Loki (monolithic, S3), Alloy (a DaemonSet
//!   shipping every pod's logs), the service's dashboard, and its
//!   ServiceMonitor and alert rules as custom resources after the operator.
//!
//! Every pod of these charts selects the monitoring nodes and tolerates
//! their taint ([`Placement`]); node-exporter and Alloy tolerate every taint,
//! since they belong on every node. Nothing else tolerates the taint, so the
//! service's pods never land there.

mod alerts;
mod alloy;
mod buckets;
mod estimated;
mod loki;
mod prometheus;
mod rules;
mod volumes;

use std::collections::BTreeMap;

use bindings::aws::eks_node_group::EksNodeGroupRef;
use bindings::helm::release::ReleaseRef;
use bindings::kubernetes::secret_v1::SecretV1Ref;
use serde::Serialize;
use synth::{ty, Address, App, Expr, Stack, Value, Variable};

use crate::aws::Irsa;
use crate::config::{Environment, MonitoringNodesConfig, NodeGroupConfig};
use crate::eks::{dedicated_node_group, Eks};
use crate::helm::{addon_release_in, labelled_namespace, opaque_secret, Chart, Resources};
use crate::iam::ClusterIam;
use crate::network::Network;
use crate::{Error, Layer};

pub use alloy::{pipeline as log_pipeline, SERVICE_LABELS, STREAM_LABELS};
pub use estimated::estimated;
pub use rules::{
    alert_rules, dashboards, placeholders, service_selector, substitute, Rule, RuleFile, RuleGroup,
    ALERT_FILES, DASHBOARD_FILES,
};

/// Name of the Secret holding Grafana's admin user and password.
pub const GRAFANA_ADMIN_SECRET: &str = "grafana-admin";

/// nodeSelector and tolerations of a pod that belongs on the monitoring nodes.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Placement {
    pub node_selector: BTreeMap<String, String>,
    pub tolerations: Vec<Toleration>,
}

/// A pod's toleration of a taint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Toleration {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    pub operator: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effect: Option<&'static str>,
}

impl Toleration {
    /// Tolerates every taint: for what must run on every node (node-exporter,
    /// the log shipper).
    pub fn everything() -> Self {
        Self {
            key: None,
            operator: "Exists",
            value: None,
            effect: None,
        }
    }
}

impl Placement {
    /// On the monitoring nodes: their label selected, their taint tolerated.
    pub fn monitoring(nodes: &MonitoringNodesConfig) -> Self {
        Self {
            node_selector: [(nodes.label.key.clone(), nodes.label.value.clone())].into(),
            tolerations: vec![Toleration {
                key: Some(nodes.taint.key.clone()),
                operator: "Equal",
                value: Some(nodes.taint.value.clone()),
                effect: Some(nodes.taint.effect.as_str()),
            }],
        }
    }
}

/// What the releases of this component need from the cluster's side.
struct Cluster<'a> {
    env: &'a Environment,
    /// The monitoring namespace (a reference: the releases follow it).
    namespace: Value<ty::String>,
    placement: Placement,
    /// What must exist before any release of the stack is installed.
    ready: Vec<Address>,
}

/// Builds the component; `lb_controller` is the load balancer controller's
/// release, whose webhooks every Service creation goes through.
pub fn observability(
    app: &mut App,
    env: &Environment,
    network: &Network,
    cluster_iam: &ClusterIam,
    irsa: &Irsa,
    eks: &Eks,
    lb_controller: &ReleaseRef,
) -> Result<(), Error> {
    let config = &env.config.observability;
    let nodes = monitoring_nodes(Layer::Eks.of(app), env, network, cluster_iam, eks);
    let ebs_csi = volumes::ebs_csi_driver(app, env, irsa, eks);
    let logs = buckets::log_buckets(app, env, network, cluster_iam, irsa);
    let alert_topic = alerts::alert_topic(app, env, cluster_iam, irsa);

    let stack = Layer::App.of(app);
    let namespace = namespace(stack, &config.namespace);
    let storage_class = volumes::storage_class(stack);
    let admin_secret = grafana_admin_secret(stack, &namespace);
    let mut ready: Vec<Address> = eks.workloads_ready.clone();
    ready.extend([
        Address::from(&nodes),
        Address::from(&ebs_csi),
        Address::from(&storage_class),
        Address::from(lb_controller),
        Address::from(&admin_secret),
    ]);
    let cluster = Cluster {
        env,
        namespace,
        placement: Placement::monitoring(&config.nodes),
        ready,
    };
    let stack_release = prometheus::release(stack, &cluster, &alert_topic)?;
    // Loki and Alloy create ServiceMonitors (and Loki its dashboards): they
    // follow the operator that brings the CRDs.
    let after_operator: Vec<Address> = cluster
        .ready
        .iter()
        .cloned()
        .chain([Address::from(&stack_release)])
        .collect();
    let loki = loki::release(stack, &cluster, &logs, &after_operator)?;
    alloy::release(
        stack,
        &cluster,
        &[after_operator, vec![Address::from(&loki)]].concat(),
    )?;
    rules::deliver(stack, &cluster, &stack_release)?;
    Ok(())
}

/// The dedicated node group, labelled and tainted.
fn monitoring_nodes(
    stack: &mut Stack,
    env: &Environment,
    network: &Network,
    iam: &ClusterIam,
    eks: &Eks,
) -> EksNodeGroupRef {
    let nodes = &env.config.observability.nodes;
    let group = NodeGroupConfig {
        name: nodes.name.clone(),
        instance_types: nodes.instance_types.clone(),
        capacity_type: nodes.capacity_type,
        min_size: nodes.min_size,
        desired_size: nodes.desired_size,
        max_size: nodes.max_size,
        disk_size_gib: nodes.disk_size_gib,
        labels: [(nodes.label.key.clone(), nodes.label.value.clone())].into(),
        // The monitoring taint comes from [observability.nodes], below.
        taints: Vec::new(),
    };
    dedicated_node_group(
        stack,
        env,
        network,
        iam,
        eks,
        &group,
        std::slice::from_ref(&nodes.taint),
    )
}

/// The monitoring namespace. Pod Security "privileged": node-exporter reads
/// the host's network, processes and filesystems and Alloy the node's log
/// files, which the "baseline" level forbids; "restricted" is still reported
/// as a warning for every other pod.
fn namespace(stack: &mut Stack, name: &str) -> Value<ty::String> {
    labelled_namespace(
        stack,
        "monitoring",
        name,
        [
            ("pod-security.kubernetes.io/enforce", "privileged"),
            ("pod-security.kubernetes.io/warn", "restricted"),
        ],
    )
}

/// Grafana's admin login from the sensitive `grafana_admin_password`
/// variable: it reaches the cluster as a Secret and is never written into
/// the synthesized JSON or the release's values.
fn grafana_admin_secret(stack: &mut Stack, namespace: &Value<ty::String>) -> SecretV1Ref {
    let password: Value<ty::String> = stack.typed_variable(
        "grafana_admin_password",
        Variable::new()
            .sensitive()
            .description(
                "Password of Grafana's `admin` user; pass it as TF_VAR_grafana_admin_password, never in a file.",
            )
            .validation(
                Expr::raw("length(var.grafana_admin_password) >= 16"),
                "grafana_admin_password must be at least 16 characters.",
            ),
    );
    opaque_secret(
        stack,
        "grafana_admin",
        GRAFANA_ADMIN_SECRET,
        namespace,
        BTreeMap::from([
            ("admin-user", Value::from("admin")),
            ("admin-password", password),
        ]),
    )
}

/// A pinned chart released into the monitoring namespace after `after`.
fn chart_release(
    stack: &mut Stack,
    id: &str,
    chart: Chart,
    cluster: &Cluster<'_>,
    values: &impl Serialize,
    after: &[Address],
) -> Result<ReleaseRef, Error> {
    addon_release_in(stack, id, chart, &cluster.namespace, values, after)
}

#[cfg(test)]
mod tests;
