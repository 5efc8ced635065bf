//! The layout of an output directory, and recovery from an interrupted synth.
//!
//! ```text
//! DIR/network.tf.json -> .synth/current/network.tf.json   (one link per top-level name)
//! DIR/chart           -> .synth/current/chart
//! DIR/manifest.json   -> .synth/current/manifest.json
//! DIR/.synth/current  -> gen-<id>                        (switched by one rename)
//! DIR/.synth/gen-<id>/...                                 (one complete module)
//! ```
//!
//! The truth is whatever `.synth/current` points at. Recovery makes the rest
//! agree with it: links for the names its manifest lists, nothing else of
//! ours at the top level, no other generation, no temporaries. docs/output.md
//! walks through every step.

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Component, Path, PathBuf};

use super::fsops::{io_error, kind, names, unique_name, Fs, Kind};
use crate::app::MANIFEST_FILE;
use crate::error::SynthError;
use crate::manifest::{top_name, Manifest, ManifestError, SYNTH_DIR};

pub(crate) const CURRENT: &str = "current";
const NEXT: &str = "current.next";
pub(crate) const GEN_PREFIX: &str = "gen-";
/// The empty module a first synth switches away from (it has no manifest).
pub(crate) const EMPTY_PREFIX: &str = "gen-empty-";
/// Staging directories of synths from before generations existed.
const OLD_TEMP_PREFIX: &str = ".synth-tmp-";

/// What a top-level link of ours to `name` holds.
pub(crate) fn link_text(name: &str) -> PathBuf {
    Path::new(SYNTH_DIR).join(CURRENT).join(name)
}

/// What a directory's manifest says, if anything.
#[derive(Debug, Clone)]
pub(crate) enum Recorded {
    Missing,
    Unreadable(String),
    Valid(Manifest),
}

impl Recorded {
    pub(crate) fn manifest(&self) -> Option<&Manifest> {
        match self {
            Self::Valid(m) => Some(m),
            _ => None,
        }
    }
}

/// Reads the manifest at `path`, a plain file. A listed entry that is not a
/// plain relative path is an error naming it: nothing is done on its word.
pub(crate) fn read_recorded(path: &Path) -> Result<Recorded, SynthError> {
    match kind(path)? {
        Kind::Absent => return Ok(Recorded::Missing),
        Kind::File => {}
        _ => return Ok(Recorded::Unreadable("it is not a regular file".into())),
    }
    let bytes = fs::read(path).map_err(io_error(path))?;
    match Manifest::parse(&bytes) {
        Ok(m) => Ok(Recorded::Valid(m)),
        Err(ManifestError::Unreadable(reason)) => Ok(Recorded::Unreadable(reason)),
        Err(ManifestError::Entry { entry, reason }) => Err(SynthError::ManifestEntry {
            manifest: path.to_owned(),
            entry,
            reason: reason.to_owned(),
        }),
    }
}

/// The current generation and the top-level links that resolve into it.
#[derive(Debug)]
pub(crate) struct Generation {
    pub(crate) path: PathBuf,
    pub(crate) recorded: Recorded,
    /// Top-level names that are links of ours.
    pub(crate) linked: BTreeSet<String>,
}

impl Generation {
    /// The top-level names the generation's module consists of; `None` when
    /// its manifest is unreadable or gone (then no link is touched).
    fn desired(&self) -> Result<Option<BTreeSet<String>>, SynthError> {
        let present: BTreeSet<String> = names(&self.path)?.into_iter().collect();
        let empty = self
            .path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with(EMPTY_PREFIX));
        Ok(match &self.recorded {
            Recorded::Missing if empty => Some(BTreeSet::new()),
            Recorded::Missing | Recorded::Unreadable(_) => None,
            Recorded::Valid(m) => Some(
                m.files
                    .iter()
                    .map(|f| top_name(f).to_owned())
                    .chain([MANIFEST_FILE.to_owned()])
                    .filter(|n| present.contains(n))
                    .collect(),
            ),
        })
    }

    /// The module's files (manifest aside) as stored in the generation.
    pub(crate) fn files(&self) -> Result<Vec<(String, Vec<u8>)>, SynthError> {
        let listed: Vec<String> = match &self.recorded {
            Recorded::Valid(m) => m.files.clone(),
            Recorded::Missing | Recorded::Unreadable(_) => {
                let mut all = Vec::new();
                for name in &self.linked {
                    collect_files(&self.path, name, &mut all)?;
                }
                all
            }
        };
        let mut out = Vec::new();
        for name in listed.into_iter().filter(|n| n != MANIFEST_FILE) {
            let path = self.path.join(&name);
            if kind(&path)? == Kind::File {
                let bytes = fs::read(&path).map_err(io_error(&path))?;
                out.push((name, bytes));
            }
        }
        Ok(out)
    }
}

