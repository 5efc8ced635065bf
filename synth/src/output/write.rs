//! Writing a module as a new generation and switching to it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::flat;
use super::fsops::{io_error, kind, lock, Fs, Kind};
use super::guard;
use super::layout::{
    is_our_link, link_text, new_generation, recover, switch, Generation, State, GEN_PREFIX,
};
use super::read::module_files;
use super::state::state_view;
use super::WriteReport;
use crate::app::{Module, MANIFEST_FILE};
use crate::error::SynthError;
use crate::manifest::{entry_problem, top_name, Manifest, ManifestError, SYNTH_DIR};
use crate::refactor::{assess, Assessment};

pub(crate) fn write(
    fs_: &mut Fs<'_>,
    dir: &Path,
    module: &Module,
) -> Result<WriteReport, SynthError> {
    let manifest = checked_manifest(module)?;
    let created = prepare(fs_, dir)?;
    let synth_dir = dir.join(SYNTH_DIR);
    let _lock = lock(&synth_dir)?;
    write_locked(fs_, dir, module, &manifest).inspect_err(|_| {
        // Every error comes before the switch (after it, failures are only
        // warnings): undo this synth's steps; what terraform reads never
        // changed. Should undoing fail too, the next synth finishes it. A
        // refused first synth leaves nothing at all.
        let _ = recover(fs_, dir);
        if created {
            let _ = fs_.remove_empty_dir(&synth_dir);
        }
    })
}

fn write_locked(
    fs_: &mut Fs<'_>,
    dir: &Path,
    module: &Module,
    manifest: &Manifest,
) -> Result<WriteReport, SynthError> {
    let state = recover(fs_, dir)?;
    let backend = manifest.backend.clone().unwrap_or_else(|| {
        // A module from App::synth always records its backend.
        crate::manifest::StateBackend::of(None)
    });
    let recorded = match &state {
        State::Flat(recorded) => recorded,
        State::Linked(generation) => &generation.recorded,
    };
    guard::check(dir, recorded, &module.environment, &backend)?;
    let previous = module_files(dir, &state)?;
    let assessment = guard_state(dir, &previous, module)?;
    let mut report = switch_to(fs_, dir, state, module, &tops(module), previous)?;
    report.assessment = assessment;
    Ok(report)
}

/// Refuses a module that would take a stateful resource out of the state in
/// `dir` (nobody allowing it); before any change, so nothing is written.
fn guard_state(
    dir: &Path,
    previous: &BTreeMap<String, Vec<u8>>,
    module: &Module,
) -> Result<Assessment, SynthError> {
    let view = state_view(dir)?;
    let previous = (!previous.is_empty()).then_some(previous);
    let assessment = assess(&view, previous, module)?;
    let refused: Vec<String> = assessment.refused().map(|d| d.describe()).collect();
    if refused.is_empty() {
        return Ok(assessment);
    }
    Err(SynthError::WouldDestroy {
        dir: dir.to_owned(),
        environment: module.environment.clone(),
        state: assessment.state.describe(),
        resources: refused,
    })
}

/// The module's own manifest (which records its backend for the guard),
/// once every file name of the module is a plain relative path synth may own.
pub(crate) fn checked_manifest(module: &Module) -> Result<Manifest, SynthError> {
    for name in module.files.keys() {
        if let Some(reason) = entry_problem(name) {
            return Err(SynthError::ModulePath {
                name: name.clone(),
                reason: reason.to_owned(),
            });
        }
    }
    let bytes = module
        .files
        .get(MANIFEST_FILE)
        .ok_or_else(|| SynthError::ModulePath {
            name: MANIFEST_FILE.into(),
            reason: "is missing from the module".into(),
        })?;
    Manifest::parse(bytes).map_err(|e| SynthError::ModulePath {
        name: MANIFEST_FILE.into(),
        reason: match e {
            ManifestError::Unreadable(reason) => format!("is not a manifest: {reason}"),
            ManifestError::Entry { entry, reason } => format!("lists `{entry}`, which {reason}"),
        },
    })
}

