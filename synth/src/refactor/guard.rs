//! The destroy guard: which stateful resources a module would take out of
//! the state of the directory it is written into, and how to proceed.
//!
//! "In the state" means: listed by a local state file the directory holds,
//! or, where the state cannot be read (a remote backend), declared by the
//! module synthesized there before. A resource leaves the state when the new
//! module no longer declares it and no `moved` block of the new module takes
//! it to another address; terraform would destroy it on the next apply.

use std::collections::{BTreeMap, BTreeSet};

use crate::app::{Module, MANIFEST_FILE};
use crate::diff::{blocks, renames, resource_type, Blocks, Rename};
use crate::error::SynthError;
use crate::output::StateView;

/// What writing a module over a directory does to the state there.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Assessment {
    /// The directory's state, as the guard saw it.
    pub state: StateView,
    /// Removed and added resources that look like renames, between the
    /// module synthesized there before and this one, with no `moved` block.
    pub renames: Vec<Rename>,
    /// Stateful resources the module would take out of the state.
    pub destroyed: Vec<Destroyed>,
    /// The state could not be read and no earlier module stands for it:
    /// nothing is known about what it holds.
    pub blind: bool,
}

impl Assessment {
    /// The destroyed resources nobody allowed: the write is refused.
    pub fn refused(&self) -> impl Iterator<Item = &Destroyed> {
        self.destroyed.iter().filter(|d| !d.allowed)
    }
}

/// A stateful resource the module would destroy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destroyed {
    pub address: String,
    /// What is lost with it (as the program describes its type).
    pub loses: String,
    /// The user allowed it by address.
    pub allowed: bool,
    /// An added resource it looks renamed to.
    pub renamed: Option<Rename>,
    /// The stack that declares it, when the selection left that stack out.
    pub unselected: Option<String>,
}

impl Destroyed {
    /// The resource, what it holds, and how to keep it or let it go, on
    /// indented lines after the first.
    pub fn describe(&self) -> String {
        let (ty, name) = self.address.split_once('.').unwrap_or((&self.address, ""));
        let (what, keep) = if let Some(stack) = &self.unselected {
            (
                format!("is declared in stack `{stack}`, which --stacks leaves out"),
                format!("add `{stack}` to --stacks"),
            )
        } else if let Some(rename) = &self.renamed {
            (
                format!("looks renamed to {} ({})", rename.to, rename.likeness()),
                rename.hint(),
            )
        } else {
            (
                "is no longer declared".to_owned(),
                format!(
                    "if its construct was renamed, add `.moved_from(\"{ty}\", \"{name}\")` to \
                     the construct it became"
                ),
            )
        };
        format!(
            "{} ({}) {what}\n    to keep it: {keep}\n    to destroy it on purpose: \
             --allow-destroy {}",
            self.address, self.loses, self.address
        )
    }
}

/// What writing `module` over a directory whose state is `state` and whose
/// previous module's files are `previous` would destroy. Only `module`'s own
/// files must parse: a damaged previous module is judged as if absent.
pub fn assess(
    state: &StateView,
    previous: Option<&BTreeMap<String, Vec<u8>>>,
    module: &Module,
) -> Result<Assessment, SynthError> {
    // Without state, only renames matter, and an unchanged module has none.
    if state.is_empty() && previous.is_none_or(|files| unchanged(files, module)) {
        return Ok(Assessment::default());
    }
    let old: Option<Blocks> = previous.and_then(|files| blocks(files).ok());
    let new = blocks(&module.files)?;
    let renames = old.as_ref().map(|o| renames(o, &new)).unwrap_or_default();
    let moved_away: BTreeSet<&str> = new
        .keys()
        .filter_map(|k| k.strip_prefix("moved "))
        .collect();
    let mut held: BTreeSet<&str> = state.resources.iter().map(String::as_str).collect();
    if !state.unread.is_empty() {
        if let Some(old) = &old {
            held.extend(old.keys().map(String::as_str));
        }
    }
    let protection = &module.protection;
    let destroyed = held
        .into_iter()
        .filter(|a| !new.contains_key(*a) && !moved_away.contains(a))
        .filter_map(|address| {
            let loses = protection.stateful_type(resource_type(address)?)?;
            Some(Destroyed {
                address: address.to_owned(),
                loses: loses.to_owned(),
                allowed: protection.allow_destroy.contains(address),
                renamed: renames.iter().find(|r| r.from == address).cloned(),
                unselected: protection.unselected.get(address).cloned(),
            })
        })
        .collect();
    Ok(Assessment {
        blind: !state.unread.is_empty() && old.is_none(),
        state: state.clone(),
        renames,
        destroyed,
    })
}

/// Whether `module`'s files (its manifest aside) are exactly `previous`.
fn unchanged(previous: &BTreeMap<String, Vec<u8>>, module: &Module) -> bool {
    let mut files = module.files.iter().filter(|(n, _)| *n != MANIFEST_FILE);
    files.clone().count() == previous.len() && files.all(|(n, b)| previous.get(n) == Some(b))
}

/// [`assess`] as if everything `previous` declares had been applied: what a
/// synth would meet in a directory where that module's state is (for `diff`
/// against a directory without state, such as committed golden files).
pub fn assess_applied(
    previous: &BTreeMap<String, Vec<u8>>,
    module: &Module,
) -> Result<Assessment, SynthError> {
    let resources = blocks(previous)
        .map(|old| {
            old.into_keys()
                .filter(|k| resource_type(k).is_some())
                .collect()
        })
        .unwrap_or_default();
    let applied = StateView {
        resources,
        ..StateView::default()
    };
    assess(&applied, Some(previous), module)
}
