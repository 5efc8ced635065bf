//! Argo CD itself, the one add-on terraform still installs when GitOps is on
//! (chart argo-cd 10.1.1, Argo CD v3.4), hardened: the API server is a
//! ClusterIP Service only (reached through `kubectl port-forward`, never from
//! the internet), the shared `admin` account is off as soon as teams or SSO
//! are configured, nobody has any right that RBAC does not grant
//! (`policy.default` empty), the service's deployers reach only the
//! service's project, Dex and notifications are not run, every component has
//! requests and limits, and its metrics are served (scraped through
//! ServiceMonitors when the Prometheus Operator is there).

use std::collections::BTreeMap;

use bindings::helm::release::ReleaseRef;
use bindings::kubernetes::secret_v1::{Metadata, SecretV1, SecretV1Ref};
use bindings::prelude::*;
use serde::Serialize;
use synth::{Expr, Stack, Variable};

use super::projects::SERVICE_PROJECT_ROLE;
use crate::config::{Environment, GitopsConfig, TeamRole};
use crate::eks::Eks;
use crate::helm::{chart_release, system_placement, Chart, Resources, Toleration};
use crate::Error;

pub const CHART: Chart = Chart {
    repository: "https://argoproj.github.io/argo-helm",
    name: "argo-cd",
    version: "10.1.1",
};

/// The namespace Argo CD runs in, and where its Applications live.
pub const NAMESPACE: &str = "argocd";

/// Terraform id of Argo CD's own release (never delivered by Argo CD).
pub const RELEASE_ID: &str = "argo_cd";

/// Terraform id of the Secret holding the deploy key of an SSH repository.
pub const REPOSITORY_SECRET_ID: &str = "gitops_repository";

/// Its release name: the chart then names its objects `argocd-*`.
const RELEASE_NAME: &str = "argocd";

/// Restores the health assessment of Applications that Argo CD 1.8 dropped:
/// without it, the root Application would not wait for one sync wave's
/// Applications to be healthy before the next (docs/operator-manual/health.md).
const APPLICATION_HEALTH: &str = r#"hs = {}
hs.status = "Progressing"
hs.message = ""
if obj.status ~= nil and obj.status.health ~= nil then
  hs.status = obj.status.health.status
  if obj.status.health.message ~= nil then
    hs.message = obj.status.health.message
  end
end
return hs
"#;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Values {
    global: Global,
    configs: Configs,
    controller: Component,
    server: Server,
    repo_server: Component,
    application_set: Component,
    redis: Sized,
    dex: Enabled,
    notifications: Enabled,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Global {
    /// A NetworkPolicy per component: only what Argo CD's parts need reaches them.
    network_policy: Create,
    /// Argo CD delivers Karpenter, so it cannot wait for Karpenter's nodes:
    /// every part runs on the system node group, as Karpenter's controller does.
    node_selector: std::collections::BTreeMap<String, String>,
    tolerations: Vec<Toleration>,
}

#[derive(Debug, Serialize)]
struct Enabled {
    enabled: bool,
}

#[derive(Debug, Serialize)]
struct Create {
    create: bool,
}

#[derive(Debug, Serialize)]
struct Configs {
    /// argocd-cm: Argo CD's settings, keys as Argo CD spells them.
    cm: BTreeMap<String, Expr>,
    rbac: Rbac,
}

