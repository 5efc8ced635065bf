"""Run checkov once and turn its report into a pass/fail gate.

    checkov_gate.py --checkov BIN --config-file .checkov.yaml --label NAME
                    --framework F (--directory D | --file F) [--skip-path RE]
                    [--expect-file PATH]... [--expect-terraform-dir D]
                    [--expect-manifests-dir D]

Checkov's own exit code is not enough for a gate: a file it cannot parse, or
a file it never looked at, produces no failed check. So besides failed checks
and parse errors (both fatal), this asserts that every expected file appears in
the report with at least one check: the Terraform JSON files holding AWS
resources, the rendered manifests holding workloads, or files named explicitly.
Justified skips (the config file; for manifests, annotations) are counted, not failed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

#: Kinds checkov's kubernetes framework has checks for that the chart renders;
#: a rendered file of one of these kinds must show up in the report.
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod"}

#: Check-id prefixes of each framework, to say which config skips apply to a scan.
FRAMEWORK_PREFIXES = {
    "terraform_json": ("CKV_AWS_", "CKV2_AWS_", "CKV_TF_"),
    "kubernetes": ("CKV_K8S_", "CKV2_K8S_"),
    "dockerfile": ("CKV_DOCKER_",),
    "github_actions": ("CKV_GHA_", "CKV2_GHA_"),
}

#: The Terraform file that holds only the `terraform` block; checkov's
#: terraform_json parser cannot read `required_version` (see docs/ci.md).
TERRAFORM_BLOCK_FILE = "terraform.tf.json"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkov", required=True, help="checkov executable")
    parser.add_argument("--config-file", required=True, type=Path)
    parser.add_argument("--label", required=True, help="name of this scan in messages")
    parser.add_argument("--framework", required=True)
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--directory", type=Path)
    target.add_argument("--file", type=Path)
    parser.add_argument("--skip-path", action="append", default=[])
    parser.add_argument("--expect-file", action="append", default=[], type=Path)
    parser.add_argument("--expect-terraform-dir", type=Path)
    parser.add_argument("--expect-manifests-dir", type=Path)
    return parser.parse_args(argv)


def config_skips(config_file: Path) -> list[str]:
    """The `skip-check` ids of the config; each must come with a reason.

    The reason is the comment block right above the entry (or a comment on its
    line); an entry without one fails the gate, so no skip goes unexplained.
    """
    lines = config_file.read_text().splitlines()
    skips, in_list = [], False
    for number, line in enumerate(lines):
        stripped = line.strip()
        if not line.startswith((" ", "-", "#")) and stripped:
            in_list = stripped.startswith("skip-check:")
            if in_list and stripped not in ("skip-check:", "skip-check: []"):
                raise SystemExit(f"{config_file}:{number + 1}: write skip-check as a block list, one commented entry per line")
            continue
        if not in_list or not stripped.startswith("- "):
            continue
        check_id = stripped[2:].split("#")[0].strip()
        previous = lines[number - 1].strip() if number else ""
        if "#" not in stripped and not previous.startswith("#"):
            raise SystemExit(f"{config_file}:{number + 1}: skip of {check_id} has no reason; add a comment above it")
        skips.append(check_id)
    return skips


# AWS resource types checkov (3.3.30, terraform_json) runs no check on: its
# one check of a Route 53 record (CKV2_AWS_23) never reports in this
# framework. A file whose AWS resources are all of these has nothing to scan
# (the app stack's record pointing the public name at the load balancer).
UNCHECKED_AWS_TYPES = {"aws_route53_record"}


def terraform_files_with_aws_resources(directory: Path) -> list[Path]:
    """Synthesized stack files that declare at least one `aws_*` resource
    checkov has a check for."""
    found = []
    for path in sorted(directory.glob("*.tf.json")):
        if path.name == TERRAFORM_BLOCK_FILE:
            continue
        try:
            document = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise SystemExit(f"{path}: not valid JSON: {err}") from err
        resources = document.get("resource", {})
        if any(t.startswith("aws_") and t not in UNCHECKED_AWS_TYPES for t in resources):
            found.append(path)
    if not found:
        raise SystemExit(f"{directory}: no *.tf.json file declares an aws_* resource; nothing to scan")
    return found


def manifests_with_workloads(directory: Path) -> list[Path]:
    """Rendered manifest files that hold at least one workload object."""
    import yaml  # from the venv; only this expectation needs it

    found = []
    for path in sorted(directory.rglob("*.yaml")):
        kinds = {doc.get("kind") for doc in yaml.safe_load_all(path.read_text()) if isinstance(doc, dict)}
        if kinds & WORKLOAD_KINDS:
            found.append(path)
    if not found:
        raise SystemExit(f"{directory}: no rendered manifest holds a workload ({', '.join(sorted(WORKLOAD_KINDS))})")
    return found


def run_checkov(args: argparse.Namespace) -> dict:
    command = [
        args.checkov,
        "--config-file", str(args.config_file),
        "--framework", args.framework,
        "--skip-download",
        "--output", "json",
    ]
    if args.directory:
        command += ["--directory", str(args.directory)]
    else:
        command += ["--file", str(args.file)]
    for pattern in args.skip_path:
        command += ["--skip-path", pattern]
    # Checkov's exit code only repeats what the report says; the report is read
    # instead, so a crash shows up as a missing report.
    result = subprocess.run(command, check=False, stdout=subprocess.PIPE, text=True)
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        raise SystemExit(
            f"{args.label}: checkov (exit {result.returncode}) printed no JSON report:\n{result.stdout[-2000:]}"
        ) from None
    if isinstance(report, list):
        matching = [r for r in report if r.get("check_type") == args.framework]
        if len(matching) != 1:
            raise SystemExit(f"{args.label}: expected one {args.framework} report, got {len(matching)}")
        report = matching[0]
    if "summary" not in report:
        # Checkov prints a bare summary when it found no file of the framework.
        raise SystemExit(f"{args.label}: checkov found nothing to scan: {report}")
    return report


def resource_address(check: dict) -> str:
    """`TYPE.NAME` for a Terraform JSON finding; checkov reports `resource.NAME`."""
    resource = check.get("resource", "")
    path = Path(check.get("file_abs_path") or "")
    if not (resource.startswith("resource.") and path.name.endswith(".tf.json") and path.is_file()):
        return resource
    name = resource.removeprefix("resource.")
    text = path.read_text()
    types = [t for t, named in json.loads(text).get("resource", {}).items() if name in named]
    if len(types) > 1:
        # Same name under several types: the finding's block is the one whose
        # type key opens last before the finding's first line.
        first = check.get("file_line_range", [0, 0])[0]
        lines = text.splitlines()[:first]
        opened = {t: max((i for i, line in enumerate(lines) if line.strip() == f'"{t}": {{'), default=-1) for t in types}
        types = [max(opened, key=opened.get)]
    return f"{types[0]}.{name}" if types else resource


def print_failures(report: dict) -> None:
    for check in report.get("results", {}).get("failed_checks", []):
        first, last = check.get("file_line_range", [0, 0])
        print(
            f"  FAILED {check['check_id']} {check.get('check_name', '')}\n"
            f"    resource: {resource_address(check)}  file: {check.get('file_path')}:{first}-{last}"
            + (f"\n    guide: {check['guideline']}" if check.get("guideline") else ""),
            file=sys.stderr,
        )


def reported_files(report: dict, root: Path) -> set[Path]:
    """Files checkov ran at least one check on, as absolute paths."""
    results = report.get("results", {})
    files = set()
    for kind in ("passed_checks", "failed_checks", "skipped_checks"):
        for check in results.get(kind, []):
            file_path = check.get("file_abs_path") or str(root / check["file_path"].lstrip("/"))
            files.add(Path(file_path).resolve())
    return files


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    skips = [c for c in config_skips(args.config_file) if c.startswith(FRAMEWORK_PREFIXES.get(args.framework, ("",)))]
    root = (args.directory or args.file.parent).resolve()
    expected = [path.resolve() for path in args.expect_file]
    if args.expect_terraform_dir:
        expected += [p.resolve() for p in terraform_files_with_aws_resources(args.expect_terraform_dir)]
    if args.expect_manifests_dir:
        expected += [p.resolve() for p in manifests_with_workloads(args.expect_manifests_dir)]

    report = run_checkov(args)
    summary = report.get("summary", {})
    passed = summary.get("passed", 0)
    failed = summary.get("failed", 0)
    skipped = summary.get("skipped", 0)
    parse_errors = summary.get("parsing_errors", 0)

    problems = []
    if failed:
        problems.append(f"{failed} failed checks")
    if parse_errors:
        files = ", ".join(report.get("results", {}).get("parsing_errors", []))
        problems.append(f"{parse_errors} files checkov could not parse ({files})")
    if passed + failed + skipped == 0:
        problems.append("checkov ran no check at all")
    seen = reported_files(report, root)
    missing = [str(path) for path in expected if path not in seen]
    if missing:
        problems.append(f"no check ran on {', '.join(missing)} (silently skipped?)")

    line = (
        f"{args.label}: {passed} passed, {failed} failed, {skipped} skipped inline, "
        f"{parse_errors} parse errors, {len(seen)} files checked"
        + (f"; not run, per {args.config_file.name}: {', '.join(skips)}" if skips else "")
    )
    if problems:
        print_failures(report)
        print(f"{line}\n{args.label}: FAILED: {'; '.join(problems)}", file=sys.stderr)
        return 1
    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
