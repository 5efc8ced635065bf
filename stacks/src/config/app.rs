//! The `[app]` section of an environment's config: what differs between the
//! environments' releases of the service (scaling, resources, load balancer,
//! service settings, APP_* configuration), checked here so a bad value fails at
//! synth time naming its field, rather than in `helm upgrade` on the cluster.

use std::collections::BTreeMap;

use contract::LogLevel;
use serde::{Deserialize, Serialize};

use super::check::{Scope, Section};
use super::cidr::Ipv4Cidr;
use super::quantity::{parse_quantity, QuantityUnit};
use super::Config;

/// The service's release in one environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppConfig {
    /// `SERVICE_LOG_LEVEL`.
    pub log_level: LogLevel,
    /// `SERVICE_MAX_CONNECTIONS`: concurrent connections per pod.
    pub max_connections: u32,
    /// `SERVICE_REQUEST_TIMEOUT_SECONDS`.
    pub request_timeout_seconds: u32,
    /// `SERVICE_HEADER_READ_TIMEOUT_SECONDS`.
    pub header_read_timeout_seconds: u32,
    /// Seconds a pod keeps serving after SIGTERM while the NLB deregisters it.
    pub drain_seconds: u32,
    /// Seconds a pod may spend finishing in-flight requests after the drain.
    pub shutdown_timeout_seconds: u32,
    /// Whether pods must spread over zones (`require`) or only prefer it.
    pub zone_spread: ZoneSpread,
    pub autoscaling: AutoscalingConfig,
    pub resources: ResourcesConfig,
    pub load_balancer: LoadBalancerConfig,
    /// `APP_*` configuration shown by `/configs`; secrets do not belong here.
    #[serde(default)]
    pub config: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ZoneSpread {
    /// `DoNotSchedule`: a pod stays pending rather than crowd one zone.
    Require,
    /// `ScheduleAnyway`: spread when the nodes allow it.
    Prefer,
}

impl ZoneSpread {
    /// The topology spread constraint's `whenUnsatisfiable`.
    pub fn when_unsatisfiable(self) -> &'static str {
        match self {
            Self::Require => "DoNotSchedule",
            Self::Prefer => "ScheduleAnyway",
        }
    }
}

/// The HorizontalPodAutoscaler: it owns the replica count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutoscalingConfig {
    pub min_replicas: u32,
    pub max_replicas: u32,
    /// Average CPU utilization, percent of requests, the HPA aims for.
    pub target_cpu_percent: u32,
    /// Average memory utilization target; absent leaves memory out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_memory_percent: Option<u32>,
}

/// Container requests and limits, as Kubernetes quantities (`250m`, `128Mi`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourcesConfig {
    pub cpu_request: String,
    pub memory_request: String,
    pub cpu_limit: String,
    pub memory_limit: String,
}

/// The load balancer the AWS Load Balancer Controller provisions for the
/// service; its name, certificate and WAF are in `[edge]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadBalancerConfig {
    pub kind: LoadBalancerKind,
    pub scheme: LoadBalancerScheme,
    /// NLB only: a plain HTTP listener on port 80 beside HTTPS on 443. An
    /// ALB answers port 80 with a redirect to HTTPS, always.
    #[serde(default)]
    pub http: bool,
    /// Client CIDRs allowed to reach the load balancer; empty allows everyone.
    #[serde(default)]
    pub source_ranges: Vec<Ipv4Cidr>,
}

/// How the service is published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LoadBalancerKind {
    /// An Ingress, for which the controller provisions an Application Load
    /// Balancer: HTTPS with the edge's TLS policy, HTTP redirected, and the
    /// WAF web ACL attached.
    Alb,
    /// A `LoadBalancer` Service, provisioned as a Network Load Balancer
    /// terminating TLS; WAF cannot be attached to it.
    Nlb,
}

impl LoadBalancerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Alb => "alb",
            Self::Nlb => "nlb",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LoadBalancerScheme {
    InternetFacing,
    Internal,
}

