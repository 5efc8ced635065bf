//! Inside the cluster: the control plane, the EKS add-ons, and the helm
//! releases in a box per namespace, whether terraform applies them or Argo
//! CD delivers them from git (the git repository outside, Argo CD's edges
//! to what it delivers), each with the nodes its pods are scheduled on; the
//! volumes controllers create for a release's claims beside it.

use std::collections::BTreeMap;

use serde_json::Value;

use super::build::{group_id, Builder, REGION};
use super::model::{ident, EdgeKind, GroupKind, Node, NodeKind};
use crate::cost::quantity;
use crate::inventory::{Block, Kind};
use crate::karpenter::NODEPOOL_TAG;

impl Builder<'_> {
    pub(super) fn clusters(&mut self) {
        let inv = self.inv;
        for cluster in inv.of_type("aws_eks_cluster") {
            let id = group_id(&cluster.address);
            let subnets: Vec<String> = cluster
                .nested("vpc_config")
                .map(|v| {
                    let mut found = Vec::new();
                    if let Some(Value::Array(items)) = v.get("subnet_ids") {
                        for item in items.iter().filter_map(|i| i.as_str()) {
                            if let Some(address) =
                                item.strip_prefix("${").and_then(|s| s.strip_suffix(".id}"))
                            {
                                found.push(address.to_owned());
                            }
                        }
                    }
                    found
                })
                .unwrap_or_default();
            let parent = subnets
                .first()
                .and_then(|s| inv.get(s))
                .and_then(|s| self.vpc_of(s))
                .unwrap_or_else(|| REGION.to_owned());
            let name = cluster.text("name").unwrap_or(&cluster.name).to_owned();
            self.group(
                &id,
                Some(&parent),
                GroupKind::Cluster,
                format!("EKS cluster {name}"),
                "",
            );
            self.draw(cluster, &id, "");
        }
    }

    /// The cluster group nodes in the cluster go to (the first cluster).
    pub(super) fn cluster_group(&self) -> String {
        self.groups
            .iter()
            .find(|g| g.kind == GroupKind::Cluster)
            .map_or_else(|| REGION.to_owned(), |g| g.id.clone())
    }

    /// Helm releases in their namespaces, with where their pods run; the
    /// root Application's release is drawn as part of Argo CD.
    pub(super) fn workloads(&mut self) {
        let inv = self.inv;
        let cluster = self.cluster_group();
        let root = inv.delivery.as_ref().map(|d| d.root.as_str());
        for release in inv.of_type("helm_release") {
            if Some(release.address.as_str()) == root {
                continue;
            }
            let group = self.namespace_group(&cluster, &namespace_of(release, inv));
            let id = self.draw(release, &group, "");
            if let Some(line) = self.placement(release) {
                self.detail(&id, line);
            }
        }
        self.volumes(&cluster);
        let Some(delivery) = &inv.delivery else {
            return;
        };
        let argo = self.nodes_of(&delivery.argo_cd);
        if let Some(root) = root {
            self.drawn.insert(root.to_owned(), argo.clone());
        }
        let repository = Node {
            id: ident(&format!("git_{}", delivery.repository)),
            kind: NodeKind::Repository,
            label: "git repository".into(),
            detail: vec![
                delivery.repository.clone(),
                format!("{} on {}", delivery.path, delivery.revision),
            ],
            address: String::new(),
            estimated: false,
        };
        let mut delivered: Vec<String> = Vec::new();
        for release in inv.blocks.iter().filter(|b| b.is_delivered()) {
            if let Some(group) = self.group_of(&ident(&release.address)) {
                if !delivered.iter().any(|g| g == group) {
                    delivered.push(group.to_owned());
                }
            }
        }
        for node in &argo {
            self.detail(
                node,
                format!(
                    "delivers {} applications from git",
                    delivery.applications.len()
                ),
            );
            self.edge(&repository.id, node, EdgeKind::Delivers, "desired state");
            for group in &delivered {
                self.edge(node, group, EdgeKind::Delivers, "delivers");
            }
        }
        self.outside.push(repository);
    }

    /// The group of namespace `name` in the cluster, made on first use.
    fn namespace_group(&mut self, cluster: &str, name: &str) -> String {
        if name.is_empty() {
            return cluster.to_owned();
        }
        let id = format!("{cluster}_ns_{}", ident(name));
        if !self.groups.iter().any(|g| g.id == id) {
            self.group(
                &id,
                Some(cluster),
                GroupKind::Namespace,
                format!("namespace {name}"),
                "",
            );
        }
        id
    }

    /// One node per namespace for the volumes controllers create for its
    /// releases' claims (estimated), each volume a line.
    fn volumes(&mut self, cluster: &str) {
        let inv = self.inv;
        let mut by_group: BTreeMap<String, Vec<&Block>> = BTreeMap::new();
        for volume in inv.of_type("aws_ebs_volume") {
            let Kind::Estimated(origin) = &volume.kind else {
                continue;
            };
            let group = self
                .nodes_of(&origin.created_by)
                .first()
                .and_then(|n| self.group_of(n))
                .unwrap_or(cluster)
                .to_owned();
            by_group.entry(group).or_default().push(volume);
        }
        for (group, volumes) in by_group {
            let id = format!("{group}_volumes");
            let detail = volumes
                .iter()
                .map(|v| {
                    let count = v.count.map_or(1.0, |c| c.expected);
                    format!(
                        "{}: {} x {} GB {}",
                        v.name,
                        quantity(count),
                        quantity(v.number("size").unwrap_or_default()),
                        v.text("type").unwrap_or("gp3")
                    )
                })
                .collect();
            self.add(
                &group,
                Node {
                    id: id.clone(),
                    kind: NodeKind::Store,
                    label: "EBS volumes of the claims".into(),
                    detail,
                    address: String::new(),
                    estimated: true,
                },
            );
            for volume in volumes {
                self.drawn.insert(volume.address.clone(), vec![id.clone()]);
            }
        }
    }

    /// Where a release's pods are scheduled, in words.
    fn placement(&self, release: &Block) -> Option<String> {
        match self.scheduled_on(release)? {
            Scheduled::Everywhere => Some("pods on every node".into()),
            Scheduled::On(nodes) => {
                let names: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
                Some(format!("pods on {}", names.join(", ")))
            }
        }
    }

    /// Where a release's pods are scheduled: the nodes its node selector
    /// matches, every node for a DaemonSet that tolerates every taint, else
    /// the nodes without taints. `None` for a chart of custom resources
    /// only, and when no node matches.
    pub(super) fn scheduled_on(&self, release: &Block) -> Option<Scheduled> {
        if is_custom_resources(release) {
            return None;
        }
        let (selector, everywhere) = match &release.kind {
            Kind::Delivered(d) => (d.node_selector.clone(), d.tolerates_every_taint),
            _ => (terraform_node_selector(release), false),
        };
        if selector.is_empty() && everywhere {
            return Some(Scheduled::Everywhere);
        }
        let chosen: Vec<KubernetesNodes> = self
            .kubernetes_nodes()
            .into_iter()
            .filter(|n| {
                if selector.is_empty() {
                    !n.tainted
                } else {
                    selector.iter().all(|(k, v)| n.labels.get(k) == Some(v))
                }
            })
            .collect();
        (!chosen.is_empty()).then_some(Scheduled::On(chosen))
    }

    /// The cluster's nodes: managed node groups, and the nodes Karpenter
    /// launches (estimated).
    fn kubernetes_nodes(&self) -> Vec<KubernetesNodes> {
        let mut out = Vec::new();
        for block in &self.inv.blocks {
            let strings = |v: Option<&Value>| -> BTreeMap<String, String> {
                v.and_then(Value::as_object)
                    .into_iter()
                    .flatten()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                    .collect()
            };
            match block.ty.as_str() {
                "aws_eks_node_group" => {
                    let name = block.text("node_group_name").unwrap_or(&block.name);
                    let mut labels = strings(block.body.get("labels"));
                    labels.insert("eks.amazonaws.com/nodegroup".into(), name.to_owned());
                    out.push(KubernetesNodes {
                        address: block.address.clone(),
                        name: format!("node group {name}"),
                        labels,
                        tainted: block.body.get("taint").is_some(),
                    });
                }
                "aws_instance" => {
                    let tags = strings(block.body.get("tags"));
                    if let Some(pool) = tags.get(NODEPOOL_TAG) {
                        // Karpenter labels its nodes as it tags them.
                        out.push(KubernetesNodes {
                            address: block.address.clone(),
                            name: format!("Karpenter's NodePool {pool}"),
                            labels: [(NODEPOOL_TAG.to_owned(), pool.clone())].into(),
                            tainted: false,
                        });
                    }
                }
                _ => {}
            }
        }
        out
    }

    /// Appends a detail line to a drawn node.
    pub(super) fn detail(&mut self, node: &str, line: String) {
        if let Some((_, n)) = self.nodes.iter_mut().find(|(_, n)| n.id == node) {
            n.detail.push(line);
        }
    }
}

