"""Writes the `run:` script of one named step of a composite action, as it
is in the action file, for the tests that run it with stand-in tools: what
they test is what GitHub runs.

    python scripts/security/action_step.py ACTION_YML STEP_NAME OUT_FILE
"""

import sys

import yaml


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    action, name, out = argv
    steps = [s for s in yaml.safe_load(open(action, encoding="utf-8"))["runs"]["steps"] if s.get("name") == name]
    if len(steps) != 1:
        print(f"{action}: expected one step named {name!r}, found {len(steps)}", file=sys.stderr)
        return 1
    with open(out, "w", encoding="utf-8") as f:
        f.write(steps[0]["run"])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
