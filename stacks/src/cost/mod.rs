//! `infra cost`: what an environment will cost a month, from its module and
//! a price table committed in the repository, offline.
//!
//! Every block of the module ([`Inventory`]) is priced by its resource type
//! and attributes ([`pricers`]); so is every resource a controller in the
//! cluster will create ([`crate::estimate`]), marked "estimated from
//! config". Usage-based figures take their inputs from the environment's
//! `[usage]` section (stated defaults otherwise) and say which inputs they
//! used. A resource type with no price rule is reported as not priced,
//! never counted as free.

mod compare;
mod date;
mod pricers;
mod prices;
mod table;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

pub use compare::{compare, Comparison, Row};
pub use date::Date;
pub use prices::{AssumptionKey, Price, PriceKey, PriceTable, Status, VersionSupport};
pub use table::{arithmetic, comparison_table, estimate_table, money, quantity, signed};

use crate::config::{UsageKey, UsageSource, UsageValue};
use crate::estimate::Count;
use crate::inventory::{Block, Inventory, InventoryError, Kind};

#[derive(Debug, thiserror::Error)]
pub enum CostError {
    #[error("no price table for region `{region}` ({}); add one like stacks/prices/eu-west-1.toml", path.display())]
    NoPriceTable {
        region: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: invalid price table:\n{}", path.display(), problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    PriceTable {
        path: PathBuf,
        problems: Vec<String>,
    },
    #[error("the module of `{0}` has no AWS provider with a region; nothing can be priced")]
    NoRegion(String),
    #[error(transparent)]
    Inventory(#[from] InventoryError),
}

/// One priced item of one resource.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Line {
    pub address: String,
    pub stack: String,
    /// The resource type priced (`aws_nat_gateway`).
    #[serde(rename = "type")]
    pub ty: String,
    /// What is paid for, the same in every environment (`data processed`).
    pub what: String,
    /// What this environment has of it (`t3.medium, spot ...`); may be empty.
    pub detail: String,
    /// Units a month, for all the instances expected.
    pub quantity: f64,
    pub unit: String,
    /// USD per unit (after the spot discount, where one applies).
    pub unit_price: f64,
    pub monthly: f64,
    /// Monthly at the fewest and most instances the config allows, when
    /// those differ from the expected count.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub range: Option<(f64, f64)>,
    /// The prices and assumptions used, with their sources.
    pub prices: Vec<Price>,
    /// The least certain status among them.
    pub status: Status,
    /// Usage inputs the quantity depends on.
    pub usage: Vec<UsageKey>,
    /// Created by a controller in the cluster, estimated from config (not in terraform).
    pub estimated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Line {
    /// A line of `quantity` units per instance at `usd` per unit, for the
    /// `count` instances of `block`.
    pub(crate) fn new(
        block: &Block,
        what: &str,
        detail: String,
        (quantity, unit): (f64, &str),
        usd: f64,
        prices: Vec<Price>,
        count: Count,
    ) -> Self {
        let per_instance = quantity * usd;
        let range = (count.min != count.expected || count.max != count.expected)
            .then_some((per_instance * count.min, per_instance * count.max));
        let status = prices
            .iter()
            .map(|p| p.status)
            .max_by_key(|s| match s {
                Status::Confirmed => 0,
                Status::List => 1,
                Status::Assumption => 2,
            })
            .unwrap_or(Status::Confirmed);
        Self {
            address: block.address.clone(),
            stack: block.stack.clone(),
            ty: block.ty.clone(),
            what: what.to_owned(),
            detail,
            quantity: quantity * count.expected,
            unit: unit.to_owned(),
            unit_price: usd,
            monthly: per_instance * count.expected,
            range,
            prices,
            status,
            usage: Vec::new(),
            estimated: block.is_estimated(),
            note: None,
        }
    }

    pub(crate) fn with_usage(mut self, key: UsageKey) -> Self {
        self.usage.push(key);
        self
    }
}

/// A resource that could not be priced, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Unpriced {
    pub address: String,
    #[serde(rename = "type")]
    pub ty: String,
    pub reason: String,
}

/// A usage input as the estimate used it: its value and the resources it priced.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UsageUse {
    pub key: UsageKey,
    pub value: f64,
    pub unit: &'static str,
    pub meaning: &'static str,
    pub source: UsageSource,
    pub resources: Vec<String>,
}

