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
        let config = match backend.to_json() {
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
        }
    }

    /// The canonical bytes written to disk.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Serializing plain structs of strings, numbers and JSON values cannot fail.
        let value = serde_json::to_value(self).unwrap_or(Value::Null);
        to_canonical_string(&value).into_bytes()
    }

    /// Parses a manifest; `Err` says why it is not one.
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        serde_json::from_slice(bytes).map_err(|e| e.to_string())
    }

    /// The stack names, in the order they were synthesized.
    pub fn stack_names(&self) -> Vec<String> {
        self.stacks.iter().map(|s| s.name.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn older_manifests_without_a_backend_parse() {
        let doc = r#"{"environment":"e","tool":"t","stacks":[],"files":["a.tf.json"],"content_sha256":"x"}"#;
        let manifest = Manifest::parse(doc.as_bytes()).unwrap();
        assert_eq!(manifest.backend, None);
        assert_eq!(manifest.files, ["a.tf.json"]);
        assert!(Manifest::parse(b"{\"environment\": 1}").is_err());
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
