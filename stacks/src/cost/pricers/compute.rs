//! Compute and its storage: the EKS control plane, node groups and
//! instances (on-demand or spot), EBS volumes.

use serde_json::Value;

use super::{hours, line};
use crate::config::parse_kubernetes_version;
use crate::cost::prices::{AssumptionKey, PriceKey};
use crate::cost::{Ctx, Line};
use crate::inventory::Block;

pub(super) fn eks_cluster(block: &Block, ctx: &mut Ctx<'_>) -> Result<Vec<Line>, String> {
    let version = block.text("version").ok_or("no literal `version`")?;
    parse_kubernetes_version(version)?;
    let support = ctx
        .table
        .eks_versions
        .get(version)
        .ok_or_else(|| format!("Kubernetes {version} has no support window in the price table"))?
        .clone();
    let extended = ctx.as_of > support.standard_until;
    let (key, phase) = if extended {
        (
            PriceKey::EksExtendedSupportHour,
            format!("extended support since {}", support.standard_until),
        )
    } else {
        (
            PriceKey::EksClusterHour,
            format!("standard support until {}", support.standard_until),
        )
    };
    let step_up = (ctx.table.price(PriceKey::EksExtendedSupportHour).usd
        - ctx.table.price(PriceKey::EksClusterHour).usd)
        * hours(ctx);
    let notice = if ctx.as_of > support.extended_until {
        Some(format!(
            "Kubernetes {version} left extended support on {}; EKS upgrades such clusters itself",
            support.extended_until
        ))
    } else if extended {
        Some(format!(
            "Kubernetes {version} is in extended support since {}: ${step_up:.2} a month more than \
             standard support, until {}; upgrading to a version in standard support saves it",
            support.standard_until, support.extended_until
        ))
    } else if support.standard_until.days() - ctx.as_of.days() <= 90 {
        Some(format!(
            "Kubernetes {version} leaves standard support on {}; from then the control plane costs \
             ${step_up:.2} a month more until it is upgraded",
            support.standard_until
        ))
    } else {
        None
    };
    if let Some(text) = notice {
        ctx.notice(block, text);
    }
    let price = ctx.table.price(key).clone();
    Ok(vec![line(
        block,
        ctx,
        "control plane",
        format!("Kubernetes {version}, {phase}"),
        hours(ctx),
        "h",
        &price,
    )])
}

/// An instance of `instance_type` for every hour of the month, at the spot
/// discount when `spot`.
fn instances(
    block: &Block,
    ctx: &Ctx<'_>,
    what: &str,
    instance_type: &str,
    spot: bool,
) -> Result<Line, String> {
    let on_demand = ctx
        .table
        .ec2
        .get(instance_type)
        .ok_or_else(|| format!("instance type {instance_type} is not in the price table"))?;
    let mut prices = vec![on_demand.clone()];
    let mut usd = on_demand.usd;
    let mut detail = format!("{instance_type}, on-demand");
    if spot {
        let discount = ctx.table.assumption(AssumptionKey::SpotDiscount);
        usd *= 1.0 - discount.usd;
        detail = format!(
            "{instance_type}, spot at {:.0}% below on-demand (assumed)",
            discount.usd * 100.0
        );
        prices.push(discount.clone());
    }
    Ok(Line::new(
        block,
        what,
        detail,
        (hours(ctx), "instance-h"),
        usd,
        prices,
        ctx.count(block),
    ))
}

