//! What each command does with the one library operation,
//! [`stacks::synthesize`]: write its module, list it, or compare it, and
//! print the result.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context as _};
use serde_json::Value;
use stacks::cost::{self, Date, Estimate};
use stacks::gitops::Tree;
use stacks::graph;
use stacks::inventory::Inventory;
use stacks::{Options, Synthesis};
use synth::diff::{blocks, diff, Change};
use synth::output::{read_output, write_module, write_plain};
use synth::refactor::{assess, assess_applied, Assessment};
use synth::Module;

const TOOL: &str = concat!("infra ", env!("CARGO_PKG_VERSION"));

/// Where the program's inputs live.
#[derive(Debug, Clone)]
pub struct Project {
    pub root: PathBuf,
}

impl Project {
    /// The given root, else the current directory when it holds the stack
    /// config, else the checkout this binary was built from.
    pub fn locate(root: Option<PathBuf>) -> anyhow::Result<Self> {
        let root = match root {
            Some(root) => root,
            None if stacks::config_dir(Path::new(".")).is_dir() => PathBuf::from("."),
            None => PathBuf::from(env!("CARGO_MANIFEST_DIR")),
        };
        if !stacks::config_dir(&root).is_dir() {
            bail!(
                "{} has no stacks/config/ directory; run from the repository root or pass --root",
                root.display()
            );
        }
        Ok(Self { root })
    }
}

/// Where a synth writes and a diff reads: the Terraform root module, and the
/// GitOps tree when the environment has one.
#[derive(Debug, Clone)]
pub struct Outputs {
    pub module: PathBuf,
    pub tree: TreeDir,
}

/// Where the GitOps tree goes.
#[derive(Debug, Clone)]
pub enum TreeDir {
    /// The checkout's own copy of the tree's path (`gitops/<env>`).
    Checkout,
    At(PathBuf),
    /// Not written (a synth into a scratch directory).
    Skip,
}

impl Outputs {
    fn tree_dir(&self, project: &Project, tree: &Tree) -> Option<PathBuf> {
        match &self.tree {
            TreeDir::Checkout => Some(project.root.join(&tree.path)),
            TreeDir::At(dir) => Some(dir.clone()),
            TreeDir::Skip => None,
        }
    }
}

/// The GitOps tree of a synthesis that includes the app stack (the stack
/// whose releases the tree delivers); a phase-1 synth has none.
fn delivered_tree(synthesis: &Synthesis) -> Option<&Tree> {
    let app = stacks::Layer::App.name();
    synthesis
        .gitops
        .as_ref()
        .filter(|_| synthesis.module.summary.iter().any(|s| s.name == app))
}

/// Synthesizes an environment and prints the notes it has for the user.
fn synthesize(project: &Project, env: &str, options: &Options) -> anyhow::Result<Synthesis> {
    let options = Options {
        tool: TOOL.to_owned(),
        ..options.clone()
    };
    let synthesis = stacks::synthesize(&project.root, env, &options)?;
    for note in &synthesis.notes {
        eprintln!("{note}");
    }
    Ok(synthesis)
}

fn count(module: &Module) -> (usize, usize) {
    module.summary.iter().fold((0, 0), |(r, d), s| {
        (r + s.resources.len(), d + s.data_sources.len())
    })
}

pub fn synth(project: &Project, env: &str, options: &Options, out: &Outputs) -> anyhow::Result<()> {
    let started = Instant::now();
    let synthesis = synthesize(project, env, options)?;
    let module = &synthesis.module;
    let report = write_module(&out.module, module)
        .with_context(|| format!("writing {}", out.module.display()))?;
    for warning in &report.warnings {
        eprintln!("warning: {warning}");
    }
    eprint!("{}", state_notes(&report.assessment, &out.module));
    for address in &options.allow_destroy {
        if !report
            .assessment
            .destroyed
            .iter()
            .any(|d| &d.address == address)
        {
            eprintln!(
                "note: --allow-destroy {address}: this synth takes no stateful resource of that \
                 address out of the state in {}",
                out.module.display()
            );
        }
    }
    let (resources, data) = count(module);
    let stacks: Vec<&str> = module.summary.iter().map(|s| s.name.as_str()).collect();
    println!(
        "synthesized {env}: stacks {} ({resources} resources, {data} data sources) into {} \
         ({} written, {} unchanged, {} removed) in {:.1} ms",
        stacks.join(", "),
        out.module.display(),
        report.written.len(),
        report.unchanged.len(),
        report.removed.len(),
        started.elapsed().as_secs_f64() * 1000.0
    );
    if let Some(tree) = delivered_tree(&synthesis) {
        let Some(dir) = out.tree_dir(project, tree) else {
            eprintln!(
                "note: the GitOps tree of {env} was not written (--out without --gitops-out)"
            );
            return Ok(());
        };
        let report = write_plain(&dir, &tree.module(env, TOOL))
            .with_context(|| format!("writing the GitOps tree {}", dir.display()))?;
        for warning in &report.warnings {
            eprintln!("warning: {warning}");
        }
        println!(
            "GitOps tree of {env}: {} Argo CD applications into {} ({} written, {} unchanged, \
             {} removed); commit it, Argo CD reads {} from git",
            tree.releases.len(),
            dir.display(),
            report.written.len(),
            report.unchanged.len(),
            report.removed.len(),
            tree.path
        );
    }
    Ok(())
}

