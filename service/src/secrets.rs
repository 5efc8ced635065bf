//! Secrets mounted as files (`SERVICE_SECRETS_DIR`, a Kubernetes Secret
//! volume): read at start and read again every poll interval while the
//! service runs, so a value rotated upstream reaches the running process
//! without a restart or a rollout.
//!
//! The kubelet updates a Secret volume by writing the new files into a fresh
//! `..<timestamp>` directory and switching the `..data` link to it in one
//! rename, so each read sees either the whole old set or the whole new one.
//! What is kept of each file is whether it is empty and a fingerprint of its
//! content under a key drawn at random when the process starts: it tells a
//! change apart, and says nothing about the value outside this process.

use std::collections::BTreeMap;
use std::hash::{BuildHasher, RandomState};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use contract::LogLevel;

use crate::app::App;
use crate::config::Shown;
use crate::log;
use crate::metrics::METRICS;

/// The regular files of a mounted ConfigMap or Secret, by key. Kubernetes
/// keeps its own bookkeeping in `..data` and `..<timestamp>` entries, which
/// are skipped; the keys themselves are links into them, and are followed.
pub fn mounted_files(dir: &Path) -> Result<BTreeMap<String, Vec<u8>>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| e.to_string())?;
    let mut files = BTreeMap::new();
    for entry in entries {
        let entry = entry.map_err(|e| e.to_string())?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            return Err(format!("file name {name:?} is not valid UTF-8"));
        };
        if name.starts_with("..") {
            continue;
        }
        let path = entry.path();
        if !path.is_file() {
            continue;
        }
        let bytes = std::fs::read(&path).map_err(|e| format!("{name}: {e}"))?;
        files.insert(name.to_owned(), bytes);
    }
    Ok(files)
}

/// What the service knows of one secret file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Seen {
    set: bool,
    fingerprint: u64,
}

/// The secret files of one directory, as last read.
#[derive(Debug, Clone)]
pub struct SecretFiles {
    dir: PathBuf,
    key: RandomState,
    files: BTreeMap<String, Seen>,
    /// How many times a different set of files was read: 1 after the start.
    version: u64,
}

