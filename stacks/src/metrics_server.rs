//! metrics-server: the resource metrics the service's HorizontalPodAutoscaler
//! scales on; without it the HPA never acts.

use bindings::helm::release::ReleaseRef;
use serde::Serialize;
use synth::Stack;

use crate::eks::Eks;
use crate::helm::{addon_release, Chart, DisruptionBudget};
use crate::Error;

const CHART: Chart = Chart {
    repository: "https://kubernetes-sigs.github.io/metrics-server/",
    name: "metrics-server",
    version: "3.12.2",
};

/// Two replicas and a PDB: with one, a node drain stops every HPA.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Values {
    replicas: u32,
    pod_disruption_budget: DisruptionBudget,
}

pub fn metrics_server(stack: &mut Stack, eks: &Eks) -> Result<ReleaseRef, Error> {
    let values = Values {
        replicas: 2,
        pod_disruption_budget: DisruptionBudget {
            enabled: Some(true),
            max_unavailable: 1,
        },
    };
    addon_release(
        stack,
        "metrics_server",
        CHART,
        &values,
        &eks.workloads_ready,
    )
}
