//! Per-environment configuration (`stacks/config/<env>.toml`), in the spirit of
//! Pulumi's stack config: one plain file per environment, so adding an
//! environment is adding a file. Files are read with serde (unknown keys are
//! rejected) and then checked as a whole; every problem is reported with the
//! file, the field path (`node_groups[0].min_size`) and what is wrong, before
//! any Terraform is written.
//!
//! Differences between environments live here, including the rules an
//! environment must obey (`[policy]`): the stacks never branch on the
//! environment's name.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::cidr::Ipv4Cidr;

/// The oldest and newest Kubernetes minor versions EKS offers standard or
/// extended support for with hashicorp/aws 5.100.
pub const KUBERNETES_MINOR_VERSIONS: std::ops::RangeInclusive<u32> = 28..=33;

/// Retention periods CloudWatch Logs accepts (`retention_in_days`).
pub const LOG_RETENTION_DAYS: &[u32] = &[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

/// Whether `name` follows S3's bucket naming rules (3 to 63 lowercase
/// letters, digits, `-` and `.`, starting and ending alphanumeric).
pub fn is_s3_bucket_name(name: &str) -> bool {
    (3..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-.".contains(&b))
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// Tags the stacks set themselves on every resource; config may not override them.
pub const RESERVED_TAGS: &[&str] = &["Project", "Environment", "ManagedBy"];

/// Subnet sizes used when the config gives neither explicit subnets nor a prefix.
const DEFAULT_PRIVATE_SUBNET_PREFIX: u8 = 20;
const DEFAULT_PUBLIC_SUBNET_PREFIX: u8 = 24;

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
    pub policy: PolicyConfig,
    /// The service's release (the app stack).
    pub app: crate::app::AppConfig,
    /// Extra tags on every taggable resource, besides the reserved ones.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkConfig {
    pub vpc_cidr: Ipv4Cidr,
    /// Availability zones by name (`eu-west-1a`): explicit rather than looked
    /// up at plan time, so the subnet layout is known and checked at synth time
    /// and does not move when AWS adds a zone.
    pub azs: Vec<String>,
    /// Explicit private subnets, one per AZ in `azs` order (terraform-aws-modules/vpc style).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_subnets: Option<Vec<Ipv4Cidr>>,
    /// Explicit public subnets, one per AZ in `azs` order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_subnets: Option<Vec<Ipv4Cidr>>,
    /// Prefix length of computed private subnets (default /20), carved from the start of the VPC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_subnet_prefix: Option<u8>,
    /// Prefix length of computed public subnets (default /24), carved from the end of the VPC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_subnet_prefix: Option<u8>,
    pub nat_gateway: NatGatewayMode,
}

/// How private subnets reach the internet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NatGatewayMode {
    /// A NAT gateway in every AZ: an AZ outage does not cut the others off,
    /// and no cross-AZ data charges.
    OnePerAz,
    /// One NAT gateway for all AZs: cheaper, for environments that can lose egress.
    Single,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// `1.NN`, as EKS spells it.
    pub kubernetes_version: String,
    /// Whether the API server is reachable from the internet (always from the VPC).
    pub endpoint_public_access: bool,
    /// Who may reach the public API endpoint.
    #[serde(default)]
    pub endpoint_public_access_cidrs: Vec<Ipv4Cidr>,
    /// Kubernetes service network; must not overlap the VPC.
    pub service_ipv4_cidr: Ipv4Cidr,
    /// Control-plane log types sent to CloudWatch.
    pub log_types: Vec<ControlPlaneLogType>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ControlPlaneLogType {
    Api,
    Audit,
    Authenticator,
    ControllerManager,
    Scheduler,
}

impl ControlPlaneLogType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::Audit => "audit",
            Self::Authenticator => "authenticator",
            Self::ControllerManager => "controllerManager",
            Self::Scheduler => "scheduler",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeGroupConfig {
    pub name: String,
    pub instance_types: Vec<String>,
    pub capacity_type: CapacityType,
    pub min_size: u32,
    pub desired_size: u32,
    pub max_size: u32,
    /// Root volume size (encrypted gp3).
    pub disk_size_gib: u32,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CapacityType {
    OnDemand,
    Spot,
}

impl CapacityType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OnDemand => "ON_DEMAND",
            Self::Spot => "SPOT",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogsConfig {
    /// Retention of the VPC flow log and control-plane log groups.
    pub retention_days: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CiConfig {
    /// `owner/name` of the GitHub repository whose workflows may deploy.
    pub github_repository: String,
    /// The only branch whose workflows may assume the deployer role (when no
    /// GitHub environment is set; otherwise the environment's deployment
    /// branch rule in GitHub must name it).
    pub branch: String,
    /// GitHub environment of the deploy job. Its jobs' tokens carry
    /// `sub = repo:<repo>:environment:<name>` instead of the branch, so the
    /// role then trusts exactly that environment (and its protection rules).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub github_environment: Option<String>,
    /// S3 bucket of the Terraform state (`--state-bucket`); the deployer may
    /// read and write this environment's state object and lock there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_bucket: Option<String>,
    /// Whether this environment creates the account's GitHub OIDC provider
    /// (there is one per account; set false where another stack owns it).
    pub create_github_oidc_provider: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    /// Namespace the service is deployed into.
    pub namespace: String,
    /// Its Kubernetes service account, bound to its IRSA role.
    pub service_account: String,
}

/// Rules this environment must satisfy, checked on the config and again by
/// the synth-time policies on the generated resources.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// Fewest availability zones allowed (at least 2, which EKS needs).
    pub min_azs: usize,
    /// Whether private subnets must have a NAT gateway in their own AZ.
    pub require_nat_gateway_per_az: bool,
}

/// The public and private subnet of one availability zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AzSubnets {
    /// Full AZ name, `eu-west-1a`.
    pub az: String,
    /// The AZ's letter, `a`: short and stable, used in resource names.
    pub suffix: String,
    pub public: Ipv4Cidr,
    pub private: Ipv4Cidr,
}

/// A checked configuration with its subnet layout worked out.
#[derive(Debug, Clone, PartialEq)]
pub struct Environment {
    /// The environment's name: its config file's stem.
    pub name: String,
    pub config: Config,
    /// The file the config was read from.
    pub source: PathBuf,
    /// Subnets per AZ, in `network.azs` order.
    pub subnets: Vec<AzSubnets>,
}

/// One thing wrong with a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Field path, e.g. `node_groups[0].min_size`.
    pub field: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {message}", path.display())]
    Parse { path: PathBuf, message: String },
    #[error("{}: invalid configuration:\n{}", path.display(), list(problems))]
    Invalid {
        path: PathBuf,
        problems: Vec<Problem>,
    },
    #[error("unknown environment `{name}`; known environments (in {}): {}", dir.display(), known_list(known))]
    UnknownEnvironment {
        name: String,
        dir: PathBuf,
        known: Vec<String>,
    },
}

fn list(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("  - {p}"))
        .collect::<Vec<_>>()
        .join("\n")
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
    let read_err = |source| ConfigError::Read {
        path: config_dir.to_path_buf(),
        source,
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

/// Reads and checks `<config_dir>/<name>.toml`.
pub fn load_environment(config_dir: &Path, name: &str) -> Result<Environment, ConfigError> {
    let known = known_environments(config_dir)?;
    if !known.iter().any(|k| k == name) {
        return Err(ConfigError::UnknownEnvironment {
            name: name.to_owned(),
            dir: config_dir.to_path_buf(),
            known,
        });
    }
    let path = config_dir.join(format!("{name}.toml"));
    let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
        path: path.clone(),
        source,
    })?;
    parse_environment(name, &path, &text)
}

