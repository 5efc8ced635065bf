//! What the repository says about watching the service, delivered to the
//! cluster: alert and recording rules (`observability/alerts/*.toml`, each
//! alert with a runbook in `docs/runbooks/`) as PrometheusRules, the
//! service's ServiceMonitor, both custom resources in a chart of ours after
//! the operator, with the service's dashboard
//! (`observability/dashboards/*.json`) as a ConfigMap Grafana's sidecar loads.
//!
//! The service's chart has a ServiceMonitor template of its own; it stays
//! off (the webapp values never enable it), so the service is scraped once.
//! Delivering it here keeps the scrape, the rules that read its job label
//! and the dashboard in one place and version, lets a deploy of the service
//! proceed without waiting for (or depending on) the monitoring stack, and
//! puts the object through the CRD-schema check of every custom resource.

use std::collections::BTreeMap;

use bindings::helm::release::ReleaseRef;
use serde::{Deserialize, Serialize};
use synth::{Address, Stack};

use super::alloy::SERVICE_CONTAINER;
use super::Cluster;
use crate::config::Environment;
use crate::helm::fixed_resources;
use crate::webapp::RELEASE_NAME;
use crate::Error;

/// Rule files, embedded at build time: the program carries them like its
/// provider schemas, so a synthesis reads nothing but the config.
pub const ALERT_FILES: &[(&str, &str)] = &[
    (
        "observability/alerts/webapp.toml",
        include_str!("../../../observability/alerts/webapp.toml"),
    ),
    (
        "observability/alerts/pipeline.toml",
        include_str!("../../../observability/alerts/pipeline.toml"),
    ),
];

/// Dashboards (Grafana JSON models), likewise.
pub const DASHBOARD_FILES: &[(&str, &str)] = &[(
    "observability/dashboards/webapp.json",
    include_str!("../../../observability/dashboards/webapp.json"),
)];

/// The label Grafana's sidecar loads dashboards from ConfigMaps by.
const DASHBOARD_LABEL: (&str, &str) = ("grafana_dashboard", "1");

/// How often Prometheus scrapes the service.
const SCRAPE_INTERVAL: &str = "30s";
const SCRAPE_TIMEOUT: &str = "10s";

/// A rule file: Prometheus' rule-file format (groups of rules), in TOML.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleFile {
    pub groups: Vec<RuleGroup>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleGroup {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
    pub rules: Vec<Rule>,
}

