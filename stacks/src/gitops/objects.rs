//! Argo CD's custom resources as typed structs: the `Application` (checked
//! against its CRD at the pinned chart version by `just gitops-check` and
//! `just custom-resources-check`) and the `AppProject`.

use std::collections::BTreeMap;

use serde::Serialize;
use synth::Expr;

pub const API_VERSION: &str = "argoproj.io/v1alpha1";

/// The cluster Argo CD runs in, as Argo CD names it.
pub const IN_CLUSTER: &str = "https://kubernetes.default.svc";

/// Deleting an Application deletes what it deployed (a cascade), so a
/// release removed from the stacks is removed from the cluster too.
pub const RESOURCES_FINALIZER: &str = "resources-finalizer.argocd.argoproj.io";

/// Orders Applications: Argo CD syncs (and, deleting, prunes in reverse)
/// one wave after another, each waiting for the one before to be healthy.
pub const SYNC_WAVE: &str = "argocd.argoproj.io/sync-wave";

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    pub name: String,
    pub namespace: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub finalizers: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Application {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub metadata: Metadata,
    pub spec: ApplicationSpec,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSpec {
    pub project: String,
    pub destination: Destination,
    pub source: Source,
    pub sync_policy: SyncPolicy,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Destination {
    pub server: String,
    pub namespace: String,
}

impl Destination {
    pub fn in_cluster(namespace: &str) -> Self {
        Self {
            server: IN_CLUSTER.to_owned(),
            namespace: namespace.to_owned(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Source {
    #[serde(rename = "repoURL")]
    pub repo_url: String,
    /// An upstream chart's name in its Helm repository.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chart: Option<String>,
    /// A directory of the git repository (a chart carried in the tree).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    pub target_revision: String,
    pub helm: Helm,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Helm {
    pub release_name: String,
    /// Repository-root paths (`/gitops/<env>/image.yaml`): values a git
    /// commit changes without a synth (the image a deploy chose).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub value_files: Vec<String>,
    /// Set by the tree's chart for the Applications it renders; given here
    /// only for the root Application, whose values terraform fills in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub values_object: Option<Expr>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub skip_crds: bool,
}

impl Helm {
    /// A release of that name, with nothing else set.
    pub fn release(name: &str) -> Self {
        Self {
            release_name: name.to_owned(),
            value_files: Vec::new(),
            values_object: None,
            skip_crds: false,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncPolicy {
    pub automated: Automated,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sync_options: Vec<String>,
    pub retry: Retry,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Automated {
    pub prune: bool,
    pub self_heal: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Retry {
    pub limit: u32,
    pub backoff: Backoff,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Backoff {
    pub duration: &'static str,
    pub factor: u32,
    pub max_duration: &'static str,
}

impl SyncPolicy {
    /// What git says is what runs: objects removed from git are pruned,
    /// changes made by hand are undone; a failed sync is retried with backoff
    /// (a webhook of an add-on of an earlier wave may still be starting).
    pub fn git_is_the_truth(sync_options: Vec<String>) -> Self {
        Self {
            automated: Automated {
                prune: true,
                self_heal: true,
            },
            sync_options,
            retry: Retry {
                limit: 5,
                backoff: Backoff {
                    duration: "10s",
                    factor: 2,
                    max_duration: "3m",
                },
            },
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppProject {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub metadata: Metadata,
    pub spec: AppProjectSpec,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppProjectSpec {
    pub description: String,
    pub source_repos: Vec<String>,
    pub destinations: Vec<Destination>,
    /// Cluster-scoped kinds the project may create; empty: none.
    pub cluster_resource_whitelist: Vec<GroupKind>,
    /// Namespaced kinds the project may create; absent: all of them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace_resource_whitelist: Option<Vec<GroupKind>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub namespace_resource_blacklist: Vec<GroupKind>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupKind {
    pub group: String,
    pub kind: String,
}

impl GroupKind {
    pub fn new(group: &str, kind: &str) -> Self {
        Self {
            group: group.to_owned(),
            kind: kind.to_owned(),
        }
    }
}
