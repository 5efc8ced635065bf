//! Reading back what an output directory holds (for `diff`), after
//! recovering from an interrupted synth, so what is read is what terraform
//! reads.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use super::flat::listed_file;
use super::fsops::{io_error, kind, lock, names, Fs, Kind, Observer};
use super::layout::{recover, Recorded, State};
use super::state::{state_view, StateView};
use crate::app::MANIFEST_FILE;
use crate::error::SynthError;
use crate::manifest::{Manifest, SYNTH_DIR};

/// The module a directory holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Previous {
    /// `None` when the directory has `.tf.json` files but no readable manifest.
    pub manifest: Option<Manifest>,
    /// The module's files (manifest aside), by path relative to the directory.
    pub files: BTreeMap<String, Vec<u8>>,
    /// The terraform state beside it.
    pub state: StateView,
}

impl Previous {
    pub fn environment(&self) -> Option<&str> {
        self.manifest.as_ref().map(|m| m.environment.as_str())
    }

    /// The module's files with its manifest, as [`crate::diff::blocks`] reads
    /// a module (the manifest carries the program's metadata).
    pub fn module_files(&self) -> BTreeMap<String, Vec<u8>> {
        let mut files = self.files.clone();
        if let Some(manifest) = &self.manifest {
            files.insert(crate::MANIFEST_FILE.to_owned(), manifest.to_bytes());
        }
        files
    }

    /// The stacks the directory holds, as its manifest records them.
    pub fn stacks(&self) -> Vec<String> {
        self.manifest
            .as_ref()
            .map(Manifest::stack_names)
            .unwrap_or_default()
    }
}

/// What `dir` holds; `Ok(None)` when there is no synthesized output there yet
/// (no directory, or nothing synth or terraform configuration in it). An
/// interrupted synth found there is finished or undone first.
pub fn read_output(dir: &Path) -> Result<Option<Previous>, SynthError> {
    read_output_observed(dir, &mut |_| Ok(()))
}

/// [`read_output`], with each change its recovery makes observed as in
/// [`super::write_module_observed`].
#[doc(hidden)]
pub fn read_output_observed(
    dir: &Path,
    observe: Observer<'_>,
) -> Result<Option<Previous>, SynthError> {
    match fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => return Err(SynthError::NotADirectory(dir.to_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error(dir)(e)),
    }
    let synth_dir = dir.join(SYNTH_DIR);
    let _lock = match kind(&synth_dir)? {
        Kind::Dir => Some(lock(&synth_dir)?),
        _ => None,
    };
    let state = recover(&mut Fs::new(observe), dir)?;
    let manifest = match &state {
        State::Linked(generation) => generation.recorded.manifest().cloned(),
        State::Flat(recorded) => recorded.manifest().cloned(),
    };
    let files = module_files(dir, &state)?;
    if manifest.is_none() && files.is_empty() {
        return Ok(None);
    }
    Ok(Some(Previous {
        manifest,
        files,
        state: state_view(dir)?,
    }))
}

/// The files of the module a recovered directory holds (manifest aside):
/// the current generation's, a flat directory's listed files, or with no
/// manifest at all its top-level `*.tf.json` files.
pub(crate) fn module_files(
    dir: &Path,
    state: &State,
) -> Result<BTreeMap<String, Vec<u8>>, SynthError> {
    let files = match state {
        State::Linked(generation) => generation.files()?,
        State::Flat(Recorded::Valid(manifest)) => flat_files(dir, manifest)?,
        State::Flat(_) => loose_tf_files(dir)?,
    };
    Ok(files.into_iter().collect())
}

/// The files a flat directory's manifest lists that are there.
fn flat_files(dir: &Path, manifest: &Manifest) -> Result<Vec<(String, Vec<u8>)>, SynthError> {
    let manifest_path = dir.join(MANIFEST_FILE);
    let mut out = Vec::new();
    for entry in &manifest.files {
        if listed_file(dir, &manifest_path, entry)? {
            let path = dir.join(entry);
            out.push((entry.clone(), fs::read(&path).map_err(io_error(&path))?));
        }
    }
    Ok(out)
}

/// A directory of terraform JSON with no manifest: its top-level files.
fn loose_tf_files(dir: &Path) -> Result<Vec<(String, Vec<u8>)>, SynthError> {
    let mut out = Vec::new();
    for name in names(dir)? {
        let path = dir.join(&name);
        if name.ends_with(".tf.json") && kind(&path)? == Kind::File {
            out.push((name, fs::read(&path).map_err(io_error(&path))?));
        }
    }
    Ok(out)
}
