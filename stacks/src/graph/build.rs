//! The architecture of a module, worked out from its blocks: VPCs with their
//! subnets grouped by availability zone (public or private by where their
//! default route leads), everything with subnets drawn in each subnet it
//! uses, the cluster with its add-ons and releases (see [`super::cluster`]),
//! the region's other resources beside the VPC, IAM roles beside what
//! assumes them (see [`super::iam`]), and the edges between them (see
//! [`super::edges`]).

use std::collections::BTreeMap;

use super::labels::{describe, is_hidden};
use super::model::{ident, Architecture, Edge, EdgeKind, Group, GroupKind, Node, NodeKind};
use crate::inventory::{Block, Inventory, Kind};

/// A group before the tree is assembled.
pub(super) struct Spec {
    pub(super) id: String,
    parent: Option<String>,
    pub(super) kind: GroupKind,
    label: String,
    detail: String,
}

pub(super) struct Builder<'a> {
    pub(super) inv: &'a Inventory,
    pub(super) groups: Vec<Spec>,
    /// Each node with the id of the group it is in.
    pub(super) nodes: Vec<(String, Node)>,
    /// Block address to the nodes drawn for it.
    pub(super) drawn: BTreeMap<String, Vec<String>>,
    pub(super) edges: Vec<Edge>,
    pub(super) outside: Vec<Node>,
}

pub(super) const REGION: &str = "g_region";
pub(super) const SERVICES: &str = "g_services";

/// Id of the group drawn for a block (`g_` keeps group and node ids apart:
/// the cluster is a group, its control plane a node).
pub(super) fn group_id(address: &str) -> String {
    format!("g_{}", ident(address))
}

/// The picture of `inv`.
pub fn architecture(inv: &Inventory) -> Architecture {
    let mut b = Builder {
        inv,
        groups: Vec::new(),
        nodes: Vec::new(),
        drawn: BTreeMap::new(),
        edges: Vec::new(),
        outside: Vec::new(),
    };
    let region = inv.region.clone().unwrap_or_default();
    b.group(REGION, None, GroupKind::Region, format!("AWS {region}"), "");
    b.networks();
    b.clusters();
    b.workloads();
    b.place_the_rest();
    b.roles();
    b.traffic();
    b.uses();
    b.edge_and_secrets();
    b.access();
    b.assemble(inv.environment.clone(), region)
}

