//! The WAF web ACL in front of the ALB: AWS managed rule groups for known
//! bad addresses, known bad inputs and the common web exploits, and a rate
//! limit per client address; every rule's metrics and samples visible, and
//! every request logged (credentials redacted) to a KMS-encrypted log group.

use synth::{Expr, Stack};

use crate::aws::{name_tags, policy, Names, Partition, Statement};
use crate::config::WafConfig;
use crate::network::Network;

/// The window a rate-based rule counts requests in, seconds.
const RATE_WINDOW_SECONDS: u32 = 300;

/// AWS managed rule groups, in the order they are evaluated (cheapest and
/// most decisive first), after the rate limit.
const MANAGED_RULE_GROUPS: [(&str, &str); 3] = [
    ("AWSManagedRulesAmazonIpReputationList", "ip-reputation"),
    ("AWSManagedRulesKnownBadInputsRuleSet", "known-bad-inputs"),
    ("AWSManagedRulesCommonRuleSet", "common"),
];

/// Creates the web ACL and its logging; returns its ARN.
pub(super) fn web_acl(
    stack: &mut Stack,
    names: &Names,
    partition: &Partition,
    config: &WafConfig,
    network: &Network,
) -> Expr {
    let name = names.name("edge");
    let visible = |metric: &str| {
        Expr::object([
            ("cloudwatch_metrics_enabled", Expr::from(true)),
            ("metric_name", Expr::from(format!("{name}-{metric}"))),
            ("sampled_requests_enabled", Expr::from(true)),
        ])
    };
    let mut rules = vec![Expr::object([
        ("name", Expr::from("rate-limit-per-client")),
        ("priority", Expr::from(10)),
        (
            "action",
            Expr::object([("block", Expr::object::<&str, Expr>([]))]),
        ),
        (
            "statement",
            Expr::object([(
                "rate_based_statement",
                Expr::object([
                    ("limit", Expr::from(config.rate_limit)),
                    ("aggregate_key_type", Expr::from("IP")),
                    ("evaluation_window_sec", Expr::from(RATE_WINDOW_SECONDS)),
                ]),
            )]),
        ),
        ("visibility_config", visible("rate-limit-per-client")),
    ])];
    for (priority, (group, metric)) in (20..).step_by(10).zip(MANAGED_RULE_GROUPS) {
        rules.push(Expr::object([
            ("name", Expr::from(group)),
            ("priority", Expr::from(priority)),
            // The group's own actions (block) apply.
            (
                "override_action",
                Expr::object([("none", Expr::object::<&str, Expr>([]))]),
            ),
            (
                "statement",
                Expr::object([(
                    "managed_rule_group_statement",
                    Expr::object([("name", group), ("vendor_name", "AWS")]),
                )]),
            ),
            ("visibility_config", visible(metric)),
        ]));
    }
    let acl = stack
        .resource("aws_wafv2_web_acl", "edge")
        .set("name", name.as_str())
        .set(
            "description",
            "In front of the service's ALB: managed rules and a rate limit per client",
        )
        .set("scope", "REGIONAL")
        .set(
            "default_action",
            Expr::object([("allow", Expr::object::<&str, Expr>([]))]),
        )
        .set("rule", Expr::list(rules))
        .set("visibility_config", visible("all"))
        .set("tags", name_tags(&name, []))
        .handle();

    // WAF delivers its log only to a group whose name starts with this.
    let log_group = stack
        .resource("aws_cloudwatch_log_group", "waf")
        .set("name", format!("aws-waf-logs-{name}"))
        .set("retention_in_days", config.log_retention_days)
        .set("kms_key_id", network.logs_kms_key_arn.clone())
        .set("tags", name_tags(&names.name("waf-logs"), []))
        .handle();
    // Declared here rather than left to WAF to add on first use, so it is
    // reviewed, scoped to this group and account, and removed on destroy.
    let region = partition.region.as_str();
    let delivery = stack
        .resource("aws_cloudwatch_log_resource_policy", "waf")
        .set("policy_name", names.name("waf-log-delivery"))
        .set(
            "policy_document",
            policy([
                Statement::allow(["logs:CreateLogStream", "logs:PutLogEvents"])
                    .sid("WafLogDelivery")
                    .principal("Service", partition.service("delivery.logs"))
                    .on([Expr::template([log_group.attr("arn"), Expr::from(":*")])])
                    .condition(
                        "StringEquals",
                        "aws:SourceAccount",
                        network.account_id.clone(),
                    )
                    .condition(
                        "ArnLike",
                        "aws:SourceArn",
                        partition.arn("logs", region, &network.account_id, "*"),
                    ),
            ]),
        )
        .handle();
    stack
        .resource("aws_wafv2_web_acl_logging_configuration", "edge")
        .set("resource_arn", acl.attr("arn"))
        .set(
            "log_destination_configs",
            Expr::list([log_group.attr("arn")]),
        )
        // Credentials a client sends never reach the log.
        .set(
            "redacted_fields",
            Expr::list(["authorization", "cookie"].map(|header| {
                Expr::object([(
                    "single_header",
                    Expr::object([("name", Expr::from(header))]),
                )])
            })),
        )
        .depends_on(&delivery);
    acl.attr("arn")
}
