//! The `[karpenter]` section: cluster autoscaling. Where the controller runs,
//! the AMI release every node Karpenter launches boots, and each NodePool's
//! instance choices, limits and disruption rules. Checked here against what
//! the Karpenter v1 CRDs accept (their patterns and CEL rules), so a bad value
//! fails at synth time naming its field rather than in the cluster.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::check::{Scope, Section};
use super::quantity::{parse_quantity, QuantityUnit};
use super::Config;

/// Controller replicas: two, each on its own node (the chart's hostname
/// anti-affinity), so losing a node never stops autoscaling.
pub const KARPENTER_CONTROLLER_REPLICAS: u32 = 2;

/// The AMI family Karpenter's nodes boot: the one the managed node groups use.
const AMI_FAMILY: &str = "al2023";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KarpenterConfig {
    /// The managed node group the controller runs on (by its name, which EKS
    /// puts on every node as `eks.amazonaws.com/nodegroup`); Karpenter never
    /// manages it, so it cannot remove the nodes it runs on.
    pub controller_node_group: String,
    /// The EKS-optimized AMI release every Karpenter node boots,
    /// `al2023@v<YYYYMMDD>` (an awslabs/amazon-eks-ami release). Pinned: a new
    /// release is a reviewed change, and Karpenter replaces drifted nodes.
    pub ami_alias: String,
    /// Root volume of every Karpenter node (encrypted gp3).
    pub disk_size_gib: u32,
    pub node_pools: Vec<NodePoolConfig>,
}

/// One NodePool: which instances Karpenter may launch for pending pods, how
/// much in all, and when it may take nodes away again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodePoolConfig {
    pub name: String,
    /// `spot` and/or `on-demand`; with both, Karpenter prefers spot.
    pub capacity_types: Vec<NodeCapacity>,
    pub architectures: Vec<Architecture>,
    /// EC2 instance categories (`c`, `m`, `r`...).
    pub instance_categories: Vec<String>,
    /// Oldest instance generation allowed (5 allows m5 and newer).
    pub min_instance_generation: u32,
    /// The most CPU and memory all nodes of the pool may have together.
    pub cpu_limit: String,
    pub memory_limit: String,
    pub consolidation_policy: ConsolidationPolicy,
    /// How long a node must be empty or underused before it is consolidated.
    pub consolidate_after: String,
    /// Nodes older than this are replaced (fresh AMI, no long-lived drift).
    pub expire_after: String,
    /// How long a node being removed may wait for its pods (PDBs included).
    pub termination_grace_period: String,
    /// How many nodes may be disrupted at once, and when (at least one).
    pub budgets: Vec<BudgetConfig>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NodeCapacity {
    Spot,
    OnDemand,
}

impl NodeCapacity {
    /// The value of the `karpenter.sh/capacity-type` label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Spot => "spot",
            Self::OnDemand => "on-demand",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Architecture {
    Amd64,
    Arm64,
}

impl Architecture {
    /// The value of the `kubernetes.io/arch` label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Amd64 => "amd64",
            Self::Arm64 => "arm64",
        }
    }
}

/// `spec.disruption.consolidationPolicy`, spelt as Karpenter spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConsolidationPolicy {
    WhenEmpty,
    WhenEmptyOrUnderutilized,
}

/// One disruption budget: at most `nodes` (a count or a percentage) at a
/// time, for the listed reasons (all when empty), during the scheduled window
/// (always when there is none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetConfig {
    pub nodes: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<DisruptionReason>,
    /// Cron schedule (UTC) the window opens at; needs `duration`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DisruptionReason {
    Underutilized,
    Empty,
    Drifted,
}

impl Section for KarpenterConfig {
    const KEY: &'static str = "karpenter";
    type Checked = ();

