//! Names, tags and ARNs shared by the stacks, so every resource of an
//! environment is named from one prefix and carries the same tags, and the
//! AWS partition details come from the region instead of being looked up.

use std::collections::BTreeMap;

use synth::{Expr, Handle, Provider, RequiredProvider, Stack};

use crate::config::Environment;

/// The hashicorp/aws release the stacks are written and checked against.
pub const AWS_PROVIDER_VERSION: &str = "~> 5.100";

/// `ManagedBy` tag value.
pub const MANAGED_BY: &str = "terraform-infra";

/// Resource names of one environment, all derived from its `name_prefix`.
#[derive(Debug, Clone)]
pub struct Names {
    prefix: String,
}

impl Names {
    pub fn new(env: &Environment) -> Self {
        Self {
            prefix: env.config.name_prefix.clone(),
        }
    }

    /// `<prefix>-<suffix>`.
    pub fn name(&self, suffix: &str) -> String {
        format!("{}-{suffix}", self.prefix)
    }

    /// The EKS cluster's name: the prefix itself, since there is one per environment.
    pub fn cluster(&self) -> String {
        self.prefix.clone()
    }

    /// The tag that marks subnets as belonging to the cluster (load balancer discovery).
    pub fn cluster_tag_key(&self) -> String {
        format!("kubernetes.io/cluster/{}", self.cluster())
    }
}

/// The tags every taggable resource carries, through the provider's `default_tags`.
pub fn default_tags(env: &Environment) -> BTreeMap<String, String> {
    let mut tags = env.config.tags.clone();
    tags.insert("Project".into(), env.config.project.clone());
    tags.insert("Environment".into(), env.name.clone());
    tags.insert("ManagedBy".into(), MANAGED_BY.into());
    tags
}

/// `{ Name = <name> }` plus any extra tags, for a resource's own `tags`.
pub fn name_tags<'a>(name: &str, extra: impl IntoIterator<Item = (&'a str, &'a str)>) -> Expr {
    let mut tags: BTreeMap<String, Expr> = extra
        .into_iter()
        .map(|(k, v)| (k.to_owned(), Expr::from(v)))
        .collect();
    tags.insert("Name".into(), Expr::from(name));
    Expr::from(tags)
}

/// Declares the aws provider (identically in every AWS stack, so each can be
/// synthesized on its own): region and default tags from the config.
pub fn aws_provider(stack: &mut Stack, env: &Environment) {
    stack.require_provider(
        "aws",
        RequiredProvider::new("hashicorp/aws", AWS_PROVIDER_VERSION),
    );
    let tags: BTreeMap<String, Expr> = default_tags(env)
        .into_iter()
        .map(|(k, v)| (k, Expr::from(v)))
        .collect();
    stack.provider(
        Provider::new("aws")
            .set("region", env.config.region.as_str())
            .set("default_tags", Expr::object([("tags", Expr::from(tags))])),
    );
}

/// The AWS partition of a region and its service DNS suffix, known from the
/// region name, so policies and service names are literal and reviewable.
#[derive(Debug, Clone)]
pub struct Partition {
    pub name: &'static str,
    pub dns_suffix: &'static str,
    pub region: String,
}

impl Partition {
    pub fn of(region: &str) -> Self {
        let (name, dns_suffix) = if region.starts_with("cn-") {
            ("aws-cn", "amazonaws.com.cn")
        } else if region.starts_with("us-gov-") {
            ("aws-us-gov", "amazonaws.com")
        } else {
            ("aws", "amazonaws.com")
        };
        Self {
            name,
            dns_suffix,
            region: region.to_owned(),
        }
    }

    /// `arn:<partition>:iam::aws:policy/<name>`: an AWS managed policy.
    pub fn managed_policy(&self, name: &str) -> String {
        format!("arn:{}:iam::aws:policy/{name}", self.name)
    }

    /// `arn:<partition>:<service>:<region>:<account>:<resource>`, with the
    /// account id an expression (known after apply).
    pub fn arn(&self, service: &str, region: &str, account_id: &Expr, resource: &str) -> Expr {
        Expr::template([
            Expr::from(format!("arn:{}:{service}:{region}:", self.name)),
            account_id.clone(),
            Expr::from(format!(":{resource}")),
        ])
    }

    /// The account's root principal: delegates to the account's IAM policies.
    pub fn account_root(&self, account_id: &Expr) -> Expr {
        self.arn("iam", "", account_id, "root")
    }

    /// `com.amazonaws.<region>.<service>`: a VPC endpoint service name.
    pub fn endpoint_service(&self, service: &str) -> String {
        let prefix = if self.name == "aws-cn" {
            "cn.com.amazonaws"
        } else {
            "com.amazonaws"
        };
        format!("{prefix}.{}.{service}", self.region)
    }

    /// `<service>.amazonaws.com`: a service principal.
    pub fn service(&self, service: &str) -> String {
        format!("{service}.{}", self.dns_suffix)
    }
}

