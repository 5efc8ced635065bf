"""Validate custom resources against the CRD schemas of the pinned charts.

The schemas are the `openAPIV3Schema` of each CustomResourceDefinition the
charts ship (stacks/upstream/crds/, derived by scripts/upstream/facts.py).
Validation is stricter than the API server's pruning: a field the schema
does not define is an error (as `kubectl apply --validate=strict` reports
it), since a misspelt field would otherwise be dropped silently.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema

ROOT = Path(__file__).resolve().parents[2]
CRDS = ROOT / "stacks" / "upstream" / "crds"

# metadata.name of most objects: a DNS subdomain (RFC 1123).
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def strict(schema: Any) -> Any:
    """The OpenAPI v3 schema as JSON Schema, closed where Kubernetes would prune."""
    if isinstance(schema, list):
        return [strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: strict(v) for k, v in schema.items() if not k.startswith("x-kubernetes-")}
    if schema.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if schema.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    if (
        "properties" in schema
        and "additionalProperties" not in schema
        and not schema.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


@lru_cache(maxsize=None)
def validator(api_version: str, kind: str) -> jsonschema.Draft7Validator | None:
    group, _, version = api_version.rpartition("/")
    path = CRDS / group / f"{kind}-{version}.json"
    if not path.is_file():
        return None
    doc = json.loads(path.read_text(encoding="utf-8"))
    return jsonschema.Draft7Validator(strict(doc["schema"]))


#: Kinds the stacks create whose CRD the upstream chart data does not hold.
#: Each is reported as not validated, with the reason, never passed silently;
#: adding its CRD to the data (and `just upstream-facts`) makes it checked.
NOT_IN_THE_DATA = {
    ("argoproj.io/v1alpha1", "AppProject"): (
        "argo-cd 10.1.1 installs its CRD, but the upstream chart data holds only "
        "the Application and ApplicationSet CRDs of that chart"
    ),
}


def unvalidated(obj: dict[str, Any]) -> str | None:
    """Why an object cannot be validated against a CRD here, if it cannot."""
    if known(obj.get("apiVersion", ""), obj.get("kind", "")):
        return None
    return NOT_IN_THE_DATA.get((obj.get("apiVersion", ""), obj.get("kind", "")))


def known(api_version: str, kind: str) -> bool:
    return validator(api_version, kind) is not None


def validate(obj: dict[str, Any]) -> list[str]:
    """Problems of one object against its CRD's schema, each with its field path."""
    api_version, kind = obj.get("apiVersion", ""), obj.get("kind", "")
    check = validator(api_version, kind)
    if check is None:
        return [f"no CRD schema for {api_version} {kind} in {CRDS.relative_to(ROOT)}"]
    problems = []
    name = obj.get("metadata", {}).get("name", "")
    if not isinstance(name, str) or len(name) > 253 or not DNS_SUBDOMAIN.match(name):
        problems.append(f"metadata.name: {name!r} is not a DNS subdomain name")
    for error in sorted(check.iter_errors(obj), key=lambda e: list(e.absolute_path)):
        where = ".".join(str(p) for p in error.absolute_path) or "(object)"
        problems.append(f"{where}: {error.message}")
    return problems
