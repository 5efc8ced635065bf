//! The `[usage]` section: what an environment is expected to do in a month
//! (GB through NAT, log volume, load balancer capacity units, requests),
//! the inputs of every usage-based figure of `infra cost`. Terraform never
//! reads it. Each input has a stated default ([`UsageKey::default_value`]);
//! a value set here applies to every resource that input prices, and
//! `[usage.resources."<address>"]` sets it for one resource:
//!
//! ```toml
//! [usage]
//! nat_data_gb = 200
//! [usage.resources."aws_cloudwatch_log_group.cluster"]
//! log_ingest_gb = 20
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::check::{Scope, Section};
use super::Config;

/// One usage input. A component that needs another adds a variant here,
/// with its default, unit and meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UsageKey {
    NatDataGb,
    InternetEgressGb,
    LbCapacityUnits,
    LogIngestGb,
    EcrStorageGb,
    KmsRequests,
    S3StorageGb,
    S3PutRequests,
    S3GetRequests,
    SecretApiCalls,
    WafRequestsMillion,
    SqsRequestsMillion,
    EventbridgeEventsMillion,
    Route53QueriesMillion,
    SnsRequestsMillion,
    SnsEmailNotifications,
    SnsHttpsNotifications,
    LambdaInvocations,
    LambdaDurationMs,
}

impl UsageKey {
    pub const ALL: [UsageKey; 19] = [
        Self::NatDataGb,
        Self::InternetEgressGb,
        Self::LbCapacityUnits,
        Self::LogIngestGb,
        Self::EcrStorageGb,
        Self::KmsRequests,
        Self::S3StorageGb,
        Self::S3PutRequests,
        Self::S3GetRequests,
        Self::SecretApiCalls,
        Self::WafRequestsMillion,
        Self::SqsRequestsMillion,
        Self::EventbridgeEventsMillion,
        Self::Route53QueriesMillion,
        Self::SnsRequestsMillion,
        Self::SnsEmailNotifications,
        Self::SnsHttpsNotifications,
        Self::LambdaInvocations,
        Self::LambdaDurationMs,
    ];

    /// The key as written in the config file.
    pub fn name(self) -> &'static str {
        match self {
            Self::NatDataGb => "nat_data_gb",
            Self::InternetEgressGb => "internet_egress_gb",
            Self::LbCapacityUnits => "lb_capacity_units",
            Self::LogIngestGb => "log_ingest_gb",
            Self::EcrStorageGb => "ecr_storage_gb",
            Self::KmsRequests => "kms_requests",
            Self::S3StorageGb => "s3_storage_gb",
            Self::S3PutRequests => "s3_put_requests",
            Self::S3GetRequests => "s3_get_requests",
            Self::SecretApiCalls => "secret_api_calls",
            Self::WafRequestsMillion => "waf_requests_million",
            Self::SqsRequestsMillion => "sqs_requests_million",
            Self::EventbridgeEventsMillion => "eventbridge_events_million",
            Self::Route53QueriesMillion => "route53_queries_million",
            Self::SnsRequestsMillion => "sns_requests_million",
            Self::SnsEmailNotifications => "sns_email_notifications",
            Self::SnsHttpsNotifications => "sns_https_notifications",
            Self::LambdaInvocations => "lambda_invocations",
            Self::LambdaDurationMs => "lambda_duration_ms",
        }
    }

    /// The value used when the config does not set one: a small,
    /// steadily-used environment. Every default is printed beside the
    /// figures it feeds, so an estimate never hides one.
    pub fn default_value(self) -> f64 {
        match self {
            Self::NatDataGb => 50.0,
            Self::InternetEgressGb => 50.0,
            Self::LbCapacityUnits => 1.0,
            Self::LogIngestGb => 5.0,
            Self::EcrStorageGb => 1.0,
            Self::KmsRequests => 10_000.0,
            Self::S3StorageGb => 10.0,
            Self::S3PutRequests => 100_000.0,
            Self::S3GetRequests => 1_000_000.0,
            Self::SecretApiCalls => 10_000.0,
            Self::WafRequestsMillion => 10.0,
            Self::SqsRequestsMillion => 1.0,
            Self::EventbridgeEventsMillion => 0.0,
            Self::Route53QueriesMillion => 1.0,
            // An alerts topic: 10,000 alerts a month is a noisy month, each
            // delivered once by e-mail and once to a chat or paging endpoint.
            Self::SnsRequestsMillion => 0.01,
            Self::SnsEmailNotifications | Self::SnsHttpsNotifications => 10_000.0,
            // A rotation function is called four times a rotation per secret
            // (create, set, test, finish); 1,000 covers daily rotations of a
            // few secrets with retries, and costs well under a cent.
            Self::LambdaInvocations => 1_000.0,
            Self::LambdaDurationMs => 1_000.0,
        }
    }

    /// Unit of the value, per resource and month.
    pub fn unit(self) -> &'static str {
        match self {
            Self::NatDataGb
            | Self::InternetEgressGb
            | Self::LogIngestGb
            | Self::EcrStorageGb
            | Self::S3StorageGb => "GB",
            Self::LbCapacityUnits => "LCU (average)",
            Self::KmsRequests
            | Self::S3PutRequests
            | Self::S3GetRequests
            | Self::SecretApiCalls => "requests",
            Self::SnsEmailNotifications | Self::SnsHttpsNotifications => "notifications",
            Self::WafRequestsMillion
            | Self::SqsRequestsMillion
            | Self::EventbridgeEventsMillion
            | Self::Route53QueriesMillion
            | Self::SnsRequestsMillion => "million",
            Self::LambdaInvocations => "invocations",
            Self::LambdaDurationMs => "ms (average)",
        }
    }

    /// What the value measures.
    pub fn meaning(self) -> &'static str {
        match self {
            Self::NatDataGb => "data processed by each NAT gateway a month (both directions)",
            Self::InternetEgressGb => "data each load balancer sends to the internet a month",
            Self::LbCapacityUnits => {
                "average capacity units (LCU for an ALB, NLCU for an NLB) of each load balancer"
            }
            Self::LogIngestGb => "data ingested into each CloudWatch log group a month",
            Self::EcrStorageGb => "images stored in each ECR repository",
            Self::KmsRequests => "API requests to each KMS key a month",
            Self::S3StorageGb => "data stored in each S3 bucket",
            Self::S3PutRequests => "PUT, COPY, POST and LIST requests to each S3 bucket a month",
            Self::S3GetRequests => "GET and other requests to each S3 bucket a month",
            Self::SecretApiCalls => "API calls to each Secrets Manager secret a month",
            Self::WafRequestsMillion => "requests each WAF web ACL inspects a month",
            Self::SqsRequestsMillion => "requests to each SQS queue a month",
            Self::EventbridgeEventsMillion => {
                "custom events each EventBridge rule receives a month (AWS service events are free)"
            }
            Self::Route53QueriesMillion => "DNS queries to each hosted zone a month",
            Self::SnsRequestsMillion => "API requests (publishes) to each SNS topic a month",
            Self::SnsEmailNotifications => {
                "e-mail notifications each SNS topic delivers a month (all its e-mail subscribers)"
            }
            Self::SnsHttpsNotifications => {
                "HTTP(S) notifications each SNS topic delivers a month (chat, paging endpoints)"
            }
            Self::LambdaInvocations => "invocations of each Lambda function a month",
            Self::LambdaDurationMs => "billed duration of one invocation of each Lambda function",
        }
    }
}

