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
    /// are never touched. With GitOps on (and the app stack selected), also
    /// writes the environment's GitOps tree (Argo CD Applications and their
    /// values) for git, by default into gitops/<ENV> of the checkout.
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
        /// Output directory [default: cdktf.out]. Given, the GitOps tree is
        /// written only where --gitops-out says (a check writing into a
        /// scratch directory leaves the checkout's tree alone).
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        tree: Tree,
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
    /// resources a synth there would refuse to take out of its state. Then
    /// the monthly cost of both sides and the items whose cost changes (see
    /// `infra cost`). Exit status: 0 no differences, 1 differences, 2 error.
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
        when: When,
        #[command(flatten)]
        tree: Tree,
        #[command(flatten)]
        project: Project,
    },
    /// Estimate what an environment costs a month, or compare two.
    ///
    /// Prices every resource of the module by type and attributes from the
    /// committed price table of its region (stacks/prices/<region>.toml),
    /// offline, plus what controllers in the cluster create (the service's
    /// load balancer, ...), estimated from config and marked `~`. Figures
    /// marked `*` depend on the environment's [usage] inputs, listed with
    /// their values and whether they are defaults.
    Cost {
        /// Environment name: a file stacks/config/<ENV>.toml.
        env: String,
        /// A second environment, shown side by side with the first.
        other: Option<String>,
        #[command(flatten)]
        select: Select,
        #[command(flatten)]
        when: When,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        project: Project,
    },
    /// Draw an environment's architecture.
    ///
    /// Region, VPC, availability zones, public and private subnets with the
    /// NAT gateways, load balancers and node groups in the subnets they use;
    /// the EKS cluster with its add-ons and the service; IAM roles beside
    /// what assumes them; the path from the internet to the pods and back
    /// out. What controllers in the cluster create is drawn dashed.
    Graph {
        /// Environment name: a file stacks/config/<ENV>.toml.
        env: String,
        /// mermaid (renders on GitHub), dot (Graphviz), svg (Graphviz's
        /// drawing; needs `dot` installed) or box-svg (nested boxes drawn
        /// without Graphviz, as in `infra report`).
        #[arg(long, value_enum, default_value_t = GraphFormat::Mermaid)]
        format: GraphFormat,
        /// Write to this file instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        #[command(flatten)]
        select: Select,
        #[command(flatten)]
        project: Project,
    },
    /// Write one self-contained HTML page about an environment.
    ///
    /// The architecture picture (inline SVG, drawn without Graphviz), the
    /// monthly cost, the policies and floors it passed, its resources by
    /// stack, and how it differs from another environment (by default the
    /// first other one). The page fetches nothing (no scripts, fonts or
    /// images; its Content-Security-Policy forbids it), reads on a phone and
    /// prints.
    Report {
        /// Environment name: a file stacks/config/<ENV>.toml.
        env: String,
        /// Compare with this environment (default: the first other one).
        #[arg(long, value_name = "ENV", conflicts_with = "no_diff")]
        against: Option<String>,
        /// Leave the comparison with another environment out.
        #[arg(long)]
        no_diff: bool,
        /// Where to write the page (default report/<ENV>.html).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        #[command(flatten)]
        when: When,
        #[command(flatten)]
        project: Project,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum GraphFormat {
    Mermaid,
    Dot,
    Svg,
    BoxSvg,
}

/// The day an estimate is for.
#[derive(Debug, Args)]
struct When {
    /// Price as of this day (YYYY-MM-DD; default today, UTC). It decides
    /// whether a Kubernetes version is in standard or extended support.
    #[arg(long, value_name = "DATE")]
    as_of: Option<String>,
}

#[derive(Debug, Args)]
struct Tree {
    /// Directory of the environment's GitOps tree (default: the path
    /// `gitops.path` of its config names in the checkout, gitops/<ENV>).
    #[arg(long, value_name = "DIR")]
    gitops_out: Option<PathBuf>,
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
            tree,
            allow_destroy,
            overlay,
            project,
        } => {
            let p = ops::Project::locate(project.root)?;
            let out = match (out, tree.gitops_out) {
                (None, tree) => ops::Outputs {
                    module: PathBuf::from("cdktf.out"),
                    tree: tree.map_or(ops::TreeDir::Checkout, ops::TreeDir::At),
                },
                (Some(module), tree) => ops::Outputs {
                    module,
                    tree: tree.map_or(ops::TreeDir::Skip, ops::TreeDir::At),
                },
            };
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
        Command::Cost {
            env,
            other,
            select,
            when,
            json,
            project,
        } => {
            let p = ops::Project::locate(project.root)?;
            let as_of = ops::as_of(when.as_of.as_deref())?;
            let options = options(select, no_overlay());
            ops::cost(&p, &env, other.as_deref(), &options, as_of, json)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Graph {
            env,
            format,
            out,
            select,
            project,
        } => {
            let p = ops::Project::locate(project.root)?;
            let format = match format {
                GraphFormat::Mermaid => ops::Picture::Mermaid,
                GraphFormat::Dot => ops::Picture::Dot,
                GraphFormat::Svg => ops::Picture::GraphvizSvg,
                GraphFormat::BoxSvg => ops::Picture::BoxSvg,
            };
            ops::graph(
                &p,
                &env,
                &options(select, no_overlay()),
                format,
                out.as_deref(),
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Report {
            env,
            against,
            no_diff,
            out,
            when,
            project,
        } => {
            let p = ops::Project::locate(project.root)?;
            let as_of = ops::as_of(when.as_of.as_deref())?;
            let against = if no_diff {
                ops::Against::Nothing
            } else {
                against.map_or(ops::Against::FirstOther, ops::Against::Env)
            };
            let out = out.unwrap_or_else(|| PathBuf::from(format!("report/{env}.html")));
            ops::report_page(&p, &env, against, as_of, &out)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Diff {
            env,
            other,
            select,
            out,
            when,
            tree,
            project,
        } => {
            let p = ops::Project::locate(project.root)?;
            let options = options(select, no_overlay());
            let as_of = ops::as_of(when.as_of.as_deref())?;
            let differs = match other {
                Some(other) => ops::diff_envs(&p, &env, &other, &options, as_of)?,
                None => {
                    let out = ops::Outputs {
                        module: out,
                        tree: tree
                            .gitops_out
                            .map_or(ops::TreeDir::Checkout, ops::TreeDir::At),
                    };
                    ops::diff_out(&p, &env, &options, &out, as_of)?
                }
            };
            Ok(if differs {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}

fn no_overlay() -> Overlay {
    Overlay {
        emulator: None,
        state_bucket: None,
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
