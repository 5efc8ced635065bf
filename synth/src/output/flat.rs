//! Directories written before generations existed: plain files and a plain
//! manifest.json at the top level. The first synth into one moves it into
//! the generation layout without changing what terraform reads, even for an
//! instant: hard links of the old files become a generation, then each
//! top-level name is swapped for a link to the same bytes.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::fsops::{kind, names, Fs, Kind};
use super::layout::{
    new_generation, replace_with_link, switch, Generation, Recorded, EMPTY_PREFIX, GEN_PREFIX,
};
use crate::app::MANIFEST_FILE;
use crate::error::SynthError;
use crate::manifest::{top_name, SYNTH_DIR};

/// What a flat directory's manifest lets synth take over.
#[derive(Debug)]
pub(crate) struct FlatPlan {
    /// Listed files that are there, as plain files.
    entries: Vec<String>,
    /// Their top-level names, and manifest.json.
    tops: BTreeSet<String>,
}

/// Checks a flat directory before anything changes: every file the manifest
/// lists must be a plain file reached without a symlink, a directory synth
/// wrote must hold only listed files, and no name the new module needs may
/// be anyone else's.
pub(crate) fn plan(
    dir: &Path,
    recorded: &Recorded,
    wanted: &BTreeSet<String>,
) -> Result<FlatPlan, SynthError> {
    let Recorded::Valid(manifest) = recorded else {
        for name in wanted {
            let path = dir.join(name);
            if kind(&path)? != Kind::Absent {
                let what = match recorded {
                    Recorded::Unreadable(reason) if name == MANIFEST_FILE => {
                        format!("unreadable ({reason}), so nothing says which files synth wrote here")
                    }
                    Recorded::Unreadable(reason) => format!(
                        "there, but manifest.json is unreadable ({reason}), so nothing says synth wrote it"
                    ),
                    _ => "there, but no manifest.json says synth wrote it".to_owned(),
                };
                return Err(SynthError::Foreign { path, what });
            }
        }
        return Ok(FlatPlan {
            entries: Vec::new(),
            tops: BTreeSet::new(),
        });
    };
    let manifest_path = dir.join(MANIFEST_FILE);
    let mut entries = Vec::new();
    for entry in &manifest.files {
        if listed_file(dir, &manifest_path, entry)? {
            entries.push(entry.clone());
        }
    }
    let tops: BTreeSet<String> = entries
        .iter()
        .map(|e| top_name(e).to_owned())
        .chain([MANIFEST_FILE.to_owned()])
        .collect();
    let listed: BTreeSet<&str> = entries.iter().map(String::as_str).collect();
    for top in &tops {
        if kind(&dir.join(top))? == Kind::Dir {
            only_listed_files(dir, top, &listed)?;
        }
    }
    for name in wanted.difference(&tops) {
        let path = dir.join(name);
        if kind(&path)? != Kind::Absent {
            return Err(SynthError::Foreign {
                path,
                what: "there, but manifest.json does not list it".into(),
            });
        }
    }
    Ok(FlatPlan { entries, tops })
}

/// Whether `entry` is there as a plain file; an error when reaching it means
/// going through a symlink or it is not a plain file.
pub(crate) fn listed_file(dir: &Path, manifest: &Path, entry: &str) -> Result<bool, SynthError> {
    let parts: Vec<&str> = entry.split('/').collect();
    let mut path = dir.to_path_buf();
    for (i, part) in parts.iter().enumerate() {
        path.push(part);
        let last = i + 1 == parts.len();
        let reason = match kind(&path)? {
            Kind::Absent => return Ok(false),
            Kind::Dir if !last => continue,
            Kind::File if last => return Ok(true),
            Kind::Symlink(target) => format!(
                "{} the symlink {} (to {}), and synth never writes through a link it did not make",
                if last { "is" } else { "passes through" },
                path.display(),
                target.display()
            ),
            _ => format!("is not a plain file ({} is in the way)", path.display()),
        };
        return Err(SynthError::ManifestEntry {
            manifest: manifest.to_owned(),
            entry: entry.to_owned(),
            reason,
        });
    }
    Ok(false)
}

fn only_listed_files(dir: &Path, rel: &str, listed: &BTreeSet<&str>) -> Result<(), SynthError> {
    for name in names(&dir.join(rel))? {
        let child = format!("{rel}/{name}");
        let path = dir.join(&child);
        let what = match kind(&path)? {
            Kind::Dir => {
                only_listed_files(dir, &child, listed)?;
                continue;
            }
            Kind::File if listed.contains(child.as_str()) => continue,
            Kind::File => "not listed in manifest.json, so synth does not own it",
            _ => "not a plain file, inside a directory synth wrote",
        };
        return Err(SynthError::Foreign {
            path,
            what: what.into(),
        });
    }
    Ok(())
}

/// Moves the flat module into a generation: links the old files into it,
/// makes it current (nothing terraform reads has changed: the top-level names
/// are still the plain files), then swaps each name for a link.
pub(crate) fn migrate(
    fs_: &mut Fs<'_>,
    dir: &Path,
    recorded: Recorded,
    plan: FlatPlan,
) -> Result<Generation, SynthError> {
    let synth_dir = dir.join(SYNTH_DIR);
    let (name, path) = new_generation(fs_, dir, GEN_PREFIX)?;
    let mut made: BTreeSet<PathBuf> = BTreeSet::new();
    let manifest = [MANIFEST_FILE.to_owned()];
    for entry in plan.entries.iter().chain(&manifest) {
        fs_.create_parents(&path, entry, &mut made)?;
        fs_.link_file(&dir.join(entry), &path.join(entry))?;
    }
    switch(fs_, &synth_dir, &name)?;
    for top in &plan.tops {
        replace_with_link(fs_, dir, top)?;
    }
    Ok(Generation {
        path,
        recorded,
        linked: plan.tops,
    })
}

/// A first synth into a directory with nothing of synth's: an empty
/// generation to switch away from, so links for the new module can exist
/// (resolving to empty stubs) before the module itself becomes current.
pub(crate) fn empty_generation(fs_: &mut Fs<'_>, dir: &Path) -> Result<Generation, SynthError> {
    let (name, path) = new_generation(fs_, dir, EMPTY_PREFIX)?;
    switch(fs_, &dir.join(SYNTH_DIR), &name)?;
    Ok(Generation {
        path,
        recorded: Recorded::Missing,
        linked: BTreeSet::new(),
    })
}
