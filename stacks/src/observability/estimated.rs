//! What the monitoring stack makes controllers create in AWS, estimated
//! from `[observability]` (see [`crate::estimate`]): an EBS volume per
//! persistent volume claim, which the EBS CSI driver creates for
//! Prometheus, Alertmanager, Loki and Grafana (gp3, encrypted with the
//! account's EBS key, deleted with the claim), and the internal NLB the load
//! balancer controller makes for Grafana when it is reached that way.

use serde_json::{json, Map};

use super::{loki, prometheus, volumes::STORAGE_CLASS};
use crate::config::{parse_quantity, Environment, GrafanaAccess, QuantityUnit};
use crate::estimate::{Count, Estimated};
use crate::network::INTERNAL_ELB_TAG;

/// Where the driver runs: the EKS add-on.
const VOLUME_CONTROLLER: &str = "aws_eks_addon.aws_ebs_csi_driver";

/// Grafana's Service port, the chart's default.
const GRAFANA_PORT: u16 = 80;

/// The monitoring stack's volumes and, with `internal-load-balancer` access,
/// Grafana's NLB.
pub fn estimated(env: &Environment) -> Vec<Estimated> {
    let config = &env.config.observability;
    let stack = format!("helm_release.{}", prometheus::RELEASE_ID);
    let logs = format!("helm_release.{}", loki::RELEASE_ID);
    let claims = [
        (
            "prometheus",
            "Prometheus",
            config.metrics.storage.as_str(),
            config.metrics.replicas,
            "[observability.metrics] storage, per replica",
            &stack,
        ),
        (
            "alertmanager",
            "Alertmanager",
            prometheus::ALERTMANAGER_STORAGE,
            config.metrics.replicas,
            "fixed (silences and notification state), per replica of [observability.metrics]",
            &stack,
        ),
        (
            "loki",
            "Loki",
            loki::WAL_STORAGE,
            config.logs.replicas,
            "fixed (the write-ahead log; chunks go to S3), per replica of [observability.logs]",
            &logs,
        ),
        (
            "grafana",
            "Grafana",
            config.grafana.storage.as_str(),
            1,
            "[observability.grafana] storage, one replica",
            &stack,
        ),
    ];
    let mut out: Vec<Estimated> = claims
        .into_iter()
        .map(|(name, store, size, replicas, why, release)| {
            let mut attributes = Map::new();
            attributes.insert("size".into(), json!(gibibytes(size)));
            attributes.insert("type".into(), json!("gp3"));
            attributes.insert("encrypted".into(), json!(true));
            Estimated {
                ty: "aws_ebs_volume".into(),
                name: name.into(),
                attributes,
                count: Count::exactly(f64::from(replicas)),
                subnet_tag: None,
                created_by: release.clone(),
                controller: VOLUME_CONTROLLER.into(),
                basis: format!(
                    "{store}'s volume claim: {size}, {why}; gp3 by the StorageClass \
                     {STORAGE_CLASS}, created by the EBS CSI driver and deleted with its claim"
                ),
                role: None,
            }
        })
        .collect();
    if config.grafana.access == GrafanaAccess::InternalLoadBalancer {
        let mut attributes = Map::new();
        attributes.insert("load_balancer_type".into(), json!("network"));
        attributes.insert("internal".into(), json!(true));
        attributes.insert(
            "listener".into(),
            json!([{"port": GRAFANA_PORT, "protocol": "TCP"}]),
        );
        out.push(Estimated {
            ty: "aws_lb".into(),
            name: "grafana".into(),
            attributes,
            count: Count::exactly(1.0),
            subnet_tag: Some(INTERNAL_ELB_TAG.into()),
            created_by: stack,
            controller: format!("helm_release.{}", crate::lb_controller::RELEASE_ID),
            basis: format!(
                "Grafana's Service in {} (type LoadBalancer, internal NLB with IP targets), from \
                 [observability.grafana] access = \"internal-load-balancer\"",
                config.namespace
            ),
            role: None,
        });
    }
    out
}

/// A claim's size in whole GiB, as EBS sizes volumes (rounded up).
fn gibibytes(quantity: &str) -> u64 {
    // Checked at load: a quantity of at least 1 GiB.
    let bytes = parse_quantity(quantity, QuantityUnit::Bytes).unwrap_or_default();
    u64::try_from(bytes.div_ceil(1 << 30)).unwrap_or(u64::MAX)
}
