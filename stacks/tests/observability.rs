//! The queries of the alert rules and dashboards mean something: each parses
//! as PromQL (the promql-parser crate, as Prometheus' own grammar has it),
//! and each metric it reads is exported by the service (read from the real
//! service binary's /metrics, started on 127.0.0.1), by the stack
//! (observability/metrics.toml, with each metric's source) or by a
//! recording rule of the same files. The label values the rules and
//! dashboards match on the service's metrics (routes, statuses, histogram
//! buckets) are values the service really exports.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use promql_parser::label::MatchOp;
use promql_parser::parser::{self, Expr};
use serde::Deserialize;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Labels Prometheus attaches to every series it scrapes through a
/// ServiceMonitor (the target's), besides those the service exports.
const TARGET_LABELS: &[&str] = &[
    "job",
    "namespace",
    "pod",
    "service",
    "endpoint",
    "container",
    "instance",
];

/// What Grafana puts in a dashboard's `$variables` before querying.
const GRAFANA_VARIABLES: &[(&str, &str)] = &[("$__rate_interval", "2m"), ("$namespace", "webapp")];

#[derive(Debug, Deserialize)]
struct Inventory {
    source: Vec<Source>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Source {
    component: String,
    shipped_by: String,
    reference: String,
    metrics: Vec<String>,
}

/// Every metric the stack exports that the queries may read.
fn stack_metrics() -> BTreeMap<String, String> {
    let path = repo_root().join("observability/metrics.toml");
    let text = std::fs::read_to_string(&path).expect("observability/metrics.toml");
    let inventory: Inventory = toml::from_str(&text).expect("a metric inventory");
    let mut out = BTreeMap::new();
    for source in inventory.source {
        assert!(
            source.reference.starts_with("https://") && !source.shipped_by.is_empty(),
            "{}: each source says where its metrics come from",
            source.component
        );
        for metric in source.metrics {
            assert!(
                out.insert(metric.clone(), source.component.clone())
                    .is_none(),
                "{metric} is listed twice"
            );
        }
    }
    out
}

/// The running service binary; killed when dropped.
struct Service(Child);

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The service binary of the build profile these tests run under, built
/// first (a no-op when it is up to date).
fn service_binary() -> PathBuf {
    let profile_dir = std::env::current_exe()
        .expect("test binary path")
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps")
        .to_path_buf();
    let mut build = Command::new(env!("CARGO"));
    build.current_dir(repo_root()).args([
        "build", "--locked", "--quiet", "-p", "service", "--bin", "webapp",
    ]);
    if profile_dir.ends_with("release") {
        build.arg("--release");
    }
    let status = build.status().expect("cargo build of the service");
    assert!(status.success(), "building the service failed");
    profile_dir.join("webapp")
}

/// One request; the status line and the body.
fn request(address: &str, method: &str, path: &str) -> (String, String) {
    let mut stream = TcpStream::connect(address).expect("connect to the service");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .expect("request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response");
    let (head, body) = response.split_once("\r\n\r\n").expect("HTTP response");
    let status = head.lines().next().unwrap_or_default().to_owned();
    (status, body.to_owned())
}

/// Starts the service on a free port of 127.0.0.1, has it answer every
/// route and status it can (a 503 from /readyz once SIGTERM started its
/// drain), and returns its /metrics: series appear once counted.
fn scrape_service() -> String {
    let mut child = Command::new(service_binary())
        .env_clear()
        .env("PORT", "0")
        .env("SERVICE_LISTEN_ADDRESS", "127.0.0.1")
        .env("SERVICE_DRAIN_SECONDS", "10")
        .env("APP_ENV", "test")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the service");
    let stdout = child.stdout.take().expect("piped stdout");
    let pid = child.id().to_string();
    let service = Service(child);
    // The first line says where it listens: {"msg":"listening","address":"127.0.0.1:PORT",...}
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    let address = loop {
        let line = receiver
            .recv_timeout(Duration::from_secs(20))
            .expect("the service logs where it listens within 20 s");
        let json: serde_json::Value = serde_json::from_str(&line).expect("a JSON log line");
        if json["msg"] == "listening" {
            break json["address"].as_str().expect("address").to_owned();
        }
    };
    for (method, path, status) in [
        ("GET", "/", "200"),
        ("GET", "/configs", "200"),
        ("GET", "/healthz", "200"),
        ("GET", "/readyz", "200"),
        ("GET", "/metrics", "200"),
        ("GET", "/no-such-page", "404"),
        ("POST", "/", "405"),
    ] {
        let (line, _) = request(&address, method, path);
        assert!(line.contains(status), "{method} {path}: {line}");
    }
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(killed.success(), "SIGTERM to the service");
    let draining = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(50));
        request(&address, "GET", "/readyz").0.contains("503")
    });
    assert!(draining, "/readyz answers 503 while draining");
    let (line, body) = request(&address, "GET", "/metrics");
    assert!(line.contains("200"), "{line}");
    drop(service);
    body
}

