//! The picture as nested boxes laid out here, in Rust, as SVG: no Graphviz
//! needed, so the report always has it. The layout is the one readers know
//! from AWS diagrams: the region holding the VPC and, beside it, the
//! region's services; inside the VPC its edge (gateways, flow logs), the
//! availability zones as columns with the public subnet above the private
//! one (rows aligned across zones), and the cluster below them with a box
//! per namespace. Ingress and egress are drawn as arrows, as are a person's
//! way in (Session Manager to the private API) and Argo CD's delivery from
//! git; roles joined to what assumes them by dashed lines; the Mermaid and
//! DOT outputs carry every edge.

mod layout;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::model::{Architecture, EdgeKind, Group, GroupKind, Node, NodeKind};
use layout::{flow, layout, Canvas, Rect};

const WIDTH: f64 = 1200.0;
const PAD: f64 = 12.0;
const TITLE: f64 = 30.0;
const GAP: f64 = 12.0;
const NODE_W: f64 = 176.0;
const MAX_NODE_W: f64 = 300.0;
const LINE: f64 = 14.0;
const SERVICES_W: f64 = 230.0;
/// Average advance of a character at the 11px font used, to fit text.
const CHAR_W: f64 = 6.1;

fn colors(kind: GroupKind) -> (&'static str, &'static str) {
    match kind {
        GroupKind::Region => ("#232f3e", "#ffffff"),
        GroupKind::Vpc => ("#8c4fff", "#f7f2ff"),
        GroupKind::Zone => ("#147eba", "#ffffff"),
        GroupKind::PublicSubnet => ("#248814", "#eef7ea"),
        GroupKind::PrivateSubnet => ("#147eba", "#e8f3fa"),
        GroupKind::Cluster => ("#ed7100", "#fff5e6"),
        GroupKind::Namespace => ("#ed7100", "#ffffff"),
        GroupKind::Services => ("#7d8998", "#f4f4f4"),
    }
}

fn draw_group(canvas: &mut Canvas, g: &Group, r: Rect) {
    let (stroke, fill) = colors(g.kind);
    let dash = match g.kind {
        GroupKind::Zone => " stroke-dasharray=\"6 4\"",
        GroupKind::Namespace => " stroke-dasharray=\"3 3\"",
        _ => "",
    };
    let mut title = esc(&g.label);
    if !g.detail.is_empty() {
        title.push_str(&format!(
            " <tspan class=\"muted\">{}</tspan>",
            esc(&g.detail)
        ));
    }
    let _ = writeln!(
        canvas.body,
        "<g class=\"group {kind}\"><rect x=\"{:.0}\" y=\"{:.0}\" width=\"{:.0}\" height=\"{:.0}\" rx=\"6\" \
         fill=\"{fill}\" stroke=\"{stroke}\" stroke-width=\"1.5\"{dash}/>\
         <text x=\"{:.0}\" y=\"{:.0}\" class=\"group-title\" fill=\"{stroke}\">{title}</text></g>",
        r.x,
        r.y,
        r.w,
        r.h,
        r.x + 10.0,
        r.y + 20.0,
        kind = kind_class(g.kind),
    );
    // Edges may end at a group (Argo CD delivering into a namespace).
    canvas.nodes.insert(g.id.clone(), r);
}

fn kind_class(kind: GroupKind) -> &'static str {
    match kind {
        GroupKind::Region => "region",
        GroupKind::Vpc => "vpc",
        GroupKind::Zone => "zone",
        GroupKind::PublicSubnet => "public-subnet",
        GroupKind::PrivateSubnet => "private-subnet",
        GroupKind::Cluster => "cluster",
        GroupKind::Namespace => "namespace",
        GroupKind::Services => "services",
    }
}

fn node_colors(kind: NodeKind) -> (&'static str, &'static str) {
    match kind {
        NodeKind::Internet | NodeKind::Actor | NodeKind::Repository => ("#232f3e", "#ffffff"),
        NodeKind::Gateway | NodeKind::Nat => ("#8c4fff", "#ffffff"),
        NodeKind::LoadBalancer => ("#8c4fff", "#f3ecff"),
        NodeKind::ControlPlane | NodeKind::Compute => ("#ed7100", "#ffffff"),
        NodeKind::Addon => ("#ed7100", "#fffaf3"),
        NodeKind::Service => ("#1d8102", "#ffffff"),
        NodeKind::Role => ("#dd344c", "#fff5f6"),
        NodeKind::Store => ("#3b48cc", "#ffffff"),
        NodeKind::Other => ("#545b64", "#ffffff"),
    }
}

