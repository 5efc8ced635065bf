//! Delivery by Argo CD on the shipped environments and on made-up releases:
//! what leaves the app stack, what the tree and the root Application hold,
//! and how values split between git and terraform.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{json, Value};
use synth::{Address, App, Expr, SynthOptions};

use super::convert::split;
use super::projects::{BOOTSTRAP_PROJECT, PLATFORM_PROJECT};
use super::*;
use crate::config::load_environment;
use crate::helm::{addon_release, custom_resources, Chart as HelmChart};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn environment(name: &str) -> Environment {
    load_environment(&repo(), name).expect("the committed config is valid")
}

fn built(env: &Environment) -> App {
    crate::build(env, &repo().join("helm-chart")).unwrap_or_else(|e| panic!("{e}"))
}

fn releases_in(app: &App) -> Vec<String> {
    app.stacks()
        .iter()
        .flat_map(|s| s.resources())
        .filter(|r| r.ty() == "helm_release")
        .map(|r| r.name().to_owned())
        .collect()
}

fn values(tree: &Tree) -> Value {
    serde_json::from_slice(&tree.files[APPS_VALUES]).expect("apps/values.yaml is JSON")
}

fn role() -> Expr {
    Expr::reference(Address::resource("aws_iam_role", "x")).attr("arn")
}

#[test]
fn known_values_go_to_git_and_apply_time_ones_to_terraform_in_the_same_shape() {
    let unknowns = vec![role(), Expr::raw("var.zone")];
    let value = json!({
        "replicas": 2,
        "serviceAccount": {"create": true, "annotations": {"role": "\u{1}0\u{1}"}},
        "zones": ["a", "\u{1}1\u{1}"],
        "url": "https://\u{1}1\u{1}/x",
        "nodeSelector": {},
    });
    let (known, later) = split(&value, &unknowns);
    assert_eq!(
        known,
        Some(json!({"replicas": 2, "serviceAccount": {"create": true}, "nodeSelector": {}})),
        "literal leaves stay, with their mappings; an empty mapping as written stays"
    );
    let later = later.expect("apply-time values").to_json();
    assert_eq!(
        later,
        json!({
            "serviceAccount": {"annotations": {"role": "${aws_iam_role.x.arn}"}},
            // Helm replaces lists: a list with one apply-time item goes whole.
            "zones": ["a", "${var.zone}"],
            "url": "https://${var.zone}/x",
        })
    );
    assert_eq!(
        split(&json!({"a": 1}), &unknowns),
        (Some(json!({"a": 1})), None)
    );
}

#[test]
fn every_release_but_argo_cd_leaves_the_app_stack_for_the_tree() {
    for name in ["staging", "production"] {
        let env = environment(name);
        let mut app = built(&env);
        assert_eq!(
            releases_in(&app),
            [
                "karpenter",
                "karpenter_node_pools",
                "external_secrets",
                "service_secrets",
                "aws_load_balancer_controller",
                "metrics_server",
                "kube_prometheus_stack",
                "loki",
                "alloy",
                "webapp_monitoring",
                "webapp",
                "argo_cd"
            ],
            "{name}: the components declare their releases as always"
        );
        let tree = deliver(&mut app, &env)
            .expect("delivery")
            .expect("GitOps is on");
        assert_eq!(releases_in(&app), ["argo_cd", BOOTSTRAP_RELEASE_ID]);
        assert_eq!(tree.path, format!("gitops/{name}"));
        let module = app
            .synth(&SynthOptions::default())
            .expect("the rest synthesizes");
        let files: Vec<&String> = module.files.keys().collect();
        assert!(
            !files.iter().any(|f| f.starts_with("chart/")),
            "the service's chart moved to the tree: {files:?}"
        );
        assert!(files
            .iter()
            .any(|f| *f == "charts/argocd-bootstrap/Chart.yaml"));
        let app_tf: Value = serde_json::from_slice(&module.files["app.tf.json"]).expect("JSON");
        assert!(
            app_tf.pointer("/locals/webapp_values").is_none(),
            "a local only a delivered release used goes with it"
        );
        let variables: Value =
            serde_json::from_slice(&module.files["variables.tf.json"]).expect("JSON");
        let names: Vec<&String> = variables["variable"]
            .as_object()
            .expect("variables")
            .keys()
            .collect();
        assert_eq!(
            names,
            [
                "cluster_api_tunnel",
                "gitops_deploy_key",
                "grafana_admin_password"
            ],
            "{name}: no image variables: the image is a commit"
        );
        for file in [
            "apps/Chart.yaml",
            "apps/templates/applications.yaml",
            APPS_VALUES,
            "chart/Chart.yaml",
            "chart/values.schema.json",
        ] {
            assert!(tree.files.contains_key(file), "{name}: {file} missing");
        }
    }
}

