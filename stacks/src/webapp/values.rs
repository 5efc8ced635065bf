//! The values of the service's chart (helm-chart/values.yaml) in one
//! environment, built from its `[app]` config. The image, the IRSA role and
//! the Secret are not here: terraform knows them only at apply time and
//! passes them as `set` entries.

use std::collections::BTreeMap;

use contract::LogLevel;
use serde::Serialize;

use super::RELEASE_NAME;
use crate::config::{Environment, Ipv4Cidr, LoadBalancerScheme};
use crate::helm::DisruptionBudget;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WebappValues {
    /// Pins the chart's object names (its Service among them) to the release.
    pub fullname_override: &'static str,
    pub environment: String,
    /// The HPA owns the replica count; this is the count before it first acts.
    pub replica_count: u32,
    pub autoscaling: Autoscaling,
    pub pod_disruption_budget: DisruptionBudget,
    pub topology_spread: TopologySpread,
    pub resources: Resources,
    pub drain_seconds: u32,
    pub shutdown_timeout_seconds: u32,
    pub settings: Settings,
    pub config: BTreeMap<String, String>,
    pub service: Service,
    pub service_account: ServiceAccount,
    pub network_policy: NetworkPolicy,
}

#[derive(Debug, Clone, Serialize)]
pub struct Autoscaling {
    pub enabled: bool,
    #[serde(rename = "minReplicas")]
    pub min_replicas: u32,
    #[serde(rename = "maxReplicas")]
    pub max_replicas: u32,
    #[serde(rename = "targetCPUUtilizationPercentage")]
    pub target_cpu_percent: u32,
    /// `null` leaves memory out of the HPA.
    #[serde(rename = "targetMemoryUtilizationPercentage")]
    pub target_memory_percent: Option<u32>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TopologySpread {
    pub zone: Spread,
    pub node: Spread,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Spread {
    pub max_skew: u32,
    pub when_unsatisfiable: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct Resources {
    pub requests: Quantities,
    pub limits: Quantities,
}

#[derive(Debug, Clone, Serialize)]
pub struct Quantities {
    pub cpu: String,
    pub memory: String,
}

/// The service's own settings (`SERVICE_*`, see the contract crate).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Settings {
    pub log_level: LogLevel,
    pub max_connections: u32,
    pub request_timeout_seconds: u32,
    pub header_read_timeout_seconds: u32,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Service {
    pub scheme: LoadBalancerScheme,
    /// 0 turns the plain HTTP listener off.
    pub http_port: u16,
    pub load_balancer_source_ranges: Vec<Ipv4Cidr>,
    pub tls: Tls,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Tls {
    pub enabled: bool,
    pub certificate_arn: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServiceAccount {
    pub create: bool,
    pub name: String,
}

/// The NLB sends traffic to pod IPs from its own addresses inside the VPC.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkPolicy {
    pub enabled: bool,
    pub ingress_cidrs: Vec<Ipv4Cidr>,
}

/// The chart values the environment's `[app]` config stands for.
pub fn webapp_values(env: &Environment) -> WebappValues {
    let config = &env.config;
    let app = &config.app;
    let lb = &app.load_balancer;
    let quantities = |cpu: &str, memory: &str| Quantities {
        cpu: cpu.to_owned(),
        memory: memory.to_owned(),
    };
    WebappValues {
        fullname_override: RELEASE_NAME,
        environment: env.name.clone(),
        replica_count: app.autoscaling.min_replicas,
        autoscaling: Autoscaling {
            enabled: true,
            min_replicas: app.autoscaling.min_replicas,
            max_replicas: app.autoscaling.max_replicas,
            target_cpu_percent: app.autoscaling.target_cpu_percent,
            target_memory_percent: app.autoscaling.target_memory_percent,
        },
        pod_disruption_budget: DisruptionBudget {
            enabled: Some(true),
            max_unavailable: 1,
        },
        topology_spread: TopologySpread {
            zone: Spread {
                max_skew: 1,
                when_unsatisfiable: app.zone_spread.when_unsatisfiable(),
            },
            node: Spread {
                max_skew: 1,
                when_unsatisfiable: "ScheduleAnyway",
            },
        },
        resources: Resources {
            requests: quantities(&app.resources.cpu_request, &app.resources.memory_request),
            limits: quantities(&app.resources.cpu_limit, &app.resources.memory_limit),
        },
        drain_seconds: app.drain_seconds,
        shutdown_timeout_seconds: app.shutdown_timeout_seconds,
        settings: Settings {
            log_level: app.log_level,
            max_connections: app.max_connections,
            request_timeout_seconds: app.request_timeout_seconds,
            header_read_timeout_seconds: app.header_read_timeout_seconds,
        },
        config: app.config.clone(),
        service: Service {
            scheme: lb.scheme,
            http_port: if lb.http { 80 } else { 0 },
            load_balancer_source_ranges: lb.source_ranges.clone(),
            tls: Tls {
                enabled: lb.tls_certificate_arn.is_some(),
                certificate_arn: lb.tls_certificate_arn.clone().unwrap_or_default(),
            },
        },
        service_account: ServiceAccount {
            create: true,
            name: config.service.service_account.clone(),
        },
        network_policy: NetworkPolicy {
            enabled: true,
            ingress_cidrs: vec![config.network.vpc_cidr],
        },
    }
}
