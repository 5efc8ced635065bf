//! The report's sections as the template shows them: figures formatted,
//! rows grouped, nothing left for the template to compute.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;
use synth::diff::{blocks, diff as block_diff, Change};
use synth::Module;

use super::ReportError;
use crate::config::{PolicyConfig, UsageSource};
use crate::cost::{self, Estimate, Status};
use crate::gitops::Delivery;
use crate::inventory::IN_CLUSTER;
use crate::Synthesis;

#[derive(Debug, Serialize)]
pub struct CostView {
    pub currency: String,
    pub as_of: String,
    pub total: String,
    pub usage_based: String,
    pub estimated_from_config: String,
    /// `538.02 to 569.93`, when scaling changes the total.
    pub range: Option<String>,
    pub stacks: Vec<CostStack>,
    pub usage: Vec<UsageRow>,
    pub unpriced: Vec<(String, String)>,
    /// What each in-cluster estimate rests on.
    pub bases: Vec<cost::Basis>,
    pub no_charge: String,
    pub prices: String,
    pub notices: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct CostStack {
    pub title: String,
    pub estimated: bool,
    pub subtotal: String,
    pub lines: Vec<CostLine>,
}

#[derive(Debug, Serialize)]
pub struct CostLine {
    /// Empty on a resource's second and later lines.
    pub address: String,
    pub monthly: String,
    pub what: String,
    pub arithmetic: String,
    pub usage: bool,
    pub estimated: bool,
    /// `list value to re-check` and the like, when not confirmed.
    pub status: String,
    pub sources: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct UsageRow {
    pub key: String,
    pub value: String,
    pub source: String,
    pub meaning: String,
    pub resources: String,
}

#[derive(Debug, Serialize)]
pub struct PolicyView {
    pub name: String,
    pub description: String,
}

#[derive(Debug, Serialize)]
pub struct StackView {
    pub name: String,
    pub description: String,
    pub resources: Vec<ResourceRow>,
    pub data_sources: Vec<String>,
    pub outputs: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct ResourceRow {
    pub address: String,
    /// Its monthly cost, when it has one.
    pub monthly: String,
}

/// What Argo CD delivers, and from where.
#[derive(Debug, Serialize)]
pub struct DeliveryView {
    pub repository: String,
    pub revision: String,
    pub path: String,
    pub applications: Vec<ApplicationRow>,
}

#[derive(Debug, Serialize)]
pub struct ApplicationRow {
    pub application: String,
    /// `kube-prometheus-stack 88.5.3`, or the chart's path in the tree.
    pub chart: String,
    pub namespace: String,
    pub wave: u32,
}

#[derive(Debug, Serialize)]
pub struct DiffView {
    pub other: String,
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<ChangedBlock>,
    pub cost: Vec<CostChange>,
    pub totals: (String, String, String),
}

#[derive(Debug, Serialize)]
pub struct ChangedBlock {
    pub address: String,
    pub attributes: Vec<(String, String, String)>,
}

#[derive(Debug, Serialize)]
pub struct CostChange {
    pub address: String,
    pub what: String,
    pub ours: String,
    pub theirs: String,
    pub change: String,
}

pub(super) fn cost(e: &Estimate) -> CostView {
    let t = &e.totals;
    let mut stacks: Vec<CostStack> = Vec::new();
    // A resource's lines are consecutive: its address heads the first.
    let mut previous = "";
    for line in &e.lines {
        let estimated = line.stack == IN_CLUSTER;
        if stacks.last().is_none_or(|s| s.title != title(&line.stack)) {
            stacks.push(CostStack {
                title: title(&line.stack),
                estimated,
                subtotal: String::new(),
                lines: Vec::new(),
            });
        }
        let stack = stacks.last_mut().expect("just pushed");
        let first = line.address != previous;
        previous = &line.address;
        stack.lines.push(CostLine {
            address: if first {
                line.address.clone()
            } else {
                String::new()
            },
            monthly: cost::money(line.monthly),
            what: line.what.clone(),
            arithmetic: cost::arithmetic(line),
            usage: !line.usage.is_empty(),
            estimated: line.estimated,
            status: if line.status == Status::Confirmed {
                String::new()
            } else {
                line.status.as_str().to_owned()
            },
            sources: line.prices.iter().map(|p| p.source.clone()).collect(),
        });
    }
    for stack in &mut stacks {
        let sum: f64 = e
            .lines
            .iter()
            .filter(|l| title(&l.stack) == stack.title)
            .map(|l| l.monthly)
            .sum();
        stack.subtotal = cost::money(sum);
    }
    let range = ((t.min - t.monthly).abs() >= 0.005 || (t.max - t.monthly).abs() >= 0.005)
        .then(|| format!("{} to {}", cost::money(t.min), cost::money(t.max)));
    CostView {
        currency: e.currency.clone(),
        as_of: e.as_of.to_string(),
        total: cost::money(t.monthly),
        usage_based: cost::money(t.usage_based),
        estimated_from_config: cost::money(t.estimated_from_config),
        range,
        stacks,
        usage: e
            .usage
            .iter()
            .map(|u| UsageRow {
                key: u.key.name().to_owned(),
                value: format!("{} {}", cost::quantity(u.value), u.unit),
                source: match u.source {
                    UsageSource::Default => "default",
                    UsageSource::Environment => "[usage]",
                    UsageSource::Resource => "this resource",
                }
                .to_owned(),
                meaning: u.meaning.to_owned(),
                resources: u.resources.join(", "),
            })
            .collect(),
        unpriced: e
            .unpriced
            .iter()
            .map(|u| (u.address.clone(), u.reason.clone()))
            .collect(),
        bases: e.estimates.clone(),
        no_charge: e
            .no_charge
            .iter()
            .map(|(ty, n)| format!("{ty} ×{n}"))
            .collect::<Vec<_>>()
            .join(", "),
        prices: format!(
            "{}, read {}: {}",
            e.prices.file,
            e.prices
                .oldest_read
                .map_or_else(String::new, |d| d.to_string()),
            e.prices
                .counts
                .iter()
                .map(|(s, n)| s.counted(*n))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        notices: e.notices.clone(),
    }
}

fn title(stack: &str) -> String {
    if stack == IN_CLUSTER {
        "in the cluster: created by controllers, estimated from config".into()
    } else {
        format!("stack {stack}")
    }
}

/// The floors as `key = value` lines, nested keys dotted.
pub(super) fn floors(policy: &PolicyConfig) -> Vec<(String, String)> {
    fn flatten(prefix: &str, value: &Value, out: &mut Vec<(String, String)>) {
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    flatten(&key, v, out);
                }
            }
            other => out.push((prefix.to_owned(), other.to_string())),
        }
    }
    let mut out = Vec::new();
    flatten(
        "",
        &serde_json::to_value(policy).unwrap_or(Value::Null),
        &mut out,
    );
    out
}

pub(super) fn stacks(module: &Module, e: &Estimate) -> Vec<StackView> {
    let mut by_address: BTreeMap<&str, f64> = BTreeMap::new();
    for line in &e.lines {
        *by_address.entry(&line.address).or_default() += line.monthly;
    }
    let monthly = |address: &str| {
        by_address
            .get(address)
            .map_or_else(String::new, |m| cost::money(*m))
    };
    let mut out: Vec<StackView> = module
        .summary
        .iter()
        .map(|s| StackView {
            name: s.name.clone(),
            description: s.description.clone(),
            resources: s
                .resources
                .iter()
                .map(|a| ResourceRow {
                    address: a.clone(),
                    monthly: monthly(a),
                })
                .collect(),
            data_sources: s.data_sources.clone(),
            outputs: s.outputs.clone(),
        })
        .collect();
    let estimated: Vec<ResourceRow> = by_address
        .keys()
        .filter(|a| a.starts_with(crate::estimate::ADDRESS_PREFIX))
        .map(|a| ResourceRow {
            address: (*a).to_owned(),
            monthly: monthly(a),
        })
        .collect();
    if !estimated.is_empty() {
        out.push(StackView {
            name: IN_CLUSTER.into(),
            description:
                "created by controllers in the cluster, estimated from config (not in terraform)"
                    .into(),
            resources: estimated,
            data_sources: Vec::new(),
            outputs: Vec::new(),
        });
    }
    out
}

pub(super) fn diff(
    ours: &Synthesis,
    theirs: &Synthesis,
    our_cost: &Estimate,
    their_cost: &Estimate,
) -> Result<DiffView, ReportError> {
    let old = blocks(&ours.module.files).map_err(ReportError::Diff)?;
    let new = blocks(&theirs.module.files).map_err(ReportError::Diff)?;
    let (mut added, mut removed, mut changed) = (Vec::new(), Vec::new(), Vec::new());
    let attributes = |attrs: Vec<synth::diff::AttrChange>| {
        attrs
            .into_iter()
            .map(|c| {
                let show = |v: Option<String>| v.unwrap_or_else(|| "(absent)".into());
                (c.path, show(c.old), show(c.new))
            })
            .collect()
    };
    for change in block_diff(&old, &new) {
        match change {
            Change::Added(a) => added.push(a),
            Change::Removed(a) => removed.push(a),
            Change::Changed(address, attrs) => changed.push(ChangedBlock {
                address,
                attributes: attributes(attrs),
            }),
            Change::Moved { from, to, attrs } => changed.push(ChangedBlock {
                address: format!("{from} -> {to} (moved)"),
                attributes: attributes(attrs),
            }),
        }
    }
    let names = (
        ours.environment.name.as_str(),
        theirs.environment.name.as_str(),
    );
    let comparison = cost::compare(our_cost, their_cost, names);
    let cost = comparison
        .rows
        .iter()
        .filter(|r| r.differs())
        .map(|r| CostChange {
            address: r.address.clone(),
            what: r.what.clone(),
            ours: r.monthly.0.map_or_else(|| "–".into(), cost::money),
            theirs: r.monthly.1.map_or_else(|| "–".into(), cost::money),
            change: cost::signed(r.change()),
        })
        .collect();
    Ok(DiffView {
        other: theirs.environment.name.clone(),
        added,
        removed,
        changed,
        cost,
        totals: (
            cost::money(comparison.totals.0.monthly),
            cost::money(comparison.totals.1.monthly),
            cost::signed(comparison.change()),
        ),
    })
}

/// The applications Argo CD delivers, in sync order.
pub(super) fn delivery(delivery: &Delivery) -> DeliveryView {
    let mut applications: Vec<ApplicationRow> = delivery
        .applications
        .values()
        .map(|a| ApplicationRow {
            application: a.application.clone(),
            chart: match &a.version {
                Some(version) => format!("{} {version}", a.chart),
                None => a.chart.clone(),
            },
            namespace: a.namespace.clone(),
            wave: a.wave,
        })
        .collect();
    applications.sort_by(|a, b| (a.wave, &a.application).cmp(&(b.wave, &b.application)));
    DeliveryView {
        repository: delivery.repository.clone(),
        revision: delivery.revision.clone(),
        path: delivery.path.clone(),
        applications,
    }
}
