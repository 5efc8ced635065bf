//! `manifest.json`: what one synth wrote, read back by the next synth (which
//! files it owns, which environment and state the directory holds) and by
//! `diff`. One struct serves the writer and every reader, so the two cannot
//! drift apart.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::app::StackSummary;
use crate::asset::hash_files;
use crate::block::Backend;
use crate::json::to_canonical_string;

/// The manifest of one synthesized module.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub environment: String,
    /// The program that wrote it (`infra 0.1.0`).
    pub tool: String,
    pub stacks: Vec<ManifestStack>,
    /// Every file of the module except the manifest itself, relative to the
    /// output directory, `/`-separated.
    pub files: Vec<String>,
    /// Over the files' names and bytes (see `asset::hash_files`).
    pub content_sha256: String,
    /// The backend the module was synthesized for: where its state lives.
    /// Manifests written before it was recorded lack it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<StateBackend>,
    /// Facts the program recorded about the module that terraform does not
    /// read (see `App::metadata`); `diff` compares them like blocks.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, Value>,
}

/// One stack's line in the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestStack {
    pub name: String,
    pub description: String,
    pub file: String,
    pub resources: usize,
    pub data_sources: usize,
    pub outputs: usize,
}

/// A `terraform.backend` block as JSON: its type and settings. A module
/// without a backend block uses terraform's default, `local` with no settings
/// (state in `terraform.tfstate`), and records that.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateBackend {
    #[serde(rename = "type")]
    pub kind: String,
    pub config: Map<String, Value>,
}

impl StateBackend {
    pub fn of(backend: Option<&Backend>) -> Self {
        let Some(backend) = backend else {
            return Self {
                kind: "local".to_owned(),
                config: Map::new(),
            };
        };
        let config = match crate::json::to_value(backend) {
            Value::Object(mut outer) => match outer.remove(backend.kind()) {
                Some(Value::Object(config)) => config,
                _ => Map::new(),
            },
            _ => Map::new(),
        };
        Self {
            kind: backend.kind().to_owned(),
            config,
        }
    }

    /// Where a `local` backend keeps the default workspace's state, relative
    /// to the module directory; `None` for other backends.
    pub fn local_path(&self) -> Option<&str> {
        if self.kind != "local" {
            return None;
        }
        Some(
            self.config
                .get("path")
                .and_then(Value::as_str)
                .unwrap_or("terraform.tfstate"),
        )
    }
}

impl Manifest {
    pub(crate) fn build(
        environment: &str,
        tool: &str,
        backend: Option<&Backend>,
        summary: &[StackSummary],
        files: &BTreeMap<String, Vec<u8>>,
    ) -> Self {
        Self {
            environment: environment.to_owned(),
            tool: tool.to_owned(),
            stacks: summary
                .iter()
                .map(|s| ManifestStack {
                    name: s.name.clone(),
                    description: s.description.clone(),
                    file: format!("{}.tf.json", s.name),
                    resources: s.resources.len(),
                    data_sources: s.data_sources.len(),
                    outputs: s.outputs.len(),
                })
                .collect(),
            files: files.keys().cloned().collect(),
            content_sha256: hash_files(files.iter().map(|(n, b)| (n.as_str(), b.as_slice()))),
            backend: Some(StateBackend::of(backend)),
            metadata: BTreeMap::new(),
        }
    }

    /// The canonical bytes written to disk.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Serializing plain structs of strings, numbers and JSON values cannot fail.
        let value = serde_json::to_value(self).unwrap_or(Value::Null);
        to_canonical_string(&value).into_bytes()
    }

    /// Parses a manifest and checks that every file it lists is a plain
    /// relative path inside the output directory. `Err` says what is wrong,
    /// naming the entry.
    pub fn parse(bytes: &[u8]) -> Result<Self, ManifestError> {
        let manifest: Self =
            serde_json::from_slice(bytes).map_err(|e| ManifestError::Unreadable(e.to_string()))?;
        for entry in &manifest.files {
            if let Some(reason) = entry_problem(entry) {
                return Err(ManifestError::Entry {
                    entry: entry.clone(),
                    reason,
                });
            }
        }
        Ok(manifest)
    }

    /// The stack names, in the order they were synthesized.
    pub fn stack_names(&self) -> Vec<String> {
        self.stacks.iter().map(|s| s.name.clone()).collect()
    }
}

