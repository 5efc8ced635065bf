//! The state guard: a module is never written over a directory whose
//! terraform state belongs to another one.
//!
//! The manifest alone is not enough (it can be missing, corrupt or older
//! than the state), so the guard reads every trace terraform itself leaves in
//! the directory: local state files (and their backups and lock files), the
//! backend `terraform init` recorded in `.terraform/terraform.tfstate`, and
//! workspace state directories. Each must belong to the new module's backend,
//! or to the backend the manifest recorded for the same environment (a
//! backend change, which `terraform init -migrate-state` then carries out).
//! Anything else, including a trace it cannot read, is refused.

use std::fs;
use std::path::Path;

use serde_json::{Map, Value};

use super::fsops::{io_error, names};
use super::layout::Recorded;
use crate::error::SynthError;
use crate::manifest::StateBackend;

/// One trace of terraform's in the directory.
#[derive(Debug)]
pub(crate) enum Trace {
    /// `.terraform/`, the lock file: terraform has been here, whatever the state.
    Working(String),
    /// A local state file, its backup or its lock: the state path it serves.
    StateFile { name: String, state: String },
    /// The backend `terraform init` recorded.
    Initialised(StateBackend),
    /// What `.terraform/terraform.tfstate` holds cannot be read.
    Unreadable(String),
    /// `terraform.tfstate.d/`: state of non-default workspaces.
    Workspaces,
}

pub(crate) const BACKEND_RECORD: &str = ".terraform/terraform.tfstate";

pub(crate) fn traces(dir: &Path) -> Result<Vec<Trace>, SynthError> {
    let mut out = Vec::new();
    for name in names(dir)? {
        if name == ".terraform" {
            out.push(Trace::Working(name));
            if let Some(trace) = backend_record(dir)? {
                out.push(trace);
            }
        } else if name == "terraform.tfstate.d" {
            out.push(Trace::Workspaces);
        } else if name.contains(".tfstate") {
            // `X.backup` and the lock file `.X.lock.info` serve state `X`.
            let state = name
                .strip_suffix(".lock.info")
                .and_then(|n| n.strip_prefix('.'))
                .or_else(|| name.strip_suffix(".backup"))
                .unwrap_or(&name)
                .to_owned();
            out.push(Trace::StateFile { name, state });
        } else if name.starts_with(".terraform") {
            out.push(Trace::Working(name));
        }
    }
    Ok(out)
}

fn backend_record(dir: &Path) -> Result<Option<Trace>, SynthError> {
    let path = dir.join(BACKEND_RECORD);
    let bytes = match fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error(&path)(e)),
    };
    let doc: Value = match serde_json::from_slice(&bytes) {
        Ok(doc) => doc,
        Err(e) => return Ok(Some(Trace::Unreadable(e.to_string()))),
    };
    match doc.get("backend") {
        None | Some(Value::Null) => Ok(None),
        Some(backend) => Ok(Some(
            serde_json::from_value(backend.clone())
                .map(Trace::Initialised)
                .unwrap_or_else(|e| Trace::Unreadable(format!("its backend: {e}"))),
        )),
    }
}

/// Whether a trace belongs to state kept by `backend`.
fn belongs(trace: &Trace, backend: &StateBackend) -> bool {
    match trace {
        Trace::Working(_) => true,
        Trace::StateFile { state, .. } => backend.local_path() == Some(state.as_str()),
        Trace::Initialised(recorded) => {
            recorded.kind == backend.kind
                && match (recorded.local_path(), backend.local_path()) {
                    (Some(a), Some(b)) => a == b,
                    _ => contains(&recorded.config, &backend.config),
                }
        }
        Trace::Unreadable(_) | Trace::Workspaces => false,
    }
}

/// Whether every setting of `wanted` has the same value in `recorded`
/// (terraform records every attribute of the backend, unset ones as null).
fn contains(recorded: &Map<String, Value>, wanted: &Map<String, Value>) -> bool {
    wanted.iter().all(|(k, v)| match (v, recorded.get(k)) {
        (Value::Object(w), Some(Value::Object(r))) => contains(r, w),
        (v, Some(r)) => v == r,
        (_, None) => false,
    })
}

