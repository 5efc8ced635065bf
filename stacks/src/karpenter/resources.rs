//! The custom resources Karpenter acts on, typed after the v1 CRDs of chart
//! 1.14.1 (`karpenter.sh/v1` NodePool, `karpenter.k8s.aws/v1` EC2NodeClass):
//! one EC2NodeClass (how a node is launched: AMI, role, subnets, security
//! group, IMDS, disk, tags) and a NodePool per configured pool (which
//! instances, how many in all, when they may be taken away).

use std::collections::BTreeMap;

use serde::Serialize;
use synth::Expr;

use crate::aws::default_tags;
use crate::config::{BudgetConfig, ConsolidationPolicy, Environment, NodePoolConfig};

use super::DISCOVERY_TAG;

/// The one EC2NodeClass every NodePool launches through.
pub const NODE_CLASS: &str = "default";

/// `ManagedBy` of the instances Karpenter launches: not terraform's.
const MANAGED_BY: &str = "karpenter";

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Object<S> {
    api_version: &'static str,
    kind: &'static str,
    metadata: Metadata,
    pub spec: S,
}

#[derive(Debug, Serialize)]
struct Metadata {
    name: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeClassSpec {
    /// Karpenter makes the instance profile for this role itself.
    role: Expr,
    ami_selector_terms: Vec<AmiTerm>,
    subnet_selector_terms: Vec<TagTerm>,
    security_group_selector_terms: Vec<TagTerm>,
    metadata_options: MetadataOptions,
    block_device_mappings: Vec<BlockDevice>,
    tags: BTreeMap<String, String>,
}

#[derive(Debug, Serialize)]
struct AmiTerm {
    alias: String,
}

#[derive(Debug, Serialize)]
struct TagTerm {
    tags: BTreeMap<&'static str, String>,
}

/// IMDSv2 only, one hop, as the node groups' launch templates: pods cannot
/// reach the node's credentials, they get their own through IRSA.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct MetadataOptions {
    http_endpoint: &'static str,
    #[serde(rename = "httpProtocolIPv6")]
    http_protocol_ipv6: &'static str,
    http_put_response_hop_limit: u32,
    http_tokens: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct BlockDevice {
    device_name: &'static str,
    root_volume: bool,
    ebs: Ebs,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Ebs {
    volume_size: String,
    volume_type: &'static str,
    encrypted: bool,
    delete_on_termination: bool,
}

#[derive(Debug, Serialize)]
pub struct NodePoolSpec {
    template: Template,
    limits: Limits,
    disruption: Disruption,
}

#[derive(Debug, Serialize)]
struct Template {
    spec: TemplateSpec,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct TemplateSpec {
    node_class_ref: NodeClassRef,
    requirements: Vec<Requirement>,
    expire_after: String,
    termination_grace_period: String,
}

#[derive(Debug, Serialize)]
struct NodeClassRef {
    group: &'static str,
    kind: &'static str,
    name: &'static str,
}

#[derive(Debug, Serialize)]
pub struct Requirement {
    pub key: &'static str,
    pub operator: &'static str,
    pub values: Vec<String>,
}

#[derive(Debug, Serialize)]
struct Limits {
    cpu: String,
    memory: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Disruption {
    consolidation_policy: ConsolidationPolicy,
    consolidate_after: String,
    budgets: Vec<BudgetConfig>,
}

/// The EC2NodeClass: nodes in the private subnets and the cluster security
/// group (both found by the discovery tag), booting the pinned AMI release.
pub fn node_class(env: &Environment, cluster: &str, node_role_name: Expr) -> Object<NodeClassSpec> {
    let karpenter = &env.config.karpenter;
    let discovery = || TagTerm {
        tags: [(DISCOVERY_TAG, cluster.to_owned())].into(),
    };
    // Default tags do not reach what Karpenter launches; these do.
    let mut tags = default_tags(env);
    tags.insert("ManagedBy".into(), MANAGED_BY.into());
    Object {
        api_version: "karpenter.k8s.aws/v1",
        kind: "EC2NodeClass",
        metadata: Metadata {
            name: NODE_CLASS.to_owned(),
        },
        spec: NodeClassSpec {
            role: node_role_name,
            ami_selector_terms: vec![AmiTerm {
                alias: karpenter.ami_alias.clone(),
            }],
            subnet_selector_terms: vec![discovery()],
            security_group_selector_terms: vec![discovery()],
            metadata_options: MetadataOptions {
                http_endpoint: "enabled",
                http_protocol_ipv6: "disabled",
                http_put_response_hop_limit: 1,
                http_tokens: "required",
            },
            block_device_mappings: vec![BlockDevice {
                device_name: "/dev/xvda",
                root_volume: true,
                ebs: Ebs {
                    volume_size: format!("{}Gi", karpenter.disk_size_gib),
                    volume_type: "gp3",
                    encrypted: true,
                    delete_on_termination: true,
                },
            }],
            tags,
        },
    }
}

/// One NodePool of the config.
pub fn node_pool(pool: &NodePoolConfig) -> Object<NodePoolSpec> {
    let strings = |items: Vec<&str>| items.into_iter().map(str::to_owned).collect();
    let requirements = vec![
        Requirement {
            key: "kubernetes.io/os",
            operator: "In",
            values: vec!["linux".to_owned()],
        },
        Requirement {
            key: "kubernetes.io/arch",
            operator: "In",
            values: strings(pool.architectures.iter().map(|a| a.as_str()).collect()),
        },
        Requirement {
            key: "karpenter.sh/capacity-type",
            operator: "In",
            values: strings(pool.capacity_types.iter().map(|c| c.as_str()).collect()),
        },
        Requirement {
            key: "karpenter.k8s.aws/instance-category",
            operator: "In",
            values: pool.instance_categories.clone(),
        },
        // Gt: generation N and newer is "greater than N - 1".
        Requirement {
            key: "karpenter.k8s.aws/instance-generation",
            operator: "Gt",
            values: vec![(pool.min_instance_generation - 1).to_string()],
        },
    ];
    Object {
        api_version: "karpenter.sh/v1",
        kind: "NodePool",
        metadata: Metadata {
            name: pool.name.clone(),
        },
        spec: NodePoolSpec {
            template: Template {
                spec: TemplateSpec {
                    node_class_ref: NodeClassRef {
                        group: "karpenter.k8s.aws",
                        kind: "EC2NodeClass",
                        name: NODE_CLASS,
                    },
                    requirements,
                    expire_after: pool.expire_after.clone(),
                    termination_grace_period: pool.termination_grace_period.clone(),
                },
            },
            limits: Limits {
                cpu: pool.cpu_limit.clone(),
                memory: pool.memory_limit.clone(),
            },
            disruption: Disruption {
                consolidation_policy: pool.consolidation_policy,
                consolidate_after: pool.consolidate_after.clone(),
                budgets: pool.budgets.clone(),
            },
        },
    }
}
