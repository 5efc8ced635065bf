//! How each resource type is priced: one function per type, reading the
//! block's attributes as terraform spells them, so a terraform block and an
//! estimated resource of the same type ([`crate::estimate`]) are priced
//! alike. A type with neither a pricer nor a place in [`FREE`] is reported
//! as not priced, never as free: a component bringing a new paid type shows
//! up as a gap until it gets a line in [`PRICERS`].

mod compute;
mod network;
mod services;

use super::prices::Price;
use super::{Ctx, Line};
use crate::inventory::Block;
use compute::{ebs_volume, eks_cluster, instance, node_group};
use network::{hosted_zone, load_balancer, nat_gateway, public_ipv4, vpc_endpoint};
use services::{
    ecr_repository, event_rule, kms_key, lambda_function, log_group, s3_bucket, secret, sns_topic,
    sqs_queue, web_acl,
};

pub(super) type Pricer = fn(&Block, &mut Ctx<'_>) -> Result<Vec<Line>, String>;

/// Priced resource types.
pub(super) const PRICERS: &[(&str, Pricer)] = &[
    ("aws_eks_cluster", eks_cluster),
    ("aws_eks_node_group", node_group),
    ("aws_instance", instance),
    ("aws_ebs_volume", ebs_volume),
    ("aws_nat_gateway", nat_gateway),
    ("aws_eip", public_ipv4),
    ("aws_lb", load_balancer),
    ("aws_vpc_endpoint", vpc_endpoint),
    ("aws_cloudwatch_log_group", log_group),
    ("aws_kms_key", kms_key),
    ("aws_ecr_repository", ecr_repository),
    ("aws_secretsmanager_secret", secret),
    ("aws_wafv2_web_acl", web_acl),
    ("aws_s3_bucket", s3_bucket),
    ("aws_sqs_queue", sqs_queue),
    ("aws_cloudwatch_event_rule", event_rule),
    ("aws_sns_topic", sns_topic),
    ("aws_route53_zone", hosted_zone),
    ("aws_lambda_function", lambda_function),
];

/// Types that cost nothing themselves (or whose cost is counted with the
/// resource they configure: a launch template with its node group, a flow
/// log in its log group). A trailing `*` matches a prefix.
pub(super) const FREE: &[&str] = &[
    "aws_vpc",
    "aws_subnet",
    "aws_route",
    "aws_route_table",
    "aws_route_table_association",
    "aws_internet_gateway",
    "aws_default_security_group",
    "aws_security_group",
    "aws_security_group_rule",
    "aws_vpc_security_group_*",
    "aws_flow_log",
    "aws_launch_template",
    "aws_kms_alias",
    "aws_iam_*",
    "aws_eks_addon",
    "aws_eks_access_entry",
    "aws_eks_access_policy_association",
    "aws_eks_pod_identity_association",
    "aws_ecr_lifecycle_policy",
    "aws_ecr_repository_policy",
    // Public ACM certificates are free; validation is records in the zone.
    "aws_acm_certificate",
    "aws_acm_certificate_validation",
    // Records cost nothing of their own: the zone is priced where it is
    // made (here it is looked up, another team's), and queries of an alias
    // record to a load balancer are free.
    "aws_route53_record",
    // A secret's versions and policy are part of the secret's price.
    "aws_secretsmanager_secret_version",
    "aws_secretsmanager_secret_policy",
    // Rotation itself is free; its function is priced as a Lambda function,
    // which its permission lets Secrets Manager invoke.
    "aws_secretsmanager_secret_rotation",
    "aws_lambda_permission",
    // Lets WAF deliver to its log group, priced as a log group.
    "aws_cloudwatch_log_resource_policy",
    "aws_cloudwatch_event_target",
    "aws_sqs_queue_policy",
    "aws_sns_topic_policy",
    "aws_sns_topic_subscription",
    "aws_ec2_tag",
    "aws_s3_bucket_*",
    "aws_lb_listener",
    "aws_lb_listener_rule",
    "aws_lb_target_group",
    // The web ACL's price covers its attachments; its logs are the log
    // group's.
    "aws_wafv2_web_acl_association",
    "aws_wafv2_web_acl_logging_configuration",
    "helm_*",
    "kubernetes_*",
];

pub(super) fn is_free(ty: &str) -> bool {
    FREE.iter().any(|f| match f.strip_suffix('*') {
        Some(prefix) => ty.starts_with(prefix),
        None => *f == ty,
    })
}

/// A line of `quantity` units per instance of the block, at one price.
pub(super) fn line(
    block: &Block,
    ctx: &Ctx<'_>,
    what: &str,
    detail: String,
    quantity: f64,
    unit: &str,
    price: &Price,
) -> Line {
    Line::new(
        block,
        what,
        detail,
        (quantity, unit),
        price.usd,
        vec![price.clone()],
        ctx.count(block),
    )
}

/// Hours in a month.
pub(super) fn hours(ctx: &Ctx<'_>) -> f64 {
    ctx.table.hours_per_month
}
