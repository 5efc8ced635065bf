//! A synthesized module read back as the blocks terraform will see, with
//! the references between them, plus what its manifest records beside
//! them: the `[usage]` it was synthesized with and the resources
//! controllers in the cluster will create ([`crate::estimate`]).
//!
//! With GitOps on, the manifest also records the releases Argo CD delivers
//! instead of terraform ([`crate::gitops::Delivery`]): they are read as
//! blocks of their own kind, so what they cause and use is still seen.
//!
//! `infra cost`, `graph` and `report` all start here, from the module's
//! files: the same files whether they were just synthesized in memory or
//! are the module a previous `synth` left on disk, so the cost of a change
//! (`infra diff`) compares like with like.

use std::collections::BTreeMap;

use serde_json::Value;
use synth::MANIFEST_FILE;

use crate::config::UsageConfig;
use crate::estimate::{self, Count, Estimated};
use crate::gitops::{DeliveredRelease, Delivery, DELIVERY_METADATA_KEY};

/// A module's blocks and what its manifest says about them.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    /// The environment the module belongs to (from its manifest).
    pub environment: String,
    /// The AWS provider's region.
    pub region: Option<String>,
    /// Resources and data sources in stack order, then the releases Argo CD
    /// delivers, then estimated resources.
    pub blocks: Vec<Block>,
    /// The `[usage]` the module was synthesized with.
    pub usage: UsageConfig,
    /// Whether the manifest recorded usage and estimates (modules written by
    /// an older `infra` do not).
    pub has_estimates: bool,
    /// The module's locals, by name.
    pub locals: BTreeMap<String, Value>,
    /// What Argo CD delivers, when GitOps is on.
    pub delivery: Option<Delivery>,
    index: BTreeMap<String, usize>,
}

/// One resource, data source or estimated resource.
#[derive(Debug, Clone)]
pub struct Block {
    /// The stack (file) it is in; `in-cluster` for an estimated resource,
    /// `gitops` for a release Argo CD delivers.
    pub stack: String,
    /// `aws_vpc.main`, `data.aws_region.current`, `estimated.aws_lb.webapp`.
    pub address: String,
    pub ty: String,
    pub name: String,
    pub kind: Kind,
    /// The body terraform reads (the attributes, for an estimated resource).
    pub body: Value,
    /// How many instances: `count`, or the estimate's; `None` when only
    /// terraform knows (a computed `count` or `for_each`).
    pub count: Option<Count>,
    /// Blocks this one refers to, by address, in order of first mention.
    pub refs: Vec<String>,
    /// Subnets it is placed in, by address (`subnet_ids`, `subnets`,
    /// `subnet_id`, or the subnets an estimate's tag selects).
    pub subnets: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Resource,
    Data,
    /// Created by a controller in the cluster; what the estimate rests on.
    Estimated(Box<EstimateOrigin>),
    /// A helm release Argo CD delivers from git instead of terraform.
    Delivered(Box<DeliveredRelease>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct EstimateOrigin {
    pub created_by: String,
    pub controller: String,
    pub basis: String,
    /// Subnets carrying this tag key are where the controller places it.
    pub subnet_tag: Option<String>,
    /// The IAM role it runs as, by address.
    pub role: Option<String>,
}

/// Stack name of estimated resources.
pub const IN_CLUSTER: &str = "in-cluster";

/// Stack name of the releases Argo CD delivers.
pub const GITOPS: &str = "gitops";

#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    /// Boxed: synth's errors are large (see `stacks::Error`).
    #[error("reading the module's {file}")]
    Module {
        file: String,
        #[source]
        source: Box<synth::SynthError>,
    },
    #[error("{MANIFEST_FILE}: metadata `{key}` is not what this infra writes")]
    Metadata {
        key: &'static str,
        #[source]
        source: serde_json::Error,
    },
}

impl Inventory {
    /// Reads a module's files (names relative to the module directory).
    pub fn from_files(files: &BTreeMap<String, Vec<u8>>) -> Result<Self, InventoryError> {
        let manifest: Value = files
            .get(MANIFEST_FILE)
            .and_then(|bytes| serde_json::from_slice(bytes).ok())
            .unwrap_or(Value::Null);
        let mut inventory = Self {
            environment: manifest["environment"].as_str().unwrap_or("").to_owned(),
            ..Self::default()
        };
        let mut stack_files: Vec<&String> = files
            .keys()
            .filter(|n| n.ends_with(".tf.json") && !n.contains('/'))
            .collect();
        // The manifest lists stacks in dependency order; files sort by name.
        let order: Vec<&str> = manifest["stacks"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s["name"].as_str())
            .collect();
        stack_files.sort_by_key(|n| {
            let stem = n.trim_end_matches(".tf.json");
            (
                order.iter().position(|s| *s == stem).unwrap_or(usize::MAX),
                *n,
            )
        });
        for name in stack_files {
            let one = BTreeMap::from([(name.clone(), files[name].clone())]);
            let parsed = synth::diff::blocks(&one).map_err(|source| InventoryError::Module {
                file: name.clone(),
                source: Box::new(source),
            })?;
            let stack = name.trim_end_matches(".tf.json");
            for (address, body) in parsed {
                inventory.add_parsed(stack, address, body);
            }
        }
        let metadata = &manifest["metadata"];
        if let Some(usage) = metadata.get(estimate::USAGE_METADATA_KEY) {
            inventory.usage = serde_json::from_value(usage.clone()).map_err(|source| {
                InventoryError::Metadata {
                    key: estimate::USAGE_METADATA_KEY,
                    source,
                }
            })?;
        }
        if let Some(delivery) = metadata.get(DELIVERY_METADATA_KEY) {
            let delivery: Delivery =
                serde_json::from_value(delivery.clone()).map_err(|source| {
                    InventoryError::Metadata {
                        key: DELIVERY_METADATA_KEY,
                        source,
                    }
                })?;
            let mut releases: Vec<&DeliveredRelease> = delivery.applications.values().collect();
            releases.sort_by_key(|r| (r.wave, &r.release));
            for release in releases {
                inventory.add_delivered(release);
            }
            inventory.delivery = Some(delivery);
        }
        if let Some(estimated) = metadata.get(estimate::METADATA_KEY) {
            let estimated: estimate::Recorded =
                serde_json::from_value(estimated.clone()).map_err(|source| {
                    InventoryError::Metadata {
                        key: estimate::METADATA_KEY,
                        source,
                    }
                })?;
            inventory.has_estimates = true;
            for e in estimated.into_vec() {
                inventory.add_estimated(e);
            }
        }
        inventory.link();
        Ok(inventory)
    }

