//! The app stack: what runs on the cluster. The environment's namespace, the
//! add-ons the service relies on (the AWS Load Balancer Controller, which turns
//! its `LoadBalancer` Service into an NLB, and metrics-server, without which
//! its HPA never scales), the application Secret, and the service's own chart
//! with values rendered from the environment's `[app]` config.
//!
//! The helm and kubernetes providers are configured from the EKS cluster of
//! the same module. Their documentation warns against doing that in the apply
//! that creates the cluster, so an environment is applied in two phases: the
//! AWS stacks first, then everything (docs/app.md, `just apply <env>`).

mod config;

use std::path::Path;

use anyhow::Context as _;
use serde::Serialize;
use synth::{Address, Expr, Handle, Output, Provider, RequiredProvider, Stack, Variable};

pub use config::{
    AppConfig, AutoscalingConfig, LoadBalancerConfig, LoadBalancerScheme, LogLevel,
    ResourcesConfig, ZoneSpread,
};

use crate::config::Environment;

/// Helm release name of the service; the chart's objects (its Service among
/// them) carry this name, since the values pin `fullnameOverride` to it.
pub const RELEASE_NAME: &str = "webapp";

/// The local holding the webapp release's values.
pub const VALUES_LOCAL: &str = "webapp_values";

/// Where the chart lands inside the synthesized module.
pub const CHART_ASSET: &str = "chart";

/// The Secret the pods read their `APP_*_SECRET` variables from.
pub const SECRET_NAME: &str = "webapp-secrets";

/// Kubernetes service account of the load balancer controller; its IRSA role
/// (iam stack) trusts `system:serviceaccount:kube-system:<this>`.
pub const LB_CONTROLLER_SERVICE_ACCOUNT: &str = "aws-load-balancer-controller";

const ADDON_NAMESPACE: &str = "kube-system";

/// Add-on charts, pinned: a new version is a reviewed change, tried in staging first.
/// Chart 1.13.x runs controller v2.13, whose permissions the iam stack grants
/// (the controller's docs/install/iam_policy.json of v2.13): upgrade both together.
const LB_CONTROLLER_CHART: Chart = Chart {
    repository: "https://aws.github.io/eks-charts",
    name: "aws-load-balancer-controller",
    version: "1.13.0",
};
const METRICS_SERVER_CHART: Chart = Chart {
    repository: "https://kubernetes-sigs.github.io/metrics-server/",
    name: "metrics-server",
    version: "3.12.2",
};

const VALUES_TEMPLATE_NAME: &str = "stacks/templates/webapp-values.json.tera";
const VALUES_TEMPLATE: &str = include_str!("../templates/webapp-values.json.tera");

/// Seconds helm waits for a release's objects to become ready; the webapp's
/// NLB takes a few minutes to be provisioned the first time.
const RELEASE_TIMEOUT_SECONDS: u32 = 900;

#[derive(Debug, Clone, Copy)]
struct Chart {
    repository: &'static str,
    name: &'static str,
    version: &'static str,
}

/// What the app stack takes from the AWS stacks: references into them.
#[derive(Debug, Clone)]
pub struct AppInputs {
    pub vpc_id: Expr,
    pub cluster_name: Expr,
    pub cluster_endpoint: Expr,
    /// Base64 certificate authority data of the cluster.
    pub cluster_ca_data: Expr,
    pub ecr_repository_url: Expr,
    /// IRSA role of the AWS Load Balancer Controller.
    pub lb_controller_role_arn: Expr,
    /// IRSA role of the service's pods.
    pub service_role_arn: Expr,
    /// Node groups and cluster add-ons the releases' pods run on. The add-on
    /// releases depend on them, so a destroy removes the webapp release while
    /// the load balancer controller still runs to delete the NLB.
    pub cluster_ready: Vec<Address>,
}