pub fn validate(project: &Project, env: &str, options: &Options) -> anyhow::Result<()> {
    let module = synthesize(project, env, options)?.module;
    let (resources, data) = count(&module);
    println!(
        "{env}: {} stack(s), {resources} resources and {data} data sources pass every check \
         (references, cycles, providers, provider schemas, policies); nothing written",
        module.summary.len()
    );
    Ok(())
}

pub fn list(project: &Project, env: Option<&str>) -> anyhow::Result<()> {
    let Some(env) = env else {
        let known = stacks::known_environments(&stacks::config_dir(&project.root))?;
        println!("environments: {}", known.join(", "));
        println!("stacks: {}", stacks::STACKS.join(", "));
        return Ok(());
    };
    let module = synthesize(project, env, &Options::default())?.module;
    let mut text = String::new();
    for stack in &module.summary {
        text.push_str(&format!("{} ({})\n", stack.name, stack.description));
        for address in stack.resources.iter().chain(&stack.data_sources) {
            text.push_str(&format!("  {address}\n"));
        }
        for output in &stack.outputs {
            text.push_str(&format!("  output.{output}\n"));
        }
    }
    emit(&text)
}

/// Prints the values of the environment's releases (or of one) as JSON:
/// those terraform applies, and those Argo CD delivers (`"delivery":
/// "argocd"`, their charts' paths relative to the GitOps tree), with the
/// values the terraform path would pass them.
pub fn values(project: &Project, env: &str, release: Option<&str>) -> anyhow::Result<()> {
    let synthesis = synthesize(project, env, &Options::default())?;
    let mut releases: Vec<(&str, stacks::releases::ReleaseValues)> =
        stacks::releases::release_values(&synthesis.app)
            .into_iter()
            .map(|r| ("terraform", r))
            .collect();
    if let Some(tree) = &synthesis.gitops {
        releases.extend(tree.releases.iter().map(|r| ("argocd", r.clone())));
    }
    let releases: Vec<Value> = releases
        .into_iter()
        .filter(|(_, r)| release.is_none_or(|name| r.name == name))
        .map(|(delivery, r)| {
            let mut value = serde_json::to_value(r).unwrap_or(Value::Null);
            if let Value::Object(fields) = &mut value {
                fields.insert("delivery".into(), Value::from(delivery));
            }
            value
        })
        .collect();
    if let (Some(name), true) = (release, releases.is_empty()) {
        bail!("environment `{env}` has no helm release named `{name}`");
    }
    let doc = serde_json::json!({
        "environment": env,
        "gitops_tree": synthesis.gitops.as_ref().map(|t| t.path.clone()),
        "releases": releases,
    });
    emit(&(serde_json::to_string_pretty(&doc)? + "\n"))
}

