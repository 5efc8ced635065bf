//! The eks stack: the cluster in the private subnets with the defaults
//! terraform-aws-modules/eks users expect (private endpoint, public endpoint
//! only from listed networks, KMS-encrypted secrets, control-plane logs in an
//! encrypted log group, access entries instead of the aws-auth ConfigMap),
//! managed node groups through launch templates (IMDSv2 only, encrypted gp3
//! root volumes), the core add-ons, and the ECR repository of the service.

use bindings::aws::{
    cloudwatch_log_group::CloudwatchLogGroup,
    ecr_lifecycle_policy::EcrLifecyclePolicy,
    ecr_repository::{self, EcrRepository, EcrRepositoryRef},
    eks_access_entry::EksAccessEntry,
    eks_access_policy_association::{AccessScope, EksAccessPolicyAssociation},
    eks_addon::{EksAddon, EksAddonRef},
    eks_cluster::{self, EksCluster},
    eks_node_group::{self, EksNodeGroup, EksNodeGroupRef},
    launch_template::{self, LaunchTemplate},
};
use bindings::prelude::*;
use serde_json::json;
use synth::{Address, Expr, Stack};

use crate::aws::{aws_provider, default_tags, json_encode, name_tags, Names, Partition};
use crate::config::{Environment, NodeGroupConfig, NodeTaint};
use crate::iam::ClusterIam;
use crate::network::Network;

/// What the cluster exposes to the other components.
#[derive(Debug, Clone)]
pub struct Eks {
    pub cluster_name: Value<ty::String>,
    pub endpoint: Value<ty::String>,
    /// Base64 certificate authority data (`certificate_authority[0].data`).
    pub ca_data: Value<ty::String>,
    /// The cluster's OIDC issuer URL (`https://oidc.eks...`).
    pub oidc_issuer_url: Value<ty::String>,
    pub cluster_arn: Value<ty::String>,
    /// The security group EKS creates for the cluster and puts on the control
    /// plane's ENIs and on every managed node.
    pub cluster_security_group_id: Value<ty::String>,
    pub ecr_repository_url: Value<ty::String>,
    pub ecr_repository_arn: Value<ty::String>,
    /// Node groups and add-ons: what must exist for pods to run. Releases
    /// depend on them, so on destroy they go first (the load balancer
    /// controller is still running to delete its NLB). Components that
    /// bring nodes for later releases (Karpenter's NodePools) add to it.
    pub workloads_ready: Vec<Address>,
    /// The same, of the AWS stacks only (node groups and EKS add-ons): what
    /// a block of the AWS stacks waits for, since phase 1 of an apply has no
    /// release to wait on (an EKS add-on's pods, Argo CD on the system nodes).
    pub cluster_ready: Vec<Address>,
    /// The add-ons a node needs to join (networking, identity): a node
    /// group built elsewhere follows them, beside the others, not after.
    pub node_prerequisites: Vec<Address>,
}

/// Add-ons installed before any node joins (networking and identity must be
/// there for nodes to become ready).
const BEFORE_NODES_ADDONS: &[&str] = &["vpc-cni", "kube-proxy", "eks-pod-identity-agent"];
/// Add-ons that need nodes to schedule on.
const AFTER_NODES_ADDONS: &[&str] = &["coredns"];

/// Untagged images are deleted after this many days...
const ECR_UNTAGGED_DAYS: u32 = 7;
/// ...and only this many tagged images are kept.
const ECR_KEEP_IMAGES: u32 = 100;

