"""Write the chart values an environment's webapp helm_release passes, as one file.

    python scripts/app-values-check.py MODULE_DIR OUT_FILE [VALUES_JSON]

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

With GitOps on, the module has no such release: Argo CD delivers the service.
VALUES_JSON (`infra values <env>`) then gives the values of its release as
the terraform path would pass them, apply-time values standing for
themselves; each is replaced by its stand-in here, and the image by the one a
deploy commits to image.yaml. `just gitops-check` proves Argo CD renders the
chart from the GitOps tree with exactly these values.
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
    "grafana_admin_password": "check-password-0123456789",
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


def used_locals(locals_: dict[str, Any], documents: list[Any]) -> dict[str, Any]:
    """The locals the documents use, directly or through other locals. The
    module's other locals (custom resources of other releases) may refer to
    resources the scratch module does not have."""
    wanted: set[str] = set()
    pending = [json.dumps(documents)]
    while pending:
        for name in re.findall(r"\blocal\.([A-Za-z0-9_-]+)", pending.pop()):
            if name in locals_ and name not in wanted:
                wanted.add(name)
                pending.append(json.dumps(locals_[name]))
    return {name: locals_[name] for name in sorted(wanted)}


def terraform_documents(module_dir: Path, module: dict[str, Any], documents: list[Any]) -> list[str]:
    """Each `values` document as terraform evaluates it."""
    if shutil.which("terraform") is None:
        raise CheckError("terraform is required on PATH to evaluate the release's values")
    with tempfile.TemporaryDirectory(prefix="app-values-") as scratch:
        scratch_dir = Path(scratch)
        main = {
            "output": {f"values_{i}": {"value": doc} for i, doc in enumerate(documents)},
        }
        locals_ = used_locals(module.get("locals") or {}, documents)
        if locals_:
            main["locals"] = locals_
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


def stand_ins(values: Any, path: str, where: str) -> Any:
    """`values` with each apply-time stand-in ("${...}") replaced by its PLACEHOLDERS entry."""
    if isinstance(values, dict):
        return {k: stand_ins(v, f"{path}.{k}" if path else k, where) for k, v in values.items()}
    if isinstance(values, list):
        return [stand_ins(v, f"{path}[{i}]", where) for i, v in enumerate(values)]
    if isinstance(values, str) and INTERPOLATION.match(values):
        if path not in PLACEHOLDERS:
            raise CheckError(f"{where}: `{path}` is computed by terraform and has no stand-in "
                             "in PLACEHOLDERS (scripts/app-values-check.py)")
        return PLACEHOLDERS[path]
    return values


def delivered_values(values_file: Path) -> dict[str, Any]:
    """The service's values when Argo CD delivers it (see the module's doc)."""
    doc = json.loads(values_file.read_text(encoding="utf-8"))
    release = next((r for r in doc["releases"] if r["name"] == RELEASE and r["delivery"] == "argocd"), None)
    if release is None:
        raise CheckError(f"{values_file}: no release {RELEASE} delivered by Argo CD")
    values = stand_ins(release["values"], "", f"{values_file}: {RELEASE}")
    for name in ("image.tag", "image.digest"):
        set_path(values, name, PLACEHOLDERS[name])
    return values


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    module_dir, out_file = Path(argv[0]), Path(argv[1])
    try:
        module = json.loads((module_dir / "app.tf.json").read_text(encoding="utf-8"))
        terraform_delivers = RELEASE in module.get("resource", {}).get("helm_release", {})
        if not terraform_delivers and len(argv) == 3:
            values = delivered_values(Path(argv[2]))
        else:
            values = release_values(module_dir)
    except CheckError as err:
        print(f"app-values-check: {err}", file=sys.stderr)
        return 1
    out_file.write_text(yaml.safe_dump(values, sort_keys=True), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
