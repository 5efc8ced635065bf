//! kube-prometheus-stack: the Prometheus operator, Prometheus, Alertmanager,
//! node-exporter, kube-state-metrics and Grafana, with the stack's own node
//! and cluster dashboards and alert rules.
//!
//! Prometheus selects every ServiceMonitor, PodMonitor, Probe, ScrapeConfig
//! and PrometheusRule in every namespace (the `*SelectorNilUsesHelmValues`
//! switches off): it is the cluster's one Prometheus, so a team's monitor
//! works without knowing this release's name, and Loki's and Alloy's
//! monitors need no `release` label. Creating those objects takes RBAC
//! rights only administrators and the deployer have.

use std::collections::BTreeMap;

use bindings::helm::release::ReleaseRef;
use serde::Serialize;
use synth::{Expr, Stack};

use super::alerts::{AlertTopic, SERVICE_ACCOUNT as ALERTMANAGER_SERVICE_ACCOUNT};
use super::volumes::STORAGE_CLASS;
use super::{chart_release, loki, Cluster, Placement, Resources, Toleration, GRAFANA_ADMIN_SECRET};
use crate::config::{parse_quantity, GrafanaAccess, QuantityUnit};
use crate::helm::{Chart, ServiceAccount};
use crate::Error;

/// The release; also the prefix of its objects' names.
pub const RELEASE: &str = "kube-prometheus-stack";

const CHART: Chart = Chart {
    repository: "https://prometheus-community.github.io/helm-charts",
    name: RELEASE,
    version: "88.5.3",
};

/// Prometheus stops writing before its volume is full: this share of it.
const RETENTION_SIZE_PERCENT: u128 = 85;
/// Alertmanager keeps silences and notification state only.
pub(super) const ALERTMANAGER_STORAGE: &str = "2Gi";

/// Terraform id of the release (`helm_release.kube_prometheus_stack`).
pub(super) const RELEASE_ID: &str = "kube_prometheus_stack";

#[derive(Debug, Serialize)]
struct Values {
    prometheus: Prometheus,
    alertmanager: Alertmanager,
    #[serde(rename = "prometheusOperator")]
    operator: Operator,
    grafana: Grafana,
    #[serde(rename = "kube-state-metrics")]
    kube_state_metrics: Placed,
    #[serde(rename = "prometheus-node-exporter")]
    node_exporter: NodeExporter,
    /// EKS runs the control plane: its components cannot be scraped, and
    /// kube-proxy's metrics listen on the node's loopback only. Their
    /// targets and rules would only ever say "down".
    #[serde(rename = "kubeControllerManager")]
    kube_controller_manager: Enabled,
    #[serde(rename = "kubeScheduler")]
    kube_scheduler: Enabled,
    #[serde(rename = "kubeEtcd")]
    kube_etcd: Enabled,
    #[serde(rename = "kubeProxy")]
    kube_proxy: Enabled,
    #[serde(rename = "defaultRules")]
    default_rules: DefaultRules,
}

#[derive(Debug, Serialize)]
struct Enabled {
    enabled: bool,
}

#[derive(Debug, Serialize)]
struct DefaultRules {
    rules: BTreeMap<&'static str, bool>,
}

#[derive(Debug, Serialize)]
struct Prometheus {
    #[serde(rename = "prometheusSpec")]
    spec: PrometheusSpec,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct PrometheusSpec {
    replicas: u32,
    retention: String,
    retention_size: String,
    storage_spec: StorageSpec,
    resources: Resources,
    pod_anti_affinity: &'static str,
    external_labels: BTreeMap<&'static str, String>,
    service_monitor_selector_nil_uses_helm_values: bool,
    pod_monitor_selector_nil_uses_helm_values: bool,
    probe_selector_nil_uses_helm_values: bool,
    rule_selector_nil_uses_helm_values: bool,
    scrape_config_selector_nil_uses_helm_values: bool,
    #[serde(flatten)]
    placement: Placement,
}

/// `storageSpec` / `storage` of the operator's resources: a claim per replica.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct StorageSpec {
    volume_claim_template: ClaimTemplate,
}

