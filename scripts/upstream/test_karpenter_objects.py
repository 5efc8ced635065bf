"""Karpenter's EC2NodeClass and NodePools, as each environment renders them:
rendered by Helm's library from the chart that carries them (in the module,
or in the GitOps tree when Argo CD delivers them) with the values `infra
values` prints, they validate against the CRDs of chart 1.14.1, and the same
objects with one field misspelt do not (so the check reads them)."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import crds  # noqa: E402
import custom_resources  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
RELEASE = "helm_release.karpenter_node_pools"


@pytest.fixture(scope="module")
def infra() -> Path:
    subprocess.run(["cargo", "build", "--quiet", "--locked", "--bin", "infra"], cwd=ROOT, check=True, timeout=900)
    return ROOT / "target" / "debug" / "infra"


def release(infra: Path, env: str, out: Path) -> tuple[Path, dict]:
    """Where the release's chart path is relative to, and the release."""
    module, tree = out / env, out / f"{env}-tree"
    subprocess.run([infra, "synth", env, "--root", ROOT, "--out", module, "--gitops-out", tree], check=True,
                   capture_output=True, timeout=120)
    values = subprocess.run([infra, "values", env, "--root", ROOT], check=True, capture_output=True, timeout=120)
    found = [r for r in json.loads(values.stdout)["releases"] if r["address"] == RELEASE]
    assert len(found) == 1, f"{env}: no {RELEASE}"
    return (tree if found[0]["delivery"] == "argocd" else module), found[0]


def problems(module: Path, release: dict) -> dict[str, list[str]]:
    objects = custom_resources.render(module / release["chart"]["path"], release)
    return {f"{o['kind']}/{o['metadata']['name']}": crds.validate(o) for o in objects}


@pytest.mark.parametrize("env", ["staging", "production"])
def test_each_environments_objects_validate(infra: Path, tmp_path: Path, env: str) -> None:
    module, found = release(infra, env, tmp_path)
    assert problems(module, found) == {"EC2NodeClass/default": [], "NodePool/general": []}


@pytest.mark.parametrize(
    ("kind", "path", "wrong"),
    [
        ("NodePool", ("spec", "template", "spec"), "expireAftr"),
        ("NodePool", ("spec", "disruption"), "consolidationPolcy"),
        ("EC2NodeClass", ("spec",), "amiSelectorTerm"),
    ],
)
def test_a_misspelt_field_fails(infra: Path, tmp_path: Path, kind: str, path: tuple[str, ...], wrong: str) -> None:
    module, found = release(infra, "production", tmp_path)
    bad = copy.deepcopy(found)
    target = next(o for o in bad["values"]["objects"] if o["kind"] == kind)
    for key in path:
        target = target[key]
    right = next(k for k in target if k[:5] == wrong[:5])
    target[wrong] = target.pop(right)
    found_problems = [p for ps in problems(module, bad).values() for p in ps]
    assert any(wrong in p and "Additional properties" in p for p in found_problems), found_problems