pub fn eks(stack: &mut Stack, env: &Environment, network: &Network, iam: &ClusterIam) -> Eks {
    aws_provider(stack, env);
    let names = Names::new(env);
    let partition = Partition::of(&env.config.region);
    let cluster_config = &env.config.cluster;
    let cluster_name = names.cluster();

    // Created before the cluster, so EKS writes into a group with our
    // retention and key instead of creating an unencrypted one of its own.
    let log_group = stack.add(
        CloudwatchLogGroup::new("cluster")
            .name(format!("/aws/eks/{cluster_name}/cluster"))
            .retention_in_days(env.config.logs.retention_days)
            .kms_key_id(&network.logs_kms_key_arn)
            .tags(name_tags(&names.name("eks-control-plane"), [])),
    );

    let mut vpc_config = eks_cluster::VpcConfig::new(private_subnets(network))
        .endpoint_private_access(true)
        .endpoint_public_access(cluster_config.endpoint_public_access);
    if cluster_config.endpoint_public_access {
        let public_cidrs: Vec<String> = cluster_config
            .endpoint_public_access_cidrs
            .iter()
            .map(ToString::to_string)
            .collect();
        vpc_config = vpc_config.public_access_cidrs(public_cidrs);
    }
    let log_types: Vec<&str> = cluster_config
        .log_types
        .iter()
        .map(|t| t.as_str())
        .collect();
    let cluster = stack.add(
        EksCluster::new(
            "main",
            cluster_name.as_str(),
            &iam.cluster_role_arn,
            vpc_config,
        )
        .version(cluster_config.kubernetes_version.as_str())
        .enabled_cluster_log_types(log_types)
        .encryption_config(eks_cluster::EncryptionConfig::new(
            eks_cluster::Provider::new(&iam.secrets_kms_key_arn),
            ["secrets"],
        ))
        .kubernetes_network_config(
            eks_cluster::KubernetesNetworkConfig::new()
                .ip_family("ipv4")
                .service_ipv4_cidr(cluster_config.service_ipv4_cidr.to_string()),
        )
        // Access entries only: who may do what is in the EKS API and in
        // this module, not in a ConfigMap inside the cluster. The creator
        // (whoever applies) keeps admin so the app stack can install charts.
        .access_config(
            eks_cluster::AccessConfig::new()
                .authentication_mode("API")
                .bootstrap_cluster_creator_admin_permissions(true),
        )
        .tags(name_tags(&cluster_name, []))
        .depends_on(&log_group)
        .depends_on_all(iam.cluster_role_policies.iter().cloned()),
    );
    let ctx = Context {
        env,
        names: &names,
        partition: &partition,
        iam,
        cluster_name: cluster.name(),
        private_subnets: private_subnets(network),
    };

    access_entry(stack, &ctx, "admin", &iam.admin_role_arn);
    // Without GitOps the deploy job applies the app stack, whose releases
    // live in kube-system as well as the service's namespace (controllers,
    // their ClusterRoles and webhooks): a namespace-scoped policy could not
    // even refresh them. With GitOps, CI commits to git and never reaches
    // the cluster, so it has no entry at all.
    if env.config.gitops_enabled().is_none() {
        access_entry(stack, &ctx, "ci_deployer", &iam.ci_deployer_role_arn);
    }

    let before_nodes: Vec<EksAddonRef> = BEFORE_NODES_ADDONS
        .iter()
        .map(|name| addon(stack, &ctx, name, &[]))
        .collect();
    let node_prerequisites: Vec<Address> = before_nodes.iter().map(Address::from).collect();
    let node_groups: Vec<EksNodeGroupRef> = env
        .config
        .node_groups
        .iter()
        .map(|group| node_group(stack, &ctx, group, &node_prerequisites, &[]))
        .collect();
    let after_nodes: Vec<EksAddonRef> = AFTER_NODES_ADDONS
        .iter()
        .map(|name| addon(stack, &ctx, name, &node_groups))
        .collect();
    let workloads_ready: Vec<Address> = node_prerequisites
        .iter()
        .cloned()
        .chain(node_groups.iter().map(Address::from))
        .chain(after_nodes.iter().map(Address::from))
        .collect();

    let repository = ecr_repository(stack, &names);

    stack.export(
        "cluster_name",
        Expr::from(&ctx.cluster_name),
        "Name of the EKS cluster.",
    );
    stack.export(
        "cluster_endpoint",
        cluster.endpoint().into(),
        "URL of the Kubernetes API server.",
    );
    stack.export(
        "ecr_repository_url",
        repository.repository_url().into(),
        "ECR repository the service image is pushed to.",
    );
    stack.export(
        "kubeconfig_command",
        Expr::template([
            Expr::from(format!(
                "aws eks update-kubeconfig --region {} --name ",
                env.config.region
            )),
            Expr::from(&ctx.cluster_name),
        ]),
        "Adds the cluster to ~/.kube/config (assume the admin role first).",
    );

    Eks {
        cluster_name: ctx.cluster_name.clone(),
        endpoint: cluster.endpoint(),
        ca_data: cluster.certificate_authority().at(0).data(),
        oidc_issuer_url: cluster.identity().at(0).oidc().at(0).issuer(),
        cluster_arn: cluster.arn(),
        cluster_security_group_id: cluster.vpc_config().at(0).cluster_security_group_id(),
        ecr_repository_url: repository.repository_url(),
        ecr_repository_arn: repository.arn(),
        cluster_ready: workloads_ready.clone(),
        workloads_ready,
        node_prerequisites,
    }
}

