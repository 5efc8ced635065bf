"""Write the chart values an environment's webapp helm_release passes, as one file.

    python scripts/app-values-check.py MODULE_DIR OUT_FILE

Reads MODULE_DIR/app.tf.json (a synthesized module), takes
`resource.helm_release.webapp`: its `values` documents (literal YAML, or
`yamlencode(local.NAME)` of a literal local of the module), merged in order as
helm does, then its `set` entries on top. A `set` value that is a terraform
expression (the ECR URL, the image tag, the IRSA role, the Secret) is only known
at apply time; it is replaced by a realistic stand-in from PLACEHOLDERS, and a
`set` entry without one is an error, so a new entry cannot slip past the check.
The result goes through the chart's own checks (scripts/chart-check.sh).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

RELEASE = "webapp"

# Stand-ins for values terraform computes, shaped like the real ones so the
# chart's schema patterns (ECR URL, IAM role ARN, DNS names) are exercised.
PLACEHOLDERS: dict[str, str] = {
    "image.repository": "111122223333.dkr.ecr.eu-west-1.amazonaws.com/webapp",
    "image.tag": "0.0.0-check",
    "image.digest": "sha256:" + "0123456789abcdef" * 4,
    "serviceAccount.roleArn": "arn:aws:iam::111122223333:role/webapp-check",
    "secret.existingSecret": "webapp-secrets",
    "secret.existingSecretChecksum": "12345",
}

# `${` not preceded by another `$` starts a terraform interpolation.
INTERPOLATION = re.compile(r"(?<!\$)\$\{|(?<!%)%\{")
YAMLENCODE_LOCAL = re.compile(r"^\$\{yamlencode\(local\.([A-Za-z0-9_]+)\)\}$")


class CheckError(Exception):
    pass


def literal(text: str) -> str:
    """A terraform JSON string without interpolations, unescaped."""
    return text.replace("$${", "${").replace("%%{", "%{")


def literal_value(value: Any, where: str) -> Any:
    """A terraform JSON value that holds no expression, with strings unescaped."""
    if isinstance(value, str):
        if INTERPOLATION.search(value):
            raise CheckError(f"{where} is a terraform expression, not a literal")
        return literal(value)
    if isinstance(value, list):
        return [literal_value(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {literal(k): literal_value(v, f"{where}.{k}") for k, v in value.items()}
    return value


def set_path(values: dict[str, Any], name: str, value: Any) -> None:
    """Apply one helm `--set` style name (dots separate keys, `\\.` is a dot)."""
    keys = [k.replace("\\.", ".") for k in re.split(r"(?<!\\)\.", name)]
    node = values
    for key in keys[:-1]:
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            raise CheckError(f"set `{name}`: `{key}` is not a mapping in the values")
        node = child
    node[keys[-1]] = value


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            merge(base[key], value)
        else:
            base[key] = value
    return base


def release_values(module_dir: Path) -> dict[str, Any]:
    path = module_dir / "app.tf.json"
    try:
        module = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise CheckError(f"{path}: cannot read the synthesized app stack: {err}") from err
    try:
        release = module["resource"]["helm_release"][RELEASE]
    except KeyError as err:
        raise CheckError(f"{path}: no resource helm_release.{RELEASE}") from err
    where = f"{path}: helm_release.{RELEASE}"

    values: dict[str, Any] = {}
    for i, document in enumerate(release.get("values", [])):
        local = YAMLENCODE_LOCAL.match(document) if isinstance(document, str) else None
        if local:
            name = local.group(1)
            if name not in module.get("locals", {}):
                raise CheckError(f"{where}.values[{i}] uses local.{name}, not in {path}")
            parsed = literal_value(module["locals"][name], f"{path}: local.{name}")
        elif isinstance(document, str) and not INTERPOLATION.search(document):
            parsed = yaml.safe_load(literal(document))
        else:
            raise CheckError(f"{where}.values[{i}] is a terraform expression, not literal YAML")
        if not isinstance(parsed, dict):
            raise CheckError(f"{where}.values[{i}] is not a YAML mapping")
        merge(values, parsed)

    for i, entry in enumerate(release.get("set", [])):
        name, value = entry.get("name"), entry.get("value")
        if not isinstance(name, str) or not isinstance(value, str):
            raise CheckError(f"{where}.set[{i}] needs a literal name and a string value")
        if INTERPOLATION.search(value):
            if name not in PLACEHOLDERS:
                raise CheckError(
                    f"{where}.set[{i}] `{name}` is computed by terraform and has no stand-in "
                    "in PLACEHOLDERS (scripts/app-values-check.py)"
                )
            value = PLACEHOLDERS[name]
        else:
            value = literal(value)
        if entry.get("type") in (None, "", "auto"):
            value = yaml.safe_load(value)
        set_path(values, name, value)
    return values


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    module_dir, out_file = Path(argv[0]), Path(argv[1])
    try:
        values = release_values(module_dir)
    except CheckError as err:
        print(f"app-values-check: {err}", file=sys.stderr)
        return 1
    out_file.write_text(yaml.safe_dump(values, sort_keys=True), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
