//! The aws provider and the AWS partition details that follow from the
//! region, so policies and service names are literal and reviewable instead
//! of looked up at plan time.

use bindings::aws::provider::{DefaultTags, Provider};
use synth::{ty, Expr, RequiredProvider, Stack, Value};

use super::names::default_tags;
use crate::config::Environment;

/// The hashicorp/aws release the stacks are written and checked against.
pub const AWS_PROVIDER_VERSION: &str = "~> 5.100";

/// Declares the aws provider (identically in every AWS stack, so each can be
/// synthesized on its own): region and default tags from the config.
pub fn aws_provider(stack: &mut Stack, env: &Environment) {
    stack.require_provider(
        "aws",
        RequiredProvider::new("hashicorp/aws", AWS_PROVIDER_VERSION),
    );
    stack.provider(
        Provider::new()
            .region(&env.config.region)
            .default_tags(DefaultTags::new().tags(default_tags(env)))
            .into(),
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
    pub fn arn(
        &self,
        service: &str,
        region: &str,
        account_id: &Value<ty::String>,
        resource: &str,
    ) -> Expr {
        Expr::template([
            Expr::from(format!("arn:{}:{service}:{region}:", self.name)),
            Expr::from(account_id),
            Expr::from(format!(":{resource}")),
        ])
    }

    /// The account's root principal: delegates to the account's IAM policies.
    pub fn account_root(&self, account_id: &Value<ty::String>) -> Expr {
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