impl SecretFiles {
    /// Reads `dir` for the first time; fails when it cannot be read.
    pub fn read(dir: &Path) -> Result<SecretFiles, String> {
        let mut secrets = SecretFiles {
            dir: dir.to_owned(),
            key: RandomState::new(),
            files: BTreeMap::new(),
            version: 0,
        };
        secrets.refresh()?;
        Ok(secrets)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// 1 after the first read, one more for each change seen since.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Each file as `/configs` shows it: set (non-empty) or not set.
    pub fn shown(&self) -> BTreeMap<String, Shown> {
        self.files
            .iter()
            .map(|(name, seen)| (name.clone(), Shown::Secret { set: seen.set }))
            .collect()
    }

    /// Reads the directory again. Returns the names of the files that
    /// appeared, went away or changed (none when nothing did); on an error
    /// the previous state is kept.
    pub fn refresh(&mut self) -> Result<Vec<String>, String> {
        let read: BTreeMap<String, Seen> = mounted_files(&self.dir)?
            .into_iter()
            .map(|(name, bytes)| {
                let seen = Seen {
                    set: !bytes.is_empty(),
                    fingerprint: self.key.hash_one(&bytes),
                };
                (name, seen)
            })
            .collect();
        let mut changed: Vec<String> = read
            .iter()
            .filter(|(name, seen)| self.files.get(*name) != Some(seen))
            .map(|(name, _)| name.clone())
            .chain(
                self.files
                    .keys()
                    .filter(|name| !read.contains_key(*name))
                    .cloned(),
            )
            .collect();
        changed.sort();
        if changed.is_empty() && self.version > 0 {
            return Ok(changed);
        }
        self.files = read;
        self.version += 1;
        Ok(changed)
    }
}

/// Polls `secrets` every `interval` for as long as the runtime runs; each
/// change is shown by `/configs`, logged (names only) and counted.
pub async fn watch(app: Arc<App>, mut secrets: SecretFiles, interval: Duration) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick completes at once; the files were read at start.
    ticks.tick().await;
    let mut failing = false;
    loop {
        ticks.tick().await;
        match secrets.refresh() {
            Ok(changed) if changed.is_empty() => failing = false,
            Ok(changed) => {
                failing = false;
                app.secrets_changed(&secrets);
                METRICS
                    .secret_reloads
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if let Some(line) = log::line(LogLevel::Info, "secrets reloaded") {
                    drop(
                        line.str("files", &changed.join(","))
                            .num("version", secrets.version()),
                    );
                }
            }
            Err(reason) => {
                METRICS
                    .secret_read_errors
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                // Once per failure streak: the previous secrets stay in use.
                if !failing {
                    if let Some(line) = log::line(LogLevel::Warn, "secrets unreadable") {
                        drop(
                            line.display("dir", secrets.dir().display())
                                .str("error", &reason),
                        );
                    }
                }
                failing = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A directory of plain secret files (the kubelet's `..data` switch is
    /// exercised by the socket test, tests/http/secrets.rs).
    struct Dir(PathBuf);

    impl Dir {
        fn new(tag: &str, files: &[(&str, &str)]) -> Dir {
            let dir =
                std::env::temp_dir().join(format!("webapp-secrets-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("mkdir");
            let dir = Dir(dir);
            dir.write(files);
            dir
        }

        fn write(&self, files: &[(&str, &str)]) {
            for (name, value) in files {
                std::fs::write(self.0.join(name), value).expect("write");
            }
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn a_rotated_value_is_seen_as_a_change_of_that_file_only() {
        let dir = Dir::new(
            "rotate",
            &[("APP_SECRET", "first-value"), ("APP_API_TOKEN", "")],
        );
        let mut secrets = SecretFiles::read(&dir.0).expect("readable");
        assert_eq!(secrets.version(), 1);
        assert_eq!(
            secrets.shown(),
            BTreeMap::from([
                ("APP_API_TOKEN".to_owned(), Shown::Secret { set: false }),
                ("APP_SECRET".to_owned(), Shown::Secret { set: true }),
            ])
        );
        assert_eq!(secrets.refresh(), Ok(Vec::new()), "nothing changed yet");

        dir.write(&[("APP_SECRET", "second-value")]);
        assert_eq!(secrets.refresh(), Ok(vec!["APP_SECRET".to_owned()]));
        assert_eq!(secrets.version(), 2);
        assert_eq!(secrets.refresh(), Ok(Vec::new()));
    }

    #[test]
    fn removed_files_count_as_changes_and_errors_keep_the_last_state() {
        let dir = Dir::new("remove", &[("APP_SECRET", "v")]);
        let mut secrets = SecretFiles::read(&dir.0).expect("readable");
        std::fs::remove_file(dir.0.join("APP_SECRET")).expect("remove key");
        assert_eq!(secrets.refresh(), Ok(vec!["APP_SECRET".to_owned()]));
        assert!(secrets.shown().is_empty());

        std::fs::remove_dir_all(&dir.0).expect("remove the directory");
        assert!(secrets.refresh().is_err());
        assert_eq!(secrets.version(), 2, "a failed read changes nothing");
    }

    #[test]
    fn the_fingerprint_key_differs_per_process_state() {
        let dir = Dir::new("key", &[("APP_SECRET", "same")]);
        let a = SecretFiles::read(&dir.0).expect("readable");
        let b = SecretFiles::read(&dir.0).expect("readable");
        assert_ne!(
            a.files["APP_SECRET"].fingerprint, b.files["APP_SECRET"].fingerprint,
            "fingerprints are keyed, so equal values do not show as equal numbers"
        );
    }
}