/// The month's figures.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Totals {
    pub monthly: f64,
    /// The part that depends on usage inputs.
    pub usage_based: f64,
    /// The part created by controllers in the cluster (not in terraform).
    pub estimated_from_config: f64,
    /// At the fewest and most instances the config allows.
    pub min: f64,
    pub max: f64,
}

/// What an in-cluster estimate rests on, for the reader.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Basis {
    pub address: String,
    /// The release whose objects cause it.
    pub created_by: String,
    /// The controller that creates it.
    pub controller: String,
    pub basis: String,
}

/// Where the prices came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PriceSource {
    pub file: String,
    pub oldest_read: Option<Date>,
    pub counts: BTreeMap<Status, usize>,
}

/// The monthly estimate of one module.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Estimate {
    pub environment: String,
    pub region: String,
    pub currency: String,
    /// The day the estimate is for (it decides EKS standard or extended support).
    pub as_of: Date,
    pub hours_per_month: f64,
    pub totals: Totals,
    pub lines: Vec<Line>,
    pub unpriced: Vec<Unpriced>,
    /// Blocks that cost nothing themselves, counted by type.
    pub no_charge: BTreeMap<String, usize>,
    pub usage: Vec<UsageUse>,
    /// What each in-cluster estimate rests on.
    pub estimates: Vec<Basis>,
    /// What the reader should know: support windows, unused usage inputs.
    pub notices: Vec<String>,
    pub prices: PriceSource,
    /// False for a module written by an infra that recorded no in-cluster
    /// estimates: its NLB and other controller-made resources are missing.
    pub has_estimates: bool,
}

/// What pricers share: the module, the prices, the day, and what they noticed.
pub(crate) struct Ctx<'a> {
    pub(crate) inv: &'a Inventory,
    pub(crate) table: &'a PriceTable,
    pub(crate) as_of: Date,
    notices: Vec<String>,
    used: Vec<(String, UsageValue)>,
}

impl Ctx<'_> {
    /// How many instances `block` stands for: its `count` (or the
    /// estimate's), times a node group's scaling sizes.
    pub(crate) fn count(&self, block: &Block) -> Count {
        let base = block.count.unwrap_or(Count::exactly(1.0));
        match block.nested("scaling_config") {
            Some(scaling) => {
                let size = |k: &str| scaling.get(k).and_then(serde_json::Value::as_f64);
                let min = size("min_size").unwrap_or(1.0);
                Count {
                    expected: base.expected * size("desired_size").unwrap_or(min),
                    min: base.min * min,
                    max: base.max * size("max_size").unwrap_or(min),
                }
            }
            None => base,
        }
    }

    /// The usage input `key` for `block`, recorded as used.
    pub(crate) fn usage(&mut self, block: &Block, key: UsageKey) -> f64 {
        let value = self.inv.usage.value(key, &block.address);
        self.used.push((block.address.clone(), value));
        value.value
    }

    pub(crate) fn notice(&mut self, block: &Block, text: String) {
        self.notices.push(format!("{}: {text}", block.address));
    }
}

/// Prices the module in `files` (as synthesized, or as read from an output
/// directory) with the price table of its region in the checkout at `root`.
pub fn estimate_module(
    root: &Path,
    files: &BTreeMap<String, Vec<u8>>,
    as_of: Date,
) -> Result<Estimate, CostError> {
    let inventory = Inventory::from_files(files)?;
    let region = inventory
        .region
        .clone()
        .ok_or_else(|| CostError::NoRegion(inventory.environment.clone()))?;
    let table = PriceTable::load(root, &region)?;
    Ok(estimate(&inventory, &table, as_of))
}

