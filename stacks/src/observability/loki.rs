//! Loki 3.7 (chart 18.11.0 of the grafana-community repository), monolithic:
//! one StatefulSet of single binaries (each with a volume for its write
//! ahead log), chunks and ruler storage in the S3 buckets of [`buckets`],
//! reached with the IRSA role scoped to them, schema v13 on TSDB, retention
//! by the compactor, the gateway in front, and caches sized from config.
//! SimpleScalable is deprecated; Monolithic carries a few tens of GB a day.
//!
//! [`buckets`]: super::buckets

use std::collections::BTreeMap;

use bindings::helm::release::ReleaseRef;
use serde::Serialize;
use synth::{Address, Expr, Stack};

use super::buckets::{LogBuckets, SERVICE_ACCOUNT};
use super::volumes::STORAGE_CLASS;
use super::{chart_release, Cluster, Placement, Resources};
use crate::config::{parse_quantity, QuantityUnit};
use crate::helm::{Chart, ServiceAccount};
use crate::Error;

const CHART: Chart = Chart {
    repository: "https://grafana-community.github.io/helm-charts",
    name: "loki",
    version: "18.11.0",
};

/// The day the v13/TSDB schema starts. A schema entry is never changed
/// once logs are written under it; a new schema is a new entry.
const SCHEMA_FROM: &str = "2025-01-01";
/// The write ahead log of each replica.
pub(super) const WAL_STORAGE: &str = "10Gi";

/// Terraform id of the release (`helm_release.loki`).
pub(super) const RELEASE_ID: &str = "loki";

/// Where Grafana queries Loki: its gateway.
pub fn query_url(namespace: &str) -> String {
    format!("http://loki-gateway.{namespace}.svc.cluster.local")
}