/// Series names of a Prometheus text exposition, with every label's values.
fn exposition(text: &str) -> BTreeMap<String, BTreeMap<String, BTreeSet<String>>> {
    let mut series: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (name_labels, _value) = line.rsplit_once(' ').expect("name and value");
        let (name, labels) = name_labels
            .split_once('{')
            .map_or((name_labels, ""), |(n, l)| (n, l.trim_end_matches('}')));
        let entry = series.entry(name.to_owned()).or_default();
        for pair in labels.split("\",").filter(|p| !p.is_empty()) {
            let (label, value) = pair.split_once("=\"").expect("label=\"value\"");
            entry
                .entry(label.to_owned())
                .or_default()
                .insert(value.trim_end_matches('"').to_owned());
        }
    }
    series
}

/// A query and where it comes from.
struct Query {
    origin: String,
    promql: String,
}

fn rule_queries() -> (Vec<Query>, BTreeSet<String>) {
    let env = stacks::load_environment(&repo_root(), "staging").expect("shipped config");
    let mut queries = Vec::new();
    let mut recorded = BTreeSet::new();
    for (path, file) in stacks::observability::alert_rules(&env).expect("rule files") {
        for group in &file.groups {
            for rule in &group.rules {
                let name = rule.alert.clone().or(rule.record.clone()).expect("a name");
                if let Some(record) = &rule.record {
                    recorded.insert(record.clone());
                }
                queries.push(Query {
                    origin: format!("{path}: {}: {name}", group.name),
                    promql: rule.expr.clone(),
                });
            }
        }
    }
    (queries, recorded)
}

/// Every PromQL query of the dashboards (panels' targets on the Prometheus
/// data source, and template variables), Grafana's variables filled in,
/// and every Loki query's stream selector.
fn dashboard_queries() -> (Vec<Query>, Vec<Query>) {
    let mut promql = Vec::new();
    let mut logql = Vec::new();
    for (path, model) in stacks::observability::dashboards().expect("dashboards") {
        let fill = |text: &str| {
            let mut text = text.to_owned();
            for (variable, value) in GRAFANA_VARIABLES {
                text = text.replace(variable, value);
            }
            assert!(
                !text.contains('$'),
                "{path}: a variable no test fills in: {text}"
            );
            text
        };
        for variable in model["templating"]["list"].as_array().expect("templating") {
            let definition = variable["definition"].as_str().expect("definition");
            let inner = definition
                .strip_prefix("label_values(")
                .and_then(|d| d.rsplit_once(','))
                .map(|(selector, _)| selector)
                .expect("label_values(selector, label)");
            promql.push(Query {
                origin: format!("{path}: variable {}", variable["name"]),
                promql: fill(inner),
            });
        }
        let panels = model["panels"].as_array().expect("panels");
        for panel in panels.iter().filter(|p| p["type"] != "row") {
            let uid = panel["datasource"]["uid"].as_str().expect("datasource uid");
            for target in panel["targets"].as_array().expect("targets") {
                let query = Query {
                    origin: format!("{path}: panel {}", panel["title"]),
                    promql: fill(target["expr"].as_str().expect("expr")),
                };
                match uid {
                    "prometheus" => promql.push(query),
                    "loki" => logql.push(query),
                    other => panic!("{}: unknown data source {other}", query.origin),
                }
            }
        }
    }
    (promql, logql)
}

