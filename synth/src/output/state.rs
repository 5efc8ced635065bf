//! What terraform state an output directory holds, for the destroy guard.
//! It reads the traces the state guard finds (`guard.rs`): a local state
//! file is read for the resources it holds; state synth cannot read (a
//! remote backend the directory is initialised for, a local file that is
//! not terraform's JSON) is counted as state all the same.
//!
//! Remote state is never fetched: synth makes no network calls and holds no
//! credentials. A directory `terraform init` initialised for a remote
//! backend is taken to hold state, and the module synthesized there before
//! stands for what it holds.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use serde::Deserialize;

use super::fsops::io_error;
use super::guard::{describe_backend, traces, Trace, BACKEND_RECORD};
use crate::error::SynthError;

/// The state in an output directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StateView {
    /// Local state files that were read, relative to the directory.
    pub files: Vec<String>,
    /// The managed resources they hold (`aws_vpc.main`).
    pub resources: BTreeSet<String>,
    /// State that is there but was not read, each with where and why.
    pub unread: Vec<String>,
}

impl StateView {
    /// Whether the directory holds no state at all.
    pub fn is_empty(&self) -> bool {
        self.resources.is_empty() && self.unread.is_empty()
    }

    /// Where the state is, for messages: `the local state file x` and/or
    /// what was not read.
    pub fn describe(&self) -> String {
        let mut parts: Vec<String> = self
            .files
            .iter()
            .map(|f| format!("the local state file {f}"))
            .collect();
        parts.extend(self.unread.iter().cloned());
        parts.join("; and ")
    }
}

/// The part of terraform's state format the guard needs (format version 4).
#[derive(Deserialize)]
struct StateFile {
    #[serde(default)]
    resources: Vec<StateResource>,
}

#[derive(Deserialize)]
struct StateResource {
    #[serde(default)]
    module: Option<String>,
    mode: String,
    #[serde(rename = "type")]
    ty: String,
    name: String,
    #[serde(default)]
    instances: Vec<serde::de::IgnoredAny>,
}

/// The state `dir` holds.
pub(crate) fn state_view(dir: &Path) -> Result<StateView, SynthError> {
    let mut view = StateView::default();
    for trace in traces(dir)? {
        match trace {
            Trace::StateFile { name, state } if name == state => read_state(dir, &name, &mut view)?,
            Trace::Initialised(backend) if backend.local_path().is_none() => {
                view.unread.push(format!(
                    "the state of {} that {} records, which synth does not read (it makes no \
                     network calls); it counts as holding what was synthesized there before",
                    describe_backend(&backend),
                    dir.join(BACKEND_RECORD).display()
                ));
            }
            Trace::Unreadable(reason) => view.unread.push(format!(
                "the state of whatever backend {} records (unreadable: {reason})",
                dir.join(BACKEND_RECORD).display()
            )),
            Trace::Workspaces => view.unread.push(format!(
                "the workspace state in {}",
                dir.join("terraform.tfstate.d").display()
            )),
            // Backups, lock files, terraform's working files, a local backend
            // recorded by init: the state file itself is what counts.
            Trace::StateFile { .. } | Trace::Initialised(_) | Trace::Working(_) => {}
        }
    }
    Ok(view)
}

fn read_state(dir: &Path, name: &str, view: &mut StateView) -> Result<(), SynthError> {
    let path = dir.join(name);
    let bytes = fs::read(&path).map_err(io_error(&path))?;
    // `terraform init -migrate-state` leaves the local file empty behind it.
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    match serde_json::from_slice::<StateFile>(&bytes) {
        Ok(state) => {
            view.files.push(name.to_owned());
            view.resources.extend(
                state
                    .resources
                    .into_iter()
                    .filter(|r| r.mode == "managed" && !r.instances.is_empty())
                    .map(|r| match r.module {
                        Some(module) => format!("{module}.{}.{}", r.ty, r.name),
                        None => format!("{}.{}", r.ty, r.name),
                    }),
            );
        }
        Err(e) => view.unread.push(format!(
            "the local state file {name}, which is not terraform state synth can read ({e})"
        )),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn resource(ty: &str, name: &str, instances: usize) -> serde_json::Value {
        json!({"mode": "managed", "type": ty, "name": name, "provider": "p",
               "instances": vec![json!({"attributes": {}}); instances]})
    }

    #[test]
    fn a_local_state_file_is_read_for_its_managed_resources() {
        let dir = tempfile::tempdir().unwrap();
        let state = json!({"version": 4, "resources": [
            resource("aws_kms_key", "logs", 1),
            resource("aws_subnet", "private", 2),
            resource("aws_eip", "unused", 0),
            {"mode": "data", "type": "aws_region", "name": "current", "instances": [{}]},
            {"module": "module.m", "mode": "managed", "type": "aws_s3_bucket", "name": "b", "instances": [{}]}
        ]});
        fs::write(dir.path().join("terraform.x.tfstate"), state.to_string()).unwrap();
        fs::write(dir.path().join("terraform.x.tfstate.backup"), "not json").unwrap();
        let view = state_view(dir.path()).unwrap();
        assert_eq!(view.files, ["terraform.x.tfstate"]);
        assert_eq!(
            view.resources
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
            [
                "aws_kms_key.logs",
                "aws_subnet.private",
                "module.m.aws_s3_bucket.b"
            ]
        );
        assert!(view.unread.is_empty());
    }

    #[test]
    fn no_state_an_emptied_file_and_working_files_hold_nothing() {
        let dir = tempfile::tempdir().unwrap();
        assert!(state_view(dir.path()).unwrap().is_empty());
        fs::write(dir.path().join("terraform.tfstate"), "").unwrap();
        fs::create_dir(dir.path().join(".terraform")).unwrap();
        fs::write(dir.path().join(".terraform.lock.hcl"), "").unwrap();
        assert!(state_view(dir.path()).unwrap().is_empty());
    }

    #[test]
    fn remote_and_unreadable_state_count_as_state() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join(".terraform")).unwrap();
        let record = json!({"version": 3, "backend": {"type": "s3",
            "config": {"bucket": "b", "key": "staging/terraform.tfstate"}}});
        fs::write(dir.path().join(BACKEND_RECORD), record.to_string()).unwrap();
        fs::write(dir.path().join("terraform.tfstate"), "garbage").unwrap();
        let view = state_view(dir.path()).unwrap();
        assert!(view.resources.is_empty());
        assert_eq!(view.unread.len(), 2, "{view:?}");
        let text = view.describe();
        assert!(
            text.contains(r#"backend "s3" (bucket = "b", key = "staging/terraform.tfstate")"#),
            "{text}"
        );
        assert!(text.contains("synth does not read"), "{text}");
        assert!(
            text.contains("terraform.tfstate, which is not terraform state"),
            "{text}"
        );
    }
}
