//! Errors of the synth library: every problem names what it is about.

use std::fmt;
use std::path::PathBuf;

/// One problem found while checking, attached to what it is about: a block
/// address (`aws_vpc.main`, `var.image_tag`, `provider.aws`, `output.vpc_id`)
/// or, for programs that check their own inputs, a field path
/// (`node_groups[0].min_size`). Checks, policies and programs' config
/// validation all report in this one shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub at: String,
    pub message: String,
}

impl Diagnostic {
    pub fn new(at: impl ToString, message: impl Into<String>) -> Self {
        Self {
            at: at.to_string(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.at, self.message)
    }
}

/// Why a JSON path override (the escape hatch) could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("override path `{path}`: {problem}")]
pub struct OverrideError {
    pub path: String,
    pub problem: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    #[error("{} problem(s) found, nothing was written:\n{}", .0.len(), list(.0))]
    Invalid(Vec<Diagnostic>),
    #[error("unknown stack `{name}` (known stacks: {known})")]
    UnknownStack { name: String, known: String },
    #[error(
        "{dir} holds terraform state initialised for environment `{previous}`; refusing to write \
         `{requested}` over it. Use another --out directory, or remove {dir}/.terraform and the \
         state files after checking them"
    )]
    EnvironmentMismatch {
        dir: PathBuf,
        previous: String,
        requested: String,
    },
    #[error("refusing to write `{0}`: terraform owns that file")]
    ProtectedPath(String),
    #[error("{file}: {message}")]
    UnreadableModule { file: String, message: String },
    #[error("cannot turn a value into an expression: {0}")]
    Value(String),
    /// The cause is in the error chain, not repeated in the message.
    #[error("{}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Diagnostics as an indented list, one per line.
pub fn list(diags: &[Diagnostic]) -> String {
    diags
        .iter()
        .map(|d| format!("  - {d}"))
        .collect::<Vec<_>>()
        .join("\n")
}
