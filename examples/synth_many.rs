//! Benchmark driver (not a test): synthesizes every environment found in
//! `<root>/stacks/config/` in one process and writes each into
//! `<out>/<env>/`, as `infra synth` does for one. scripts/bench-synth.sh
//! generates N environments and times this under hyperfine and GNU time.

use std::path::PathBuf;
use std::time::Instant;

use synth::output::write_module;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(root), Some(out)) = (args.next(), args.next()) else {
        anyhow::bail!("usage: synth_many <repo-root> <out-dir>");
    };
    let (root, out) = (PathBuf::from(root), PathBuf::from(out));
    let started = Instant::now();
    let envs = stacks::known_environments(&stacks::config_dir(&root))?;
    let options = stacks::Options {
        tool: "synth_many".into(),
        ..stacks::Options::default()
    };
    let mut resources = 0;
    let mut writing = std::time::Duration::ZERO;
    for name in &envs {
        let module = stacks::synthesize(&root, name, &options)?.module;
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