/// A managed node group for a component that brings its own nodes (the
/// monitoring nodes), built like those of `[[node_groups]]` (launch
/// template, private subnets, the node role) and beside them, after the
/// add-ons nodes need; `taints` keep every pod without the matching
/// toleration off it.
pub fn dedicated_node_group(
    stack: &mut Stack,
    env: &Environment,
    network: &Network,
    iam: &ClusterIam,
    eks: &Eks,
    group: &NodeGroupConfig,
    taints: &[NodeTaint],
) -> EksNodeGroupRef {
    let (names, partition) = (Names::new(env), Partition::of(&env.config.region));
    let ctx = Context {
        env,
        names: &names,
        partition: &partition,
        iam,
        cluster_name: eks.cluster_name.clone(),
        private_subnets: private_subnets(network),
    };
    node_group(stack, &ctx, group, &eks.node_prerequisites, taints)
}

/// The private subnets' ids: the cluster's ENIs and every node group go there.
fn private_subnets(network: &Network) -> Vec<Value<ty::String>> {
    network.private_subnet_ids.clone()
}

/// What the helpers below share about the cluster being built.
struct Context<'a> {
    env: &'a Environment,
    names: &'a Names,
    partition: &'a Partition,
    iam: &'a ClusterIam,
    cluster_name: Value<ty::String>,
    private_subnets: Vec<Value<ty::String>>,
}

/// An access entry with cluster-wide `AmazonEKSClusterAdminPolicy`.
fn access_entry(stack: &mut Stack, ctx: &Context<'_>, id: &str, principal_arn: &Value<ty::String>) {
    let entry = AccessEntry {
        id,
        principal_arn: principal_arn.clone(),
        policy: "AmazonEKSClusterAdminPolicy",
        scope: AccessScope::new("cluster"),
    };
    entry.add(stack, &ctx.cluster_name, ctx.names, ctx.partition);
}

/// An EKS access entry of a principal and the one access policy it is given.
pub(crate) struct AccessEntry<'a> {
    /// The blocks' name (`aws_eks_access_entry.<id>`).
    pub id: &'a str,
    pub principal_arn: Value<ty::String>,
    /// An EKS access policy's name (`AmazonEKSViewPolicy`).
    pub policy: &'a str,
    /// `AccessScope::new("cluster")`, or `"namespace"` with its namespaces.
    pub scope: AccessScope,
}

impl AccessEntry<'_> {
    pub(crate) fn add(
        self,
        stack: &mut Stack,
        cluster_name: &Value<ty::String>,
        names: &Names,
        partition: &Partition,
    ) {
        let entry = stack.add(
            EksAccessEntry::new(self.id, cluster_name, self.principal_arn)
                .type_("STANDARD")
                .tags(name_tags(&names.name(&self.id.replace('_', "-")), [])),
        );
        stack.add(EksAccessPolicyAssociation::new(
            self.id,
            self.scope,
            cluster_name,
            format!(
                "arn:{}:eks::aws:cluster-access-policy/{}",
                partition.name, self.policy
            ),
            entry.principal_arn(),
        ));
    }
}

fn addon(
    stack: &mut Stack,
    ctx: &Context<'_>,
    name: &str,
    after: &[EksNodeGroupRef],
) -> EksAddonRef {
    stack.add(
        EksAddon::new(&name.replace('-', "_"), name, &ctx.cluster_name)
            // The version is EKS's default for the cluster's Kubernetes version.
            .resolve_conflicts_on_create("OVERWRITE")
            .resolve_conflicts_on_update("OVERWRITE")
            .tags(name_tags(&ctx.names.name(name), []))
            .depends_on_all(after),
    )
}

fn node_group(
    stack: &mut Stack,
    ctx: &Context<'_>,
    group: &NodeGroupConfig,
    after: &[Address],
    taints: &[NodeTaint],
) -> EksNodeGroupRef {
    let id = group.name.replace('-', "_");
    let node_name = ctx.names.name(&format!("node-{}", group.name));
    let template = launch_template(stack, ctx, group, &id, &node_name);

    let mut node_group = EksNodeGroup::new(
        &id,
        &ctx.cluster_name,
        &ctx.iam.node_role_arn,
        // The size is the config's: Karpenter adds nodes of its own beside
        // the groups and never resizes them.
        eks_node_group::ScalingConfig::new(group.desired_size, group.max_size, group.min_size),
        ctx.private_subnets.clone(),
    )
    .node_group_name(group.name.as_str())
    .ami_type("AL2023_x86_64_STANDARD")
    .capacity_type(group.capacity_type.as_str())
    .instance_types(group.instance_types.clone())
    .update_config(eks_node_group::UpdateConfig::new().max_unavailable_percentage(33))
    .launch_template(
        // The schema says string; the latest version is a number, which
        // terraform converts.
        eks_node_group::LaunchTemplate::new(Value::from_number(template.latest_version()))
            .id(template.id()),
    )
    .tags(name_tags(&node_name, []));
    if !group.labels.is_empty() {
        node_group = node_group.labels(group.labels.clone());
    }
    // The group's own taints (`[[node_groups.taints]]`) and a component's
    // (the monitoring nodes'), as the EKS API spells them.
    let own = group.taints.iter().map(|taint| {
        let own = eks_node_group::Taint::new(taint.effect.as_eks(), taint.key.as_str());
        if taint.value.is_empty() {
            own
        } else {
            own.value(taint.value.as_str())
        }
    });
    let component = taints.iter().map(|t| {
        eks_node_group::Taint::new(t.effect.eks_name(), t.key.as_str()).value(t.value.as_str())
    });
    let all: Vec<eks_node_group::Taint> = own.chain(component).collect();
    if !all.is_empty() {
        node_group = node_group.taint(all);
    }
    stack.add(
        node_group
            .depends_on_all(ctx.iam.node_role_policies.iter().cloned())
            .depends_on_all(after.iter().cloned()),
    )
}

