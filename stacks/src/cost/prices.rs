//! The price table of a region (`stacks/prices/<region>.toml`), committed
//! with the code so an estimate needs no pricing API and no network. Each
//! price carries its unit, where it was read, when, and how sure it is:
//! `confirmed` against a public page on that day, `list` (a list value to
//! re-check against AWS's price list) or `assumption` (a figure AWS does not
//! publish, such as the spot discount, with the reasoning in its note).
//!
//! Loading checks the table as a whole: every [`PriceKey`] and
//! [`AssumptionKey`] present, nothing unknown, no negative price, every date
//! a real day, each problem reported with the file and the key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::date::Date;
use super::CostError;

/// Declares an enum of table keys with their names in the file.
macro_rules! table_keys {
    ($(#[$doc:meta])* $name:ident { $($variant:ident => $key:literal,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
        pub enum $name { $($variant,)* }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            pub fn name(self) -> &'static str {
                match self { $($name::$variant => $key,)* }
            }
        }
    };
}

table_keys! {
    /// Every price the estimators use, by its key under `[price.<key>]`.
    PriceKey {
        EksClusterHour => "eks_cluster_hour",
        EksExtendedSupportHour => "eks_extended_support_hour",
        NatGatewayHour => "nat_gateway_hour",
        NatGatewayGb => "nat_gateway_gb",
        PublicIpv4Hour => "public_ipv4_hour",
        EbsGp3GbMonth => "ebs_gp3_gb_month",
        EbsGp3IopsMonth => "ebs_gp3_iops_month",
        EbsGp3ThroughputMonth => "ebs_gp3_throughput_month",
        EbsGp2GbMonth => "ebs_gp2_gb_month",
        AlbHour => "alb_hour",
        AlbLcuHour => "alb_lcu_hour",
        NlbHour => "nlb_hour",
        NlbNlcuHour => "nlb_nlcu_hour",
        DataTransferOutGb => "data_transfer_out_gb",
        LogsIngestGb => "logs_ingest_gb",
        LogsVendedGb => "logs_vended_gb",
        LogsStorageGbMonth => "logs_storage_gb_month",
        KmsKeyMonth => "kms_key_month",
        KmsRequests10k => "kms_requests_10k",
        EcrStorageGbMonth => "ecr_storage_gb_month",
        SecretMonth => "secret_month",
        SecretsApi10k => "secrets_api_10k",
        WafWebAclMonth => "waf_web_acl_month",
        WafRuleMonth => "waf_rule_month",
        WafRequestsMillion => "waf_requests_million",
        S3StandardGbMonth => "s3_standard_gb_month",
        S3Put1k => "s3_put_1k",
        S3Get1k => "s3_get_1k",
        SqsRequestsMillion => "sqs_requests_million",
        EventbridgeEventsMillion => "eventbridge_events_million",
        InterfaceEndpointHour => "interface_endpoint_hour",
        Route53ZoneMonth => "route53_zone_month",
        Route53QueriesMillion => "route53_queries_million",
        SnsRequestsMillion => "sns_requests_million",
        SnsEmail100k => "sns_email_100k",
        SnsHttpsMillion => "sns_https_million",
        CloudwatchMetricMonth => "cloudwatch_metric_month",
        LambdaRequestsMillion => "lambda_requests_million",
        LambdaGbSecond => "lambda_gb_second",
    }
}

table_keys! {
    /// Figures AWS does not publish as prices, under `[assumption.<key>]`.
    AssumptionKey {
        SpotDiscount => "spot_discount",
        LogsStoredFraction => "logs_stored_fraction",
        DetailedMonitoringMetrics => "ec2_detailed_monitoring_metrics",
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Matched against a public page on the day it was read.
    Confirmed,
    /// A list value to re-check against AWS's price list before relying on it.
    List,
    /// Not a published price: a documented assumption.
    Assumption,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Confirmed => "confirmed",
            Self::List => "list value to re-check",
            Self::Assumption => "assumption",
        }
    }

    /// `3 list values to re-check`.
    pub fn counted(self, n: usize) -> String {
        let (one, many) = match self {
            Self::Confirmed => ("confirmed", "confirmed"),
            Self::List => ("list value to re-check", "list values to re-check"),
            Self::Assumption => ("assumption", "assumptions"),
        };
        format!("{n} {}", if n == 1 { one } else { many })
    }
}

