//! What Argo CD delivers, recorded in the module's manifest (metadata key
//! [`METADATA_KEY`]). With GitOps on, the releases leave the app stack, yet
//! what reads the module alone (`infra cost`, `graph`, `report`, `diff`
//! against a module on disk) still needs to know they run in the cluster:
//! what their pods cause (the service's load balancer, the stores' volumes),
//! which roles they run as, which of the region's resources they use, and
//! where their pods are scheduled.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use synth::Address;

use super::convert::Delivered;
use crate::config::GitopsConfig;
use crate::releases::Chart;

/// Manifest metadata key of the [`Delivery`].
pub const METADATA_KEY: &str = "delivered";

/// Argo CD, where it reads from, and what it delivers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Delivery {
    /// Argo CD's own release, which terraform installs (`helm_release.argo_cd`).
    pub argo_cd: String,
    /// The release of the AppProjects and the root Application: the values
    /// it carries for the Applications are theirs, not its own.
    pub root: String,
    /// The git repository Argo CD reads, the branch and the tree in it.
    pub repository: String,
    pub revision: String,
    pub path: String,
    /// By the address of the release each replaces, so `infra diff` names
    /// the one that changed.
    pub applications: BTreeMap<String, DeliveredRelease>,
}

/// One release Argo CD delivers instead of terraform.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveredRelease {
    /// The Application's name.
    pub application: String,
    /// The block it replaces in the app stack (`helm_release.loki`): what
    /// estimates and readers name it by.
    pub release: String,
    pub release_name: String,
    pub namespace: String,
    /// The chart's name, or its path in the tree for a chart carried there.
    pub chart: String,
    /// Version and repository of an upstream chart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// Argo CD's sync wave: 0 first.
    pub wave: u32,
    /// Resources its values name that only terraform knows (a role's ARN, a
    /// bucket's name), by address.
    pub refs: Vec<String>,
    /// Every `nodeSelector` label its values set, together.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: BTreeMap<String, String>,
    /// Whether one of its pods tolerates every taint (a DaemonSet meant for
    /// every node).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tolerates_every_taint: bool,
}

/// The record of `delivered`, which Argo CD (release `argo_cd`, root
/// Application in `root`) reads from `gitops`' repository at `path`.
pub fn delivery(
    gitops: &GitopsConfig,
    path: String,
    (argo_cd, root): (&Address, &Address),
    delivered: &[Delivered],
) -> Delivery {
    let applications = delivered
        .iter()
        .map(|release| {
            let mut refs: Vec<String> = Vec::new();
            for address in release.apply_time.iter().flat_map(|e| e.references()) {
                let text = address.to_string();
                if matches!(address, Address::Resource { .. } | Address::Data { .. })
                    && !refs.contains(&text)
                {
                    refs.push(text);
                }
            }
            let (chart, version, repository) = match &release.chart {
                Chart::Upstream {
                    repository,
                    chart,
                    version,
                } => (
                    chart.clone(),
                    Some(version.clone()),
                    Some(repository.clone()),
                ),
                Chart::Local { path } => (path.clone(), None, None),
            };
            let mut node_selector = BTreeMap::new();
            let mut tolerates_every_taint = false;
            placement(
                &release.known,
                &mut node_selector,
                &mut tolerates_every_taint,
            );
            let record = DeliveredRelease {
                application: release.name.clone(),
                release: release.address.to_string(),
                release_name: release.release_name.clone(),
                namespace: release.namespace.clone(),
                chart,
                version,
                repository,
                wave: release.wave,
                refs,
                node_selector,
                tolerates_every_taint,
            };
            (record.release.clone(), record)
        })
        .collect();
    Delivery {
        argo_cd: argo_cd.to_string(),
        root: root.to_string(),
        repository: gitops.repository.clone(),
        revision: gitops.revision.clone(),
        path,
        applications,
    }
}

/// Collects every `nodeSelector` mapping and notes a toleration of every
/// taint (`operator: Exists` without a key) anywhere in `values`: charts
/// spell placement per component, under the same two keys.
fn placement(values: &Value, selector: &mut BTreeMap<String, String>, everything: &mut bool) {
    match values {
        Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("nodeSelector", Value::Object(labels)) => {
                        for (label, v) in labels {
                            if let Some(v) = v.as_str() {
                                selector.insert(label.clone(), v.to_owned());
                            }
                        }
                    }
                    ("tolerations", Value::Array(items)) => {
                        *everything |= items.iter().any(|t| {
                            t.get("operator").and_then(Value::as_str) == Some("Exists")
                                && t.get("key").is_none()
                        });
                    }
                    _ => placement(value, selector, everything),
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                placement(item, selector, everything);
            }
        }
        _ => {}
    }
}
