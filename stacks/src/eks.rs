//! The eks stack: the cluster in the private subnets with the defaults
//! terraform-aws-modules/eks users expect (private endpoint, public endpoint
//! only from listed networks, KMS-encrypted secrets, control-plane logs in an
//! encrypted log group, access entries instead of the aws-auth ConfigMap),
//! managed node groups through launch templates (IMDSv2 only, encrypted gp3
//! root volumes), the core add-ons, and the ECR repository of the service.

use serde_json::json;
use synth::{Address, Expr, Handle, Stack};

use crate::aws::{aws_provider, default_tags, json_encode, name_tags, Names, Partition};
use crate::config::{Environment, NodeGroupConfig, NodeTaint};
use crate::iam::ClusterIam;
use crate::network::Network;

/// What the cluster exposes to the other components.
#[derive(Debug, Clone)]
pub struct Eks {
    pub cluster_name: Expr,
    pub endpoint: Expr,
    /// Base64 certificate authority data (`certificate_authority[0].data`).
    pub ca_data: Expr,
    /// The cluster's OIDC issuer URL (`https://oidc.eks...`).
    pub oidc_issuer_url: Expr,
    pub cluster_arn: Expr,
    /// The security group EKS creates for the cluster and puts on the control
    /// plane's ENIs and on every managed node.
    pub cluster_security_group_id: Expr,
    pub ecr_repository_url: Expr,
    pub ecr_repository_arn: Expr,
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
    let log_group = stack
        .resource("aws_cloudwatch_log_group", "cluster")
        .set("name", format!("/aws/eks/{cluster_name}/cluster"))
        .set("retention_in_days", env.config.logs.retention_days)
        .set("kms_key_id", network.logs_kms_key_arn.clone())
        .set("tags", name_tags(&names.name("eks-control-plane"), []))
        .handle();