/// Prices every resource of `inventory`.
pub fn estimate(inventory: &Inventory, table: &PriceTable, as_of: Date) -> Estimate {
    let mut ctx = Ctx {
        inv: inventory,
        table,
        as_of,
        notices: Vec::new(),
        used: Vec::new(),
    };
    let mut lines = Vec::new();
    let mut unpriced = Vec::new();
    let mut no_charge = BTreeMap::new();
    for block in &inventory.blocks {
        // Releases Argo CD delivers are no terraform resource (and helm
        // releases cost nothing themselves); what their pods cause is in
        // the estimates.
        if matches!(block.kind, Kind::Data | Kind::Delivered(_)) {
            continue;
        }
        let pricer = pricers::PRICERS
            .iter()
            .find(|(ty, _)| *ty == block.ty)
            .map(|(_, f)| f);
        let result = match (pricer, block.count) {
            (Some(_), None) => Err("its count is only known when terraform applies".to_owned()),
            (Some(price), Some(_)) => price(block, &mut ctx),
            (None, _) if pricers::is_free(&block.ty) => Ok(Vec::new()),
            (None, _) => Err(format!(
                "no price rule for {} (stacks/src/cost/pricers/)",
                block.ty
            )),
        };
        match result {
            Ok(priced) if priced.is_empty() => *no_charge.entry(block.ty.clone()).or_default() += 1,
            Ok(priced) => lines.extend(priced),
            Err(reason) => unpriced.push(Unpriced {
                address: block.address.clone(),
                ty: block.ty.clone(),
                reason,
            }),
        }
    }
    let (usage, unused) = usage_report(inventory, &ctx.used);
    let mut notices = ctx.notices;
    notices.extend(unused);
    if !inventory.has_estimates {
        notices.push(
            "this module records no in-cluster estimates (written by an older infra): \
             load balancers and nodes created by controllers are missing"
                .into(),
        );
    }
    Estimate {
        environment: inventory.environment.clone(),
        region: table.region.clone(),
        currency: table.currency.clone(),
        as_of,
        hours_per_month: table.hours_per_month,
        totals: totals(&lines),
        lines,
        unpriced,
        no_charge,
        usage,
        estimates: inventory
            .blocks
            .iter()
            .filter_map(|b| match &b.kind {
                Kind::Estimated(origin) => Some(Basis {
                    address: b.address.clone(),
                    created_by: origin.created_by.clone(),
                    controller: origin.controller.clone(),
                    basis: origin.basis.clone(),
                }),
                _ => None,
            })
            .collect(),
        notices,
        prices: PriceSource {
            file: format!("stacks/prices/{}.toml", table.region),
            oldest_read: table.oldest_read(),
            counts: table.counts(),
        },
        has_estimates: inventory.has_estimates,
    }
}

fn totals(lines: &[Line]) -> Totals {
    let sum = |f: &dyn Fn(&Line) -> f64| lines.iter().map(f).sum::<f64>();
    Totals {
        monthly: sum(&|l| l.monthly),
        usage_based: sum(&|l| if l.usage.is_empty() { 0.0 } else { l.monthly }),
        estimated_from_config: sum(&|l| if l.estimated { l.monthly } else { 0.0 }),
        min: sum(&|l| l.range.map_or(l.monthly, |r| r.0)),
        max: sum(&|l| l.range.map_or(l.monthly, |r| r.1)),
    }
}

/// The usage inputs used, grouped by input, value and source; and notices
/// for inputs the config sets that price nothing.
fn usage_report(
    inventory: &Inventory,
    used: &[(String, UsageValue)],
) -> (Vec<UsageUse>, Vec<String>) {
    let mut groups: Vec<UsageUse> = Vec::new();
    for (address, value) in used {
        let same = |g: &&mut UsageUse| {
            g.key == value.key && g.value == value.value && g.source == value.source
        };
        match groups.iter_mut().find(same) {
            Some(group) if group.resources.contains(address) => {}
            Some(group) => group.resources.push(address.clone()),
            None => groups.push(UsageUse {
                key: value.key,
                value: value.value,
                unit: value.key.unit(),
                meaning: value.key.meaning(),
                source: value.source,
                resources: vec![address.clone()],
            }),
        }
    }
    groups.sort_by(|a, b| a.key.cmp(&b.key).then(a.resources.cmp(&b.resources)));
    let mut unused = Vec::new();
    for key in inventory.usage.values.keys() {
        if !used.iter().any(|(_, v)| v.key == *key) {
            unused.push(format!(
                "usage.{} is set, but no resource of this module is priced by it",
                key.name()
            ));
        }
    }
    for (address, keys) in &inventory.usage.resources {
        if inventory.get(address).is_none() {
            unused.push(format!(
                "usage.resources.\"{address}\" names no resource of this module; it is not used"
            ));
            continue;
        }
        for key in keys.keys() {
            if !used.iter().any(|(a, v)| a == address && v.key == *key) {
                unused.push(format!(
                    "usage.resources.\"{address}\".{} does not price {address}; it is not used",
                    key.name()
                ));
            }
        }
    }
    (groups, unused)
}

#[cfg(test)]
mod tests;
