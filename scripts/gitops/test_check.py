"""scripts/gitops/check.py: each check passes the shipped tree and fails on
the mistake it exists for (a drifted tree, an Application the CRD refuses, a
bad image.yaml)."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import check  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "target" / "debug" / "infra"


@pytest.fixture(scope="module")
def staging(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """A fresh synthesis of staging: its tree and `infra values`."""
    if not INFRA.is_file():
        subprocess.run(["cargo", "build", "--quiet", "--locked", "--bin", "infra"], cwd=ROOT, check=True)
    work = tmp_path_factory.mktemp("staging")
    subprocess.run([str(INFRA), "synth", "staging", "--root", str(ROOT), "--out", str(work / "module"),
                    "--gitops-out", str(work / "tree")], check=True, capture_output=True)
    values = subprocess.run([str(INFRA), "values", "staging", "--root", str(ROOT)], check=True,
                            capture_output=True, text=True).stdout
    return work / "tree", json.loads(values)


def editable(tree: Path, tmp_path: Path) -> Path:
    """A copy of a tree that a test may change."""
    copy_dir = tmp_path / "tree"
    shutil.copytree(tree, copy_dir)
    return copy_dir


def edit_values(tree: Path, change) -> None:
    path = tree / "apps" / "values.yaml"
    doc = json.loads(path.read_text(encoding="utf-8"))
    change(doc)
    path.write_text(json.dumps(doc), encoding="utf-8")


def test_the_shipped_tree_passes(staging, tmp_path):
    tree, values = staging
    assert check.check(tree, values, None, tmp_path / "out") == []
    assert (tmp_path / "out" / "staging" / "applications").is_dir()


def test_a_tree_that_drifted_from_the_terraform_path_fails(staging, tmp_path):
    tree, values = staging
    drifted = editable(tree, tmp_path)
    edit_values(drifted, lambda d: d["applications"]["webapp"]["values"]["settings"].update(logLevel="error"))
    found = check.check(drifted, values, None, None)
    assert any("Deployment/webapp: renders differently by Argo CD than by terraform" in p for p in found), found


def test_a_value_terraform_no_longer_hands_over_is_drift(staging):
    tree, values = staging
    lost = copy.deepcopy(values)
    root, _ = check.root_values(lost)
    del root["spec"]["source"]["helm"]["valuesObject"]["terraform"]["webapp"]["serviceAccount"]
    found = check.check(tree, lost, None, None)
    assert any("ServiceAccount/webapp" in p for p in found), found


def test_an_application_the_crd_refuses_or_nobody_delivers_fails(staging, tmp_path):
    tree, values = staging
    broken = editable(tree, tmp_path)

    def change(doc):
        controller = doc["applications"]["metrics-server"]["application"]
        controller["spec"]["syncPolicy"]["automated"]["selfHeal"] = False
        controller["spec"]["sourceRepo"] = "typo"
        extra = copy.deepcopy(controller)
        extra["spec"]["source"]["helm"]["releaseName"] = "stray"
        extra["metadata"]["name"] = "stray"
        doc["applications"]["stray"] = {"application": extra, "values": {}}

    edit_values(broken, change)
    found = "\n".join(check.check(broken, values, None, None))
    assert "Application/metrics-server: spec: Additional properties are not allowed ('sourceRepo'" in found
    assert "does not sync automatically with prune and self-heal" in found
    delivered = sorted(r["name"] for r in values["releases"] if r["delivery"] == "argocd")
    assert "stray" not in delivered and "webapp" in delivered
    assert f"renders Applications for {sorted(delivered + ['stray'])}" in found, found


@pytest.mark.parametrize(
    "text, problem",
    [
        ("image:\n  tag: abc123\n  digest: sha256:" + "0" * 64 + "\n", None),
        ("image:\n  tag: abc123\n  digest: sha256:" + "0" * 64 + "\n  pullPolicy: Never\n",
         "must set image.tag and image.digest and nothing else"),
        ("image:\n  tag: abc123\n  digest: latest\n", "is not sha256:<64 hex digits>"),
        ("image:\n  tag: 'a b'\n  digest: sha256:" + "0" * 64 + "\n", "is not an image tag"),
    ],
)
def test_image_files_are_what_the_deploy_writes(tmp_path, text, problem):
    (tmp_path / "staging").mkdir()
    (tmp_path / "staging" / "image.yaml").write_text(text, encoding="utf-8")
    problems = check.Problems("staging")
    assert check.check_images(tmp_path, "staging", problems) == 1
    if problem is None:
        assert problems.found == []
    else:
        assert any(problem in p for p in problems.found), problems.found


def test_a_committed_tree_of_links_or_generations_fails(tmp_path):
    tree = tmp_path / "staging"
    (tree / "apps").mkdir(parents=True)
    (tree / "apps" / "values.yaml").write_text("{}", encoding="utf-8")
    problems = check.Problems("staging")
    check.check_plain(tmp_path, "staging", problems)
    assert problems.found == []
    (tree / ".synth" / "gen-1").mkdir(parents=True)
    (tree / "chart").symlink_to(".synth/current/chart")
    check.check_plain(tmp_path, "staging", problems)
    found = "\n".join(problems.found)
    assert "chart: is a symlink (to .synth/current/chart)" in found, found
    assert ".synth: is a generation directory of an older synth" in found, found


def test_a_stand_in_without_a_placeholder_is_named_by_its_path():
    repository = "${aws_ecr_repository.service.repository_url}"
    with pytest.raises(ValueError, match="`a.b` is computed by terraform and has no stand-in"):
        check.resolve_stand_ins({"image": {"repository": repository}, "a": {"b": "${var.x}"}}, "test")
    resolved = check.resolve_stand_ins({"image": {"repository": repository}}, "test")
    assert resolved == {"image": {"repository": check.APP_VALUES_CHECK.PLACEHOLDERS["image.repository"]}}


def test_values_merge_as_helm_merges_values_files():
    base = {"image": {"tag": "a", "digest": "d"}, "list": [1, 2]}
    top = {"image": {"repository": "r", "tag": "b"}, "list": [3]}
    assert check.merge(base, top) == {"image": {"tag": "b", "digest": "d", "repository": "r"}, "list": [3]}
    assert base["image"] == {"tag": "a", "digest": "d"}, "the inputs are left as they were"