#[derive(Debug, Serialize)]
struct ClaimTemplate {
    spec: ClaimSpec,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ClaimSpec {
    storage_class_name: &'static str,
    access_modes: [&'static str; 1],
    resources: ClaimResources,
}

#[derive(Debug, Serialize)]
struct ClaimResources {
    requests: BTreeMap<&'static str, String>,
}

impl StorageSpec {
    fn new(size: &str) -> Self {
        Self {
            volume_claim_template: ClaimTemplate {
                spec: ClaimSpec {
                    storage_class_name: STORAGE_CLASS,
                    access_modes: ["ReadWriteOnce"],
                    resources: ClaimResources {
                        requests: [("storage", size.to_owned())].into(),
                    },
                },
            },
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Alertmanager {
    #[serde(rename = "alertmanagerSpec")]
    spec: AlertmanagerSpec,
    /// Bound to the IRSA role that may publish to the alerts topic.
    service_account: ServiceAccount,
    config: AlertmanagerConfig,
}

/// Routing: everything to the SNS topic, except the Watchdog, which always
/// fires (an external dead man's switch may subscribe to it instead). The
/// chart's inhibition rules and templates stay.
#[derive(Debug, Serialize)]
struct AlertmanagerConfig {
    route: Route,
    receivers: Vec<Receiver>,
}

#[derive(Debug, Serialize)]
struct Route {
    receiver: &'static str,
    group_by: [&'static str; 2],
    routes: Vec<SubRoute>,
}

#[derive(Debug, Serialize)]
struct SubRoute {
    matchers: Vec<&'static str>,
    receiver: &'static str,
}

#[derive(Debug, Serialize)]
struct Receiver {
    name: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    sns_configs: Vec<SnsConfig>,
}

/// Signed with the pod's IRSA credentials (SigV4), so no key is configured.
#[derive(Debug, Serialize)]
struct SnsConfig {
    topic_arn: Expr,
    sigv4: BTreeMap<&'static str, String>,
    send_resolved: bool,
}

/// The receiver every alert but the Watchdog goes to.
pub const ALERTS_RECEIVER: &str = "sns";

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct AlertmanagerSpec {
    replicas: u32,
    storage: StorageSpec,
    resources: Resources,
    pod_anti_affinity: &'static str,
    #[serde(flatten)]
    placement: Placement,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Operator {
    resources: Resources,
    admission_webhooks: AdmissionWebhooks,
    #[serde(flatten)]
    placement: Placement,
}

/// The job that creates and patches the webhook's certificate.
#[derive(Debug, Serialize)]
struct AdmissionWebhooks {
    patch: Placement,
}

/// A sub-chart's pods: placement and resources.
#[derive(Debug, Serialize)]
struct Placed {
    resources: Resources,
    #[serde(flatten)]
    placement: Placement,
}

/// node-exporter belongs on every node, the monitoring nodes included.
#[derive(Debug, Serialize)]
struct NodeExporter {
    resources: Resources,
    tolerations: Vec<Toleration>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Grafana {
    admin: GrafanaAdmin,
    persistence: Persistence,
    /// A ReadWriteOnce volume cannot be attached to a second pod while the
    /// old one runs: replace the pod instead of rolling.
    deployment_strategy: BTreeMap<&'static str, &'static str>,
    /// The volume's owner is set by the pod's fsGroup; the chart's root
    /// init container is not needed.
    init_chown_data: Enabled,
    /// Its `helm test` pod carries no placement of its own.
    test_framework: Enabled,
    additional_data_sources: Vec<DataSource>,
    service: GrafanaService,
    resources: Resources,
    #[serde(flatten)]
    placement: Placement,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct GrafanaAdmin {
    existing_secret: &'static str,
    user_key: &'static str,
    password_key: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Persistence {
    enabled: bool,
    size: String,
    storage_class_name: &'static str,
}

/// A Grafana data source, as its provisioning files spell it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct DataSource {
    name: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
    uid: &'static str,
    access: &'static str,
    url: String,
    editable: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct GrafanaService {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    load_balancer_class: Option<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    load_balancer_source_ranges: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    annotations: BTreeMap<&'static str, &'static str>,
}

impl GrafanaService {
    /// ClusterIP (reached by port-forward), or an internal NLB that only
    /// the VPC may reach.
    fn new(access: GrafanaAccess, vpc_cidr: String) -> Self {
        match access {
            GrafanaAccess::PortForward => Self {
                kind: "ClusterIP",
                load_balancer_class: None,
                load_balancer_source_ranges: Vec::new(),
                annotations: BTreeMap::new(),
            },
            GrafanaAccess::InternalLoadBalancer => Self {
                kind: "LoadBalancer",
                load_balancer_class: Some("service.k8s.aws/nlb"),
                load_balancer_source_ranges: vec![vpc_cidr],
                annotations: [
                    (
                        "service.beta.kubernetes.io/aws-load-balancer-scheme",
                        "internal",
                    ),
                    (
                        "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type",
                        "ip",
                    ),
                ]
                .into(),
            },
        }
    }
}

pub fn release(
    stack: &mut Stack,
    cluster: &Cluster<'_>,
    alerts: &AlertTopic,
) -> Result<ReleaseRef, Error> {
    let env = cluster.env;
    let config = &env.config.observability;
    let metrics = &config.metrics;
    let placement = cluster.placement.clone();
    let storage_bytes = parse_quantity(&metrics.storage, QuantityUnit::Bytes).unwrap_or_default();
    let off = || Enabled { enabled: false };
    let values = Values {
        prometheus: Prometheus {
            spec: PrometheusSpec {
                replicas: metrics.replicas,
                retention: format!("{}d", metrics.retention_days),
                retention_size: format!(
                    "{}MB",
                    (storage_bytes * RETENTION_SIZE_PERCENT / 100) >> 20
                ),
                storage_spec: StorageSpec::new(&metrics.storage),
                resources: Resources::cpu_unlimited("250m", &metrics.memory),
                pod_anti_affinity: "hard",
                external_labels: [("environment", env.name.clone())].into(),
                service_monitor_selector_nil_uses_helm_values: false,
                pod_monitor_selector_nil_uses_helm_values: false,
                probe_selector_nil_uses_helm_values: false,
                rule_selector_nil_uses_helm_values: false,
                scrape_config_selector_nil_uses_helm_values: false,
                placement: placement.clone(),
            },
        },
        alertmanager: Alertmanager {
            spec: AlertmanagerSpec {
                replicas: metrics.replicas,
                storage: StorageSpec::new(ALERTMANAGER_STORAGE),
                resources: Resources::cpu_unlimited("20m", "128Mi"),
                pod_anti_affinity: "hard",
                placement: placement.clone(),
            },
            service_account: ServiceAccount::irsa(
                ALERTMANAGER_SERVICE_ACCOUNT,
                alerts.role_arn.clone(),
            ),
            config: AlertmanagerConfig {
                route: Route {
                    receiver: ALERTS_RECEIVER,
                    group_by: ["alertname", "namespace"],
                    routes: vec![SubRoute {
                        matchers: vec!["alertname = \"Watchdog\""],
                        receiver: "null",
                    }],
                },
                receivers: vec![
                    Receiver {
                        name: "null",
                        sns_configs: Vec::new(),
                    },
                    Receiver {
                        name: ALERTS_RECEIVER,
                        sns_configs: vec![SnsConfig {
                            topic_arn: alerts.arn.clone(),
                            sigv4: [("region", env.config.region.clone())].into(),
                            send_resolved: true,
                        }],
                    },
                ],
            },
        },
        operator: Operator {
            resources: Resources::cpu_unlimited("50m", "256Mi"),
            admission_webhooks: AdmissionWebhooks {
                patch: placement.clone(),
            },
            placement: placement.clone(),
        },
        grafana: Grafana {
            admin: GrafanaAdmin {
                existing_secret: GRAFANA_ADMIN_SECRET,
                user_key: "admin-user",
                password_key: "admin-password",
            },
            persistence: Persistence {
                enabled: true,
                size: config.grafana.storage.clone(),
                storage_class_name: STORAGE_CLASS,
            },
            deployment_strategy: [("type", "Recreate")].into(),
            init_chown_data: off(),
            test_framework: off(),
            additional_data_sources: vec![DataSource {
                name: "Loki",
                kind: "loki",
                uid: "loki",
                access: "proxy",
                url: loki::query_url(&config.namespace),
                editable: false,
            }],
            service: GrafanaService::new(
                config.grafana.access,
                env.config.network.vpc_cidr.to_string(),
            ),
            resources: Resources::cpu_unlimited("100m", "512Mi"),
            placement: placement.clone(),
        },
        kube_state_metrics: Placed {
            resources: Resources::cpu_unlimited("50m", "256Mi"),
            placement,
        },
        node_exporter: NodeExporter {
            resources: Resources::cpu_unlimited("20m", "128Mi"),
            tolerations: vec![Toleration::everything()],
        },
        kube_controller_manager: off(),
        kube_scheduler: off(),
        kube_etcd: off(),
        kube_proxy: off(),
        default_rules: DefaultRules {
            rules: [
                ("etcd", false),
                ("kubeControllerManager", false),
                ("kubeProxy", false),
                ("kubeSchedulerAlerting", false),
                ("kubeSchedulerRecording", false),
            ]
            .into(),
        },
    };
    chart_release(stack, RELEASE_ID, CHART, cluster, &values, &cluster.ready)
}