#[derive(Debug, Serialize)]
struct Rbac {
    /// No right unless granted below.
    #[serde(rename = "policy.default")]
    default: &'static str,
    #[serde(rename = "policy.csv")]
    csv: String,
    /// The OIDC claim the `g,` lines match groups against.
    scopes: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Component {
    replicas: u32,
    resources: Resources,
    #[serde(skip_serializing_if = "Option::is_none")]
    metrics: Option<Metrics>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pdb: Option<Pdb>,
}

#[derive(Debug, Serialize)]
struct Server {
    #[serde(flatten)]
    component: Component,
    service: ServiceType,
    ingress: Enabled,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ServiceType {
    /// Inside the cluster only: people reach it with `kubectl port-forward`.
    #[serde(rename = "type")]
    kind: &'static str,
}

#[derive(Debug, Serialize)]
struct Sized {
    resources: Resources,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Metrics {
    enabled: bool,
    service_monitor: Enabled,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Pdb {
    enabled: bool,
    max_unavailable: u32,
}

fn resources(cpu: (&str, &str), memory: (&str, &str)) -> Resources {
    Resources::new((cpu.0, memory.0), (Some(cpu.1), memory.1))
}

/// Argo CD's release, in its own namespace, after what pods need to run.
pub fn argo_cd(
    stack: &mut Stack,
    env: &Environment,
    gitops: &GitopsConfig,
    eks: &Eks,
) -> Result<ReleaseRef, Error> {
    let metrics = || {
        Some(Metrics {
            enabled: true,
            service_monitor: Enabled {
                enabled: gitops.service_monitor,
            },
        })
    };
    // Two of the parts people and syncs go through, so a node drain or a
    // rollout never takes Argo CD away.
    let pair = || {
        Some(Pdb {
            enabled: true,
            max_unavailable: 1,
        })
    };
    let system = system_placement(env);
    let values = Values {
        global: Global {
            network_policy: Create { create: true },
            node_selector: system.node_selector,
            tolerations: system.tolerations,
        },
        configs: Configs {
            cm: settings(gitops),
            rbac: Rbac {
                default: "",
                csv: rbac_policy(env, gitops),
                scopes: "[groups]",
            },
        },
        controller: Component {
            replicas: 1,
            resources: resources(("250m", "1"), ("512Mi", "1Gi")),
            metrics: metrics(),
            pdb: None,
        },
        server: Server {
            component: Component {
                replicas: 2,
                resources: resources(("50m", "500m"), ("128Mi", "256Mi")),
                metrics: metrics(),
                pdb: pair(),
            },
            service: ServiceType { kind: "ClusterIP" },
            ingress: Enabled { enabled: false },
        },
        repo_server: Component {
            replicas: 2,
            resources: resources(("100m", "1"), ("256Mi", "512Mi")),
            metrics: metrics(),
            pdb: pair(),
        },
        application_set: Component {
            replicas: 1,
            resources: resources(("50m", "250m"), ("64Mi", "128Mi")),
            metrics: None,
            pdb: None,
        },
        redis: Sized {
            resources: resources(("50m", "250m"), ("64Mi", "128Mi")),
        },
        dex: Enabled { enabled: false },
        notifications: Enabled { enabled: false },
    };
    // Argo CD runs on the system nodes and delivers Karpenter itself, so it
    // waits for the cluster alone, not for releases it will deliver.
    let release = stack.add(
        chart_release(RELEASE_ID, CHART, NAMESPACE, &values, &eks.cluster_ready)?
            .name(RELEASE_NAME)
            .create_namespace(true),
    );
    Ok(release)
}

/// argocd-cm.
fn settings(gitops: &GitopsConfig) -> BTreeMap<String, Expr> {
    let mut cm: BTreeMap<String, Expr> = BTreeMap::new();
    cm.insert("admin.enabled".into(), Expr::from(!gitops.admin_disabled()));
    cm.insert("exec.enabled".into(), Expr::from(false));
    cm.insert("users.anonymous.enabled".into(), Expr::from("false"));
    cm.insert(
        "resource.customizations.health.argoproj.io_Application".into(),
        Expr::from(APPLICATION_HEALTH),
    );
    for team in &gitops.teams {
        // Passwords are set apart from config (docs/gitops.md); login only:
        // no API keys, which would never expire.
        cm.insert(format!("accounts.{}", team.name), Expr::from("login"));
    }
    if let Some(sso) = &gitops.sso {
        cm.insert("url".into(), Expr::from(sso.url.as_str()));
        cm.insert(
            "oidc.config".into(),
            Expr::from(format!(
                "name: SSO\nissuer: {}\nclientID: {}\nclientSecret: $oidc.clientSecret\n\
                 requestedScopes: [\"openid\", \"profile\", \"email\", \"groups\"]\n",
                sso.issuer, sso.client_id
            )),
        );
    }
    cm
}

/// argocd-rbac-cm's policy: the deployer role may look at and sync the
/// service's project only; teams and SSO groups get their roles.
fn rbac_policy(env: &Environment, gitops: &GitopsConfig) -> String {
    let project = &env.config.service.namespace;
    let deployer = format!("role:{SERVICE_PROJECT_ROLE}");
    let mut lines: Vec<String> = [
        ("applications", "get", format!("{project}/*")),
        ("applications", "sync", format!("{project}/*")),
        ("logs", "get", format!("{project}/*")),
        ("projects", "get", project.clone()),
    ]
    .iter()
    .map(|(resource, action, object)| {
        format!("p, {deployer}, {resource}, {action}, {object}, allow")
    })
    .collect();
    let role_of = |role: TeamRole| match role {
        TeamRole::Admin => "role:admin".to_owned(),
        TeamRole::Readonly => "role:readonly".to_owned(),
        TeamRole::Deployer => deployer.clone(),
    };
    for team in &gitops.teams {
        lines.push(format!("g, {}, {}", team.name, role_of(team.role)));
    }
    if let Some(sso) = &gitops.sso {
        for (role, groups) in sso.groups() {
            for group in groups {
                lines.push(format!("g, {group}, {}", role_of(role)));
            }
        }
    }
    lines.join("\n") + "\n"
}

/// The read-only deploy key Argo CD reads an SSH repository with, as the
/// repository Secret Argo CD looks for; the key comes from a sensitive
/// variable, never from a file.
pub fn repository_secret(
    stack: &mut Stack,
    gitops: &GitopsConfig,
    after: &ReleaseRef,
) -> SecretV1Ref {
    let key = stack.typed_variable::<ty::String>(
        "gitops_deploy_key",
        Variable::new()
            .sensitive()
            .description(
                "Private SSH key of the read-only deploy key Argo CD reads the GitOps repository with; pass it as TF_VAR_gitops_deploy_key.",
            )
            .validation(
                Expr::raw("can(regex(\"PRIVATE KEY-----\", var.gitops_deploy_key))"),
                "gitops_deploy_key must be a PEM/OpenSSH private key.",
            ),
    );
    let metadata = Metadata::new()
        .name("gitops-repository")
        .namespace(NAMESPACE)
        .labels(BTreeMap::from([(
            "argocd.argoproj.io/secret-type",
            "repository",
        )]));
    let data: BTreeMap<&str, Value<ty::String>> = BTreeMap::from([
        ("type", "git".into()),
        ("url", gitops.repository.as_str().into()),
        ("sshPrivateKey", key),
    ]);
    stack.add(
        SecretV1::new(REPOSITORY_SECRET_ID, metadata)
            .type_("Opaque")
            .data(data)
            .depends_on(after),
    )
}
