//! The webapp component in the whole program of each shipped environment.

use serde_json::{json, Value};
use synth::{App, Expr, Provider, RequiredProvider, SynthOptions};

use super::*;
use crate::test_support::{attr, block, crate_dir, program, synth_json};

/// The shipped environment as terraform delivers it (GitOps off): these
/// tests describe the service's release itself; gitops/tests.rs has it
/// delivered by Argo CD.
fn environment(name: &str) -> Environment {
    let mut env = crate::test_support::environment(name);
    env.config.gitops = None;
    env
}

/// The program of a shipped environment, delivered by terraform.
fn shipped(name: &str) -> App {
    program(&environment(name), &crate_dir().join("../helm-chart"))
}

#[test]
fn every_block_passes_the_provider_schemas() {
    // synth checks every resource, data source and provider block against
    // the loaded aws, helm and kubernetes schemas.
    for env in ["staging", "production"] {
        let (files, _) = synth_json(&environment(env));
        let app = &files["app.tf.json"];
        let releases: Vec<&String> = app["resource"]["helm_release"]
            .as_object()
            .expect("releases")
            .keys()
            .collect();
        assert_eq!(
            releases,
            [
                "alloy",
                "aws_load_balancer_controller",
                "external_secrets",
                "karpenter",
                "karpenter_node_pools",
                "kube_prometheus_stack",
                "loki",
                "metrics_server",
                "service_secrets",
                "webapp",
                "webapp_monitoring"
            ]
        );
        assert!(app["data"]["aws_lb"]["webapp"].is_object());
    }
}

#[test]
fn the_schemas_reject_helm_2_provider_syntax() {
    let mut app = App::new("staging");
    app.set_schemas(crate::schemas().expect("schemas"));
    let stack = app.stack("app", "helm 2 style");
    stack.require_provider("helm", RequiredProvider::new("hashicorp/helm", "~> 3.1"));
    stack.provider(
        Provider::new("helm").set("kubernetes", Expr::list([Expr::object([("host", "h")])])),
    );
    stack
        .resource("helm_release", "x")
        .set("name", "x")
        .set("chart", "x")
        .set("set", Expr::object([("name", "a"), ("vaule", "b")]));
    let err = app
        .synth(&SynthOptions::default())
        .expect_err("helm 2 syntax")
        .to_string();
    assert!(
        err.contains("provider.helm: `kubernetes` must be a block (a JSON object), found a list"),
        "{err}"
    );
    assert!(
        err.contains("helm_release.x: `set` must be a list of objects, found an object"),
        "{err}"
    );
}

#[test]
fn providers_use_the_cluster_and_pinned_versions() {
    let (files, _) = synth_json(&environment("staging"));
    let exec = json!({
        "api_version": "client.authentication.k8s.io/v1beta1",
        "command": "aws",
        "args": ["eks", "get-token", "--cluster-name", "${aws_eks_cluster.main.name}", "--region", "eu-west-1"],
    });
    let providers = &files["providers.tf.json"]["provider"];
    let helm = providers["helm"]
        .as_array()
        .map_or(&providers["helm"], |a| &a[0]);
    assert_eq!(
        helm["kubernetes"],
        json!({
            "host": "${aws_eks_cluster.main.endpoint}",
            "cluster_ca_certificate": "${base64decode(aws_eks_cluster.main.certificate_authority[0].data)}",
            "exec": exec,
        })
    );
    let k8s = providers["kubernetes"]
        .as_array()
        .map_or(&providers["kubernetes"], |a| &a[0]);
    assert_eq!(k8s["exec"], json!([exec]));
    let required = &files["terraform.tf.json"]["terraform"]["required_providers"];
    assert_eq!(required["helm"]["version"], "~> 3.1");
    assert_eq!(required["kubernetes"]["version"], "~> 2.38");
}

