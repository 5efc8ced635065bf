//! Every change synth makes to an output directory goes through [`Fs`], one
//! system call per change, so a test can look at the directory before each
//! change and fail or stop any of them (a failing rename, a SIGKILL).

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::SynthError;

/// One change to the output directory, announced before it is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change<'a> {
    CreateDir(&'a Path),
    WriteFile(&'a Path),
    /// A hard link (or, where the filesystem has none, a copy).
    LinkFile {
        from: &'a Path,
        to: &'a Path,
    },
    Symlink {
        link: &'a Path,
        target: &'a Path,
    },
    Rename {
        from: &'a Path,
        to: &'a Path,
    },
    /// Two names swapped in one step (`renameat2(RENAME_EXCHANGE)`).
    Exchange {
        a: &'a Path,
        b: &'a Path,
    },
    RemoveFile(&'a Path),
    /// An empty directory.
    RemoveDir(&'a Path),
    /// A directory and everything in it, never following a symlink.
    RemoveTree(&'a Path),
}

impl Change<'_> {
    /// What the change does, for an error message: "could not {action} {path}".
    fn action(&self) -> &'static str {
        match self {
            Change::CreateDir(_) => "create the directory",
            Change::WriteFile(_) => "write",
            Change::LinkFile { .. } => "link or copy a file to",
            Change::Symlink { .. } => "create the link",
            Change::Rename { .. } => "rename a file onto",
            Change::Exchange { .. } => "swap a link for",
            Change::RemoveFile(_) | Change::RemoveDir(_) | Change::RemoveTree(_) => "remove",
        }
    }
}

/// Called before each change; an error stops that change and is returned
/// as the change's own error would be.
pub type Observer<'h> = &'h mut dyn FnMut(&Change<'_>) -> io::Result<()>;

pub(crate) struct Fs<'h> {
    observe: Observer<'h>,
}

pub(crate) fn io_error(path: &Path) -> impl FnOnce(io::Error) -> SynthError + '_ {
    move |source| SynthError::Io {
        path: path.to_owned(),
        source,
    }
}

impl<'h> Fs<'h> {
    pub(crate) fn new(observe: Observer<'h>) -> Self {
        Self { observe }
    }

    fn run(
        &mut self,
        change: Change<'_>,
        path: &Path,
        op: impl FnOnce() -> io::Result<()>,
    ) -> Result<(), SynthError> {
        let action = change.action();
        (self.observe)(&change)
            .and_then(|()| op())
            .map_err(|error| SynthError::Change {
                action,
                path: path.to_owned(),
                error,
            })
    }

    pub(crate) fn create_dir(&mut self, path: &Path) -> Result<(), SynthError> {
        self.run(Change::CreateDir(path), path, || fs::create_dir(path))
    }

    /// Creates the directories between `base` and the file `rel` (a plain
    /// relative path) that are not in `made` yet; `base` is a directory this
    /// synth created, so each is new.
    pub(crate) fn create_parents(
        &mut self,
        base: &Path,
        rel: &str,
        made: &mut std::collections::BTreeSet<PathBuf>,
    ) -> Result<(), SynthError> {
        let mut path = base.to_path_buf();
        let parts: Vec<&str> = rel.split('/').collect();
        for part in &parts[..parts.len().saturating_sub(1)] {
            path.push(part);
            if !made.contains(&path) {
                self.create_dir(&path)?;
                made.insert(path.clone());
            }
        }
        Ok(())
    }

    pub(crate) fn write_file(&mut self, path: &Path, bytes: &[u8]) -> Result<(), SynthError> {
        // create_new: a file synth writes is always a new name in a directory
        // it just created, so an existing entry (a symlink planted there) is
        // an error, never something to write through.
        self.run(Change::WriteFile(path), path, || {
            use std::io::Write as _;
            fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)?
                .write_all(bytes)
        })
    }

    pub(crate) fn link_file(&mut self, from: &Path, to: &Path) -> Result<(), SynthError> {
        self.run(Change::LinkFile { from, to }, to, || {
            fs::hard_link(from, to).or_else(|_| {
                let bytes = fs::read(from)?;
                fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(to)
                    .and_then(|mut f| std::io::Write::write_all(&mut f, &bytes))
            })
        })
    }

    pub(crate) fn symlink(&mut self, target: &Path, link: &Path) -> Result<(), SynthError> {
        self.run(Change::Symlink { link, target }, link, || {
            std::os::unix::fs::symlink(target, link)
        })
    }

    pub(crate) fn rename(&mut self, from: &Path, to: &Path) -> Result<(), SynthError> {
        self.run(Change::Rename { from, to }, to, || fs::rename(from, to))
    }

    /// Swaps two names in one step.
    pub(crate) fn exchange(&mut self, a: &Path, b: &Path) -> Result<(), SynthError> {
        self.run(Change::Exchange { a, b }, b, || {
            rustix::fs::renameat_with(
                rustix::fs::CWD,
                a,
                rustix::fs::CWD,
                b,
                rustix::fs::RenameFlags::EXCHANGE,
            )
            .map_err(|e| {
                let unsupported = [
                    rustix::io::Errno::INVAL,
                    rustix::io::Errno::NOSYS,
                    rustix::io::Errno::NOTSUP,
                ];
                if unsupported.contains(&e) {
                    // Without it, the directory would be missing for an
                    // instant; refusing is better (docs/output.md).
                    io::Error::new(
                        io::ErrorKind::Unsupported,
                        "this filesystem cannot swap a directory for a link in one step \
                         (renameat2 RENAME_EXCHANGE); remove this directory, a copy an older \
                         synth wrote, and synthesize again",
                    )
                } else {
                    e.into()
                }
            })
        })
    }

    pub(crate) fn remove_file(&mut self, path: &Path) -> Result<(), SynthError> {
        self.run(Change::RemoveFile(path), path, || fs::remove_file(path))
    }

    pub(crate) fn remove_empty_dir(&mut self, path: &Path) -> Result<(), SynthError> {
        self.run(Change::RemoveDir(path), path, || fs::remove_dir(path))
    }

    /// Removes a file, a symlink or a whole directory, never following links.
    pub(crate) fn remove_tree(&mut self, path: &Path) -> Result<(), SynthError> {
        self.run(
            Change::RemoveTree(path),
            path,
            || match fs::symlink_metadata(path) {
                Ok(meta) if meta.is_dir() => fs::remove_dir_all(path),
                Ok(_) => fs::remove_file(path),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(e),
            },
        )
    }
}

