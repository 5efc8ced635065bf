//! Renaming a block in the construct tree: the block itself and every
//! reference to it, in every stack. What a rename does to state is not
//! decided here: pair it with [`crate::Resource::moved_from`] to keep it.

use crate::block::Mode;
use crate::error::{Diagnostic, SynthError};
use crate::expr::Address;
use crate::schema::did_you_mean;
use crate::stack::Stack;

/// Renames the resource or data source at `from` to `name`; returns its new
/// address. Fails, changing nothing, when there is no such block or the new
/// address is taken.
pub(crate) fn rename(
    stacks: &mut [Stack],
    from: &Address,
    name: &str,
) -> Result<Address, SynthError> {
    let refuse = |message: String| SynthError::Invalid(vec![Diagnostic::new(from, message)]);
    let all = || stacks.iter().flat_map(|s| s.resources.iter());
    let Some(block) = all().find(|r| &r.address() == from) else {
        let known: Vec<String> = all().map(|r| r.address().to_string()).collect();
        return Err(refuse(format!(
            "cannot be renamed: no such block{}",
            did_you_mean(&from.to_string(), known.iter().map(String::as_str))
        )));
    };
    let to = match block.mode() {
        Mode::Managed => Address::resource(block.ty(), name),
        Mode::Data => Address::data(block.ty(), name),
    };
    let is_name = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !is_name {
        return Err(refuse(format!(
            "cannot be renamed to `{name}`: a block name is letters, digits, `_` and `-`, \
             not starting with a digit or `-`"
        )));
    }
    if all().any(|r| r.address() == to) {
        return Err(refuse(format!("cannot be renamed: `{to}` exists already")));
    }
    for stack in stacks.iter_mut() {
        for r in &mut stack.resources {
            if &r.address() == from {
                r.set_name(name);
            }
            r.rename_references(from, &to);
        }
        for (_, value) in &mut stack.locals {
            value.rename_references(from, &to);
        }
        for (_, output) in &mut stack.outputs {
            output.rename_references(from, &to);
        }
        for provider in &mut stack.providers {
            provider.rename_references(from, &to);
        }
    }
    Ok(to)
}
