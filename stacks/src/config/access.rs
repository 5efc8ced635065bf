//! The `[access]` section: who besides the administrators reaches the
//! cluster, per team and namespace. Each team gets an IAM role, and an EKS
//! access entry whose access policies are scoped to its namespaces; nobody
//! is given cluster-admin here.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::check::{Scope, Section};
use super::Config;

/// Longest team name: `<name_prefix>-team-<name>` must fit an IAM role name
/// (64), with a 32-character prefix.
pub const TEAM_NAME_MAX: usize = 24;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessConfig {
    #[serde(default)]
    pub teams: Vec<TeamAccess>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamAccess {
    /// The team's name, in its role's name (`<prefix>-team-<name>`).
    pub name: String,
    pub level: AccessLevel,
    /// The namespaces the level applies in; nothing is granted elsewhere.
    pub namespaces: Vec<String>,
}

/// What a team may do in its namespaces, as EKS access policies grant it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccessLevel {
    /// `AmazonEKSViewPolicy`: read most objects, but not Secrets.
    View,
    /// `AmazonEKSEditPolicy`: change workloads, which includes reading and
    /// writing Secrets (and running pods that mount them).
    Edit,
}

impl AccessLevel {
    /// The EKS access policy the level stands for.
    pub fn access_policy(self) -> &'static str {
        match self {
            Self::View => "AmazonEKSViewPolicy",
            Self::Edit => "AmazonEKSEditPolicy",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::View => "view",
            Self::Edit => "edit",
        }
    }
}

impl Section for AccessConfig {
    const KEY: &'static str = "access";
    type Checked = ();

    fn check(&self, _: &Config, at: &mut Scope<'_>) {
        let mut names = BTreeSet::new();
        for (i, team) in self.teams.iter().enumerate() {
            at.dns_label(&format!("teams[{i}].name"), &team.name, TEAM_NAME_MAX);
            if !names.insert(team.name.as_str()) {
                at.problem(
                    format!("teams[{i}].name"),
                    format!("`{}` is listed twice", team.name),
                );
            }
            if team.namespaces.is_empty() {
                at.problem(
                    format!("teams[{i}].namespaces"),
                    "is empty; a team is granted access in named namespaces only",
                );
            }
            let mut seen = BTreeSet::new();
            for (j, namespace) in team.namespaces.iter().enumerate() {
                at.dns_label(&format!("teams[{i}].namespaces[{j}]"), namespace, 63);
                if !seen.insert(namespace) {
                    at.problem(
                        format!("teams[{i}].namespaces[{j}]"),
                        format!("`{namespace}` is listed twice"),
                    );
                }
            }
        }
    }
}
