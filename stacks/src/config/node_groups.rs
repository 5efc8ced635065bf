//! The `[[node_groups]]` list: EKS managed node groups.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::check::{is_label_value, is_qualified_name, Scope, Section};
use super::Config;

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
    /// Taints keep pods off the group's nodes unless they tolerate them
    /// (the system group: only the platform's critical add-ons run there).
    #[serde(default)]
    pub taints: Vec<TaintConfig>,
}

/// A node taint, as EKS applies it to every node of a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaintConfig {
    pub key: String,
    #[serde(default)]
    pub value: String,
    pub effect: TaintEffect,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TaintEffect {
    NoSchedule,
    PreferNoSchedule,
    NoExecute,
}

impl TaintEffect {
    /// As the EKS API spells it (`NO_SCHEDULE`).
    pub fn as_eks(self) -> &'static str {
        match self {
            Self::NoSchedule => "NO_SCHEDULE",
            Self::PreferNoSchedule => "PREFER_NO_SCHEDULE",
            Self::NoExecute => "NO_EXECUTE",
        }
    }

    /// As Kubernetes spells it in taints and tolerations (`NoSchedule`).
    pub fn as_kubernetes(self) -> &'static str {
        match self {
            Self::NoSchedule => "NoSchedule",
            Self::PreferNoSchedule => "PreferNoSchedule",
            Self::NoExecute => "NoExecute",
        }
    }
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

impl Section for Vec<NodeGroupConfig> {
    const KEY: &'static str = "node_groups";
    type Checked = ();

    fn check(&self, _: &Config, at: &mut Scope<'_>) {
        if self.is_empty() {
            at.problem("", "at least one node group is needed to run pods");
        }
        let mut seen = BTreeSet::new();
        for (i, group) in self.iter().enumerate() {
            let field = |name: &str| format!("[{i}].{name}");
            at.dns_label(&field("name"), &group.name, 32);
            if !seen.insert(group.name.as_str()) {
                at.problem(
                    field("name"),
                    format!("`{}` is used by an earlier node group", group.name),
                );
            }
            check_instance_types(at, &field("instance_types"), &group.instance_types);
            if group.max_size == 0 {
                at.problem(field("max_size"), "must be at least 1");
            }
            if group.min_size > group.desired_size {
                at.problem(
                    field("min_size"),
                    format!(
                        "{} is greater than desired_size ({})",
                        group.min_size, group.desired_size
                    ),
                );
            }
            if group.desired_size > group.max_size {
                at.problem(
                    field("desired_size"),
                    format!(
                        "{} is greater than max_size ({})",
                        group.desired_size, group.max_size
                    ),
                );
            }
            for (k, taint) in group.taints.iter().enumerate() {
                if !is_qualified_name(&taint.key) {
                    at.problem(
                        format!("[{i}].taints[{k}].key"),
                        format!(
                            "`{}` is not a taint key like CriticalAddonsOnly or example.com/role",
                            taint.key
                        ),
                    );
                }
                if !is_label_value(&taint.value) {
                    at.problem(
                        format!("[{i}].taints[{k}].value"),
                        format!(
                            "`{}` is not a label value (at most 63 letters, digits, `-`, `_`, `.`)",
                            taint.value
                        ),
                    );
                }
            }
            if !(20..=16384).contains(&group.disk_size_gib) {
                at.problem(
                    field("disk_size_gib"),
                    format!(
                        "{} is outside 20..=16384 GiB (EKS AMIs need 20 GiB)",
                        group.disk_size_gib
                    ),
                );
            }
        }
    }
}

/// A node group's instance types, reported at `field` (`[0].instance_types`).
pub(super) fn check_instance_types(at: &mut Scope<'_>, field: &str, instance_types: &[String]) {
    if instance_types.is_empty() {
        at.problem(field, "is empty");
    }
    for (k, instance_type) in instance_types.iter().enumerate() {
        if !is_instance_type(instance_type) {
            at.problem(
                format!("{field}[{k}]"),
                format!("`{instance_type}` is not an EC2 instance type like t3.large"),
            );
        }
    }
}

/// `family.size`, e.g. `m6i.large`, `t3a.medium`.
pub fn is_instance_type(name: &str) -> bool {
    name.split_once('.').is_some_and(|(family, size)| {
        !family.is_empty()
            && !size.is_empty()
            && family
                .bytes()
                .chain(size.bytes())
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    })
}
