//! What each command does with the one library operation,
//! [`stacks::synthesize`]: write its module, list it, or compare it, and
//! print the result.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context as _};
use stacks::{Options, Synthesis};
use synth::diff::{blocks, diff, Change};
use synth::output::{read_output, write_module};
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

pub fn synth(project: &Project, env: &str, options: &Options, out: &Path) -> anyhow::Result<()> {
    let started = Instant::now();
    let module = synthesize(project, env, options)?.module;
    let report =
        write_module(out, &module).with_context(|| format!("writing {}", out.display()))?;
    for warning in &report.warnings {
        eprintln!("warning: {warning}");
    }
    eprint!("{}", state_notes(&report.assessment, out));
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
                out.display()
            );
        }
    }
    let (resources, data) = count(&module);
    let stacks: Vec<&str> = module.summary.iter().map(|s| s.name.as_str()).collect();
    println!(
        "synthesized {env}: stacks {} ({resources} resources, {data} data sources) into {} \
         ({} written, {} unchanged, {} removed) in {:.1} ms",
        stacks.join(", "),
        out.display(),
        report.written.len(),
        report.unchanged.len(),
        report.removed.len(),
        started.elapsed().as_secs_f64() * 1000.0
    );
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

/// Prints the values of the environment's releases (or of one) as JSON.
pub fn values(project: &Project, env: &str, release: Option<&str>) -> anyhow::Result<()> {
    let synthesis = synthesize(project, env, &Options::default())?;
    let releases: Vec<_> = stacks::releases::release_values(&synthesis.app)
        .into_iter()
        .filter(|r| release.is_none_or(|name| r.name == name))
        .collect();
    if let (Some(name), true) = (release, releases.is_empty()) {
        bail!("environment `{env}` has no helm release named `{name}`");
    }
    let doc = serde_json::json!({"environment": env, "releases": releases});
    emit(&(serde_json::to_string_pretty(&doc)? + "\n"))
}

/// Compares the environment with the module in `out`; true when they differ.
pub fn diff_out(
    project: &Project,
    env: &str,
    options: &Options,
    out: &Path,
) -> anyhow::Result<bool> {
    let Some(previous) = read_output(out).with_context(|| format!("reading {}", out.display()))?
    else {
        bail!(
            "there is no synthesized output in {} yet; make one with `infra synth {env} --out {}`",
            out.display(),
            out.display()
        );
    };
    // Compare like with like: without --stacks, the stacks the directory holds.
    let mut options = options.clone();
    let held = previous.stacks();
    if options.stacks.is_none() && !held.is_empty() {
        println!(
            "comparing stacks {} (as held in {}; pass --stacks to choose)",
            held.join(", "),
            out.display()
        );
        options.stacks = Some(held);
    }
    let new = synthesize(project, env, &options)?.module;
    if let Some(prev_env) = previous.environment() {
        if prev_env != env {
            println!("note: {} holds environment `{prev_env}`", out.display());
        }
    }
    let differs = report(
        &previous.module_files(),
        &new.files,
        &out.display().to_string(),
        env,
    )?;
    // Without state there, judge as if what it holds had been applied: what
    // a synth into the environment's real directory would meet.
    let (assessment, state) = if previous.state.is_empty() {
        let what = format!(
            "{} holds no state; as if its module had been applied",
            out.display()
        );
        (assess_applied(&previous.files, &new)?, what)
    } else {
        (
            assess(&previous.state, Some(&previous.files), &new)?,
            previous.state.describe(),
        )
    };
    emit(&guard_report(&assessment, &state))?;
    Ok(differs)
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

/// Compares two environments; true when they differ.
pub fn diff_envs(project: &Project, a: &str, b: &str, options: &Options) -> anyhow::Result<bool> {
    let old = synthesize(project, a, options)?.module;
    let new = synthesize(project, b, options)?.module;
    report(&old.files, &new.files, a, b)
}

fn report(
    old: &BTreeMap<String, Vec<u8>>,
    new: &BTreeMap<String, Vec<u8>>,
    old_name: &str,
    new_name: &str,
) -> anyhow::Result<bool> {
    let old = blocks(old).context(old_name.to_owned())?;
    let new = blocks(new).context(new_name.to_owned())?;
    let changes = diff(&old, &new);
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

/// Writes a report to stdout; a reader that went away early (`| head`) is not an error.
fn emit(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}
