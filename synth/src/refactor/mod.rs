//! Refactoring without losing state. Terraform knows a resource by its
//! address, so renaming a construct destroys the object behind it and
//! creates another, unless the module says where the state went. This is
//! what the library offers for that, in the spirit of CDKTF's
//! `moveFrom`/`importFrom` and Pulumi's aliases and `import`:
//!
//! - [`crate::Resource::moved_from`] and [`crate::Resource::import_from`]
//!   next to the construct, rendered as `moved` and `import` blocks in
//!   [`crate::REFACTOR_FILE`], and checked here before anything is
//!   rendered;
//! - [`crate::App::rename_resource`], which renames a block and every
//!   reference to it in the construct tree (CDKTF's `overrideLogicalId`);
//! - the destroy guard ([`assess`]): the types a program declares stateful
//!   ([`crate::App::stateful`]) may not leave the state of an output
//!   directory unless a `moved` block takes them elsewhere or the user
//!   allows it by address ([`crate::App::allow_destroy`]). The writer runs
//!   it before it changes anything; `diff` shows what it would say.
//!
//! Which types hold data is the program's knowledge, not the library's.

mod guard;
mod rename;

use std::collections::{BTreeMap, BTreeSet};

use crate::block::Mode;
use crate::check::Index;
use crate::error::Diagnostic;
use crate::expr::Address;
use crate::stack::Stack;

pub use guard::{assess, assess_applied, Assessment, Destroyed};
pub(crate) use rename::rename;

/// What a synthesized module may not destroy, carried with the module so the
/// writer can guard the directory it is written into.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Protection {
    /// Resource types that hold data, each with what destroying one loses.
    pub stateful: BTreeMap<String, String>,
    /// Addresses the user allows this synthesis to remove from state
    /// (`--allow-destroy`).
    pub allow_destroy: BTreeSet<String>,
    /// Managed resources of stacks left out of the selection, with their
    /// stack: declared, but not in this module.
    pub unselected: BTreeMap<String, String>,
}

impl Protection {
    /// What destroying a resource of this type loses, if it is stateful.
    pub fn stateful_type(&self, ty: &str) -> Option<&str> {
        self.stateful.get(ty).map(String::as_str)
    }
}

/// The `moved_from` and `import_from` declarations of every stack: each
/// former address is gone from the program and claimed once, and only
/// managed resources move or are imported.
pub(crate) fn check(stacks: &[Stack], index: &Index, diags: &mut Vec<Diagnostic>) {
    let mut claimed: BTreeMap<&Address, Address> = BTreeMap::new();
    for r in stacks.iter().flat_map(|s| s.resources.iter()) {
        let own = r.address();
        if r.mode() == Mode::Data {
            if !r.former_addresses().is_empty() {
                diags.push(Diagnostic::new(
                    &own,
                    "has moved_from, but a data source holds no state to move; remove it",
                ));
            }
            if r.import_id().is_some() {
                diags.push(Diagnostic::new(
                    &own,
                    "has import_from, but a data source is read, never imported; remove it",
                ));
            }
            continue;
        }
        if r.import_id().is_some() && r.is_repeated() {
            diags.push(Diagnostic::new(
                &own,
                "has import_from, but it has count or for_each: an import adopts one object \
                 at one instance address, which import_from cannot name",
            ));
        }
        for from in r.former_addresses() {
            let problem = if *from == own {
                Some(format!("moved_from `{from}` names its own address"))
            } else if let Some(stack) = index.owner_of(from) {
                Some(format!(
                    "moved_from `{from}`, but `{from}` is still declared (in stack `{stack}`): \
                     state moves only away from an address no block has"
                ))
            } else {
                claimed.insert(from, own.clone()).map(|first| {
                    format!(
                        "moved_from `{from}`, which `{first}` says it used to be too: one \
                         address's state can move to one place only"
                    )
                })
            };
            if let Some(message) = problem {
                diags.push(Diagnostic::new(&own, message));
            }
        }
    }
}
