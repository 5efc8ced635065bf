//! Writing a synthesized module into its output directory, and reading it
//! back, safely.
//!
//! The output directory is shared with terraform, whose `.terraform/`, lock
//! file and state files live beside ours. So:
//!
//! - a module is written as a complete *generation* under `.synth/`, and the
//!   top-level names terraform reads are links into `.synth/current`, which
//!   one rename switches: at every instant terraform reads the whole old
//!   module or the whole new one (`layout.rs` has the picture, docs/output.md
//!   every step);
//! - the next synth, or `read_output`, finishes or undoes an interrupted one;
//! - synth only creates, replaces or removes its own entries: `.synth/` and
//!   the links into it; a manifest entry that is not a plain relative path,
//!   or a name taken by anything else, is an error naming it;
//! - terraform's files are never touched, and a directory whose state
//!   belongs to another module is refused (`guard.rs`);
//! - a module that would take a stateful resource out of the state there
//!   is refused too (`state.rs` reads the state, [`crate::refactor`] judges).
//!
//! A directory kept in git (a GitOps tree) is written by [`write_plain`]
//! instead (`plain.rs`): plain files, each replaced whole, the manifest last.

mod flat;
mod fsops;
mod guard;
mod layout;
mod plain;
mod read;
mod state;
mod write;

use std::path::Path;

pub use crate::manifest::is_terraform_owned;
pub use fsops::{Change, Observer};
pub use read::{read_output, read_output_observed, Previous};
pub use state::StateView;

use crate::app::Module;
use crate::error::SynthError;
use crate::refactor::Assessment;

/// What a write did, file by file (the manifest aside).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteReport {
    pub written: Vec<String>,
    pub unchanged: Vec<String>,
    pub removed: Vec<String>,
    /// Clean-up that failed after the new module took effect (an old
    /// generation that could not be removed, say); the next synth retries.
    pub warnings: Vec<String>,
    /// What the module does to the state there: likely renames, stateful
    /// resources it destroys because the user allowed it.
    pub assessment: Assessment,
}

/// Writes `module` into `dir` (created if missing). On error, what terraform
/// reads in `dir` is the previous module, unchanged. A module that would
/// take a stateful resource out of the state in `dir`, without a `moved`
/// block or the user's leave, is refused before anything changes.
pub fn write_module(dir: &Path, module: &Module) -> Result<WriteReport, SynthError> {
    write_module_observed(dir, module, &mut |_| Ok(()))
}

/// [`write_module`], calling `observe` before each change to the directory;
/// an error from it fails that change. Fault-injection tests use it to stop
/// a synth at every step and check what is left.
#[doc(hidden)]
pub fn write_module_observed(
    dir: &Path,
    module: &Module,
    observe: Observer<'_>,
) -> Result<WriteReport, SynthError> {
    write::write(&mut fsops::Fs::new(observe), dir, module)
}

/// Writes `module` into `dir` (created if missing) as plain files, for a
/// directory kept in git: no generations, no links, the same bytes on every
/// machine, unchanged files not touched. Each file is replaced whole (a
/// temporary file renamed over it) and the manifest is written last, so an
/// interrupted write leaves whole files, which `git status` shows and the
/// next write completes (docs/output.md). The module's own files only:
/// nothing through a symlink, outside `dir`, or that no manifest of synth's
/// lists. A directory written as generations by [`write_module`] is turned
/// into plain files; [`read_output`] reads either.
pub fn write_plain(dir: &Path, module: &Module) -> Result<WriteReport, SynthError> {
    write_plain_observed(dir, module, &mut |_| Ok(()))
}

/// [`write_plain`], calling `observe` before each change, as
/// [`write_module_observed`] does.
#[doc(hidden)]
pub fn write_plain_observed(
    dir: &Path,
    module: &Module,
    observe: Observer<'_>,
) -> Result<WriteReport, SynthError> {
    plain::write(&mut fsops::Fs::new(observe), dir, module)
}
