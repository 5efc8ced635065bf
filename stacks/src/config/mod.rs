//! Per-environment configuration (`stacks/config/<env>.toml`), in the spirit of
//! Pulumi's stack config: one plain file per environment, so adding an
//! environment is adding a file. Files are read with serde (unknown keys are
//! rejected) and then checked as a whole, section by section; every problem is
//! reported with the file, the field path (`node_groups[0].min_size`) and what
//! is wrong, before any Terraform is written.
//!
//! Differences between environments live here; the stacks never branch on the
//! environment's name.

mod access;
mod app;
mod check;
mod ci;
mod cidr;
mod cluster;
mod edge;
mod gitops;
mod karpenter;
mod network;
mod node_groups;
mod observability;
mod policy;
mod quantity;
mod secrets;
mod state;
mod usage;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use synth::Diagnostic;

pub use access::{AccessConfig, AccessLevel, TeamAccess};
pub use app::{
    AppConfig, AutoscalingConfig, LoadBalancerConfig, LoadBalancerKind, LoadBalancerScheme,
    ResourcesConfig, ZoneSpread,
};
pub use ci::{is_s3_bucket_name, CiConfig};
pub use cidr::{CidrError, Ipv4Cidr};
pub use cluster::{
    parse_kubernetes_version, ClusterConfig, ControlPlaneLogType, KUBERNETES_MINOR_VERSIONS,
};
pub use edge::{EdgeConfig, WafConfig};
pub use gitops::{BastionConfig, GitopsConfig, GitopsPolicy, SsoConfig, TeamConfig, TeamRole};
pub use karpenter::{
    parse_duration, Architecture, BudgetConfig, ConsolidationPolicy, DisruptionReason,
    KarpenterConfig, NodeCapacity, NodePoolConfig, KARPENTER_CONTROLLER_REPLICAS,
};
pub use network::{AzSubnets, NatGatewayMode, NetworkConfig};
pub use node_groups::{CapacityType, NodeGroupConfig, TaintConfig, TaintEffect};
pub use observability::{
    GrafanaAccess, GrafanaConfig, LogStoreConfig, MetricsConfig, MonitoringNodesConfig, NodeLabel,
    NodeTaint, ObservabilityConfig,
};
pub use policy::{
    AccessFloors, EdgeFloors, ObservabilityFloors, PolicyConfig, PublicApiPolicy, SecretFloors,
};
pub use quantity::{parse_quantity, QuantityUnit};
pub use secrets::{SecretSource, SecretsConfig};
pub use state::{ImportEntry, MovedEntry, StateConfig};
pub use usage::{UsageConfig, UsageKey, UsageSource, UsageValue};

use check::{Problems, Scope, Section};