/// A recording rule (`record`) or an alert (`alert`, with `for`, labels and
/// annotations).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<String>,
    pub expr: String,
    #[serde(default, rename = "for", skip_serializing_if = "Option::is_none")]
    pub for_: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl RuleFile {
    /// What Prometheus would refuse when loading the group, found before:
    /// a rule that is both or neither an alert and a recording, an alert
    /// without a severity, two groups of one name.
    pub(super) fn check(&self) -> Result<(), String> {
        let mut names = std::collections::BTreeSet::new();
        for group in &self.groups {
            if !names.insert(group.name.as_str()) {
                return Err(format!("group `{}` is defined twice", group.name));
            }
            for (i, rule) in group.rules.iter().enumerate() {
                let at = format!("group `{}`, rule {}", group.name, i + 1);
                match (&rule.alert, &rule.record) {
                    (Some(_), Some(_)) | (None, None) => {
                        return Err(format!("{at}: needs exactly one of `alert` and `record`"));
                    }
                    (Some(alert), None) if !rule.labels.contains_key("severity") => {
                        return Err(format!("{at}: alert {alert} has no severity label"));
                    }
                    (None, Some(record)) if rule.for_.is_some() => {
                        return Err(format!("{at}: recording rule {record} cannot have `for`"));
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }
}

/// The values the rule files' `${name}` placeholders stand for in `env`.
pub fn placeholders(env: &Environment) -> Vec<(&'static str, String)> {
    let config = &env.config;
    vec![
        ("service", RELEASE_NAME.to_owned()),
        ("service_container", SERVICE_CONTAINER.to_owned()),
        ("service_namespace", config.service.namespace.clone()),
        (
            "monitoring_namespace",
            config.observability.namespace.clone(),
        ),
        (
            "runbooks",
            format!(
                "https://github.com/{}/blob/{}/docs/runbooks",
                config.ci.github_repository, config.ci.branch
            ),
        ),
    ]
}

/// `text` with every `${name}` replaced by its value; an unknown name is
/// an error naming it.
pub fn substitute(text: &str, values: &[(&str, String)]) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("`${{` without a closing `}}` in `{}`", &rest[start..]))?;
        let name = &after[..end];
        let value = values
            .iter()
            .find(|(known, _)| *known == name)
            .map(|(_, value)| value)
            .ok_or_else(|| {
                let known: Vec<&str> = values.iter().map(|(k, _)| *k).collect();
                format!(
                    "unknown placeholder `${{{name}}}`; known: {}",
                    known.join(", ")
                )
            })?;
        out.push_str(value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Every rule file, placeholders filled in for `env`, each with its path.
pub fn alert_rules(env: &Environment) -> Result<Vec<(&'static str, RuleFile)>, Error> {
    let values = placeholders(env);
    ALERT_FILES
        .iter()
        .map(|(path, text)| {
            let problem = |message: String| Error::ObservabilityFile { path, message };
            let text = substitute(text, &values).map_err(problem)?;
            let file: RuleFile = toml::from_str(&text).map_err(|e| problem(e.to_string()))?;
            file.check().map_err(problem)?;
            Ok((*path, file))
        })
        .collect()
}

/// Every dashboard, each with its path and its Grafana JSON model (not
/// templated: Grafana's own `$variables` fill it in).
pub fn dashboards() -> Result<Vec<(&'static str, serde_json::Value)>, Error> {
    DASHBOARD_FILES
        .iter()
        .map(|(path, text)| {
            serde_json::from_str(text)
                .map(|model| (*path, model))
                .map_err(|e| Error::ObservabilityFile {
                    path,
                    message: e.to_string(),
                })
        })
        .collect()
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Object {
    api_version: &'static str,
    kind: &'static str,
    metadata: Metadata,
    #[serde(skip_serializing_if = "Option::is_none")]
    spec: Option<Spec>,
    /// A ConfigMap's.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    data: BTreeMap<String, String>,
}

#[derive(Debug, Serialize)]
struct Metadata {
    name: String,
    namespace: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    labels: BTreeMap<&'static str, &'static str>,
}

#[derive(Debug, Serialize)]
#[serde(untagged)]
enum Spec {
    Monitor(ServiceMonitorSpec),
    Rules(RuleFile),
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ServiceMonitorSpec {
    selector: LabelSelector,
    namespace_selector: NamespaceSelector,
    endpoints: Vec<Endpoint>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct LabelSelector {
    match_labels: BTreeMap<&'static str, &'static str>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct NamespaceSelector {
    match_names: Vec<String>,
}

/// Scraped on the pods' `http` port (the one the NetworkPolicy admits),
/// whichever Service port (http, https) leads there.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Endpoint {
    target_port: &'static str,
    path: &'static str,
    interval: &'static str,
    scrape_timeout: &'static str,
}

/// The service's Service: the selector labels of its chart
/// (`webapp.selectorLabels`), the chart's name and the release's.
pub fn service_selector() -> BTreeMap<&'static str, &'static str> {
    [
        ("app.kubernetes.io/name", "webapp"),
        ("app.kubernetes.io/instance", RELEASE_NAME),
    ]
    .into()
}

/// The ServiceMonitor, the PrometheusRules and the dashboards' ConfigMaps,
/// in one chart of fixed objects after the operator's release (which owns
/// the CRDs). None of them holds a value known only at apply time.
pub fn deliver(
    stack: &mut Stack,
    cluster: &Cluster<'_>,
    operator: &ReleaseRef,
) -> Result<(), Error> {
    let env = cluster.env;
    let namespace = env.config.observability.namespace.clone();
    let metadata = |name: &str| Metadata {
        name: name.to_owned(),
        namespace: namespace.clone(),
        labels: BTreeMap::new(),
    };
    let mut objects = vec![Object {
        api_version: "monitoring.coreos.com/v1",
        kind: "ServiceMonitor",
        metadata: metadata(RELEASE_NAME),
        spec: Some(Spec::Monitor(ServiceMonitorSpec {
            selector: LabelSelector {
                match_labels: service_selector(),
            },
            namespace_selector: NamespaceSelector {
                match_names: vec![env.config.service.namespace.clone()],
            },
            endpoints: vec![Endpoint {
                target_port: "http",
                path: "/metrics",
                interval: SCRAPE_INTERVAL,
                scrape_timeout: SCRAPE_TIMEOUT,
            }],
        })),
        data: BTreeMap::new(),
    }];
    for (path, file) in alert_rules(env)? {
        objects.push(Object {
            api_version: "monitoring.coreos.com/v1",
            kind: "PrometheusRule",
            metadata: metadata(&object_name(path)),
            spec: Some(Spec::Rules(file)),
            data: BTreeMap::new(),
        });
    }
    for (path, model) in dashboards()? {
        let name = object_name(path);
        objects.push(Object {
            api_version: "v1",
            kind: "ConfigMap",
            metadata: Metadata {
                labels: [DASHBOARD_LABEL].into(),
                ..metadata(&format!("dashboard-{name}"))
            },
            spec: None,
            data: [(format!("{name}.json"), model.to_string())].into(),
        });
    }
    fixed_resources(
        stack,
        "webapp_monitoring",
        "webapp-monitoring",
        &namespace,
        &objects,
        &[Address::from(operator)],
    )?;
    Ok(())
}

/// `observability/alerts/webapp.toml` -> `webapp`.
fn object_name(path: &str) -> String {
    let file = path.rsplit('/').next().unwrap_or(path);
    file.split('.').next().unwrap_or(file).to_owned()
}