impl LoadBalancerScheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InternetFacing => "internet-facing",
            Self::Internal => "internal",
        }
    }
}

impl Section for AppConfig {
    const KEY: &'static str = "app";
    type Checked = ();

    fn check(&self, _: &Config, at: &mut Scope<'_>) {
        for (field, value) in [
            ("max_connections", self.max_connections),
            ("request_timeout_seconds", self.request_timeout_seconds),
            (
                "header_read_timeout_seconds",
                self.header_read_timeout_seconds,
            ),
            ("shutdown_timeout_seconds", self.shutdown_timeout_seconds),
        ] {
            if value == 0 {
                at.problem(field, "must be at least 1");
            }
        }
        if self.header_read_timeout_seconds > self.request_timeout_seconds {
            at.problem(
                "header_read_timeout_seconds",
                format!(
                    "{} is longer than request_timeout_seconds ({}), which would cut it short",
                    self.header_read_timeout_seconds, self.request_timeout_seconds
                ),
            );
        }
        self.autoscaling.check(at);
        self.resources.check(at);

        let lb = &self.load_balancer;
        if lb.http && lb.kind == LoadBalancerKind::Alb {
            at.problem(
                "load_balancer.http",
                "an ALB always redirects port 80 to HTTPS; a plain HTTP listener exists only with kind = \"nlb\"",
            );
        }

        for key in self.config.keys() {
            if let Err(message) = check_config_key(key) {
                at.problem(format!("config.{key}"), message);
            }
        }
    }
}

impl AutoscalingConfig {
    fn check(&self, at: &mut Scope<'_>) {
        if self.min_replicas == 0 {
            at.problem("autoscaling.min_replicas", "must be at least 1");
        }
        if self.max_replicas < self.min_replicas {
            at.problem(
                "autoscaling.max_replicas",
                format!(
                    "{} is below min_replicas ({})",
                    self.max_replicas, self.min_replicas
                ),
            );
        }
        for (field, value) in [
            (
                "autoscaling.target_cpu_percent",
                Some(self.target_cpu_percent),
            ),
            (
                "autoscaling.target_memory_percent",
                self.target_memory_percent,
            ),
        ] {
            if let Some(value) = value.filter(|v| !(1..=100).contains(v)) {
                at.problem(
                    field,
                    format!("{value} is not a percentage between 1 and 100"),
                );
            }
        }
    }
}

impl ResourcesConfig {
    fn check(&self, at: &mut Scope<'_>) {
        let parsed = |field: &'static str, text: &str, unit| {
            parse_quantity(text, unit).map_err(|message| (field, message))
        };
        let cpu_request = parsed(
            "resources.cpu_request",
            &self.cpu_request,
            QuantityUnit::Cpu,
        );
        let cpu_limit = parsed("resources.cpu_limit", &self.cpu_limit, QuantityUnit::Cpu);
        let memory_request = parsed(
            "resources.memory_request",
            &self.memory_request,
            QuantityUnit::Bytes,
        );
        let memory_limit = parsed(
            "resources.memory_limit",
            &self.memory_limit,
            QuantityUnit::Bytes,
        );
        for (request, limit, limit_field) in [
            (&cpu_request, &cpu_limit, "resources.cpu_limit"),
            (&memory_request, &memory_limit, "resources.memory_limit"),
        ] {
            if let (Ok(request), Ok(limit)) = (request, limit) {
                if limit < request {
                    at.problem(
                        limit_field,
                        "is below the request: the pod could never be scheduled",
                    );
                }
            }
        }
        for parsed in [cpu_request, cpu_limit, memory_request, memory_limit] {
            if let Err((field, message)) = parsed {
                at.problem(field, message);
            }
        }
    }
}