/// Why a manifest cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManifestError {
    /// Not JSON, or not shaped like a manifest.
    Unreadable(String),
    /// A listed file that is not a plain relative path inside the directory.
    Entry { entry: String, reason: &'static str },
}

/// Name of synth's own bookkeeping directory inside the output directory.
pub(crate) const SYNTH_DIR: &str = ".synth";

/// Whether a relative path belongs to terraform and must never be touched.
pub fn is_terraform_owned(path: &str) -> bool {
    let first = path.split('/').next().unwrap_or(path);
    first.starts_with(".terraform") || first.contains(".tfstate")
}

/// Why `entry` is not a plain relative path naming a file synth may own
/// inside the output directory, if it is not.
pub fn entry_problem(entry: &str) -> Option<&'static str> {
    if entry.is_empty() {
        return Some("is empty");
    }
    if entry.starts_with('/') {
        return Some("is an absolute path");
    }
    if entry.contains('\\') || entry.contains('\0') {
        return Some("contains a backslash or NUL byte");
    }
    for part in entry.split('/') {
        match part {
            "" => return Some("has an empty path component (`//` or a trailing `/`)"),
            "." => return Some("has a `.` component"),
            ".." => return Some("leads out of the directory (`..`)"),
            _ => {}
        }
    }
    if is_terraform_owned(entry) {
        return Some("belongs to terraform");
    }
    let first = entry.split('/').next().unwrap_or(entry);
    if first == SYNTH_DIR || first.starts_with(".synth-tmp-") {
        return Some("is synth's own bookkeeping");
    }
    None
}

/// The first component of a relative path: the name in the output directory
/// that a file lives under.
pub(crate) fn top_name(entry: &str) -> &str {
    entry.split('/').next().unwrap_or(entry)
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

    #[test]
    fn only_plain_relative_paths_are_entries() {
        for good in ["network.tf.json", "chart/templates/a.yaml", "a..b/c"] {
            assert_eq!(entry_problem(good), None, "{good}");
        }
        for (bad, why) in [
            ("", "empty"),
            ("/etc/passwd", "absolute"),
            ("../x", "leads out"),
            ("chart/../../x", "leads out"),
            ("chart//x", "empty path component"),
            ("chart/", "empty path component"),
            ("./x", "`.`"),
            ("a\\b", "backslash"),
            (".terraform/terraform.tfstate", "terraform"),
            ("terraform.blue.tfstate", "terraform"),
            (".synth/current/x", "bookkeeping"),
        ] {
            let problem = entry_problem(bad).unwrap_or_else(|| panic!("{bad:?} accepted"));
            assert!(problem.contains(why), "{bad:?}: {problem}");
        }
    }

    #[test]
    fn parse_names_the_bad_entry() {
        let doc = |files: &str| {
            format!(
                r#"{{"environment":"e","tool":"t","stacks":[],"files":{files},"content_sha256":"x"}}"#
            )
        };
        let ok = Manifest::parse(doc(r#"["a.tf.json"]"#).as_bytes()).unwrap();
        assert_eq!(ok.backend, None, "older manifests have no backend");
        assert_eq!(
            Manifest::parse(doc(r#"["a.tf.json", "/tmp/victim"]"#).as_bytes()),
            Err(ManifestError::Entry {
                entry: "/tmp/victim".into(),
                reason: "is an absolute path"
            })
        );
        assert!(matches!(
            Manifest::parse(b"{\"environment\": 1}"),
            Err(ManifestError::Unreadable(_))
        ));
    }

    #[test]
    fn the_backend_is_recorded_with_its_settings() {
        let local = StateBackend::of(Some(&Backend::local("terraform.x.tfstate")));
        assert_eq!(local.kind, "local");
        assert_eq!(local.local_path(), Some("terraform.x.tfstate"));
        let default = StateBackend::of(None);
        assert_eq!(default.local_path(), Some("terraform.tfstate"));
        let remote = StateBackend::of(Some(&Backend::new("remote").set("key", "a/b")));
        assert_eq!(remote.local_path(), None);
        assert_eq!(remote.config["key"], "a/b");
    }
}
