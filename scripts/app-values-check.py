"""Write the chart values an environment's webapp helm_release passes, as one file.

    python scripts/app-values-check.py MODULE_DIR OUT_FILE

Reads MODULE_DIR/app.tf.json (a synthesized module), takes
`resource.helm_release.webapp`, and has terraform itself evaluate its `values`
documents (e.g. `yamlencode(local.webapp_values)`) in a scratch module holding
the module's locals and variables, so the YAML checked is byte for byte the YAML
helm will get; the variables' validations run on the way. The documents are
merged in order as helm does, then the `set` entries go on top. A `set` value
that is a terraform expression (the ECR URL, the image tag, the IRSA role, the
certificate, the web ACL) is only known at apply time; it is replaced by a realistic stand-in
from PLACEHOLDERS, and a `set` entry without one is an error, so a new entry
cannot slip past the check. The result goes through the chart's own checks
(scripts/chart-check.sh). Needs terraform on PATH (no provider is installed).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

RELEASE = "webapp"

DIGEST = "sha256:" + "0123456789abcdef" * 4

# Stand-ins for values terraform computes, shaped like the real ones so the
# chart's schema patterns (ECR URL, IAM role ARN, DNS names) are exercised.
PLACEHOLDERS: dict[str, str] = {
    "image.repository": "111122223333.dkr.ecr.eu-west-1.amazonaws.com/webapp",
    "image.tag": "0.0.0-check",
    "image.digest": DIGEST,
    "serviceAccount.roleArn": "arn:aws:iam::111122223333:role/webapp-check",
    "ingress.certificateArn": "arn:aws:acm:eu-west-1:111122223333:certificate/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d",
    "ingress.wafAclArn": "arn:aws:wafv2:eu-west-1:111122223333:regional/webacl/webapp-check-edge/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d",
    "service.tls.certificateArn": "arn:aws:acm:eu-west-1:111122223333:certificate/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d",
}

# Values for the module's variables while terraform evaluates the documents.
VARIABLES: dict[str, str] = {
    "image_tag": PLACEHOLDERS["image.tag"],
    "image_digest": DIGEST,
}

# `${` not preceded by another `$` starts a terraform interpolation.
INTERPOLATION = re.compile(r"(?<!\$)\$\{|(?<!%)%\{")


class CheckError(Exception):
    pass


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


def terraform_documents(module_dir: Path, module: dict[str, Any], documents: list[Any]) -> list[str]:
    """Each `values` document as terraform evaluates it."""
    if shutil.which("terraform") is None:
        raise CheckError("terraform is required on PATH to evaluate the release's values")
    with tempfile.TemporaryDirectory(prefix="app-values-") as scratch:
        scratch_dir = Path(scratch)
        main = {
            "output": {f"values_{i}": {"value": doc} for i, doc in enumerate(documents)},
        }
        if module.get("locals"):
            main["locals"] = module["locals"]
        (scratch_dir / "main.tf.json").write_text(json.dumps(main), encoding="utf-8")
        variables_file = module_dir / "variables.tf.json"
        declared: dict[str, Any] = {}
        if variables_file.exists():
            shutil.copy(variables_file, scratch_dir / "variables.tf.json")
            declared = json.loads(variables_file.read_text(encoding="utf-8")).get("variable", {})
        var_args = [f"-var={name}={VARIABLES[name]}" for name in sorted(declared) if name in VARIABLES]
        env = dict(os.environ, TF_IN_AUTOMATION="1")
        for command in (
            ["init", "-input=false", "-no-color"],
            ["apply", "-auto-approve", "-input=false", "-no-color", *var_args],
        ):
            run = subprocess.run(
                ["terraform", f"-chdir={scratch}", *command],
                capture_output=True, text=True, env=env, check=False,
            )
            if run.returncode != 0:
                raise CheckError(
                    f"terraform {command[0]} failed evaluating the values of "
                    f"helm_release.{RELEASE} in {module_dir}:\n{run.stderr.strip()}"
                )
        run = subprocess.run(
            ["terraform", f"-chdir={scratch}", "output", "-json"],
            capture_output=True, text=True, env=env, check=True,
        )
        outputs = json.loads(run.stdout)
    return [outputs[f"values_{i}"]["value"] for i in range(len(documents))]


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
    documents = terraform_documents(module_dir, module, release.get("values", []))
    for i, document in enumerate(documents):
        parsed = yaml.safe_load(document)
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
            value = value.replace("$${", "${").replace("%%{", "%{")
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
