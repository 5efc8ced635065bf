//! An environment's floors: the rules its config must meet, in a file of
//! their own (`stacks/policy/<env>.toml`), apart from the values they guard.
//! One edit to `production.toml` cannot lower a floor and break it at once:
//! the floors have another owner (`.github/CODEOWNERS`), and `infra diff`
//! shows a change of a floor as its own line.

use serde::{Deserialize, Serialize};

use super::access::AccessLevel;
use super::app::LoadBalancerKind;
use super::check::{Problems, Scope, Section};
use super::cidr::Ipv4Cidr;
use super::gitops::GitopsPolicy;
use super::secrets::{RECOVERY_WINDOW_DAYS, ROTATION_DAYS};
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
    /// How the service may be published.
    pub edge: EdgeFloors,
    /// How long a secret may live and how long a deleted one stays restorable.
    pub secrets: SecretFloors,
    /// How far people's access to the namespaces may go.
    pub access: AccessFloors,
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EdgeFloors {
    /// Whether the service must sit behind an ALB with a WAF web ACL.
    pub require_waf: bool,
    /// Least retention of the WAF's request log.
    pub min_waf_log_retention_days: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretFloors {
    /// Longest interval between rotations of a generated secret.
    pub max_rotation_days: u32,
    /// Shortest recovery window of a deleted secret.
    pub min_recovery_window_days: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessFloors {
    /// The most a team may be granted in its namespaces.
    pub max_team_level: AccessLevel,
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
        if !ROTATION_DAYS.contains(&self.secrets.max_rotation_days) {
            problems.add(
                "secrets.max_rotation_days",
                format!(
                    "{} is outside the {} to {} days Secrets Manager rotates within",
                    self.secrets.max_rotation_days,
                    ROTATION_DAYS.start(),
                    ROTATION_DAYS.end()
                ),
            );
        }
        if !RECOVERY_WINDOW_DAYS.contains(&self.secrets.min_recovery_window_days) {
            problems.add(
                "secrets.min_recovery_window_days",
                format!(
                    "{} is outside the {} to {} days Secrets Manager accepts",
                    self.secrets.min_recovery_window_days,
                    RECOVERY_WINDOW_DAYS.start(),
                    RECOVERY_WINDOW_DAYS.end()
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
        self.edge.check(config, at);
        self.secrets.check(config, at);
        self.access.check(config, at);
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

impl EdgeFloors {
    fn check(&self, config: &Config, at: &mut Scope<'_>) {
        if !self.require_waf {
            return;
        }
        if config.app.load_balancer.kind != LoadBalancerKind::Alb {
            at.elsewhere(
                "app.load_balancer.kind",
                format!(
                    "is `{}`, but this environment must be published through an ALB with a WAF \
                     (policy edge.require_waf)",
                    config.app.load_balancer.kind.as_str()
                ),
            );
        }
        match &config.edge.waf {
            None => at.elsewhere(
                "edge.waf",
                "is missing, but this environment requires a WAF in front of the service \
                 (policy edge.require_waf)",
            ),
            Some(waf) if waf.log_retention_days < self.min_waf_log_retention_days => at.elsewhere(
                "edge.waf.log_retention_days",
                format!(
                    "{} is below the {} days this environment keeps WAF logs \
                     (policy edge.min_waf_log_retention_days)",
                    waf.log_retention_days, self.min_waf_log_retention_days
                ),
            ),
            Some(_) => {}
        }
    }
}

impl SecretFloors {
    fn check(&self, config: &Config, at: &mut Scope<'_>) {
        let secrets = &config.secrets;
        if secrets.generated().next().is_some() && secrets.rotation_days > self.max_rotation_days {
            at.elsewhere(
                "secrets.rotation_days",
                format!(
                    "{} is longer than the {} days a secret may live here (policy secrets.max_rotation_days)",
                    secrets.rotation_days, self.max_rotation_days
                ),
            );
        }
        if secrets.recovery_window_days < self.min_recovery_window_days {
            at.elsewhere(
                "secrets.recovery_window_days",
                format!(
                    "{} is shorter than the {} days a deleted secret stays restorable here \
                     (policy secrets.min_recovery_window_days)",
                    secrets.recovery_window_days, self.min_recovery_window_days
                ),
            );
        }
    }
}

impl AccessFloors {
    fn check(&self, config: &Config, at: &mut Scope<'_>) {
        for (i, team) in config.access.teams.iter().enumerate() {
            if team.level > self.max_team_level {
                at.elsewhere(
                    &format!("access.teams[{i}].level"),
                    format!(
                        "`{}` ({}) goes beyond `{}`, the most this environment grants a team \
                         (policy access.max_team_level)",
                        team.level.as_str(),
                        team.level.access_policy(),
                        self.max_team_level.as_str()
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