/// The output directory exists and is a directory, with `.synth` in it;
/// true when this created `.synth`.
fn prepare(fs_: &mut Fs<'_>, dir: &Path) -> Result<bool, SynthError> {
    match std::fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => return Err(SynthError::NotADirectory(dir.to_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir).map_err(io_error(dir))?;
        }
        Err(e) => return Err(io_error(dir)(e)),
    }
    let synth_dir = dir.join(SYNTH_DIR);
    match kind(&synth_dir)? {
        Kind::Dir => Ok(false),
        Kind::Absent => fs_.create_dir(&synth_dir).map(|()| true),
        _ => Err(SynthError::Foreign {
            path: synth_dir,
            what: "not a directory synth created".into(),
        }),
    }
}

/// Top-level names of the module: `true` for a directory.
fn tops(module: &Module) -> BTreeMap<String, bool> {
    let mut out = BTreeMap::new();
    for name in module.files.keys() {
        let top = top_name(name);
        let is_dir = top.len() < name.len();
        *out.entry(top.to_owned()).or_insert(is_dir) |= is_dir;
    }
    out
}

/// `previous`: the files of the module `state` holds, as read for the guard.
fn switch_to(
    fs_: &mut Fs<'_>,
    dir: &Path,
    state: State,
    module: &Module,
    wanted: &BTreeMap<String, bool>,
    previous: BTreeMap<String, Vec<u8>>,
) -> Result<WriteReport, SynthError> {
    let linked = matches!(state, State::Linked(_));
    let current = match state {
        State::Linked(generation) => {
            for name in wanted.keys() {
                let path = dir.join(name);
                if kind(&path)? != Kind::Absent && !is_our_link(dir, name)? {
                    return Err(foreign(&path)?);
                }
            }
            generation
        }
        State::Flat(recorded) => {
            let names: BTreeSet<String> = wanted.keys().cloned().collect();
            let plan = flat::plan(dir, &recorded, &names)?;
            if matches!(recorded, super::layout::Recorded::Valid(_)) {
                flat::migrate(fs_, dir, recorded, plan)?
            } else {
                flat::empty_generation(fs_, dir)?
            }
        }
    };
    // A linked directory's files were read already; a flat one has just
    // been moved into a generation, whose files are what counts now.
    let old: BTreeMap<String, Vec<u8>> = if linked {
        previous
    } else {
        current.files()?.into_iter().collect()
    };
    let report = report(&old, old.keys(), module);
    let old_manifest = std::fs::read(current.path.join(MANIFEST_FILE)).ok();
    let linked_names: BTreeSet<&String> = current.linked.iter().collect();
    let wanted_names: BTreeSet<&String> = wanted.keys().collect();
    if report.written.is_empty()
        && report.removed.is_empty()
        && linked_names == wanted_names
        && old_manifest.as_ref() == module.files.get(MANIFEST_FILE)
    {
        return Ok(report);
    }
    let new = write_generation(fs_, dir, &current, module, wanted, &old)?;
    let mut report = report;
    report.warnings = clean_up(fs_, dir, &current, &new, wanted);
    Ok(report)
}

/// The error for a top-level name the new module needs that is not ours.
fn foreign(path: &Path) -> Result<SynthError, SynthError> {
    let what = match kind(path)? {
        Kind::Symlink(target) => format!(
            "a symlink to {} that synth did not make; synth never writes through it",
            target.display()
        ),
        Kind::Dir => "a directory synth did not make (synth's are links into .synth/)".into(),
        _ => "a file synth did not make (synth's are links into .synth/); it may have been \
              replaced by an editor's copy"
            .into(),
    };
    Ok(SynthError::Foreign {
        path: path.to_owned(),
        what,
    })
}

