//! The picture as a Mermaid flowchart, which GitHub renders in Markdown:
//! groups become nested subgraphs, each kind of thing its own shape, and
//! what controllers create (estimated from config) a dashed outline. Edges
//! may end at a subgraph (what Argo CD delivers into a namespace); the edges
//! of a person's way in and of delivery from git are coloured.

use std::fmt::Write as _;

use super::model::{Architecture, EdgeKind, Group, GroupKind, Node, NodeKind};

/// `flowchart TB` text of the picture.
pub fn mermaid(arch: &Architecture) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "flowchart TB");
    for node in &arch.outside {
        node_line(&mut out, node, 1);
    }
    group(&mut out, &arch.region_group, 1);
    for edge in &arch.edges {
        let arrow = match edge.kind {
            EdgeKind::Ingress | EdgeKind::Access => "==>",
            EdgeKind::Egress => "-->",
            EdgeKind::Assumes | EdgeKind::Uses | EdgeKind::Delivers => "-.->",
        };
        if edge.label.is_empty() {
            let _ = writeln!(out, "  {} {arrow} {}", edge.from, edge.to);
        } else {
            let _ = writeln!(
                out,
                "  {} {arrow}|\"{}\"| {}",
                edge.from,
                escape(&edge.label),
                edge.to
            );
        }
    }
    for (kind, style) in [
        (EdgeKind::Access, "stroke:#c925d1,stroke-width:2px"),
        (EdgeKind::Delivers, "stroke:#e7157b"),
    ] {
        let indices: Vec<String> = arch
            .edges
            .iter()
            .enumerate()
            .filter(|(_, e)| e.kind == kind)
            .map(|(i, _)| i.to_string())
            .collect();
        if !indices.is_empty() {
            let _ = writeln!(out, "  linkStyle {} {style}", indices.join(","));
        }
    }
    for (kind, style) in STYLES {
        let _ = writeln!(out, "  classDef {kind} {style}");
    }
    let _ = writeln!(out, "  classDef estimated stroke-dasharray: 5 5");
    let estimated: Vec<&str> = arch
        .all_nodes()
        .into_iter()
        .filter(|n| n.estimated)
        .map(|n| n.id.as_str())
        .collect();
    if !estimated.is_empty() {
        let _ = writeln!(out, "  class {} estimated", estimated.join(","));
    }
    out
}

/// Fill and stroke of each kind of group.
const STYLES: &[(&str, &str)] = &[
    ("region", "fill:#ffffff,stroke:#232f3e"),
    ("vpc", "fill:#f7f2ff,stroke:#8c4fff"),
    ("zone", "fill:#ffffff,stroke:#147eba,stroke-dasharray: 4 4"),
    ("public_subnet", "fill:#eef7ea,stroke:#248814"),
    ("private_subnet", "fill:#e8f3fa,stroke:#147eba"),
    ("cluster", "fill:#fff5e6,stroke:#ed7100"),
    (
        "namespace",
        "fill:#ffffff,stroke:#ed7100,stroke-dasharray: 3 3",
    ),
    ("services", "fill:#f4f4f4,stroke:#7d8998"),
];

fn class(kind: GroupKind) -> &'static str {
    match kind {
        GroupKind::Region => "region",
        GroupKind::Vpc => "vpc",
        GroupKind::Zone => "zone",
        GroupKind::PublicSubnet => "public_subnet",
        GroupKind::PrivateSubnet => "private_subnet",
        GroupKind::Cluster => "cluster",
        GroupKind::Namespace => "namespace",
        GroupKind::Services => "services",
    }
}

fn group(out: &mut String, g: &Group, depth: usize) {
    let pad = "  ".repeat(depth);
    let _ = writeln!(
        out,
        "{pad}subgraph {}[\"{}\"]",
        g.id,
        label(&g.label, &[&g.detail])
    );
    let _ = writeln!(out, "{pad}  direction TB");
    for node in &g.nodes {
        node_line(out, node, depth + 1);
    }
    for inner in &g.groups {
        group(out, inner, depth + 1);
    }
    let _ = writeln!(out, "{pad}end");
    let _ = writeln!(out, "{pad}class {} {}", g.id, class(g.kind));
}

fn node_line(out: &mut String, node: &Node, depth: usize) {
    let pad = "  ".repeat(depth);
    let details: Vec<&str> = node.detail.iter().map(String::as_str).collect();
    let text = label(&node.label, &details);
    let (open, close) = match node.kind {
        NodeKind::Internet => ("((", "))"),
        NodeKind::Actor => ("[/", "/]"),
        NodeKind::Repository => ("[\\", "\\]"),
        NodeKind::Gateway | NodeKind::Nat => ("{{", "}}"),
        NodeKind::LoadBalancer => ("[/", "\\]"),
        NodeKind::ControlPlane | NodeKind::Compute => ("[[", "]]"),
        NodeKind::Addon => ("(", ")"),
        NodeKind::Service => ("([", "])"),
        NodeKind::Role => (">", "]"),
        NodeKind::Store => ("[(", ")]"),
        NodeKind::Other => ("[", "]"),
    };
    let _ = writeln!(out, "{pad}{}{open}\"{text}\"{close}", node.id);
}

/// The title in bold and the non-empty detail lines under it.
fn label(title: &str, details: &[&str]) -> String {
    let mut text = format!("<b>{}</b>", escape(title));
    for d in details.iter().filter(|d| !d.is_empty()) {
        text.push_str("<br/>");
        text.push_str(&escape(d));
    }
    text
}

/// Mermaid reads `#...;` as an entity and `"` ends the label.
fn escape(text: &str) -> String {
    text.replace('#', "#35;")
        .replace('"', "#quot;")
        .replace('<', "#lt;")
        .replace('>', "#gt;")
}