fn draw_node(canvas: &mut Canvas, node: &Node, r: Rect) {
    let (stroke, fill) = node_colors(node.kind);
    let dash = if node.estimated {
        " stroke-dasharray=\"5 3\""
    } else {
        ""
    };
    let fit = ((r.w - 14.0) / CHAR_W) as usize;
    let mut full = node.label.clone();
    for d in &node.detail {
        full.push_str("; ");
        full.push_str(d);
    }
    let _ = write!(
        canvas.body,
        "<g class=\"node\" id=\"n-{}\"><title>{}</title><rect x=\"{:.0}\" y=\"{:.0}\" width=\"{:.0}\" \
         height=\"{:.0}\" rx=\"4\" fill=\"{fill}\" stroke=\"{stroke}\" stroke-width=\"1.2\"{dash}/>\
         <text x=\"{:.0}\" y=\"{:.0}\" class=\"node-title\">{}</text>",
        node.id,
        esc(&full),
        r.x,
        r.y,
        r.w,
        r.h,
        r.x + 7.0,
        r.y + 17.0,
        esc(&clip(&node.label, fit)),
    );
    for (i, d) in node.detail.iter().filter(|d| !d.is_empty()).enumerate() {
        let class = if d.starts_with("role ") {
            "node-role"
        } else {
            "node-detail"
        };
        let _ = write!(
            canvas.body,
            "<text x=\"{:.0}\" y=\"{:.0}\" class=\"{class}\">{}</text>",
            r.x + 7.0,
            r.y + 17.0 + LINE * (i + 1) as f64,
            esc(&clip(d, fit))
        );
    }
    canvas.body.push_str("</g>\n");
    canvas.nodes.insert(node.id.clone(), r);
}

fn clip(text: &str, chars: usize) -> String {
    if text.chars().count() <= chars {
        text.to_owned()
    } else {
        let kept: String = text.chars().take(chars.saturating_sub(1)).collect();
        format!("{kept}…")
    }
}

fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Roles that something in the picture assumes become a line of that
/// thing's box (`role webapp-staging-eks-node`), so each sits with what
/// runs as it without a line across the picture; roles assumed from
/// outside keep their box and the dashed line from who assumes them.
fn roles_inside(arch: &Architecture) -> Architecture {
    let mut arch = arch.clone();
    let assumed: Vec<(String, String)> = arch
        .edges
        .iter()
        .filter(|e| e.kind == EdgeKind::Assumes && e.label == "assumed by")
        .map(|e| (e.from.clone(), e.to.clone()))
        .collect();
    let names: BTreeMap<String, String> = arch
        .all_nodes()
        .into_iter()
        .filter(|n| n.kind == NodeKind::Role)
        .map(|n| (n.id.clone(), n.detail.first().cloned().unwrap_or_default()))
        .collect();
    fn visit(g: &mut Group, f: &mut dyn FnMut(&mut Vec<Node>)) {
        f(&mut g.nodes);
        for inner in &mut g.groups {
            visit(inner, f);
        }
    }
    visit(&mut arch.region_group, &mut |nodes| {
        nodes.retain(|n| !assumed.iter().any(|(role, _)| *role == n.id));
        for node in nodes.iter_mut() {
            for (role, _) in assumed.iter().filter(|(_, user)| *user == node.id) {
                node.detail.push(format!("role {}", names[role]));
            }
        }
    });
    arch.edges.retain(|e| {
        !assumed
            .iter()
            .any(|(role, _)| *role == e.from || *role == e.to)
    });
    arch
}

/// The picture as a standalone SVG document.
pub fn box_svg(arch: &Architecture) -> String {
    let arch = &roles_inside(arch);
    let mut canvas = Canvas::default();
    // Things outside AWS in a row above the region.
    let outside_h = flow(
        &arch.outside,
        WIDTH - 2.0 * PAD,
        Some((PAD, PAD)),
        &mut canvas,
    );
    let top = PAD + outside_h + if outside_h > 0.0 { 2.0 * GAP } else { 0.0 };
    let region_h = layout(
        &arch.region_group,
        WIDTH - 2.0 * PAD,
        Some((PAD, top)),
        &[],
        &mut canvas,
    );
    let legend_y = top + region_h + GAP;
    let height = legend_y + 30.0;
    // Group boxes were written after what they hold: draw outer boxes first.
    let mut groups: Vec<&str> = Vec::new();
    let mut nodes: Vec<&str> = Vec::new();
    for line in canvas.body.lines() {
        if line.starts_with("<g class=\"group") {
            groups.push(line);
        } else {
            nodes.push(line);
        }
    }
    groups.reverse();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH:.0} {height:.0}\" \
         role=\"img\" aria-labelledby=\"svg-title\" class=\"architecture\">"
    );
    let _ = writeln!(
        out,
        "<title id=\"svg-title\">Architecture of {} in {}</title>",
        esc(&arch.environment),
        esc(&arch.region)
    );
    out.push_str(STYLE);
    out.push_str(DEFS);
    for g in groups {
        out.push_str(g);
        out.push('\n');
    }
    edges(&mut out, arch, &canvas.nodes);
    for n in nodes {
        out.push_str(n);
        out.push('\n');
    }
    legend(&mut out, arch, legend_y);
    out.push_str("</svg>\n");
    out
}

