//! `infra diff`: an environment against its written module and GitOps tree,
//! or two environments against each other, with the cost that changes.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context as _};
use serde_json::Value;
use stacks::cost::{self, Date};
use stacks::gitops::Tree;
use stacks::Options;
use synth::diff::{blocks, diff, Change};
use synth::output::read_output;
use synth::refactor::{assess, assess_applied, Assessment};

use super::{delivered_tree, emit, synthesize, Outputs, Project};

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
pub(super) fn state_notes(assessment: &Assessment, out: &Path) -> String {
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
