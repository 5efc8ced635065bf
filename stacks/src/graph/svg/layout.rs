//! Where each box goes: groups laid out by kind (the region's VPCs beside
//! its services, zones as columns whose subnet rows share a height, the rest
//! stacked), nodes flowed in rows within their group.

use std::collections::BTreeMap;

use super::{draw_group, draw_node, GAP, LINE, MAX_NODE_W, NODE_W, PAD, SERVICES_W, TITLE};
use crate::graph::model::{Group, GroupKind, Node};

#[derive(Debug, Clone, Copy)]
pub(super) struct Rect {
    pub(super) x: f64,
    pub(super) y: f64,
    pub(super) w: f64,
    pub(super) h: f64,
}

impl Rect {
    pub(super) fn center(self) -> (f64, f64) {
        (self.x + self.w / 2.0, self.y + self.h / 2.0)
    }

    /// Where the segment from the centre towards `(tx, ty)` leaves the box.
    pub(super) fn border_towards(self, tx: f64, ty: f64) -> (f64, f64) {
        let (cx, cy) = self.center();
        let (dx, dy) = (tx - cx, ty - cy);
        if dx == 0.0 && dy == 0.0 {
            return (cx, cy);
        }
        let sx = if dx == 0.0 {
            f64::INFINITY
        } else {
            (self.w / 2.0) / dx.abs()
        };
        let sy = if dy == 0.0 {
            f64::INFINITY
        } else {
            (self.h / 2.0) / dy.abs()
        };
        let s = sx.min(sy);
        (cx + dx * s, cy + dy * s)
    }
}

pub(super) fn node_height(node: &Node) -> f64 {
    let lines = 1 + node.detail.iter().filter(|d| !d.is_empty()).count();
    10.0 + LINE * lines as f64
}

/// Boxes and node positions, filled in as the layout goes.
#[derive(Default)]
pub(super) struct Canvas {
    pub(super) body: String,
    pub(super) nodes: BTreeMap<String, Rect>,
}

/// Height of `nodes` laid out in rows within `width`, placing them when
/// `at` is given.
pub(super) fn flow(nodes: &[Node], width: f64, at: Option<(f64, f64)>, canvas: &mut Canvas) -> f64 {
    if nodes.is_empty() {
        return 0.0;
    }
    let per_row = (((width + GAP) / (NODE_W.min(width) + GAP)).floor() as usize).max(1);
    // Fewer nodes than fit share the width, up to a comfortable line length.
    let columns = per_row.min(nodes.len()) as f64;
    let node_w = ((width - GAP * (columns - 1.0)) / columns).min(MAX_NODE_W);
    let mut height = 0.0;
    for row in nodes.chunks(per_row) {
        let row_h = row.iter().map(node_height).fold(0.0, f64::max);
        if let Some((x, y)) = at {
            for (i, node) in row.iter().enumerate() {
                let rect = Rect {
                    x: x + i as f64 * (node_w + GAP),
                    y: y + height,
                    w: node_w,
                    h: row_h,
                };
                draw_node(canvas, node, rect);
            }
        }
        height += row_h + GAP;
    }
    height - GAP
}

/// The height `group` needs at `width`; drawn when `at` is given.
/// `rows` holds heights the subnets of each row must share (zones).
pub(super) fn layout(
    g: &Group,
    width: f64,
    at: Option<(f64, f64)>,
    rows: &[f64],
    canvas: &mut Canvas,
) -> f64 {
    let inner = width - 2.0 * PAD;
    let (x0, y0) = at.unwrap_or((0.0, 0.0));
    let mut y = TITLE;
    let nodes_h = flow(&g.nodes, inner, at.map(|_| (x0 + PAD, y0 + y)), canvas);
    if nodes_h > 0.0 {
        y += nodes_h + GAP;
    }
    match g.kind {
        GroupKind::Region => {
            // The VPCs in a column, the region's services beside them.
            let (services, others): (Vec<&Group>, Vec<&Group>) =
                g.groups.iter().partition(|c| c.kind == GroupKind::Services);
            let main_w = if services.is_empty() {
                inner
            } else {
                inner - SERVICES_W - GAP
            };
            let mut left = y;
            for child in &others {
                let h = layout(
                    child,
                    main_w,
                    at.map(|_| (x0 + PAD, y0 + left)),
                    &[],
                    canvas,
                );
                left += h + GAP;
            }
            let mut right = y;
            for child in &services {
                let at = at.map(|_| (x0 + PAD + main_w + GAP, y0 + right));
                right += layout(child, SERVICES_W, at, &[], canvas) + GAP;
            }
            y = left.max(right);
        }
        GroupKind::Vpc => {
            // Zones side by side, their subnets' rows of equal height.
            let (zones, others): (Vec<&Group>, Vec<&Group>) =
                g.groups.iter().partition(|c| c.kind == GroupKind::Zone);
            if !zones.is_empty() {
                let n = zones.len() as f64;
                let zone_w = (inner - GAP * (n - 1.0)) / n;
                let depth = zones.iter().map(|z| z.groups.len()).max().unwrap_or(0);
                let shared: Vec<f64> = (0..depth)
                    .map(|i| {
                        zones
                            .iter()
                            .filter_map(|z| z.groups.get(i))
                            .map(|s| {
                                layout(s, zone_w - 2.0 * PAD, None, &[], &mut Canvas::default())
                            })
                            .fold(0.0, f64::max)
                    })
                    .collect();
                let mut tallest: f64 = 0.0;
                for (i, zone) in zones.iter().enumerate() {
                    let at = at.map(|_| (x0 + PAD + i as f64 * (zone_w + GAP), y0 + y));
                    tallest = tallest.max(layout(zone, zone_w, at, &shared, canvas));
                }
                y += tallest + GAP;
            }
            for child in others {
                y += layout(child, inner, at.map(|_| (x0 + PAD, y0 + y)), &[], canvas) + GAP;
            }
        }
        _ => {
            for (i, child) in g.groups.iter().enumerate() {
                let own = layout(child, inner, None, &[], &mut Canvas::default());
                let h = rows.get(i).copied().unwrap_or(own).max(own);
                if let Some((x, top)) = at.map(|_| (x0 + PAD, y0 + y)) {
                    layout(child, inner, Some((x, top)), &[], canvas);
                    // Stretch the box to the row's shared height.
                    if h > own {
                        stretch_last_group(canvas, h);
                    }
                }
                y += h + GAP;
            }
        }
    }
    let height = y - GAP + PAD;
    if let Some((x, y)) = at {
        draw_group(
            canvas,
            g,
            Rect {
                x,
                y,
                w: width,
                h: height,
            },
        );
    }
    height
}

/// Group boxes are written after their contents, to be moved in front of
/// them at the end; the last one written is the child just laid out.
fn stretch_last_group(canvas: &mut Canvas, height: f64) {
    if let Some(start) = canvas.body.rfind("<g class=\"group") {
        let tail = canvas.body.split_off(start);
        let stretched = match tail.split_once("height=\"") {
            Some((head, rest)) => {
                let end = rest.find('"').unwrap_or(0);
                format!("{head}height=\"{height:.0}{}", &rest[end..])
            }
            None => tail,
        };
        canvas.body.push_str(&stretched);
    }
}