/// One price (or, for an assumption, one figure in `usd`'s place).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Price {
    /// The key it was read under (`nat_gateway_hour`, `ec2.t3.medium`).
    pub key: String,
    pub usd: f64,
    /// What one `usd` buys (`NAT gateway-hour`).
    pub per: String,
    pub source: String,
    pub read: Date,
    pub status: Status,
    pub note: String,
}

/// Support window of one Kubernetes minor version on EKS.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VersionSupport {
    pub version: String,
    pub released: Date,
    /// Last day of standard support; extended support starts the day after.
    pub standard_until: Date,
    /// Last day of extended support; EKS then upgrades the cluster itself.
    pub extended_until: Date,
    pub source: String,
    pub read: Date,
    pub status: Status,
}

/// A region's checked price table.
#[derive(Debug, Clone)]
pub struct PriceTable {
    pub path: PathBuf,
    pub region: String,
    pub currency: String,
    pub hours_per_month: f64,
    prices: Vec<Price>,
    assumptions: Vec<Price>,
    /// On-demand Linux price per instance-hour, by instance type.
    pub ec2: BTreeMap<String, Price>,
    /// By `1.NN`.
    pub eks_versions: BTreeMap<String, VersionSupport>,
}

impl PriceTable {
    /// Where the table of `region` lives in a checkout.
    pub fn file(root: &Path, region: &str) -> PathBuf {
        root.join("stacks/prices").join(format!("{region}.toml"))
    }

    /// Reads and checks the table of `region` from the checkout at `root`.
    pub fn load(root: &Path, region: &str) -> Result<Self, CostError> {
        let path = Self::file(root, region);
        let text = std::fs::read_to_string(&path).map_err(|source| CostError::NoPriceTable {
            region: region.to_owned(),
            path: path.clone(),
            source,
        })?;
        let table = Self::parse(&path, &text)?;
        if table.region != region {
            return Err(CostError::PriceTable {
                path,
                problems: vec![format!(
                    "region: `{}` does not match the file name (`{region}`)",
                    table.region
                )],
            });
        }
        Ok(table)
    }

    /// Parses and checks a table; `path` is used in messages.
    pub fn parse(path: &Path, text: &str) -> Result<Self, CostError> {
        let raw: RawTable = toml::from_str(text).map_err(|e| CostError::PriceTable {
            path: path.to_owned(),
            problems: vec![e.to_string().trim_end().to_owned()],
        })?;
        let mut problems = Vec::new();
        let mut prices = Vec::new();
        let mut price_map = raw.price;
        for key in PriceKey::ALL {
            match price_map.remove(key.name()) {
                Some(p) => {
                    prices.extend(checked(format!("price.{}", key.name()), p, &mut problems))
                }
                None => problems.push(format!("price.{}: missing", key.name())),
            }
        }
        let mut assumptions = Vec::new();
        let mut assumption_map = raw.assumption;
        for key in AssumptionKey::ALL {
            match assumption_map.remove(key.name()) {
                Some(p) => assumptions.extend(checked(
                    format!("assumption.{}", key.name()),
                    p,
                    &mut problems,
                )),
                None => problems.push(format!("assumption.{}: missing", key.name())),
            }
        }
        for (section, left) in [("price", price_map), ("assumption", assumption_map)] {
            for key in left.keys() {
                problems.push(format!(
                    "{section}.{key}: unknown key (no estimator reads it)"
                ));
            }
        }
        let mut ec2 = BTreeMap::new();
        for (instance, raw) in raw.ec2 {
            if let Some(price) = checked(format!("ec2.\"{instance}\""), raw, &mut problems) {
                ec2.insert(instance, price);
            }
        }
        let mut eks_versions = BTreeMap::new();
        for (version, raw) in raw.eks_version {
            let at = |field: &str| format!("eks_version.\"{version}\".{field}");
            let dates = (
                date(&raw.released, &at("released"), &mut problems),
                date(&raw.standard_until, &at("standard_until"), &mut problems),
                date(&raw.extended_until, &at("extended_until"), &mut problems),
                date(&raw.read, &at("read"), &mut problems),
            );
            if let (Some(released), Some(standard_until), Some(extended_until), Some(read)) = dates
            {
                if !(released < standard_until && standard_until < extended_until) {
                    problems.push(format!(
                        "{}: released, standard_until and extended_until must come in that order",
                        at("")
                    ));
                }
                eks_versions.insert(
                    version.clone(),
                    VersionSupport {
                        version,
                        released,
                        standard_until,
                        extended_until,
                        source: raw.source,
                        read,
                        status: raw.status,
                    },
                );
            }
        }
        if !(raw.hours_per_month > 0.0 && raw.hours_per_month <= 744.0) {
            problems.push(format!(
                "hours_per_month: {} is not the hours of a month (AWS uses 730)",
                raw.hours_per_month
            ));
        }
        if !problems.is_empty() {
            return Err(CostError::PriceTable {
                path: path.to_owned(),
                problems,
            });
        }
        Ok(Self {
            path: path.to_owned(),
            region: raw.region,
            currency: raw.currency,
            hours_per_month: raw.hours_per_month,
            prices,
            assumptions,
            ec2,
            eks_versions,
        })
    }

