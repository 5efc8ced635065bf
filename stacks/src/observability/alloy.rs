//! Grafana Alloy (chart 1.11.1) as a DaemonSet on every node, tolerating
//! every taint: it tails the log files of the pods on its node and pushes
//! them to Loki. (Promtail reached its end of life.)
//!
//! Every line is labelled with its namespace, pod, container, app
//! (`app.kubernetes.io/name`) and node. The service's JSON lines also get
//! `level` as a label: four values, so at most four times the streams. The
//! other fields (`msg`, `method`, `path`, `status`, `duration_us`,
//! `remote`) stay in the line and are parsed at query time (`| json`):
//! paths and client addresses are unbounded, and even `status` would
//! multiply every pod's streams for what a filter reads as cheaply.

use bindings::helm::release::ReleaseRef;
use serde::Serialize;
use synth::{Address, Stack};

use super::{chart_release, loki, Cluster, Resources, Toleration};
use crate::helm::Chart;
use crate::webapp;
use crate::Error;

const CHART: Chart = Chart {
    repository: "https://grafana.github.io/helm-charts",
    name: "alloy",
    version: "1.11.1",
};

/// The container of the service's pods (helm-chart/templates/deployment.yaml).
pub const SERVICE_CONTAINER: &str = "webapp";

/// The labels every log stream carries; the dashboards and alerts query by them.
pub const STREAM_LABELS: &[&str] = &["namespace", "pod", "container", "app", "node"];
/// Labels parsed from the service's JSON lines.
pub const SERVICE_LABELS: &[&str] = &["level"];

#[derive(Debug, Serialize)]
struct Values {
    alloy: Alloy,
    controller: Controller,
    #[serde(rename = "serviceMonitor")]
    service_monitor: Enabled,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Alloy {
    config_map: ConfigMap,
    mounts: Mounts,
    resources: Resources,
    /// No usage reports leave the cluster.
    enable_reporting: bool,
}

#[derive(Debug, Serialize)]
struct ConfigMap {
    content: String,
}

/// The node's /var/log, read-only: /var/log/pods holds every container's log.
#[derive(Debug, Serialize)]
struct Mounts {
    varlog: bool,
}

#[derive(Debug, Serialize)]
struct Controller {
    #[serde(rename = "type")]
    kind: &'static str,
    tolerations: Vec<Toleration>,
}

#[derive(Debug, Serialize)]
struct Enabled {
    enabled: bool,
}

/// The pipeline, in Alloy's configuration language. The chart passes it
/// through `tpl`, so it holds no `{{`.
pub fn pipeline(monitoring_namespace: &str, service_namespace: &str) -> String {
    let push_url = loki::push_url(monitoring_namespace);
    let service = webapp::RELEASE_NAME;
    format!(
        r#"// Pods of this node only: the chart sets HOSTNAME to the node's name.
discovery.kubernetes "pods" {{
  role = "pod"
  selectors {{
    role  = "pod"
    field = "spec.nodeName=" + sys.env("HOSTNAME")
  }}
}}

discovery.relabel "pods" {{
  targets = discovery.kubernetes.pods.targets
  rule {{
    source_labels = ["__meta_kubernetes_namespace"]
    target_label  = "namespace"
  }}
  rule {{
    source_labels = ["__meta_kubernetes_pod_name"]
    target_label  = "pod"
  }}
  rule {{
    source_labels = ["__meta_kubernetes_pod_container_name"]
    target_label  = "container"
  }}
  rule {{
    source_labels = ["__meta_kubernetes_pod_label_app_kubernetes_io_name"]
    target_label  = "app"
  }}
  rule {{
    source_labels = ["__meta_kubernetes_pod_node_name"]
    target_label  = "node"
  }}
  // /var/log/pods/<namespace>_<pod>_<uid>/<container>/<restart>.log
  rule {{
    source_labels = ["__meta_kubernetes_pod_uid", "__meta_kubernetes_pod_container_name"]
    separator     = "/"
    target_label  = "__path__"
    replacement   = "/var/log/pods/*$1/*.log"
  }}
}}

local.file_match "pods" {{
  path_targets = discovery.relabel.pods.output
}}

loki.source.file "pods" {{
  targets    = local.file_match.pods.targets
  forward_to = [loki.process.pods.receiver]
}}

loki.process "pods" {{
  // The container runtime's line format: time, stream, flags, message.
  stage.cri {{}}

  // The service's JSON lines: `level` becomes a label (four values).
  stage.match {{
    selector = "{{namespace=\"{service_namespace}\", container=\"{container}\", app=\"{service}\"}}"
    stage.json {{
      expressions = {{ level = "level" }}
    }}
    stage.labels {{
      values = {{ level = "" }}
    }}
  }}

  forward_to = [loki.write.loki.receiver]
}}

loki.write "loki" {{
  endpoint {{
    url = "{push_url}"
  }}
}}
"#,
        container = SERVICE_CONTAINER,
    )
}

pub fn release(
    stack: &mut Stack,
    cluster: &Cluster<'_>,
    after: &[Address],
) -> Result<ReleaseRef, Error> {
    let config = &cluster.env.config;
    let values = Values {
        alloy: Alloy {
            config_map: ConfigMap {
                content: pipeline(&config.observability.namespace, &config.service.namespace),
            },
            mounts: Mounts { varlog: true },
            resources: Resources::cpu_unlimited("50m", "256Mi"),
            enable_reporting: false,
        },
        controller: Controller {
            kind: "daemonset",
            tolerations: vec![Toleration::everything()],
        },
        service_monitor: Enabled { enabled: true },
    };
    chart_release(stack, "alloy", CHART, cluster, &values, after)
}
