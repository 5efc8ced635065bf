//! Regional services priced mostly by use: logs, keys, images, secrets,
//! WAF, buckets, queues, events, notifications, functions.

use serde_json::Value;

use super::line;
use crate::config::UsageKey;
use crate::cost::prices::{AssumptionKey, Price, PriceKey};
use crate::cost::{Ctx, Line};
use crate::inventory::Block;

pub(super) fn log_group(block: &Block, ctx: &mut Ctx<'_>) -> Result<Vec<Line>, String> {
    let gb = ctx.usage(block, UsageKey::LogIngestGb);
    // Flow logs are vended logs, priced apart from what applications send.
    let vended = ctx
        .inv
        .referrers(&block.address)
        .any(|r| r.ty == "aws_flow_log");
    let ingest = if vended {
        PriceKey::LogsVendedGb
    } else {
        PriceKey::LogsIngestGb
    };
    let retention_days = block.number("retention_in_days").filter(|d| *d > 0.0);
    // Never-expiring logs grow without end: shown after a year.
    let months = retention_days.map_or(12.0, |d| d * 12.0 / 365.0);
    let fraction = ctx
        .table
        .assumption(AssumptionKey::LogsStoredFraction)
        .clone();
    let storage = ctx.table.price(PriceKey::LogsStorageGbMonth);
    let mut stored = Line::new(
        block,
        "logs stored",
        format!(
            "{months:.1} months kept, compressed to {:.0}%",
            fraction.usd * 100.0
        ),
        (gb * months * fraction.usd, "GB-month"),
        storage.usd,
        vec![storage.clone(), fraction],
        ctx.count(block),
    )
    .with_usage(UsageKey::LogIngestGb);
    if retention_days.is_none() {
        stored.note = Some("no retention: storage keeps growing; shown after 12 months".into());
    }
    let detail = if vended { "flow logs, vended" } else { "" };
    Ok(vec![
        line(
            block,
            ctx,
            "logs ingested",
            detail.into(),
            gb,
            "GB",
            ctx.table.price(ingest),
        )
        .with_usage(UsageKey::LogIngestGb),
        stored,
    ])
}

pub(super) fn kms_key(block: &Block, ctx: &mut Ctx<'_>) -> Result<Vec<Line>, String> {
    let requests = ctx.usage(block, UsageKey::KmsRequests);
    Ok(vec![
        line(
            block,
            ctx,
            "key",
            "customer managed".into(),
            1.0,
            "key-month",
            ctx.table.price(PriceKey::KmsKeyMonth),
        ),
        line(
            block,
            ctx,
            "requests",
            String::new(),
            requests / 10_000.0,
            "10k requests",
            ctx.table.price(PriceKey::KmsRequests10k),
        )
        .with_usage(UsageKey::KmsRequests),
    ])
}

pub(super) fn ecr_repository(block: &Block, ctx: &mut Ctx<'_>) -> Result<Vec<Line>, String> {
    let gb = ctx.usage(block, UsageKey::EcrStorageGb);
    Ok(vec![line(
        block,
        ctx,
        "images stored",
        String::new(),
        gb,
        "GB-month",
        ctx.table.price(PriceKey::EcrStorageGbMonth),
    )
    .with_usage(UsageKey::EcrStorageGb)])
}

pub(super) fn secret(block: &Block, ctx: &mut Ctx<'_>) -> Result<Vec<Line>, String> {
    let calls = ctx.usage(block, UsageKey::SecretApiCalls);
    Ok(vec![
        line(
            block,
            ctx,
            "secret",
            String::new(),
            1.0,
            "secret-month",
            ctx.table.price(PriceKey::SecretMonth),
        ),
        line(
            block,
            ctx,
            "API calls",
            String::new(),
            calls / 10_000.0,
            "10k calls",
            ctx.table.price(PriceKey::SecretsApi10k),
        )
        .with_usage(UsageKey::SecretApiCalls),
    ])
}

pub(super) fn web_acl(block: &Block, ctx: &mut Ctx<'_>) -> Result<Vec<Line>, String> {
    let rules = match block.body.get("rule") {
        Some(Value::Array(items)) => items.len(),
        Some(Value::Object(_)) => 1,
        _ => 0,
    } as f64;
    let requests = ctx.usage(block, UsageKey::WafRequestsMillion);
    Ok(vec![
        line(
            block,
            ctx,
            "web ACL",
            String::new(),
            1.0,
            "ACL-month",
            ctx.table.price(PriceKey::WafWebAclMonth),
        ),
        line(
            block,
            ctx,
            "rules",
            format!("{rules:.0}"),
            rules,
            "rule-month",
            ctx.table.price(PriceKey::WafRuleMonth),
        ),
        line(
            block,
            ctx,
            "requests inspected",
            String::new(),
            requests,
            "million",
            ctx.table.price(PriceKey::WafRequestsMillion),
        )
        .with_usage(UsageKey::WafRequestsMillion),
    ])
}

pub(super) fn s3_bucket(block: &Block, ctx: &mut Ctx<'_>) -> Result<Vec<Line>, String> {
    let gb = ctx.usage(block, UsageKey::S3StorageGb);
    let puts = ctx.usage(block, UsageKey::S3PutRequests);
    let gets = ctx.usage(block, UsageKey::S3GetRequests);
    Ok(vec![
        line(
            block,
            ctx,
            "storage",
            "S3 Standard".into(),
            gb,
            "GB-month",
            ctx.table.price(PriceKey::S3StandardGbMonth),
        )
        .with_usage(UsageKey::S3StorageGb),
        line(
            block,
            ctx,
            "PUT/COPY/POST/LIST requests",
            String::new(),
            puts / 1_000.0,
            "1k requests",
            ctx.table.price(PriceKey::S3Put1k),
        )
        .with_usage(UsageKey::S3PutRequests),
        line(
            block,
            ctx,
            "GET requests",
            String::new(),
            gets / 1_000.0,
            "1k requests",
            ctx.table.price(PriceKey::S3Get1k),
        )
        .with_usage(UsageKey::S3GetRequests),
    ])
}