    pub fn price(&self, key: PriceKey) -> &Price {
        &self.prices[key as usize]
    }

    pub fn assumption(&self, key: AssumptionKey) -> &Price {
        &self.assumptions[key as usize]
    }

    /// Every price and assumption, EC2 prices included.
    pub fn all(&self) -> impl Iterator<Item = &Price> {
        self.prices
            .iter()
            .chain(&self.assumptions)
            .chain(self.ec2.values())
    }

    /// How many figures have each status.
    pub fn counts(&self) -> BTreeMap<Status, usize> {
        let mut counts = BTreeMap::new();
        for price in self.all() {
            *counts.entry(price.status).or_default() += 1;
        }
        counts
    }

    /// The day the oldest figure was read.
    pub fn oldest_read(&self) -> Option<Date> {
        self.all().map(|p| p.read).min()
    }
}

/// A price with its date checked and its amount not negative.
fn checked(key: String, raw: RawPrice, problems: &mut Vec<String>) -> Option<Price> {
    let read = date(&raw.read, &format!("{key}.read"), problems)?;
    if !raw.usd.is_finite() || raw.usd < 0.0 {
        problems.push(format!("{key}.usd: {} is not a price", raw.usd));
    }
    Some(Price {
        key,
        usd: raw.usd,
        per: raw.per,
        source: raw.source,
        read,
        status: raw.status,
        note: raw.note,
    })
}

fn date(value: &toml::value::Datetime, at: &str, problems: &mut Vec<String>) -> Option<Date> {
    let parsed = match (value.date, value.time) {
        (Some(d), None) => Date {
            year: i32::from(d.year),
            month: u32::from(d.month),
            day: u32::from(d.day),
        }
        .to_string()
        .parse::<Date>()
        .ok(),
        _ => None,
    };
    if parsed.is_none() {
        problems.push(format!("{at}: `{value}` is not a date like 2026-12-01"));
    }
    parsed
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTable {
    region: String,
    currency: String,
    hours_per_month: f64,
    #[serde(default)]
    price: BTreeMap<String, RawPrice>,
    #[serde(default)]
    assumption: BTreeMap<String, RawPrice>,
    #[serde(default)]
    ec2: BTreeMap<String, RawPrice>,
    #[serde(default)]
    eks_version: BTreeMap<String, RawVersion>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPrice {
    #[serde(alias = "value")]
    usd: f64,
    per: String,
    source: String,
    read: toml::value::Datetime,
    status: Status,
    #[serde(default)]
    note: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVersion {
    released: toml::value::Datetime,
    standard_until: toml::value::Datetime,
    extended_until: toml::value::Datetime,
    source: String,
    read: toml::value::Datetime,
    status: Status,
}
