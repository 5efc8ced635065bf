//! What each drawn resource is called and the few facts shown under its
//! name, read from its attributes. Types not named here are drawn with a
//! name made from their type, so a new component's resources appear without
//! a change here; a line here only makes them read better, or hides
//! plumbing whose meaning shows elsewhere (the EventBridge rules feeding a
//! queue are a line of the queue).

use serde_json::Value;

use super::model::NodeKind;
use crate::inventory::{Block, Inventory};

/// Types never drawn: plumbing a reader does not look for in an
/// architecture picture (their meaning shows as groups, edges or details).
const HIDDEN: &[&str] = &[
    "aws_vpc",
    "aws_subnet",
    "aws_route",
    "aws_route_table",
    "aws_route_table_association",
    "aws_default_security_group",
    "aws_security_group",
    "aws_security_group_rule",
    "aws_vpc_security_group_*",
    "aws_iam_policy",
    "aws_iam_role_policy",
    "aws_iam_role_policy_attachment",
    "aws_iam_openid_connect_provider",
    "aws_iam_instance_profile",
    "aws_kms_alias",
    "aws_launch_template",
    "aws_eks_access_entry",
    "aws_eks_access_policy_association",
    "aws_eks_pod_identity_association",
    "aws_ecr_lifecycle_policy",
    "aws_ecr_repository_policy",
    "aws_lb_listener",
    "aws_lb_listener_rule",
    "aws_lb_target_group",
    "aws_s3_bucket_*",
    "aws_sqs_queue_policy",
    "aws_sns_topic_policy",
    "aws_sns_topic_subscription",
    "aws_cloudwatch_event_rule",
    "aws_cloudwatch_event_target",
    "aws_ec2_tag",
    "aws_secretsmanager_secret_version",
    "aws_acm_certificate_validation",
    "aws_route53_record",
    "aws_wafv2_web_acl_association",
    "aws_wafv2_web_acl_logging_configuration",
    "aws_cloudwatch_log_resource_policy",
    "aws_lambda_permission",
    "aws_secretsmanager_secret_rotation",
    "kubernetes_*",
];

pub(super) fn is_hidden(ty: &str) -> bool {
    HIDDEN.iter().any(|h| match h.strip_suffix('*') {
        Some(prefix) => ty.starts_with(prefix),
        None => *h == ty,
    })
}

/// The kind, name and detail lines of a block drawn as a node.
pub(super) fn describe(block: &Block, inv: &Inventory) -> (NodeKind, String, Vec<String>) {
    let text = |attr: &str| block.text(attr).unwrap_or_default().to_owned();
    match block.ty.as_str() {
        "aws_internet_gateway" => (NodeKind::Gateway, "internet gateway".into(), Vec::new()),
        "aws_nat_gateway" => {
            let eip = block.refs.iter().any(|r| r.starts_with("aws_eip."));
            let detail = if eip {
                vec!["Elastic IP".into()]
            } else {
                Vec::new()
            };
            (NodeKind::Nat, "NAT gateway".into(), detail)
        }
        "aws_lb" => load_balancer(block, inv),
        "aws_vpc_endpoint" => (
            NodeKind::Gateway,
            format!("{} endpoint", text("vpc_endpoint_type").to_lowercase()),
            vec![endpoint_service(&text("service_name"))],
        ),
        "aws_flow_log" => (
            NodeKind::Other,
            "flow logs".into(),
            vec![format!("{} traffic", text("traffic_type"))],
        ),
        "aws_eks_cluster" => control_plane(block),
        "aws_eks_node_group" => node_group(block, inv),
        "aws_instance" => instance(block, inv),
        "helm_release" => release(block, inv),
        "aws_iam_role" => (NodeKind::Role, "IAM role".into(), vec![text("name")]),
        "aws_cloudwatch_log_group" => (
            NodeKind::Store,
            "log group".into(),
            vec![
                text("name"),
                match block.number("retention_in_days") {
                    Some(days) => format!("kept {days} days"),
                    None => "kept forever".into(),
                },
            ],
        ),
        "aws_kms_key" => (NodeKind::Store, "KMS key".into(), vec![text("description")]),
        "aws_ecr_repository" => (NodeKind::Store, "ECR repository".into(), vec![text("name")]),
        "aws_s3_bucket" => (
            NodeKind::Store,
            "S3 bucket".into(),
            vec![readable(&text("bucket"))],
        ),
        "aws_sqs_queue" => queue(block, inv),
        "aws_sns_topic" => (NodeKind::Store, "SNS topic".into(), vec![text("name")]),
        "aws_secretsmanager_secret" => (NodeKind::Store, "secret".into(), vec![text("name")]),
        "aws_acm_certificate" => (
            NodeKind::Other,
            "ACM certificate".into(),
            vec![
                text("domain_name"),
                format!("{} validation", text("validation_method").to_lowercase()),
            ],
        ),
        "aws_wafv2_web_acl" => web_acl(block),
        "aws_lambda_function" => (
            NodeKind::Other,
            "Lambda function".into(),
            vec![text("function_name"), text("runtime")],
        ),
        _ => (
            NodeKind::Other,
            block.ty.trim_start_matches("aws_").replace('_', " "),
            [text("name")]
                .into_iter()
                .filter(|n| !n.is_empty())
                .collect(),
        ),
    }
}

