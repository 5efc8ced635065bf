//! The values of the service's chart (helm-chart/values.yaml) in one
//! environment, built from its `[app]`, `[edge]` and `[service]` config. The
//! image, the IRSA role, the certificate and the web ACL are not here:
//! terraform knows them only at apply time and passes them as `set` entries.

use std::collections::BTreeMap;

use contract::LogLevel;
use serde::Serialize;

use super::{ALB_GROUP, RELEASE_NAME, SECRET_NAME};
use crate::config::{Environment, Ipv4Cidr, LoadBalancerKind, LoadBalancerScheme};
use crate::helm::{DisruptionBudget, Resources};

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
    pub secret: Secret,
    pub service: Service,
    pub ingress: Ingress,
    pub service_account: ServiceAccount,
    pub rbac: Rbac,
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

/// The service's own settings (`SERVICE_*`, see the contract crate).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Settings {
    pub log_level: LogLevel,
    pub max_connections: u32,
    pub request_timeout_seconds: u32,
    pub header_read_timeout_seconds: u32,
}

/// The Secret the pods mount, written by External Secrets Operator.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Secret {
    pub existing_secret: &'static str,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Service {
    /// `LoadBalancer` (an NLB) or `ClusterIP` (behind the Ingress's ALB).
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub scheme: LoadBalancerScheme,
    /// The NLB's plain HTTP listener (0: none), or the port the ALB sends to.
    pub http_port: u16,
    pub load_balancer_source_ranges: Vec<Ipv4Cidr>,
    pub tls: Tls,
}

/// TLS at the NLB; its certificate is a `set` entry.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Tls {
    pub enabled: bool,
    pub ssl_policy: String,
}

/// The Ingress for an ALB; its certificate and web ACL are `set` entries.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Ingress {
    pub enabled: bool,
    pub host: String,
    pub scheme: LoadBalancerScheme,
    pub ssl_policy: String,
    pub source_ranges: Vec<Ipv4Cidr>,
    pub group_name: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServiceAccount {
    pub create: bool,
    pub name: String,
}

/// What the service account may read in the Kubernetes API: its own Secret
/// and ConfigMap, by name, and nothing else (the pods carry no token to use
/// even that; their config and secrets arrive as files).
#[derive(Debug, Clone, Serialize)]
pub struct Rbac {
    pub rules: Vec<Rule>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    pub api_groups: Vec<&'static str>,
    pub resources: Vec<&'static str>,
    pub resource_names: Vec<&'static str>,
    pub verbs: Vec<&'static str>,
}

/// Reads one named object of one kind of the core API group.
fn get_named(resource: &'static str, name: &'static str) -> Rule {
    Rule {
        api_groups: vec![""],
        resources: vec![resource],
        resource_names: vec![name],
        verbs: vec!["get"],
    }
}

/// The load balancer sends traffic to pod IPs from its own addresses inside the VPC.
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
    let edge = &config.edge;
    let alb = lb.kind == LoadBalancerKind::Alb;
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
        resources: Resources::new(
            (&app.resources.cpu_request, &app.resources.memory_request),
            (Some(&app.resources.cpu_limit), &app.resources.memory_limit),
        ),
        drain_seconds: app.drain_seconds,
        shutdown_timeout_seconds: app.shutdown_timeout_seconds,
        settings: Settings {
            log_level: app.log_level,
            max_connections: app.max_connections,
            request_timeout_seconds: app.request_timeout_seconds,
            header_read_timeout_seconds: app.header_read_timeout_seconds,
        },
        config: app.config.clone(),
        secret: Secret {
            existing_secret: SECRET_NAME,
        },
        service: Service {
            kind: if alb { "ClusterIP" } else { "LoadBalancer" },
            scheme: lb.scheme,
            http_port: if alb || lb.http { 80 } else { 0 },
            load_balancer_source_ranges: if alb {
                Vec::new()
            } else {
                lb.source_ranges.clone()
            },
            tls: Tls {
                enabled: !alb,
                ssl_policy: edge.ssl_policy.clone(),
            },
        },
        ingress: Ingress {
            enabled: alb,
            host: edge.hostname.clone(),
            scheme: lb.scheme,
            ssl_policy: edge.ssl_policy.clone(),
            source_ranges: if alb {
                lb.source_ranges.clone()
            } else {
                Vec::new()
            },
            group_name: ALB_GROUP,
        },
        service_account: ServiceAccount {
            create: true,
            name: config.service.service_account.clone(),
        },
        rbac: Rbac {
            rules: vec![
                get_named("secrets", SECRET_NAME),
                get_named("configmaps", RELEASE_NAME),
            ],
        },
        network_policy: NetworkPolicy {
            enabled: true,
            ingress_cidrs: vec![config.network.vpc_cidr],
        },
    }
}