fn check_config_key(key: &str) -> Result<(), String> {
    let valid = key.strip_prefix(contract::APP_PREFIX).is_some_and(|rest| {
        !rest.is_empty()
            && rest
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
            && !rest.ends_with('_')
    });
    if !valid {
        return Err(
            "must be APP_ followed by upper-case letters, digits and underscores".to_owned(),
        );
    }
    if let Some(suffix) = contract::secret_suffix(key) {
        return Err(format!(
            "ends with {suffix}, so it is a secret: list it under [secrets.values], never in config"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::check::{problems_in, shipped_staging};
    use super::*;

    fn staging() -> AppConfig {
        toml::from_str(
            r#"
            log_level = "debug"
            max_connections = 512
            request_timeout_seconds = 30
            header_read_timeout_seconds = 10
            drain_seconds = 5
            shutdown_timeout_seconds = 20
            zone_spread = "prefer"
            [autoscaling]
            min_replicas = 2
            max_replicas = 4
            target_cpu_percent = 70
            [resources]
            cpu_request = "100m"
            memory_request = "64Mi"
            cpu_limit = "1"
            memory_limit = "128Mi"
            [load_balancer]
            kind = "alb"
            scheme = "internet-facing"
            [config]
            APP_GREETING = "hello"
            "#,
        )
        .expect("valid section")
    }

    /// This section's problems inside the shipped staging config.
    fn fields(app: &AppConfig) -> Vec<String> {
        let mut config = shipped_staging();
        config.app = app.clone();
        problems_in(&config.app, &config)
    }

    #[test]
    fn a_sound_section_has_no_problems() {
        assert_eq!(fields(&staging()), Vec::<String>::new());
    }

    #[test]
    fn scaling_bounds_and_percentages_are_checked() {
        let mut config = staging();
        config.autoscaling.min_replicas = 5;
        config.autoscaling.target_memory_percent = Some(150);
        assert_eq!(
            fields(&config),
            [
                "app.autoscaling.max_replicas: 4 is below min_replicas (5)",
                "app.autoscaling.target_memory_percent: 150 is not a percentage between 1 and 100",
            ]
        );
    }

    #[test]
    fn quantities_are_parsed_and_limits_compared_with_requests() {
        let mut config = staging();
        config.resources.cpu_request = "2".into();
        config.resources.memory_limit = "128MB".into();
        assert_eq!(
            fields(&config),
            [
                "app.resources.cpu_limit: is below the request: the pod could never be scheduled",
                "app.resources.memory_limit: `128MB` is not a memory quantity such as 128Mi or 1Gi (a whole number above zero)",
            ]
        );
        config.resources.memory_limit = "1G".into();
        config.resources.memory_request = "1Gi".into();
        assert_eq!(
            fields(&config)[1],
            "app.resources.memory_limit: is below the request: the pod could never be scheduled"
        );
    }

    #[test]
    fn only_an_nlb_has_a_plain_http_listener() {
        let mut config = staging();
        config.load_balancer.http = true;
        assert_eq!(
            fields(&config),
            ["app.load_balancer.http: an ALB always redirects port 80 to HTTPS; a plain HTTP listener exists only with kind = \"nlb\""]
        );
        config.load_balancer.kind = LoadBalancerKind::Nlb;
        assert_eq!(fields(&config), Vec::<String>::new());
    }

    #[test]
    fn config_keys_must_be_app_names_and_not_secrets() {
        let mut config = staging();
        config.config.insert("GREETING".into(), "x".into());
        config.config.insert("APP_DB_PASSWORD".into(), "x".into());
        assert_eq!(
            fields(&config),
            [
                "app.config.APP_DB_PASSWORD: ends with _PASSWORD, so it is a secret: list it under [secrets.values], never in config",
                "app.config.GREETING: must be APP_ followed by upper-case letters, digits and underscores",
            ]
        );
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err = toml::from_str::<AppConfig>("replicas = 3").expect_err("replicas is not a field");
        assert!(
            err.to_string().contains("unknown field `replicas`"),
            "{err}"
        );
    }
}