/// Retention periods CloudWatch Logs accepts (`retention_in_days`).
pub const LOG_RETENTION_DAYS: &[u32] = &[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

/// Tags the stacks set themselves on every resource; config may not override them.
pub const RESERVED_TAGS: &[&str] = &["Project", "Environment", "ManagedBy"];

/// One environment's configuration file, as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Project name, the `Project` tag.
    pub project: String,
    /// Prefix of every resource name (`<name_prefix>-vpc`, the cluster name, ...).
    pub name_prefix: String,
    /// AWS region, e.g. `eu-west-1`.
    pub region: String,
    pub network: NetworkConfig,
    pub cluster: ClusterConfig,
    pub node_groups: Vec<NodeGroupConfig>,
    pub logs: LogsConfig,
    pub ci: CiConfig,
    pub service: ServiceConfig,
    /// The service's release (the webapp component).
    pub app: AppConfig,
    /// Cluster autoscaling: nodes for pods the managed node groups cannot hold.
    pub karpenter: KarpenterConfig,
    /// Metrics, dashboards, alerts and logs (the observability component).
    pub observability: ObservabilityConfig,
    /// The way in from the internet: name, certificate, TLS policy, WAF.
    pub edge: EdgeConfig,
    /// The service's secrets in AWS Secrets Manager.
    pub secrets: SecretsConfig,
    /// People's access to the cluster, per team and namespace.
    #[serde(default)]
    pub access: AccessConfig,
    /// Extra tags on every taggable resource, besides the reserved ones.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Expected monthly usage, the inputs of `infra cost` (terraform never reads it).
    #[serde(default)]
    pub usage: UsageConfig,
    /// Delivery by Argo CD from a git repository (off when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gitops: Option<GitopsConfig>,
    /// Protection, imports and moves of the environment's terraform state.
    #[serde(default)]
    pub state: StateConfig,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogsConfig {
    /// Retention of the VPC flow log and control-plane log groups.
    pub retention_days: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    /// Namespace the service is deployed into.
    pub namespace: String,
    /// Its Kubernetes service account, bound to its IRSA role.
    pub service_account: String,
}

/// A checked configuration, with its floors and its subnet layout worked out.
#[derive(Debug, Clone, PartialEq)]
pub struct Environment {
    /// The environment's name: its config file's stem.
    pub name: String,
    pub config: Config,
    /// The file the config was read from.
    pub source: PathBuf,
    /// The floors the config meets, from `stacks/policy/<name>.toml`.
    pub policy: PolicyConfig,
    /// The file the floors were read from.
    pub policy_source: PathBuf,
    /// Subnets per AZ, in `network.azs` order.
    pub subnets: Vec<AzSubnets>,
}

/// A file's path (for messages) and its text.
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    pub path: &'a Path,
    pub text: &'a str,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        cause: std::io::Error,
    },
    #[error("{}: {message}", path.display())]
    Parse { path: PathBuf, message: String },
    #[error("{}: invalid configuration:\n{}", path.display(), synth::list_diagnostics(problems))]
    Invalid {
        path: PathBuf,
        problems: Vec<Diagnostic>,
    },
    #[error("unknown environment `{name}`; known environments (in {}): {}", dir.display(), known_list(known))]
    UnknownEnvironment {
        name: String,
        dir: PathBuf,
        known: Vec<String>,
    },
}

fn known_list(known: &[String]) -> String {
    if known.is_empty() {
        "none".to_owned()
    } else {
        known.join(", ")
    }
}

/// Names of the environments defined in `config_dir` (the `*.toml` stems), sorted.
pub fn known_environments(config_dir: &Path) -> Result<Vec<String>, ConfigError> {
    let read_err = |cause| ConfigError::Read {
        path: config_dir.to_path_buf(),
        cause,
    };
    let mut names = Vec::new();
    for entry in std::fs::read_dir(config_dir).map_err(read_err)? {
        let path = entry.map_err(read_err)?.path();
        if path.extension().is_some_and(|e| e == "toml") {
            if let Some(stem) = path.file_stem().and_then(|s| s.to_str()) {
                names.push(stem.to_owned());
            }
        }
    }
    names.sort();
    Ok(names)
}

/// The environment's config file in a checkout.
pub fn config_file(root: &Path, name: &str) -> PathBuf {
    crate::config_dir(root).join(format!("{name}.toml"))
}

/// The environment's floors in a checkout.
pub fn policy_file(root: &Path, name: &str) -> PathBuf {
    crate::policy_dir(root).join(format!("{name}.toml"))
}

/// Reads and checks environment `name` of the checkout at `root`: its
/// config (`stacks/config/<name>.toml`) against its floors
/// (`stacks/policy/<name>.toml`).
pub fn load_environment(root: &Path, name: &str) -> Result<Environment, ConfigError> {
    let config_dir = crate::config_dir(root);
    let known = known_environments(&config_dir)?;
    if !known.iter().any(|k| k == name) {
        return Err(ConfigError::UnknownEnvironment {
            name: name.to_owned(),
            dir: config_dir,
            known,
        });
    }
    let read = |path: &Path| {
        std::fs::read_to_string(path).map_err(|cause| ConfigError::Read {
            path: path.to_owned(),
            cause,
        })
    };
    let (config_path, policy_path) = (config_file(root, name), policy_file(root, name));
    let config_text = read(&config_path)?;
    let policy_text = read(&policy_path)?;
    parse_environment(
        name,
        Source {
            path: &config_path,
            text: &config_text,
        },
        Source {
            path: &policy_path,
            text: &policy_text,
        },
    )
}