#[test]
fn applications_follow_the_release_graph_and_the_namespaces() {
    let env = environment("staging");
    let tree = deliver(&mut built(&env), &env).unwrap().unwrap();
    let apps = values(&tree)["applications"].clone();
    let wave =
        |app: &str| apps[app]["application"]["metadata"]["annotations"][objects::SYNC_WAVE].clone();
    // Karpenter first, on the system nodes; its NodePools once its CRDs are
    // there; then what runs on the nodes they bring. The service needs the
    // controller's webhook, the metrics the HPA reads and its Secret, which
    // External Secrets Operator writes from the SecretStore and
    // ExternalSecret, which need the operator's CRDs: a wave after each.
    // The monitoring stack follows the controller too (Grafana's internal
    // load balancer), Loki after Prometheus' CRDs, Alloy after Loki.
    let waves: Vec<(&str, Value)> = [
        "karpenter",
        "karpenter-node-pools",
        "aws-load-balancer-controller",
        "metrics-server",
        "external-secrets",
        "service-secrets",
        "webapp",
        "kube-prometheus-stack",
        "loki",
        "webapp-monitoring",
        "alloy",
    ]
    .into_iter()
    .map(|app| (app, wave(app)))
    .collect();
    assert_eq!(
        waves,
        [
            ("karpenter", json!("0")),
            ("karpenter-node-pools", json!("1")),
            ("aws-load-balancer-controller", json!("2")),
            ("metrics-server", json!("2")),
            ("external-secrets", json!("2")),
            ("service-secrets", json!("3")),
            ("webapp", json!("4")),
            ("kube-prometheus-stack", json!("3")),
            ("loki", json!("4")),
            ("webapp-monitoring", json!("4")),
            ("alloy", json!("5")),
        ]
    );
    let webapp = &apps["webapp"]["application"]["spec"];
    assert_eq!(webapp["project"], "webapp");
    assert_eq!(
        webapp["destination"]["namespace"], "webapp",
        "read through the reference to the namespace resource terraform creates"
    );
    assert_eq!(webapp["source"]["path"], "gitops/staging/chart");
    assert_eq!(
        webapp["source"]["repoURL"],
        "git@github.com:example-org/webapp.git"
    );
    assert_eq!(
        webapp["source"]["helm"]["valueFiles"],
        json!(["/gitops/staging/image.yaml"])
    );
    assert_eq!(
        webapp["syncPolicy"]["automated"],
        json!({"prune": true, "selfHeal": true})
    );
    let controller = &apps["aws-load-balancer-controller"]["application"]["spec"];
    assert_eq!(controller["project"], PLATFORM_PROJECT);
    assert_eq!(
        controller["source"]["chart"],
        "aws-load-balancer-controller"
    );
    assert_eq!(controller["source"]["targetRevision"], "3.5.0");
    assert!(controller["source"]["helm"].get("valueFiles").is_none());
    assert_eq!(
        apps["webapp"]["values"]["image"],
        Value::Null,
        "the image is neither synthesized nor terraform's: CI commits it"
    );
    assert_eq!(apps["webapp"]["values"]["environment"], "staging");
}

