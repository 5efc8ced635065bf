//! The WAF web ACL in front of the ALB: AWS managed rule groups for known
//! bad addresses, known bad inputs and the common web exploits, and a rate
//! limit per client address; every rule's metrics and samples visible, and
//! every request logged (credentials redacted) to a KMS-encrypted log group.

use bindings::aws::cloudwatch_log_group::CloudwatchLogGroup;
use bindings::aws::cloudwatch_log_resource_policy::CloudwatchLogResourcePolicy;
use bindings::aws::wafv2_web_acl::{
    Action, ActionBlock, Allow, DefaultAction, ManagedRuleGroupStatement, OverrideAction,
    OverrideActionNone, RateBasedStatement, Rule, Statement as RuleStatement, VisibilityConfig,
    Wafv2WebAcl, Wafv2WebAclVisibilityConfig,
};
use bindings::aws::wafv2_web_acl_logging_configuration::{
    RedactedFields, SingleHeader, Wafv2WebAclLoggingConfiguration,
};
use bindings::prelude::*;
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
) -> Value<ty::String> {
    let name = names.name("edge");
    let metric = |metric: &str| format!("{name}-{metric}");
    let visible = |m: &str| VisibilityConfig::new(true, metric(m), true);
    let mut rules = vec![Rule::new(
        "rate-limit-per-client",
        10,
        RuleStatement::new().rate_based_statement(
            RateBasedStatement::new(config.rate_limit)
                .aggregate_key_type("IP")
                .evaluation_window_sec(RATE_WINDOW_SECONDS),
        ),
        visible("rate-limit-per-client"),
    )
    .action(Action::new().block(ActionBlock::new()))];
    for (priority, (group, metric)) in (20..).step_by(10).zip(MANAGED_RULE_GROUPS) {
        rules.push(
            Rule::new(
                group,
                priority,
                RuleStatement::new()
                    .managed_rule_group_statement(ManagedRuleGroupStatement::new(group, "AWS")),
                visible(metric),
            )
            // The group's own actions (block) apply.
            .override_action(OverrideAction::new().none(OverrideActionNone::new())),
        );
    }
    let acl = stack.add(
        Wafv2WebAcl::new(
            "edge",
            DefaultAction::new().allow(Allow::new()),
            "REGIONAL",
            Wafv2WebAclVisibilityConfig::new(true, metric("all"), true),
        )
        .name(&name)
        .description("In front of the service's ALB: managed rules and a rate limit per client")
        .rule(rules)
        .tags(name_tags(&name, [])),
    );

    // WAF delivers its log only to a group whose name starts with this.
    let log_group = stack.add(
        CloudwatchLogGroup::new("waf")
            .name(format!("aws-waf-logs-{name}"))
            .retention_in_days(config.log_retention_days)
            .kms_key_id(&network.logs_kms_key_arn)
            .tags(name_tags(&names.name("waf-logs"), [])),
    );
    // Declared here rather than left to WAF to add on first use, so it is
    // reviewed, scoped to this group and account, and removed on destroy.
    let region = partition.region.as_str();
    let delivery = stack.add(CloudwatchLogResourcePolicy::new(
        "waf",
        policy([
            Statement::allow(["logs:CreateLogStream", "logs:PutLogEvents"])
                .sid("WafLogDelivery")
                .principal("Service", partition.service("delivery.logs"))
                .on([Value::template([
                    Expr::from(log_group.arn()),
                    Expr::from(":*"),
                ])])
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
        names.name("waf-log-delivery"),
    ));
    stack.add(
        Wafv2WebAclLoggingConfiguration::new("edge", [log_group.arn()], acl.arn())
            // Credentials a client sends never reach the log.
            .redacted_fields(
                ["authorization", "cookie"]
                    .map(|header| RedactedFields::new().single_header(SingleHeader::new(header))),
            )
            .depends_on(&delivery),
    );
    acl.arn()
}