/// A node group's launch template: IMDSv2 only, an encrypted gp3 root
/// volume, and the environment's tags on what the group launches.
fn launch_template(
    stack: &mut Stack,
    ctx: &Context<'_>,
    group: &NodeGroupConfig,
    id: &str,
    node_name: &str,
) -> launch_template::LaunchTemplateRef {
    // Default tags do not reach instances and volumes launched by the node
    // group; the launch template carries them there.
    let mut instance_tags = default_tags(ctx.env);
    instance_tags.insert("Name".into(), node_name.to_owned());
    let tag_specifications: Vec<launch_template::TagSpecifications> =
        ["instance", "volume", "network-interface"]
            .into_iter()
            .map(|kind| {
                launch_template::TagSpecifications::new()
                    .resource_type(kind)
                    .tags(instance_tags.clone())
            })
            .collect();
    // The schema says string for `encrypted` and `delete_on_termination`;
    // the provider reads bools, which terraform converts.
    let root_volume = launch_template::Ebs::new()
        .volume_size(group.disk_size_gib)
        .volume_type("gp3")
        .encrypted(Value::from_bool(true))
        .delete_on_termination(Value::from_bool(true));
    stack.add(
        LaunchTemplate::new(&format!("node_{id}"))
            .name(node_name)
            .description(format!(
                "Nodes of group {} of {}",
                group.name,
                ctx.names.cluster()
            ))
            .update_default_version(true)
            // IMDSv2 only, and one hop, so pods cannot reach the instance's
            // credentials (they get their own through IRSA); no instance
            // tags in the metadata.
            .metadata_options(
                launch_template::MetadataOptions::new()
                    .http_endpoint("enabled")
                    .http_tokens("required")
                    .http_put_response_hop_limit(1)
                    .instance_metadata_tags("disabled"),
            )
            .block_device_mappings(vec![launch_template::BlockDeviceMappings::new()
                .device_name("/dev/xvda")
                .ebs(root_volume)])
            .tag_specifications(tag_specifications)
            .tags(name_tags(node_name, [])),
    )
}

/// The service image's repository: scanned on push, immutable tags (a tag
/// names one build forever), KMS-encrypted, pruned by a lifecycle policy.
fn ecr_repository(stack: &mut Stack, names: &Names) -> EcrRepositoryRef {
    let repository = stack.add(
        EcrRepository::new("service", names.cluster())
            .image_tag_mutability("IMMUTABLE")
            .image_scanning_configuration(ecr_repository::ImageScanningConfiguration::new(true))
            .encryption_configuration(
                ecr_repository::EncryptionConfiguration::new().encryption_type("KMS"),
            )
            .tags(name_tags(&names.name("service-images"), [])),
    );
    let rules = json_encode(json!({
        "rules": [
            {
                "rulePriority": 1,
                "description": format!("Delete untagged images after {ECR_UNTAGGED_DAYS} days"),
                "selection": {
                    "tagStatus": "untagged",
                    "countType": "sinceImagePushed",
                    "countUnit": "days",
                    "countNumber": ECR_UNTAGGED_DAYS,
                },
                "action": { "type": "expire" },
            },
            {
                "rulePriority": 2,
                "description": format!("Keep the {ECR_KEEP_IMAGES} most recent images"),
                "selection": {
                    "tagStatus": "any",
                    "countType": "imageCountMoreThan",
                    "countNumber": ECR_KEEP_IMAGES,
                },
                "action": { "type": "expire" },
            },
        ],
    }));
    stack.add(EcrLifecyclePolicy::new("service", rules, repository.name()));
    repository
}
