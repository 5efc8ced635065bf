//! From the construct tree's helm releases to what Argo CD delivers instead:
//! each release's chart, namespace, release name and values, its values
//! split into what synthesis knows (written into the git tree) and what only
//! terraform knows at apply time (role ARNs, the cluster's name: handed to
//! the root Application by terraform), and its sync wave from the releases
//! it depends on. Nothing here names a component: every helm_release of the
//! app stack is read alike, so an add-on gets its Application by existing.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};
use synth::{Address, App, Expr, Step};

use crate::releases::{release_values_with, Chart, ReleaseValues};
use crate::Error;

/// One release, as Argo CD will deliver it.
#[derive(Debug, Clone)]
pub struct Delivered {
    /// `helm_release.<id>`: the block it replaces.
    pub address: Address,
    /// The Application's name: the release's id, dashed.
    pub name: String,
    /// The Helm release name.
    pub release_name: String,
    pub namespace: String,
    pub chart: Chart,
    /// What synthesis knows of the values: literal, written into git.
    pub known: Value,
    /// The leaves only terraform knows, in the same shape (`None`: none).
    pub apply_time: Option<Expr>,
    /// Whether the namespace is created for it (`create_namespace`).
    pub create_namespace: bool,
    pub skip_crds: bool,
    /// 0 for a release that needs no other; else one more than the latest
    /// wave of the releases it depends on.
    pub wave: u32,
}

/// Marks a part of a value only terraform knows, inside the evaluated
/// values: `<MARK>n<MARK>` stands for the n-th such part.
const MARK: char = '\u{1}';

/// Every helm_release of `app` except `keep` (the ones terraform itself
/// installs), as Argo CD will deliver it, in dependency order.
pub fn delivered(app: &App, keep: &[Address]) -> Result<Vec<Delivered>, Error> {
    let mut unknowns: Vec<Expr> = Vec::new();
    let releases = release_values_with(app, &mut |expr| {
        unknowns.push(expr.clone());
        Value::String(format!("{MARK}{}{MARK}", unknowns.len() - 1))
    });
    let blocks: BTreeMap<Address, &synth::Resource> = app
        .stacks()
        .iter()
        .flat_map(|s| s.resources())
        .map(|r| (r.address(), r))
        .collect();
    let converted: Vec<&ReleaseValues> = releases
        .iter()
        .filter(|r| !keep.iter().any(|k| k.to_string() == r.address))
        .collect();
    let ids: BTreeSet<&str> = converted.iter().map(|r| r.address.as_str()).collect();
    let mut out: Vec<Delivered> = Vec::new();
    let mut waves: BTreeMap<String, u32> = BTreeMap::new();
    // Releases come in the order they were declared, which is dependency
    // order (a component takes handles of what it follows); a release
    // declared before one it follows is an error, not a guess.
    for release in converted {
        let address = address_of(&release.address);
        let block = blocks
            .get(&address)
            .ok_or_else(|| problem(&release.address, "is not in the construct tree"))?;
        let after: BTreeSet<String> = block
            .dependencies()
            .into_iter()
            .map(ToString::to_string)
            .filter(|d| ids.contains(d.as_str()))
            .collect();
        let mut wave = 0;
        for dependency in &after {
            let earlier = waves.get(dependency).ok_or_else(|| {
                problem(
                    &release.address,
                    &format!("depends on {dependency}, which is declared after it"),
                )
            })?;
            wave = wave.max(earlier + 1);
        }
        waves.insert(release.address.clone(), wave);
        let namespace = literal(&blocks, &release.namespace, &unknowns).ok_or_else(|| {
            problem(
                &release.address,
                "has a namespace only terraform knows; Argo CD needs it written in git",
            )
        })?;
        let (known, apply_time) = split(&release.values, &unknowns);
        let flag = |name: &str| matches!(block.get(name), Some(Expr::Bool(true)));
        out.push(Delivered {
            name: address_name(&address).replace('_', "-"),
            release_name: release.name.clone(),
            namespace,
            chart: release.chart.clone(),
            known: known.unwrap_or_else(|| Value::Object(Map::new())),
            apply_time,
            create_namespace: flag("create_namespace"),
            skip_crds: flag("skip_crds"),
            wave,
            address,
        });
    }
    Ok(out)
}

fn problem(address: &str, message: &str) -> Error {
    Error::Gitops(format!("{address} {message}"))
}

