//! The values each helm_release of an environment hands its chart, as
//! helm would merge them, evaluated at synth time with every value known
//! only at apply time standing for itself (`${aws_iam_role.karpenter.arn}`).
//! `infra values <env>` prints them; the chart checks render each chart with
//! them (custom resources against their CRDs, the service's chart through
//! its own checks).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;
use synth::{Address, App, Expr};

/// One release and what its chart receives.
#[derive(Debug, Clone, Serialize)]
pub struct ReleaseValues {
    /// `helm_release.<id>`.
    pub address: String,
    pub name: String,
    pub namespace: Value,
    /// `{repository, chart, version}` of an upstream chart, or `{path}` of a
    /// chart carried in the module (relative to it).
    pub chart: Chart,
    pub values: Value,
}

#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Chart {
    Upstream {
        repository: String,
        chart: String,
        version: String,
    },
    Local {
        path: String,
    },
}

/// Every helm_release of `app`, its values documents merged in order and its
/// `set` entries applied on top, as helm does.
pub fn release_values(app: &App) -> Vec<ReleaseValues> {
    release_values_with(app, &mut |unknown| {
        Value::String(format!("${{{}}}", unknown.to_hcl()))
    })
}

/// [`release_values`], with `unknown` deciding the value of each part only
/// terraform knows (a reference, a call); a local value is read through.
pub fn release_values_with(
    app: &App,
    unknown: &mut dyn FnMut(&Expr) -> Value,
) -> Vec<ReleaseValues> {
    let locals: BTreeMap<&str, &Expr> = app.stacks().iter().flat_map(|s| s.locals()).collect();
    fn read_through(
        locals: &BTreeMap<&str, &Expr>,
        unknown: &mut dyn FnMut(&Expr) -> Value,
        expr: &Expr,
    ) -> Value {
        match expr {
            Expr::Ref(Address::Local(name), steps) if steps.is_empty() => {
                locals.get(name.as_str()).map_or(Value::Null, |local| {
                    local.evaluate(&mut |e| read_through(locals, unknown, e))
                })
            }
            other => unknown(other),
        }
    }
    let mut evaluate = |expr: &Expr| expr.evaluate(&mut |e| read_through(&locals, unknown, e));
    let mut out = Vec::new();
    for stack in app.stacks() {
        for release in stack
            .resources()
            .iter()
            .filter(|r| r.ty() == "helm_release")
        {
            let text = |name: &str| match release.get(name) {
                Some(Expr::Str(s)) => s.clone(),
                _ => String::new(),
            };
            let chart = match release.get("repository") {
                Some(_) => Chart::Upstream {
                    repository: text("repository"),
                    chart: text("chart"),
                    version: text("version"),
                },
                None => Chart::Local {
                    path: match release.get("chart").map(Expr::evaluate_with_stand_ins) {
                        Some(Value::String(path)) => path
                            .strip_prefix("${path.module}/")
                            .unwrap_or(&path)
                            .to_owned(),
                        _ => String::new(),
                    },
                },
            };
            let mut values = Value::Object(serde_json::Map::new());
            if let Some(Expr::List(docs)) = release.get("values") {
                for doc in docs {
                    if let Expr::Call(name, args) = doc {
                        if let (true, Some(arg)) = (name == "yamlencode", args.first()) {
                            merge(&mut values, evaluate(arg));
                        }
                    }
                }
            }
            if let Some(Expr::List(sets)) = release.get("set") {
                for entry in sets {
                    if let Value::Object(entry) = evaluate(entry) {
                        if let (Some(Value::String(name)), Some(value)) =
                            (entry.get("name"), entry.get("value"))
                        {
                            set_path(&mut values, name, value.clone());
                        }
                    }
                }
            }
            out.push(ReleaseValues {
                address: release.address().to_string(),
                name: text("name"),
                namespace: release.get("namespace").map_or(Value::Null, &mut evaluate),
                chart,
                values,
            });
        }
    }
    out
}

/// Helm's merge of values documents: mappings merge key by key, anything
/// else is replaced.
fn merge(base: &mut Value, top: Value) {
    match (base, top) {
        (Value::Object(base), Value::Object(top)) => {
            for (key, value) in top {
                match base.get_mut(&key) {
                    Some(existing) if existing.is_object() && value.is_object() => {
                        merge(existing, value);
                    }
                    _ => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (base, top) => *base = top,
    }
}

/// A `set` entry's dotted name (`\.` is a literal dot), creating mappings.
fn set_path(values: &mut Value, name: &str, value: Value) {
    let mut keys = Vec::new();
    let mut key = String::new();
    let mut chars = name.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'.') => {
                key.push('.');
                chars.next();
            }
            '.' => keys.push(std::mem::take(&mut key)),
            c => key.push(c),
        }
    }
    let mut node = values;
    for parent in keys {
        node = object(node)
            .entry(parent)
            .or_insert_with(|| Value::Object(serde_json::Map::new()));
    }
    object(node).insert(key, value);
}

/// `value` as a mapping, replacing whatever else it held (as `--set` does).
fn object(value: &mut Value) -> &mut serde_json::Map<String, Value> {
    if !value.is_object() {
        *value = Value::Object(serde_json::Map::new());
    }
    value.as_object_mut().expect("just made a mapping")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn set_entries_go_on_top_of_merged_documents() {
        let mut values = json!({"image": {"tag": "old", "pullPolicy": "IfNotPresent"}});
        merge(&mut values, json!({"image": {"tag": "new"}, "replicas": 2}));
        set_path(&mut values, "image.digest", json!("sha256:x"));
        set_path(&mut values, "podAnnotations.a\\.b/c", json!("1"));
        assert_eq!(
            values,
            json!({
                "image": {"tag": "new", "pullPolicy": "IfNotPresent", "digest": "sha256:x"},
                "replicas": 2,
                "podAnnotations": {"a.b/c": "1"},
            })
        );
    }
}
