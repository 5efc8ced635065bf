//! Paths in and out: NAT gateways, public IPv4 addresses, load balancers,
//! VPC endpoints, DNS.

use serde_json::Value;

use super::{hours, line};
use crate::config::UsageKey;
use crate::cost::prices::PriceKey;
use crate::cost::{Ctx, Line};
use crate::inventory::Block;

pub(super) fn nat_gateway(block: &Block, ctx: &mut Ctx<'_>) -> Result<Vec<Line>, String> {
    let gb = ctx.usage(block, UsageKey::NatDataGb);
    Ok(vec![
        line(
            block,
            ctx,
            "NAT gateway",
            String::new(),
            hours(ctx),
            "h",
            ctx.table.price(PriceKey::NatGatewayHour),
        ),
        line(
            block,
            ctx,
            "data processed",
            String::new(),
            gb,
            "GB",
            ctx.table.price(PriceKey::NatGatewayGb),
        )
        .with_usage(UsageKey::NatDataGb),
    ])
}

pub(super) fn public_ipv4(block: &Block, ctx: &mut Ctx<'_>) -> Result<Vec<Line>, String> {
    Ok(vec![line(
        block,
        ctx,
        "public IPv4 address",
        String::new(),
        hours(ctx),
        "h",
        ctx.table.price(PriceKey::PublicIpv4Hour),
    )])
}

pub(super) fn load_balancer(block: &Block, ctx: &mut Ctx<'_>) -> Result<Vec<Line>, String> {
    let (name, hour, unit, capacity) =
        match block.text("load_balancer_type").unwrap_or("application") {
            "application" => ("ALB", PriceKey::AlbHour, "LCU-h", PriceKey::AlbLcuHour),
            "network" => ("NLB", PriceKey::NlbHour, "NLCU-h", PriceKey::NlbNlcuHour),
            other => {
                return Err(format!(
                    "load balancer type {other} is not in the price table"
                ))
            }
        };
    let internal = block
        .body
        .get("internal")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let units = ctx.usage(block, UsageKey::LbCapacityUnits);
    let mut lines = vec![
        line(
            block,
            ctx,
            "load balancer",
            name.into(),
            hours(ctx),
            "h",
            ctx.table.price(hour),
        ),
        line(
            block,
            ctx,
            "capacity units",
            format!("{units} {unit} on average"),
            units * hours(ctx),
            unit,
            ctx.table.price(capacity),
        )
        .with_usage(UsageKey::LbCapacityUnits),
    ];
    if !internal {
        // An internet-facing load balancer holds a public IPv4 address in
        // each of its subnets (one per AZ).
        let zones = block.subnets.len().max(1) as f64;
        lines.push(line(
            block,
            ctx,
            "public IPv4 addresses",
            format!("{zones:.0}, one per AZ"),
            zones * hours(ctx),
            "h",
            ctx.table.price(PriceKey::PublicIpv4Hour),
        ));
        let gb = ctx.usage(block, UsageKey::InternetEgressGb);
        lines.push(
            line(
                block,
                ctx,
                "data out to the internet",
                String::new(),
                gb,
                "GB",
                ctx.table.price(PriceKey::DataTransferOutGb),
            )
            .with_usage(UsageKey::InternetEgressGb),
        );
    }
    Ok(lines)
}

pub(super) fn vpc_endpoint(block: &Block, ctx: &mut Ctx<'_>) -> Result<Vec<Line>, String> {
    match block.text("vpc_endpoint_type").unwrap_or("Gateway") {
        "Gateway" => Ok(Vec::new()),
        "Interface" => {
            let zones = block.subnets.len().max(1) as f64;
            Ok(vec![line(
                block,
                ctx,
                "interface endpoint",
                format!("in {zones:.0} AZs"),
                zones * hours(ctx),
                "h",
                ctx.table.price(PriceKey::InterfaceEndpointHour),
            )])
        }
        other => Err(format!(
            "VPC endpoint type {other} is not in the price table"
        )),
    }
}

pub(super) fn hosted_zone(block: &Block, ctx: &mut Ctx<'_>) -> Result<Vec<Line>, String> {
    let queries = ctx.usage(block, UsageKey::Route53QueriesMillion);
    Ok(vec![
        line(
            block,
            ctx,
            "hosted zone",
            String::new(),
            1.0,
            "zone-month",
            ctx.table.price(PriceKey::Route53ZoneMonth),
        ),
        line(
            block,
            ctx,
            "DNS queries",
            String::new(),
            queries,
            "million",
            ctx.table.price(PriceKey::Route53QueriesMillion),
        )
        .with_usage(UsageKey::Route53QueriesMillion),
    ])
}