/// A web ACL: its name and how many rules it has.
fn web_acl(block: &Block) -> (NodeKind, String, Vec<String>) {
    let mut detail = vec![block.text("name").unwrap_or_default().to_owned()];
    if let Some(Value::Array(rules)) = block.body.get("rule") {
        detail.push(format!("{} rules", rules.len()));
    }
    (NodeKind::Other, "WAF web ACL".into(), detail)
}

/// A name with the parts terraform fills in shown as such: the account's
/// id as `<account>`, anything else as `<...>`.
fn readable(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some((before, after)) = rest.split_once("${") {
        out.push_str(before);
        let (inner, tail) = after.split_once('}').unwrap_or((after, ""));
        out.push_str(if inner.ends_with(".account_id") {
            "<account>"
        } else {
            "<...>"
        });
        rest = tail;
    }
    out.push_str(rest);
    out
}

fn endpoint_service(name: &str) -> String {
    name.rsplit('.').next().unwrap_or(name).to_owned()
}

fn load_balancer(block: &Block, inv: &Inventory) -> (NodeKind, String, Vec<String>) {
    let name = match block.text("load_balancer_type").unwrap_or("application") {
        "network" => "NLB",
        "application" => "ALB",
        other => other,
    };
    let internal = block.body.get("internal").and_then(Value::as_bool) == Some(true);
    let mut detail = vec![if internal {
        "internal"
    } else {
        "internet-facing"
    }
    .to_owned()];
    let listeners: Vec<String> = match block.body.get("listener") {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|l| {
                Some(format!(
                    "{}/{}",
                    l.get("port")?,
                    l.get("protocol")?.as_str()?
                ))
            })
            .collect(),
        _ => Vec::new(),
    };
    if !listeners.is_empty() {
        detail.push(format!("listens {}", listeners.join(", ")));
    }
    // A controller's load balancer: for whose Service.
    if let crate::inventory::Kind::Estimated(origin) = &block.kind {
        if let Some(cause) = inv.get(&origin.created_by) {
            let release = cause.text("name").unwrap_or(&cause.name);
            detail.push(if release == block.name {
                format!("for {release}")
            } else {
                format!("for {}, of {release}", block.name)
            });
        }
        // Its public name: the alias record of the load balancer the module
        // looks up under the estimate's name (`data.aws_lb.<name>`).
        let lookup = format!("data.aws_lb.{}", block.name);
        for record in inv.referrers(&lookup) {
            if record.ty == "aws_route53_record" {
                detail.push(format!(
                    "public name {}",
                    record.text("name").unwrap_or_default()
                ));
            }
        }
    }
    (NodeKind::LoadBalancer, name.into(), detail)
}

fn control_plane(block: &Block) -> (NodeKind, String, Vec<String>) {
    let mut detail = vec![format!(
        "Kubernetes {}",
        block.text("version").unwrap_or("?")
    )];
    if let Some(vpc) = block.nested("vpc_config") {
        let public = vpc.get("endpoint_public_access").and_then(Value::as_bool) == Some(true);
        let cidrs: Vec<&str> = vpc
            .get("public_access_cidrs")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        detail.push(if public {
            format!("API: private, and public from {}", cidrs.join(", "))
        } else {
            "API: private only".into()
        });
    }
    (NodeKind::ControlPlane, "EKS control plane".into(), detail)
}

fn node_group(block: &Block, inv: &Inventory) -> (NodeKind, String, Vec<String>) {
    let types = block.strings("instance_types");
    let scaling = block.nested("scaling_config");
    let size = |k: &str| {
        scaling
            .and_then(|s| s.get(k))
            .and_then(Value::as_u64)
            .unwrap_or(0)
    };
    let capacity = match block.text("capacity_type") {
        Some("SPOT") => "spot",
        _ => "on-demand",
    };
    let disk = inv
        .referenced(block, "aws_launch_template")
        .and_then(|t| t.nested("block_device_mappings"))
        .and_then(|m| m.get("ebs"))
        .and_then(|ebs| ebs.get("volume_size"))
        .and_then(Value::as_u64);
    let mut detail = vec![
        types.join(", "),
        format!(
            "{capacity}, {} nodes ({} to {}) across {} AZs",
            size("desired_size"),
            size("min_size"),
            size("max_size"),
            block.subnets.len()
        ),
    ];
    if let Some(gb) = disk {
        detail.push(format!("{gb} GB encrypted root volumes"));
    }
    // A taint keeps every pod that does not tolerate it off these nodes.
    let taints: Vec<String> = match block.body.get("taint") {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|t| {
                let key = t.get("key")?.as_str()?;
                Some(match t.get("value").and_then(Value::as_str) {
                    Some(value) => format!("{key}={value}"),
                    None => key.to_owned(),
                })
            })
            .collect(),
        _ => Vec::new(),
    };
    if !taints.is_empty() {
        detail.push(format!("tainted {}", taints.join(", ")));
    }
    (
        NodeKind::Compute,
        format!(
            "node group {}",
            block.text("node_group_name").unwrap_or(&block.name)
        ),
        detail,
    )
}

