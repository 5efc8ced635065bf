//! What terraform installs beside Argo CD (one local chart, ordered after
//! it): the AppProjects that fence the Applications in, and the root
//! Application that reads the environment's tree from git, with the values
//! only terraform knows.
//!
//! Three projects, least privilege first:
//! - `bootstrap` holds the root Application: it may create Applications in
//!   Argo CD's namespace and nothing else, so a commit to the tree cannot
//!   slip other objects past the projects below;
//! - `platform` holds the add-ons, which install CRDs, cluster roles and
//!   webhooks: every kind, only into the add-ons' namespaces, only from
//!   their chart repositories and this repository;
//! - the service's project (named after its namespace) holds the service:
//!   only that namespace, nothing cluster-scoped, no quotas or limit ranges
//!   (the platform's), only from this repository.

use std::collections::BTreeSet;

use synth::Expr;

use super::argocd::NAMESPACE;
use super::convert::Delivered;
use super::objects::{
    AppProject, AppProjectSpec, Application, ApplicationSpec, Destination, GroupKind, Helm,
    Metadata, Source, SyncPolicy, API_VERSION, RESOURCES_FINALIZER,
};
use crate::config::{Environment, GitopsConfig};
use crate::releases::Chart;

pub const BOOTSTRAP_PROJECT: &str = "bootstrap";
pub const PLATFORM_PROJECT: &str = "platform";

/// The RBAC role that may look at and sync the service's project.
pub const SERVICE_PROJECT_ROLE: &str = "deployer";

/// The root Application's name.
pub const ROOT_APPLICATION: &str = "root";

/// The directory of the tree holding the chart of Applications.
pub const APPS_DIR: &str = "apps";

/// The service's project: named after its namespace.
pub fn service_project(env: &Environment) -> &str {
    &env.config.service.namespace
}

/// The project a delivered release belongs to: the service's when it goes
/// into the service's namespace, else the platform's.
pub fn project_of<'a>(env: &'a Environment, release: &Delivered) -> &'a str {
    if release.namespace == env.config.service.namespace {
        service_project(env)
    } else {
        PLATFORM_PROJECT
    }
}

pub(super) fn metadata(name: &str) -> Metadata {
    Metadata {
        name: name.to_owned(),
        namespace: NAMESPACE.to_owned(),
        labels: Default::default(),
        annotations: Default::default(),
        finalizers: vec![RESOURCES_FINALIZER.to_owned()],
    }
}

/// Where a delivered release's chart comes from: an upstream repository
/// (an OCI registry without its scheme, which is how Argo CD tells one), or
/// this repository's tree; `helm` says how it is rendered.
pub fn chart_source(gitops: &GitopsConfig, tree: &str, chart: &Chart, helm: Helm) -> Source {
    match chart {
        Chart::Upstream {
            repository,
            chart,
            version,
        } => Source {
            repo_url: repository
                .strip_prefix("oci://")
                .unwrap_or(repository)
                .to_owned(),
            chart: Some(chart.clone()),
            path: None,
            target_revision: version.clone(),
            helm,
        },
        Chart::Local { path } => Source {
            repo_url: gitops.repository.clone(),
            chart: None,
            path: Some(format!("{tree}/{path}")),
            target_revision: gitops.revision.clone(),
            helm,
        },
    }
}

pub fn projects(
    env: &Environment,
    gitops: &GitopsConfig,
    delivered: &[Delivered],
) -> Vec<AppProject> {
    let tree = gitops.tree_path(&env.name);
    let service = service_project(env);
    let mut platform_repos = BTreeSet::from([gitops.repository.clone()]);
    let mut platform_namespaces = BTreeSet::new();
    for release in delivered
        .iter()
        .filter(|r| project_of(env, r) == PLATFORM_PROJECT)
    {
        let helm = Helm::release(&release.release_name);
        platform_repos.insert(chart_source(gitops, &tree, &release.chart, helm).repo_url);
        platform_namespaces.insert(release.namespace.clone());
    }
    let project = |name: &str, description: &str, spec: AppProjectSpec| AppProject {
        api_version: API_VERSION,
        kind: "AppProject",
        metadata: Metadata {
            finalizers: Vec::new(),
            ..metadata(name)
        },
        spec: AppProjectSpec {
            description: description.to_owned(),
            ..spec
        },
    };
    vec![
        project(
            BOOTSTRAP_PROJECT,
            "The root Application: creates the tree's Applications, nothing else",
            AppProjectSpec {
                description: String::new(),
                source_repos: vec![gitops.repository.clone()],
                destinations: vec![Destination::in_cluster(NAMESPACE)],
                cluster_resource_whitelist: Vec::new(),
                namespace_resource_whitelist: Some(vec![GroupKind::new(
                    "argoproj.io",
                    "Application",
                )]),
                namespace_resource_blacklist: Vec::new(),
            },
        ),
        project(
            PLATFORM_PROJECT,
            "Cluster add-ons: any kind, only into their own namespaces",
            AppProjectSpec {
                description: String::new(),
                source_repos: platform_repos.into_iter().collect(),
                destinations: platform_namespaces
                    .iter()
                    .map(|ns| Destination::in_cluster(ns))
                    .collect(),
                cluster_resource_whitelist: vec![GroupKind::new("*", "*")],
                namespace_resource_whitelist: None,
                namespace_resource_blacklist: Vec::new(),
            },
        ),
        project(
            service,
            "The service: its own namespace only, nothing cluster-scoped",
            AppProjectSpec {
                description: String::new(),
                source_repos: vec![gitops.repository.clone()],
                destinations: vec![Destination::in_cluster(service)],
                cluster_resource_whitelist: Vec::new(),
                namespace_resource_whitelist: None,
                namespace_resource_blacklist: vec![
                    GroupKind::new("", "ResourceQuota"),
                    GroupKind::new("", "LimitRange"),
                ],
            },
        ),
    ]
}

/// The root Application: the tree's chart of Applications, given what only
/// terraform knows (`terraform.<application>`), in the shape of each
/// Application's values.
pub fn root_application(env: &Environment, gitops: &GitopsConfig, apply_time: Expr) -> Application {
    Application {
        api_version: API_VERSION,
        kind: "Application",
        metadata: metadata(ROOT_APPLICATION),
        spec: ApplicationSpec {
            project: BOOTSTRAP_PROJECT.to_owned(),
            destination: Destination::in_cluster(NAMESPACE),
            source: Source {
                repo_url: gitops.repository.clone(),
                chart: None,
                path: Some(format!("{}/{APPS_DIR}", gitops.tree_path(&env.name))),
                target_revision: gitops.revision.clone(),
                helm: Helm {
                    values_object: Some(Expr::object([("terraform", apply_time)])),
                    ..Helm::release(APPS_DIR)
                },
            },
            sync_policy: SyncPolicy::git_is_the_truth(Vec::new()),
        },
    }
}