    fn check(&self, config: &Config, at: &mut Scope<'_>) {
        match config
            .node_groups
            .iter()
            .find(|g| g.name == self.controller_node_group)
        {
            None => at.problem(
                "controller_node_group",
                format!(
                    "`{}` is not a node group of this environment (node_groups: {})",
                    self.controller_node_group,
                    config
                        .node_groups
                        .iter()
                        .map(|g| g.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ),
            Some(group) if group.min_size < KARPENTER_CONTROLLER_REPLICAS => at.problem(
                "controller_node_group",
                format!(
                    "node group `{}` may shrink to {} node(s); the {KARPENTER_CONTROLLER_REPLICAS} \
                     controller replicas each need their own node (raise its min_size)",
                    group.name, group.min_size
                ),
            ),
            Some(_) => {}
        }
        if let Err(message) = check_ami_alias(&self.ami_alias) {
            at.problem("ami_alias", message);
        }
        if !(20..=16384).contains(&self.disk_size_gib) {
            at.problem(
                "disk_size_gib",
                format!(
                    "{} is outside 20..=16384 GiB (EKS AMIs need 20 GiB)",
                    self.disk_size_gib
                ),
            );
        }
        if self.node_pools.is_empty() {
            at.problem(
                "node_pools",
                "at least one NodePool is needed for Karpenter to launch nodes",
            );
        }
        let mut names = BTreeSet::new();
        for (i, pool) in self.node_pools.iter().enumerate() {
            let field = format!("node_pools[{i}]");
            if !names.insert(pool.name.as_str()) {
                at.problem(
                    format!("{field}.name"),
                    format!("`{}` is used by an earlier NodePool", pool.name),
                );
            }
            pool.check(&field, at);
        }
    }
}

impl NodePoolConfig {
    fn check(&self, field: &str, at: &mut Scope<'_>) {
        let at_field = |name: &str| format!("{field}.{name}");
        at.dns_label(&at_field("name"), &self.name, 63);
        for (name, empty) in [
            ("capacity_types", self.capacity_types.is_empty()),
            ("architectures", self.architectures.is_empty()),
            ("instance_categories", self.instance_categories.is_empty()),
        ] {
            if empty {
                at.problem(at_field(name), "lists nothing, so no instance could match");
            }
        }
        for (k, category) in self.instance_categories.iter().enumerate() {
            if category.is_empty() || !category.bytes().all(|b| b.is_ascii_lowercase()) {
                at.problem(
                    format!("{field}.instance_categories[{k}]"),
                    format!("`{category}` is not an instance category like c, m or r"),
                );
            }
        }
        if self.min_instance_generation == 0 {
            at.problem(at_field("min_instance_generation"), "must be at least 1");
        }
        if let Err(e) = parse_quantity(&self.cpu_limit, QuantityUnit::Cpu) {
            at.problem(at_field("cpu_limit"), e);
        }
        if let Err(e) = parse_quantity(&self.memory_limit, QuantityUnit::Bytes) {
            at.problem(at_field("memory_limit"), e);
        }
        for (name, value) in [
            ("consolidate_after", &self.consolidate_after),
            ("expire_after", &self.expire_after),
        ] {
            if value != "Never" && parse_duration(value).is_none() {
                at.problem(
                    at_field(name),
                    format!("`{value}` is not a duration like 30s, 10m or 720h, or `Never`"),
                );
            }
        }
        if parse_duration(&self.termination_grace_period).is_none() {
            at.problem(
                at_field("termination_grace_period"),
                format!(
                    "`{}` is not a duration like 30m or 24h",
                    self.termination_grace_period
                ),
            );
        }
        if self.budgets.is_empty() {
            at.problem(
                at_field("budgets"),
                "needs at least one budget; without one Karpenter may disrupt 10% of the nodes at \
                 any time, which the config should say",
            );
        }
        for (k, budget) in self.budgets.iter().enumerate() {
            budget.check(&format!("{field}.budgets[{k}]"), at);
        }
    }
}

impl BudgetConfig {
    fn check(&self, field: &str, at: &mut Scope<'_>) {
        if !is_budget_nodes(&self.nodes) {
            at.problem(
                format!("{field}.nodes"),
                format!(
                    "`{}` is not a node count (`2`) or a percentage (`10%`)",
                    self.nodes
                ),
            );
        }
        match (&self.schedule, &self.duration) {
            (Some(schedule), Some(duration)) => {
                if !is_schedule(schedule) {
                    at.problem(
                        format!("{field}.schedule"),
                        format!(
                            "`{schedule}` is not a cron schedule of five fields or a macro like @daily"
                        ),
                    );
                }
                if !is_budget_duration(duration) {
                    at.problem(
                        format!("{field}.duration"),
                        format!(
                            "`{duration}` is not a duration in hours and minutes like 8h or 1h30m"
                        ),
                    );
                }
            }
            (None, None) => {}
            (Some(_), None) => at.problem(
                format!("{field}.duration"),
                "is missing: a scheduled budget needs how long its window lasts",
            ),
            (None, Some(_)) => at.problem(
                format!("{field}.schedule"),
                "is missing: a budget with a duration needs the schedule it starts at",
            ),
        }
    }
}

/// `al2023@vYYYYMMDD`: the family the node groups use, at one release.
fn check_ami_alias(alias: &str) -> Result<(), String> {
    let Some((family, version)) = alias.split_once('@') else {
        return Err(format!(
            "`{alias}` is not an AMI alias like {AMI_FAMILY}@v20260714"
        ));
    };
    if family != AMI_FAMILY {
        return Err(format!(
            "family `{family}` is not {AMI_FAMILY}, the one the managed node groups boot"
        ));
    }
    if version == "latest" {
        return Err(format!(
            "`{alias}` follows every new AMI release unreviewed; pin one, like {AMI_FAMILY}@v20260714"
        ));
    }
    let date = version.strip_prefix('v').unwrap_or_default();
    let valid_date = date.len() == 8
        && date.bytes().all(|b| b.is_ascii_digit())
        && (1..=12).contains(&date[4..6].parse::<u32>().unwrap_or(0))
        && (1..=31).contains(&date[6..8].parse::<u32>().unwrap_or(0));
    if !valid_date {
        return Err(format!(
            "version `{version}` is not an EKS AMI release like v20260714 (v + YYYYMMDD)"
        ));
    }
    Ok(())
}

/// A Go-style duration of whole units, `90s`, `10m`, `1h30m`, as the
/// NodePool CRD accepts it; in seconds.
pub fn parse_duration(text: &str) -> Option<u64> {
    let mut total: u64 = 0;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            _ => return None,
        };
        total = total.checked_add(number.parse::<u64>().ok()?.checked_mul(unit)?)?;
        number.clear();
    }
    (number.is_empty() && !text.is_empty()).then_some(total)
}

