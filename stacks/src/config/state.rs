//! The `[state]` section: what an environment's terraform state needs beside
//! the resources. Whether terraform must refuse to destroy the stateful
//! resources (`prevent_destroy`; production's floor requires it), existing
//! objects to adopt (`[[state.import]]`, an `import` block each), and former
//! addresses of resources whose names come from config (`[[state.moved]]`;
//! a construct renamed in code says so with `moved_from` next to it).
//!
//! The entries are checked here for their form; that each names a resource
//! the environment has is checked against the construct tree
//! (`crate::refactor`).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use synth::Address;

use super::check::{Scope, Section};
use super::Config;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateConfig {
    /// Every stateful resource (`crate::aws::stateful`) carries
    /// `lifecycle.prevent_destroy`: terraform refuses a plan that destroys it.
    #[serde(default)]
    pub prevent_destroy: bool,
    /// Existing objects the next apply adopts instead of creating.
    #[serde(default)]
    pub import: Vec<ImportEntry>,
    /// Resources that had another address before.
    #[serde(default)]
    pub moved: Vec<MovedEntry>,
}

/// `import { to = <to>, id = <id> }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportEntry {
    /// The resource that adopts the object: `aws_ecr_repository.service`.
    pub to: String,
    /// The object's ID, as the resource type's import documentation names it.
    pub id: String,
}

/// `moved { from = <from>, to = <to> }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MovedEntry {
    pub from: String,
    pub to: String,
}

/// A managed resource address, or what is wrong with `text`.
pub(crate) fn resource_address(text: &str) -> Result<Address, String> {
    match Address::parse(text) {
        Some(address @ Address::Resource { .. }) => Ok(address),
        Some(_) => Err(format!(
            "`{text}` is a data source; only managed resources have state"
        )),
        None => Err(format!(
            "`{text}` is not a resource address like `aws_ecr_repository.service`"
        )),
    }
}

impl Section for StateConfig {
    const KEY: &'static str = "state";
    type Checked = ();

    fn check(&self, _: &Config, at: &mut Scope<'_>) {
        let mut targets = BTreeSet::new();
        for (i, entry) in self.import.iter().enumerate() {
            if let Err(problem) = resource_address(&entry.to) {
                at.problem(format!("import[{i}].to"), problem);
            } else if !targets.insert(entry.to.as_str()) {
                at.problem(
                    format!("import[{i}].to"),
                    format!("`{}` is imported twice", entry.to),
                );
            }
            if entry.id.trim().is_empty() {
                at.problem(format!("import[{i}].id"), "is empty");
            }
        }
        let mut sources = BTreeSet::new();
        for (i, entry) in self.moved.iter().enumerate() {
            for (field, text) in [("from", &entry.from), ("to", &entry.to)] {
                if let Err(problem) = resource_address(text) {
                    at.problem(format!("moved[{i}].{field}"), problem);
                }
            }
            if entry.from == entry.to {
                at.problem(format!("moved[{i}]"), "moves a resource to its own address");
            } else if !sources.insert(entry.from.as_str()) {
                at.problem(
                    format!("moved[{i}].from"),
                    format!(
                        "`{}` is moved twice; its state can go to one place only",
                        entry.from
                    ),
                );
            }
        }
    }
}