/// Where Alloy pushes logs.
pub fn push_url(namespace: &str) -> String {
    format!("{}/loki/api/v1/push", query_url(namespace))
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Values {
    deployment_mode: &'static str,
    loki: LokiConfig,
    single_binary: SingleBinary,
    /// The SimpleScalable targets, which Monolithic does not run.
    read: Replicas,
    write: Replicas,
    backend: Replicas,
    gateway: Gateway,
    chunks_cache: Cache,
    results_cache: Cache,
    service_account: ServiceAccount,
    monitoring: Monitoring,
    /// A DaemonSet writing test lines on every node; Alloy's and Loki's own
    /// metrics already say whether logs flow (docs/runbooks/LogsNotReceived.md).
    loki_canary: Enabled,
    /// Needs the canary.
    test: Enabled,
}

#[derive(Debug, Serialize)]
struct LokiConfig {
    /// One tenant: the cluster's logs, behind the cluster's own access control.
    auth_enabled: bool,
    #[serde(rename = "commonConfig")]
    common_config: CommonConfig,
    #[serde(rename = "schemaConfig")]
    schema_config: SchemaConfig,
    storage: Storage,
    limits_config: BTreeMap<&'static str, String>,
    compactor: Compactor,
}

#[derive(Debug, Serialize)]
struct CommonConfig {
    replication_factor: u32,
}

#[derive(Debug, Serialize)]
struct SchemaConfig {
    configs: Vec<SchemaPeriod>,
}

#[derive(Debug, Serialize)]
struct SchemaPeriod {
    from: &'static str,
    store: &'static str,
    object_store: &'static str,
    schema: &'static str,
    index: SchemaIndex,
}

#[derive(Debug, Serialize)]
struct SchemaIndex {
    prefix: &'static str,
    period: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Storage {
    #[serde(rename = "type")]
    kind: &'static str,
    bucket_names: BucketNames,
    s3: S3,
}

#[derive(Debug, Serialize)]
struct BucketNames {
    chunks: Expr,
    ruler: Expr,
}

/// Credentials come from the IRSA role (the AWS SDK's web identity
/// chain), so none are configured.
#[derive(Debug, Serialize)]
struct S3 {
    region: String,
}

/// Retention is applied by the compactor, which also serves deletions.
#[derive(Debug, Serialize)]
struct Compactor {
    retention_enabled: bool,
    delete_request_store: &'static str,
}

#[derive(Debug, Serialize)]
struct SingleBinary {
    replicas: u32,
    persistence: Persistence,
    resources: Resources,
    #[serde(flatten)]
    placement: Placement,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Persistence {
    enabled: bool,
    size: &'static str,
    storage_class: &'static str,
}

#[derive(Debug, Serialize)]
struct Replicas {
    replicas: u32,
}

#[derive(Debug, Serialize)]
struct Gateway {
    replicas: u32,
    resources: Resources,
    #[serde(flatten)]
    placement: Placement,
}

/// A memcached StatefulSet; the chart derives its container's memory from
/// `allocatedMemory` (MB).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Cache {
    allocated_memory: u64,
    #[serde(flatten)]
    placement: Placement,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Monitoring {
    service_monitor: Enabled,
    /// Loki's dashboards, as ConfigMaps Grafana's sidecar loads.
    dashboards: Enabled,
    /// The recording rules those dashboards read.
    rules: Enabled,
    /// Loki's own alerts (request errors, panics, slow requests).
    alerts: Enabled,
}

#[derive(Debug, Serialize)]
struct Enabled {
    enabled: bool,
}

pub fn release(
    stack: &mut Stack,
    cluster: &Cluster<'_>,
    buckets: &LogBuckets,
    after: &[Address],
) -> Result<ReleaseRef, Error> {
    let env = cluster.env;
    let logs = &env.config.observability.logs;
    let placement = &cluster.placement;
    // Checked at load: a quantity of at least 64 MiB.
    let megabytes = |text: &str| {
        u64::try_from(parse_quantity(text, QuantityUnit::Bytes).unwrap_or_default() >> 20)
            .unwrap_or(u64::MAX)
    };
    let cache = megabytes(&logs.cache_memory);
    let on = || Enabled { enabled: true };
    let off = || Enabled { enabled: false };
    let values = Values {
        deployment_mode: "Monolithic",
        loki: LokiConfig {
            auth_enabled: false,
            common_config: CommonConfig {
                replication_factor: logs.replication_factor(),
            },
            schema_config: SchemaConfig {
                configs: vec![SchemaPeriod {
                    from: SCHEMA_FROM,
                    store: "tsdb",
                    object_store: "s3",
                    schema: "v13",
                    index: SchemaIndex {
                        prefix: "index_",
                        period: "24h",
                    },
                }],
            },
            storage: Storage {
                kind: "s3",
                bucket_names: BucketNames {
                    chunks: buckets.chunks.clone(),
                    ruler: buckets.ruler.clone(),
                },
                s3: S3 {
                    region: env.config.region.clone(),
                },
            },
            limits_config: [("retention_period", format!("{}h", logs.retention_days * 24))].into(),
            compactor: Compactor {
                retention_enabled: true,
                delete_request_store: "s3",
            },
        },
        single_binary: SingleBinary {
            replicas: logs.replicas,
            persistence: Persistence {
                enabled: true,
                size: WAL_STORAGE,
                storage_class: STORAGE_CLASS,
            },
            resources: Resources::cpu_unlimited("250m", &logs.memory),
            placement: placement.clone(),
        },
        read: Replicas { replicas: 0 },
        write: Replicas { replicas: 0 },
        backend: Replicas { replicas: 0 },
        gateway: Gateway {
            replicas: 1,
            resources: Resources::cpu_unlimited("20m", "128Mi"),
            placement: placement.clone(),
        },
        chunks_cache: Cache {
            allocated_memory: cache,
            placement: placement.clone(),
        },
        // Query results are small next to chunks.
        results_cache: Cache {
            allocated_memory: (cache / 4).max(64),
            placement: placement.clone(),
        },
        service_account: ServiceAccount::irsa(SERVICE_ACCOUNT, buckets.role_arn.clone()),
        monitoring: Monitoring {
            service_monitor: on(),
            dashboards: on(),
            rules: on(),
            alerts: on(),
        },
        loki_canary: off(),
        test: off(),
    };
    chart_release(stack, RELEASE_ID, CHART, cluster, &values, after)
}