/// An exclusive lock on synth's bookkeeping directory, released when dropped
/// or when the process dies (flock), so two synths never interleave their
/// steps and a killed one never leaves a stale lock.
#[derive(Debug)]
pub(crate) struct Lock {
    _file: File,
}

/// How long a synth waits for another one writing the same directory.
const LOCK_WAIT: Duration = Duration::from_secs(10);

pub(crate) fn lock(synth_dir: &Path) -> Result<Lock, SynthError> {
    let file = File::open(synth_dir).map_err(io_error(synth_dir))?;
    let deadline = Instant::now() + LOCK_WAIT;
    loop {
        match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => return Ok(Lock { _file: file }),
            Err(e) if e == rustix::io::Errno::WOULDBLOCK && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) if e == rustix::io::Errno::WOULDBLOCK => {
                return Err(SynthError::Busy {
                    dir: synth_dir.to_owned(),
                    waited: LOCK_WAIT,
                })
            }
            Err(e) => return Err(io_error(synth_dir)(e.into())),
        }
    }
}

/// A name for a new generation directory, unique across processes and
/// within one.
pub(crate) fn unique_name(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}{}-{nanos:x}-{n}", std::process::id())
}

/// `path`'s kind without following a final symlink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    Absent,
    File,
    Dir,
    Symlink(PathBuf),
    Other,
}

pub(crate) fn kind(path: &Path) -> Result<Kind, SynthError> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => {
            let target = fs::read_link(path).map_err(io_error(path))?;
            Ok(Kind::Symlink(target))
        }
        Ok(meta) if meta.is_dir() => Ok(Kind::Dir),
        Ok(meta) if meta.is_file() => Ok(Kind::File),
        Ok(_) => Ok(Kind::Other),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Kind::Absent),
        Err(e) => Err(io_error(path)(e)),
    }
}

/// The names in a directory, sorted.
pub(crate) fn names(dir: &Path) -> Result<Vec<String>, SynthError> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_error(dir))? {
        let entry = entry.map_err(io_error(dir))?;
        out.push(entry.file_name().to_string_lossy().into_owned());
    }
    out.sort();
    Ok(out)
}
