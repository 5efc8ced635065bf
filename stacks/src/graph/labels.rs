//! What each drawn resource is called and the few facts shown under its
//! name, read from its attributes. Types not named here are drawn with a
//! name made from their type, so a new component's resources appear without
//! a change here; a line here only makes them read better.

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
    "aws_cloudwatch_event_target",
    "aws_secretsmanager_secret_version",
    "aws_acm_certificate_validation",
    "aws_route53_record",
    "aws_wafv2_web_acl_association",
    "aws_wafv2_web_acl_logging_configuration",
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
        "aws_lb" => load_balancer(block),
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
        "aws_instance" => instances(block),
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
        "aws_s3_bucket" => (NodeKind::Store, "S3 bucket".into(), vec![text("bucket")]),
        "aws_sqs_queue" => (NodeKind::Store, "SQS queue".into(), vec![text("name")]),
        "aws_secretsmanager_secret" => (NodeKind::Store, "secret".into(), vec![text("name")]),
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

fn endpoint_service(name: &str) -> String {
    name.rsplit('.').next().unwrap_or(name).to_owned()
}

fn load_balancer(block: &Block) -> (NodeKind, String, Vec<String>) {
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
    (
        NodeKind::Compute,
        format!(
            "node group {}",
            block.text("node_group_name").unwrap_or(&block.name)
        ),
        detail,
    )
}

fn instances(block: &Block) -> (NodeKind, String, Vec<String>) {
    let count = block.count.map_or(String::new(), |c| {
        format!("{} expected ({} to {})", c.expected, c.min, c.max)
    });
    (
        NodeKind::Compute,
        format!("{} instances", block.text("instance_type").unwrap_or("EC2")),
        vec![count],
    )
}

fn release(block: &Block, inv: &Inventory) -> (NodeKind, String, Vec<String>) {
    let name = block.text("name").unwrap_or(&block.name).to_owned();
    let namespace = match block.body.get("namespace") {
        Some(Value::String(s)) if !s.contains("${") => s.clone(),
        // The namespace of a release that creates it is a reference.
        _ => inv
            .blocks
            .iter()
            .filter(|b| block.refs.contains(&b.address) && b.ty == "kubernetes_namespace_v1")
            .find_map(|ns| {
                ns.nested("metadata")?
                    .get("name")?
                    .as_str()
                    .map(str::to_owned)
            })
            .unwrap_or_default(),
    };
    if block.body.get("repository").is_some() {
        let chart = block.text("chart").unwrap_or_default();
        let version = block.text("version").unwrap_or_default();
        return (
            NodeKind::Addon,
            chart.to_owned(),
            vec![format!("chart {version}, namespace {namespace}")],
        );
    }
    let mut detail = vec![format!("namespace {namespace}")];
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