/// Compares the environment with the module in `out` and, when it has one,
/// its GitOps tree with the tree's directory; true when either differs.
pub fn diff_out(
    project: &Project,
    env: &str,
    options: &Options,
    out: &Outputs,
    as_of: Date,
) -> anyhow::Result<bool> {
    let dir = &out.module;
    let Some(previous) = read_output(dir).with_context(|| format!("reading {}", dir.display()))?
    else {
        bail!(
            "there is no synthesized output in {} yet; make one with `infra synth {env} --out {}`",
            dir.display(),
            dir.display()
        );
    };
    // Compare like with like: without --stacks, the stacks the directory holds.
    let mut options = options.clone();
    let held = previous.stacks();
    if options.stacks.is_none() && !held.is_empty() {
        println!(
            "comparing stacks {} (as held in {}; pass --stacks to choose)",
            held.join(", "),
            dir.display()
        );
        options.stacks = Some(held);
    }
    let new = synthesize(project, env, &options)?;
    if let Some(prev_env) = previous.environment() {
        if prev_env != env {
            println!("note: {} holds environment `{prev_env}`", dir.display());
        }
    }
    let old_files = previous.module_files();
    let dir_name = dir.display().to_string();
    let module_differs = report(
        &blocks(&old_files).context(dir_name.clone())?,
        &blocks(&new.module.files).context(env.to_owned())?,
        &dir_name,
        env,
    )?;
    // Without state there, judge as if what it holds had been applied: what
    // a synth into the environment's real directory would meet.
    let (assessment, state) = if previous.state.is_empty() {
        let what = format!("{dir_name} holds no state; as if its module had been applied");
        (assess_applied(&previous.files, &new.module)?, what)
    } else {
        (
            assess(&previous.state, Some(&previous.files), &new.module)?,
            previous.state.describe(),
        )
    };
    emit(&guard_report(&assessment, &state))?;
    emit(&cost_change(
        project,
        &old_files,
        &new.module.files,
        (&dir_name, env),
        as_of,
    ))?;
    let Some(tree) = delivered_tree(&new) else {
        return Ok(module_differs);
    };
    let tree_dir = out
        .tree_dir(project, tree)
        .unwrap_or_else(|| project.root.join(&tree.path));
    let held = read_output(&tree_dir)
        .with_context(|| format!("reading the GitOps tree {}", tree_dir.display()))?;
    if held.is_none() {
        println!(
            "note: there is no GitOps tree in {} yet; `infra synth {env}` writes it",
            tree_dir.display()
        );
    }
    let old = held.map(|p| p.files).unwrap_or_default();
    let tree_differs = report(
        &tree_blocks(&old, &tree_dir.display().to_string())?,
        &tree_blocks(&tree.files, env)?,
        &tree_dir.display().to_string(),
        &format!("{env} (GitOps tree)"),
    )?;
    Ok(module_differs || tree_differs)
}

/// What `diff` adds against a directory: likely renames and the stateful
/// resources a synth there would refuse to take out of the state (a
/// stateful rename is told once, there).
fn guard_report(assessment: &Assessment, state: &str) -> String {
    let mut text = String::new();
    let renames: Vec<_> = unguarded_renames(assessment).collect();
    if !renames.is_empty() {
        text.push_str(
            "likely renames without a moved entry (terraform would destroy the first and create \
             the second):\n",
        );
        for rename in renames {
            text.push_str(&format!(
                "  {} -> {} ({})\n    to keep it: {}\n",
                rename.from,
                rename.to,
                rename.likeness(),
                rename.hint()
            ));
        }
    }
    let destroyed: Vec<String> = assessment.destroyed.iter().map(|d| d.describe()).collect();
    if !destroyed.is_empty() {
        text.push_str(&format!(
            "stateful resources this takes out of the state ({state}); `infra synth` refuses \
             them unless allowed:\n"
        ));
        for line in destroyed {
            text.push_str(&format!("  - {line}\n"));
        }
    }
    text
}

/// Likely renames of resources the destroy guard does not speak for.
fn unguarded_renames(assessment: &Assessment) -> impl Iterator<Item = &synth::diff::Rename> {
    assessment
        .renames
        .iter()
        .filter(|r| !assessment.destroyed.iter().any(|d| d.address == r.from))
}

/// What `synth` tells besides its summary: destroys the user allowed,
/// renames that are not stateful (nothing refused them), and a state the
/// guard could not see into.
fn state_notes(assessment: &Assessment, out: &Path) -> String {
    let mut text = String::new();
    for d in assessment.destroyed.iter().filter(|d| d.allowed) {
        text.push_str(&format!(
            "warning: terraform will destroy {} ({}) on the next apply: allowed by --allow-destroy\n",
            d.address, d.loses
        ));
    }
    for rename in unguarded_renames(assessment) {
        text.push_str(&format!(
            "note: {} looks renamed to {} ({}): terraform will destroy and create it; to keep \
             it, {}\n",
            rename.from,
            rename.to,
            rename.likeness(),
            rename.hint()
        ));
    }
    if assessment.blind {
        text.push_str(&format!(
            "note: {} holds {}, and no module synthesized there before stands for what it \
             holds: nothing could be checked against it\n",
            out.display(),
            assessment.state.describe()
        ));
    }
    text
}