impl Builder<'_> {
    pub(super) fn group(
        &mut self,
        id: &str,
        parent: Option<&str>,
        kind: GroupKind,
        label: String,
        detail: &str,
    ) {
        self.groups.push(Spec {
            id: id.to_owned(),
            parent: parent.map(str::to_owned),
            kind,
            label,
            detail: detail.to_owned(),
        });
    }

    /// Adds a node for `block` to `group`; `suffix` tells copies apart.
    pub(super) fn draw(&mut self, block: &Block, group: &str, suffix: &str) -> String {
        let (kind, label, detail) = describe(block, self.inv);
        let id = if suffix.is_empty() {
            ident(&block.address)
        } else {
            format!("{}__{}", ident(&block.address), ident(suffix))
        };
        self.add(
            group,
            Node {
                id: id.clone(),
                kind,
                label,
                detail,
                address: block.address.clone(),
                estimated: block.is_estimated(),
            },
        );
        self.drawn
            .entry(block.address.clone())
            .or_default()
            .push(id.clone());
        id
    }

    pub(super) fn add(&mut self, group: &str, node: Node) {
        self.nodes.push((group.to_owned(), node));
    }

    pub(super) fn group_of(&self, node: &str) -> Option<&str> {
        self.nodes
            .iter()
            .find(|(_, n)| n.id == node)
            .map(|(g, _)| g.as_str())
    }

    /// Group ids from the root down to `group`.
    fn path(&self, group: &str) -> Vec<String> {
        let mut path = vec![group.to_owned()];
        while let Some(parent) = self
            .groups
            .iter()
            .find(|g| g.id == path[0])
            .and_then(|g| g.parent.clone())
        {
            path.insert(0, parent);
        }
        path
    }

    /// The innermost group holding every one of `nodes`.
    pub(super) fn common_group(&self, nodes: &[String]) -> String {
        let paths: Vec<Vec<String>> = nodes
            .iter()
            .filter_map(|n| self.group_of(n))
            .map(|g| self.path(g))
            .collect();
        let Some(first) = paths.first() else {
            return SERVICES.to_owned();
        };
        let mut common = first.clone();
        for p in &paths[1..] {
            let shared = common.iter().zip(p).take_while(|(a, b)| a == b).count();
            common.truncate(shared);
        }
        common.pop().unwrap_or_else(|| REGION.to_owned())
    }

    /// VPCs, their AZs and subnets, and what sits at the VPC's edge.
    fn networks(&mut self) {
        self.group(
            SERVICES,
            Some(REGION),
            GroupKind::Services,
            "regional services".into(),
            "",
        );
        let inv = self.inv;
        for vpc in inv.of_type("aws_vpc") {
            let vpc_id = group_id(&vpc.address);
            let name = vpc.body["tags"]["Name"].as_str().unwrap_or(&vpc.name);
            self.group(
                &vpc_id,
                Some(REGION),
                GroupKind::Vpc,
                format!("VPC {name}"),
                vpc.text("cidr_block").unwrap_or_default(),
            );
            let mut zones: BTreeMap<&str, Vec<&Block>> = BTreeMap::new();
            for subnet in inv.of_type("aws_subnet") {
                if subnet.refs.contains(&vpc.address) {
                    let az = subnet.text("availability_zone").unwrap_or("?");
                    zones.entry(az).or_default().push(subnet);
                }
            }
            for (az, mut subnets) in zones {
                let zone_id = format!("{vpc_id}_{}", ident(az));
                self.group(&zone_id, Some(&vpc_id), GroupKind::Zone, az.to_owned(), "");
                subnets.sort_by_key(|s| !self.is_public(s));
                for subnet in subnets {
                    let (kind, label) = if self.is_public(subnet) {
                        (GroupKind::PublicSubnet, "public subnet")
                    } else {
                        (GroupKind::PrivateSubnet, "private subnet")
                    };
                    self.group(
                        &group_id(&subnet.address),
                        Some(&zone_id),
                        kind,
                        label.into(),
                        subnet.text("cidr_block").unwrap_or_default(),
                    );
                }
            }
        }
    }

    /// Where a subnet's default route (0.0.0.0/0) leads.
    pub(super) fn default_route(&self, subnet: &str) -> Option<&Block> {
        let inv = self.inv;
        let table = inv
            .of_type("aws_route_table_association")
            .find(|a| a.refs.iter().any(|r| r == subnet))?
            .refs
            .iter()
            .find(|r| r.starts_with("aws_route_table."))?;
        let route = inv.of_type("aws_route").find(|r| {
            r.refs.contains(table) && r.text("destination_cidr_block") == Some("0.0.0.0/0")
        })?;
        route
            .refs
            .iter()
            .filter(|r| *r != table)
            .find_map(|r| inv.get(r))
    }

    fn is_public(&self, subnet: &Block) -> bool {
        self.default_route(&subnet.address)
            .is_some_and(|target| target.ty == "aws_internet_gateway")
    }

    /// The VPC group of a block that refers to a VPC or to its subnets.
    pub(super) fn vpc_of(&self, block: &Block) -> Option<String> {
        let vpc_address = block.refs.iter().chain(&block.subnets).find_map(|r| {
            if r.starts_with("aws_vpc.") {
                return Some(r.clone());
            }
            let subnet = self.inv.get(r).filter(|s| s.ty == "aws_subnet")?;
            subnet
                .refs
                .iter()
                .find(|v| v.starts_with("aws_vpc."))
                .cloned()
        })?;
        Some(group_id(&vpc_address))
    }

    fn place_the_rest(&mut self) {
        let inv = self.inv;
        let cluster = self.cluster_group();
        let mut addons: Vec<&Block> = Vec::new();
        for block in &inv.blocks {
            if block.kind == Kind::Data
                || is_hidden(&block.ty)
                || self.drawn.contains_key(&block.address)
                || block.ty == "aws_iam_role"
            {
                continue;
            }
            match block.ty.as_str() {
                "aws_eks_addon" => addons.push(block),
                // An address of a NAT gateway is drawn as part of it.
                "aws_eip"
                    if !inv
                        .referrers(&block.address)
                        .any(|r| r.ty == "aws_nat_gateway") =>
                {
                    let group = self.vpc_of(block).unwrap_or_else(|| SERVICES.to_owned());
                    self.draw(block, &group, "");
                }
                "aws_eip" => {}
                _ if !block.subnets.is_empty() => {
                    for subnet in &block.subnets {
                        let group = group_id(subnet);
                        self.draw(block, &group, subnet);
                    }
                }
                _ => {
                    let group = match block.ty.as_str() {
                        "aws_internet_gateway" | "aws_vpc_endpoint" | "aws_flow_log" => {
                            self.vpc_of(block)
                        }
                        _ => None,
                    }
                    .unwrap_or_else(|| SERVICES.to_owned());
                    self.draw(block, &group, "");
                }
            }
        }
        if !addons.is_empty() {
            let id = format!("{cluster}_addons");
            let names: Vec<String> = addons
                .iter()
                .filter_map(|a| a.text("addon_name").map(str::to_owned))
                .collect();
            self.add(
                &cluster,
                Node {
                    id: id.clone(),
                    kind: NodeKind::Addon,
                    label: "EKS add-ons".into(),
                    detail: vec![names.join(", ")],
                    address: String::new(),
                    estimated: false,
                },
            );
            for addon in addons {
                self.drawn.insert(addon.address.clone(), vec![id.clone()]);
            }
        }
    }

    /// Nodes drawn for `address` (none for a hidden block).
    pub(super) fn nodes_of(&self, address: &str) -> Vec<String> {
        self.drawn.get(address).cloned().unwrap_or_default()
    }

    pub(super) fn edge(&mut self, from: &str, to: &str, kind: EdgeKind, label: &str) {
        let edge = Edge {
            from: from.to_owned(),
            to: to.to_owned(),
            kind,
            label: label.to_owned(),
        };
        if from != to && !self.edges.contains(&edge) {
            self.edges.push(edge);
        }
    }

    fn assemble(self, environment: String, region: String) -> Architecture {
        fn build(id: &str, specs: &[Spec], nodes: &[(String, Node)]) -> Group {
            let spec = specs.iter().find(|s| s.id == id).expect("group spec");
            Group {
                id: spec.id.clone(),
                kind: spec.kind,
                label: spec.label.clone(),
                detail: spec.detail.clone(),
                nodes: nodes
                    .iter()
                    .filter(|(g, _)| g == id)
                    .map(|(_, n)| n.clone())
                    .collect(),
                groups: specs
                    .iter()
                    .filter(|s| s.parent.as_deref() == Some(id))
                    .map(|s| build(&s.id, specs, nodes))
                    .collect(),
            }
        }
        Architecture {
            environment,
            region,
            outside: self.outside,
            region_group: build(REGION, &self.groups, &self.nodes),
            edges: self.edges,
        }
    }
}
