//! Errors of the synth library: every problem names what it is about.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

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
    #[error(
        "refusing to write `{environment}` into {dir}: terraform would destroy {} stateful \
         resource(s) that its state holds ({state}):\n{}\nNothing was written.",
        .resources.len(),
        list_lines(.resources)
    )]
    WouldDestroy {
        dir: PathBuf,
        environment: String,
        /// Where the state is.
        state: String,
        /// Each resource, what it holds, and how to keep or drop it.
        resources: Vec<String>,
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
    /// A change to a directory written as plain files that failed; the
    /// files replaced before it stay.
    #[error(
        "could not {action} {path} ({error}); the files replaced before it stay, as `git status` \
         shows, and the next synth completes the write"
    )]
    PartlyWritten {
        action: &'static str,
        path: PathBuf,
        error: std::io::Error,
    },
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

fn list_lines(lines: &[String]) -> String {
    lines
        .iter()
        .map(|l| format!("  - {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
