//! The `[ci]` section: who may deploy, and where the state lives.

use serde::{Deserialize, Serialize};

use super::check::{Scope, Section};
use super::Config;

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

impl Section for CiConfig {
    const KEY: &'static str = "ci";
    type Checked = ();

    fn check(&self, _: &Config, at: &mut Scope<'_>) {
        let repo_ok = self
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
            at.problem(
                "github_repository",
                format!(
                    "`{}` is not a GitHub repository like owner/name",
                    self.github_repository
                ),
            );
        }
        if let Some(environment) = &self.github_environment {
            let ok = !environment.is_empty()
                && environment.len() <= 255
                && environment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
            if !ok {
                at.problem(
                    "github_environment",
                    format!("`{environment}` must be one GitHub environment name (letters, digits, `-`, `_`, `.`)"),
                );
            }
        }
        if let Some(bucket) = &self.state_bucket {
            if !is_s3_bucket_name(bucket) {
                at.problem(
                    "state_bucket",
                    format!("`{bucket}` is not an S3 bucket name (3 to 63 lowercase letters, digits, `-`, `.`)"),
                );
            }
        }
        // A wildcard or space would widen the OIDC trust beyond one branch.
        if self.branch.is_empty() || self.branch.contains(['*', '?', ' ', ':']) {
            at.problem(
                "branch",
                format!(
                    "`{}` must be one branch name, without wildcards",
                    self.branch
                ),
            );
        }
    }
}
