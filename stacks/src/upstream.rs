//! What the pinned upstream charts accept, and checking the values we pass
//! them against it. Helm ignores a values key the chart does not read, so a
//! misspelt key is a silent misconfiguration; the facts derived from each
//! chart's own defaults and schema (`stacks/upstream/charts/`, by
//! `just upstream-facts`) turn it into a failing check.
//!
//! The facts are read from disk by the checks (tests, `just` recipes), never
//! compiled into the binary: synthesis stays as fast as it was.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use synth::Expr;

/// Where the derived facts live in a checkout.
pub fn facts_dir(root: &Path) -> PathBuf {
    root.join("stacks/upstream")
}

/// The values keys one chart version defines, with those of its sub-charts
/// (under the prefix each is configured at) where their facts exist.
#[derive(Debug, Clone, Deserialize)]
pub struct ChartFacts {
    pub chart: String,
    pub version: String,
    keys: BTreeMap<String, KeyKind>,
    /// Values prefix (the dependency's alias or name) -> the sub-chart.
    #[serde(default)]
    subcharts: BTreeMap<String, SubChart>,
    /// Prefixes of sub-charts the upstream data has no facts for: keys
    /// below them are only what the umbrella chart itself lists.
    #[serde(skip)]
    unchecked: Vec<String>,
}

/// A chart another chart depends on, at the version it pins.
#[derive(Debug, Clone, Deserialize)]
pub struct SubChart {
    pub chart: String,
    pub version: String,
}

/// What a chart's defaults hold at a key path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyKind {
    /// A mapping whose keys are all listed.
    Object,
    /// A mapping or null the chart passes through: any key below.
    Free,
    /// A list: any items.
    List,
    /// A scalar.
    Value,
}

impl ChartFacts {
    /// The facts of `chart` at `version` in the checkout at `root`, its
    /// sub-charts' keys merged in under their prefixes (a Grafana key under
    /// `grafana.` of kube-prometheus-stack is checked against the grafana
    /// chart the umbrella pins).
    pub fn load(root: &Path, chart: &str, version: &str) -> Result<Self, String> {
        let mut facts = Self::load_one(root, chart, version)?;
        for (prefix, sub) in facts.subcharts.clone() {
            match Self::load_one(root, &sub.chart, &sub.version) {
                Ok(sub_facts) => facts.merge_under(&prefix, sub_facts.keys),
                Err(_) => facts.unchecked.push(prefix),
            }
        }
        Ok(facts)
    }

