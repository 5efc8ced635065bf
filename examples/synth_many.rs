//! Benchmark driver (not a test): synthesizes every environment found in
//! `<root>/stacks/config/` in one process and writes each into
//! `<out>/<env>/`, as `infra synth` does for one. scripts/bench-synth.sh
//! generates N environments and times this under hyperfine and GNU time.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context as _;
use synth::output::write_module;
use synth::SynthOptions;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(root), Some(out)) = (args.next(), args.next()) else {
        anyhow::bail!("usage: synth_many <repo-root> <out-dir>");
    };
    let (root, out) = (PathBuf::from(root), PathBuf::from(out));
    let config_dir = root.join("stacks/config");
    let started = Instant::now();
    let envs = stacks::known_environments(&config_dir)?;
    let options = stacks::BuildOptions::for_repo(&root);
    let mut resources = 0;
    let mut writing = std::time::Duration::ZERO;
    for name in &envs {
        let env = stacks::load_environment(&config_dir, name)?;
        let mut app = stacks::build_app(&env, &options)?;
        app.backend(synth::Backend::local(&format!("terraform.{name}.tfstate")));
        let module = app
            .synth(&SynthOptions {
                stacks: None,
                tool: "synth_many".into(),
            })
            .with_context(|| format!("environment {name}"))?;
        resources += module
            .summary
            .iter()
            .map(|s| s.resources.len())
            .sum::<usize>();
        let write_started = Instant::now();
        write_module(&out.join(name), &module)?;
        writing += write_started.elapsed();
    }
    let total = started.elapsed();
    eprintln!(
        "{} environments, {resources} resources in {:.1} ms ({:.1} ms building and checking, {:.1} ms writing files)",
        envs.len(),
        total.as_secs_f64() * 1000.0,
        (total - writing).as_secs_f64() * 1000.0,
        writing.as_secs_f64() * 1000.0
    );
    Ok(())
}
