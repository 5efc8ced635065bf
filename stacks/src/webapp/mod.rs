//! The webapp component: the service itself. Its namespace (Pod Security
//! "restricted"), the application Secret, its IRSA role (in the iam stack),
//! and its own chart (copied into the module) released with values built
//! from the environment's `[app]` config.

mod estimated;
mod values;

use std::path::Path;

use synth::{App, Expr, Handle, Stack, Variable};

use crate::aws::{inline_policy, Irsa, Names, Partition, Statement};
use crate::config::Environment;
use crate::eks::Eks;
use crate::helm::{
    labelled_namespace, local_chart_path, opaque_secret, set_string, RELEASE_TIMEOUT_SECONDS,
};
use crate::network::Network;
use crate::{Error, Layer};

pub use estimated::estimated;
pub use values::webapp_values;

/// Helm release name of the service; the chart's objects (its Service among
/// them) carry this name, since the values pin `fullnameOverride` to it.
pub const RELEASE_NAME: &str = "webapp";

/// The local holding the webapp release's values.
pub const VALUES_LOCAL: &str = "webapp_values";

/// Where the chart lands inside the synthesized module.
pub const CHART_ASSET: &str = "chart";

/// The Secret the pods read their `APP_*_SECRET` variables from.
pub const SECRET_NAME: &str = "webapp-secrets";

/// Adds the service's blocks. `addons` are the releases it needs running
/// first (and, on destroy, still running after it); `chart_dir` is the
/// service's chart (helm-chart/), copied into the output so the module is
/// self-contained.
pub fn webapp(
    app: &mut App,
    env: &Environment,
    network: &Network,
    irsa: &Irsa,
    eks: &Eks,
    addons: &[Handle],
    chart_dir: &Path,
) -> Result<(), Error> {
    let role_arn = service_role(Layer::Iam.of(app), env, network, irsa);
    let config = &env.config;
    // With GitOps, a deploy is a commit of the image to git (docs/gitops.md)
    // and Argo CD rolls it out on its own time: terraform takes no image and
    // cannot wait for the service's load balancer.
    let gitops = config.gitops_enabled().is_some();
    let stack = Layer::App.of(app);
    let deploy = DeployVariables::declare(stack, !gitops);

    let namespace = namespace(stack, &config.service.namespace);
    let secret = opaque_secret(
        stack,
        "app",
        SECRET_NAME,
        namespace.clone(),
        Expr::object([(contract::APP_SECRET, deploy.app_secret.clone())]),
    );

    let chart = stack
        .asset_dir(CHART_ASSET, chart_dir)
        .map_err(|source| Error::Chart {
            path: chart_dir.to_owned(),
            source,
        })?;
    let values = synth::to_expr(&webapp_values(env)).map_err(|source| Error::Values {
        release: "webapp".into(),
        source: Box::new(source),
    })?;
    // A structured local rather than a YAML string: diffs between environments
    // and revisions then show each value that changes.
    let values = stack.local(VALUES_LOCAL, values);
    let secret_metadata = secret.attr("metadata").index(0);
    let webapp = stack
        .resource("helm_release", "webapp")
        .set("name", RELEASE_NAME)
        .set("chart", local_chart_path(&chart.path))
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
        .set("set", {
            let mut entries = vec![set_string(
                "image.repository",
                eks.ecr_repository_url.clone(),
            )];
            if let Some((tag, digest)) = deploy.image {
                entries.push(set_string("image.tag", tag));
                entries.push(set_string("image.digest", digest));
            }
            entries.extend([
                set_string("serviceAccount.roleArn", role_arn),
                set_string(
                    "secret.existingSecret",
                    secret_metadata.clone().attr("name"),
                ),
                // Changes with every update of the Secret, so pods restart to read it.
                set_string(
                    "secret.existingSecretChecksum",
                    secret_metadata.attr("resource_version"),
                ),
            ]);
            Expr::List(entries)
        });
    // The Service needs the controller's webhook, the HPA needs metrics; and
    // on destroy the controller must outlive the Service to delete the NLB.
    for addon in addons {
        webapp.depends_on(addon);
    }
    let webapp = webapp.handle();

    if !gitops {
        service_outputs(stack, config.app.load_balancer.http, namespace, &webapp);
    }
    Ok(())
}

/// The IRSA role of the service's pods: they read their own parameters and
/// nothing else.
fn service_role(stack: &mut Stack, env: &Environment, network: &Network, irsa: &Irsa) -> Expr {
    let names = Names::new(env);
    let partition = Partition::of(&env.config.region);
    let service = &env.config.service;
    let role = irsa.role(
        stack,
        "service",
        &names.name("service"),
        &service.namespace,
        &service.service_account,
    );
    let parameters = partition.arn(
        "ssm",
        &env.config.region,
        &network.account_id,
        &format!("parameter/{}/{}/*", env.config.project, env.name),
    );
    inline_policy(
        stack,
        "service",
        "read-own-parameters",
        &role,
        [Statement::allow([
            "ssm:GetParameter",
            "ssm:GetParameters",
            "ssm:GetParametersByPath",
        ])
        .on([parameters])],
    );
    role.attr("arn")
}

/// The variables a deploy passes.
#[derive(Debug)]
struct DeployVariables {
    /// The image's tag and digest, when terraform deploys it.
    image: Option<(Expr, Expr)>,
    app_secret: Expr,
}

impl DeployVariables {
    fn declare(stack: &mut Stack, image: bool) -> Self {
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
            image: image.then(|| Self::image(stack)),
            app_secret,
        }
    }

    fn image(stack: &mut Stack) -> (Expr, Expr) {
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
        (image_tag, image_digest)
    }
}

/// The service's namespace; returns a reference to its name.
fn namespace(stack: &mut Stack, name: &str) -> Expr {
    labelled_namespace(
        stack,
        "app",
        name,
        [
            // The controller then delays a rollout until each new pod is
            // registered and healthy in the NLB's target group.
            ("elbv2.k8s.aws/pod-readiness-gate-inject", "enabled"),
            ("pod-security.kubernetes.io/enforce", "restricted"),
            ("pod-security.kubernetes.io/warn", "restricted"),
        ],
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
    stack.export("service_url", url("/"), "The service's front page.");
    stack.export(
        "configs_url",
        url("/configs"),
        "The service's /configs page: its APP_* configuration.",
    );
    stack.export(
        "load_balancer_hostname",
        hostname,
        "DNS name of the service's NLB.",
    );
}

#[cfg(test)]
mod tests;
