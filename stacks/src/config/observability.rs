//! The `[observability]` section: metrics, dashboards, alerts and logs of an
//! environment, on a node group of their own. What differs between
//! environments is here (how many replicas, how long data is kept, how much
//! disk and memory it gets); the floors an environment must meet (minimum
//! retention, replicas) are in its policy file.

use serde::{Deserialize, Serialize};

use super::check::{is_label_value, is_qualified_name, Scope, Section};
use super::node_groups::check_instance_types;
use super::quantity::{parse_quantity, QuantityUnit};
use super::{CapacityType, Config};

/// Metrics (Prometheus, Alertmanager, Grafana) and logs (Loki, Alloy).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObservabilityConfig {
    /// Namespace of the monitoring stack (not the service's: node-exporter
    /// and the log shipper read the node's files, which the service's
    /// "restricted" namespace forbids).
    pub namespace: String,
    pub nodes: MonitoringNodesConfig,
    pub metrics: MetricsConfig,
    pub logs: LogStoreConfig,
    pub grafana: GrafanaConfig,
}

/// The managed node group only the monitoring stack runs on: its label is
/// what every monitoring pod selects, its taint keeps every other pod off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonitoringNodesConfig {
    /// Node group name.
    pub name: String,
    pub instance_types: Vec<String>,
    pub capacity_type: CapacityType,
    pub min_size: u32,
    pub desired_size: u32,
    pub max_size: u32,
    /// Root volume size (encrypted gp3); metrics and logs have volumes of their own.
    pub disk_size_gib: u32,
    pub label: NodeLabel,
    pub taint: NodeTaint,
}

/// A node label, `key=value`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeLabel {
    pub key: String,
    pub value: String,
}

/// A node taint, `key=value:effect`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeTaint {
    pub key: String,
    pub value: String,
    pub effect: TaintEffect,
}

/// Taint effects that keep pods without the toleration off the nodes.
/// `PreferNoSchedule` is not one of them, so it is not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TaintEffect {
    NoSchedule,
    NoExecute,
}

impl TaintEffect {
    /// As Kubernetes spells it (tolerations).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoSchedule => "NoSchedule",
            Self::NoExecute => "NoExecute",
        }
    }

    /// As the EKS API spells it (node group taints).
    pub fn eks_name(self) -> &'static str {
        match self {
            Self::NoSchedule => "NO_SCHEDULE",
            Self::NoExecute => "NO_EXECUTE",
        }
    }
}

/// Prometheus and Alertmanager.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Replicas of Prometheus and of Alertmanager (2 or more: one survives a node).
    pub replicas: u32,
    /// Days of metrics Prometheus keeps.
    pub retention_days: u32,
    /// Volume of each Prometheus replica; Prometheus also stops at 85% of it.
    pub storage: String,
    /// Memory of each Prometheus replica (request and limit).
    pub memory: String,
}

/// Loki (monolithic, chunks and rules in S3) and its caches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogStoreConfig {
    /// Loki replicas: 1, or 3 and more (each write goes to 3 of them).
    pub replicas: u32,
    /// Days of logs Loki keeps; the chunks bucket expires objects a day later.
    pub retention_days: u32,
    /// Memory of each Loki replica (request and limit).
    pub memory: String,
    /// Memory of the chunks cache (memcached); the chart's default is 8 GiB.
    pub cache_memory: String,
    /// Whether destroying the environment deletes the log buckets with
    /// their content (staging), or fails while they hold logs (production).
    pub force_destroy_buckets: bool,
}

/// Grafana, where people look.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrafanaConfig {
    pub access: GrafanaAccess,
    /// Volume for Grafana's own database (users, saved changes).
    pub storage: String,
}

/// How people reach Grafana. Never public.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GrafanaAccess {
    /// A ClusterIP Service: `kubectl port-forward` through the Kubernetes API.
    PortForward,
    /// An internal NLB in the private subnets, reachable from the VPC only.
    InternalLoadBalancer,
}

/// Label and taint key prefixes the kubelet may not set on its own node.
const RESERVED_KEY_PREFIXES: &[&str] = &["kubernetes.io/", "k8s.io/"];

impl Section for ObservabilityConfig {
    const KEY: &'static str = "observability";
    type Checked = ();

    fn check(&self, config: &Config, at: &mut Scope<'_>) {
        at.dns_label("namespace", &self.namespace, 63);
        if self.namespace == config.service.namespace {
            at.problem(
                "namespace",
                format!(
                    "`{}` is the service's namespace (Pod Security \"restricted\"), where \
                     node-exporter and the log shipper cannot read the node's files",
                    self.namespace
                ),
            );
        }
        self.nodes.check(config, at);
        self.metrics.check(&self.nodes, at);
        self.logs.check(at);
        quantity(at, "grafana.storage", &self.grafana.storage, 1 << 30);
    }
}

