//! Karpenter's two IAM roles: the controller's (IRSA), allowed to launch and
//! end instances, launch templates and instance profiles of this cluster only,
//! and the role of the nodes it launches.
//!
//! The controller's statements are those of terraform-aws-modules/eks
//! v20.37.2 `modules/karpenter` with `enable_v1_permissions = true` (the
//! reference for provider 5.x), plus what Karpenter 1.14's own CloudFormation
//! reference (website getting-started `cloudformation.yaml` at v1.14.1) added
//! since: placement groups for RunInstances/CreateFleet, reading capacity
//! reservations, instance status and placement groups, and listing instance
//! profiles. Writes are conditioned on the cluster's tags
//! (`kubernetes.io/cluster/<name> = owned`, `eks:eks-cluster-name`) and on
//! Karpenter's own (`karpenter.sh/nodepool`, `karpenter.k8s.aws/ec2nodeclass`),
//! so the role cannot touch instances or profiles of anything else.

use bindings::aws::iam_policy::IamPolicy;
use bindings::aws::iam_role::IamRoleRef;
use bindings::aws::iam_role_policy_attachment::{
    IamRolePolicyAttachment, IamRolePolicyAttachmentRef,
};
use bindings::prelude::*;
use synth::{Expr, Stack};

use crate::aws::{
    attach, name_tags, policy, role, service_trust, Irsa, Names, Partition, Statement,
};
use crate::helm::ADDON_NAMESPACE;

use super::SERVICE_ACCOUNT;

/// AWS managed policies of the nodes Karpenter launches: join the cluster,
/// run the VPC CNI, pull images. `AmazonEC2ContainerRegistryPullOnly` is what
/// Karpenter 1.14 documents (pull, no listing); no SSM: nobody logs in to nodes.
pub const NODE_POLICIES: &[&str] = &[
    "AmazonEKSWorkerNodePolicy",
    "AmazonEKS_CNI_Policy",
    "AmazonEC2ContainerRegistryPullOnly",
];

/// The role of Karpenter's nodes (never the cluster's, nor the node groups':
/// EKS makes the node groups' access entry itself, and one principal has one
/// entry), with the attachments nodes must not outlive.
#[derive(Debug)]
pub struct NodeRole {
    pub role: IamRoleRef,
    pub attachments: Vec<IamRolePolicyAttachmentRef>,
}

pub fn node_role(stack: &mut Stack, names: &Names, partition: &Partition) -> NodeRole {
    let role = role(
        stack,
        super::NODE_ROLE_ID,
        &names.name("karpenter-node"),
        service_trust(partition, "ec2"),
    );
    let attachments = attach(stack, "karpenter_node", &role, partition, NODE_POLICIES);
    NodeRole { role, attachments }
}

/// What the controller's policy is about: this cluster, in its region and
/// account, with its node role and interruption queue.
#[derive(Debug)]
pub struct Scope<'a> {
    pub cluster: &'a str,
    pub partition: &'a Partition,
    pub account_id: &'a Value<ty::String>,
    pub node_role_arn: Expr,
    pub queue_arn: Expr,
}

/// The controller's IRSA role (only `kube-system/karpenter` may assume it)
/// with its managed policies; returns the role and the attachments the
/// release must wait for (and outlive).
pub fn controller_role(
    stack: &mut Stack,
    names: &Names,
    irsa: &Irsa,
    scope: &Scope<'_>,
) -> (IamRoleRef, Vec<IamRolePolicyAttachmentRef>) {
    let name = names.name("karpenter-controller");
    let role = irsa.role(
        stack,
        "karpenter_controller",
        &name,
        ADDON_NAMESPACE,
        SERVICE_ACCOUNT,
    );
    let attachments = controller_policies(scope)
        .into_iter()
        .map(|(part, description, statements)| {
            let id = format!("karpenter_controller_{}", part.replace('-', "_"));
            let policy_name = format!("{name}-{part}");
            let permissions = stack.add(
                IamPolicy::new(&id, policy(statements))
                    .name(&policy_name)
                    .description(description)
                    .tags(name_tags(&policy_name, [])),
            );
            stack.add(IamRolePolicyAttachment::new(
                &id,
                permissions.arn(),
                role.name(),
            ))
        })
        .collect();
    (role, attachments)
}

/// The controller's statements in two managed policies, split as Karpenter's
/// CloudFormation reference splits them (node lifecycle apart from the rest):
/// in one, they pass IAM's 6,144-character limit on a managed policy for
/// long cluster names (a 32-character one, in the GovCloud partition).
pub fn controller_policies(scope: &Scope<'_>) -> [(&'static str, &'static str, Vec<Statement>); 2] {
    let mut statements = controller_statements(scope);
    let integration = statements.split_off(NODE_LIFECYCLE_STATEMENTS);
    [
        (
            "node-lifecycle",
            "Karpenter 1.14 controller: launch, tag and end this cluster's nodes and launch templates",
            statements,
        ),
        (
            "integration",
            "Karpenter 1.14 controller: discovery, pricing, interruption queue, node role and instance profiles",
            integration,
        ),
    ]
}

