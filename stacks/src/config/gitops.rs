//! The `[gitops]` section: whether Argo CD delivers the add-ons and the
//! service from a git repository (terraform then installs only Argo CD and
//! one root Application), where Argo CD reads the environment's tree, who may
//! use Argo CD, and the bastion the bootstrap runs through when the cluster's
//! API is private. Its floors (`[gitops]` in `stacks/policy/<env>.toml`) are
//! checked here too, and reported at the config field that breaks them.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::check::{is_dns_label, Scope, Section};
use super::Config;

/// Where Argo CD reads an environment's tree, and how it is run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GitopsConfig {
    /// Whether the add-ons and the service are delivered by Argo CD. Off, the
    /// app stack applies them with terraform as helm releases.
    pub enabled: bool,
    /// The git repository Argo CD reads: `https://host/owner/name.git`, or
    /// `git@host:owner/name.git` (then terraform gives Argo CD the read-only
    /// deploy key passed as `TF_VAR_gitops_deploy_key`).
    pub repository: String,
    /// The branch Argo CD follows.
    pub revision: String,
    /// The environment's tree inside the repository; `gitops/<env>` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Whether Argo CD's metrics are scraped through ServiceMonitors (needs
    /// the Prometheus Operator's CRDs, which the observability stack brings).
    #[serde(default)]
    pub service_monitor: bool,
    /// Local Argo CD accounts, one per team. With any (or with `sso`), the
    /// built-in `admin` account is disabled.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub teams: Vec<TeamConfig>,
    /// Single sign-on through an OIDC provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sso: Option<SsoConfig>,
    /// The SSM-managed bastion phase 2 runs through when the API is private.
    #[serde(default)]
    pub bastion: BastionConfig,
}

/// A team's local Argo CD account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamConfig {
    /// The account's name (a DNS label; `admin` is Argo CD's own).
    pub name: String,
    pub role: TeamRole,
}

/// What a team (or an SSO group) may do in Argo CD.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TeamRole {
    /// Everything, in every project.
    Admin,
    /// Look, never change.
    Readonly,
    /// Look at the service's project and sync it; nothing else.
    Deployer,
}

impl TeamRole {
    pub const ALL: [TeamRole; 3] = [Self::Admin, Self::Readonly, Self::Deployer];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Readonly => "readonly",
            Self::Deployer => "deployer",
        }
    }
}

/// Argo CD's own OIDC client (no Dex): the issuer's groups claim decides
/// each person's role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SsoConfig {
    /// The OIDC issuer URL (https).
    pub issuer: String,
    /// Argo CD's client id at the issuer; its secret goes into the
    /// `argocd-secret` Secret as `oidc.clientSecret`, never into a file here.
    pub client_id: String,
    /// Where people open Argo CD (the issuer redirects back there); the
    /// server is not exposed, so by default its port-forward.
    #[serde(default = "default_sso_url")]
    pub url: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub admin_groups: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub readonly_groups: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deployer_groups: Vec<String>,
}

fn default_sso_url() -> String {
    "https://localhost:8080".to_owned()
}

impl SsoConfig {
    /// Each role with the groups that hold it.
    pub fn groups(&self) -> [(TeamRole, &[String]); 3] {
        [
            (TeamRole::Admin, &self.admin_groups),
            (TeamRole::Readonly, &self.readonly_groups),
            (TeamRole::Deployer, &self.deployer_groups),
        ]
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BastionConfig {
    /// EC2 instance type; it only forwards a port, so the smallest will do.
    pub instance_type: String,
}

impl Default for BastionConfig {
    fn default() -> Self {
        Self {
            instance_type: "t3.micro".to_owned(),
        }
    }
}

impl GitopsConfig {
    /// The environment's tree inside the repository.
    pub fn tree_path(&self, env_name: &str) -> String {
        self.path
            .clone()
            .unwrap_or_else(|| format!("gitops/{env_name}"))
    }

    /// Whether Argo CD reads the repository over SSH, with a deploy key.
    pub fn uses_ssh(&self) -> bool {
        self.repository.starts_with("git@") || self.repository.starts_with("ssh://")
    }

    /// Whether the built-in `admin` account is turned off.
    pub fn admin_disabled(&self) -> bool {
        !self.teams.is_empty() || self.sso.is_some()
    }
}

impl Config {
    /// The `[gitops]` section when GitOps is on.
    pub fn gitops_enabled(&self) -> Option<&GitopsConfig> {
        self.gitops.as_ref().filter(|g| g.enabled)
    }
}

impl Section for Option<GitopsConfig> {
    const KEY: &'static str = "gitops";
    type Checked = ();

    fn check(&self, _: &Config, at: &mut Scope<'_>) {
        let Some(gitops) = self else {
            return;
        };
        if let Some(problem) = repository_problem(&gitops.repository) {
            at.problem("repository", format!("`{}` {problem}", gitops.repository));
        }
        let revision = &gitops.revision;
        if revision.is_empty()
            || revision.contains(char::is_whitespace)
            || revision.contains("..")
            || revision.starts_with('-')
        {
            at.problem(
                "revision",
                format!("`{revision}` must be one branch name (no spaces, no `..`)"),
            );
        }
        if let Some(path) = &gitops.path {
            if let Some(problem) = path_problem(path) {
                at.problem("path", format!("`{path}` {problem}"));
            }
        }
        check_teams(&gitops.teams, at);
        if let Some(sso) = &gitops.sso {
            check_sso(sso, at);
        }
        let family_and_size =
            gitops
                .bastion
                .instance_type
                .split_once('.')
                .is_some_and(|(family, size)| {
                    let ok = |s: &str| {
                        !s.is_empty()
                            && s.bytes()
                                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                    };
                    ok(family) && ok(size)
                });
        if !family_and_size {
            at.problem(
                "bastion.instance_type",
                format!(
                    "`{}` is not an EC2 instance type like t3.micro",
                    gitops.bastion.instance_type
                ),
            );
        }
    }
}

/// Why `url` is not a git URL Argo CD can read without a secret in it.
fn repository_problem(url: &str) -> Option<&'static str> {
    if url.contains(char::is_whitespace) || url.is_empty() {
        return Some("must be one git URL without spaces");
    }
    if let Some(rest) = url.strip_prefix("https://") {
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        if authority.contains('@') {
            return Some(
                "carries credentials; Argo CD takes them from a repository Secret, never from config",
            );
        }
        if authority.is_empty() || path.split('/').filter(|p| !p.is_empty()).count() < 2 {
            return Some("must name a host and an owner/name path");
        }
        return None;
    }
    if let Some(rest) = url
        .strip_prefix("git@")
        .or_else(|| url.strip_prefix("ssh://git@"))
    {
        let (host, path) = rest.split_once([':', '/'])?;
        if host.is_empty() || path.is_empty() {
            return Some("must name a host and a repository path");
        }
        return None;
    }
    Some("must start with https://, git@ or ssh://git@")
}

/// Why a path inside the repository is not a plain relative one.
fn path_problem(path: &str) -> Option<&'static str> {
    if path.is_empty() || path.starts_with('/') {
        return Some("must be a relative path inside the repository");
    }
    if path.contains('\\') || path.contains(char::is_whitespace) {
        return Some("must be a plain path without backslashes or spaces");
    }
    if path
        .split('/')
        .any(|p| p.is_empty() || p == "." || p == "..")
    {
        return Some("must not have empty, `.` or `..` components");
    }
    None
}