/// An instance terraform manages (with its type and how it is reached), or
/// the nodes a NodePool is estimated to launch.
fn instance(block: &Block, inv: &Inventory) -> (NodeKind, String, Vec<String>) {
    let instance_type = block.text("instance_type").unwrap_or("EC2").to_owned();
    let tags = block.body.get("tags");
    let tag = |key: &str| tags.and_then(|t| t.get(key)).and_then(Value::as_str);
    if let (Some(pool), Some(count)) = (tag(crate::karpenter::NODEPOOL_TAG), block.count) {
        let capacity = block.text("capacity_type").unwrap_or("on-demand");
        return (
            NodeKind::Compute,
            format!("NodePool {pool}"),
            vec![
                "nodes Karpenter launches".into(),
                format!("{instance_type} assumed, {capacity}"),
                format!(
                    "{} expected ({} to {}) across {} AZs",
                    count.expected,
                    count.min,
                    count.max,
                    block.subnets.len()
                ),
            ],
        );
    }
    let mut detail = vec![tag("Name").unwrap_or(&block.name).to_owned(), instance_type];
    let ssm = inv
        .referenced(block, "aws_iam_instance_profile")
        .and_then(|profile| inv.referenced(profile, "aws_iam_role"))
        .is_some_and(|role| {
            inv.referrers(&role.address).any(|b| {
                b.text("policy_arn")
                    .is_some_and(|arn| arn.ends_with("/AmazonSSMManagedInstanceCore"))
            })
        });
    if ssm {
        detail.push("managed by Systems Manager".into());
    }
    if block
        .body
        .get("associate_public_ip_address")
        .and_then(Value::as_bool)
        != Some(true)
    {
        detail.push("no public address".into());
    }
    (NodeKind::Compute, "EC2 instance".into(), detail)
}

/// A queue, with the EventBridge rules that feed it (their sources).
fn queue(block: &Block, inv: &Inventory) -> (NodeKind, String, Vec<String>) {
    let mut detail = vec![block.text("name").unwrap_or_default().to_owned()];
    let rules: Vec<&Block> = inv
        .referrers(&block.address)
        .filter(|t| t.ty == "aws_cloudwatch_event_target")
        .filter_map(|t| inv.referenced(t, "aws_cloudwatch_event_rule"))
        .collect();
    if !rules.is_empty() {
        let mut sources: Vec<String> = rules
            .iter()
            .filter_map(|r| {
                let pattern = r.text("event_pattern")?;
                let start = pattern.find("\"aws.")? + 1;
                let source = pattern[start..].split('"').next()?;
                Some(source.to_owned())
            })
            .collect();
        sources.sort();
        sources.dedup();
        detail.push(format!(
            "fed by {} EventBridge rules ({})",
            rules.len(),
            sources.join(", ")
        ));
    }
    (NodeKind::Store, "SQS queue".into(), detail)
}

/// A release: an add-on's chart, the service's own chart, or a chart of
/// custom resources; its namespace is the box it is drawn in.
fn release(block: &Block, inv: &Inventory) -> (NodeKind, String, Vec<String>) {
    let name = block.text("name").unwrap_or(&block.name).to_owned();
    let delivered = match &block.kind {
        crate::inventory::Kind::Delivered(d) => Some(format!("from git, sync wave {}", d.wave)),
        _ => None,
    };
    if block.body.get("repository").is_some() {
        let chart = block.text("chart").unwrap_or_default();
        let version = block.text("version").unwrap_or_default();
        let mut detail = vec![format!("chart {version}")];
        detail.extend(delivered);
        return (NodeKind::Addon, chart.to_owned(), detail);
    }
    if super::cluster::is_custom_resources(block) {
        let mut detail = vec!["custom resources".to_owned()];
        detail.extend(delivered);
        return (NodeKind::Other, name, detail);
    }
    let mut detail: Vec<String> = delivered.into_iter().collect();
    if let Some(scaling) = local_values(block, inv).and_then(|v| v.get("autoscaling").cloned()) {
        if let (Some(min), Some(max)) = (scaling.get("minReplicas"), scaling.get("maxReplicas")) {
            detail.push(format!("{min} to {max} pods"));
        }
    }
    (NodeKind::Service, name, detail)
}

/// The local a release's values document is made from (`yamlencode(local.x)`).
fn local_values<'a>(block: &Block, inv: &'a Inventory) -> Option<&'a Value> {
    let docs = block.body.get("values")?.as_array()?;
    docs.iter().filter_map(Value::as_str).find_map(|doc| {
        let name = doc.split("local.").nth(1)?;
        let name: String = name
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        inv.locals.get(&name)
    })
}