/// Parses and checks one environment's config text; `path` is only used in messages.
pub fn parse_environment(name: &str, path: &Path, text: &str) -> Result<Environment, ConfigError> {
    let config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
        path: path.to_path_buf(),
        message: e.to_string().trim_end().to_owned(),
    })?;
    let mut checker = Checker::default();
    checker.config(name, &config);
    let subnets = checker.subnets(&config.region, &config.network);
    if checker.problems.is_empty() {
        Ok(Environment {
            name: name.to_owned(),
            config,
            source: path.to_path_buf(),
            subnets,
        })
    } else {
        Err(ConfigError::Invalid {
            path: path.to_path_buf(),
            problems: checker.problems,
        })
    }
}

#[derive(Default)]
struct Checker {
    problems: Vec<Problem>,
}

impl Checker {
    fn problem(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem {
            field: field.into(),
            message: message.into(),
        });
    }

    fn config(&mut self, env_name: &str, c: &Config) {
        if !is_dns_label(env_name, 32) {
            self.problem(
                "(file name)",
                format!("environment name `{env_name}` must be lowercase letters, digits and `-`"),
            );
        }
        self.name("project", &c.project, 20);
        // Longest derived name is `<prefix>-load-balancer-controller` (IAM role names max 64).
        self.name("name_prefix", &c.name_prefix, 32);
        self.region(&c.region);
        self.cluster(&c.cluster, &c.network.vpc_cidr);
        self.node_groups(&c.node_groups);
        if !LOG_RETENTION_DAYS.contains(&c.logs.retention_days) {
            self.problem(
                "logs.retention_days",
                format!(
                    "{} is not a retention CloudWatch Logs accepts; use one of {LOG_RETENTION_DAYS:?}",
                    c.logs.retention_days
                ),
            );
        }
        self.ci(&c.ci);
        self.name("service.namespace", &c.service.namespace, 63);
        self.name("service.service_account", &c.service.service_account, 63);
        self.policy_rules(c);
        self.tags(&c.tags);
        self.problems.extend(c.app.problems(&c.region));
    }

    fn name(&mut self, field: &str, value: &str, max_len: usize) {
        if !is_dns_label(value, max_len) {
            self.problem(
                field,
                format!(
                    "`{value}` must be 1 to {max_len} lowercase letters, digits and `-`, \
                     starting with a letter and not ending with `-`"
                ),
            );
        }
    }

    fn region(&mut self, region: &str) {
        // e.g. eu-west-1, us-gov-east-1, ap-southeast-2
        let parts: Vec<&str> = region.split('-').collect();
        let well_formed = parts.len() >= 3
            && parts[0].len() == 2
            && parts[..parts.len() - 1]
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
            && parts[parts.len() - 1].parse::<u8>().is_ok();
        if !well_formed {
            self.problem(
                "region",
                format!("`{region}` is not an AWS region name like eu-west-1"),
            );
        }
    }

    fn cluster(&mut self, cluster: &ClusterConfig, vpc: &Ipv4Cidr) {
        if let Err(message) = parse_kubernetes_version(&cluster.kubernetes_version) {
            self.problem("cluster.kubernetes_version", message);
        }
        if cluster.endpoint_public_access && cluster.endpoint_public_access_cidrs.is_empty() {
            self.problem(
                "cluster.endpoint_public_access_cidrs",
                "is empty while endpoint_public_access is true; list the networks allowed \
                 to reach the API, or turn public access off",
            );
        }
        if !cluster.endpoint_public_access && !cluster.endpoint_public_access_cidrs.is_empty() {
            self.problem(
                "cluster.endpoint_public_access_cidrs",
                "is set while endpoint_public_access is false; it would have no effect",
            );
        }
        for (i, cidr) in cluster.endpoint_public_access_cidrs.iter().enumerate() {
            let field = format!("cluster.endpoint_public_access_cidrs[{i}]");
            if cidr.prefix() == 0 {
                self.problem(
                    &field,
                    "0.0.0.0/0 opens the Kubernetes API to the whole internet; list the networks that need it",
                );
            }
            for (j, earlier) in cluster.endpoint_public_access_cidrs[..i].iter().enumerate() {
                if cidr.overlaps(earlier) {
                    self.problem(
                        &field,
                        format!("{cidr} overlaps endpoint_public_access_cidrs[{j}] ({earlier})"),
                    );
                }
            }
        }
        let service = cluster.service_ipv4_cidr;
        if !service.is_rfc1918() || !(12..=24).contains(&service.prefix()) {
            self.problem(
                "cluster.service_ipv4_cidr",
                format!("{service} must be a /12 to /24 block inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16 (EKS rule)"),
            );
        }
        if service.overlaps(vpc) {
            self.problem(
                "cluster.service_ipv4_cidr",
                format!(
                    "{service} overlaps network.vpc_cidr ({vpc}); pods could not reach the VPC"
                ),
            );
        }
        if cluster.log_types.is_empty() {
            self.problem(
                "cluster.log_types",
                "is empty; at least api, audit and authenticator logs are expected",
            );
        }
        let unique: BTreeSet<_> = cluster.log_types.iter().collect();
        if unique.len() != cluster.log_types.len() {
            self.problem("cluster.log_types", "lists a log type twice");
        }
    }

    fn node_groups(&mut self, groups: &[NodeGroupConfig]) {
        if groups.is_empty() {
            self.problem(
                "node_groups",
                "at least one node group is needed to run pods",
            );
        }
        let mut seen = BTreeSet::new();
        for (i, group) in groups.iter().enumerate() {
            let at = |field: &str| format!("node_groups[{i}].{field}");
            self.name(&at("name"), &group.name, 32);
            if !seen.insert(group.name.as_str()) {
                self.problem(
                    at("name"),
                    format!("`{}` is used by an earlier node group", group.name),
                );
            }
            if group.instance_types.is_empty() {
                self.problem(at("instance_types"), "is empty");
            }
            for (k, instance_type) in group.instance_types.iter().enumerate() {
                let well_formed = instance_type.split_once('.').is_some_and(|(family, size)| {
                    !family.is_empty()
                        && !size.is_empty()
                        && family
                            .bytes()
                            .chain(size.bytes())
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                });
                if !well_formed {
                    self.problem(
                        format!("node_groups[{i}].instance_types[{k}]"),
                        format!("`{instance_type}` is not an EC2 instance type like t3.large"),
                    );
                }
            }
            if group.max_size == 0 {
                self.problem(at("max_size"), "must be at least 1");
            }
            if group.min_size > group.desired_size {
                self.problem(
                    at("min_size"),
                    format!(
                        "{} is greater than desired_size ({})",
                        group.min_size, group.desired_size
                    ),
                );
            }
            if group.desired_size > group.max_size {
                self.problem(
                    at("desired_size"),
                    format!(
                        "{} is greater than max_size ({})",
                        group.desired_size, group.max_size
                    ),
                );
            }
            if !(20..=16384).contains(&group.disk_size_gib) {
                self.problem(
                    at("disk_size_gib"),
                    format!(
                        "{} is outside 20..=16384 GiB (EKS AMIs need 20 GiB)",
                        group.disk_size_gib
                    ),
                );
            }
        }
    }

    fn ci(&mut self, ci: &CiConfig) {
        let repo_ok = ci
            .github_repository
            .split_once('/')
            .is_some_and(|(owner, name)| {
                let part_ok = |s: &str| {
                    !s.is_empty()
                        && s.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
                };
                part_ok(owner) && part_ok(name)
            });
        if !repo_ok {
            self.problem(
                "ci.github_repository",
                format!(
                    "`{}` is not a GitHub repository like owner/name",
                    ci.github_repository
                ),
            );
        }
        if let Some(environment) = &ci.github_environment {
            let ok = !environment.is_empty()
                && environment.len() <= 255
                && environment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
            if !ok {
                self.problem(
                    "ci.github_environment",
                    format!("`{environment}` must be one GitHub environment name (letters, digits, `-`, `_`, `.`)"),
                );
            }
        }
        if let Some(bucket) = &ci.state_bucket {
            if !is_s3_bucket_name(bucket) {
                self.problem(
                    "ci.state_bucket",
                    format!("`{bucket}` is not an S3 bucket name (3 to 63 lowercase letters, digits, `-`, `.`)"),
                );
            }
        }
        // A wildcard or space would widen the OIDC trust beyond one branch.
        if ci.branch.is_empty() || ci.branch.contains(['*', '?', ' ', ':']) {
            self.problem(
                "ci.branch",
                format!("`{}` must be one branch name, without wildcards", ci.branch),
            );
        }
    }

    fn policy_rules(&mut self, c: &Config) {
        if c.policy.min_azs < 2 {
            self.problem(
                "policy.min_azs",
                format!(
                    "{} is below 2; EKS needs subnets in at least two AZs",
                    c.policy.min_azs
                ),
            );
        }
        let needed = c.policy.min_azs.max(2);
        if c.network.azs.len() < needed {
            self.problem(
                "network.azs",
                format!(
                    "lists {} AZs; this environment needs at least {needed} (policy.min_azs = {})",
                    c.network.azs.len(),
                    c.policy.min_azs
                ),
            );
        }
        if c.policy.require_nat_gateway_per_az && c.network.nat_gateway != NatGatewayMode::OnePerAz
        {
            self.problem(
                "network.nat_gateway",
                "is `single` but policy.require_nat_gateway_per_az is true; use `one_per_az`",
            );
        }
    }

    fn tags(&mut self, tags: &BTreeMap<String, String>) {
        for (key, value) in tags {
            let field = format!("tags.{key}");
            if RESERVED_TAGS.contains(&key.as_str()) {
                self.problem(
                    &field,
                    "is set by the stacks themselves and cannot be overridden",
                );
            }
            if key.is_empty() || key.len() > 128 || key.to_ascii_lowercase().starts_with("aws:") {
                self.problem(
                    &field,
                    "tag keys must be 1 to 128 characters and not start with `aws:`",
                );
            }
            if value.len() > 256 {
                self.problem(&field, "tag values are at most 256 characters");
            }
        }
    }

    /// Checks the AZs and works out (or checks) the subnets of each.
    fn subnets(&mut self, region: &str, network: &NetworkConfig) -> Vec<AzSubnets> {
        let vpc = network.vpc_cidr;
        if !(16..=28).contains(&vpc.prefix()) {
            self.problem(
                "network.vpc_cidr",
                format!("{vpc}: a VPC block must be between /16 and /28"),
            );
            return Vec::new();
        }
        let azs = self.azs(region, network);
        let private = self.subnet_list(
            SubnetTier {
                kind: "private",
                explicit: network.private_subnets.as_deref(),
                prefix: network.private_subnet_prefix,
                default_prefix: DEFAULT_PRIVATE_SUBNET_PREFIX,
                from_end: false,
            },
            &vpc,
            azs.len(),
        );
        let public = self.subnet_list(
            SubnetTier {
                kind: "public",
                explicit: network.public_subnets.as_deref(),
                prefix: network.public_subnet_prefix,
                default_prefix: DEFAULT_PUBLIC_SUBNET_PREFIX,
                from_end: true,
            },
            &vpc,
            azs.len(),
        );
        let (Some(private), Some(public)) = (private, public) else {
            return Vec::new();
        };
        let all: Vec<(String, Ipv4Cidr)> = private
            .iter()
            .enumerate()
            .map(|(i, c)| (format!("private_subnets[{i}]"), *c))
            .chain(
                public
                    .iter()
                    .enumerate()
                    .map(|(i, c)| (format!("public_subnets[{i}]"), *c)),
            )
            .collect();
        let mut clean = true;
        for (i, (name, cidr)) in all.iter().enumerate() {
            for (other, other_cidr) in &all[..i] {
                if cidr.overlaps(other_cidr) {
                    clean = false;
                    self.problem(
                        format!("network.{name}"),
                        format!("{cidr} overlaps network.{other} ({other_cidr})"),
                    );
                }
            }
        }
        if !clean {
            return Vec::new();
        }
        azs.into_iter()
            .zip(private.into_iter().zip(public))
            .map(|((az, suffix), (private, public))| AzSubnets {
                az,
                suffix,
                public,
                private,
            })
            .collect()
    }

    fn azs(&mut self, region: &str, network: &NetworkConfig) -> Vec<(String, String)> {
        let mut result = Vec::new();
        let mut seen = BTreeSet::new();
        for (i, az) in network.azs.iter().enumerate() {
            let field = format!("network.azs[{i}]");
            let letter = az
                .strip_prefix(region)
                .filter(|rest| rest.len() == 1 && rest.bytes().all(|b| b.is_ascii_lowercase()));
            match letter {
                Some(letter) => {
                    if !seen.insert(az.as_str()) {
                        self.problem(&field, format!("`{az}` is listed twice"));
                    }
                    result.push((az.clone(), letter.to_owned()));
                }
                None => self.problem(
                    &field,
                    format!(
                        "`{az}` is not an availability zone of region {region} (like {region}a)"
                    ),
                ),
            }
        }
        result
    }

    fn subnet_list(
        &mut self,
        tier: SubnetTier<'_>,
        vpc: &Ipv4Cidr,
        count: usize,
    ) -> Option<Vec<Ipv4Cidr>> {
        let SubnetTier {
            kind,
            explicit,
            prefix,
            default_prefix,
            from_end,
        } = tier;
        let list_field = format!("network.{kind}_subnets");
        let prefix_field = format!("network.{kind}_subnet_prefix");
        if let Some(list) = explicit {
            if prefix.is_some() {
                self.problem(
                    &prefix_field,
                    format!("set either {kind}_subnets or {kind}_subnet_prefix, not both"),
                );
                return None;
            }
            if list.len() != count {
                self.problem(
                    &list_field,
                    format!(
                        "has {} subnets for {count} AZs; give one per entry of network.azs",
                        list.len()
                    ),
                );
                return None;
            }
            let mut ok = true;
            for (i, subnet) in list.iter().enumerate() {
                if !vpc.contains(subnet) {
                    ok = false;
                    self.problem(
                        format!("{list_field}[{i}]"),
                        format!("{subnet} does not fit in network.vpc_cidr ({vpc})"),
                    );
                } else if subnet.prefix() > 28 {
                    ok = false;
                    self.problem(
                        format!("{list_field}[{i}]"),
                        format!("{subnet}: AWS subnets are at most /28"),
                    );
                }
            }
            return ok.then(|| list.to_vec());
        }
        let prefix = prefix.unwrap_or(default_prefix);
        if prefix < vpc.prefix() || prefix > 28 {
            self.problem(
                &prefix_field,
                format!(
                    "/{prefix} must be between the VPC's /{} and /28",
                    vpc.prefix()
                ),
            );
            return None;
        }
        let available = vpc.subnet_count(prefix);
        if (count as u64) > available {
            self.problem(
                &prefix_field,
                format!("{count} {kind} /{prefix} subnets do not fit in network.vpc_cidr ({vpc}), which holds {available}"),
            );
            return None;
        }
        // Private subnets are counted from the start of the VPC and public ones
        // from its end, so adding an AZ later never moves an existing subnet.
        let subnets = (0..count as u64)
            .filter_map(|i| vpc.subnet(prefix, if from_end { available - 1 - i } else { i }))
            .collect();
        Some(subnets)
    }
}

