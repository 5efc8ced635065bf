//! The environment guard: a module is never written over a directory that
//! terraform has initialised or kept state in for another environment, as
//! the directory's manifest records it.

use std::path::Path;

use super::fsops::names;
use super::layout::Recorded;
use crate::error::SynthError;
use crate::manifest::{is_terraform_owned, StateBackend};

/// Refuses to write a module for `environment` into `dir` when its manifest
/// records another environment and terraform has been there.
pub(crate) fn check(
    dir: &Path,
    recorded: &Recorded,
    environment: &str,
    _backend: &StateBackend,
) -> Result<(), SynthError> {
    let Recorded::Valid(previous) = recorded else {
        return Ok(());
    };
    if previous.environment == environment {
        return Ok(());
    }
    let evidence: Vec<String> = names(dir)?
        .into_iter()
        .filter(|name| is_terraform_owned(name))
        .map(|name| format!("{}: terraform's", dir.join(name).display()))
        .collect();
    if evidence.is_empty() {
        return Ok(());
    }
    Err(SynthError::EnvironmentMismatch {
        dir: dir.to_owned(),
        previous: previous.environment.clone(),
        requested: environment.to_owned(),
        evidence,
    })
}