    let public_cidrs: Vec<String> = cluster_config
        .endpoint_public_access_cidrs
        .iter()
        .map(ToString::to_string)
        .collect();
    let mut vpc_config = vec![
        ("subnet_ids", Expr::list(network.private_subnet_ids.clone())),
        ("endpoint_private_access", Expr::from(true)),
        (
            "endpoint_public_access",
            Expr::from(cluster_config.endpoint_public_access),
        ),
    ];
    if cluster_config.endpoint_public_access {
        vpc_config.push(("public_access_cidrs", Expr::list(public_cidrs)));
    }
    let cluster = stack.resource("aws_eks_cluster", "main");
    cluster
        .set("name", cluster_name.as_str())
        .set("version", cluster_config.kubernetes_version.as_str())
        .set("role_arn", iam.cluster_role_arn.clone())
        .set(
            "enabled_cluster_log_types",
            Expr::list(cluster_config.log_types.iter().map(|t| t.as_str())),
        )
        .set("vpc_config", Expr::object(vpc_config))
        .set(
            "encryption_config",
            Expr::object([
                ("resources", Expr::list(["secrets"])),
                (
                    "provider",
                    Expr::object([("key_arn", iam.secrets_kms_key_arn.clone())]),
                ),
            ]),
        )
        .set(
            "kubernetes_network_config",
            Expr::object([
                ("ip_family", Expr::from("ipv4")),
                (
                    "service_ipv4_cidr",
                    Expr::from(cluster_config.service_ipv4_cidr.to_string()),
                ),
            ]),
        )
        // Access entries only: who may do what is in the EKS API and in
        // this module, not in a ConfigMap inside the cluster. The creator
        // (whoever applies) keeps admin so the app stack can install charts.
        .set(
            "access_config",
            Expr::object([
                ("authentication_mode", Expr::from("API")),
                (
                    "bootstrap_cluster_creator_admin_permissions",
                    Expr::from(true),
                ),
            ]),
        )
        .set("tags", name_tags(&cluster_name, []))
        .depends_on(&log_group);
    for attachment in &iam.cluster_role_policies {
        cluster.depends_on(attachment);
    }
    let cluster = cluster.handle();
    let cluster_name_ref = cluster.attr("name");
    let ctx = Context {
        env,
        names: &names,
        partition: &partition,
        network,
        iam,
        cluster_name: &cluster_name_ref,
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

    let before_nodes: Vec<Handle> = BEFORE_NODES_ADDONS
        .iter()
        .map(|name| addon(stack, &ctx, name, &[]))
        .collect();
    let node_prerequisites: Vec<Address> = before_nodes.iter().map(Address::from).collect();
    let node_groups: Vec<Handle> = env
        .config
        .node_groups
        .iter()
        .map(|group| node_group(stack, &ctx, group, &node_prerequisites, &[]))
        .collect();
    let after_nodes: Vec<Handle> = AFTER_NODES_ADDONS
        .iter()
        .map(|name| addon(stack, &ctx, name, &node_groups))
        .collect();
    let workloads_ready: Vec<Address> = before_nodes
        .iter()
        .chain(&node_groups)
        .chain(&after_nodes)
        .map(|h| h.address().clone())
        .collect();

    let (repository_url, repository_arn) = ecr_repository(stack, &names);

    let cluster_name_ref =
        stack.export("cluster_name", cluster_name_ref, "Name of the EKS cluster.");
    let endpoint = stack.export(
        "cluster_endpoint",
        cluster.attr("endpoint"),
        "URL of the Kubernetes API server.",
    );
    let repository_url = stack.export(
        "ecr_repository_url",
        repository_url,
        "ECR repository the service image is pushed to.",
    );
    stack.export(
        "kubeconfig_command",
        Expr::template([
            Expr::from(format!(
                "aws eks update-kubeconfig --region {} --name ",
                env.config.region
            )),
            cluster_name_ref.clone(),
        ]),
        "Adds the cluster to ~/.kube/config (assume the admin role first).",
    );

    Eks {
        cluster_name: cluster_name_ref,
        endpoint,
        ca_data: cluster.attr("certificate_authority").index(0).attr("data"),
        oidc_issuer_url: cluster
            .attr("identity")
            .index(0)
            .attr("oidc")
            .index(0)
            .attr("issuer"),
        cluster_arn: cluster.attr("arn"),
        cluster_security_group_id: cluster
            .attr("vpc_config")
            .index(0)
            .attr("cluster_security_group_id"),
        ecr_repository_url: repository_url,
        ecr_repository_arn: repository_arn,
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
) -> Handle {
    let (names, partition) = (Names::new(env), Partition::of(&env.config.region));
    let ctx = Context {
        env,
        names: &names,
        partition: &partition,
        network,
        iam,
        cluster_name: &eks.cluster_name,
    };
    node_group(stack, &ctx, group, &eks.node_prerequisites, taints)
}

/// What the helpers below share about the cluster being built.
struct Context<'a> {
    env: &'a Environment,
    names: &'a Names,
    partition: &'a Partition,
    network: &'a Network,
    iam: &'a ClusterIam,
    cluster_name: &'a Expr,
}

/// An access entry with cluster-wide `AmazonEKSClusterAdminPolicy`.
fn access_entry(stack: &mut Stack, ctx: &Context<'_>, id: &str, principal_arn: &Expr) {
    let entry = AccessEntry {
        id,
        principal_arn,
        policy: "AmazonEKSClusterAdminPolicy",
        scope: Expr::object([("type", "cluster")]),
    };
    entry.add(stack, ctx.cluster_name, ctx.names, ctx.partition);
}

/// An EKS access entry of a principal and the one access policy it is given.
pub(crate) struct AccessEntry<'a> {
    /// The blocks' name (`aws_eks_access_entry.<id>`).
    pub id: &'a str,
    pub principal_arn: &'a Expr,
    /// An EKS access policy's name (`AmazonEKSViewPolicy`).
    pub policy: &'a str,
    /// `{type = "cluster"}`, or `{type = "namespace", namespaces = [...]}`.
    pub scope: Expr,
}

impl AccessEntry<'_> {
    pub(crate) fn add(
        self,
        stack: &mut Stack,
        cluster_name: &Expr,
        names: &Names,
        partition: &Partition,
    ) {
        let entry = stack
            .resource("aws_eks_access_entry", self.id)
            .set("cluster_name", cluster_name.clone())
            .set("principal_arn", self.principal_arn.clone())
            .set("type", "STANDARD")
            .set(
                "tags",
                name_tags(&names.name(&self.id.replace('_', "-")), []),
            )
            .handle();
        stack
            .resource("aws_eks_access_policy_association", self.id)
            .set("cluster_name", cluster_name.clone())
            .set("principal_arn", entry.attr("principal_arn"))
            .set(
                "policy_arn",
                format!(
                    "arn:{}:eks::aws:cluster-access-policy/{}",
                    partition.name, self.policy
                ),
            )
            .set("access_scope", self.scope);
    }
}

fn addon(stack: &mut Stack, ctx: &Context<'_>, name: &str, after: &[Handle]) -> Handle {
    let id = name.replace('-', "_");
    let addon = stack.resource("aws_eks_addon", &id);
    addon
        .set("cluster_name", ctx.cluster_name.clone())
        .set("addon_name", name)
        // The version is EKS's default for the cluster's Kubernetes version.
        .set("resolve_conflicts_on_create", "OVERWRITE")
        .set("resolve_conflicts_on_update", "OVERWRITE")
        .set("tags", name_tags(&ctx.names.name(name), []));
    for dependency in after {
        addon.depends_on(dependency);
    }
    addon.handle()
}