    fn add_parsed(&mut self, stack: &str, address: String, body: Value) {
        if let Some(provider) = address.strip_prefix("provider.") {
            if provider == "aws" {
                self.region = body["region"].as_str().map(str::to_owned);
            }
            return;
        }
        if let Some(local) = address.strip_prefix("local.") {
            self.locals.insert(local.to_owned(), body);
            return;
        }
        let (kind, rest) = match address.strip_prefix("data.") {
            Some(rest) => (Kind::Data, rest),
            None => (Kind::Resource, address.as_str()),
        };
        let Some((ty, name)) = rest.split_once('.') else {
            return; // `terraform` and other top-level keys
        };
        if ["var", "output"].contains(&ty) {
            return;
        }
        let count = match (body.get("count"), body.get("for_each")) {
            (None, None) => Some(Count::exactly(1.0)),
            (Some(Value::Number(n)), _) => n.as_f64().map(Count::exactly),
            (_, Some(Value::Object(m))) => Some(Count::exactly(m.len() as f64)),
            (_, Some(Value::Array(a))) => Some(Count::exactly(a.len() as f64)),
            _ => None,
        };
        self.blocks.push(Block {
            stack: stack.to_owned(),
            ty: ty.to_owned(),
            name: name.to_owned(),
            address: address.clone(),
            kind,
            body,
            count,
            refs: Vec::new(),
            subnets: Vec::new(),
        });
    }

    /// A delivered release as the helm_release it replaces would read: its
    /// name, namespace and chart.
    fn add_delivered(&mut self, release: &DeliveredRelease) {
        let Some((ty, name)) = release.release.split_once('.') else {
            return;
        };
        let mut body = serde_json::Map::new();
        body.insert("name".into(), release.release_name.clone().into());
        body.insert("namespace".into(), release.namespace.clone().into());
        body.insert("chart".into(), release.chart.clone().into());
        for (key, value) in [
            ("version", &release.version),
            ("repository", &release.repository),
        ] {
            if let Some(value) = value {
                body.insert(key.into(), value.clone().into());
            }
        }
        self.blocks.push(Block {
            stack: GITOPS.to_owned(),
            address: release.release.clone(),
            ty: ty.to_owned(),
            name: name.to_owned(),
            kind: Kind::Delivered(Box::new(release.clone())),
            body: Value::Object(body),
            count: Some(Count::exactly(1.0)),
            refs: Vec::new(),
            subnets: Vec::new(),
        });
    }

    fn add_estimated(&mut self, e: Estimated) {
        self.blocks.push(Block {
            stack: IN_CLUSTER.to_owned(),
            address: e.address(),
            kind: Kind::Estimated(Box::new(EstimateOrigin {
                created_by: e.created_by,
                controller: e.controller,
                basis: e.basis,
                subnet_tag: e.subnet_tag,
                role: e.role,
            })),
            ty: e.ty,
            name: e.name,
            body: Value::Object(e.attributes),
            count: Some(e.count),
            refs: Vec::new(),
            subnets: Vec::new(),
        });
    }

