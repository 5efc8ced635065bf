//! What each command does with the one library operation,
//! [`stacks::synthesize`]: write its module, list it, or compare it
//! ([`diff`]), price or draw it ([`see`]), and print the result.

mod diff;
mod see;

use diff::state_notes;
pub use diff::{diff_envs, diff_out};
pub use see::{as_of, cost, graph, report_page, Against, Picture};

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context as _};
use serde_json::Value;
use stacks::gitops::Tree;
use stacks::{Options, Synthesis};
use synth::output::{write_module, write_plain};
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