/// How many of [`controller_statements`] (the first ones) launch, tag and
/// end instances and launch templates.
const NODE_LIFECYCLE_STATEMENTS: usize = 6;

/// Whether a condition is on the tags of the request (what is being
/// created) or of the resource acted on.
#[derive(Debug, Clone, Copy)]
enum Tags {
    Request,
    Resource,
}

impl Tags {
    fn key(self, tag: &str) -> String {
        match self {
            Self::Request => format!("aws:RequestTag/{tag}"),
            Self::Resource => format!("aws:ResourceTag/{tag}"),
        }
    }
}

/// The tag conditions the statements share, for one cluster and region.
struct Conditions<'a> {
    cluster: &'a str,
    region: &'a str,
}

impl Conditions<'_> {
    /// `kubernetes.io/cluster/<cluster> = owned`, which Karpenter puts on
    /// everything it creates.
    fn owned(&self, s: Statement, tags: Tags) -> Statement {
        s.condition(
            "StringEquals",
            &tags.key(&format!("kubernetes.io/cluster/{}", self.cluster)),
            "owned",
        )
    }

    /// Created for this cluster: owned, and named so by EKS's tag.
    fn created_for_cluster(&self, s: Statement) -> Statement {
        self.owned(s, Tags::Request).condition(
            "StringEquals",
            &Tags::Request.key("eks:eks-cluster-name"),
            self.cluster,
        )
    }

    /// Karpenter's own tag (`karpenter.sh/nodepool`, ...) is present.
    fn karpenters(&self, s: Statement, tags: Tags, tag: &str) -> Statement {
        s.condition("StringLike", &tags.key(tag), "*")
    }

    /// `topology.kubernetes.io/region` is this region.
    fn in_region(&self, s: Statement, tags: Tags) -> Statement {
        s.condition(
            "StringEquals",
            &tags.key("topology.kubernetes.io/region"),
            self.region,
        )
    }
}

const NODEPOOL_TAG: &str = "karpenter.sh/nodepool";
const NODECLASS_TAG: &str = "karpenter.k8s.aws/ec2nodeclass";