fn node_group(
    stack: &mut Stack,
    ctx: &Context<'_>,
    group: &NodeGroupConfig,
    after: &[Address],
    taints: &[NodeTaint],
) -> Handle {
    let Context {
        env,
        names,
        network,
        iam,
        cluster_name,
        ..
    } = ctx;
    let id = group.name.replace('-', "_");
    let node_name = names.name(&format!("node-{}", group.name));
    // Default tags do not reach instances and volumes launched by the node
    // group; the launch template carries them there.
    let mut instance_tags = default_tags(env);
    instance_tags.insert("Name".into(), node_name.clone());
    let tag_specifications: Vec<Expr> = ["instance", "volume", "network-interface"]
        .iter()
        .map(|kind| {
            Expr::object([
                ("resource_type", Expr::from(*kind)),
                ("tags", Expr::from(instance_tags.clone())),
            ])
        })
        .collect();
    let template = stack
        .resource("aws_launch_template", &format!("node_{id}"))
        .set("name", node_name.as_str())
        .set(
            "description",
            format!("Nodes of group {} of {}", group.name, names.cluster()),
        )
        .set("update_default_version", true)
        .set("metadata_options", crate::aws::imdsv2_only())
        .set(
            "block_device_mappings",
            Expr::list([Expr::object([
                ("device_name", Expr::from("/dev/xvda")),
                (
                    "ebs",
                    Expr::object([
                        ("volume_size", Expr::from(group.disk_size_gib)),
                        ("volume_type", Expr::from("gp3")),
                        ("encrypted", Expr::from(true)),
                        ("delete_on_termination", Expr::from(true)),
                    ]),
                ),
            ])]),
        )
        .set("tag_specifications", Expr::list(tag_specifications))
        .set("tags", name_tags(&node_name, []))
        .handle();

    let node_group = stack.resource("aws_eks_node_group", &id);
    node_group
        .set("cluster_name", (*cluster_name).clone())
        .set("node_group_name", group.name.as_str())
        .set("node_role_arn", iam.node_role_arn.clone())
        .set("subnet_ids", Expr::list(network.private_subnet_ids.clone()))
        .set("ami_type", "AL2023_x86_64_STANDARD")
        .set("capacity_type", group.capacity_type.as_str())
        .set(
            "instance_types",
            Expr::list(group.instance_types.iter().map(String::as_str)),
        )
        .set(
            "scaling_config",
            Expr::object([
                ("min_size", Expr::from(group.min_size)),
                ("desired_size", Expr::from(group.desired_size)),
                ("max_size", Expr::from(group.max_size)),
            ]),
        )
        .set(
            "update_config",
            Expr::object([("max_unavailable_percentage", Expr::from(33))]),
        )
        .set(
            "launch_template",
            Expr::object([
                ("id", template.attr("id")),
                ("version", template.attr("latest_version")),
            ]),
        )
        // The size is the config's: Karpenter adds nodes of its own beside
        // the groups and never resizes them.
        .set("tags", name_tags(&node_name, []));
    if !group.labels.is_empty() {
        node_group.set("labels", Expr::from(group.labels.clone()));
    }
    // The group's own taints (`[[node_groups.taints]]`) and a component's
    // (the monitoring nodes'), as the EKS API spells them.
    let own = group.taints.iter().map(|taint| {
        let mut fields = vec![
            ("key", taint.key.as_str()),
            ("effect", taint.effect.as_eks()),
        ];
        if !taint.value.is_empty() {
            fields.push(("value", taint.value.as_str()));
        }
        Expr::object(fields)
    });
    let component = taints.iter().map(|t| {
        Expr::object([
            ("key", Expr::from(t.key.as_str())),
            ("value", Expr::from(t.value.as_str())),
            ("effect", Expr::from(t.effect.eks_name())),
        ])
    });
    let all: Vec<Expr> = own.chain(component).collect();
    if !all.is_empty() {
        node_group.set("taint", Expr::list(all));
    }
    for dependency in &iam.node_role_policies {
        node_group.depends_on(dependency);
    }
    for dependency in after {
        node_group.depends_on(dependency.clone());
    }
    node_group.handle()
}

/// The service image's repository: scanned on push, immutable tags (a tag
/// names one build forever), KMS-encrypted, pruned by a lifecycle policy.
fn ecr_repository(stack: &mut Stack, names: &Names) -> (Expr, Expr) {
    let repository = stack
        .resource("aws_ecr_repository", "service")
        .set("name", names.cluster())
        .set("image_tag_mutability", "IMMUTABLE")
        .set(
            "image_scanning_configuration",
            Expr::object([("scan_on_push", true)]),
        )
        .set(
            "encryption_configuration",
            Expr::object([("encryption_type", "KMS")]),
        )
        .set("tags", name_tags(&names.name("service-images"), []))
        .handle();
    stack
        .resource("aws_ecr_lifecycle_policy", "service")
        .set("repository", repository.attr("name"))
        .set(
            "policy",
            json_encode(json!({
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
            })),
        );
    (repository.attr("repository_url"), repository.attr("arn"))
}