/// Relative paths of the plain files under `base/rel`.
pub(crate) fn collect_files(
    base: &Path,
    rel: &str,
    out: &mut Vec<String>,
) -> Result<(), SynthError> {
    let path = base.join(rel);
    match kind(&path)? {
        Kind::File => out.push(rel.to_owned()),
        Kind::Dir => {
            for name in names(&path)? {
                collect_files(base, &format!("{rel}/{name}"), out)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// The directory after recovery.
#[derive(Debug)]
pub(crate) enum State {
    /// No generation: empty, or written by a synth from before generations
    /// (plain files and a plain manifest.json at the top level).
    Flat(Recorded),
    Linked(Generation),
}

/// Finishes or undoes whatever an interrupted synth left, so that the
/// directory is exactly one generation with its links. Never touches an
/// entry that is not synth's own. The caller holds the lock when `.synth`
/// exists.
pub(crate) fn recover(fs_: &mut Fs<'_>, dir: &Path) -> Result<State, SynthError> {
    for name in names(dir)? {
        if name.starts_with(OLD_TEMP_PREFIX) && kind(&dir.join(&name))? == Kind::Dir {
            fs_.remove_tree(&dir.join(&name))?;
        }
    }
    let synth_dir = dir.join(SYNTH_DIR);
    match kind(&synth_dir)? {
        Kind::Absent => return flat(fs_, dir),
        Kind::Dir => {}
        _ => {
            return Err(SynthError::Foreign {
                path: synth_dir,
                what: "not a directory synth created".into(),
            })
        }
    }
    let current = synth_dir.join(CURRENT);
    let gen_name = match kind(&current)? {
        Kind::Absent => {
            // No generation was ever switched to: all of it is leftovers of
            // a first synth, and no link of ours can resolve.
            for name in names(&synth_dir)? {
                fs_.remove_tree(&synth_dir.join(name))?;
            }
            return flat(fs_, dir);
        }
        Kind::Symlink(target) => generation_name(&target).ok_or_else(|| SynthError::Broken {
            path: current.clone(),
            problem: format!(
                "it points at {}, not at a generation directory beside it",
                target.display()
            ),
        })?,
        _ => {
            return Err(SynthError::Broken {
                path: current,
                problem: "it is not a symlink".into(),
            })
        }
    };
    let path = synth_dir.join(&gen_name);
    if kind(&path)? != Kind::Dir {
        return Err(SynthError::Broken {
            path: current,
            problem: format!("its generation {} is missing", path.display()),
        });
    }
    // Everything else in .synth is a leftover: another generation, a link
    // being made, a directory swapped out.
    for name in names(&synth_dir)? {
        if name != CURRENT && name != gen_name {
            fs_.remove_tree(&synth_dir.join(name))?;
        }
    }
    let mut generation = Generation {
        recorded: read_recorded(&path.join(MANIFEST_FILE))?,
        path,
        linked: our_links(dir)?,
    };
    if let Some(desired) = generation.desired()? {
        settle_links(fs_, dir, &mut generation, &desired)?;
    }
    Ok(State::Linked(generation))
}

/// The directory holds no generation, so no link of ours can resolve.
fn flat(fs_: &mut Fs<'_>, dir: &Path) -> Result<State, SynthError> {
    for name in our_links(dir)? {
        fs_.remove_file(&dir.join(name))?;
    }
    Ok(State::Flat(read_recorded(&dir.join(MANIFEST_FILE))?))
}

/// Makes the top-level links exactly `desired` and removes the stubs that
/// kept other links resolving (entries of the generation it does not list).
fn settle_links(
    fs_: &mut Fs<'_>,
    dir: &Path,
    generation: &mut Generation,
    desired: &BTreeSet<String>,
) -> Result<(), SynthError> {
    let stale: Vec<String> = generation.linked.difference(desired).cloned().collect();
    for name in stale {
        fs_.remove_file(&dir.join(&name))?;
        generation.linked.remove(&name);
    }
    let missing: Vec<String> = desired.difference(&generation.linked).cloned().collect();
    for name in missing {
        let here = dir.join(&name);
        let there = generation.path.join(&name);
        let replace = match kind(&here)? {
            Kind::Absent => false,
            // A plain copy of the generation's own entry: an interrupted
            // move from the flat layout, to be finished without losing a byte.
            Kind::File | Kind::Dir if same_content(&here, &there)? => true,
            _ => continue,
        };
        if replace {
            replace_with_link(fs_, dir, &name)?;
        } else {
            fs_.symlink(&link_text(&name), &here)?;
        }
        generation.linked.insert(name);
    }
    for name in names(&generation.path)? {
        if !desired.contains(&name) && !generation.linked.contains(&name) {
            fs_.remove_tree(&generation.path.join(name))?;
        }
    }
    Ok(())
}

/// `gen-...` when `target` is a single plain name of that form.
fn generation_name(target: &Path) -> Option<String> {
    let mut parts = target.components();
    match (parts.next(), parts.next()) {
        (Some(Component::Normal(name)), None) => {
            let name = name.to_str()?;
            name.starts_with(GEN_PREFIX).then(|| name.to_owned())
        }
        _ => None,
    }
}

/// Top-level names that are links of ours.
pub(crate) fn our_links(dir: &Path) -> Result<BTreeSet<String>, SynthError> {
    let mut out = BTreeSet::new();
    for name in names(dir)? {
        if is_our_link(dir, &name)? {
            out.insert(name);
        }
    }
    Ok(out)
}

pub(crate) fn is_our_link(dir: &Path, name: &str) -> Result<bool, SynthError> {
    Ok(matches!(kind(&dir.join(name))?, Kind::Symlink(t) if t == link_text(name)))
}

/// Makes a new, empty generation directory; returns its name and path.
pub(crate) fn new_generation(
    fs_: &mut Fs<'_>,
    dir: &Path,
    prefix: &str,
) -> Result<(String, PathBuf), SynthError> {
    let name = unique_name(prefix);
    let path = dir.join(SYNTH_DIR).join(&name);
    fs_.create_dir(&path)?;
    Ok((name, path))
}

/// Points `.synth/current` at the generation `name`: one rename, the moment
/// a synth takes effect.
pub(crate) fn switch(fs_: &mut Fs<'_>, synth_dir: &Path, name: &str) -> Result<(), SynthError> {
    let next = synth_dir.join(NEXT);
    fs_.symlink(Path::new(name), &next)?;
    fs_.rename(&next, &synth_dir.join(CURRENT))
}

/// Replaces the plain file or directory `dir/name` by a link of ours to the
/// same content in the current generation, in one step.
pub(crate) fn replace_with_link(
    fs_: &mut Fs<'_>,
    dir: &Path,
    name: &str,
) -> Result<(), SynthError> {
    let synth_dir = dir.join(SYNTH_DIR);
    let here = dir.join(name);
    // Made inside .synth, so an interruption leaves it where recovery clears.
    let tmp = synth_dir.join(format!("link-{name}"));
    fs_.symlink(&link_text(name), &tmp)?;
    let is_dir = kind(&here)? == Kind::Dir;
    let swapped = if is_dir {
        // rename(2) cannot put a link over a directory; an exchange swaps the
        // two at once, leaving the old directory at the temporary name.
        fs_.exchange(&tmp, &here)
    } else {
        fs_.rename(&tmp, &here)
    };
    if let Err(e) = swapped {
        // An immutable file, say: the plain entry stays, and so does the module.
        let _ = fs_.remove_file(&tmp);
        return Err(e);
    }
    if is_dir {
        fs_.remove_tree(&tmp)?;
    }
    Ok(())
}

/// Whether a plain entry holds exactly what the generation's entry holds
/// (the same inodes, or the same bytes), with no symlink anywhere.
pub(crate) fn same_content(a: &Path, b: &Path) -> Result<bool, SynthError> {
    match (kind(a)?, kind(b)?) {
        (Kind::File, Kind::File) => {
            let (ma, mb) = (
                fs::metadata(a).map_err(io_error(a))?,
                fs::metadata(b).map_err(io_error(b))?,
            );
            if ma.dev() == mb.dev() && ma.ino() == mb.ino() {
                return Ok(true);
            }
            Ok(ma.len() == mb.len()
                && fs::read(a).map_err(io_error(a))? == fs::read(b).map_err(io_error(b))?)
        }
        (Kind::Dir, Kind::Dir) => {
            let (na, nb) = (names(a)?, names(b)?);
            if na != nb {
                return Ok(false);
            }
            for name in na {
                if !same_content(&a.join(&name), &b.join(&name))? {
                    return Ok(false);
                }
            }
            Ok(true)
        }
        _ => Ok(false),
    }
}