/// The controller's permissions, statement by statement (Sids as upstream):
/// the node lifecycle first, then the rest.
fn controller_statements(scope: &Scope<'_>) -> Vec<Statement> {
    let Scope {
        cluster,
        partition,
        account_id,
        ..
    } = scope;
    let region = partition.region.as_str();
    let c = Conditions { cluster, region };
    let ec2 = |resource: &str| format!("arn:{}:ec2:{region}:*:{resource}", partition.name);
    let instance_profiles = partition.arn("iam", "", account_id, "instance-profile/*");
    let launched = [
        ec2("fleet/*"),
        ec2("instance/*"),
        ec2("volume/*"),
        ec2("network-interface/*"),
        ec2("launch-template/*"),
        ec2("spot-instances-request/*"),
    ];
    // Statements acting on what Karpenter launched for this cluster.
    let launched_by_karpenter =
        |s: Statement| c.karpenters(c.owned(s, Tags::Resource), Tags::Resource, NODEPOOL_TAG);
    let profile_of_this_cluster = |s: Statement| {
        c.karpenters(
            c.in_region(c.owned(s, Tags::Resource), Tags::Resource),
            Tags::Resource,
            NODECLASS_TAG,
        )
    };
    vec![
        Statement::allow(["ec2:RunInstances", "ec2:CreateFleet"])
            .sid("AllowScopedEC2InstanceAccessActions")
            .on([
                format!("arn:{}:ec2:{region}::image/*", partition.name),
                format!("arn:{}:ec2:{region}::snapshot/*", partition.name),
                ec2("security-group/*"),
                ec2("subnet/*"),
                ec2("capacity-reservation/*"),
                ec2("placement-group/*"),
            ]),
        launched_by_karpenter(
            Statement::allow(["ec2:RunInstances", "ec2:CreateFleet"])
                .sid("AllowScopedEC2LaunchTemplateAccessActions")
                .on([ec2("launch-template/*")]),
        ),
        c.karpenters(
            c.created_for_cluster(
                Statement::allow([
                    "ec2:RunInstances",
                    "ec2:CreateFleet",
                    "ec2:CreateLaunchTemplate",
                ])
                .sid("AllowScopedEC2InstanceActionsWithTags")
                .on(launched.clone()),
            ),
            Tags::Request,
            NODEPOOL_TAG,
        ),
        c.karpenters(
            c.created_for_cluster(
                Statement::allow(["ec2:CreateTags"])
                    .sid("AllowScopedResourceCreationTagging")
                    .on(launched)
                    .condition(
                        "StringEquals",
                        "ec2:CreateAction",
                        Expr::list(["RunInstances", "CreateFleet", "CreateLaunchTemplate"]),
                    ),
            ),
            Tags::Request,
            NODEPOOL_TAG,
        ),
        launched_by_karpenter(
            Statement::allow(["ec2:CreateTags"])
                .sid("AllowScopedResourceTagging")
                .on([ec2("instance/*")])
                .condition(
                    "StringEqualsIfExists",
                    &Tags::Request.key("eks:eks-cluster-name"),
                    *cluster,
                )
                .condition(
                    "ForAllValues:StringEquals",
                    "aws:TagKeys",
                    Expr::list(["eks:eks-cluster-name", "karpenter.sh/nodeclaim", "Name"]),
                ),
        ),
        launched_by_karpenter(
            Statement::allow(["ec2:TerminateInstances", "ec2:DeleteLaunchTemplate"])
                .sid("AllowScopedDeletion")
                .on([ec2("instance/*"), ec2("launch-template/*")]),
        ),
        // Describe calls take no resource ARNs; the region condition confines them.
        Statement::allow([
            "ec2:DescribeAvailabilityZones",
            "ec2:DescribeCapacityReservations",
            "ec2:DescribeImages",
            "ec2:DescribeInstances",
            "ec2:DescribeInstanceStatus",
            "ec2:DescribeInstanceTypeOfferings",
            "ec2:DescribeInstanceTypes",
            "ec2:DescribeLaunchTemplates",
            "ec2:DescribePlacementGroups",
            "ec2:DescribeSecurityGroups",
            "ec2:DescribeSpotPriceHistory",
            "ec2:DescribeSubnets",
        ])
        .sid("AllowRegionalReadActions")
        .on(["*"])
        .condition("StringEquals", "aws:RequestedRegion", region),
        // The EKS-optimized AMI ids are public SSM parameters.
        Statement::allow(["ssm:GetParameter"])
            .sid("AllowSSMReadActions")
            .on([format!(
                "arn:{}:ssm:{region}::parameter/aws/service/*",
                partition.name
            )]),
        Statement::allow(["pricing:GetProducts"])
            .sid("AllowPricingReadActions")
            .on(["*"]),
        Statement::allow(["sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage"])
            .sid("AllowInterruptionQueueActions")
            .on([scope.queue_arn.clone()]),
        Statement::allow(["iam:PassRole"])
            .sid("AllowPassingInstanceRole")
            .on([scope.node_role_arn.clone()])
            .condition("StringEquals", "iam:PassedToService", {
                // China's partition answers to both spellings.
                let mut services = vec![partition.service("ec2"), "ec2.amazonaws.com".to_owned()];
                services.dedup();
                Expr::list(services)
            }),
        c.karpenters(
            c.in_region(
                c.created_for_cluster(
                    Statement::allow(["iam:CreateInstanceProfile"])
                        .sid("AllowScopedInstanceProfileCreationActions")
                        .on([instance_profiles.clone()]),
                ),
                Tags::Request,
            ),
            Tags::Request,
            NODECLASS_TAG,
        ),
        c.karpenters(
            c.in_region(
                c.created_for_cluster(profile_of_this_cluster(
                    Statement::allow(["iam:TagInstanceProfile"])
                        .sid("AllowScopedInstanceProfileTagActions")
                        .on([instance_profiles.clone()]),
                )),
                Tags::Request,
            ),
            Tags::Request,
            NODECLASS_TAG,
        ),
        profile_of_this_cluster(
            Statement::allow([
                "iam:AddRoleToInstanceProfile",
                "iam:RemoveRoleFromInstanceProfile",
                "iam:DeleteInstanceProfile",
            ])
            .sid("AllowScopedInstanceProfileActions")
            .on([instance_profiles.clone()]),
        ),
        Statement::allow(["iam:GetInstanceProfile"])
            .sid("AllowInstanceProfileReadActions")
            .on([instance_profiles]),
        // ListInstanceProfiles has no resource-level permissions.
        Statement::allow(["iam:ListInstanceProfiles"])
            .sid("AllowUnscopedInstanceProfileListAction")
            .on(["*"]),
        Statement::allow(["eks:DescribeCluster"])
            .sid("AllowAPIServerEndpointDiscovery")
            .on([partition.arn("eks", region, account_id, &format!("cluster/{cluster}"))]),
    ]
}
