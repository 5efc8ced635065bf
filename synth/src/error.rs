//! Errors of the synth library: every problem names the block it is about.

use std::fmt;
use std::path::PathBuf;

use crate::expr::Address;

/// One problem found while checking a module, attached to a block address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// `aws_vpc.main`, `var.image_tag`, `provider.aws`, `output.vpc_id`.
    pub address: String,
    pub message: String,
}

impl Diagnostic {
    pub fn new(address: Address, message: impl Into<String>) -> Self {
        Self {
            address: address.to_string(),
            message: message.into(),
        }
    }

    pub fn at(address: &str, message: impl Into<String>) -> Self {
        Self {
            address: address.to_owned(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.address, self.message)
    }
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
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn list(diags: &[Diagnostic]) -> String {
    diags
        .iter()
        .map(|d| format!("  - {d}"))
        .collect::<Vec<_>>()
        .join("\n")
}