/// A customer-managed KMS key with rotation on and an alias
/// (`alias/<prefix>-<purpose>`). Its policy keeps administration with the
/// account (so IAM policies decide who uses it) plus the given statements.
pub fn kms_key(
    stack: &mut Stack,
    names: &Names,
    purpose: &str,
    description: &str,
    account_root: Expr,
    statements: Vec<Statement>,
) -> Handle {
    let id = purpose.replace('-', "_");
    let account = Statement::allow(["kms:*"])
        .sid("AccountAdministers")
        .principal("AWS", account_root)
        .on(["*"]);
    let key = stack
        .resource("aws_kms_key", &id)
        .set("description", description)
        .set("enable_key_rotation", true)
        .set("deletion_window_in_days", 30)
        .set("policy", policy(std::iter::once(account).chain(statements)))
        .set("tags", name_tags(&names.name(purpose), []))
        .handle();
    stack
        .resource("aws_kms_alias", &id)
        .set("name", format!("alias/{}", names.name(purpose)))
        .set("target_key_id", key.attr("key_id"));
    key
}

/// One statement of an IAM policy document. Resources, principals and
/// condition values are expressions, so ARNs of resources being created stay
/// references (and dependencies) rather than strings glued by hand.
#[derive(Debug, Clone)]
pub struct Statement {
    sid: Option<String>,
    actions: Vec<String>,
    resources: Vec<Expr>,
    principal: Option<(String, Expr)>,
    conditions: BTreeMap<String, BTreeMap<String, Expr>>,
}

impl Statement {
    /// An `Allow` statement for these actions.
    pub fn allow<S: AsRef<str>>(actions: impl IntoIterator<Item = S>) -> Self {
        Self {
            sid: None,
            actions: actions.into_iter().map(|a| a.as_ref().to_owned()).collect(),
            resources: Vec::new(),
            principal: None,
            conditions: BTreeMap::new(),
        }
    }

    #[must_use]
    pub fn sid(mut self, sid: &str) -> Self {
        self.sid = Some(sid.to_owned());
        self
    }

    #[must_use]
    pub fn on<E: Into<Expr>>(mut self, resources: impl IntoIterator<Item = E>) -> Self {
        self.resources.extend(resources.into_iter().map(Into::into));
        self
    }

    /// `Principal: { <kind>: <value> }` (kind `AWS`, `Service`, `Federated`).
    #[must_use]
    pub fn principal(mut self, kind: &str, value: impl Into<Expr>) -> Self {
        self.principal = Some((kind.to_owned(), value.into()));
        self
    }

    /// `Condition: { <test>: { <key>: <value> } }`.
    #[must_use]
    pub fn condition(mut self, test: &str, key: &str, value: impl Into<Expr>) -> Self {
        self.conditions
            .entry(test.to_owned())
            .or_default()
            .insert(key.to_owned(), value.into());
        self
    }

    fn to_expr(&self) -> Expr {
        let mut body: BTreeMap<String, Expr> = BTreeMap::new();
        body.insert("Effect".into(), "Allow".into());
        body.insert(
            "Action".into(),
            Expr::list(self.actions.iter().map(String::as_str)),
        );
        if let Some(sid) = &self.sid {
            body.insert("Sid".into(), sid.as_str().into());
        }
        if !self.resources.is_empty() {
            body.insert("Resource".into(), Expr::list(self.resources.clone()));
        }
        if let Some((kind, value)) = &self.principal {
            body.insert(
                "Principal".into(),
                Expr::object([(kind.as_str(), value.clone())]),
            );
        }
        if !self.conditions.is_empty() {
            let conditions = self
                .conditions
                .iter()
                .map(|(test, entries)| (test.clone(), Expr::from(entries.clone())));
            body.insert("Condition".into(), Expr::object(conditions));
        }
        Expr::from(body)
    }
}

/// `jsonencode({Version = "2012-10-17", Statement = [...]})`.
pub fn policy(statements: impl IntoIterator<Item = Statement>) -> Expr {
    json_encode(Expr::object([
        ("Version", Expr::from("2012-10-17")),
        (
            "Statement",
            Expr::list(statements.into_iter().map(|s| s.to_expr())),
        ),
    ]))
}

/// `jsonencode(<value>)`: how every IAM policy reaches terraform.
pub fn json_encode(value: impl Into<Expr>) -> Expr {
    Expr::call("jsonencode", [value.into()])
}

/// A trust policy letting an AWS service assume a role.
pub fn service_trust(partition: &Partition, service: &str) -> Expr {
    policy([Statement::allow(["sts:AssumeRole"]).principal("Service", partition.service(service))])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_follow_the_region() {
        assert_eq!(
            Partition::of("eu-west-1").managed_policy("X"),
            "arn:aws:iam::aws:policy/X"
        );
        assert_eq!(
            Partition::of("cn-north-1").service("eks"),
            "eks.amazonaws.com.cn"
        );
        assert_eq!(Partition::of("us-gov-west-1").name, "aws-us-gov");
    }
}