/// Refuses to write a module for `environment` with state in `backend` into
/// `dir` when terraform's traces there belong to something else.
pub(crate) fn check(
    dir: &Path,
    recorded: &Recorded,
    environment: &str,
    backend: &StateBackend,
) -> Result<(), SynthError> {
    let traces = traces(dir)?;
    if traces.is_empty() {
        return Ok(());
    }
    if let Recorded::Valid(previous) = recorded {
        if previous.environment != environment {
            return Err(SynthError::EnvironmentMismatch {
                dir: dir.to_owned(),
                previous: previous.environment.clone(),
                requested: environment.to_owned(),
                evidence: traces.iter().map(|t| describe(dir, t, backend)).collect(),
            });
        }
    }
    let previous_backend = recorded.manifest().and_then(|m| m.backend.as_ref());
    let foreign: Vec<String> = traces
        .iter()
        .filter(|t| !belongs(t, backend) && !previous_backend.is_some_and(|b| belongs(t, b)))
        .map(|t| describe(dir, t, backend))
        .collect();
    if foreign.is_empty() {
        return Ok(());
    }
    let manifest = match recorded {
        Recorded::Missing => "there is no manifest.json saying what was synthesized there".into(),
        Recorded::Unreadable(reason) => format!("its manifest.json is unreadable ({reason})"),
        Recorded::Valid(m) => match &m.backend {
            Some(b) => format!(
                "its manifest.json records `{}` with state in {}",
                m.environment,
                describe_backend(b)
            ),
            None => format!(
                "its manifest.json records `{}` but not where its state is",
                m.environment
            ),
        },
    };
    Err(SynthError::ForeignState {
        dir: dir.to_owned(),
        requested: environment.to_owned(),
        own: describe_backend(backend),
        manifest,
        evidence: foreign,
    })
}

fn describe(dir: &Path, trace: &Trace, own: &StateBackend) -> String {
    let at = |name: &str| dir.join(name).display().to_string();
    match trace {
        Trace::Working(name) => format!("{}: terraform's working files", at(name)),
        Trace::StateFile { name, state } if name == state => {
            format!("{}: a local state file", at(name))
        }
        Trace::StateFile { name, state } => {
            format!("{}: belongs to the local state {state}", at(name))
        }
        Trace::Initialised(recorded) => format!(
            "{}: initialised for {}",
            at(BACKEND_RECORD),
            if recorded.kind == own.kind {
                describe_differences(recorded, own)
            } else {
                describe_backend(recorded)
            }
        ),
        Trace::Unreadable(reason) => format!(
            "{}: unreadable ({reason}), so the backend it was initialised for is unknown",
            at(BACKEND_RECORD)
        ),
        Trace::Workspaces => format!(
            "{}: state of other terraform workspaces",
            at("terraform.tfstate.d")
        ),
    }
}

/// `the local state file terraform.x.tfstate`, `backend "remote" (key = "a/b", ...)`.
pub(crate) fn describe_backend(backend: &StateBackend) -> String {
    if let Some(path) = backend.local_path() {
        return format!("the local state file {path}");
    }
    let settings: Vec<String> = backend
        .config
        .iter()
        .filter(|(_, v)| v.is_string() || v.is_number() || v.is_boolean())
        .map(|(k, v)| setting(k, v))
        .collect();
    format!("backend \"{}\" ({})", backend.kind, settings.join(", "))
}

fn describe_differences(recorded: &StateBackend, own: &StateBackend) -> String {
    if let (Some(a), Some(b)) = (recorded.local_path(), own.local_path()) {
        return format!("the local state file {a}, not {b}");
    }
    let differing: Vec<String> = own
        .config
        .iter()
        .filter(|(k, v)| recorded.config.get(*k) != Some(v))
        .map(|(k, v)| {
            let was = recorded.config.get(k).unwrap_or(&Value::Null);
            format!("{}, not {}", setting(k, was), shown(k, v))
        })
        .collect();
    format!(
        "backend \"{}\" with {}",
        recorded.kind,
        differing.join("; ")
    )
}

fn setting(name: &str, value: &Value) -> String {
    format!("{name} = {}", shown(name, value))
}

/// A setting's value for an error message; credentials stay out of logs.
fn shown(name: &str, value: &Value) -> String {
    let secret = ["secret", "password", "token", "access_key", "credential"]
        .iter()
        .any(|s| name.contains(s));
    if secret {
        "(hidden)".into()
    } else {
        value.to_string()
    }
}
