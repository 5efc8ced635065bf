//! `infra cost`, `graph` and `report`: what an environment costs and looks
//! like before it is applied.

use std::fs;
use std::path::Path;

use anyhow::Context as _;
use stacks::cost::{self, Date, Estimate};
use stacks::graph;
use stacks::inventory::Inventory;
use stacks::{Options, Synthesis};

use super::{emit, synthesize, write_file, Project, TOOL};

/// The day an estimate is for: `--as-of`, else today.
pub fn as_of(text: Option<&str>) -> anyhow::Result<Date> {
    match text {
        Some(text) => text
            .parse()
            .map_err(|e: String| anyhow::anyhow!("--as-of: {e}")),
        None => Ok(Date::today()),
    }
}

/// Prices an environment's module, as synthesized.
fn estimate(project: &Project, synthesis: &Synthesis, as_of: Date) -> anyhow::Result<Estimate> {
    cost::estimate_module(&project.root, &synthesis.module.files, as_of)
        .with_context(|| format!("estimating the cost of `{}`", synthesis.environment.name))
}

/// Prints an environment's monthly estimate, or two side by side.
pub fn cost(
    project: &Project,
    env: &str,
    other: Option<&str>,
    options: &Options,
    as_of: Date,
    json: bool,
) -> anyhow::Result<()> {
    let first = estimate(project, &synthesize(project, env, options)?, as_of)?;
    let Some(other) = other else {
        return emit(&if json {
            serde_json::to_string_pretty(&first)? + "\n"
        } else {
            cost::estimate_table(&first)
        });
    };
    let second = estimate(project, &synthesize(project, other, options)?, as_of)?;
    let comparison = cost::compare(&first, &second, (env, other));
    if json {
        let doc = serde_json::json!({
            "comparison": comparison,
            "estimates": [first, second],
        });
        return emit(&(serde_json::to_string_pretty(&doc)? + "\n"));
    }
    let mut text = format!(
        "monthly estimate in {}, {}, as of {} ({} vs {})\n\n",
        first.currency, first.region, as_of, env, other
    );
    text.push_str(&cost::comparison_table(&comparison, false));
    for e in [&first, &second] {
        for notice in &e.notices {
            text.push_str(&format!("notice ({}): {notice}\n", e.environment));
        }
    }
    emit(&text)
}

/// What `infra graph` draws.
#[derive(Debug, Clone, Copy)]
pub enum Picture {
    Mermaid,
    Dot,
    GraphvizSvg,
    BoxSvg,
}

/// Draws an environment's architecture to `out`, or to stdout.
pub fn graph(
    project: &Project,
    env: &str,
    options: &Options,
    picture: Picture,
    out: Option<&Path>,
) -> anyhow::Result<()> {
    let synthesis = synthesize(project, env, options)?;
    let inventory = Inventory::from_files(&synthesis.module.files)?;
    let arch = graph::architecture(&inventory);
    let text = match picture {
        Picture::Mermaid => graph::mermaid(&arch),
        Picture::Dot => graph::dot(&arch),
        Picture::GraphvizSvg => graph::graphviz_svg(&graph::dot(&arch))?,
        Picture::BoxSvg => graph::box_svg(&arch),
    };
    match out {
        Some(path) => write_file(path, text.as_bytes()),
        None => emit(&text),
    }
}

/// Which environment a report compares with.
#[derive(Debug, Clone)]
pub enum Against {
    Env(String),
    /// The first other known environment, if there is one.
    FirstOther,
    Nothing,
}

/// Writes the HTML report of an environment to `out`.
pub fn report_page(
    project: &Project,
    env: &str,
    against: Against,
    as_of: Date,
    out: &Path,
) -> anyhow::Result<()> {
    let synthesis = synthesize(project, env, &Options::default())?;
    let other = match against {
        Against::Env(name) => Some(name),
        Against::FirstOther => stacks::known_environments(&stacks::config_dir(&project.root))?
            .into_iter()
            .find(|e| e != env),
        Against::Nothing => None,
    };
    let other = match other {
        Some(name) => Some(synthesize(project, &name, &Options::default())?),
        None => None,
    };
    let html = stacks::report::render(&stacks::report::Input {
        root: &project.root,
        synthesis: &synthesis,
        against: other.as_ref(),
        as_of,
        tool: TOOL,
    })
    .with_context(|| format!("making the report of `{env}`"))?;
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    write_file(out, html.as_bytes())
}
