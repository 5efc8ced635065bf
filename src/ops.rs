//! What each command does with the one library operation,
//! [`stacks::synthesize`]: write its module, list it, or compare it, and
//! print the result.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context as _};
use serde_json::Value;
use stacks::gitops::Tree;
use stacks::{Options, Synthesis};
use synth::diff::{blocks, diff, Change};
use synth::output::{read_output, write_module};
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
        let report = write_module(&dir, &tree.module(env, TOOL))
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
    let module_differs = report(
        &blocks(&previous.module_files()).context(dir.display().to_string())?,
        &blocks(&new.module.files).context(env.to_owned())?,
        &dir.display().to_string(),
        env,
    )?;
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

/// Compares two environments, and their GitOps trees; true when they differ.
pub fn diff_envs(project: &Project, a: &str, b: &str, options: &Options) -> anyhow::Result<bool> {
    let old = synthesize(project, a, options)?;
    let new = synthesize(project, b, options)?;
    let modules_differ = report(
        &blocks(&old.module.files).context(a.to_owned())?,
        &blocks(&new.module.files).context(b.to_owned())?,
        a,
        b,
    )?;
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
    let (mut added, mut removed, mut changed) = (0, 0, 0);
    let mut text = String::new();
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
                text.push_str(&format!("~ {address}\n"));
                for attr in attrs {
                    let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "(absent)".into());
                    text.push_str(&format!(
                        "    {}: {} -> {}\n",
                        attr.path,
                        show(&attr.old),
                        show(&attr.new)
                    ));
                }
            }
        }
    }
    text.push_str(&format!(
        "{old_name} -> {new_name}: {added} added, {removed} removed, {changed} changed\n"
    ));
    emit(&text)?;
    Ok(!changes.is_empty())
}

/// Writes a report to stdout; a reader that went away early (`| head`) is not an error.
fn emit(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}
