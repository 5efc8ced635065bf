//! What every component that runs on the cluster shares: the helm and
//! kubernetes providers configured from the environment's own cluster, and
//! releases of pinned upstream charts with typed values.
//!
//! The providers are configured from the EKS cluster of the same module.
//! Their documentation warns against doing that in the apply that creates the
//! cluster, so an environment is applied in two phases: the AWS stacks first,
//! then everything (docs/app.md, `just apply <env>`).

use bindings::helm::{provider as helm_provider, release};
use bindings::kubernetes::{namespace_v1, provider as kubernetes_provider, secret_v1};
use bindings::prelude::*;
use serde::Serialize;
use synth::{Address, Expr, RequiredProvider, Stack};

use crate::eks::Eks;
use crate::Error;

/// Namespace of the cluster add-ons.
pub const ADDON_NAMESPACE: &str = "kube-system";

/// Seconds helm waits for a release's objects to become ready; the webapp's
/// NLB takes a few minutes to be provisioned the first time.
pub const RELEASE_TIMEOUT_SECONDS: u32 = 900;

/// An upstream chart, pinned: a new version is a reviewed change, tried in
/// staging first.
#[derive(Debug, Clone, Copy)]
pub struct Chart {
    pub repository: &'static str,
    pub name: &'static str,
    pub version: &'static str,
}

/// The client credential plugin both providers run: `aws eks get-token`.
const EXEC_API_VERSION: &str = "client.authentication.k8s.io/v1beta1";
const EXEC_COMMAND: &str = "aws";

/// Declares the helm and kubernetes providers, talking to the environment's
/// cluster with a short-lived token from `aws eks get-token` (the AWS CLI must
/// be on PATH).
pub fn cluster_providers(stack: &mut Stack, region: &str, eks: &Eks) {
    stack.require_provider("helm", RequiredProvider::new("hashicorp/helm", "~> 3.1"));
    stack.require_provider(
        "kubernetes",
        RequiredProvider::new("hashicorp/kubernetes", "~> 2.38"),
    );
    let cluster_name = eks.cluster_name.clone();
    let host = &eks.endpoint;
    let args: Vec<Value<ty::String>> = vec![
        "eks".into(),
        "get-token".into(),
        "--cluster-name".into(),
        cluster_name,
        "--region".into(),
        region.into(),
    ];
    // A function call: base64decode returns a string.
    let ca: Value<ty::String> = Value::assume(Expr::call("base64decode", [eks.ca_data.clone()]));
    stack.provider(
        kubernetes_provider::Provider::new()
            .host(host)
            .cluster_ca_certificate(&ca)
            .exec(vec![kubernetes_provider::Exec::new(
                EXEC_API_VERSION,
                EXEC_COMMAND,
            )
            .args(args.clone())])
            .into(),
    );
    // helm 3.x: `kubernetes` is an object attribute, its `exec` an object too.
    stack.provider(
        helm_provider::Provider::new()
            .kubernetes(
                helm_provider::Kubernetes::new()
                    .host(host)
                    .cluster_ca_certificate(ca)
                    .exec(helm_provider::Exec::new(EXEC_API_VERSION, EXEC_COMMAND).args(args)),
            )
            .into(),
    );
}

/// A pinned chart from its repository into kube-system, after what the
/// cluster needs to run pods. `values` is a typed struct; it may hold
/// references, so it goes through `yamlencode` at plan time.
pub fn addon_release(
    stack: &mut Stack,
    id: &str,
    chart: Chart,
    values: &impl Serialize,
    cluster_ready: &[Address],
) -> Result<release::ReleaseRef, Error> {
    addon_release_in(stack, id, chart, ADDON_NAMESPACE, values, cluster_ready)
}

/// [`addon_release`] into `namespace` (a name, or a reference to the
/// namespace's block, which the release then follows).
pub fn addon_release_in(
    stack: &mut Stack,
    id: &str,
    chart: Chart,
    namespace: impl Into<Value<ty::String>>,
    values: &impl Serialize,
    cluster_ready: &[Address],
) -> Result<release::ReleaseRef, Error> {
    let release = chart_release(id, chart, namespace, values, cluster_ready)?;
    Ok(stack.add(release))
}

/// The builder [`addon_release_in`] adds, for a caller that sets more on it
/// (a release name other than the chart's, `create_namespace`).
pub fn chart_release(
    id: &str,
    chart: Chart,
    namespace: impl Into<Value<ty::String>>,
    values: &impl Serialize,
    cluster_ready: &[Address],
) -> Result<release::Release, Error> {
    let values = synth::to_expr(values).map_err(|source| Error::Values {
        release: id.to_owned(),
        source: Box::new(source),
    })?;
    Ok(release::Release::new(id, chart.name, chart.name)
        .repository(chart.repository)
        .version(chart.version)
        .namespace(namespace)
        .atomic(true)
        .wait(true)
        .timeout(RELEASE_TIMEOUT_SECONDS)
        .values([yamlencode(values)])
        .depends_on_all(cluster_ready.iter().cloned()))
}