    fn load_one(root: &Path, chart: &str, version: &str) -> Result<Self, String> {
        let path = facts_dir(root)
            .join("charts")
            .join(format!("{chart}-{version}.json"));
        let text = std::fs::read_to_string(&path).map_err(|e| {
            format!(
                "no facts for chart {chart} {version} ({}: {e}); add the chart's files to the \
                 upstream chart data and run `just upstream-facts`",
                path.display()
            )
        })?;
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The sub-chart's keys below `prefix`. Where both charts define a path,
    /// a pass-through map on either side stays open; otherwise the
    /// sub-chart's kind wins, since its templates read the value.
    fn merge_under(&mut self, prefix: &str, keys: BTreeMap<String, KeyKind>) {
        for (key, kind) in keys {
            let path = format!("{prefix}.{key}");
            let merged = match self.keys.get(&path) {
                Some(KeyKind::Free) => KeyKind::Free,
                _ => kind,
            };
            self.keys.insert(path, merged);
        }
    }

    /// Every key path the chart (and its sub-charts with facts) defines.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }

    /// Every problem with `values` (an expression tree of maps, as a
    /// release's `yamlencode(...)` holds it): keys the chart does not define,
    /// and maps or lists where the chart's default is something else.
    pub fn check(&self, values: &Expr) -> Vec<String> {
        let mut problems = Vec::new();
        if let Expr::Map(map) = values {
            for (key, value) in map {
                self.check_at(key, value, &mut problems);
            }
        }
        problems
    }

    fn check_at(&self, path: &str, value: &Expr, problems: &mut Vec<String>) {
        let Some(kind) = self.keys.get(path) else {
            problems.push(format!(
                "values key `{path}` is not defined by chart {} {}{}{}",
                self.chart,
                self.version,
                self.suggestion(path),
                self.unchecked_note(path)
            ));
            return;
        };
        let found = match value {
            Expr::Map(_) => "a mapping",
            Expr::List(_) => "a list",
            _ => "",
        };
        match (kind, value) {
            (KeyKind::Free, _) | (_, Expr::Null | Expr::Ref(..) | Expr::Call(..)) => {}
            (KeyKind::Object, Expr::Map(map)) => {
                for (key, child) in map {
                    self.check_at(&format!("{path}.{key}"), child, problems);
                }
            }
            (KeyKind::List, Expr::List(_)) => {}
            (KeyKind::Value, value) if found.is_empty() && !matches!(value, Expr::Map(_)) => {}
            (kind, _) => problems.push(format!(
                "values key `{path}` of chart {} {} is {}, but {} is passed",
                self.chart,
                self.version,
                match kind {
                    KeyKind::Object => "a mapping",
                    KeyKind::List => "a list",
                    _ => "a single value",
                },
                if found.is_empty() {
                    "a single value"
                } else {
                    found
                }
            )),
        }
    }

    /// Where `path` is below a sub-chart without facts, how to add them (or
    /// the key, as an extra key with its reason).
    fn unchecked_note(&self, path: &str) -> String {
        self.unchecked
            .iter()
            .find(|prefix| path.starts_with(&format!("{prefix}.")))
            .and_then(|prefix| self.subcharts.get(prefix))
            .map_or_else(String::new, |sub| {
                format!(
                    "; sub-chart {} {} has no facts: add its files to the upstream chart data, \
                     or the key to stacks/upstream/extra-keys.json with its reason",
                    sub.chart, sub.version
                )
            })
    }

    /// " (did you mean `x`?)" among the keys beside `path`.
    fn suggestion(&self, path: &str) -> String {
        let (parent, _) = path.rsplit_once('.').unwrap_or(("", path));
        let siblings = self
            .keys
            .keys()
            .filter(|k| k.rsplit_once('.').map_or("", |(p, _)| p) == parent && k.as_str() != path);
        synth::did_you_mean(path, siblings.map(String::as_str))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> ChartFacts {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        ChartFacts::load(&root, "metrics-server", "3.12.2").expect("committed facts")
    }

    fn values(json: serde_json::Value) -> Expr {
        Expr::from(json)
    }

    #[test]
    fn known_keys_pass_and_free_maps_take_anything() {
        let v = values(serde_json::json!({
            "replicas": 2,
            "podDisruptionBudget": {"enabled": true, "maxUnavailable": 1},
            "nodeSelector": {"any/label": "x"},
            "tolerations": [{"operator": "Exists"}],
        }));
        assert_eq!(facts().check(&v), Vec::<String>::new());
    }

    #[test]
    fn a_misspelt_key_is_named_with_a_suggestion() {
        let v = values(serde_json::json!({"podDisruptionBudget": {"maxUnavalable": 1}}));
        assert_eq!(
            facts().check(&v),
            ["values key `podDisruptionBudget.maxUnavalable` is not defined by chart metrics-server 3.12.2 (did you mean `podDisruptionBudget.maxUnavailable`?)"]
        );
    }

    #[test]
    fn a_mapping_where_the_chart_has_a_value_is_wrong() {
        let v = values(serde_json::json!({"replicas": {"count": 2}}));
        assert_eq!(
            facts().check(&v),
            ["values key `replicas` of chart metrics-server 3.12.2 is a single value, but a mapping is passed"]
        );
    }

    fn umbrella() -> ChartFacts {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        ChartFacts::load(&root, "kube-prometheus-stack", "88.5.3").expect("committed facts")
    }

    #[test]
    fn a_sub_charts_keys_are_checked_under_its_prefix() {
        // `grafana.persistence` and `grafana.nodeSelector` are defined by the
        // grafana chart only, `grafana.defaultDashboardsEnabled` by the
        // umbrella only; both are accepted, and a misspelling below the
        // prefix is found with the sub-chart's keys as suggestions.
        let v = values(serde_json::json!({"grafana": {
            "persistence": {"enabled": true, "size": "2Gi"},
            "nodeSelector": {"pool": "monitoring"},
            "defaultDashboardsEnabled": true,
        }}));
        assert_eq!(umbrella().check(&v), Vec::<String>::new());
        let v = values(serde_json::json!({"grafana": {"persistance": {"enabled": true}}}));
        let problems = umbrella().check(&v);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].contains("did you mean `grafana.persistence`?"),
            "{problems:?}"
        );
    }

    #[test]
    fn a_key_below_a_sub_chart_without_facts_says_what_to_do() {
        let v = values(serde_json::json!({"kube-state-metrics": {"replicaz": 2}}));
        let problems = umbrella().check(&v);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].contains("sub-chart kube-state-metrics 8.4.0 has no facts"),
            "{problems:?}"
        );
    }

    #[test]
    fn a_chart_without_facts_says_how_to_add_them() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let err = ChartFacts::load(&root, "metrics-server", "0.0.1").expect_err("no facts");
        assert!(err.contains("run `just upstream-facts`"), "{err}");
    }
}
