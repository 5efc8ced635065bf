//! `infra`: synthesizes each environment's Terraform JSON from the Rust
//! stacks, and inspects it. Each command is a thin wrapper over [`ops`].

mod ops;

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// Infrastructure as Rust: typed stacks synthesized to Terraform JSON.
///
/// Synthesize an environment, then apply it with plain terraform, in two
/// phases (the helm and kubernetes providers need an existing cluster):
///
///   infra synth staging --stacks network,iam,eks
///   terraform -chdir=cdktf.out init && terraform -chdir=cdktf.out apply
///   infra synth staging
///   terraform -chdir=cdktf.out init && terraform -chdir=cdktf.out apply
///
/// From a checkout, `cargo run --` stands for `infra`.
#[derive(Debug, Parser)]
#[command(name = "infra", version, verbatim_doc_comment)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check an environment and write its Terraform root module.
    ///
    /// Writes one <stack>.tf.json per stack, terraform.tf.json (the terraform
    /// block), providers.tf.json, variables.tf.json, refactor.tf.json (moved
    /// and import blocks, when there are any) and manifest.json into the
    /// output directory. Nothing is written unless every check passes;
    /// terraform's own files there (.terraform/, *.tfstate*, the lock file)
    /// are never touched.
    ///
    /// A module that would take a stateful resource (cluster, node group, KMS
    /// key, bucket, log group, repository...) out of the state there is
    /// refused, naming each and how to keep it (a moved entry) or let it go
    /// (--allow-destroy). Resources that look renamed since the last synth
    /// there are reported with the moved entry that keeps their state.
    Synth {
        /// Environment name: a file stacks/config/<ENV>.toml.
        env: String,
        #[command(flatten)]
        select: Select,
        /// Output directory.
        #[arg(long, default_value = "cdktf.out")]
        out: PathBuf,
        /// Let this synth take the stateful resource at ADDRESS out of the
        /// state (terraform destroys it on the next apply); repeatable.
        #[arg(long, value_name = "ADDRESS", value_delimiter = ',')]
        allow_destroy: Vec<String>,
        #[command(flatten)]
        overlay: Overlay,
        #[command(flatten)]
        project: Project,
    },
    /// Run every check synth runs, and write nothing.
    Validate {
        /// Environment name: a file stacks/config/<ENV>.toml.
        env: String,
        #[command(flatten)]
        select: Select,
        #[command(flatten)]
        overlay: Overlay,
        #[command(flatten)]
        project: Project,
    },
    /// List environments and stacks, or one environment's stacks and blocks.
    List {
        /// Environment whose stacks and blocks to list.
        env: Option<String>,
        #[command(flatten)]
        project: Project,
    },
    /// Print the values each helm release hands its chart, as JSON.
    ///
    /// Values documents merged in order and `set` entries on top, as helm
    /// does; what only terraform knows at apply time (a role ARN, the
    /// cluster's name) stands for itself: "${aws_iam_role.service.arn}".
    /// The chart checks render every chart with these.
    Values {
        /// Environment name: a file stacks/config/<ENV>.toml.
        env: String,
        /// Only this release (its helm_release name, e.g. webapp).
        #[arg(long)]
        release: Option<String>,
        #[command(flatten)]
        project: Project,
    },
    /// Compare an environment with what is in the output directory, or two
    /// environments with each other.
    ///
    /// Against a directory, the stacks it holds are compared unless --stacks
    /// says otherwise.
    ///
    /// Prints resource-level additions, removals and changes with attribute
    /// paths, and moves. Against a directory, also resources that look
    /// renamed without a moved entry (with the entry to add), and stateful
    /// resources a synth there would refuse to take out of its state.
    /// Exit status: 0 no differences, 1 differences, 2 error.
    Diff {
        /// Environment to synthesize and compare.
        env: String,
        /// A second environment to compare the first against.
        other: Option<String>,
        #[command(flatten)]
        select: Select,
        /// Output directory compared against when only one environment is given.
        #[arg(long, default_value = "cdktf.out")]
        out: PathBuf,
        #[command(flatten)]
        project: Project,
    },
}

#[derive(Debug, Args)]
struct Select {
    /// Only these stacks, comma-separated (e.g. network,iam,eks).
    #[arg(long, value_delimiter = ',')]
    stacks: Option<Vec<String>>,
}

/// Settings that change what is synthesized without touching config files.
#[derive(Debug, Args)]
struct Overlay {
    /// Point the AWS provider at an AWS API emulator on loopback (for end-to-end
    /// tests); prints what the emulator cannot cover.
    #[arg(long, value_name = "URL")]
    emulator: Option<String>,
    /// Keep state in this S3 bucket (key <env>/terraform.tfstate, lock file
    /// beside it) instead of a local file.
    #[arg(long, value_name = "BUCKET")]
    state_bucket: Option<String>,
}

#[derive(Debug, Args)]
struct Project {
    /// Repository root holding stacks/config/ and helm-chart/ (default: the
    /// current directory, else the directory infra was built from).
    #[arg(long, value_name = "DIR", global = true)]
    root: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            let mut text = format!("error: {err}\n");
            for cause in err.chain().skip(1) {
                text.push_str(&format!("  caused by: {cause}\n"));
            }
            // A closed stderr must not turn the documented exit status 2 into a panic.
            let _ = std::io::stderr().write_all(text.as_bytes());
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Synth {
            env,
            select,
            out,
            allow_destroy,
            overlay,
            project,
        } => {
            let p = ops::Project::locate(project.root)?;
            let options = stacks::Options {
                allow_destroy,
                ..options(select, overlay)
            };
            ops::synth(&p, &env, &options, &out)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Validate {
            env,
            select,
            overlay,
            project,
        } => {
            let p = ops::Project::locate(project.root)?;
            ops::validate(&p, &env, &options(select, overlay))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::List { env, project } => {
            let p = ops::Project::locate(project.root)?;
            ops::list(&p, env.as_deref())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Values {
            env,
            release,
            project,
        } => {
            let p = ops::Project::locate(project.root)?;
            ops::values(&p, &env, release.as_deref())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Diff {
            env,
            other,
            select,
            out,
            project,
        } => {
            let p = ops::Project::locate(project.root)?;
            let options = options(
                select,
                Overlay {
                    emulator: None,
                    state_bucket: None,
                },
            );
            let differs = match other {
                Some(other) => ops::diff_envs(&p, &env, &other, &options)?,
                None => ops::diff_out(&p, &env, &options, &out)?,
            };
            Ok(if differs {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}

fn options(select: Select, overlay: Overlay) -> stacks::Options {
    stacks::Options {
        stacks: select.stacks,
        emulator: overlay.emulator,
        state_bucket: overlay.state_bucket,
        allow_destroy: Vec::new(),
        tool: String::new(),
    }
}