#[test]
fn the_image_comes_from_ecr_and_the_deploy_variables() {
    let (files, _) = synth_json(&environment("staging"));
    let variables = &files["variables.tf.json"]["variable"];
    assert!(
        variables["image_tag"].get("default").is_none(),
        "a deploy names its tag"
    );
    assert_eq!(variables["image_digest"]["default"], "");
    let set = &files["app.tf.json"]["resource"]["helm_release"]["webapp"]["set"];
    let entries: Vec<(&str, &str)> = set
        .as_array()
        .expect("set list")
        .iter()
        .filter(|e| e["name"].as_str().is_some_and(|n| n.starts_with("image.")))
        .map(|e| {
            (
                e["name"].as_str().unwrap_or(""),
                e["value"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        entries,
        [
            (
                "image.repository",
                "${aws_ecr_repository.service.repository_url}"
            ),
            ("image.tag", "${var.image_tag}"),
            ("image.digest", "${var.image_digest}"),
        ]
    );
}

#[test]
fn the_pods_mount_the_operators_secret_and_may_read_only_their_own_objects() {
    let (files, module) = synth_json(&environment("production"));
    assert!(
        files["variables.tf.json"]["variable"]
            .get("app_secret")
            .is_none(),
        "no secret passes through a terraform variable"
    );
    assert!(files["app.tf.json"]["resource"]["kubernetes_secret_v1"]
        .get("app")
        .is_none());
    let values = &files["app.tf.json"]["locals"]["webapp_values"];
    assert_eq!(values["secret"], json!({"existingSecret": SECRET_NAME}));
    assert_eq!(
        values["rbac"]["rules"],
        json!([
            {"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["webapp-secrets"], "verbs": ["get"]},
            {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["webapp"], "verbs": ["get"]},
        ])
    );
    // Nothing secret-looking travels in the values or anywhere else.
    for (name, bytes) in &module.files {
        let text = String::from_utf8_lossy(bytes);
        assert!(
            !text.contains("APP_SECRET:") && !text.contains("secret_string"),
            "{name} carries a secret value"
        );
    }
}

#[test]
fn the_chart_travels_in_the_module_and_its_hash_is_in_the_release() {
    let env = environment("staging");
    let chart = tempfile_chart();
    let synth_description = |dir: &Path| {
        let module = program(&env, dir)
            .synth(&SynthOptions::default())
            .expect("synth");
        assert!(
            module.files.contains_key("chart/Chart.yaml"),
            "chart copied into the module"
        );
        let app_json: Value = serde_json::from_slice(&module.files["app.tf.json"]).expect("json");
        let release = &app_json["resource"]["helm_release"]["webapp"];
        assert_eq!(release["chart"], "${path.module}/chart");
        release["description"]
            .as_str()
            .expect("description")
            .to_owned()
    };
    let before = synth_description(chart.path());
    assert!(before.starts_with("chart sha256:") && before.len() == "chart sha256:".len() + 64);
    std::fs::write(chart.path().join("templates/extra.yaml"), "# changed\n").expect("write");
    assert_ne!(
        before,
        synth_description(chart.path()),
        "a chart change must change the plan"
    );
}

/// A copy of the real chart in a temporary directory, safe to modify.
fn tempfile_chart() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    copy_dir(&crate_dir().join("../helm-chart"), dir.path());
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read chart") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

#[test]
fn the_public_name_points_at_the_controllers_load_balancer() {
    let app = shipped("staging");
    assert_eq!(
        attr(&app, "aws_lb", "webapp", "tags"),
        json!({
            "elbv2.k8s.aws/cluster": "webapp-staging",
            "ingress.k8s.aws/stack": ALB_GROUP,
        })
    );
    assert_eq!(
        block(&app, "aws_lb", "webapp").dependencies(),
        [&synth::Address::resource("helm_release", "webapp")]
    );
    let record = |a: &str| attr(&app, "aws_route53_record", "webapp", a);
    assert_eq!(record("name"), "webapp.staging.example.com");
    assert_eq!(record("zone_id"), "${data.aws_route53_zone.edge.zone_id}");
    assert_eq!(
        record("alias"),
        json!({
            "name": "${data.aws_lb.webapp.dns_name}",
            "zone_id": "${data.aws_lb.webapp.zone_id}",
            "evaluate_target_health": true,
        })
    );
    let (files, _) = synth_json(&environment("staging"));
    let outputs = &files["app.tf.json"]["output"];
    assert_eq!(
        outputs["service_url"]["value"],
        "https://webapp.staging.example.com/"
    );
    assert_eq!(
        outputs["configs_url"]["value"],
        "https://webapp.staging.example.com/configs"
    );
    assert_eq!(
        outputs["load_balancer_hostname"]["value"],
        "${data.aws_lb.webapp.dns_name}"
    );
}

/// With GitOps on, Argo CD installs the release after terraform's apply and
/// no block may follow it: the record is made in the network stack from a
/// lookup that may find nothing, and exists once the load balancer does.
#[test]
fn with_gitops_the_public_name_follows_whatever_load_balancer_has_the_tags() {
    let env = crate::test_support::environment("production");
    assert!(env.config.gitops_enabled().is_some());
    let (files, _) = crate::test_support::synth_json(&env);
    let network = &files["network.tf.json"];
    let tags = json!({
        "elbv2.k8s.aws/cluster": "webapp-production",
        "ingress.k8s.aws/stack": ALB_GROUP,
    });
    assert_eq!(network["data"]["aws_lbs"]["webapp"], json!({"tags": tags}));
    let present = "${min(length(data.aws_lbs.webapp.arns), 1)}";
    assert_eq!(
        network["data"]["aws_lb"]["webapp"],
        json!({"count": present, "tags": tags})
    );
    let record = &network["resource"]["aws_route53_record"]["webapp"];
    assert_eq!(record["count"], present);
    assert_eq!(record["name"], "webapp.example.com");
    assert_eq!(
        record["alias"],
        json!({
            "name": "${data.aws_lb.webapp[0].dns_name}",
            "zone_id": "${data.aws_lb.webapp[0].zone_id}",
            "evaluate_target_health": true,
        })
    );
    assert_eq!(
        network["output"]["load_balancer_hostname"]["value"],
        "${join(\"\", data.aws_lb.webapp[*].dns_name)}"
    );
    assert_eq!(
        network["output"]["service_url"]["value"],
        "https://webapp.example.com/"
    );
    // Nothing in the app stack reads the load balancer any more, and the
    // CI deployer, which runs no terraform, may not change the record.
    let app = &files["app.tf.json"];
    assert!(app.get("data").is_none_or(|d| d.get("aws_lb").is_none()));
    assert!(app
        .get("output")
        .is_none_or(|o| o.get("service_url").is_none()));
    assert!(files["iam.tf.json"]["resource"]["aws_iam_role_policy"]
        .get("ci_deployer_public_name")
        .is_none());
}

#[test]
fn destroy_order_keeps_the_controller_until_the_service_is_gone() {
    let (files, _) = synth_json(&environment("staging"));
    let release = &files["app.tf.json"]["resource"]["helm_release"]["webapp"];
    assert_eq!(
        release["depends_on"],
        json!([
            "helm_release.aws_load_balancer_controller",
            "helm_release.metrics_server",
            "helm_release.service_secrets"
        ])
    );
    let namespace = &files["app.tf.json"]["resource"]["kubernetes_namespace_v1"]["app"];
    assert_eq!(
        namespace["metadata"]["labels"]["elbv2.k8s.aws/pod-readiness-gate-inject"],
        "enabled"
    );
}

#[test]
fn values_follow_each_environments_config() {
    let values =
        |env: &str| serde_json::to_value(webapp_values(&environment(env))).expect("values as JSON");
    let (staging, production) = (values("staging"), values("production"));
    assert_eq!(staging["environment"], "staging");
    assert_eq!(staging["autoscaling"]["minReplicas"], 2);
    assert_eq!(
        staging["autoscaling"]["targetMemoryUtilizationPercentage"],
        Value::Null
    );
    assert_eq!(staging["settings"]["logLevel"], "debug");
    // Behind the ALB: a ClusterIP Service, and the Ingress with the edge's name and policy.
    assert_eq!(staging["service"]["type"], "ClusterIP");
    assert_eq!(staging["service"]["httpPort"], 80);
    assert_eq!(staging["service"]["tls"]["enabled"], false);
    assert_eq!(
        staging["ingress"],
        json!({
            "enabled": true,
            "host": "webapp.staging.example.com",
            "scheme": "internet-facing",
            "sslPolicy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
            "sourceRanges": [],
            "groupName": "webapp",
        })
    );
    assert_eq!(
        staging["networkPolicy"]["ingressCidrs"],
        json!(["10.10.0.0/16"])
    );
    assert_eq!(staging["config"]["APP_GREETING"], "Hello from staging");

    assert_eq!(production["autoscaling"]["maxReplicas"], 12);
    assert_eq!(
        production["autoscaling"]["targetMemoryUtilizationPercentage"],
        80
    );
    assert_eq!(
        production["resources"]["limits"]["cpu"], "1",
        "quantities stay strings"
    );
    assert_eq!(production["ingress"]["host"], "webapp.example.com");
    assert_eq!(
        production["topologySpread"]["zone"]["whenUnsatisfiable"],
        "DoNotSchedule"
    );
    assert_eq!(production["serviceAccount"]["name"], "webapp");
}

#[test]
fn the_release_reads_its_values_from_a_structured_local() {
    let env = environment("production");
    let (files, _) = synth_json(&env);
    let app_json = &files["app.tf.json"];
    assert_eq!(
        app_json["resource"]["helm_release"]["webapp"]["values"],
        json!(["${yamlencode(local.webapp_values)}"])
    );
    assert_eq!(
        app_json["locals"]["webapp_values"],
        serde_json::to_value(webapp_values(&env)).expect("values as JSON")
    );
}

/// `infra cost` sees the load balancer the controller makes for the
/// service: an ALB for the Ingress (both shipped environments), an NLB for a
/// `LoadBalancer` Service; caused by the service's release, which the inventory
/// holds whether terraform or Argo CD delivers it, so both keep the estimate.
#[test]
fn the_estimate_is_the_load_balancer_the_config_publishes_through() {
    let attributes = |env: &Environment| {
        let estimated = estimated(env);
        assert_eq!(estimated.len(), 1);
        assert_eq!(estimated[0].address(), "estimated.aws_lb.webapp");
        Value::Object(estimated[0].attributes.clone())
    };
    let gitops = crate::test_support::environment("production");
    assert_eq!(
        attributes(&gitops),
        json!({
            "load_balancer_type": "application",
            "internal": false,
            "listener": [{"port": 443, "protocol": "HTTPS"}, {"port": 80, "protocol": "HTTP"}],
        })
    );
    assert_eq!(estimated(&gitops)[0].created_by, "helm_release.webapp");
    let synthesis = crate::synthesize(
        &crate_dir().join(".."),
        "production",
        &crate::Options::default(),
    )
    .expect("production");
    let inventory =
        crate::inventory::Inventory::from_files(&synthesis.module.files).expect("inventory");
    assert!(
        inventory.get("estimated.aws_lb.webapp").is_some(),
        "the estimate is kept when Argo CD delivers the release"
    );

    let mut nlb = environment("staging");
    nlb.config.app.load_balancer.kind = crate::config::LoadBalancerKind::Nlb;
    nlb.config.edge.waf = None;
    assert_eq!(
        attributes(&nlb),
        json!({
            "load_balancer_type": "network",
            "internal": false,
            "listener": [{"port": 443, "protocol": "TLS"}],
        })
    );
    assert_eq!(estimated(&nlb)[0].created_by, "helm_release.webapp");
}
