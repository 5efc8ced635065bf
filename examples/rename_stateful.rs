//! Check driver (not a test): renames every stateful construct of an
//! environment's AWS stacks (network, iam, eks) to `<name>_renamed`, each
//! with the `moved_from` entry that keeps its state, and writes those stacks
//! into `<out-dir>` (the app stack's, namespaces, need the cluster's
//! providers, which `terraform validate` offline does not have). scripts/tf-validate.sh runs `terraform validate` on it, so
//! real terraform and the aws provider accept a `moved` block for every
//! stateful resource the stacks have; stacks/tests/refactor.rs shows the
//! same renames satisfy the destroy guard, and are refused without them.

use std::path::PathBuf;

use stacks::aws::stateful::stateful_resources;
use synth::output::write_module;
use synth::{Address, SynthOptions};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(root), Some(env), Some(out)) = (args.next(), args.next(), args.next()) else {
        anyhow::bail!("usage: rename_stateful <repo-root> <env> <out-dir>");
    };
    let root = PathBuf::from(root);
    let environment = stacks::load_environment(&root, &env)?;
    let mut app = stacks::build(&environment, &stacks::chart_dir(&root))?;
    let aws: Vec<Address> = app
        .stacks()
        .iter()
        .filter(|s| stacks::AWS_STACKS.contains(&s.name()))
        .flat_map(|s| s.resources())
        .map(|r| r.address())
        .collect();
    let mut moves = Vec::new();
    for old in stateful_resources(&app)
        .into_iter()
        .filter(|a| aws.contains(a))
    {
        let Address::Resource { ty, name } = &old else {
            continue;
        };
        let new = app.rename_resource(&old, &format!("{name}_renamed"))?;
        app.stacks_mut()
            .iter_mut()
            .find_map(|s| s.find_mut(&new))
            .ok_or_else(|| anyhow::anyhow!("{new} vanished after renaming"))?
            .moved_from(ty, name);
        moves.push(format!("{old} -> {new}"));
    }
    let module = app.synth(&SynthOptions {
        stacks: Some(stacks::AWS_STACKS.iter().map(|s| (*s).to_owned()).collect()),
        tool: "rename_stateful".into(),
    })?;
    write_module(&PathBuf::from(&out), &module)?;
    println!(
        "{env}: {} stateful constructs renamed with moved entries:",
        moves.len()
    );
    for line in moves {
        println!("  {line}");
    }
    Ok(())
}
