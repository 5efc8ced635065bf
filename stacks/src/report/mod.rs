//! `infra report`: one self-contained HTML page about an environment: its
//! picture, what it costs a month, the policies and floors it passed, its
//! resources by stack (and what Argo CD delivers), and how it differs from
//! another environment. The
//! data is assembled here as typed structs; the page is a tera template
//! (`page.html`) with its CSS inline and the picture as inline SVG
//! ([`crate::graph::box_svg`], laid out in Rust, so no Graphviz is
//! needed). The page loads nothing: no scripts, fonts or images from
//! anywhere, and a Content-Security-Policy that forbids any fetch. It reads
//! on a phone (tables scroll within their frame) and prints (print styles).

mod view;

use std::path::Path;

use serde::Serialize;

use crate::cost::{self, CostError, Date};
use crate::graph;
use crate::inventory::{Inventory, InventoryError};
use crate::Synthesis;

pub use view::{CostView, DeliveryView, DiffView, PolicyView, StackView};

const TEMPLATE: &str = include_str!("page.html");
const STYLE: &str = include_str!("style.css");

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Cost(#[from] CostError),
    #[error(transparent)]
    Inventory(#[from] InventoryError),
    #[error("reading the module's files for the diff")]
    Diff(#[source] synth::SynthError),
    #[error("loading the provider schemas the policies use")]
    Schemas(#[source] Box<crate::Error>),
    #[error("rendering the report page")]
    Template(#[source] tera::Error),
}

/// What the page is made from.
#[derive(Debug)]
pub struct Input<'a> {
    /// The checkout (for the price table).
    pub root: &'a Path,
    pub synthesis: &'a Synthesis,
    /// Another environment to compare with.
    pub against: Option<&'a Synthesis>,
    pub as_of: Date,
    /// `infra 0.1.0`.
    pub tool: &'a str,
}

/// Everything the template shows, as typed values.
#[derive(Debug, Serialize)]
pub struct Page {
    pub environment: String,
    pub region: String,
    pub as_of: Date,
    pub tool: String,
    pub content_sha256: String,
    /// Inline SVG of the architecture.
    pub picture: String,
    pub cost: CostView,
    pub policies: Vec<PolicyView>,
    pub floors: Vec<(String, String)>,
    pub config_file: String,
    pub policy_file: String,
    pub stacks: Vec<StackView>,
    /// What Argo CD delivers, when GitOps is on.
    pub delivery: Option<DeliveryView>,
    pub diff: Option<DiffView>,
}

/// The page's data.
pub fn page(input: &Input<'_>) -> Result<Page, ReportError> {
    let synthesis = input.synthesis;
    let env = &synthesis.environment;
    let files = &synthesis.module.files;
    let inventory = Inventory::from_files(files)?;
    let estimate = cost::estimate_module(input.root, files, input.as_of)?;
    let diff = match input.against {
        Some(other) => {
            let theirs = cost::estimate_module(input.root, &other.module.files, input.as_of)?;
            Some(view::diff(synthesis, other, &estimate, &theirs)?)
        }
        None => None,
    };
    let schemas = crate::schemas().map_err(|e| ReportError::Schemas(Box::new(e)))?;
    let policies = crate::policy::policies(env, &schemas)
        .iter()
        .map(|p| PolicyView {
            name: p.name().to_owned(),
            description: p.description(),
        })
        .collect();
    Ok(Page {
        environment: env.name.clone(),
        region: env.config.region.clone(),
        as_of: input.as_of,
        tool: input.tool.to_owned(),
        content_sha256: manifest_hash(files),
        picture: graph::box_svg(&graph::architecture(&inventory)),
        cost: view::cost(&estimate),
        policies,
        floors: view::floors(&env.policy),
        config_file: display_path(input.root, &env.source),
        policy_file: display_path(input.root, &env.policy_source),
        stacks: view::stacks(&synthesis.module, &estimate),
        delivery: inventory.delivery.as_ref().map(view::delivery),
        diff,
    })
}

/// The page as HTML.
pub fn render(input: &Input<'_>) -> Result<String, ReportError> {
    let page = page(input)?;
    html(&page)
}

/// Renders a page's data with the template.
pub fn html(page: &Page) -> Result<String, ReportError> {
    let mut tera = tera::Tera::default();
    // The `.html` name turns autoescaping on: every value is escaped unless
    // the template marks it safe (only the SVG and the CSS, both ours).
    tera.add_raw_template("page.html", TEMPLATE)
        .map_err(ReportError::Template)?;
    let mut context = tera::Context::from_serialize(page).map_err(ReportError::Template)?;
    context.insert("style", STYLE);
    tera.render("page.html", &context)
        .map_err(ReportError::Template)
}

fn manifest_hash(files: &std::collections::BTreeMap<String, Vec<u8>>) -> String {
    files
        .get(synth::MANIFEST_FILE)
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(bytes).ok())
        .and_then(|m| m["content_sha256"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn display_path(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}
