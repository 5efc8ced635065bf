//! An environment's floors: the rules its config must meet, in a file of
//! their own (`stacks/policy/<env>.toml`), apart from the values they guard.
//! One edit to `production.toml` cannot lower a floor and break it at once:
//! the floors have another owner (`.github/CODEOWNERS`), and `infra diff`
//! shows a change of a floor as its own line.

use serde::{Deserialize, Serialize};

use super::check::{Problems, Scope, Section};
use super::cidr::Ipv4Cidr;
use super::gitops::GitopsPolicy;
use super::{CapacityType, Config, NatGatewayMode, NodeCapacity};

/// The floors of one environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// Fewest availability zones allowed (at least 2, which EKS needs).
    pub min_azs: usize,
    /// Whether private subnets must have a NAT gateway in their own AZ.
    pub require_nat_gateway_per_az: bool,
    /// Whether nodes may run on spot capacity (managed node groups and
    /// Karpenter's NodePools), which EC2 may reclaim at two minutes' notice.
    pub allow_spot: bool,
    /// Who may be let in to the Kubernetes API's public endpoint.
    pub public_api: PublicApiPolicy,
    /// Delivery by Argo CD, and what it requires.
    #[serde(default)]
    pub gitops: GitopsPolicy,
    /// Whether terraform must refuse to destroy the stateful resources
    /// (`state.prevent_destroy` in the environment's config).
    pub require_prevent_destroy: bool,
    /// How long metrics and logs are kept at least, and how redundant their stores are.
    pub observability: ObservabilityFloors,
}

/// Floors of `[observability]`: an environment keeps its metrics and logs at
/// least this long, on at least this many replicas.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObservabilityFloors {
    pub min_metrics_retention_days: u32,
    pub min_logs_retention_days: u32,
    /// Replicas of Prometheus, Alertmanager and Loki.
    pub min_replicas: u32,
}

/// Limits on `cluster.endpoint_public_access_cidrs`, judged by the addresses
/// they cover, not by how they are spelt: `0.0.0.0/1` plus `128.0.0.0/1`
/// opens the API as widely as `0.0.0.0/0`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicApiPolicy {
    /// The widest block allowed: every CIDR's prefix is at least this long.
    pub min_prefix: u8,
    /// How many addresses all the CIDRs together may cover, overlaps counted once.
    pub max_addresses: u64,
}

impl PolicyConfig {
    /// Problems with the floors themselves, in their own file.
    pub(crate) fn problems(&self) -> Problems {
        let mut problems = Problems::default();
        if self.min_azs < 2 {
            problems.add(
                "min_azs",
                format!(
                    "{} is below 2; EKS needs subnets in at least two AZs",
                    self.min_azs
                ),
            );
        }
        if self.public_api.min_prefix > 32 {
            problems.add(
                "public_api.min_prefix",
                format!(
                    "{} is not an IPv4 prefix length (0 to 32)",
                    self.public_api.min_prefix
                ),
            );
        }
        problems
    }
}

impl Section for PolicyConfig {
    const KEY: &'static str = "policy";
    type Checked = ();

    /// The environment's config against its floors: problems are reported at
    /// the config field that breaks a floor.
    fn check(&self, config: &Config, at: &mut Scope<'_>) {
        let needed = self.min_azs.max(2);
        let azs = config.network.azs.len();
        if azs < needed {
            at.elsewhere(
                "network.azs",
                format!(
                    "lists {azs} {}; this environment needs at least {needed} (policy min_azs = {})",
                    if azs == 1 { "AZ" } else { "AZs" },
                    self.min_azs
                ),
            );
        }
        if self.require_nat_gateway_per_az && config.network.nat_gateway != NatGatewayMode::OnePerAz
        {
            at.elsewhere(
                "network.nat_gateway",
                "is `single` but policy require_nat_gateway_per_az is true; use `one_per_az`",
            );
        }
        if !self.allow_spot {
            no_spot(config, at);
        }
        if self.require_prevent_destroy && !config.state.prevent_destroy {
            at.elsewhere(
                "state.prevent_destroy",
                "is false but policy require_prevent_destroy is true: terraform must refuse to \
                 destroy this environment's stateful resources; set it to true",
            );
        }
        let cluster = &config.cluster;
        if cluster.endpoint_public_access {
            self.public_api
                .check(&cluster.endpoint_public_access_cidrs, at);
        }
        self.gitops.check(config, at);
        self.observability.check(config, at);
    }
}

/// Every place a config may ask for spot capacity, under `allow_spot = false`.
fn no_spot(config: &Config, at: &mut Scope<'_>) {
    let refused = "this environment runs on-demand capacity only (policy allow_spot = false)";
    for (i, group) in config.node_groups.iter().enumerate() {
        if group.capacity_type == CapacityType::Spot {
            at.elsewhere(
                &format!("node_groups[{i}].capacity_type"),
                format!("is SPOT; {refused}"),
            );
        }
    }
    for (i, pool) in config.karpenter.node_pools.iter().enumerate() {
        if pool.capacity_types.contains(&NodeCapacity::Spot) {
            at.elsewhere(
                &format!("karpenter.node_pools[{i}].capacity_types"),
                format!("includes spot; {refused}"),
            );
        }
    }
}

impl ObservabilityFloors {
    fn check(&self, config: &Config, at: &mut Scope<'_>) {
        let o = &config.observability;
        for (field, value, floor, name) in [
            (
                "observability.metrics.retention_days",
                o.metrics.retention_days,
                self.min_metrics_retention_days,
                "min_metrics_retention_days",
            ),
            (
                "observability.logs.retention_days",
                o.logs.retention_days,
                self.min_logs_retention_days,
                "min_logs_retention_days",
            ),
            (
                "observability.metrics.replicas",
                o.metrics.replicas,
                self.min_replicas,
                "min_replicas",
            ),
            (
                "observability.logs.replicas",
                o.logs.replicas,
                self.min_replicas,
                "min_replicas",
            ),
        ] {
            if value < floor {
                at.elsewhere(
                    field,
                    format!(
                        "is {value}; this environment needs at least {floor} \
                         (policy observability.{name})"
                    ),
                );
            }
        }
    }
}

impl PublicApiPolicy {
    fn check(&self, cidrs: &[Ipv4Cidr], at: &mut Scope<'_>) {
        let field = "cluster.endpoint_public_access_cidrs";
        for (i, cidr) in cidrs.iter().enumerate() {
            // A /0 is refused by the cluster section whatever the floor says.
            if cidr.prefix() > 0 && cidr.prefix() < self.min_prefix {
                at.elsewhere(
                    &format!("{field}[{i}]"),
                    format!(
                        "{cidr} is wider than /{}, the widest block this environment lets reach \
                         the Kubernetes API (policy public_api.min_prefix)",
                        self.min_prefix
                    ),
                );
            }
        }
        let covered = Ipv4Cidr::union_size(cidrs);
        if covered > self.max_addresses {
            at.elsewhere(
                field,
                format!(
                    "together cover {covered} addresses; this environment lets at most {} reach \
                     the Kubernetes API (policy public_api.max_addresses)",
                    self.max_addresses
                ),
            );
        }
    }
}