const STYLE: &str = "<style>\
.architecture text{font-family:system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;fill:#16191f}\
.architecture .group-title{font-size:13px;font-weight:600}\
.architecture .muted{font-weight:400;fill:#545b64}\
.architecture .node-title{font-size:11.5px;font-weight:600}\
.architecture .node-detail{font-size:10.5px;fill:#414750}\
.architecture .node-role{font-size:10.5px;fill:#b0243a}\
.architecture .legend{font-size:11px}\
</style>\n";

const DEFS: &str = "<defs>\
<marker id=\"arrow-in\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0L10,5L0,10z\" fill=\"#248814\"/></marker>\
<marker id=\"arrow-out\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0L10,5L0,10z\" fill=\"#147eba\"/></marker>\
<marker id=\"arrow-access\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0L10,5L0,10z\" fill=\"#c925d1\"/></marker>\
<marker id=\"arrow-delivers\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0L10,5L0,10z\" fill=\"#e7157b\"/></marker>\
</defs>\n";

fn edges(out: &mut String, arch: &Architecture, at: &BTreeMap<String, Rect>) {
    for edge in &arch.edges {
        let (Some(from), Some(to)) = (at.get(&edge.from), at.get(&edge.to)) else {
            continue;
        };
        let (style, marker) = match edge.kind {
            EdgeKind::Ingress => ("stroke=\"#248814\" stroke-width=\"2\" stroke-opacity=\"0.75\"", "arrow-in"),
            EdgeKind::Egress => ("stroke=\"#147eba\" stroke-width=\"1.5\" stroke-opacity=\"0.7\"", "arrow-out"),
            EdgeKind::Assumes => ("stroke=\"#dd344c\" stroke-width=\"1\" stroke-dasharray=\"4 3\" stroke-opacity=\"0.8\"", ""),
            EdgeKind::Access => ("stroke=\"#c925d1\" stroke-width=\"1.8\" stroke-dasharray=\"6 3\"", "arrow-access"),
            EdgeKind::Delivers => ("stroke=\"#e7157b\" stroke-width=\"1.2\" stroke-dasharray=\"2 3\" stroke-opacity=\"0.8\"", "arrow-delivers"),
            EdgeKind::Uses => continue,
        };
        let (tx, ty) = to.center();
        let (fx, fy) = from.center();
        let (x1, y1) = from.border_towards(tx, ty);
        let (x2, y2) = to.border_towards(fx, fy);
        let end = if marker.is_empty() {
            String::new()
        } else {
            format!(" marker-end=\"url(#{marker})\"")
        };
        let _ = writeln!(
            out,
            "<line class=\"edge {kind:?}\" x1=\"{x1:.0}\" y1=\"{y1:.0}\" x2=\"{x2:.0}\" y2=\"{y2:.0}\" {style}{end}/>",
            kind = edge.kind
        );
    }
}

/// The marks the picture uses, explained in a row under it.
fn legend(out: &mut String, arch: &Architecture, y: f64) {
    let has = |kind: EdgeKind| arch.edges.iter().any(|e| e.kind == kind);
    let items = [
        (has(EdgeKind::Ingress), "<line x1=\"0\" y1=\"0\" x2=\"28\" y2=\"0\" stroke=\"#248814\" stroke-width=\"2\" marker-end=\"url(#arrow-in)\"/>", "requests from the internet"),
        (has(EdgeKind::Egress), "<line x1=\"0\" y1=\"0\" x2=\"28\" y2=\"0\" stroke=\"#147eba\" stroke-width=\"1.5\" marker-end=\"url(#arrow-out)\"/>", "traffic out"),
        (has(EdgeKind::Assumes), "<line x1=\"0\" y1=\"0\" x2=\"28\" y2=\"0\" stroke=\"#dd344c\" stroke-dasharray=\"4 3\"/>", "role and who assumes it"),
        (has(EdgeKind::Access), "<line x1=\"0\" y1=\"0\" x2=\"28\" y2=\"0\" stroke=\"#c925d1\" stroke-width=\"1.8\" stroke-dasharray=\"6 3\" marker-end=\"url(#arrow-access)\"/>", "admin's way in"),
        (has(EdgeKind::Delivers), "<line x1=\"0\" y1=\"0\" x2=\"28\" y2=\"0\" stroke=\"#e7157b\" stroke-dasharray=\"2 3\" marker-end=\"url(#arrow-delivers)\"/>", "delivered from git"),
        (arch.all_nodes().iter().any(|n| n.estimated), "<rect x=\"0\" y=\"-8\" width=\"28\" height=\"16\" rx=\"3\" fill=\"#ffffff\" stroke=\"#545b64\" stroke-dasharray=\"5 3\"/>", "created by a controller (estimated from config)"),
    ];
    let mut x = PAD;
    for (_, mark, text) in items.into_iter().filter(|(shown, _, _)| *shown) {
        let _ = writeln!(
            out,
            "<g class=\"legend\" transform=\"translate({x:.0},{:.0})\">{mark}<text x=\"36\" y=\"4\">{text}</text></g>",
            y + 12.0
        );
        x += 44.0 + text.len() as f64 * CHAR_W;
    }
}
