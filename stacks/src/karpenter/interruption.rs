//! The interruption queue: EC2 and AWS Health tell Karpenter, through
//! EventBridge rules into one SQS queue, that a node is about to go (spot
//! reclaim, rebalance recommendation, scheduled maintenance, a stopped or
//! terminated instance), so it drains the node and starts its replacement
//! before the instance disappears instead of after.
//!
//! As terraform-aws-modules/eks's `modules/karpenter`: messages are kept five
//! minutes (an older warning is stale), encrypted with SQS-managed keys, and
//! the queue refuses anything but TLS. Narrower than the module: only
//! EventBridge may send, and only from these rules (`aws:SourceArn`), which
//! AWS documents for EventBridge targets; the module's extra
//! `sqs.amazonaws.com` principal has no sender here.

use bindings::aws::cloudwatch_event_rule::CloudwatchEventRule;
use bindings::aws::cloudwatch_event_target::CloudwatchEventTarget;
use bindings::aws::sqs_queue::SqsQueue;
use bindings::aws::sqs_queue_policy::SqsQueuePolicy;
use serde_json::json;
use synth::{Expr, Stack};

use crate::aws::{json_encode, name_tags, policy, Names, Partition, Statement};

/// Seconds a message is kept: a warning older than this is no longer useful.
const RETENTION_SECONDS: u32 = 300;

/// Target id of every rule's one target, as upstream names it.
const TARGET_ID: &str = "KarpenterInterruptionQueueTarget";

/// One EventBridge rule: resource id, name suffix, event source and detail
/// type. The events of Karpenter 1.14's CloudFormation reference.
const EVENTS: &[(&str, &str, &str, &str)] = &[
    ("health", "health", "aws.health", "AWS Health Event"),
    (
        "spot_interruption",
        "spot-interruption",
        "aws.ec2",
        "EC2 Spot Instance Interruption Warning",
    ),
    (
        "rebalance",
        "rebalance",
        "aws.ec2",
        "EC2 Instance Rebalance Recommendation",
    ),
    (
        "state_change",
        "state-change",
        "aws.ec2",
        "EC2 Instance State-change Notification",
    ),
    (
        "capacity_reservation",
        "reservation",
        "aws.ec2",
        "EC2 Capacity Reservation Instance Interruption Warning",
    ),
];

/// What the controller needs of the queue: expressions, because they go to
/// the chart's values and to IAM statements, neither of them schema-typed.
#[derive(Debug)]
pub struct Queue {
    pub name: Expr,
    pub arn: Expr,
    /// The EventBridge rules that send to it.
    pub rule_arns: Vec<Expr>,
}

pub fn interruption_queue(stack: &mut Stack, names: &Names, partition: &Partition) -> Queue {
    let name = names.name("karpenter");
    let queue = stack.add(
        SqsQueue::new("karpenter_interruption")
            .name(&name)
            .message_retention_seconds(RETENTION_SECONDS)
            // The events carry instance ids and times, nothing a customer key
            // would add to (and EventBridge would need a grant on it).
            .sqs_managed_sse_enabled(true)
            .tags(name_tags(&name, [])),
    );

    let mut rule_arns: Vec<Expr> = Vec::new();
    for (id, suffix, source, detail_type) in EVENTS {
        let rule_name = names.name(&format!("karpenter-{suffix}"));
        let rule = stack.add(
            CloudwatchEventRule::new(&format!("karpenter_{id}"))
                .name(&rule_name)
                .description(format!(
                    "Karpenter interruption handling of {}: {detail_type}",
                    names.cluster()
                ))
                .event_pattern(json_encode(Expr::from(&json!({
                    "source": [source],
                    "detail-type": [detail_type],
                }))))
                .tags(name_tags(&rule_name, [])),
        );
        stack.add(
            CloudwatchEventTarget::new(&format!("karpenter_{id}"), queue.arn(), rule.name())
                .target_id(TARGET_ID),
        );
        rule_arns.push(rule.arn().into());
    }

    let send = Statement::allow(["sqs:SendMessage"])
        .sid("EventBridgeRulesSend")
        .principal("Service", partition.service("events"))
        .on([queue.arn()])
        .condition("ArnEquals", "aws:SourceArn", Expr::list(rule_arns.clone()));
    let tls_only = Statement::deny(["sqs:*"])
        .sid("DenyHTTP")
        .principal("AWS", "*")
        .on([queue.arn()])
        .condition("Bool", "aws:SecureTransport", "false");
    stack.add(SqsQueuePolicy::new(
        "karpenter_interruption",
        policy([send, tls_only]),
        queue.id(),
    ));

    Queue {
        name: queue.name().into(),
        arn: queue.arn().into(),
        rule_arns,
    }
}