/// What a write changes: each of the module's files written or unchanged
/// against `old` (its bytes there), and each of the `previous` files it no
/// longer has removed.
pub(super) fn report<'a>(
    old: &BTreeMap<String, Vec<u8>>,
    previous: impl IntoIterator<Item = &'a String>,
    module: &Module,
) -> WriteReport {
    let mut report = WriteReport::default();
    for (name, bytes) in &module.files {
        if name == MANIFEST_FILE {
            continue;
        }
        if old.get(name) == Some(bytes) {
            report.unchanged.push(name.clone());
        } else {
            report.written.push(name.clone());
        }
    }
    report.removed = previous
        .into_iter()
        .filter(|n| !module.files.contains_key(*n))
        .cloned()
        .collect();
    report
}

/// Writes the new generation beside the current one and switches to it.
fn write_generation(
    fs_: &mut Fs<'_>,
    dir: &Path,
    current: &Generation,
    module: &Module,
    wanted: &BTreeMap<String, bool>,
    old: &BTreeMap<String, Vec<u8>>,
) -> Result<PathBuf, SynthError> {
    let (name, next) = new_generation(fs_, dir, GEN_PREFIX)?;
    let mut made: BTreeSet<PathBuf> = BTreeSet::new();
    for (file, bytes) in &module.files {
        fs_.create_parents(&next, file, &mut made)?;
        if old.get(file) == Some(bytes) {
            // A hard link costs a directory entry; a new file costs an inode
            // and its data: most files are unchanged from one synth to the next.
            fs_.link_file(&current.path.join(file), &next.join(file))?;
        } else {
            fs_.write_file(&next.join(file), bytes)?;
        }
    }
    // Names linked now that the new module lacks: an empty stub in the new
    // generation keeps their links resolving after the switch, until they go.
    for name in current.linked.iter().filter(|n| !wanted.contains_key(*n)) {
        let is_dir = kind(&current.path.join(name))? == Kind::Dir;
        stub(fs_, &next.join(name), is_dir)?;
    }
    // Names the new module adds: an empty stub in the current generation
    // first, so the new link resolves to nothing until the switch. Not the
    // manifest: recovery reads a generation's manifest to know its names, so
    // the empty generation has none, and terraform never reads it; its link
    // comes after the switch.
    for (name, is_dir) in wanted
        .iter()
        .filter(|(n, _)| !current.linked.contains(*n) && *n != MANIFEST_FILE)
    {
        stub(fs_, &current.path.join(name), *is_dir)?;
        fs_.symlink(&link_text(name), &dir.join(name))?;
    }
    switch(fs_, &dir.join(SYNTH_DIR), &name)?;
    Ok(next)
}

/// An entry that adds nothing to the module: an empty directory, an empty
/// JSON object for a `.json` name (`{}` is an empty `.tf.json`), else an
/// empty file (an empty `.tf` file is valid too).
fn stub(fs_: &mut Fs<'_>, path: &Path, is_dir: bool) -> Result<(), SynthError> {
    if is_dir {
        return fs_.create_dir(path);
    }
    let is_json = path.extension().is_some_and(|e| e == "json");
    fs_.write_file(path, if is_json { b"{}\n" } else { b"" })
}

/// After the switch: drops links the new module does not use, then the stubs
/// they resolved to, then the old generation. The new module is in effect
/// already; what cannot be removed is reported and left to the next synth.
fn clean_up(
    fs_: &mut Fs<'_>,
    dir: &Path,
    old: &Generation,
    new: &Path,
    wanted: &BTreeMap<String, bool>,
) -> Vec<String> {
    let mut warnings = Vec::new();
    if !old.linked.contains(MANIFEST_FILE) {
        if let Err(e) = fs_.symlink(&link_text(MANIFEST_FILE), &dir.join(MANIFEST_FILE)) {
            warnings.push(format!("could not link {MANIFEST_FILE}: {e}"));
        }
    }
    for name in old.linked.iter().filter(|n| !wanted.contains_key(*n)) {
        let removed = fs_
            .remove_file(&dir.join(name))
            .and_then(|()| fs_.remove_tree(&new.join(name)));
        if let Err(e) = removed {
            warnings.push(format!("could not remove the unused link {name}: {e}"));
        }
    }
    if let Err(e) = fs_.remove_tree(&old.path) {
        warnings.push(format!("could not remove the previous generation: {e}"));
    }
    warnings
}
