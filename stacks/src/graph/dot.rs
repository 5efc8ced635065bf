//! The picture in Graphviz's DOT language: groups become nested clusters,
//! drawn by `dot -Tsvg` where Graphviz is installed (`infra graph --format
//! svg`). An edge to a group is drawn to a node inside it, clipped at the
//! cluster's border (`lhead`/`ltail`).

use std::fmt::Write as _;

use super::model::{Architecture, EdgeKind, Group, GroupKind, Node, NodeKind};

/// `digraph` text of the picture.
pub fn dot(arch: &Architecture) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "digraph \"{}\" {{", quote(&arch.environment));
    let _ = writeln!(
        out,
        "  graph [rankdir=TB, compound=true, newrank=true, fontname=\"Helvetica\", fontsize=12, \
         label=\"{} ({})\", labelloc=t];",
        quote(&arch.environment),
        quote(&arch.region)
    );
    let _ = writeln!(
        out,
        "  node [shape=box, style=\"rounded,filled\", fillcolor=\"#ffffff\", fontname=\"Helvetica\", fontsize=10];"
    );
    let _ = writeln!(
        out,
        "  edge [fontname=\"Helvetica\", fontsize=9, color=\"#545b64\"];"
    );
    for node in &arch.outside {
        node_line(&mut out, node, 1);
    }
    group(&mut out, &arch.region_group, 1);
    for edge in &arch.edges {
        let style = match edge.kind {
            EdgeKind::Ingress => "penwidth=2, color=\"#248814\"",
            EdgeKind::Egress => "color=\"#147eba\"",
            EdgeKind::Assumes => "style=dashed, color=\"#dd344c\"",
            EdgeKind::Uses => "style=dotted",
            EdgeKind::Delivers => "style=dashed, color=\"#e7157b\"",
            EdgeKind::Access => "penwidth=2, style=dashed, color=\"#c925d1\"",
        };
        let (Some((from, tail)), Some((to, head))) = (
            endpoint(arch, &edge.from, "ltail"),
            endpoint(arch, &edge.to, "lhead"),
        ) else {
            continue;
        };
        let _ = writeln!(
            out,
            "  \"{from}\" -> \"{to}\" [label=\"{}\", {style}{tail}{head}];",
            quote(&edge.label)
        );
    }
    let _ = writeln!(out, "}}");
    out
}

/// The node an edge end is drawn to, with the clipping to a group's
/// cluster when the end is a group (`None` for an empty group).
fn endpoint(arch: &Architecture, id: &str, clip: &str) -> Option<(String, String)> {
    fn find<'a>(g: &'a Group, id: &str) -> Option<&'a Group> {
        if g.id == id {
            return Some(g);
        }
        g.groups.iter().find_map(|inner| find(inner, id))
    }
    match find(&arch.region_group, id) {
        None => Some((id.to_owned(), String::new())),
        Some(g) => {
            let first = g.all_nodes().first()?.id.clone();
            Some((first, format!(", {clip}=\"cluster_{id}\"")))
        }
    }
}

fn group(out: &mut String, g: &Group, depth: usize) {
    let pad = "  ".repeat(depth);
    let (color, fill, style) = match g.kind {
        GroupKind::Region => ("#232f3e", "#ffffff", "rounded"),
        GroupKind::Vpc => ("#8c4fff", "#f7f2ff", "rounded,filled"),
        GroupKind::Zone => ("#147eba", "#ffffff", "dashed,filled"),
        GroupKind::PublicSubnet => ("#248814", "#eef7ea", "rounded,filled"),
        GroupKind::PrivateSubnet => ("#147eba", "#e8f3fa", "rounded,filled"),
        GroupKind::Cluster => ("#ed7100", "#fff5e6", "rounded,filled"),
        GroupKind::Namespace => ("#ed7100", "#ffffff", "dashed,filled"),
        GroupKind::Services => ("#7d8998", "#f4f4f4", "rounded,filled"),
    };
    let mut label = g.label.clone();
    if !g.detail.is_empty() {
        label.push('\n');
        label.push_str(&g.detail);
    }
    let _ = writeln!(out, "{pad}subgraph \"cluster_{}\" {{", g.id);
    let _ = writeln!(
        out,
        "{pad}  label=\"{}\"; color=\"{color}\"; fillcolor=\"{fill}\"; style=\"{style}\";",
        quote(&label)
    );
    for node in &g.nodes {
        node_line(out, node, depth + 1);
    }
    for inner in &g.groups {
        group(out, inner, depth + 1);
    }
    let _ = writeln!(out, "{pad}}}");
}

fn node_line(out: &mut String, node: &Node, depth: usize) {
    let pad = "  ".repeat(depth);
    let shape = match node.kind {
        NodeKind::Internet => "ellipse",
        NodeKind::Actor => "parallelogram",
        NodeKind::Repository => "folder",
        NodeKind::Gateway | NodeKind::Nat => "hexagon",
        NodeKind::LoadBalancer => "trapezium",
        NodeKind::ControlPlane | NodeKind::Compute => "box3d",
        NodeKind::Addon | NodeKind::Other => "box",
        NodeKind::Service => "component",
        NodeKind::Role => "note",
        NodeKind::Store => "cylinder",
    };
    let mut label = node.label.clone();
    for d in node.detail.iter().filter(|d| !d.is_empty()) {
        label.push('\n');
        label.push_str(d);
    }
    let style = if node.estimated {
        ", style=\"dashed,filled\""
    } else {
        ""
    };
    let _ = writeln!(
        out,
        "{pad}\"{}\" [label=\"{}\", shape={shape}{style}];",
        node.id,
        quote(&label)
    );
}

/// A DOT string body: backslashes and quotes escaped, newlines as `\n`.
fn quote(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