    /// Indexes the blocks, drops estimates whose cause is not in the module
    /// (a `--stacks` subset without the app stack creates none), and works
    /// out references and subnets.
    fn link(&mut self) {
        let present: Vec<String> = self.blocks.iter().map(|b| b.address.clone()).collect();
        self.blocks.retain(|b| match &b.kind {
            Kind::Estimated(origin) => present.contains(&origin.created_by),
            _ => true,
        });
        self.index = self
            .blocks
            .iter()
            .enumerate()
            .map(|(i, b)| (b.address.clone(), i))
            .collect();
        let tagged = |key: &str| -> Vec<String> {
            self.blocks
                .iter()
                .filter(|b| b.ty == "aws_subnet" && b.body["tags"].get(key).is_some())
                .map(|b| b.address.clone())
                .collect()
        };
        let mut linked = Vec::with_capacity(self.blocks.len());
        // The root Application carries the delivered releases' apply-time
        // values on their behalf: those references are theirs.
        let (root, carried): (Option<&str>, Vec<&String>) = match &self.delivery {
            Some(d) => (
                Some(d.root.as_str()),
                d.applications.values().flat_map(|a| &a.refs).collect(),
            ),
            None => (None, Vec::new()),
        };
        for block in &self.blocks {
            let mut refs = Vec::new();
            collect_refs(&block.body, &self.index, &mut refs);
            let named: Vec<&String> = match &block.kind {
                Kind::Delivered(release) => release.refs.iter().collect(),
                Kind::Estimated(origin) => origin.role.iter().collect(),
                _ => Vec::new(),
            };
            for address in named {
                if self.index.contains_key(address) && !refs.contains(address) {
                    refs.push(address.clone());
                }
            }
            if Some(block.address.as_str()) == root {
                refs.retain(|r| !carried.contains(&r));
            }
            let subnets = match &block.kind {
                Kind::Estimated(origin) => {
                    origin.subnet_tag.as_deref().map(tagged).unwrap_or_default()
                }
                _ => ["subnet_ids", "subnets", "subnet_id"]
                    .iter()
                    .filter_map(|attr| block.body.get(*attr))
                    .flat_map(|v| {
                        let mut found = Vec::new();
                        collect_refs(v, &self.index, &mut found);
                        found
                    })
                    .filter(|a| a.starts_with("aws_subnet."))
                    .collect(),
            };
            linked.push((refs, subnets));
        }
        for (block, (refs, subnets)) in self.blocks.iter_mut().zip(linked) {
            block.refs = refs;
            block.subnets = subnets;
        }
    }

    pub fn get(&self, address: &str) -> Option<&Block> {
        self.index.get(address).map(|i| &self.blocks[*i])
    }

    /// Managed and estimated resources of type `ty`.
    pub fn of_type<'a>(&'a self, ty: &'a str) -> impl Iterator<Item = &'a Block> + 'a {
        self.blocks
            .iter()
            .filter(move |b| b.ty == ty && b.kind != Kind::Data)
    }

    /// The first block of type `ty` that `block` refers to (a node group's
    /// launch template).
    pub fn referenced<'a>(&'a self, block: &Block, ty: &str) -> Option<&'a Block> {
        block
            .refs
            .iter()
            .filter_map(|r| self.get(r))
            .find(|b| b.ty == ty)
    }

    /// Blocks that refer to `address`.
    pub fn referrers<'a>(&'a self, address: &'a str) -> impl Iterator<Item = &'a Block> + 'a {
        self.blocks
            .iter()
            .filter(move |b| b.refs.iter().any(|r| r == address))
    }
}

impl Block {
    pub fn is_estimated(&self) -> bool {
        matches!(self.kind, Kind::Estimated(_))
    }

    /// A release Argo CD delivers instead of terraform.
    pub fn is_delivered(&self) -> bool {
        matches!(self.kind, Kind::Delivered(_))
    }

    /// A string attribute.
    pub fn text(&self, attr: &str) -> Option<&str> {
        self.body.get(attr).and_then(Value::as_str)
    }

    /// A number attribute.
    pub fn number(&self, attr: &str) -> Option<f64> {
        self.body.get(attr).and_then(Value::as_f64)
    }

    /// The strings of a list attribute (`instance_types`).
    pub fn strings(&self, attr: &str) -> Vec<&str> {
        self.body
            .get(attr)
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    }

    /// A nested block written as an object or a one-element list.
    pub fn nested(&self, attr: &str) -> Option<&Value> {
        match self.body.get(attr)? {
            Value::Array(items) => items.first(),
            other => Some(other),
        }
    }
}

/// Addresses of known blocks named inside `${...}` interpolations under
/// `value` (`aws_iam_role.node.arn`, `data.aws_iam_policy_document.x.json`).
fn collect_refs(value: &Value, known: &BTreeMap<String, usize>, out: &mut Vec<String>) {
    match value {
        Value::String(s) if s.contains("${") => {
            let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.';
            for word in s.split(|c: char| !is_word(c)) {
                // The address is the word up to its second dot (third for a
                // data source): a slice, looked up without allocating, as
                // the values of large releases hold thousands of words.
                let dots = if word.starts_with("data.") { 3 } else { 2 };
                let end = word
                    .match_indices('.')
                    .nth(dots - 1)
                    .map_or(word.len(), |(i, _)| i);
                let candidate = &word[..end];
                if candidate.matches('.').count() != dots - 1 {
                    continue;
                }
                if known.contains_key(candidate) && !out.iter().any(|o| o == candidate) {
                    out.push(candidate.to_owned());
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, known, out)),
        Value::Object(map) => map.values().for_each(|v| collect_refs(v, known, out)),
        _ => {}
    }
}