#[test]
fn the_root_application_carries_what_only_terraform_knows() {
    let env = environment("production");
    let mut app = built(&env);
    deliver(&mut app, &env).unwrap();
    let bootstrap = crate::releases::release_values(&app)
        .into_iter()
        .find(|r| r.name == "argocd-bootstrap")
        .expect("the bootstrap release");
    let objects = bootstrap.values["objects"]
        .as_array()
        .expect("objects")
        .clone();
    let kinds: Vec<(&str, &str)> = objects
        .iter()
        .map(|o| {
            (
                o["kind"].as_str().unwrap_or(""),
                o["metadata"]["name"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("AppProject", "bootstrap"),
            ("AppProject", "platform"),
            ("AppProject", "webapp"),
            ("Application", "root"),
        ]
    );
    let root = &objects[3]["spec"];
    assert_eq!(root["source"]["path"], "gitops/production/apps");
    assert_eq!(root["project"], BOOTSTRAP_PROJECT);
    let terraform = &root["source"]["helm"]["valuesObject"]["terraform"];
    assert_eq!(
        terraform["aws-load-balancer-controller"]["serviceAccount"]["annotations"]
            ["eks.amazonaws.com/role-arn"],
        "${aws_iam_role.lb_controller.arn}"
    );
    assert_eq!(
        terraform["webapp"]["image"]["repository"],
        "${aws_ecr_repository.service.repository_url}"
    );
    assert!(
        terraform.get("metrics-server").is_none(),
        "nothing to fill in there"
    );
    let service = &objects[2]["spec"];
    assert_eq!(
        service["destinations"],
        json!([{"namespace": "webapp", "server": objects::IN_CLUSTER}])
    );
    assert_eq!(service["clusterResourceWhitelist"], json!([]));
    let bootstrap_project = &objects[0]["spec"];
    assert_eq!(
        bootstrap_project["namespaceResourceWhitelist"],
        json!([{"group": "argoproj.io", "kind": "Application"}])
    );
}

/// An add-on the stacks do not know of yet: its release, and a chart of its
/// custom resources ordered after it, in a namespace of its own.
fn with_new_addon(app: &mut App, eks_ready: &[Address]) {
    let stack = crate::Layer::App.of(app);
    let chart = HelmChart {
        repository: "oci://public.ecr.aws/example",
        name: "example",
        version: "1.0.0",
    };
    let values = json!({"settings": {"role": "placeholder"}});
    let owner = addon_release(stack, "example", chart, &values, eks_ready).unwrap();
    stack
        .find_mut(&Address::from(&owner))
        .unwrap()
        .set("namespace", "example")
        .set("create_namespace", true);
    custom_resources(
        stack,
        "example_objects",
        "example-objects",
        "example",
        &[json!({"apiVersion": "example.io/v1", "kind": "Thing", "metadata": {"name": "x"}})],
        &[Address::from(&owner)],
    )
    .unwrap();
}

#[test]
fn an_addon_gets_its_application_without_a_line_here() {
    let env = environment("staging");
    let mut app = built(&env);
    with_new_addon(&mut app, &[]);
    let tree = deliver(&mut app, &env).unwrap().unwrap();
    let apps = &values(&tree)["applications"];
    let owner = &apps["example"]["application"];
    assert_eq!(owner["spec"]["source"]["repoURL"], "public.ecr.aws/example");
    assert_eq!(owner["spec"]["destination"]["namespace"], "example");
    assert_eq!(
        owner["spec"]["syncPolicy"]["syncOptions"],
        json!(["CreateNamespace=true", "ServerSideApply=true"])
    );
    let objects = &apps["example-objects"]["application"];
    assert_eq!(
        objects["metadata"]["annotations"][objects::SYNC_WAVE],
        "1",
        "custom resources come a wave after the add-on that owns their CRD"
    );
    assert_eq!(
        objects["spec"]["source"]["path"],
        "gitops/staging/charts/example-objects"
    );
    assert!(tree
        .files
        .contains_key("charts/example-objects/templates/objects.yaml"));
    assert!(releases_in(&app).iter().all(|r| !r.starts_with("example")));
}

#[test]
fn a_release_argo_cd_cannot_place_is_an_error_naming_it() {
    let env = environment("staging");
    let mut app = built(&env);
    crate::Layer::App
        .of(&mut app)
        .find_mut(&Address::resource("helm_release", "metrics_server"))
        .unwrap()
        .set("namespace", role());
    let e = deliver(&mut app, &env).unwrap_err().to_string();
    assert!(
        e.contains("helm_release.metrics_server has a namespace only terraform knows"),
        "{e}"
    );

    let mut app = built(&env);
    crate::Layer::App
        .of(&mut app)
        .find_mut(&Address::resource(
            "helm_release",
            "aws_load_balancer_controller",
        ))
        .unwrap()
        .depends_on(Address::resource("helm_release", "webapp"));
    let e = deliver(&mut app, &env).unwrap_err().to_string();
    assert!(
        e.contains("helm_release.aws_load_balancer_controller depends on helm_release.webapp, which is declared after it"),
        "{e}"
    );
}

#[test]
fn with_gitops_off_terraform_keeps_every_release() {
    let mut env = environment("staging");
    env.config.gitops = None;
    let mut app = built(&env);
    assert!(deliver(&mut app, &env).unwrap().is_none());
    assert_eq!(
        releases_in(&app),
        [
            "karpenter",
            "karpenter_node_pools",
            "external_secrets",
            "service_secrets",
            "aws_load_balancer_controller",
            "metrics_server",
            "kube_prometheus_stack",
            "loki",
            "alloy",
            "webapp_monitoring",
            "webapp"
        ]
    );
}

#[test]
fn the_tree_is_the_same_on_every_synthesis() {
    let env = environment("production");
    let a = deliver(&mut built(&env), &env).unwrap().unwrap();
    let b = deliver(&mut built(&env), &env).unwrap().unwrap();
    assert_eq!(a.files, b.files);
    assert_eq!(
        a.module("production", "t").files,
        b.module("production", "t").files
    );
}

#[test]
fn a_diff_of_trees_names_applications_and_their_values() {
    let staging = environment("staging");
    let production = environment("production");
    let a = blocks(
        &deliver(&mut built(&staging), &staging)
            .unwrap()
            .unwrap()
            .files,
    )
    .unwrap();
    let b = blocks(
        &deliver(&mut built(&production), &production)
            .unwrap()
            .unwrap()
            .files,
    )
    .unwrap();
    assert!(a.contains_key("application webapp"));
    let changed: BTreeMap<String, Vec<String>> = synth::diff::diff(&a, &b)
        .into_iter()
        .map(|c| match c {
            synth::diff::Change::Changed(address, attrs) => {
                (address, attrs.into_iter().map(|a| a.path).collect())
            }
            other => panic!("only changes between the environments: {other:?}"),
        })
        .collect();
    assert_eq!(
        changed.keys().collect::<Vec<_>>(),
        [
            "application karpenter-node-pools",
            "application kube-prometheus-stack",
            "application loki",
            "application service-secrets",
            "application webapp",
            "application webapp-monitoring"
        ]
    );
    // Each environment's charts are read from its own path. The NodePools
    // differ too, but they travel with the node role's name, which only
    // terraform knows, in the root Application; the alert rules are alike.
    for same in ["karpenter-node-pools", "webapp-monitoring"] {
        assert_eq!(
            changed[&format!("application {same}")],
            ["application.spec.source.path"]
        );
    }
    for (application, path) in [
        ("webapp", "values.autoscaling.maxReplicas"),
        ("loki", "values.loki.limits_config.retention_period"),
        (
            "kube-prometheus-stack",
            "values.prometheus.prometheusSpec.retention",
        ),
    ] {
        let paths = &changed[&format!("application {application}")];
        assert!(paths.iter().any(|p| p == path), "{application}: {paths:?}");
    }
}