impl MonitoringNodesConfig {
    fn check(&self, config: &Config, at: &mut Scope<'_>) {
        at.dns_label("nodes.name", &self.name, 32);
        if config.node_groups.iter().any(|g| g.name == self.name) {
            at.problem(
                "nodes.name",
                format!(
                    "`{}` is also the name of a [[node_groups]] entry",
                    self.name
                ),
            );
        }
        check_instance_types(at, "nodes.instance_types", &self.instance_types);
        if self.min_size == 0 {
            at.problem(
                "nodes.min_size",
                "must be at least 1: the monitoring stack runs nowhere else",
            );
        }
        if !(self.min_size <= self.desired_size && self.desired_size <= self.max_size) {
            at.problem(
                "nodes",
                format!(
                    "sizes must satisfy min_size <= desired_size <= max_size (found {} <= {} <= {})",
                    self.min_size, self.desired_size, self.max_size
                ),
            );
        }
        if !(20..=16384).contains(&self.disk_size_gib) {
            at.problem(
                "nodes.disk_size_gib",
                format!(
                    "{} is outside 20..=16384 GiB (EKS AMIs need 20 GiB)",
                    self.disk_size_gib
                ),
            );
        }
        label_key(at, "nodes.label.key", &self.label.key);
        label_value(at, "nodes.label.value", &self.label.value);
        label_key(at, "nodes.taint.key", &self.taint.key);
        label_value(at, "nodes.taint.value", &self.taint.value);
        // A node of another group with the monitoring label would be chosen
        // for monitoring pods without their taint keeping anything else away.
        for (i, group) in config.node_groups.iter().enumerate() {
            if group.labels.get(&self.label.key) == Some(&self.label.value) {
                at.elsewhere(
                    &format!("node_groups[{i}].labels"),
                    format!(
                        "carries the monitoring nodes' label {}={}; monitoring pods would \
                         be sent to these nodes, which the monitoring taint does not keep \
                         for them",
                        self.label.key, self.label.value
                    ),
                );
            }
        }
    }
}

impl MetricsConfig {
    fn check(&self, nodes: &MonitoringNodesConfig, at: &mut Scope<'_>) {
        if !(1..=5).contains(&self.replicas) {
            at.problem(
                "metrics.replicas",
                format!("{} is outside 1..=5", self.replicas),
            );
        }
        if self.replicas > 1 && nodes.min_size < 2 {
            at.problem(
                "nodes.min_size",
                format!(
                    "is {} while metrics.replicas is {}: replicas sharing one node do not \
                     survive its loss",
                    nodes.min_size, self.replicas
                ),
            );
        }
        if self.retention_days == 0 {
            at.problem("metrics.retention_days", "must be at least 1");
        }
        quantity(at, "metrics.storage", &self.storage, 1 << 30);
        quantity(at, "metrics.memory", &self.memory, 512 << 20);
    }
}

impl LogStoreConfig {
    fn check(&self, at: &mut Scope<'_>) {
        if self.replicas == 0 || self.replicas == 2 || self.replicas > 9 {
            at.problem(
                "logs.replicas",
                format!(
                    "{} is not 1 or 3..=9: Loki writes each stream to 3 replicas (a quorum of \
                     2), so 2 replicas stop taking logs when either is down",
                    self.replicas
                ),
            );
        }
        if self.retention_days == 0 {
            at.problem("logs.retention_days", "must be at least 1");
        }
        quantity(at, "logs.memory", &self.memory, 256 << 20);
        quantity(at, "logs.cache_memory", &self.cache_memory, 64 << 20);
    }

    /// Loki's replication factor: every replica when there are fewer than 3.
    pub fn replication_factor(&self) -> u32 {
        self.replicas.min(3)
    }
}

/// A memory or storage quantity of at least `min` bytes.
fn quantity(at: &mut Scope<'_>, field: &str, text: &str, min: u128) {
    match parse_quantity(text, QuantityUnit::Bytes) {
        Err(message) => at.problem(field, message),
        Ok(bytes) if bytes < min => {
            at.problem(field, format!("`{text}` is less than {} MiB", min >> 20))
        }
        Ok(_) => {}
    }
}

/// A label (or taint) key: an optional DNS-subdomain prefix and `/`, then
/// a name of at most 63 characters, outside the prefixes the kubelet may
/// not set on its own node.
fn label_key(at: &mut Scope<'_>, field: &str, key: &str) {
    let prefix = key.rsplit_once('/').map_or("", |(prefix, _)| prefix);
    if !is_qualified_name(key) {
        at.problem(
            field,
            format!("`{key}` is not a Kubernetes label key like `dedicated` or `example.com/pool`"),
        );
    } else if RESERVED_KEY_PREFIXES
        .iter()
        .any(|reserved| key.starts_with(reserved) || prefix.ends_with(&format!(".{reserved}")))
    {
        at.problem(
            field,
            format!("`{key}` is in a namespace the kubelet may not set on its node"),
        );
    }
}

fn label_value(at: &mut Scope<'_>, field: &str, value: &str) {
    if value.is_empty() || !is_label_value(value) {
        at.problem(
            field,
            format!(
                "`{value}` is not a label value: 1 to 63 letters, digits, `-`, `_`, `.`, \
                 starting and ending with a letter or digit"
            ),
        );
    }
}
