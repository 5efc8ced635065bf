//! What each command does: load an environment, build its stacks, check and
//! synthesize them, and write, list or compare the result.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context as _};
use stacks::{BuildOptions, Environment};
use synth::diff::{blocks, diff, Change};
use synth::output::{read_output, write_module};
use synth::{App, Backend, Expr, Module, SynthOptions};

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
            None if Path::new("stacks/config").is_dir() => PathBuf::from("."),
            None => PathBuf::from(env!("CARGO_MANIFEST_DIR")),
        };
        if !root.join("stacks/config").is_dir() {
            bail!(
                "{} has no stacks/config/ directory; run from the repository root or pass --root",
                root.display()
            );
        }
        Ok(Self { root })
    }

    fn config_dir(&self) -> PathBuf {
        self.root.join("stacks/config")
    }
}

/// Command-line choices that shape a synthesis.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub stacks: Option<Vec<String>>,
    pub emulator: Option<String>,
    pub state_bucket: Option<String>,
}

impl Options {
    fn synth_options(&self) -> SynthOptions {
        SynthOptions {
            stacks: self.stacks.clone(),
            tool: TOOL.to_owned(),
        }
    }
}

fn load(project: &Project, env: &str) -> anyhow::Result<Environment> {
    Ok(stacks::load_environment(&project.config_dir(), env)?)
}

/// Builds the environment's app, with its state backend chosen per environment
/// so one environment's config can never be applied to another's state.
fn build(project: &Project, env: &Environment, options: &Options) -> anyhow::Result<App> {
    if let Some(bucket) = &options.state_bucket {
        if !stacks::config::is_s3_bucket_name(bucket) {
            bail!(
                "--state-bucket `{bucket}` is not an S3 bucket name (3 to 63 lowercase letters, digits, `-`, `.`)"
            );
        }
        if let Some(configured) = env
            .config
            .ci
            .state_bucket
            .as_deref()
            .filter(|c| c != bucket)
        {
            eprintln!(
                "warning: --state-bucket {bucket} differs from ci.state_bucket {configured} in {}; \
                 the CI deployer role may only use the configured bucket",
                env.source.display()
            );
        }
    }
    let mut build = BuildOptions::for_repo(&project.root);
    build.emulator = options.emulator.clone();
    let mut app = stacks::build_app(env, &build)
        .with_context(|| format!("building environment `{}`", env.name))?;
    app.backend(backend(env, options));
    Ok(app)
}

fn backend(env: &Environment, options: &Options) -> Backend {
    let Some(bucket) = &options.state_bucket else {
        return Backend::local(&format!("terraform.{}.tfstate", env.name));
    };
    let key = format!("{}/terraform.tfstate", env.name);
    let backend = Backend::s3(bucket, &key, &env.config.region);
    match &options.emulator {
        // The emulator accepts any credentials and has no account or region
        // metadata to validate against.
        Some(url) => backend
            .set("endpoints", Expr::object([("s3", url.as_str())]))
            .set("use_path_style", true)
            .set("access_key", "emulator")
            .set("secret_key", "emulator")
            .set("skip_credentials_validation", true)
            .set("skip_requesting_account_id", true)
            .set("skip_metadata_api_check", true)
            .set("skip_region_validation", true),
        None => backend,
    }
}

fn synthesize(project: &Project, env_name: &str, options: &Options) -> anyhow::Result<Module> {
    let env = load(project, env_name)?;
    let app = build(project, &env, options)?;
    app.synth(&options.synth_options()).with_context(|| {
        format!(
            "checking environment `{env_name}` ({})",
            env.source.display()
        )
    })
}

fn count(module: &Module) -> (usize, usize) {
    module.summary.iter().fold((0, 0), |(r, d), s| {
        (r + s.resources.len(), d + s.data_sources.len())
    })
}

pub fn synth(project: &Project, env: &str, options: &Options, out: &Path) -> anyhow::Result<()> {
    let started = Instant::now();
    let module = synthesize(project, env, options)?;
    let report =
        write_module(out, &module).with_context(|| format!("writing {}", out.display()))?;
    for warning in &report.warnings {
        eprintln!("warning: {warning}");
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
    let module = synthesize(project, env, options)?;
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
        let known = stacks::known_environments(&project.config_dir())?;
        println!("environments: {}", known.join(", "));
        println!("stacks: {}", stacks::STACKS.join(", "));
        return Ok(());
    };
    let module = synthesize(project, env, &Options::default())?;
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
    let new = synthesize(project, env, &options)?;
    if let Some(prev_env) = previous.environment() {
        if prev_env != env {
            println!("note: {} holds environment `{prev_env}`", out.display());
        }
    }
    report(&previous.files, &new.files, &out.display().to_string(), env)
}

/// Compares two environments; true when they differ.
pub fn diff_envs(project: &Project, a: &str, b: &str, options: &Options) -> anyhow::Result<bool> {
    let old = synthesize(project, a, options)?;
    let new = synthesize(project, b, options)?;
    report(&old.files, &new.files, a, b)
}

fn report(
    old: &BTreeMap<String, Vec<u8>>,
    new: &BTreeMap<String, Vec<u8>>,
    old_name: &str,
    new_name: &str,
) -> anyhow::Result<bool> {
    let old = blocks(old)
        .map_err(anyhow::Error::msg)
        .context(old_name.to_owned())?;
    let new = blocks(new)
        .map_err(anyhow::Error::msg)
        .context(new_name.to_owned())?;
    let changes = diff(&old, &new);
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