/// Compares two environments, their costs and their GitOps trees; true
/// when they differ.
pub fn diff_envs(
    project: &Project,
    a: &str,
    b: &str,
    options: &Options,
    as_of: Date,
) -> anyhow::Result<bool> {
    let old = synthesize(project, a, options)?;
    let new = synthesize(project, b, options)?;
    let modules_differ = report(
        &blocks(&old.module.files).context(a.to_owned())?,
        &blocks(&new.module.files).context(b.to_owned())?,
        a,
        b,
    )?;
    emit(&cost_change(
        project,
        &old.module.files,
        &new.module.files,
        (a, b),
        as_of,
    ))?;
    let (old_tree, new_tree) = (delivered_tree(&old), delivered_tree(&new));
    if old_tree.is_none() && new_tree.is_none() {
        return Ok(modules_differ);
    }
    let files = |t: Option<&Tree>| t.map(|t| t.files.clone()).unwrap_or_default();
    let trees_differ = report(
        &tree_blocks(&files(old_tree), a)?,
        &tree_blocks(&files(new_tree), b)?,
        &format!("{a} (GitOps tree)"),
        &format!("{b} (GitOps tree)"),
    )?;
    Ok(modules_differ || trees_differ)
}

fn tree_blocks(
    files: &BTreeMap<String, Vec<u8>>,
    name: &str,
) -> anyhow::Result<BTreeMap<String, Value>> {
    stacks::gitops::blocks(files).with_context(|| format!("{name} (GitOps tree)"))
}

fn report(
    old: &BTreeMap<String, Value>,
    new: &BTreeMap<String, Value>,
    old_name: &str,
    new_name: &str,
) -> anyhow::Result<bool> {
    let changes = diff(old, new);
    let (mut added, mut removed, mut changed, mut moved) = (0, 0, 0, 0);
    let mut text = String::new();
    let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "(absent)".into());
    let attr_lines = |attrs: &[synth::diff::AttrChange]| -> String {
        attrs
            .iter()
            .map(|attr| {
                format!(
                    "    {}: {} -> {}\n",
                    attr.path,
                    show(&attr.old),
                    show(&attr.new)
                )
            })
            .collect()
    };
    for change in &changes {
        match change {
            Change::Added(address) => {
                added += 1;
                text.push_str(&format!("+ {address}\n"));
            }
            Change::Removed(address) => {
                removed += 1;
                text.push_str(&format!("- {address}\n"));
            }
            Change::Changed(address, attrs) => {
                changed += 1;
                text.push_str(&format!("~ {address}\n{}", attr_lines(attrs)));
            }
            Change::Moved { from, to, attrs } => {
                moved += 1;
                text.push_str(&format!("> {from} -> {to} (moved)\n{}", attr_lines(attrs)));
            }
        }
    }
    text.push_str(&format!(
        "{old_name} -> {new_name}: {added} added, {removed} removed, {changed} changed, \
         {moved} moved\n"
    ));
    emit(&text)?;
    Ok(!changes.is_empty())
}

/// The monthly cost of both sides and the items that change; the block
/// diff stands on its own when a side cannot be priced.
fn cost_change(
    project: &Project,
    old: &BTreeMap<String, Vec<u8>>,
    new: &BTreeMap<String, Vec<u8>>,
    (old_name, new_name): (&str, &str),
    as_of: Date,
) -> String {
    let price = |files, name: &str| {
        cost::estimate_module(&project.root, files, as_of)
            .with_context(|| format!("pricing {name}"))
    };
    let (before, after) = match (price(old, old_name), price(new, new_name)) {
        (Ok(before), Ok(after)) => (before, after),
        (Err(e), _) | (_, Err(e)) => {
            return format!("\nmonthly cost: not compared ({e:#})\n");
        }
    };
    let comparison = cost::compare(&before, &after, (old_name, new_name));
    let mut text = format!(
        "\nmonthly cost in {}, as of {as_of}: {} -> {} ({})\n",
        after.currency,
        cost::money(before.totals.monthly),
        cost::money(after.totals.monthly),
        cost::signed(comparison.change())
    );
    if comparison.rows.iter().any(cost::Row::differs) {
        text.push_str(&cost::comparison_table(&comparison, true));
    }
    for notice in before.notices.iter().filter(|n| n.contains("older infra")) {
        text.push_str(&format!("notice ({old_name}): {notice}\n"));
    }
    text
}

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

/// Writes a whole file or nothing: a sibling temporary file renamed into place.
fn write_file(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let name = path
        .file_name()
        .with_context(|| format!("{} is not a file path", path.display()))?;
    let temporary = path.with_file_name(format!(".{}.tmp", name.to_string_lossy()));
    fs::write(&temporary, bytes).with_context(|| format!("writing {}", temporary.display()))?;
    fs::rename(&temporary, path).with_context(|| format!("writing {}", path.display()))?;
    eprintln!("wrote {}", path.display());
    Ok(())
}

/// Writes a report to stdout; a reader that went away early (`| head`) is not an error.
fn emit(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}
