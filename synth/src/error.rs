//! Errors of the synth library: every problem names the block it is about.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

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
         `{requested}` over it:\n{}\nUse another --out directory, or remove {dir}/.terraform and \
         the state files after checking them",
        list_lines(.evidence)
    )]
    EnvironmentMismatch {
        dir: PathBuf,
        previous: String,
        requested: String,
        /// Terraform's traces in `dir`, each with its path.
        evidence: Vec<String>,
    },
    #[error(
        "refusing to write `{requested}` into {dir}: it holds terraform state that is not this \
         module's (which keeps its state in {own}), and {manifest}:\n{}\nUse another --out \
         directory; or, after checking that this state is not needed here, move it (and \
         {dir}/.terraform) out of {dir}",
        list_lines(.evidence)
    )]
    ForeignState {
        dir: PathBuf,
        requested: String,
        own: String,
        manifest: String,
        evidence: Vec<String>,
    },
    #[error("refusing to write `{name}`: it {reason}")]
    ModulePath { name: String, reason: String },
    #[error(
        "{manifest} lists `{entry}`, which {reason}. Synth only creates, replaces or removes \
         plain files inside the output directory; correct or remove that entry"
    )]
    ManifestEntry {
        manifest: PathBuf,
        entry: String,
        reason: String,
    },
    #[error(
        "{path} is {what}. Synth leaves it alone; move it out of the way (or use another --out \
         directory) and synthesize again"
    )]
    Foreign { path: PathBuf, what: String },
    #[error(
        "{path} is synth's bookkeeping, but {problem}. Terraform's files are not in .synth/; \
         remove the .synth directory and the links to it, then synthesize again"
    )]
    Broken { path: PathBuf, problem: String },
    #[error("{0} is not a directory; the output must be a directory (it is created if missing)")]
    NotADirectory(PathBuf),
    #[error(
        "another synth is writing {dir} (it has held the lock on {dir} for {}s); try again when \
         it has finished",
        .waited.as_secs()
    )]
    Busy { dir: PathBuf, waited: Duration },
    /// A change to the output directory that failed; everything before it
    /// was undone, so terraform reads there what it read before.
    #[error("could not {action} {path} ({error}); what terraform reads there is unchanged")]
    Change {
        action: &'static str,
        path: PathBuf,
        error: std::io::Error,
    },
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

fn list_lines(lines: &[String]) -> String {
    lines
        .iter()
        .map(|l| format!("  - {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