/// Adds the app stack's blocks; `chart_dir` is the service's chart (helm-chart/),
/// copied into the output so the module is self-contained.
pub fn app(
    stack: &mut Stack,
    env: &Environment,
    inputs: &AppInputs,
    chart_dir: &Path,
) -> anyhow::Result<()> {
    let config = &env.config;
    stack.require_provider("helm", RequiredProvider::new("hashicorp/helm", "~> 3.1"));
    stack.require_provider(
        "kubernetes",
        RequiredProvider::new("hashicorp/kubernetes", "~> 2.38"),
    );
    cluster_providers(stack, &config.region, inputs);
    let deploy = DeployVariables::declare(stack);

    let namespace = namespace(stack, &config.service.namespace);
    let secret = stack
        .resource("kubernetes_secret_v1", "app")
        .set(
            "metadata",
            Expr::object([
                ("name", Expr::from(SECRET_NAME)),
                ("namespace", namespace.clone()),
            ]),
        )
        .set("type", "Opaque")
        .set(
            "data",
            Expr::object([("APP_SECRET", deploy.app_secret.clone())]),
        )
        .handle();
    let addons = [
        lb_controller(stack, &config.region, inputs),
        metrics_server(stack, inputs),
    ];

    let chart = stack
        .asset_dir(CHART_ASSET, chart_dir)
        .with_context(|| format!("copying the chart {} into the module", chart_dir.display()))?;
    // A structured local rather than a YAML string: diffs between environments
    // and revisions then show each value that changes.
    let values = stack.local(VALUES_LOCAL, webapp_values(env)?);
    let secret_metadata = secret.attr("metadata").index(0);
    let webapp = stack
        .resource("helm_release", "webapp")
        .set("name", RELEASE_NAME)
        .set(
            "chart",
            Expr::template([
                Expr::raw("path.module"),
                Expr::from(format!("/{}", chart.path.display())),
            ]),
        )
        // helm only notices a local chart's change when its version moves; a
        // new description on every content change makes terraform upgrade it.
        .set("description", format!("chart sha256:{}", chart.hash))
        .set("namespace", namespace.clone())
        .set("atomic", true)
        .set("cleanup_on_fail", true)
        .set("wait", true)
        .set("timeout", RELEASE_TIMEOUT_SECONDS)
        .set("max_history", 10)
        .set("values", Expr::list([Expr::call("yamlencode", [values])]))
        .set(
            "set",
            Expr::list([
                set_string("image.repository", inputs.ecr_repository_url.clone()),
                set_string("image.tag", deploy.image_tag),
                set_string("image.digest", deploy.image_digest),
                set_string("serviceAccount.roleArn", inputs.service_role_arn.clone()),
                set_string(
                    "secret.existingSecret",
                    secret_metadata.clone().attr("name"),
                ),
                // Changes with every update of the Secret, so pods restart to read it.
                set_string(
                    "secret.existingSecretChecksum",
                    secret_metadata.attr("resource_version"),
                ),
            ]),
        );
    // The Service needs the controller's webhook, the HPA needs metrics; and
    // on destroy the controller must outlive the Service to delete the NLB.
    for addon in &addons {
        webapp.depends_on(addon);
    }
    let webapp = webapp.handle();

    service_outputs(stack, config.app.load_balancer.http, namespace, &webapp);
    Ok(())
}

/// The variables a deploy passes.
#[derive(Debug)]
struct DeployVariables {
    image_tag: Expr,
    image_digest: Expr,
    app_secret: Expr,
}

