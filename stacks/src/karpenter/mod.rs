//! Karpenter v1: cluster autoscaling. The HPA adds pods; when they do not
//! fit, Karpenter launches nodes for them (of the instance types, capacity
//! types and size the config's NodePools allow) and removes nodes that are
//! empty, underused or expired, within disruption budgets.
//!
//! Built the way terraform-aws-modules/eks v20.37.2 `modules/karpenter` does
//! it (the last line for provider 5.x, `enable_v1_permissions = true`):
//! - iam stack: the controller's IRSA role and policy, and the node role
//!   ([`iam`]);
//! - eks stack: the node role's access entry (`EC2_LINUX`), the interruption
//!   queue and its EventBridge rules ([`interruption`]), and the discovery tag
//!   on the cluster security group (the private subnets carry it from the
//!   network stack);
//! - app stack: the pinned chart, its controller on the managed node group the
//!   config names (which Karpenter does not manage), then the EC2NodeClass and
//!   NodePools ([`resources`]) as a local chart ordered after it.

mod estimated;
mod iam;
mod interruption;
mod resources;

use std::collections::BTreeMap;

use bindings::aws::ec2_tag::Ec2Tag;
use bindings::aws::eks_access_entry::EksAccessEntry;
use bindings::helm::release::ReleaseRef;
use serde::Serialize;
use synth::{Address, App, Expr};

use crate::aws::{name_tags, Irsa, Names, Partition, Statement};
use crate::config::{Environment, KARPENTER_CONTROLLER_REPLICAS};
use crate::eks::Eks;
use crate::helm::{
    addon_release, custom_resources, system_placement, Chart, Resources, ServiceAccount,
    Toleration, ADDON_NAMESPACE,
};
use crate::iam::{deployer_refresh, ClusterIam};
use crate::network::Network;
use crate::{Error, Layer};

pub use estimated::{estimated, NODEPOOL_TAG};
pub use iam::{controller_policies, Scope, NODE_POLICIES};

/// Tag (value: the cluster's name) by which Karpenter finds the subnets and
/// the security group of the nodes it launches.
pub const DISCOVERY_TAG: &str = "karpenter.sh/discovery";

/// Terraform ids of the controller's release, of the release of its
/// EC2NodeClass and NodePools, and of the role its nodes run as.
pub const RELEASE_ID: &str = "karpenter";
pub const NODE_POOLS_RELEASE_ID: &str = "karpenter_node_pools";
pub const NODE_ROLE_ID: &str = "karpenter_node";

/// The controller's service account; its IRSA role trusts
/// `system:serviceaccount:kube-system:karpenter` only.
pub const SERVICE_ACCOUNT: &str = "karpenter";

/// Chart and app 1.14.1, whose v1 CRDs [`resources`] follows and whose
/// permissions [`iam`] grants: upgrade them together. The repository's
/// Chart.yaml at tag v1.14.1 still says 1.13.0; the release job rewrites the
/// version (and the controller image) when it publishes the chart, so the
/// published 1.14.1 is what is pinned and checked.
const CHART: Chart = Chart {
    repository: "oci://public.ecr.aws/karpenter",
    name: "karpenter",
    version: "1.14.1",
};