/// Nodes of the cluster of one kind: a node group, or a NodePool's.
pub(super) struct KubernetesNodes {
    pub(super) address: String,
    name: String,
    labels: BTreeMap<String, String>,
    tainted: bool,
}

pub(super) enum Scheduled {
    Everywhere,
    On(Vec<KubernetesNodes>),
}

/// A chart that only carries custom resources (the module's `charts/`).
pub(super) fn is_custom_resources(release: &Block) -> bool {
    release
        .text("chart")
        .is_some_and(|c| c.starts_with("charts/") || c.contains("/charts/"))
}

/// A release's namespace: literal, or the name of the namespace block it
/// refers to.
pub(super) fn namespace_of(release: &Block, inv: &crate::inventory::Inventory) -> String {
    match release.body.get("namespace") {
        Some(Value::String(s)) if !s.contains("${") => s.clone(),
        _ => inv
            .blocks
            .iter()
            .filter(|b| release.refs.contains(&b.address) && b.ty == "kubernetes_namespace_v1")
            .find_map(|ns| {
                ns.nested("metadata")?
                    .get("name")?
                    .as_str()
                    .map(str::to_owned)
            })
            .unwrap_or_default(),
    }
}

/// The `nodeSelector` labels a terraform release's values set, as
/// `yamlencode({ ... })` spells them: `"nodeSelector" = { "k" = "v" }`.
fn terraform_node_selector(release: &Block) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let documents = release.body.get("values").and_then(Value::as_array);
    for text in documents.into_iter().flatten().filter_map(Value::as_str) {
        for part in text.split("\"nodeSelector\" = {").skip(1) {
            let inner = part.split('}').next().unwrap_or_default();
            for pair in inner.split(',') {
                let quoted: Vec<&str> = pair.split('"').collect();
                if let [_, key, _, value, ..] = quoted.as_slice() {
                    out.insert((*key).to_owned(), (*value).to_owned());
                }
            }
        }
    }
    out
}
