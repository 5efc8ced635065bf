"""Check that the pull-request workflow runs exactly the recipes of `just ci`.

    ci_parity.py --just BIN WORKFLOW

`just ci` is the promise that a developer runs locally what CI runs. The
workflow splits those recipes into parallel jobs, so the two can drift: a
recipe added to `ci` but not to the workflow is never checked on a pull
request, and one only in the workflow cannot be reproduced with `just ci`.
Exit 1, naming the recipes, when the sets differ.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

import yaml

JUST_RUN = re.compile(r"(?:^|[\s;&|(])(?:\S*/)?just\s+([A-Za-z0-9_-]+)")


def ci_recipes(just: str) -> set[str]:
    dump = json.loads(subprocess.run([just, "--dump", "--dump-format", "json"], check=True,
                                     capture_output=True, text=True).stdout)
    recipe = dump["recipes"].get("ci")
    if recipe is None:
        raise SystemExit("ci_parity: the justfile has no `ci` recipe")
    return {dependency["recipe"] for dependency in recipe["dependencies"]}


def workflow_recipes(workflow: Path) -> set[str]:
    document = yaml.safe_load(workflow.read_text())
    recipes = set()
    for job in document.get("jobs", {}).values():
        for step in job.get("steps", []):
            recipes.update(JUST_RUN.findall(step.get("run", "")))
    return recipes


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--just", required=True)
    parser.add_argument("workflow", type=Path)
    args = parser.parse_args(argv)
    local, remote = ci_recipes(args.just), workflow_recipes(args.workflow)
    problems = []
    if local - remote:
        problems.append(f"in `just ci` but not run by {args.workflow}: {', '.join(sorted(local - remote))}")
    if remote - local:
        problems.append(f"run by {args.workflow} but not in `just ci`: {', '.join(sorted(remote - local))}")
    for problem in problems:
        print(f"ci-parity: {problem}", file=sys.stderr)
    if not problems:
        print(f"ci-parity: {args.workflow} runs the {len(local)} recipes of `just ci`")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