impl DeployVariables {
    fn declare(stack: &mut Stack) -> Self {
        let image_tag = stack.variable(
            "image_tag",
            Variable::new()
                .ty("string")
                .description("Tag of the webapp image in the ECR repository to deploy (CI passes the tag it built).")
                .validation(
                    Expr::raw("can(regex(\"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$\", var.image_tag))"),
                    "image_tag must be a Docker tag: letters, digits, '_', '.', '-', at most 128 characters.",
                ),
        );
        let image_digest = stack.variable(
            "image_digest",
            Variable::new()
                .ty("string")
                .default("")
                .description(
                    "Digest (sha256:...) of the image CI built; when set, pods pull by digest, so a moved tag cannot change what runs.",
                )
                .validation(
                    Expr::raw("can(regex(\"^(sha256:[a-f0-9]{64})?$\", var.image_digest))"),
                    "image_digest must be empty or sha256: followed by 64 lowercase hex digits.",
                ),
        );
        let app_secret = stack.variable(
            "app_secret",
            Variable::new()
                .ty("string")
                .sensitive()
                .description("Value of APP_SECRET for the service; pass it as TF_VAR_app_secret, never in a file.")
                .validation(
                    Expr::raw("length(var.app_secret) >= 16"),
                    "app_secret must be at least 16 characters.",
                ),
        );
        Self {
            image_tag,
            image_digest,
            app_secret,
        }
    }
}

/// The service's namespace; returns a reference to its name.
fn namespace(stack: &mut Stack, name: &str) -> Expr {
    stack
        .resource("kubernetes_namespace_v1", "app")
        .set(
            "metadata",
            Expr::object([
                ("name", Expr::from(name)),
                (
                    "labels",
                    Expr::object([
                        // The controller then delays a rollout until each new pod is
                        // registered and healthy in the NLB's target group.
                        ("elbv2.k8s.aws/pod-readiness-gate-inject", "enabled"),
                        ("pod-security.kubernetes.io/enforce", "restricted"),
                        ("pod-security.kubernetes.io/warn", "restricted"),
                    ]),
                ),
            ]),
        )
        .handle()
        .attr("metadata")
        .index(0)
        .attr("name")
}

fn lb_controller(stack: &mut Stack, region: &str, inputs: &AppInputs) -> Handle {
    addon_release(
        stack,
        "aws_load_balancer_controller",
        LB_CONTROLLER_CHART,
        Expr::object([
            ("clusterName", inputs.cluster_name.clone()),
            // Nodes require IMDSv2 with a hop limit of 1, so the controller
            // cannot discover its region and VPC from instance metadata.
            ("region", Expr::from(region)),
            ("vpcId", inputs.vpc_id.clone()),
            ("replicaCount", Expr::from(2)),
            ("podDisruptionBudget", Expr::object([("maxUnavailable", 1)])),
            (
                "serviceAccount",
                Expr::object([
                    ("create", Expr::from(true)),
                    ("name", Expr::from(LB_CONTROLLER_SERVICE_ACCOUNT)),
                    (
                        "annotations",
                        Expr::object([(
                            "eks.amazonaws.com/role-arn",
                            inputs.lb_controller_role_arn.clone(),
                        )]),
                    ),
                ]),
            ),
        ]),
        &inputs.cluster_ready,
    )
}

/// Two replicas and a PDB: with one, a node drain stops every HPA.
fn metrics_server(stack: &mut Stack, inputs: &AppInputs) -> Handle {
    addon_release(
        stack,
        "metrics_server",
        METRICS_SERVER_CHART,
        Expr::object([
            ("replicas", Expr::from(2)),
            (
                "podDisruptionBudget",
                Expr::object([
                    ("enabled", Expr::from(true)),
                    ("maxUnavailable", Expr::from(1)),
                ]),
            ),
        ]),
        &inputs.cluster_ready,
    )
}