pub(super) fn sqs_queue(block: &Block, ctx: &mut Ctx<'_>) -> Result<Vec<Line>, String> {
    let requests = ctx.usage(block, UsageKey::SqsRequestsMillion);
    Ok(vec![line(
        block,
        ctx,
        "requests",
        String::new(),
        requests,
        "million",
        ctx.table.price(PriceKey::SqsRequestsMillion),
    )
    .with_usage(UsageKey::SqsRequestsMillion)])
}

/// A rule costs nothing itself; custom events published to it do. Events
/// AWS services send to the default bus (spot interruptions, instance state
/// changes, health events) are delivered to rules for free, so a rule that
/// only matches those costs nothing at all.
pub(super) fn event_rule(block: &Block, ctx: &mut Ctx<'_>) -> Result<Vec<Line>, String> {
    if block.body.get("event_bus_name").is_none() && matches_aws_events_only(block) {
        return Ok(Vec::new());
    }
    let events = ctx.usage(block, UsageKey::EventbridgeEventsMillion);
    Ok(vec![line(
        block,
        ctx,
        "custom events",
        "events from AWS services are free".into(),
        events,
        "million",
        ctx.table.price(PriceKey::EventbridgeEventsMillion),
    )
    .with_usage(UsageKey::EventbridgeEventsMillion)])
}

/// Whether the rule's event pattern names sources, all of them AWS services
/// (`aws.ec2`), as terraform writes it: JSON, or `jsonencode({ ... })`.
fn matches_aws_events_only(block: &Block) -> bool {
    let pattern = block.text("event_pattern").unwrap_or_default();
    let Some(rest) = pattern
        .split_once("\"source\"")
        .map(|(_, rest)| rest.trim_start_matches([' ', ':', '=']))
    else {
        return false;
    };
    let Some(list) = rest
        .strip_prefix('[')
        .and_then(|r| r.split_once(']'))
        .map(|(list, _)| list)
    else {
        return false;
    };
    let sources: Vec<&str> = list
        .split(',')
        .map(|s| s.trim().trim_matches('"'))
        .collect();
    !sources.is_empty() && sources.iter().all(|s| s.starts_with("aws."))
}

/// Publishes to the topic and the notifications it delivers. Who subscribes
/// is not in terraform (people add e-mail, chat or paging endpoints), so
/// deliveries are usage inputs; deliveries to SQS and Lambda are free, SMS is
/// priced per country and not estimated.
pub(super) fn sns_topic(block: &Block, ctx: &mut Ctx<'_>) -> Result<Vec<Line>, String> {
    let requests = ctx.usage(block, UsageKey::SnsRequestsMillion);
    let email = ctx.usage(block, UsageKey::SnsEmailNotifications);
    let https = ctx.usage(block, UsageKey::SnsHttpsNotifications);
    Ok(vec![
        line(
            block,
            ctx,
            "publishes",
            String::new(),
            requests,
            "million",
            ctx.table.price(PriceKey::SnsRequestsMillion),
        )
        .with_usage(UsageKey::SnsRequestsMillion),
        line(
            block,
            ctx,
            "e-mail notifications",
            String::new(),
            email / 100_000.0,
            "100k",
            ctx.table.price(PriceKey::SnsEmail100k),
        )
        .with_usage(UsageKey::SnsEmailNotifications),
        line(
            block,
            ctx,
            "HTTP(S) notifications",
            String::new(),
            https / 1_000_000.0,
            "million",
            ctx.table.price(PriceKey::SnsHttpsMillion),
        )
        .with_usage(UsageKey::SnsHttpsNotifications),
    ])
}

/// A Lambda function: its requests, and its compute (GB-seconds: the
/// invocations times their billed duration times the configured memory,
/// 128 MB when unset).
pub(super) fn lambda_function(block: &Block, ctx: &mut Ctx<'_>) -> Result<Vec<Line>, String> {
    let invocations = ctx.usage(block, UsageKey::LambdaInvocations);
    let duration_ms = ctx.usage(block, UsageKey::LambdaDurationMs);
    let memory_mb = block
        .body
        .get("memory_size")
        .and_then(Value::as_f64)
        .unwrap_or(128.0);
    let gb_seconds = invocations * duration_ms / 1000.0 * memory_mb / 1024.0;
    // AWS prices requests by the million; a function here runs a few
    // thousand times a month, so its line counts thousands.
    let per_million = ctx.table.price(PriceKey::LambdaRequestsMillion);
    let per_thousand = Price {
        usd: per_million.usd / 1000.0,
        per: "1,000 Lambda requests".to_owned(),
        ..per_million.clone()
    };
    Ok(vec![
        line(
            block,
            ctx,
            "requests",
            String::new(),
            invocations / 1000.0,
            "1k requests",
            &per_thousand,
        )
        .with_usage(UsageKey::LambdaInvocations),
        line(
            block,
            ctx,
            "compute",
            format!("{memory_mb} MB"),
            gb_seconds,
            "GB-s",
            ctx.table.price(PriceKey::LambdaGbSecond),
        )
        .with_usage(UsageKey::LambdaInvocations)
        .with_usage(UsageKey::LambdaDurationMs),
    ])
}