fn check_teams(teams: &[TeamConfig], at: &mut Scope<'_>) {
    let mut seen = BTreeSet::new();
    for (i, team) in teams.iter().enumerate() {
        let field = format!("teams[{i}].name");
        if !is_dns_label(&team.name, 63) {
            at.problem(
                &field,
                format!(
                    "`{}` must be a DNS label (lowercase letters, digits, `-`)",
                    team.name
                ),
            );
        }
        if team.name == "admin" {
            at.problem(
                &field,
                "`admin` is Argo CD's built-in account, which a team account replaces",
            );
        }
        if !seen.insert(team.name.as_str()) {
            at.problem(&field, format!("`{}` is listed twice", team.name));
        }
    }
}

fn check_sso(sso: &SsoConfig, at: &mut Scope<'_>) {
    let issuer_ok = sso
        .issuer
        .strip_prefix("https://")
        .is_some_and(|rest| !rest.is_empty() && !rest.contains(char::is_whitespace));
    if !issuer_ok {
        at.problem(
            "sso.issuer",
            format!("`{}` must be an https URL", sso.issuer),
        );
    }
    if !sso.url.starts_with("https://") || sso.url.contains(char::is_whitespace) {
        at.problem("sso.url", format!("`{}` must be an https URL", sso.url));
    }
    if sso.client_id.trim().is_empty() {
        at.problem("sso.client_id", "is empty");
    }
    let mut any = false;
    for (role, groups) in sso.groups() {
        for (i, group) in groups.iter().enumerate() {
            any = true;
            // A comma or newline would break out of the RBAC policy's CSV line.
            if group.trim().is_empty() || group.contains([',', '\n', '\r']) {
                at.problem(
                    format!("sso.{}_groups[{i}]", role.as_str()),
                    format!("`{group}` must be a group name without commas or line breaks"),
                );
            }
        }
    }
    if !any {
        at.problem(
            "sso",
            "maps no group to a role (admin_groups, readonly_groups, deployer_groups); nobody could use Argo CD",
        );
    }
}

/// An environment's GitOps floors.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GitopsPolicy {
    /// The environment must be delivered by Argo CD (`gitops.enabled`).
    #[serde(default)]
    pub required: bool,
    /// With GitOps on, the cluster's API has no public endpoint.
    #[serde(default)]
    pub private_api: bool,
    /// With GitOps on, Argo CD's built-in admin is off: SSO or team accounts.
    #[serde(default)]
    pub admin_disabled: bool,
}

impl GitopsPolicy {
    /// The config against these floors; problems at the field to change.
    pub(crate) fn check(&self, config: &Config, at: &mut Scope<'_>) {
        let Some(gitops) = config.gitops_enabled() else {
            if self.required {
                at.elsewhere(
                    if config.gitops.is_some() {
                        "gitops.enabled"
                    } else {
                        "gitops"
                    },
                    "is off, but this environment must be delivered by Argo CD (policy gitops.required)",
                );
            }
            return;
        };
        if self.private_api && config.cluster.endpoint_public_access {
            at.elsewhere(
                "cluster.endpoint_public_access",
                "is true, but with GitOps on this environment's Kubernetes API must be private \
                 (policy gitops.private_api); the bootstrap runs through the bastion",
            );
        }
        if self.admin_disabled && !gitops.admin_disabled() {
            at.elsewhere(
                "gitops.teams",
                "is empty and gitops.sso is unset, so Argo CD's shared admin account stays on; \
                 this environment needs an account per team or SSO (policy gitops.admin_disabled)",
            );
        }
    }
}