/// How one tier of subnets (public or private) is given in the config.
struct SubnetTier<'a> {
    kind: &'static str,
    explicit: Option<&'a [Ipv4Cidr]>,
    prefix: Option<u8>,
    default_prefix: u8,
    /// Computed blocks are counted from the end of the VPC rather than the start.
    from_end: bool,
}

fn is_dns_label(value: &str, max_len: usize) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= max_len
        && bytes[0].is_ascii_lowercase()
        && bytes[bytes.len() - 1] != b'-'
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
}

/// The minor version of a `1.NN` Kubernetes version, if EKS supports it.
pub fn parse_kubernetes_version(version: &str) -> Result<u32, String> {
    let minor = version
        .strip_prefix("1.")
        .filter(|m| !m.is_empty() && m.bytes().all(|b| b.is_ascii_digit()) && !m.starts_with('0'))
        .and_then(|m| m.parse::<u32>().ok())
        .ok_or_else(|| format!("`{version}` is not a Kubernetes minor version like \"1.32\""))?;
    if KUBERNETES_MINOR_VERSIONS.contains(&minor) {
        Ok(minor)
    } else {
        Err(format!(
            "`{version}` is not offered by EKS; use 1.{} to 1.{}",
            KUBERNETES_MINOR_VERSIONS.start(),
            KUBERNETES_MINOR_VERSIONS.end()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAGING: &str = include_str!("../config/staging.toml");
    const PRODUCTION: &str = include_str!("../config/production.toml");

    fn load(name: &str, text: &str) -> Result<Environment, ConfigError> {
        parse_environment(name, Path::new(&format!("stacks/config/{name}.toml")), text)
    }

    /// The error for `text` with `from` replaced by `to` (which must occur in it).
    fn error_after(name: &str, text: &str, from: &str, to: &str) -> String {
        assert!(text.contains(from), "`{from}` is not in {name}.toml");
        match load(name, &text.replacen(from, to, 1)) {
            Ok(_) => panic!("{name}.toml with `{to}` was accepted"),
            Err(e) => e.to_string(),
        }
    }

    fn assert_error(error: &str, expected: &[&str]) {
        for part in expected {
            assert!(
                error.contains(part),
                "error does not mention `{part}`:\n{error}"
            );
        }
    }

    fn cidrs(list: &[&str]) -> Vec<Ipv4Cidr> {
        list.iter().map(|s| s.parse().expect("test CIDR")).collect()
    }

    #[test]
    fn shipped_environments_load_with_their_subnet_layout() {
        let staging = load("staging", STAGING).expect("staging.toml is valid");
        let layout: Vec<_> = staging
            .subnets
            .iter()
            .map(|s| (s.az.as_str(), s.suffix.as_str(), s.private, s.public))
            .collect();
        let [p0, p1, q0, q1] = [
            "10.10.0.0/20",
            "10.10.16.0/20",
            "10.10.255.0/24",
            "10.10.254.0/24",
        ]
        .map(|s| s.parse::<Ipv4Cidr>().expect("test CIDR"));
        assert_eq!(
            layout,
            vec![("eu-west-1a", "a", p0, q0), ("eu-west-1b", "b", p1, q1)]
        );

        let production = load("production", PRODUCTION).expect("production.toml is valid");
        assert_eq!(production.subnets.len(), 3);
        assert_eq!(production.subnets[2].private, cidrs(&["10.20.32.0/20"])[0]);
        assert_eq!(
            production.config.network.nat_gateway,
            NatGatewayMode::OnePerAz
        );
    }

    #[test]
    fn explicit_subnets_are_used_as_given() {
        let text = STAGING.replacen(
            "nat_gateway = \"single\"",
            "nat_gateway = \"single\"\nprivate_subnets = [\"10.10.64.0/19\", \"10.10.96.0/19\"]\npublic_subnets = [\"10.10.0.0/24\", \"10.10.1.0/24\"]",
            1,
        );
        let env = load("staging", &text).expect("explicit subnets are valid");
        assert_eq!(
            env.subnets.iter().map(|s| s.private).collect::<Vec<_>>(),
            cidrs(&["10.10.64.0/19", "10.10.96.0/19"])
        );
        assert_eq!(env.subnets[1].public, cidrs(&["10.10.1.0/24"])[0]);
    }

    #[test]
    fn unknown_keys_are_rejected_with_their_name() {
        let e = error_after(
            "staging",
            STAGING,
            "nat_gateway = \"single\"",
            "nat_gateway = \"single\"\nnat_gateways = 2",
        );
        assert_error(
            &e,
            &[
                "stacks/config/staging.toml",
                "TOML parse error at line 15",
                "unknown field `nat_gateways`, expected one of `vpc_cidr`",
            ],
        );
    }

    #[test]
    fn invalid_cidrs_name_the_field() {
        let e = error_after("staging", STAGING, "\"10.10.0.0/16\"", "\"10.10.0.0/33\"");
        assert_error(
            &e,
            &[
                "stacks/config/staging.toml",
                "vpc_cidr",
                "prefix length must be a number from 0 to 32",
            ],
        );
        let e = error_after("staging", STAGING, "\"10.10.0.0/16\"", "\"10.10.1.0/16\"");
        assert_error(
            &e,
            &["vpc_cidr", "has host bits set; the network is 10.10.0.0/16"],
        );
        let e = error_after(
            "staging",
            STAGING,
            "[\"203.0.113.0/24\"]",
            "[\"203.0.113/24\"]",
        );
        assert_error(
            &e,
            &[
                "endpoint_public_access_cidrs",
                "`203.0.113` is not an IPv4 address",
            ],
        );
        let e = error_after(
            "staging",
            STAGING,
            "[\"203.0.113.0/24\"]",
            "[\"0.0.0.0/0\"]",
        );
        assert_error(
            &e,
            &["cluster.endpoint_public_access_cidrs[0]: 0.0.0.0/0 opens the Kubernetes API"],
        );
        let e = error_after(
            "staging",
            STAGING,
            "vpc_cidr = \"10.10.0.0/16\"",
            "vpc_cidr = \"10.0.0.0/8\"",
        );
        assert_error(
            &e,
            &["network.vpc_cidr: 10.0.0.0/8: a VPC block must be between /16 and /28"],
        );
    }

    #[test]
    fn overlapping_cidrs_are_rejected() {
        let e = error_after(
            "staging",
            STAGING,
            "service_ipv4_cidr = \"172.20.0.0/16\"",
            "service_ipv4_cidr = \"10.10.0.0/20\"",
        );
        assert_error(
            &e,
            &["cluster.service_ipv4_cidr: 10.10.0.0/20 overlaps network.vpc_cidr (10.10.0.0/16)"],
        );
        let e = error_after(
            "staging",
            STAGING,
            "nat_gateway = \"single\"",
            "nat_gateway = \"single\"\nprivate_subnets = [\"10.10.0.0/20\", \"10.10.16.0/20\"]\npublic_subnets = [\"10.10.32.0/24\", \"10.10.15.0/24\"]",
        );
        assert_error(&e, &["network.public_subnets[1]: 10.10.15.0/24 overlaps network.private_subnets[0] (10.10.0.0/20)"]);
        let e = error_after(
            "staging",
            STAGING,
            "[\"203.0.113.0/24\"]",
            "[\"203.0.113.0/24\", \"203.0.113.128/25\"]",
        );
        assert_error(&e, &["cluster.endpoint_public_access_cidrs[1]: 203.0.113.128/25 overlaps endpoint_public_access_cidrs[0]"]);
    }

    #[test]
    fn subnets_that_do_not_fit_the_vpc_are_rejected() {
        let e = error_after(
            "production",
            PRODUCTION,
            "nat_gateway = \"one_per_az\"",
            "nat_gateway = \"one_per_az\"\nprivate_subnet_prefix = 17",
        );
        assert_error(&e, &[
            "stacks/config/production.toml",
            "network.private_subnet_prefix: 3 private /17 subnets do not fit in network.vpc_cidr (10.20.0.0/16), which holds 2",
        ]);
        let e = error_after(
            "staging",
            STAGING,
            "nat_gateway = \"single\"",
            "nat_gateway = \"single\"\nprivate_subnets = [\"10.10.0.0/20\", \"10.11.0.0/20\"]",
        );
        assert_error(&e, &["network.private_subnets[1]: 10.11.0.0/20 does not fit in network.vpc_cidr (10.10.0.0/16)"]);
        let e = error_after(
            "staging",
            STAGING,
            "nat_gateway = \"single\"",
            "nat_gateway = \"single\"\nprivate_subnets = [\"10.10.0.0/20\"]",
        );
        assert_error(&e, &["network.private_subnets: has 1 subnets for 2 AZs"]);
    }

    #[test]
    fn too_few_azs_are_rejected_per_the_environments_policy() {
        let e = error_after(
            "staging",
            STAGING,
            "azs = [\"eu-west-1a\", \"eu-west-1b\"]",
            "azs = [\"eu-west-1a\"]",
        );
        assert_error(
            &e,
            &["network.azs: lists 1 AZs; this environment needs at least 2"],
        );
        let e = error_after(
            "production",
            PRODUCTION,
            "azs = [\"eu-west-1a\", \"eu-west-1b\", \"eu-west-1c\"]",
            "azs = [\"eu-west-1a\", \"eu-west-1b\"]",
        );
        assert_error(
            &e,
            &[
                "stacks/config/production.toml",
                "network.azs: lists 2 AZs; this environment needs at least 3 (policy.min_azs = 3)",
            ],
        );
        let e = error_after("staging", STAGING, "min_azs = 2", "min_azs = 1");
        assert_error(&e, &["policy.min_azs: 1 is below 2"]);
        let e = error_after("staging", STAGING, "\"eu-west-1b\"]", "\"us-east-1b\"]");
        assert_error(
            &e,
            &["network.azs[1]: `us-east-1b` is not an availability zone of region eu-west-1"],
        );
        let e = error_after("staging", STAGING, "\"eu-west-1b\"]", "\"eu-west-1a\"]");
        assert_error(&e, &["network.azs[1]: `eu-west-1a` is listed twice"]);
    }

    #[test]
    fn nat_mode_must_meet_the_policy() {
        let e = error_after(
            "production",
            PRODUCTION,
            "nat_gateway = \"one_per_az\"",
            "nat_gateway = \"single\"",
        );
        assert_error(
            &e,
            &["network.nat_gateway: is `single` but policy.require_nat_gateway_per_az is true"],
        );
    }

    #[test]
    fn node_group_size_inversions_are_rejected() {
        let e = error_after("staging", STAGING, "min_size = 1", "min_size = 3");
        assert_error(
            &e,
            &["node_groups[0].min_size: 3 is greater than desired_size (2)"],
        );
        let e = error_after("staging", STAGING, "desired_size = 2", "desired_size = 4");
        assert_error(
            &e,
            &["node_groups[0].desired_size: 4 is greater than max_size (3)"],
        );
        let e = error_after("staging", STAGING, "max_size = 3", "max_size = 0");
        assert_error(&e, &["node_groups[0].max_size: must be at least 1"]);
        let e = error_after(
            "staging",
            STAGING,
            "disk_size_gib = 30",
            "disk_size_gib = 8",
        );
        assert_error(
            &e,
            &["node_groups[0].disk_size_gib: 8 is outside 20..=16384 GiB"],
        );
        let e = error_after(
            "staging",
            STAGING,
            "[\"t3.medium\", \"t3a.medium\"]",
            "[\"t3medium\"]",
        );
        assert_error(
            &e,
            &["node_groups[0].instance_types[0]: `t3medium` is not an EC2 instance type"],
        );
        let e = error_after(
            "staging",
            STAGING,
            "capacity_type = \"SPOT\"",
            "capacity_type = \"spot\"",
        );
        assert_error(&e, &["capacity_type", "unknown variant `spot`"]);
    }

    #[test]
    fn bad_kubernetes_versions_are_rejected() {
        for (bad, message) in [
            (
                "v1.32",
                "`v1.32` is not a Kubernetes minor version like \"1.32\"",
            ),
            ("1.32.1", "`1.32.1` is not a Kubernetes minor version"),
            ("1.032", "`1.032` is not a Kubernetes minor version"),
            ("1.", "`1.` is not a Kubernetes minor version"),
            ("1.99", "`1.99` is not offered by EKS; use 1.28 to 1.33"),
        ] {
            let e = error_after(
                "staging",
                STAGING,
                "kubernetes_version = \"1.32\"",
                &format!("kubernetes_version = \"{bad}\""),
            );
            assert_error(
                &e,
                &[
                    "stacks/config/staging.toml",
                    &format!("cluster.kubernetes_version: {message}"),
                ],
            );
        }
    }

    #[test]
    fn other_bad_inputs_name_field_and_problem() {
        let e = error_after(
            "staging",
            STAGING,
            "retention_days = 365",
            "retention_days = 10",
        );
        assert_error(
            &e,
            &["logs.retention_days: 10 is not a retention CloudWatch Logs accepts"],
        );
        let e = error_after(
            "staging",
            STAGING,
            "CostCenter = ",
            "Environment = \"x\"\nCostCenter = ",
        );
        assert_error(&e, &["tags.Environment: is set by the stacks themselves"]);
        let e = error_after(
            "staging",
            STAGING,
            "name_prefix = \"webapp-staging\"",
            "name_prefix = \"Webapp_Staging\"",
        );
        assert_error(
            &e,
            &["name_prefix: `Webapp_Staging` must be 1 to 32 lowercase letters"],
        );
        let e = error_after("staging", STAGING, "branch = \"main\"", "branch = \"*\"");
        assert_error(
            &e,
            &["ci.branch: `*` must be one branch name, without wildcards"],
        );
        let e = error_after(
            "staging",
            STAGING,
            "github_environment = \"staging\"",
            "github_environment = \"staging:*\"",
        );
        assert_error(
            &e,
            &["ci.github_environment: `staging:*` must be one GitHub environment name"],
        );
        let e = error_after(
            "staging",
            STAGING,
            "state_bucket = \"example-org-webapp-tfstate\"",
            "state_bucket = \"Example_Bucket\"",
        );
        assert_error(
            &e,
            &["ci.state_bucket: `Example_Bucket` is not an S3 bucket name"],
        );
        let e = error_after(
            "staging",
            STAGING,
            "region = \"eu-west-1\"",
            "region = \"europe\"",
        );
        assert_error(&e, &["region: `europe` is not an AWS region name"]);
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let text = STAGING
            .replacen("min_size = 1", "min_size = 3", 1)
            .replacen("retention_days = 365", "retention_days = 10", 1);
        let Err(ConfigError::Invalid { problems, .. }) = load("staging", &text) else {
            panic!("expected an invalid-config error");
        };
        let fields: Vec<_> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(
            fields,
            vec!["node_groups[0].min_size", "logs.retention_days"]
        );
    }

    #[test]
    fn unknown_environment_lists_the_known_ones() {
        let dir = tempfile::tempdir().expect("temp dir");
        for name in ["staging", "production"] {
            std::fs::write(dir.path().join(format!("{name}.toml")), STAGING).expect("write config");
        }
        std::fs::write(dir.path().join("README.md"), "not a config").expect("write readme");
        assert_eq!(
            known_environments(dir.path()).expect("list"),
            vec!["production", "staging"]
        );
        let e = load_environment(dir.path(), "prod")
            .expect_err("prod is not defined")
            .to_string();
        assert_error(
            &e,
            &[
                "unknown environment `prod`",
                "known environments",
                "production, staging",
            ],
        );
        let e = load_environment(dir.path(), "../staging")
            .expect_err("paths are not names")
            .to_string();
        assert_error(&e, &["unknown environment `../staging`"]);
    }
}