/// The CRD's `^((([0-9]+(h|m))|([0-9]+h[0-9]+m))(0s)?)$`.
fn is_budget_duration(text: &str) -> bool {
    let text = text.strip_suffix("0s").unwrap_or(text);
    let units: String = text.chars().filter(|c| !c.is_ascii_digit()).collect();
    matches!(units.as_str(), "h" | "m" | "hm") && parse_duration(text).is_some()
}

/// The CRD's `^((100|[0-9]{1,2})%|[0-9]+)$`.
fn is_budget_nodes(text: &str) -> bool {
    match text.strip_suffix('%') {
        Some(percent) => {
            (1..=3).contains(&percent.len())
                && percent.bytes().all(|b| b.is_ascii_digit())
                && percent.parse::<u32>().is_ok_and(|p| p <= 100)
                && (percent.len() < 3 || percent == "100")
        }
        None => !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()),
    }
}

/// Five cron fields, or one of the macros the CRD lists.
fn is_schedule(text: &str) -> bool {
    const MACROS: &[&str] = &[
        "@annually",
        "@yearly",
        "@monthly",
        "@weekly",
        "@daily",
        "@midnight",
        "@hourly",
    ];
    MACROS.contains(&text) || text.split_whitespace().count() == 5
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_as_the_crd_accepts_them() {
        assert_eq!(parse_duration("90s"), Some(90));
        assert_eq!(parse_duration("1h30m"), Some(5400));
        assert_eq!(parse_duration("720h"), Some(720 * 3600));
        for bad in ["", "10", "1d", "1.5h", "h", "-1m"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
        assert!(is_budget_duration("8h") && is_budget_duration("1h30m0s"));
        assert!(!is_budget_duration("30s") && !is_budget_duration("1m1h"));
    }

    #[test]
    fn budget_nodes_are_counts_or_percentages() {
        for good in ["0", "3", "10%", "100%", "0%"] {
            assert!(is_budget_nodes(good), "{good}");
        }
        for bad in ["", "101%", "1000%", "%", "ten", "5 %", "050%"] {
            assert!(!is_budget_nodes(bad), "{bad}");
        }
    }

    #[test]
    fn ami_aliases_are_pinned_al2023_releases() {
        assert_eq!(check_ami_alias("al2023@v20260714"), Ok(()));
        for (bad, says) in [
            ("al2023@latest", "pin one"),
            ("bottlerocket@v1.20.0", "family `bottlerocket`"),
            ("al2023@v2026071", "v + YYYYMMDD"),
            ("al2023@v20261314", "v + YYYYMMDD"),
            ("ami-0123456789", "not an AMI alias"),
        ] {
            let err = check_ami_alias(bad).expect_err(bad);
            assert!(err.contains(says), "{bad}: {err}");
        }
    }
}
