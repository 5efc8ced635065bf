//! IAM roles beside what assumes them. A role's users are the drawn things
//! whose blocks name it (the cluster's `role_arn`, a node group's
//! `node_role_arn`, a release's service-account annotation, an instance's
//! profile); when nodes run as it, they are its users and not the release
//! that names it for them. The role is drawn in the innermost group holding
//! them all. A role nothing in the module runs as is assumed from outside:
//! its trust policy says by whom (GitHub Actions through the OIDC provider,
//! the account's people), and what it may reach shows as the links other
//! blocks make (an EKS access entry to the cluster, a Session Manager
//! session to an instance its policy allows).

use serde_json::Value;

use super::build::{Builder, SERVICES};
use super::labels::is_hidden;
use super::model::{ident, EdgeKind, Node, NodeKind};
use crate::inventory::{Block, Kind};

impl Builder<'_> {
    pub(super) fn roles(&mut self) {
        let inv = self.inv;
        for role in inv.of_type("aws_iam_role") {
            // An instance runs as the role of its instance profile.
            let profiles: Vec<&str> = inv
                .referrers(&role.address)
                .filter(|b| b.ty == "aws_iam_instance_profile")
                .map(|b| b.address.as_str())
                .collect();
            let naming: Vec<&Block> = inv
                .referrers(&role.address)
                .chain(profiles.iter().flat_map(|p| inv.referrers(p)))
                .filter(|b| !is_hidden(&b.ty) && b.ty != "aws_iam_role")
                .collect();
            let compute =
                |b: &&Block| matches!(b.ty.as_str(), "aws_eks_node_group" | "aws_instance");
            let runs_as: Vec<&Block> = if naming.iter().any(compute) {
                naming.into_iter().filter(compute).collect()
            } else {
                naming
            };
            let users: Vec<String> = runs_as
                .iter()
                .flat_map(|b| self.nodes_of(&b.address))
                .collect();
            // Blocks that join the role to something drawn (an access entry
            // to the cluster): what the role reaches.
            let reaches: Vec<(String, String)> = inv
                .referrers(&role.address)
                // IAM's own blocks (policies, attachments) say what the role
                // may do, not what it is attached to.
                .filter(|b| {
                    is_hidden(&b.ty) && b.kind != Kind::Data && !b.ty.starts_with("aws_iam_")
                })
                .flat_map(|link| {
                    let label = link.ty.trim_start_matches("aws_").replace('_', " ");
                    link.refs
                        .iter()
                        .filter(|r| **r != role.address)
                        .flat_map(|r| self.nodes_of(r))
                        .map(move |n| (n, label.clone()))
                        .collect::<Vec<_>>()
                })
                .collect();
            // Instances its policies may open a Session Manager session to.
            let sessions: Vec<String> = inv
                .referrers(&role.address)
                .filter(|b| b.ty == "aws_iam_role_policy")
                .filter(|p| {
                    p.text("policy")
                        .unwrap_or_default()
                        .contains("ssm:StartSession")
                })
                .flat_map(|p| p.refs.iter())
                .filter(|r| r.starts_with("aws_instance."))
                .flat_map(|r| self.nodes_of(r))
                .collect();
            let mut detail = vec![role.text("name").unwrap_or(&role.name).to_owned()];
            detail.extend(trust(role, inv));
            let anchors: Vec<String> = if users.is_empty() {
                reaches
                    .iter()
                    .map(|(n, _)| n.clone())
                    .chain(sessions.iter().cloned())
                    .collect()
            } else {
                users.clone()
            };
            let group = if anchors.is_empty() {
                SERVICES.to_owned()
            } else {
                self.common_group(&anchors)
            };
            let id = ident(&role.address);
            self.add(
                &group,
                Node {
                    id: id.clone(),
                    kind: NodeKind::Role,
                    label: "IAM role".into(),
                    detail,
                    address: role.address.clone(),
                    estimated: false,
                },
            );
            self.drawn.insert(role.address.clone(), vec![id.clone()]);
            for user in &users {
                self.edge(&id, user, EdgeKind::Assumes, "assumed by");
            }
            for (node, label) in &reaches {
                self.edge(&id, node, EdgeKind::Uses, label);
            }
            for node in &sessions {
                self.edge(
                    &id,
                    node,
                    EdgeKind::Access,
                    "Session Manager port forwarding",
                );
            }
            if users.is_empty() {
                if let Some(actor) = actor(role, inv) {
                    if !self.outside.iter().any(|n| n.id == actor.id) {
                        self.outside.push(actor.clone());
                    }
                    self.edge(&actor.id, &id, EdgeKind::Assumes, "assumes");
                }
            }
        }
    }
}

/// What the role's trust policy says, in a line or two.
fn trust(role: &Block, inv: &crate::inventory::Inventory) -> Vec<String> {
    let policy = role.text("assume_role_policy").unwrap_or_default();
    let mut lines = Vec::new();
    if let Some(service) = quoted_after(policy, "\"Service\" = \"") {
        lines.push(format!("trusts {service}"));
    }
    // IRSA: a policy document whose condition names one service account.
    for document in role
        .refs
        .iter()
        .filter_map(|r| inv.get(r))
        .filter(|d| d.ty == "aws_iam_policy_document")
    {
        let accounts = strings(&document.body)
            .into_iter()
            .filter_map(|s| s.strip_prefix("system:serviceaccount:").map(str::to_owned));
        for account in accounts {
            lines.push(format!(
                "for service account {}",
                account.replacen(':', "/", 1)
            ));
        }
    }
    lines
}

/// Who assumes a role from outside the module, by its trust policy.
fn actor(role: &Block, inv: &crate::inventory::Inventory) -> Option<Node> {
    let policy = role.text("assume_role_policy").unwrap_or_default();
    let github = role.refs.iter().filter_map(|r| inv.get(r)).any(|p| {
        p.ty == "aws_iam_openid_connect_provider"
            && p.text("url") == Some("https://token.actions.githubusercontent.com")
    });
    if github {
        let subject = quoted_after(policy, "githubusercontent.com:sub\" = \"").unwrap_or_default();
        return Some(Node {
            id: ident(&format!("github_{subject}")),
            kind: NodeKind::Actor,
            label: "GitHub Actions".into(),
            detail: vec![subject],
            address: String::new(),
            estimated: false,
        });
    }
    if policy.contains(":root\"") {
        let mut detail = vec!["principals of the account".to_owned()];
        if policy.contains("aws:MultiFactorAuthPresent") {
            detail.push("with MFA".into());
        }
        return Some(Node {
            id: "account_people".into(),
            kind: NodeKind::Actor,
            label: "administrators".into(),
            detail,
            address: String::new(),
            estimated: false,
        });
    }
    None
}

/// The text between `marker` and the next double quote.
fn quoted_after(text: &str, marker: &str) -> Option<String> {
    let rest = text.split(marker).nth(1)?;
    Some(rest.split('"').next()?.to_owned())
}

/// Every string under `value`.
fn strings(value: &Value) -> Vec<&str> {
    match value {
        Value::String(s) => vec![s.as_str()],
        Value::Array(items) => items.iter().flat_map(strings).collect(),
        Value::Object(map) => map.values().flat_map(strings).collect(),
        _ => Vec::new(),
    }
}
