//! The edges of the picture: the path of a request from the internet to the
//! pods and of the pods' traffic back out through their subnet's NAT
//! gateway, what uses which of the region's services, and what security
//! group rules let an instance reach the cluster's API.

use super::build::{Builder, SERVICES};
use super::cluster::Scheduled;
use super::model::{ident, EdgeKind, Node, NodeKind};
use crate::inventory::{Block, Kind};

impl Builder<'_> {
    /// Internet -> gateway -> load balancers -> service -> pods on the
    /// nodes, and the nodes' traffic out through their subnet's NAT gateway.
    pub(super) fn traffic(&mut self) {
        let inv = self.inv;
        let gateways: Vec<String> = inv
            .of_type("aws_internet_gateway")
            .flat_map(|g| self.nodes_of(&g.address))
            .collect();
        if !gateways.is_empty() {
            self.outside.push(Node {
                id: "internet".into(),
                kind: NodeKind::Internet,
                label: "internet".into(),
                detail: Vec::new(),
                address: String::new(),
                estimated: false,
            });
        }
        for gateway in &gateways {
            self.edge("internet", gateway, EdgeKind::Ingress, "requests");
        }
        let compute: Vec<(&Block, String)> = inv
            .blocks
            .iter()
            .filter(|b| matches!(b.ty.as_str(), "aws_eks_node_group" | "aws_instance"))
            .flat_map(|b| self.nodes_of(&b.address).into_iter().map(move |n| (b, n)))
            .collect();
        for lb in inv.of_type("aws_lb") {
            let internal =
                lb.body.get("internal").and_then(serde_json::Value::as_bool) == Some(true);
            let cause = match &lb.kind {
                Kind::Estimated(origin) => inv.get(&origin.created_by),
                _ => None,
            };
            let target = cause.map_or_else(Vec::new, |c| self.nodes_of(&c.address));
            // The nodes the service's pods are scheduled on.
            let pods: Vec<String> = match cause.and_then(|c| self.scheduled_on(c)) {
                Some(Scheduled::On(nodes)) => nodes
                    .iter()
                    .flat_map(|n| self.nodes_of(&n.address))
                    .collect(),
                _ => Vec::new(),
            };
            for node in self.nodes_of(&lb.address) {
                if !internal {
                    for gateway in &gateways {
                        self.edge(gateway, &node, EdgeKind::Ingress, "");
                    }
                }
                for service in &target {
                    self.edge(&node, service, EdgeKind::Ingress, "to pod IPs");
                }
            }
            for service in &target {
                for node in &pods {
                    self.edge(service, node, EdgeKind::Ingress, "pods run on");
                }
            }
        }
        for (block, node) in &compute {
            let subnet = block
                .subnets
                .iter()
                .find(|s| node.ends_with(&ident(s)))
                .cloned();
            let Some(target) = subnet.and_then(|s| self.default_route(&s)) else {
                continue;
            };
            let target = target.address.clone();
            for nat in self.nodes_of(&target) {
                self.edge(node, &nat, EdgeKind::Egress, "egress");
            }
        }
        for nat in inv.of_type("aws_nat_gateway") {
            for node in self.nodes_of(&nat.address) {
                for gateway in &gateways {
                    self.edge(&node, gateway, EdgeKind::Egress, "");
                }
            }
        }
    }

    /// What drawn things use among the region's services, by reference.
    pub(super) fn uses(&mut self) {
        let inv = self.inv;
        let services: Vec<String> = self
            .nodes
            .iter()
            .filter(|(g, n)| g == SERVICES && n.kind == NodeKind::Store)
            .map(|(_, n)| n.address.clone())
            .collect();
        for block in &inv.blocks {
            let from = self.nodes_of(&block.address);
            if from.is_empty() || block.ty == "aws_iam_role" {
                continue;
            }
            for target in block.refs.iter().filter(|r| services.contains(r)) {
                let label = uses_label(block, target);
                for to in self.nodes_of(target) {
                    for f in &from {
                        self.edge(f, &to, EdgeKind::Uses, label);
                    }
                }
            }
        }
        // EKS writes control-plane logs to /aws/eks/<cluster>/cluster by name.
        for cluster in inv.of_type("aws_eks_cluster") {
            let name = format!(
                "/aws/eks/{}/cluster",
                cluster.text("name").unwrap_or_default()
            );
            for group in inv.of_type("aws_cloudwatch_log_group") {
                if group.text("name") == Some(name.as_str()) {
                    for (f, t) in self
                        .nodes_of(&cluster.address)
                        .into_iter()
                        .zip(self.nodes_of(&group.address))
                    {
                        self.edge(&f, &t, EdgeKind::Uses, "control-plane logs");
                    }
                }
            }
        }
    }

    /// An instance whose security group a rule of the cluster's security
    /// group admits reaches the API (the bastion's tunnel to a private API).
    pub(super) fn access(&mut self) {
        let inv = self.inv;
        let rules = inv
            .of_type("aws_vpc_security_group_ingress_rule")
            .filter(|r| {
                r.text("security_group_id")
                    .is_some_and(|g| g.contains("aws_eks_cluster."))
            });
        let mut reach: Vec<(String, String, String)> = Vec::new();
        for rule in rules {
            let Some(group) = rule
                .text("referenced_security_group_id")
                .and_then(|g| rule.refs.iter().find(|r| g.contains(&format!("{r}."))))
            else {
                continue;
            };
            let port = rule.number("from_port").unwrap_or(443.0);
            for cluster in rule
                .refs
                .iter()
                .filter(|r| r.starts_with("aws_eks_cluster."))
            {
                for instance in inv
                    .of_type("aws_instance")
                    .filter(|i| i.refs.contains(group))
                {
                    for from in self.nodes_of(&instance.address) {
                        for to in self.nodes_of(cluster) {
                            reach.push((from.clone(), to, format!("port {port} to the API")));
                        }
                    }
                }
            }
        }
        for (from, to, label) in reach {
            self.edge(&from, &to, EdgeKind::Access, &label);
        }
    }
}

/// A verb for a reference from `block` to a regional service.
fn uses_label(block: &Block, target: &str) -> &'static str {
    let holder = block
        .body
        .as_object()
        .into_iter()
        .flatten()
        .find(|(_, v)| v.to_string().contains(&format!("{target}.")))
        .map(|(k, _)| k.as_str());
    match holder {
        Some("kms_key_id") => "encrypted with",
        Some("encryption_config") => "encrypts secrets with",
        Some("log_destination") => "delivers to",
        // Otherwise what the target is says what it is used for.
        _ => match target.split('.').next().unwrap_or_default() {
            "aws_ecr_repository" => "image from",
            "aws_s3_bucket" => "stores in",
            "aws_sns_topic" => "publishes to",
            "aws_sqs_queue" => "reads",
            _ => "uses",
        },
    }
}