fn parse<T: serde::de::DeserializeOwned>(source: Source<'_>) -> Result<T, ConfigError> {
    toml::from_str(source.text).map_err(|e| ConfigError::Parse {
        path: source.path.to_path_buf(),
        message: e.to_string().trim_end().to_owned(),
    })
}

/// Parses and checks one environment's config against its floors; the
/// paths are only used in messages.
pub fn parse_environment(
    name: &str,
    config: Source<'_>,
    policy: Source<'_>,
) -> Result<Environment, ConfigError> {
    let floors: PolicyConfig = parse(policy)?;
    let problems = floors.problems();
    if !problems.is_empty() {
        return Err(ConfigError::Invalid {
            path: policy.path.to_path_buf(),
            problems: problems.into_vec(),
        });
    }
    let source = config;
    let config: Config = parse(source)?;
    let mut problems = Problems::default();
    check::top_level(name, &config, &mut problems);
    let subnets = problems.section(&config.network, &config);
    problems.section(&config.cluster, &config);
    problems.section(&config.node_groups, &config);
    problems.section(&config.logs, &config);
    problems.section(&config.ci, &config);
    problems.section(&config.service, &config);
    problems.section(&floors, &config);
    problems.section(&config.tags, &config);
    problems.section(&config.app, &config);
    problems.section(&config.karpenter, &config);
    problems.section(&config.observability, &config);
    problems.section(&config.usage, &config);
    problems.section(&config.gitops, &config);
    problems.section(&config.state, &config);
    problems.section(&config.edge, &config);
    problems.section(&config.secrets, &config);
    problems.section(&config.access, &config);
    if problems.is_empty() {
        Ok(Environment {
            name: name.to_owned(),
            config,
            source: source.path.to_path_buf(),
            policy: floors,
            policy_source: policy.path.to_path_buf(),
            subnets,
        })
    } else {
        Err(ConfigError::Invalid {
            path: source.path.to_path_buf(),
            problems: problems.into_vec(),
        })
    }
}

impl Section for LogsConfig {
    const KEY: &'static str = "logs";
    type Checked = ();

    fn check(&self, _: &Config, at: &mut Scope<'_>) {
        if !LOG_RETENTION_DAYS.contains(&self.retention_days) {
            at.problem(
                "retention_days",
                format!(
                    "{} is not a retention CloudWatch Logs accepts; use one of {LOG_RETENTION_DAYS:?}",
                    self.retention_days
                ),
            );
        }
    }
}

impl Section for ServiceConfig {
    const KEY: &'static str = "service";
    type Checked = ();

    fn check(&self, _: &Config, at: &mut Scope<'_>) {
        at.dns_label("namespace", &self.namespace, 63);
        at.dns_label("service_account", &self.service_account, 63);
    }
}

impl Section for BTreeMap<String, String> {
    const KEY: &'static str = "tags";
    type Checked = ();

    fn check(&self, _: &Config, at: &mut Scope<'_>) {
        for (key, value) in self {
            if RESERVED_TAGS.contains(&key.as_str()) {
                at.problem(
                    key,
                    "is set by the stacks themselves and cannot be overridden",
                );
            }
            if key.is_empty() || key.len() > 128 || key.to_ascii_lowercase().starts_with("aws:") {
                at.problem(
                    key,
                    "tag keys must be 1 to 128 characters and not start with `aws:`",
                );
            }
            if value.len() > 256 {
                at.problem(key, "tag values are at most 256 characters");
            }
        }
    }
}

#[cfg(test)]
mod tests;