/// Each vector selector of an expression: (metric name, matchers).
fn selectors(expr: &Expr, out: &mut Vec<(String, Vec<promql_parser::label::Matcher>)>) {
    match expr {
        Expr::Aggregate(e) => {
            selectors(&e.expr, out);
            if let Some(param) = &e.param {
                selectors(param, out);
            }
        }
        Expr::Unary(e) => selectors(&e.expr, out),
        Expr::Binary(e) => {
            selectors(&e.lhs, out);
            selectors(&e.rhs, out);
        }
        Expr::Paren(e) => selectors(&e.expr, out),
        Expr::Subquery(e) => selectors(&e.expr, out),
        Expr::VectorSelector(vs) => out.push((
            vs.name.clone().unwrap_or_default(),
            vs.matchers.matchers.clone(),
        )),
        Expr::MatrixSelector(ms) => out.push((
            ms.vs.name.clone().unwrap_or_default(),
            ms.vs.matchers.matchers.clone(),
        )),
        Expr::Call(call) => {
            for arg in &call.args.args {
                selectors(arg, out);
            }
        }
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
}

#[test]
fn every_query_parses_and_reads_only_metrics_that_exist() {
    let service = exposition(&scrape_service());
    assert!(
        service.contains_key("webapp_http_requests_total"),
        "the scrape holds the service's metrics"
    );
    let stack = stack_metrics();
    let (mut queries, recorded) = rule_queries();
    let (dashboard_promql, _) = dashboard_queries();
    queries.extend(dashboard_promql);
    assert!(queries.len() > 30, "only {} queries found", queries.len());

    let mut problems = Vec::new();
    let mut stack_used = BTreeSet::new();
    for query in &queries {
        let expr = match parser::parse(&query.promql) {
            Ok(expr) => expr,
            Err(e) => {
                problems.push(format!(
                    "{}: does not parse: {e}\n{}",
                    query.origin, query.promql
                ));
                continue;
            }
        };
        let mut found = Vec::new();
        selectors(&expr, &mut found);
        assert!(!found.is_empty(), "{}: reads no metric", query.origin);
        for (name, matchers) in found {
            if let Some(labels) = service.get(&name) {
                // A series of the service: its labels and their values must exist.
                for m in &matchers {
                    if TARGET_LABELS.contains(&m.name.as_str()) {
                        continue;
                    }
                    let Some(values) = labels.get(&m.name) else {
                        problems.push(format!(
                            "{}: {name} has no label `{}`",
                            query.origin, m.name
                        ));
                        continue;
                    };
                    let missing: Vec<&str> = match &m.op {
                        MatchOp::Equal | MatchOp::NotEqual => [m.value.as_str()]
                            .into_iter()
                            .filter(|v| !values.contains(*v))
                            .collect(),
                        MatchOp::Re(_) | MatchOp::NotRe(_) if m.value.contains('|') => m
                            .value
                            .split('|')
                            .filter(|v| !values.contains(*v))
                            .collect(),
                        MatchOp::Re(re) | MatchOp::NotRe(re) => {
                            if values.iter().any(|v| re.is_match(v)) {
                                Vec::new()
                            } else {
                                vec![m.value.as_str()]
                            }
                        }
                    };
                    if !missing.is_empty() {
                        problems.push(format!(
                            "{}: {name}{{{}}} matches {missing:?}, which the service never exports (it has {values:?})",
                            query.origin, m.name
                        ));
                    }
                }
            } else if stack.contains_key(&name) {
                stack_used.insert(name);
            } else if !recorded.contains(&name) {
                problems.push(format!(
                    "{}: reads `{name}`, which neither the service, nor observability/metrics.toml, nor a recording rule has",
                    query.origin
                ));
            }
        }
    }
    let unused: Vec<&String> = stack.keys().filter(|m| !stack_used.contains(*m)).collect();
    if !unused.is_empty() {
        problems.push(format!(
            "observability/metrics.toml lists metrics no query reads: {unused:?}"
        ));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_recorded_series_is_read_by_an_alert_or_a_dashboard() {
    let (queries, recorded) = rule_queries();
    let (dashboard, _) = dashboard_queries();
    for name in &recorded {
        let read = queries
            .iter()
            .chain(&dashboard)
            .any(|q| q.promql.contains(name.as_str()) && !q.origin.ends_with(name.as_str()));
        assert!(read, "recording rule {name} is read by nothing");
    }
}

#[test]
fn log_queries_select_streams_by_labels_the_shipper_sets() {
    let (_, logql) = dashboard_queries();
    assert!(!logql.is_empty(), "the dashboard shows the service's logs");
    let known: BTreeSet<&str> = stacks::observability::STREAM_LABELS
        .iter()
        .chain(stacks::observability::SERVICE_LABELS)
        .copied()
        .collect();
    for query in logql {
        // A LogQL stream selector is a PromQL selector without a name.
        let selector = &query.promql[..=query.promql.find('}').expect("a stream selector")];
        let expr =
            parser::parse(selector).unwrap_or_else(|e| panic!("{}: {selector}: {e}", query.origin));
        let mut found = Vec::new();
        selectors(&expr, &mut found);
        for (_, matchers) in found {
            for m in matchers {
                assert!(
                    known.contains(m.name.as_str()),
                    "{}: selects streams by `{}`, a label Alloy never sets (it sets {known:?})",
                    query.origin,
                    m.name
                );
            }
        }
    }
}

/// Parts of the monitoring charts that run no pod with the values the
/// stacks pass (a nodeSelector key of the chart's facts below them needs no
/// placement), each with why.
const NOT_RUN: &[(&str, &str)] = &[
    (
        "crds.upgradeJob",
        "off by default: the CRDs come from the chart's crds/",
    ),
    ("thanosRuler", "Thanos is not deployed"),
    (
        "prometheusOperator.admissionWebhooks.deployment",
        "off by default: the operator serves its webhook itself",
    ),
    ("grafana.imageRenderer", "off by default"),
    ("imageRenderer", "off by default"),
    (
        "defaults",
        "defaults for Loki's components, each placed on its own",
    ),
    ("lokiCanary", "disabled (lokiCanary.enabled: false)"),
    ("chunksCache.l2", "no second-level cache"),
    (
        "tableManager",
        "deprecated; the compactor applies retention",
    ),
    (
        "read",
        "SimpleScalable target; Monolithic runs singleBinary",
    ),
    (
        "write",
        "SimpleScalable target; Monolithic runs singleBinary",
    ),
    (
        "backend",
        "SimpleScalable target; Monolithic runs singleBinary",
    ),
    ("ingester", "Distributed target"),
    ("distributor", "Distributed target"),
    ("querier", "Distributed target"),
    ("queryFrontend", "Distributed target"),
    ("queryScheduler", "Distributed target"),
    ("indexGateway", "Distributed target"),
    ("compactor", "Distributed target"),
    ("ruler", "Distributed target"),
    ("overridesExporter", "Distributed target"),
    ("patternIngester", "Distributed target"),
    ("bloomGateway", "Distributed target"),
    ("bloomPlanner", "Distributed target"),
    ("bloomBuilder", "Distributed target"),
];

/// Components that belong on every node: they tolerate every taint.
const EVERY_NODE: &[(&str, &str)] = &[
    ("kube-prometheus-stack", "prometheus-node-exporter"),
    ("alloy", "controller"),
];

const MONITORING_CHARTS: &[&str] = &["kube-prometheus-stack", "loki", "alloy"];

fn at<'v>(values: &'v serde_json::Value, path: &str) -> &'v serde_json::Value {
    path.split('.').fold(values, |v, key| &v[key])
}

fn tolerates_everything(toleration: &serde_json::Value) -> bool {
    toleration["operator"] == "Exists" && toleration.get("key").is_none()
}

/// Every toleration list anywhere below `value`.
fn tolerations(value: &serde_json::Value, out: &mut Vec<serde_json::Value>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, child) in map {
                if key == "tolerations" {
                    out.extend(child.as_array().cloned().unwrap_or_default());
                } else {
                    tolerations(child, out);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|i| tolerations(i, out)),
        _ => {}
    }
}