/// One EBS volume (`volume_size`/`size`, `volume_type`/`type`, `iops`,
/// `throughput`) per instance of the block.
fn volumes(block: &Block, ctx: &Ctx<'_>, what: &str, ebs: &Value) -> Result<Vec<Line>, String> {
    let size = ebs
        .get("volume_size")
        .or_else(|| ebs.get("size"))
        .and_then(Value::as_f64)
        .ok_or("volume size is not a literal number")?;
    let ty = ebs
        .get("volume_type")
        .or_else(|| ebs.get("type"))
        .and_then(Value::as_str)
        .unwrap_or("gp3");
    let storage = match ty {
        "gp3" => PriceKey::EbsGp3GbMonth,
        "gp2" => PriceKey::EbsGp2GbMonth,
        other => return Err(format!("EBS volume type {other} is not in the price table")),
    };
    let mut lines = vec![line(
        block,
        ctx,
        what,
        format!("{ty}, {size:.0} GB each"),
        size,
        "GB-month",
        ctx.table.price(storage),
    )];
    let iops = ebs.get("iops").and_then(Value::as_f64).unwrap_or(3000.0);
    if ty == "gp3" && iops > 3000.0 {
        lines.push(line(
            block,
            ctx,
            "provisioned IOPS",
            format!("{iops:.0} IOPS, 3,000 included"),
            iops - 3000.0,
            "IOPS-month",
            ctx.table.price(PriceKey::EbsGp3IopsMonth),
        ));
    }
    let throughput = ebs
        .get("throughput")
        .and_then(Value::as_f64)
        .unwrap_or(125.0);
    if ty == "gp3" && throughput > 125.0 {
        lines.push(line(
            block,
            ctx,
            "provisioned throughput",
            format!("{throughput:.0} MB/s, 125 included"),
            throughput - 125.0,
            "MB/s-month",
            ctx.table.price(PriceKey::EbsGp3ThroughputMonth),
        ));
    }
    Ok(lines)
}

pub(super) fn node_group(block: &Block, ctx: &mut Ctx<'_>) -> Result<Vec<Line>, String> {
    let template = ctx.inv.referenced(block, "aws_launch_template");
    let types = block.strings("instance_types");
    let instance_type = types
        .first()
        .copied()
        .or_else(|| template.and_then(|t| t.text("instance_type")))
        // EKS launches t3.medium when neither the group nor its template says.
        .unwrap_or("t3.medium");
    let spot = block.text("capacity_type") == Some("SPOT");
    let mut nodes = instances(block, ctx, "nodes", instance_type, spot)?;
    if types.len() > 1 {
        nodes.note = Some(format!(
            "priced as {instance_type}, the first of {}",
            types.join(", ")
        ));
    }
    // The root volume of the launch template, else EKS's default (`disk_size`, gp2).
    let root = template
        .and_then(|t| t.nested("block_device_mappings"))
        .and_then(|m| match m.get("ebs")? {
            Value::Array(items) => items.first().cloned(),
            other => Some(other.clone()),
        })
        .unwrap_or_else(|| {
            serde_json::json!({
                "volume_size": block.number("disk_size").unwrap_or(20.0),
                "volume_type": "gp2"
            })
        });
    let mut lines = vec![nodes];
    lines.extend(volumes(block, ctx, "root volumes", &root)?);
    Ok(lines)
}

pub(super) fn instance(block: &Block, ctx: &mut Ctx<'_>) -> Result<Vec<Line>, String> {
    let instance_type = block
        .text("instance_type")
        .ok_or("no literal `instance_type`")?;
    let spot = block.text("capacity_type") == Some("spot")
        || block
            .nested("instance_market_options")
            .and_then(|m| m.get("market_type"))
            .and_then(Value::as_str)
            == Some("spot");
    let mut lines = vec![instances(block, ctx, "instances", instance_type, spot)?];
    if let Some(root) = block.nested("root_block_device") {
        lines.extend(volumes(block, ctx, "root volumes", root)?);
    }
    // Detailed monitoring (1-minute metrics) is billed per metric sent.
    if block.body.get("monitoring").and_then(Value::as_bool) == Some(true) {
        let metrics = ctx
            .table
            .assumption(AssumptionKey::DetailedMonitoringMetrics)
            .clone();
        let price = ctx.table.price(PriceKey::CloudwatchMetricMonth).clone();
        lines.push(Line::new(
            block,
            "detailed monitoring",
            format!("{:.0} metrics each, at 1-minute resolution", metrics.usd),
            (metrics.usd, "metric-month"),
            price.usd,
            vec![price, metrics],
            ctx.count(block),
        ));
    }
    Ok(lines)
}

pub(super) fn ebs_volume(block: &Block, ctx: &mut Ctx<'_>) -> Result<Vec<Line>, String> {
    volumes(block, ctx, "volume", &block.body)
}
