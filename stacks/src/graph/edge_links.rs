//! The edge's and the secrets' links, which their plumbing blocks make and
//! the picture hides: what guards a load balancer and what it presents
//! (the release that caused it names the web ACL and the validated
//! certificate) and where the web ACL logs (its logging configuration),
//! which function rotates a secret (its rotation block), and which roles
//! may read a secret (their inline policies).

use super::build::Builder;
use super::model::EdgeKind;
use crate::inventory::{Block, Kind};

impl Builder<'_> {
    pub(super) fn edge_and_secrets(&mut self) {
        let inv = self.inv;
        let mut links: Vec<(String, String, &'static str)> = Vec::new();
        for lb in inv.of_type("aws_lb") {
            let Kind::Estimated(origin) = &lb.kind else {
                continue;
            };
            let Some(cause) = inv.get(&origin.created_by) else {
                continue;
            };
            for target in &cause.refs {
                let (to, label) = if target.starts_with("aws_wafv2_web_acl.") {
                    (target.clone(), "filtered by")
                } else if target.starts_with("aws_acm_certificate_validation.") {
                    // The validation stands for its certificate.
                    let Some(certificate) = inv.get(target).and_then(|v| {
                        v.refs
                            .iter()
                            .find(|r| r.starts_with("aws_acm_certificate."))
                    }) else {
                        continue;
                    };
                    (certificate.clone(), "TLS with")
                } else if target.starts_with("aws_acm_certificate.") {
                    (target.clone(), "TLS with")
                } else {
                    continue;
                };
                links.push((lb.address.clone(), to, label));
            }
        }
        for rotation in inv.of_type("aws_secretsmanager_secret_rotation") {
            let named = |prefix: &str| -> Vec<String> {
                rotation
                    .refs
                    .iter()
                    .filter(|r| r.starts_with(prefix))
                    .cloned()
                    .collect()
            };
            for function in named("aws_lambda_function.") {
                for secret in named("aws_secretsmanager_secret.") {
                    links.push((function.clone(), secret, "rotates"));
                }
            }
        }
        for logging in inv.of_type("aws_wafv2_web_acl_logging_configuration") {
            let named = |prefix: &str| logging.refs.iter().find(|r| r.starts_with(prefix));
            let acl = named("aws_wafv2_web_acl.");
            if let (Some(acl), Some(group)) = (acl, named("aws_cloudwatch_log_group.")) {
                links.push((acl.clone(), group.clone(), "logs requests to"));
            }
        }
        for policy in inv.of_type("aws_iam_role_policy") {
            if !reads_secrets(policy) {
                continue;
            }
            let roles = policy
                .refs
                .iter()
                .filter(|r| r.starts_with("aws_iam_role."));
            for role in roles {
                for secret in policy
                    .refs
                    .iter()
                    .filter(|r| r.starts_with("aws_secretsmanager_secret."))
                {
                    links.push((role.clone(), secret.clone(), "may read"));
                }
            }
        }
        for (from, to, label) in links {
            for f in self.nodes_of(&from) {
                for t in self.nodes_of(&to) {
                    self.edge(&f, &t, EdgeKind::Uses, label);
                }
            }
        }
    }
}

fn reads_secrets(policy: &Block) -> bool {
    policy
        .text("policy")
        .is_some_and(|p| p.contains("secretsmanager:GetSecretValue"))
}
