//! The webapp component: the service itself. Its namespace (Pod Security
//! "restricted"), its IRSA role (in the iam stack), its own chart (copied
//! into the module) released with values built from the environment's
//! `[app]` and `[edge]` config, and the public name's record pointing at the
//! load balancer the controller made for it. Its secrets are the secrets
//! component's: the chart mounts the Secret that component keeps in step.

mod estimated;
mod public_name;
mod values;

use std::path::Path;

use bindings::helm::release::Release;
use bindings::prelude::*;
use synth::{Address, App, Expr, Stack, Variable};

use crate::aws::{inline_policy, Irsa, Names, Partition, Statement};
use crate::config::{Environment, LoadBalancerKind};
use crate::edge::Edge;
use crate::eks::Eks;
use crate::helm::{labelled_namespace, local_chart_path, set_string, RELEASE_TIMEOUT_SECONDS};
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

/// The ALB group of the service's Ingress (one ALB per group).
pub const ALB_GROUP: &str = RELEASE_NAME;

/// The Secret the pods read their secrets from, as files; External Secrets
/// Operator writes it (the secrets component).
pub const SECRET_NAME: &str = "webapp-secrets";

/// What the service is built on, from the components before it.
#[derive(Debug)]
pub struct Platform<'a> {
    pub network: &'a Network,
    pub edge: &'a Edge,
    pub irsa: &'a Irsa,
    pub eks: &'a Eks,
    /// The service's namespace (a reference to it: see [`namespace`]).
    pub namespace: Value<ty::String>,
}

/// Adds the service's blocks. `addons` are the releases it needs running
/// first (and, on destroy, still running after it); `chart_dir` is the
/// service's chart (helm-chart/), copied into the output so the module is
/// self-contained.
pub fn webapp(
    app: &mut App,
    env: &Environment,
    platform: &Platform<'_>,
    addons: &[Address],
    chart_dir: &Path,
) -> Result<(), Error> {
    let role_arn = service_role(Layer::Iam.of(app), env, platform.network, platform.irsa);
    // With GitOps, a deploy is a commit of the image to git (docs/gitops.md)
    // and Argo CD rolls it out on its own time: terraform takes no image and
    // cannot wait for the service's load balancer.
    let gitops = env.config.gitops_enabled().is_some();
    let stack = Layer::App.of(app);
    let deploy = DeployVariables::declare(stack, !gitops);
    let (eks, edge) = (platform.eks, platform.edge);
    let namespace = platform.namespace.clone();

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
    let mut set = vec![set_string("image.repository", &eks.ecr_repository_url)];
    if let Some((tag, digest)) = deploy.image {
        set.push(set_string("image.tag", tag));
        set.push(set_string("image.digest", digest));
    }
    set.push(set_string("serviceAccount.roleArn", role_arn));
    let certificate_arn = &edge.certificate_arn;
    // The certificate is known once issued and validated, the web ACL once made.
    match env.config.app.load_balancer.kind {
        LoadBalancerKind::Alb => {
            set.push(set_string("ingress.certificateArn", certificate_arn));
            if let Some(acl) = &edge.web_acl_arn {
                set.push(set_string("ingress.wafAclArn", acl));
            }
        }
        LoadBalancerKind::Nlb => {
            set.push(set_string("service.tls.certificateArn", certificate_arn))
        }
    }
    let webapp = stack.add(
        Release::new("webapp", local_chart_path(&chart.path), RELEASE_NAME)
            // helm only notices a local chart's change when its version moves; a
            // new description on every content change makes terraform upgrade it.
            .description(format!("chart sha256:{}", chart.hash))
            .namespace(namespace)
            .atomic(true)
            .cleanup_on_fail(true)
            .wait(true)
            .timeout(RELEASE_TIMEOUT_SECONDS)
            .max_history(10)
            // A local's value: the structured values above, encoded.
            .values([yamlencode(values)])
            .set(set)
            // The Ingress and Service need the controller's webhooks, the HPA
            // needs metrics, the pods their Secret; and on destroy the
            // controller must outlive them to delete the load balancer.
            .depends_on_all(addons.iter().cloned()),
    );

    // Terraform reads the load balancer after the release it installs;
    // Argo CD's release is out of terraform's sight, so the record follows
    // whatever load balancer carries the release's tags (public_name.rs).
    let delivery = if gitops {
        public_name::Delivery::ArgoCd
    } else {
        public_name::Delivery::Terraform(&webapp)
    };
    public_name::public_name(app, env, edge, delivery);
    Ok(())
}

/// The IRSA role of the service's pods: they read their own parameters and
/// nothing else.
fn service_role(
    stack: &mut Stack,
    env: &Environment,
    network: &Network,
    irsa: &Irsa,
) -> Value<ty::String> {
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
    role.arn()
}

/// The variables a deploy passes.
#[derive(Debug)]
struct DeployVariables {
    /// The image's tag and digest, when terraform deploys it.
    image: Option<(Value<ty::String>, Value<ty::String>)>,
}

impl DeployVariables {
    fn declare(stack: &mut Stack, image: bool) -> Self {
        Self {
            image: image.then(|| Self::image(stack)),
        }
    }

    fn image(stack: &mut Stack) -> (Value<ty::String>, Value<ty::String>) {
        let image_tag = stack.typed_variable(
            "image_tag",
            Variable::new()
                .description("Tag of the webapp image in the ECR repository to deploy (CI passes the tag it built).")
                .validation(
                    Expr::raw("can(regex(\"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$\", var.image_tag))"),
                    "image_tag must be a Docker tag: letters, digits, '_', '.', '-', at most 128 characters.",
                ),
        );
        let image_digest = stack.typed_variable(
            "image_digest",
            Variable::new()
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

/// The service's namespace; returns a reference to its name, through which
/// whatever is released into it follows it.
pub fn namespace(stack: &mut Stack, name: &str) -> Value<ty::String> {
    labelled_namespace(
        stack,
        "app",
        name,
        [
            // The controller then delays a rollout until each new pod is
            // registered and healthy in the load balancer's target group.
            ("elbv2.k8s.aws/pod-readiness-gate-inject", "enabled"),
            ("pod-security.kubernetes.io/enforce", "restricted"),
            ("pod-security.kubernetes.io/warn", "restricted"),
        ],
    )
}

#[cfg(test)]
mod tests;