/// The NLB's hostname, read from the Service once the release is ready, and
/// the URLs to open; `https` when the environment has no plain HTTP listener.
fn service_outputs(stack: &mut Stack, http: bool, namespace: Expr, webapp: &Handle) {
    let service = stack
        .data("kubernetes_service_v1", "webapp")
        .set(
            "metadata",
            Expr::object([("name", Expr::from(RELEASE_NAME)), ("namespace", namespace)]),
        )
        .depends_on(webapp)
        .handle();
    let hostname = service
        .attr("status")
        .index(0)
        .attr("load_balancer")
        .index(0)
        .attr("ingress")
        .index(0)
        .attr("hostname");
    let scheme = if http { "http" } else { "https" };
    let url = |path: &str| {
        Expr::template([
            Expr::from(format!("{scheme}://")),
            hostname.clone(),
            Expr::from(path),
        ])
    };
    stack.output(
        "service_url",
        Output::new(url("/")).description("The service's front page."),
    );
    stack.output(
        "configs_url",
        Output::new(url("/configs"))
            .description("The service's /configs page: its APP_* configuration."),
    );
    stack.output(
        "load_balancer_hostname",
        Output::new(hostname).description("DNS name of the service's NLB."),
    );
}

/// helm and kubernetes providers talking to the environment's cluster with a
/// short-lived token from `aws eks get-token` (the AWS CLI must be on PATH).
fn cluster_providers(stack: &mut Stack, region: &str, inputs: &AppInputs) {
    let exec = Expr::object([
        (
            "api_version",
            Expr::from("client.authentication.k8s.io/v1beta1"),
        ),
        ("command", Expr::from("aws")),
        (
            "args",
            Expr::list([
                Expr::from("eks"),
                Expr::from("get-token"),
                Expr::from("--cluster-name"),
                inputs.cluster_name.clone(),
                Expr::from("--region"),
                Expr::from(region),
            ]),
        ),
    ]);
    let host = inputs.cluster_endpoint.clone();
    let ca = Expr::call("base64decode", [inputs.cluster_ca_data.clone()]);
    stack.provider(
        Provider::new("kubernetes")
            .set("host", host.clone())
            .set("cluster_ca_certificate", ca.clone())
            .set("exec", Expr::list([exec.clone()])),
    );
    // helm 3.x: `kubernetes` is an object attribute, its `exec` an object too.
    stack.provider(Provider::new("helm").set(
        "kubernetes",
        Expr::object([
            ("host", host),
            ("cluster_ca_certificate", ca),
            ("exec", exec),
        ]),
    ));
}

/// A pinned chart from its repository into kube-system; `values` may hold
/// references, so it goes through `yamlencode` at plan time.
fn addon_release(
    stack: &mut Stack,
    name: &str,
    chart: Chart,
    values: Expr,
    cluster_ready: &[Address],
) -> Handle {
    let release = stack.resource("helm_release", name);
    for block in cluster_ready {
        release.depends_on(block.clone());
    }
    release
        .set("name", chart.name)
        .set("repository", chart.repository)
        .set("chart", chart.name)
        .set("version", chart.version)
        .set("namespace", ADDON_NAMESPACE)
        .set("atomic", true)
        .set("wait", true)
        .set("timeout", RELEASE_TIMEOUT_SECONDS)
        .set("values", Expr::list([Expr::call("yamlencode", [values])]))
        .handle()
}

/// A `set` entry forced to a string, so a tag like `1.10` is not read as a number.
fn set_string(name: &str, value: Expr) -> Expr {
    Expr::object([
        ("name", Expr::from(name)),
        ("value", value),
        ("type", Expr::from("string")),
    ])
}

#[derive(Serialize)]
struct ValuesContext<'a> {
    release_name: &'a str,
    environment: &'a str,
    app: &'a AppConfig,
    service_account: &'a str,
    vpc_cidr: String,
    zone_when_unsatisfiable: &'static str,
}

