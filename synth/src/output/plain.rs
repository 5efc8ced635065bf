//! Writing a module as plain files, for a directory kept in git (a GitOps
//! tree): no generations, no links, the same bytes on every machine.
//!
//! ```text
//! DIR/apps/values.yaml, DIR/chart/..., ...   the module's files, as plain files
//! DIR/manifest.json                          what synth wrote there (written last)
//! ```
//!
//! A git commit, not the directory, is the unit its reader (Argo CD) takes,
//! so each file is replaced on its own (a temporary file, then a rename) and
//! a write cut short leaves whole files, some old and some new, which `git
//! status` shows and the next synth completes. Before the files change, a
//! manifest listing the old and the new files together claims both, so after
//! any interruption every file of synth's there is listed, and the next
//! synth replaces or removes it. The path checks are the module writer's:
//! nothing through a symlink, nothing outside the directory, nothing that
//! no manifest of synth's lists.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::flat::listed_file;
use super::fsops::{io_error, kind, lock, names, unique_name, Fs, Kind};
use super::guard;
use super::layout::{our_links, read_recorded, recover, Recorded, State, CURRENT};
use super::write::{checked_manifest, report};
use super::WriteReport;
use crate::app::{Module, MANIFEST_FILE};
use crate::error::SynthError;
use crate::manifest::{Manifest, StateBackend, SYNTH_DIR};

/// Names of the temporary files a write renames into place; one left by an
/// interrupted write is removed by the next.
const TEMP_PREFIX: &str = ".synth-tmp-";

pub(crate) fn write(
    fs_: &mut Fs<'_>,
    dir: &Path,
    module: &Module,
) -> Result<WriteReport, SynthError> {
    let manifest = checked_manifest(module)?;
    match std::fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => return Err(SynthError::NotADirectory(dir.to_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir).map_err(io_error(dir))?;
        }
        Err(e) => return Err(io_error(dir)(e)),
    }
    // The directory itself is locked: nothing of synth's is left beside the
    // files, and the lock goes with the process.
    let _lock = lock(dir)?;
    write_locked(fs_, dir, module, &manifest).map_err(|e| match e {
        SynthError::Change {
            action,
            path,
            error,
        } => SynthError::PartlyWritten {
            action,
            path,
            error,
        },
        other => other,
    })
}

fn write_locked(
    fs_: &mut Fs<'_>,
    dir: &Path,
    module: &Module,
    manifest: &Manifest,
) -> Result<WriteReport, SynthError> {
    let recorded = match kind(&dir.join(SYNTH_DIR))? {
        Kind::Absent => read_recorded(&dir.join(MANIFEST_FILE))?,
        _ => from_generations(fs_, dir)?,
    };
    let backend = StateBackend::of(None);
    guard::check(dir, &recorded, &module.environment, &backend)?;
    let listed = ours(dir, &recorded)?;
    // Every check before the first change: a refused write changes nothing.
    let mut old = BTreeMap::new();
    for file in module.files.keys() {
        if let Some(bytes) = target(dir, file, &listed, &recorded)? {
            old.insert(file.clone(), bytes);
        }
    }
    remove_temporaries(fs_, dir, module.files.keys().chain(&listed))?;

    let report = report(&old, &listed, module);
    let mut on_disk = old.get(MANIFEST_FILE).cloned();
    let claimed: BTreeSet<&String> = listed.iter().chain(&manifest.files).collect();
    if claimed.len() > listed.len() {
        let mut claim = manifest.clone();
        claim.files = claimed.into_iter().cloned().collect();
        let bytes = claim.to_bytes();
        replace(fs_, dir, MANIFEST_FILE, &bytes)?;
        on_disk = Some(bytes);
    }
    for name in &report.written {
        replace(fs_, dir, name, &module.files[name])?;
    }
    // Every listed file the module lacks, there or not: a write cut short
    // after removing one may have left its directories behind.
    let stale = recorded
        .manifest()
        .into_iter()
        .flat_map(|m| &m.files)
        .filter(|n| !module.files.contains_key(*n));
    for name in stale {
        if listed.contains(name) {
            fs_.remove_file(&dir.join(name))?;
        }
        remove_empty_parents(fs_, dir, name)?;
    }
    if on_disk.as_ref() != module.files.get(MANIFEST_FILE) {
        replace(fs_, dir, MANIFEST_FILE, &module.files[MANIFEST_FILE])?;
    }
    Ok(report)
}

/// A directory an older synth wrote as generations (`.synth/` and links
/// into it): recovered, then its links and generations removed. What its
/// manifest listed is written back as plain files, so an interruption
/// leaves files missing, which git shows and the next synth writes.
fn from_generations(fs_: &mut Fs<'_>, dir: &Path) -> Result<Recorded, SynthError> {
    let synth_dir = dir.join(SYNTH_DIR);
    let _lock = lock(&synth_dir)?;
    let recorded = match recover(fs_, dir)? {
        // Its files go with the generation: it vouches for none here.
        State::Linked(generation) => match generation.recorded {
            Recorded::Valid(mut manifest) => {
                manifest.files.clear();
                Recorded::Valid(manifest)
            }
            other => other,
        },
        // No generation after all: plain files its manifest lists.
        State::Flat(recorded) => recorded,
    };
    for name in our_links(dir)? {
        fs_.remove_file(&dir.join(name))?;
    }
    // Without `current`, an interrupted removal recovers as an empty directory.
    let current = synth_dir.join(CURRENT);
    if kind(&current)? != Kind::Absent {
        fs_.remove_file(&current)?;
    }
    fs_.remove_tree(&synth_dir)?;
    Ok(recorded)
}

