//! Each bad config input, in a real file: the error names the file, the field
//! and the problem, and an output directory synthesized earlier from the good
//! config is left byte for byte as it was (the same load → build → synth →
//! write order the CLI follows; a bad config stops it at the first step).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

struct Case {
    env: &'static str,
    from: &'static str,
    to: &'static str,
    expected: &'static str,
}

const CASES: &[Case] = &[
    Case {
        env: "staging",
        from: "vpc_cidr = \"10.10.0.0/16\"",
        to: "vpc_cidr = \"10.10.0.0/33\"",
        expected: "prefix length must be a number from 0 to 32",
    },
    Case {
        env: "staging",
        from: "service_ipv4_cidr = \"172.20.0.0/16\"",
        to: "service_ipv4_cidr = \"10.10.128.0/20\"",
        expected: "cluster.service_ipv4_cidr: 10.10.128.0/20 overlaps network.vpc_cidr (10.10.0.0/16)",
    },
    Case {
        env: "staging",
        from: "nat_gateway = \"single\"",
        to: "nat_gateway = \"single\"\nprivate_subnet_prefix = 17",
        expected: "network.public_subnets[0]: 10.10.255.0/24 overlaps network.private_subnets[1] (10.10.128.0/17)",
    },
    Case {
        env: "production",
        from: "nat_gateway = \"one_per_az\"",
        to: "nat_gateway = \"one_per_az\"\nprivate_subnet_prefix = 17",
        expected: "network.private_subnet_prefix: 3 private /17 subnets do not fit in network.vpc_cidr (10.20.0.0/16)",
    },
    Case {
        env: "staging",
        from: "azs = [\"eu-west-1a\", \"eu-west-1b\"]",
        to: "azs = [\"eu-west-1a\"]",
        expected: "network.azs: lists 1 AZ; this environment needs at least 2",
    },
    Case {
        env: "production",
        from: "azs = [\"eu-west-1a\", \"eu-west-1b\", \"eu-west-1c\"]",
        to: "azs = [\"eu-west-1a\", \"eu-west-1b\"]",
        expected: "network.azs: lists 2 AZs; this environment needs at least 3 (policy min_azs = 3)",
    },
    Case {
        env: "production",
        from: "nat_gateway = \"one_per_az\"",
        to: "nat_gateway = \"single\"",
        expected: "network.nat_gateway: is `single` but policy require_nat_gateway_per_az is true",
    },
    Case {
        env: "staging",
        from: "min_size = 2",
        to: "min_size = 3",
        expected: "node_groups[0].min_size: 3 is greater than desired_size (2)",
    },
    Case {
        env: "production",
        from: "desired_size = 3",
        to: "desired_size = 10",
        expected: "node_groups[0].desired_size: 10 is greater than max_size (4)",
    },
    Case {
        env: "production",
        from: "capacity_types = [\"on-demand\"]",
        to: "capacity_types = [\"spot\", \"on-demand\"]",
        expected: "karpenter.node_pools[0].capacity_types: includes spot; this environment runs \
                   on-demand capacity only (policy allow_spot = false)",
    },
    Case {
        env: "production",
        from: "capacity_type = \"ON_DEMAND\"",
        to: "capacity_type = \"SPOT\"",
        expected: "node_groups[0].capacity_type: is SPOT; this environment runs on-demand capacity \
                   only (policy allow_spot = false)",
    },
    Case {
        env: "staging",
        from: "ami_alias = \"al2023@v20260714\"",
        to: "ami_alias = \"al2023@latest\"",
        expected: "karpenter.ami_alias: `al2023@latest` follows every new AMI release unreviewed",
    },
    Case {
        env: "staging",
        from: "kubernetes_version = \"1.32\"",
        to: "kubernetes_version = \"1.32.0\"",
        expected: "cluster.kubernetes_version: `1.32.0` is not a Kubernetes minor version like \"1.32\"",
    },
    Case {
        env: "staging",
        from: "kubernetes_version = \"1.32\"",
        to: "kubernetes_version = \"1.99\"",
        expected: "cluster.kubernetes_version: `1.99` is not offered by EKS",
    },
    Case {
        env: "staging",
        from: "[logs]",
        to: "[logs]\nretention = 30",
        expected: "unknown field `retention`",
    },
    Case {
        env: "production",
        from: "hostname = \"webapp.example.com\"",
        to: "hostname = \"webapp.example.org\"",
        expected: "edge.hostname: `webapp.example.org` is not in the hosted zone `example.com`",
    },
    Case {
        env: "staging",
        from: "ssl_policy = \"ELBSecurityPolicy-TLS13-1-2-2021-06\"",
        to: "ssl_policy = \"ELBSecurityPolicy-2016-08\"",
        expected: "edge.ssl_policy: `ELBSecurityPolicy-2016-08` does not offer TLS 1.3",
    },
    Case {
        env: "production",
        from: "level = \"view\"",
        to: "level = \"edit\"",
        expected: "access.teams[0].level: `edit` (AmazonEKSEditPolicy) goes beyond `view`",
    },
];

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in fs::read_dir(&current).expect("read output dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.insert(path.clone(), fs::read(&path).expect("read output file"));
            }
        }
    }
    files
}

/// What the CLI does for `synth <env> --out <out>`, in a checkout at `root`;
/// the error with its whole chain of causes.
fn synthesize(root: &Path, env: &str, out: &Path) -> Result<(), String> {
    let synthesis =
        stacks::synthesize(root, env, &stacks::Options::default()).map_err(|e| chain(&e))?;
    synth::output::write_module(out, &synthesis.module).map_err(|e| chain(&e))?;
    Ok(())
}

fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(c) = cause {
        text.push_str(&format!(": {c}"));
        cause = c.source();
    }
    text
}

/// A checkout holding only what synthesis reads: the config and the chart.
fn scratch_root() -> tempfile::TempDir {
    let root = tempfile::tempdir().expect("scratch root");
    fs::create_dir_all(stacks::config_dir(root.path())).expect("config dir");
    copy_dir(
        &stacks::policy_dir(&repo_root()),
        &stacks::policy_dir(root.path()),
    );
    copy_dir(
        &stacks::chart_dir(&repo_root()),
        &stacks::chart_dir(root.path()),
    );
    root
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("mkdir");
    for entry in fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("dir entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

#[test]
fn each_bad_input_is_named_and_leaves_previous_output_untouched() {
    for case in CASES {
        let root = scratch_root();
        let out = tempfile::tempdir().expect("output dir");
        let file = stacks::config_dir(root.path()).join(format!("{}.toml", case.env));
        let good = fs::read_to_string(repo_root().join(format!("stacks/config/{}.toml", case.env)))
            .expect("shipped config");
        fs::write(&file, &good).expect("write good config");
        synthesize(root.path(), case.env, out.path()).expect("good config synthesizes");
        let before = snapshot(out.path());

        assert!(
            good.contains(case.from),
            "`{}` not in {}.toml",
            case.from,
            case.env
        );
        fs::write(&file, good.replacen(case.from, case.to, 1)).expect("write bad config");
        let error = match synthesize(root.path(), case.env, out.path()) {
            Ok(()) => panic!("`{}` was accepted", case.to),
            Err(e) => e,
        };
        assert!(
            error.contains(&file.display().to_string()),
            "file not named:\n{error}"
        );
        assert!(
            error.contains(case.expected),
            "expected `{}` in:\n{error}",
            case.expected
        );
        assert_eq!(
            snapshot(out.path()),
            before,
            "output changed after `{}`",
            case.to
        );
    }
}
