//! `infra graph`: the architecture as the reader expects it, generated from
//! the module: region, VPC, availability zones, public and private subnets
//! with the NAT gateways, load balancers and node groups in the subnets
//! they use; the EKS cluster with its add-ons and the service; IAM roles
//! beside what assumes them; the path from the internet to the pods and
//! back out; the web ACL and certificate of the service's load balancer, and
//! which function rotates and which roles read each secret. What
//! controllers in the cluster create (the service's load balancer) is
//! drawn dashed, from the estimates of [`crate::estimate`].
//!
//! A component needs nothing here to appear: its blocks are drawn by type
//! (in their subnets when they have any, else among the region's services)
//! and joined by their references. A line in `labels.rs` names a new type
//! better, or hides plumbing.

mod build;
mod cluster;
mod dot;
mod edge_links;
mod edges;
mod graphviz;
mod iam;
mod labels;
mod mermaid;
mod model;
mod svg;

pub use build::architecture;
pub use dot::dot;
pub use graphviz::{graphviz_svg, GraphvizError};
pub use mermaid::mermaid;
pub use model::{ident, Architecture, Edge, EdgeKind, Group, GroupKind, Node, NodeKind};
pub use svg::box_svg;