/// The files a valid manifest lists that are there as plain files; a listed
/// file reached through a symlink is an error naming it.
fn ours(dir: &Path, recorded: &Recorded) -> Result<BTreeSet<String>, SynthError> {
    let mut out = BTreeSet::new();
    if let Recorded::Valid(manifest) = recorded {
        let path = dir.join(MANIFEST_FILE);
        for entry in &manifest.files {
            if listed_file(dir, &path, entry)? {
                out.insert(entry.clone());
            }
        }
    }
    Ok(out)
}

/// What `file` holds now if synth may replace it (`None`: it is not there):
/// every directory on the way a plain one, and the file itself one that a
/// manifest of synth's lists, or the manifest. Anything else is refused,
/// naming it.
fn target(
    dir: &Path,
    file: &str,
    listed: &BTreeSet<String>,
    recorded: &Recorded,
) -> Result<Option<Vec<u8>>, SynthError> {
    let parts: Vec<&str> = file.split('/').collect();
    let mut path = dir.to_path_buf();
    for (i, part) in parts.iter().enumerate() {
        path.push(part);
        let last = i + 1 == parts.len();
        let what = match kind(&path)? {
            Kind::Absent => return Ok(None),
            Kind::Dir if !last => continue,
            Kind::File if last && (listed.contains(file) || owned_manifest(file, recorded)) => {
                return std::fs::read(&path).map(Some).map_err(io_error(&path));
            }
            Kind::File if last => match recorded {
                Recorded::Unreadable(reason) => format!(
                    "there, but manifest.json is unreadable ({reason}), so nothing says synth \
                     wrote it"
                ),
                _ => "a file no manifest.json of synth's lists".to_owned(),
            },
            Kind::Symlink(to) => format!(
                "a symlink (to {}), and synth never writes through a link",
                to.display()
            ),
            _ => "in the way of a file synth writes".to_owned(),
        };
        return Err(SynthError::Foreign { path, what });
    }
    Ok(None)
}

/// Whether `file` is a readable manifest of synth's, which it replaces.
fn owned_manifest(file: &str, recorded: &Recorded) -> bool {
    file == MANIFEST_FILE && matches!(recorded, Recorded::Valid(_))
}

/// Replaces `dir/name` with `bytes`: a temporary file beside it, renamed
/// over it, so the name holds the old bytes or the new ones, never a part.
fn replace(fs_: &mut Fs<'_>, dir: &Path, name: &str, bytes: &[u8]) -> Result<(), SynthError> {
    let path = dir.join(name);
    let parent = path.parent().unwrap_or(dir).to_path_buf();
    let mut missing = Vec::new();
    let mut at = parent.as_path();
    while at != dir && kind(at)? == Kind::Absent {
        missing.push(at.to_path_buf());
        at = at.parent().unwrap_or(dir);
    }
    for made in missing.iter().rev() {
        fs_.create_dir(made)?;
    }
    let temp = parent.join(unique_name(TEMP_PREFIX));
    fs_.write_file(&temp, bytes)?;
    fs_.rename(&temp, &path)
}

/// Removes the directories `name` was in that it leaves empty, up to `dir`.
fn remove_empty_parents(fs_: &mut Fs<'_>, dir: &Path, name: &str) -> Result<(), SynthError> {
    let mut at: PathBuf = dir.join(name);
    while let Some(parent) = at.parent().filter(|p| *p != dir) {
        match kind(parent)? {
            // Removed already, by a write cut short before its parents.
            Kind::Absent => {}
            Kind::Dir if names(parent)?.is_empty() => fs_.remove_empty_dir(parent)?,
            _ => break,
        }
        at = parent.to_path_buf();
    }
    Ok(())
}

/// Removes the temporary files an interrupted write left in the directories
/// of `files` (plain directories only: a symlinked one is not looked into).
fn remove_temporaries<'a>(
    fs_: &mut Fs<'_>,
    dir: &Path,
    files: impl Iterator<Item = &'a String>,
) -> Result<(), SynthError> {
    let mut dirs = BTreeSet::from([dir.to_path_buf()]);
    for file in files {
        let mut path = dir.to_path_buf();
        let parts: Vec<&str> = file.split('/').collect();
        for part in &parts[..parts.len() - 1] {
            path.push(part);
            if kind(&path)? != Kind::Dir {
                break;
            }
            dirs.insert(path.clone());
        }
    }
    for at in dirs {
        for name in names(&at)?
            .into_iter()
            .filter(|n| n.starts_with(TEMP_PREFIX))
        {
            if kind(&at.join(&name))? == Kind::File {
                fs_.remove_file(&at.join(name))?;
            }
        }
    }
    Ok(())
}
