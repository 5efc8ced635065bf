//! The stacks crate's one error type: each variant names the file, flag or
//! release at fault, and keeps its cause in the error chain (not repeated in
//! its own message).

use std::path::PathBuf;

use synth::SynthError;

use crate::config::ConfigError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Boxed, as is every synth error here: they are large, and errors
    /// travel through every component's return value.
    #[error("checking environment `{env}` ({})", path.display())]
    Invalid {
        env: String,
        path: PathBuf,
        #[source]
        source: Box<SynthError>,
    },
    #[error(
        "--state-bucket `{0}` is not an S3 bucket name (3 to 63 lowercase letters, digits, `-`, `.`)"
    )]
    StateBucket(String),
    #[error(
        "--allow-destroy `{0}` is not a resource address like `aws_kms_key.logs` (the address \
         a refused synth names)"
    )]
    AllowDestroy(String),
    #[error("emulator overlay: {0}")]
    Emulator(String),
    #[error("copying the chart {} into the module", path.display())]
    Chart {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("building the values of release `{release}`")]
    Values {
        release: String,
        #[source]
        source: Box<SynthError>,
    },
    #[error("writing the objects of release `{release}`")]
    Objects {
        release: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("recording the environment's floors, usage and estimates in the manifest")]
    Metadata {
        #[source]
        source: serde_json::Error,
    },
    /// A release Argo CD cannot deliver as written (see docs/gitops.md).
    #[error("GitOps delivery: {0}")]
    Gitops(String),
    #[error("{path}: {message}")]
    ObservabilityFile { path: &'static str, message: String },
    #[error("stacks/schemas/{name}.json is not a provider schema")]
    Schema {
        name: &'static str,
        #[source]
        source: serde_json::Error,
    },
}