/// Requests (and the memory limit) of each controller replica, as
/// Karpenter's getting-started guide sizes them.
const CONTROLLER_CPU: &str = "1";
const CONTROLLER_MEMORY: &str = "1Gi";

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Values {
    replicas: u32,
    service_account: ServiceAccount,
    settings: Settings,
    /// Merged with the chart's `kubernetes.io/os: linux`; its affinity already
    /// keeps the controller off nodes Karpenter launched.
    node_selector: BTreeMap<String, String>,
    tolerations: Vec<Toleration>,
    controller: Controller,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Settings {
    cluster_name: Expr,
    /// Given, so the controller need not look it up at start.
    cluster_endpoint: Expr,
    interruption_queue: Expr,
}

#[derive(Debug, Serialize)]
struct Controller {
    resources: Resources,
}

/// Karpenter's AWS resources, release and custom resources. Returns the
/// custom resources' release: releases whose pods may need Karpenter's nodes
/// follow it, and on destroy go before it, while Karpenter still runs to
/// drain and terminate the nodes it launched.
pub fn karpenter(
    app: &mut App,
    env: &Environment,
    network: &Network,
    cluster_iam: &ClusterIam,
    irsa: &Irsa,
    eks: &Eks,
) -> Result<ReleaseRef, Error> {
    let names = Names::new(env);
    let partition = Partition::of(&env.config.region);
    let cluster = names.cluster();

    let queue = interruption::interruption_queue(Layer::Eks.of(app), &names, &partition);
    deployer_refresh(
        Layer::Iam.of(app),
        env,
        cluster_iam,
        "karpenter_interruption",
        "refresh-interruption-queue",
        [
            Statement::allow(["sqs:GetQueueAttributes", "sqs:ListQueueTags"])
                .sid("RefreshInterruptionQueue")
                .on([queue.arn.clone()]),
            Statement::allow([
                "events:DescribeRule",
                "events:ListTagsForResource",
                "events:ListTargetsByRule",
            ])
            .sid("RefreshInterruptionRules")
            .on(queue.rule_arns.clone()),
        ],
    );
    let node = iam::node_role(Layer::Iam.of(app), &names, &partition);
    let (controller_role, controller_permissions) = iam::controller_role(
        Layer::Iam.of(app),
        &names,
        irsa,
        &Scope {
            cluster: &cluster,
            partition: &partition,
            account_id: &network.account_id,
            node_role_arn: node.role.arn().into(),
            queue_arn: queue.arn.clone(),
        },
    );

    let eks_stack = Layer::Eks.of(app);
    let cluster_name = eks.cluster_name.clone();
    let cluster_security_group = eks.cluster_security_group_id.clone();
    // Nodes join the cluster as this role; EC2_LINUX maps it to
    // system:nodes, as EKS does for the node groups' role itself.
    let access_entry = eks_stack.add(
        EksAccessEntry::new("karpenter_node", cluster_name, node.role.arn())
            .type_("EC2_LINUX")
            .tags(name_tags(&names.name("karpenter-node"), [])),
    );
    // The one node security group: EKS's cluster group, on the control
    // plane's ENIs and every managed node already, so Karpenter's nodes reach
    // both with the rules EKS keeps (as Karpenter's own migration guide tags it).
    let discovery = eks_stack.add(Ec2Tag::new(
        "karpenter_discovery",
        DISCOVERY_TAG,
        cluster_security_group,
        &cluster,
    ));

    let app_stack = Layer::App.of(app);
    let system = system_placement(env);
    let values = Values {
        replicas: KARPENTER_CONTROLLER_REPLICAS,
        service_account: ServiceAccount::irsa(SERVICE_ACCOUNT, controller_role.arn()),
        settings: Settings {
            cluster_name: eks.cluster_name.clone().into(),
            cluster_endpoint: eks.endpoint.clone().into(),
            interruption_queue: queue.name,
        },
        node_selector: system.node_selector,
        tolerations: system.tolerations,
        controller: Controller {
            resources: Resources::cpu_unlimited(CONTROLLER_CPU, CONTROLLER_MEMORY),
        },
    };
    let mut ready: Vec<Address> = eks.workloads_ready.clone();
    ready.extend(controller_permissions.iter().map(Address::from));
    let release = addon_release(app_stack, RELEASE_ID, CHART, &values, &ready)?;

    // Each object in a local of its own: `infra diff` then shows a NodePool's
    // fields one by one, and the policies read them as terraform will.
    let mut objects = vec![app_stack.local(
        "karpenter_node_class",
        to_expr(
            "karpenter_node_class",
            &resources::node_class(env, &cluster, node.role.name().into()),
        )?,
    )];
    for pool in &env.config.karpenter.node_pools {
        let local = format!("karpenter_node_pool_{}", pool.name.replace('-', "_"));
        let object = to_expr(&local, &resources::node_pool(pool))?;
        objects.push(app_stack.local(&local, object));
    }
    let mut after = vec![
        Address::from(&release),
        Address::from(&access_entry),
        Address::from(&discovery),
    ];
    after.extend(node.attachments.iter().map(Address::from));
    custom_resources(
        app_stack,
        NODE_POOLS_RELEASE_ID,
        "karpenter-node-pools",
        ADDON_NAMESPACE,
        &objects,
        &after,
    )
}

fn to_expr(id: &str, object: &impl Serialize) -> Result<Expr, Error> {
    synth::to_expr(object).map_err(|source| Error::Values {
        release: id.to_owned(),
        source: Box::new(source),
    })
}

#[cfg(test)]
mod tests;
