//! Writing a synthesized module into its output directory, safely.
//!
//! The output directory is shared with terraform, whose `.terraform/`, lock
//! file and state files live beside ours. So: everything is written to a
//! temporary directory first and renamed into place file by file; only files
//! a previous synth listed in its manifest are ever removed; terraform's files
//! are never touched; and a directory whose state belongs to another
//! environment is refused outright.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use crate::app::{Module, MANIFEST_FILE};
use crate::error::SynthError;
use crate::manifest::Manifest;

/// What a write did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteReport {
    pub written: Vec<String>,
    pub unchanged: Vec<String>,
    pub removed: Vec<String>,
}

/// Whether a relative path belongs to terraform and must never be touched.
pub fn is_terraform_owned(path: &str) -> bool {
    let first = path.split('/').next().unwrap_or(path);
    first.starts_with(".terraform") || first.contains(".tfstate")
}

/// What the previous synth into a directory recorded, if anything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PreviousManifest {
    pub environment: Option<String>,
    pub stacks: Vec<String>,
    pub files: Vec<String>,
}

pub fn read_manifest(dir: &Path) -> PreviousManifest {
    let Ok(bytes) = fs::read(dir.join(MANIFEST_FILE)) else {
        return PreviousManifest::default();
    };
    let Ok(manifest) = Manifest::parse(&bytes) else {
        return PreviousManifest::default();
    };
    PreviousManifest {
        stacks: manifest.stack_names(),
        environment: Some(manifest.environment),
        files: manifest.files,
    }
}

/// Whether terraform has initialised or kept state in this directory.
fn holds_terraform_state(dir: &Path) -> bool {
    fs::read_dir(dir).is_ok_and(|entries| {
        entries
            .filter_map(Result::ok)
            .any(|e| is_terraform_owned(&e.file_name().to_string_lossy()))
    })
}

/// Refuses to write one environment's module over another's initialised
/// directory, whose previous synth recorded `previous`.
fn check_environment(
    dir: &Path,
    previous: &PreviousManifest,
    environment: &str,
) -> Result<(), SynthError> {
    match &previous.environment {
        Some(prev) if prev != environment && holds_terraform_state(dir) => {
            Err(SynthError::EnvironmentMismatch {
                dir: dir.to_owned(),
                previous: prev.clone(),
                requested: environment.to_owned(),
            })
        }
        _ => Ok(()),
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SynthError + '_ {
    move |source| SynthError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Writes `module` into `dir` (created if missing). On error the previous
/// contents of `dir` are left as they were.
pub fn write_module(dir: &Path, module: &Module) -> Result<WriteReport, SynthError> {
    for name in module.files.keys() {
        if is_terraform_owned(name) || name.split('/').any(|p| p == ".." || p.is_empty()) {
            return Err(SynthError::ProtectedPath(name.clone()));
        }
    }
    fs::create_dir_all(dir).map_err(io(dir))?;
    let previous = read_manifest(dir);
    check_environment(dir, &previous, &module.environment)?;

    let staging = TempDir::create(dir)?;
    let mut report = WriteReport::default();
    let mut changed = Vec::new();
    // Creating files and directories is the slow part on real disks; avoid
    // asking the filesystem anything twice.
    let listed: BTreeSet<&String> = previous.files.iter().collect();
    let mut staged_dirs = Dirs::default();
    for (name, bytes) in &module.files {
        if name == MANIFEST_FILE {
            continue;
        }
        let target = dir.join(name);
        if listed.contains(name) && fs::read(&target).is_ok_and(|old| &old == bytes) {
            report.unchanged.push(name.clone());
            continue;
        }
        let tmp = staging.path.join(name);
        staged_dirs.ensure_parent(&tmp)?;
        fs::write(&tmp, bytes).map_err(io(&tmp))?;
        changed.push(name.clone());
    }
    let manifest_tmp = staging.path.join(MANIFEST_FILE);
    if let Some(bytes) = module.files.get(MANIFEST_FILE) {
        fs::write(&manifest_tmp, bytes).map_err(io(&manifest_tmp))?;
    }

    // Everything is on disk; now move it into place. The manifest goes last,
    // so it only ever describes files that are really there.
    let mut target_dirs = Dirs::default();
    for name in changed {
        let target = dir.join(&name);
        target_dirs.ensure_parent(&target)?;
        fs::rename(staging.path.join(&name), &target).map_err(io(&target))?;
        report.written.push(name);
    }
    let new_files: BTreeSet<&String> = module.files.keys().collect();
    for stale in &previous.files {
        if new_files.contains(stale)
            || is_terraform_owned(stale)
            || stale.split('/').any(|p| p == "..")
        {
            continue;
        }
        let path = dir.join(stale);
        if path.is_file() {
            fs::remove_file(&path).map_err(io(&path))?;
            remove_empty_parents(dir, &path);
            report.removed.push(stale.clone());
        }
    }
    if module.files.contains_key(MANIFEST_FILE) {
        let target = dir.join(MANIFEST_FILE);
        fs::rename(&manifest_tmp, &target).map_err(io(&target))?;
    }
    Ok(report)
}

/// Directories known to exist, so each is created at most once.
#[derive(Default)]
struct Dirs {
    known: BTreeSet<PathBuf>,
}

impl Dirs {
    fn ensure_parent(&mut self, file: &Path) -> Result<(), SynthError> {
        let Some(parent) = file.parent() else {
            return Ok(());
        };
        if !self.known.contains(parent) {
            fs::create_dir_all(parent).map_err(io(parent))?;
            self.known.insert(parent.to_owned());
        }
        Ok(())
    }
}

fn remove_empty_parents(root: &Path, file: &Path) {
    let mut dir = file.parent();
    while let Some(d) = dir {
        if d == root || fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
}

/// A staging directory inside the output directory (same filesystem, so
/// renames are atomic), removed on drop whatever happened.
struct TempDir {
    path: PathBuf,
}

impl TempDir {
    fn create(parent: &Path) -> Result<Self, SynthError> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path = parent.join(format!(".synth-tmp-{}-{nanos}", std::process::id()));
        fs::create_dir(&path).map_err(io(&path))?;
        Ok(Self { path })
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terraform_files_are_recognised() {
        for owned in [
            ".terraform",
            ".terraform/providers/x",
            ".terraform.lock.hcl",
            "terraform.tfstate",
            "terraform.staging.tfstate.backup",
            "terraform.tfstate.d/ws/terraform.tfstate",
        ] {
            assert!(is_terraform_owned(owned), "{owned}");
        }
        for ours in ["network.tf.json", "manifest.json", "chart/Chart.yaml"] {
            assert!(!is_terraform_owned(ours), "{ours}");
        }
    }
}
