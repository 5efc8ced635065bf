//! The architecture as a reader draws it: nested groups (region, VPC,
//! availability zones, public and private subnets, the cluster, the
//! region's services), the things in them, and the edges between them
//! (traffic from the internet to the pods and back out, roles and who
//! assumes them, what uses what). Emitters (Mermaid, DOT, SVG) only walk it.

use serde::Serialize;

/// A picture of one environment.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Architecture {
    pub environment: String,
    pub region: String,
    /// Things outside AWS (the internet, GitHub Actions, people, the git
    /// repository Argo CD reads).
    pub outside: Vec<Node>,
    /// The region and everything in it.
    pub region_group: Group,
    pub edges: Vec<Edge>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupKind {
    Region,
    Vpc,
    Zone,
    PublicSubnet,
    PrivateSubnet,
    Cluster,
    /// A Kubernetes namespace in the cluster, with the releases in it.
    Namespace,
    /// Regional services outside any VPC (logs, keys, images, buckets...).
    Services,
}

/// A box holding nodes and other boxes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Group {
    pub id: String,
    pub kind: GroupKind,
    pub label: String,
    /// A second line: CIDR, Kubernetes version.
    pub detail: String,
    pub nodes: Vec<Node>,
    pub groups: Vec<Group>,
}

impl Default for Group {
    fn default() -> Self {
        Self {
            id: String::new(),
            kind: GroupKind::Region,
            label: String::new(),
            detail: String::new(),
            nodes: Vec::new(),
            groups: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeKind {
    Internet,
    /// Someone who assumes a role from outside (CI, administrators).
    Actor,
    /// A git repository the cluster is delivered from.
    Repository,
    Gateway,
    Nat,
    LoadBalancer,
    ControlPlane,
    Compute,
    /// An add-on running in the cluster.
    Addon,
    /// The service the environment exists for.
    Service,
    Role,
    Store,
    Other,
}

/// One thing in the picture.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Node {
    /// Unique in the picture; safe in Mermaid and DOT identifiers.
    pub id: String,
    pub kind: NodeKind,
    pub label: String,
    /// Further lines (instance type and counts, chart version...).
    pub detail: Vec<String>,
    /// The block it stands for (`aws_nat_gateway.a`), if any.
    pub address: String,
    /// Created by a controller in the cluster, estimated from config.
    pub estimated: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EdgeKind {
    /// Requests from the internet towards the pods.
    Ingress,
    /// Traffic from the pods out to the internet.
    Egress,
    /// A role and who assumes it.
    Assumes,
    /// One thing uses another (encrypts with, writes logs to, pulls from).
    Uses,
    /// What Argo CD delivers, and where it reads it from.
    Delivers,
    /// A person's way in to what is not public (a Session Manager session
    /// through the bastion to the private API).
    Access,
}

/// An edge between two nodes, or between a node and a group (a namespace).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Edge {
    pub from: String,
    pub to: String,
    pub kind: EdgeKind,
    pub label: String,
}

impl Group {
    /// Every node in this group and the groups inside it.
    pub fn all_nodes(&self) -> Vec<&Node> {
        let mut out: Vec<&Node> = self.nodes.iter().collect();
        for g in &self.groups {
            out.extend(g.all_nodes());
        }
        out
    }

    /// The first group of `kind` in this tree (this one included).
    pub fn find(&self, kind: GroupKind) -> Option<&Group> {
        if self.kind == kind {
            return Some(self);
        }
        self.groups.iter().find_map(|g| g.find(kind))
    }

    /// Groups of `kind` in this tree, in order.
    pub fn find_all(&self, kind: GroupKind) -> Vec<&Group> {
        let mut out = Vec::new();
        if self.kind == kind {
            out.push(self);
        }
        for g in &self.groups {
            out.extend(g.find_all(kind));
        }
        out
    }
}

impl Architecture {
    /// Every node, outside ones first.
    pub fn all_nodes(&self) -> Vec<&Node> {
        let mut out: Vec<&Node> = self.outside.iter().collect();
        out.extend(self.region_group.all_nodes());
        out
    }
}

/// An identifier safe in Mermaid and DOT: letters, digits and `_`.
pub fn ident(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}