/// A `set` entry forced to a string, so a tag like `1.10` is not read as a number.
pub fn set_string(name: &str, value: impl Into<Value<ty::String>>) -> release::Set {
    release::Set::new(name).value(value).type_("string")
}

/// A namespace (`kubernetes_namespace_v1.<id>`) with `labels`; returns a
/// reference to its name, so what goes into it follows its creation.
pub fn labelled_namespace<'a>(
    stack: &mut Stack,
    id: &str,
    name: &str,
    labels: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Value<ty::String> {
    let labels: std::collections::BTreeMap<&str, &str> = labels.into_iter().collect();
    let namespace = stack.add(namespace_v1::NamespaceV1::new(
        id,
        namespace_v1::Metadata::new().name(name).labels(labels),
    ));
    namespace.metadata().at(0).name()
}

/// An Opaque Secret (`kubernetes_secret_v1.<id>`) holding `data`, whose
/// values come from sensitive variables: they reach the cluster, never the
/// synthesized JSON or a release's values.
pub fn opaque_secret(
    stack: &mut Stack,
    id: &str,
    name: &str,
    namespace: impl Into<Value<ty::String>>,
    data: impl Into<Value<ty::Map<ty::String>>>,
) -> secret_v1::SecretV1Ref {
    stack.add(
        secret_v1::SecretV1::new(
            id,
            secret_v1::Metadata::new().name(name).namespace(namespace),
        )
        .type_("Opaque")
        .data(data),
    )
}

/// `podDisruptionBudget` as several charts spell it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DisruptionBudget {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    pub max_unavailable: u32,
}

/// `serviceAccount` as several charts spell it; an IRSA role goes in as the
/// `eks.amazonaws.com/role-arn` annotation.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceAccount {
    pub create: bool,
    pub name: String,
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub annotations: std::collections::BTreeMap<String, Expr>,
}

impl ServiceAccount {
    /// A service account the chart creates, bound to an IRSA role.
    pub fn irsa(name: &str, role_arn: Value<ty::String>) -> Self {
        Self {
            create: true,
            name: name.to_owned(),
            annotations: [("eks.amazonaws.com/role-arn".to_owned(), role_arn.into())].into(),
        }
    }
}

/// Where charts of ours (custom resources) land inside the module.
pub const LOCAL_CHARTS: &str = "charts";

/// The one template of a custom-resources chart: each object of its values,
/// as given.
const OBJECTS_TEMPLATE: &str = "{{- range .Values.objects }}\n---\n{{ toYaml . }}\n{{- end }}\n";

/// The one template of a chart of fixed objects: its objects.yaml verbatim,
/// never through Go templating.
const FILES_TEMPLATE: &str = "{{ .Files.Get \"objects.yaml\" }}\n";

/// Custom resources (a NodePool, a ServiceMonitor, an ExternalSecret...)
/// delivered by a `helm_release` of a small chart carried in the module
/// (`charts/<name>/`), never by `kubernetes_manifest`: that needs the CRD at
/// plan time and fails before the add-on that owns it is installed. The
/// release follows `after` (the owner's release), so on destroy the objects
/// go before their CRDs. `objects` are typed serde structs; their
/// references to other blocks are resolved by terraform. `namespace` is a
/// name, or a reference to the namespace's resource so the release follows it.
pub fn custom_resources(
    stack: &mut Stack,
    id: &str,
    name: &str,
    namespace: impl Into<Value<ty::String>>,
    objects: &[impl Serialize],
    after: &[Address],
) -> Result<release::ReleaseRef, Error> {
    let objects = synth::to_expr(objects).map_err(|source| Error::Values {
        release: id.to_owned(),
        source: Box::new(source),
    })?;
    let template = ("templates/objects.yaml".to_owned(), OBJECTS_TEMPLATE.into());
    let release = local_chart(stack, id, name, namespace, vec![template], after)
        .values([yamlencode(Expr::object([("objects", objects)]))]);
    Ok(stack.add(release))
}