/// The `[usage]` section as written: inputs for every resource, and
/// per-resource values under `resources`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UsageConfig {
    /// Per resource address (`aws_nat_gateway.a`), values for that resource only.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub resources: BTreeMap<String, BTreeMap<UsageKey, f64>>,
    /// Values for every resource the input prices.
    #[serde(flatten)]
    pub values: BTreeMap<UsageKey, f64>,
}

/// A usage input as a figure used it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct UsageValue {
    pub key: UsageKey,
    pub value: f64,
    /// Where the value came from.
    pub source: UsageSource,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UsageSource {
    /// [`UsageKey::default_value`].
    Default,
    /// `[usage]`.
    Environment,
    /// `[usage.resources."<address>"]`.
    Resource,
}

impl UsageConfig {
    /// The value of `key` for the resource at `address`.
    pub fn value(&self, key: UsageKey, address: &str) -> UsageValue {
        let (value, source) = match self.resources.get(address).and_then(|r| r.get(&key)) {
            Some(v) => (*v, UsageSource::Resource),
            None => match self.values.get(&key) {
                Some(v) => (*v, UsageSource::Environment),
                None => (key.default_value(), UsageSource::Default),
            },
        };
        UsageValue { key, value, source }
    }
}

impl Section for UsageConfig {
    const KEY: &'static str = "usage";
    type Checked = ();

    fn check(&self, _: &Config, at: &mut Scope<'_>) {
        let mut check = |field: String, value: f64| {
            if !value.is_finite() || value < 0.0 {
                at.problem(
                    field,
                    format!("{value} is not a usage figure; use a number of 0 or more"),
                );
            }
        };
        for (key, value) in &self.values {
            check(key.name().to_owned(), *value);
        }
        for (address, values) in &self.resources {
            for (key, value) in values {
                check(format!("resources.\"{address}\".{}", key.name()), *value);
            }
        }
        // Whether each address names a block of the module is checked when a
        // cost is estimated (`infra cost`): the config alone cannot know it.
        for address in self.resources.keys() {
            let parts: Vec<&str> = address.split('.').collect();
            let well_formed = match parts.as_slice() {
                [ty, name] | ["estimated", ty, name] => !ty.is_empty() && !name.is_empty(),
                _ => false,
            };
            if !well_formed {
                at.problem(
                    format!("resources.\"{address}\""),
                    "is not a resource address like aws_nat_gateway.a or estimated.aws_lb.webapp",
                );
            }
        }
    }
}