/// The chart values the environment's `[app]` config stands for.
pub fn webapp_values(env: &Environment) -> anyhow::Result<serde_json::Value> {
    let config = &env.config;
    let context = ValuesContext {
        release_name: RELEASE_NAME,
        environment: &env.name,
        app: &config.app,
        service_account: &config.service.service_account,
        vpc_cidr: config.network.vpc_cidr.to_string(),
        zone_when_unsatisfiable: config.app.zone_spread.when_unsatisfiable(),
    };
    let context =
        tera::Context::from_serialize(&context).context("building the chart values context")?;
    let rendered = tera::Tera::one_off(VALUES_TEMPLATE, &context, false)
        .with_context(|| format!("rendering {VALUES_TEMPLATE_NAME}"))?;
    serde_json::from_str(&rendered).with_context(|| {
        format!(
            "{VALUES_TEMPLATE_NAME} rendered invalid JSON for {}:\n{rendered}",
            env.name
        )
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    use serde_json::{json, Value};
    use synth::{App, Schemas, SynthOptions};

    use super::*;
    use crate::config::load_environment;

    fn crate_dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
    }

    fn environment(name: &str) -> Environment {
        load_environment(&crate_dir().join("config"), name).expect("the committed config is valid")
    }

    fn helm_k8s_schemas() -> Schemas {
        let mut schemas = Schemas::new();
        for file in ["helm.json", "kubernetes.json"] {
            let text = std::fs::read_to_string(crate_dir().join("schemas").join(file))
                .expect("schema file");
            schemas.add_json(&text).expect("schema JSON");
        }
        schemas
    }

    /// Stand-ins for the AWS stacks' blocks, so the app stack is checked on its
    /// own (the full program is checked in tests/ with the real stacks).
    fn app_with_stub_cluster(env: &Environment, chart_dir: &Path) -> anyhow::Result<App> {
        let mut program = App::new(&env.name);
        program.set_schemas(helm_k8s_schemas());
        let aws = program.stack("aws", "stand-ins");
        aws.require_provider("aws", RequiredProvider::new("hashicorp/aws", "~> 5.100"));
        let mut stub = |ty: &str| -> Handle { aws.resource(ty, "main").handle() };
        let (vpc, cluster, ecr) = (
            stub("aws_vpc"),
            stub("aws_eks_cluster"),
            stub("aws_ecr_repository"),
        );
        let lb_role = aws.resource("aws_iam_role", "lb_controller").handle();
        let nodes = aws.resource("aws_eks_node_group", "general").handle();
        let service_role = aws.resource("aws_iam_role", "service").handle();
        let inputs = AppInputs {
            vpc_id: vpc.attr("id"),
            cluster_name: cluster.attr("name"),
            cluster_endpoint: cluster.attr("endpoint"),
            cluster_ca_data: cluster.attr("certificate_authority").index(0).attr("data"),
            ecr_repository_url: ecr.attr("repository_url"),
            lb_controller_role_arn: lb_role.attr("arn"),
            service_role_arn: service_role.attr("arn"),
            cluster_ready: vec![nodes.address().clone()],
        };
        app(
            program.stack("app", "helm releases"),
            env,
            &inputs,
            chart_dir,
        )?;
        Ok(program)
    }

    fn synth_json(env: &Environment) -> (BTreeMap<String, Value>, synth::Module) {
        let app =
            app_with_stub_cluster(env, &crate_dir().join("../helm-chart")).expect("app stack");
        let module = app
            .synth(&SynthOptions::default())
            .unwrap_or_else(|e| panic!("{e}"));
        let files = module
            .files
            .iter()
            .filter(|(name, _)| name.ends_with(".json"))
            .map(|(name, bytes)| {
                (
                    name.clone(),
                    serde_json::from_slice(bytes).expect("JSON output"),
                )
            })
            .collect();
        (files, module)
    }

    #[test]
    fn every_block_passes_the_helm_and_kubernetes_schemas() {
        // synth checks every resource, data source and provider block against
        // the loaded schemas; the stub AWS blocks have no schema here.
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
                ["aws_load_balancer_controller", "metrics_server", "webapp"]
            );
            assert!(app["data"]["kubernetes_service_v1"]["webapp"].is_object());
        }
    }

    #[test]
    fn the_schemas_reject_helm_2_provider_syntax() {
        let mut app = App::new("staging");
        app.set_schemas(helm_k8s_schemas());
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
            err.contains(
                "provider.helm: `kubernetes` must be a block (a JSON object), found a list"
            ),
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
                    "${aws_ecr_repository.main.repository_url}"
                ),
                ("image.tag", "${var.image_tag}"),
                ("image.digest", "${var.image_digest}"),
            ]
        );
    }

    #[test]
    fn the_secret_comes_only_from_a_sensitive_variable() {
        let (files, module) = synth_json(&environment("production"));
        let variable = &files["variables.tf.json"]["variable"]["app_secret"];
        assert_eq!(variable["sensitive"], true);
        assert!(
            variable.get("default").is_none(),
            "a default would put a secret in the repository"
        );
        let secret = &files["app.tf.json"]["resource"]["kubernetes_secret_v1"]["app"];
        assert_eq!(secret["data"], json!({"APP_SECRET": "${var.app_secret}"}));
        let release = &files["app.tf.json"]["resource"]["helm_release"]["webapp"];
        let set = release["set"].as_array().expect("set list");
        assert!(set.contains(&json!({
            "name": "secret.existingSecret", "type": "string",
            "value": "${kubernetes_secret_v1.app.metadata[0].name}"
        })));
        // Nothing secret-looking travels in the values or anywhere else.
        for (name, bytes) in &module.files {
            let text = String::from_utf8_lossy(bytes);
            assert!(
                !text.contains("APP_SECRET:"),
                "{name} carries a secret value"
            );
        }
    }

    #[test]
    fn the_chart_travels_in_the_module_and_its_hash_is_in_the_release() {
        let env = environment("staging");
        let chart = tempfile_chart();
        let synth_description = |dir: &Path| {
            let app = app_with_stub_cluster(&env, dir).expect("app stack");
            let module = app.synth(&SynthOptions::default()).expect("synth");
            assert!(
                module.files.contains_key("chart/Chart.yaml"),
                "chart copied into the module"
            );
            let app_json: Value =
                serde_json::from_slice(&module.files["app.tf.json"]).expect("json");
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
    fn outputs_name_the_load_balancer_and_the_urls() {
        let (files, _) = synth_json(&environment("staging"));
        let outputs = &files["app.tf.json"]["output"];
        let host =
            "data.kubernetes_service_v1.webapp.status[0].load_balancer[0].ingress[0].hostname";
        assert_eq!(
            outputs["load_balancer_hostname"]["value"],
            format!("${{{host}}}")
        );
        assert_eq!(
            outputs["service_url"]["value"],
            format!("http://${{{host}}}/")
        );
        assert_eq!(
            outputs["configs_url"]["value"],
            format!("http://${{{host}}}/configs")
        );
        // Production listens on HTTPS only.
        let (files, _) = synth_json(&environment("production"));
        assert_eq!(
            files["app.tf.json"]["output"]["service_url"]["value"],
            format!("https://${{{host}}}/")
        );
    }

    #[test]
    fn destroy_order_keeps_the_controller_until_the_service_is_gone() {
        let (files, _) = synth_json(&environment("staging"));
        let release = &files["app.tf.json"]["resource"]["helm_release"]["webapp"];
        assert_eq!(
            release["depends_on"],
            json!([
                "helm_release.aws_load_balancer_controller",
                "helm_release.metrics_server"
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
        let staging = webapp_values(&environment("staging")).expect("render");
        let production = webapp_values(&environment("production")).expect("render");
        assert_eq!(staging["environment"], "staging");
        assert_eq!(staging["autoscaling"]["minReplicas"], 2);
        assert_eq!(
            staging["autoscaling"]["targetMemoryUtilizationPercentage"],
            Value::Null
        );
        assert_eq!(staging["settings"]["logLevel"], "debug");
        assert_eq!(staging["service"]["httpPort"], 80);
        assert_eq!(
            staging["service"]["tls"],
            json!({"enabled": false, "certificateArn": ""})
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
        assert_eq!(production["service"]["httpPort"], 0);
        assert_eq!(production["service"]["tls"]["enabled"], true);
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
            webapp_values(&env).expect("render")
        );
    }
}