/// [`custom_resources`] whose content is fixed at synth time (no reference
/// for terraform to resolve): the objects are a file of the chart
/// (`objects.yaml`, one JSON document each) rendered as it is, so nothing
/// goes through the release's values or Helm's templating (an alert's
/// annotations hold Go templates of their own), and a change to an object
/// changes the chart. One file rather than one per object: each file a
/// synthesis creates costs more than rendering it. Objects of the
/// Kubernetes API itself (a ConfigMap) may be among them.
pub fn fixed_resources(
    stack: &mut Stack,
    id: &str,
    name: &str,
    namespace: &str,
    objects: &[impl Serialize],
    after: &[Address],
) -> Result<release::ReleaseRef, Error> {
    let mut stream = Vec::new();
    for object in objects {
        stream.extend_from_slice(b"---\n");
        serde_json::to_writer(&mut stream, object).map_err(|source| Error::Objects {
            release: id.to_owned(),
            source,
        })?;
        stream.push(b'\n');
    }
    let files = vec![
        ("templates/objects.yaml".to_owned(), FILES_TEMPLATE.into()),
        ("objects.yaml".to_owned(), stream),
    ];
    let release = local_chart(stack, id, name, namespace, files, after);
    Ok(stack.add(release))
}

/// A release of a chart of ours with these `files` besides its Chart.yaml;
/// the chart goes into the module now, the release is the caller's to add.
fn local_chart(
    stack: &mut Stack,
    id: &str,
    name: &str,
    namespace: impl Into<Value<ty::String>>,
    mut files: Vec<(String, Vec<u8>)>,
    after: &[Address],
) -> release::Release {
    let chart_yaml = format!(
        "apiVersion: v2\nname: {name}\ndescription: Custom resources synthesized by infra\ntype: application\nversion: 0.1.0\n"
    );
    files.insert(0, ("Chart.yaml".to_owned(), chart_yaml.into_bytes()));
    let chart = stack.asset_files(&format!("{LOCAL_CHARTS}/{name}"), files);
    release::Release::new(id, local_chart_path(&chart.path), name)
        // The chart's content is fixed, but its hash in the plan would show
        // a change to the template, which helm alone would not notice.
        .description(format!("chart sha256:{}", chart.hash))
        .namespace(namespace)
        .atomic(true)
        .wait(true)
        .timeout(RELEASE_TIMEOUT_SECONDS)
        .max_history(10)
        .depends_on_all(after.iter().cloned())
}

/// `${path.module}/<path>`: a chart carried inside the module.
pub fn local_chart_path(path: &std::path::Path) -> Value<ty::String> {
    Value::template([
        Expr::raw("path.module"),
        Expr::from(format!("/{}", path.display())),
    ])
}

/// A container's `resources`, as every chart spells them: CPU and memory
/// requested; memory limited, CPU limited only where a chart's pods should
/// be throttled rather than slow a neighbour.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resources {
    pub requests: Quantities,
    pub limits: Quantities,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Quantities {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu: Option<String>,
    pub memory: String,
}

impl Resources {
    /// CPU requested, not limited (throttling only slows a pod down, and a
    /// throttled webhook or store times its callers out); memory requested
    /// and limited alike, so the pod gets what it is sized for.
    pub fn cpu_unlimited(cpu: &str, memory: &str) -> Self {
        Self::new((cpu, memory), (None, memory))
    }

    /// `(cpu, memory)` requested, `(cpu, memory)` limited.
    pub fn new(requests: (&str, &str), limits: (Option<&str>, &str)) -> Self {
        Self {
            requests: Quantities {
                cpu: Some(requests.0.to_owned()),
                memory: requests.1.to_owned(),
            },
            limits: Quantities {
                cpu: limits.0.map(str::to_owned),
                memory: limits.1.to_owned(),
            },
        }
    }
}

/// A pod toleration, as every chart spells it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Toleration {
    pub key: String,
    pub operator: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    pub effect: &'static str,
}

/// Where the add-ons that must run before any other pod can be scheduled go
/// (Karpenter's controller, and Argo CD where it delivers Karpenter): the node
/// group the config names for Karpenter's controller, selected by the label
/// EKS puts on its nodes, with that group's taints tolerated and no others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemPlacement {
    pub node_selector: std::collections::BTreeMap<String, String>,
    pub tolerations: Vec<Toleration>,
}

pub fn system_placement(env: &crate::config::Environment) -> SystemPlacement {
    let group = &env.config.karpenter.controller_node_group;
    let tolerations = env
        .config
        .node_groups
        .iter()
        .filter(|g| &g.name == group)
        .flat_map(|g| &g.taints)
        .map(|taint| Toleration {
            key: taint.key.clone(),
            operator: if taint.value.is_empty() {
                "Exists"
            } else {
                "Equal"
            },
            value: (!taint.value.is_empty()).then(|| taint.value.clone()),
            effect: taint.effect.as_kubernetes(),
        })
        .collect();
    SystemPlacement {
        node_selector: [("eks.amazonaws.com/nodegroup".to_owned(), group.clone())].into(),
        tolerations,
    }
}