fn address_of(text: &str) -> Address {
    let name = text.strip_prefix("helm_release.").unwrap_or(text);
    Address::resource("helm_release", name)
}

fn address_name(address: &Address) -> &str {
    match address {
        Address::Resource { name, .. } | Address::Data { name, .. } => name,
        Address::Var(name) | Address::Local(name) => name,
    }
}

/// The parts of `value` that carry marks, as the expressions they stand for.
fn marked(text: &str, unknowns: &[Expr]) -> Option<Expr> {
    if !text.contains(MARK) {
        return None;
    }
    let mut parts = Vec::new();
    for (i, piece) in text.split(MARK).enumerate() {
        if i % 2 == 1 {
            let n: usize = piece.parse().ok()?;
            parts.push(unknowns.get(n)?.clone());
        } else if !piece.is_empty() {
            parts.push(Expr::from(piece));
        }
    }
    Some(match <[Expr; 1]>::try_from(parts) {
        Ok([single]) => single,
        Err(parts) => Expr::Template(parts),
    })
}

/// Whether any string inside `value` carries a mark.
fn has_marks(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains(MARK),
        Value::Array(items) => items.iter().any(has_marks),
        Value::Object(map) => map.values().any(has_marks),
        _ => false,
    }
}

/// `value` as an expression, its marked strings the expressions they mark.
fn to_expr(value: &Value, unknowns: &[Expr]) -> Expr {
    match value {
        Value::String(s) => marked(s, unknowns).unwrap_or_else(|| Expr::from(s.as_str())),
        Value::Array(items) => Expr::List(items.iter().map(|i| to_expr(i, unknowns)).collect()),
        Value::Object(map) => Expr::Map(
            map.iter()
                .map(|(k, v)| (k.clone(), to_expr(v, unknowns)))
                .collect(),
        ),
        other => Expr::from(other),
    }
}

/// Splits evaluated values into the literal part and the part terraform
/// fills in, in the same shape. Mappings split key by key; a list with any
/// apply-time item goes whole to terraform (Helm replaces lists, it does not
/// merge them, so half a list in each would lose one half).
pub(crate) fn split(value: &Value, unknowns: &[Expr]) -> (Option<Value>, Option<Expr>) {
    match value {
        Value::Object(map) => {
            let mut known = Map::new();
            let mut later = BTreeMap::new();
            for (key, child) in map {
                let (k, l) = split(child, unknowns);
                if let Some(k) = k {
                    known.insert(key.clone(), k);
                }
                if let Some(l) = l {
                    later.insert(key.clone(), l);
                }
            }
            // An empty mapping is kept where it was written empty, not where
            // everything under it is filled in later.
            let keep_known = !known.is_empty() || later.is_empty();
            (
                keep_known.then_some(Value::Object(known)),
                (!later.is_empty()).then_some(Expr::Map(later)),
            )
        }
        other if has_marks(other) => (None, Some(to_expr(other, unknowns))),
        other => (Some(other.clone()), None),
    }
}

/// What an evaluated value is when it is known at synth time: a literal, or
/// a reference to an attribute the configuration itself sets to a literal
/// (a namespace resource's `metadata[0].name`).
fn literal(
    blocks: &BTreeMap<Address, &synth::Resource>,
    value: &Value,
    unknowns: &[Expr],
) -> Option<String> {
    let text = value.as_str()?;
    match marked(text, unknowns) {
        None => Some(text.to_owned()),
        Some(Expr::Ref(address, steps)) => {
            let block = blocks.get(&address)?;
            let (first, rest) = steps.split_first()?;
            let Step::Attr(name) = first else {
                return None;
            };
            follow(block.get(name)?, rest)
        }
        Some(_) => None,
    }
}

/// Walks attribute steps into a literal expression; an index step into a
/// nested block written as an object (`metadata[0]`) stays on the object.
fn follow(expr: &Expr, steps: &[Step]) -> Option<String> {
    match (expr, steps.split_first()) {
        (Expr::Str(s), None) => Some(s.clone()),
        (Expr::Map(map), Some((Step::Attr(name), rest))) => follow(map.get(name)?, rest),
        (Expr::Map(_), Some((Step::Index(_), rest))) => follow(expr, rest),
        (Expr::List(items), Some((Step::Index(index), rest))) => match index.as_ref() {
            Expr::Number(n) => follow(items.get(usize::try_from(n.as_u64()?).ok()?)?, rest),
            _ => None,
        },
        _ => None,
    }
}