#[test]
fn monitoring_pods_run_on_the_monitoring_nodes_and_nothing_else_does() {
    for name in ["staging", "production"] {
        let env = stacks::load_environment(&repo_root(), name).expect("shipped config");
        let nodes = &env.config.observability.nodes;
        let selector = serde_json::json!({ nodes.label.key.clone(): nodes.label.value.clone() });
        let toleration = serde_json::json!({
            "key": nodes.taint.key, "operator": "Equal",
            "value": nodes.taint.value, "effect": nodes.taint.effect.as_str(),
        });
        let app = stacks::build(&env, &stacks::chart_dir(&repo_root())).expect("build");
        let releases = stacks::releases::release_values(&app);
        let mut monitoring_releases = 0;
        for release in &releases {
            let chart = match &release.chart {
                stacks::releases::Chart::Upstream { chart, version, .. } => Some((chart, version)),
                stacks::releases::Chart::Local { .. } => None,
            };
            match chart {
                Some((chart, version)) if MONITORING_CHARTS.contains(&chart.as_str()) => {
                    monitoring_releases += 1;
                    let facts = stacks::upstream::ChartFacts::load(&repo_root(), chart, version)
                        .expect("facts");
                    let placed: Vec<&str> = facts
                        .paths()
                        .filter_map(|p| p.strip_suffix(".nodeSelector"))
                        .filter(|prefix| {
                            !NOT_RUN.iter().any(|(off, _)| {
                                *prefix == *off || prefix.starts_with(&format!("{off}."))
                            })
                        })
                        .collect();
                    for prefix in placed {
                        let part = at(&release.values, prefix);
                        let every_node = EVERY_NODE.contains(&(chart.as_str(), prefix));
                        let list = part["tolerations"].as_array().cloned().unwrap_or_default();
                        if every_node {
                            assert!(
                                list.iter().any(tolerates_everything),
                                "{name}: {chart} {prefix} must tolerate every taint: {list:?}"
                            );
                        } else {
                            assert_eq!(
                                part["nodeSelector"], selector,
                                "{name}: {chart} {prefix}.nodeSelector"
                            );
                            assert!(
                                list.contains(&toleration),
                                "{name}: {chart} {prefix} must tolerate the monitoring taint: {list:?}"
                            );
                        }
                    }
                    for (every_chart, prefix) in EVERY_NODE {
                        if every_chart == chart {
                            let list = at(&release.values, prefix)["tolerations"].clone();
                            assert!(
                                list.as_array()
                                    .is_some_and(|l| l.iter().any(tolerates_everything)),
                                "{name}: {chart} {prefix} must run on every node: {list}"
                            );
                        }
                    }
                }
                _ => {
                    // The service, the other add-ons and our custom resources
                    // must never tolerate the taint nor select the nodes.
                    let mut found = Vec::new();
                    tolerations(&release.values, &mut found);
                    for t in found {
                        assert!(
                            t["key"] != nodes.taint.key.as_str() && !tolerates_everything(&t),
                            "{name}: {} tolerates the monitoring nodes' taint: {t}",
                            release.address
                        );
                    }
                    let text = release.values.to_string();
                    assert!(
                        !text.contains(&format!(
                            "\"{}\":\"{}\"",
                            nodes.label.key, nodes.label.value
                        )),
                        "{name}: {} selects the monitoring nodes",
                        release.address
                    );
                }
            }
        }
        assert_eq!(monitoring_releases, MONITORING_CHARTS.len(), "{name}");
    }
    // The service's chart tolerates nothing by default, and the stacks pass
    // it no tolerations (checked above), so its pods stay off tainted nodes.
    let chart_values =
        std::fs::read_to_string(repo_root().join("helm-chart/values.yaml")).expect("chart values");
    assert!(
        chart_values.lines().any(|l| l == "tolerations: []"),
        "helm-chart/values.yaml has default tolerations"
    );
}
