"""An environment's GitOps tree, checked offline as Argo CD would use it.

    python scripts/gitops/check.py TREE_DIR VALUES_JSON [--images DIR] [--out DIR]

TREE_DIR is what `infra synth <env> --gitops-out TREE_DIR` wrote, VALUES_JSON
what `infra values <env>` printed (values only terraform knows stand for
themselves: "${aws_iam_role.service.arn}"). Helm's own library renders:

1. the tree's chart of Applications (apps/), with the values the root
   Application gives it (its valuesObject, as terraform writes it, from the
   bootstrap release): every object must be an Application valid against the
   Application CRD of argo-cd 10.1.1 (closed: unknown fields fail), in a
   project, with a sync wave and automated sync with prune and self-heal, and
   the Applications must be exactly the releases `infra values` lists as
   delivered by Argo CD;
2. each chart carried in the tree, other than the service's, with its
   Application's values: every object against its CRD, or, for an object of
   the Kubernetes API itself, against its schema (kubernetes-validate);
3. the service's Application as Argo CD renders it (the tree's copy of the
   chart, the deploy's image.yaml as a values file, the Application's
   valuesObject over it) against the terraform helm_release path (the repo's
   helm-chart/ with the release's values and the same image): the manifests
   must be identical. One chart, two ways of delivering it, no drift;
4. with --images, each committed `<env>/image.yaml` under DIR: only
   image.tag and image.digest, in the forms the deploy writes; and the
   committed `<env>/` itself plain files, with no symlink and no `.synth/`
   generation (git would show every change as the whole tree moving).

Apply-time stand-ins are replaced by realistic values (by values path) before
a chart is rendered, so its schema's patterns are exercised. --out writes
every rendered manifest there, for checkov. Exit 1 on any problem.
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import json
import re
import sys
from pathlib import Path
from typing import Any

import helm_python as helm
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts" / "upstream"))

import crds  # noqa: E402
import custom_resources  # noqa: E402

APPS_DIR = "apps"
SERVICE_RELEASE = "webapp"
ARGOCD_NAMESPACE = "argocd"
SYNC_WAVE = "argocd.argoproj.io/sync-wave"

#: The image a deploy commits; the same on both paths of the drift check.
IMAGE = {"tag": "0123456789abcdef0123456789abcdef01234567", "digest": "sha256:" + "ab" * 32}
IMAGE_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
IMAGE_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


def app_values_check() -> Any:
    """scripts/app-values-check.py, whose stand-ins for what terraform computes are used here too."""
    spec = importlib.util.spec_from_file_location("app_values_check", ROOT / "scripts" / "app-values-check.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


APP_VALUES_CHECK = app_values_check()


class Problems:
    def __init__(self, env: str) -> None:
        self.env = env
        self.found: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.found.append(f"{self.env}: {where}: {message}")


def merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    """Helm's merge of values files: mappings key by key, the rest replaced."""
    out = copy.deepcopy(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def resolve_stand_ins(values: Any, where: str) -> Any:
    """`values` with each apply-time stand-in replaced by the placeholder of its path."""
    try:
        return APP_VALUES_CHECK.stand_ins(values, "", where)
    except APP_VALUES_CHECK.CheckError as err:
        raise ValueError(str(err)) from err


def render(chart_dir: Path, values: dict[str, Any], name: str, namespace: str) -> list[dict[str, Any]]:
    with helm.Chart.load(chart_dir) as chart:
        rendered = chart.render(values, name=name, namespace=namespace, is_install=True)
    docs: list[dict[str, Any]] = []
    for template in sorted(t for t in rendered if not t.endswith("NOTES.txt")):
        docs.extend(doc for doc in yaml.safe_load_all(rendered[template]) if doc)
    return docs


def identity(obj: dict[str, Any]) -> tuple[str, str, str]:
    meta = obj.get("metadata", {})
    return (str(obj.get("kind")), str(meta.get("namespace", "")), str(meta.get("name")))


def root_values(doc: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The root Application (from the bootstrap release) and its valuesObject."""
    for release in doc["releases"]:
        if release["delivery"] != "terraform":
            continue
        for obj in release["values"].get("objects", []):
            if obj.get("kind") == "Application" and obj["spec"]["source"].get("path", "").endswith(f"/{APPS_DIR}"):
                return obj, obj["spec"]["source"]["helm"].get("valuesObject", {})
    raise ValueError("no release of the values installs the root Application")


def check_applications(apps: list[dict[str, Any]], doc: dict[str, Any], problems: Problems) -> None:
    delivered = {r["name"] for r in doc["releases"] if r["delivery"] == "argocd"}
    released = set()
    for app in apps:
        what = f"{app.get('kind')}/{app.get('metadata', {}).get('name')}"
        if app.get("kind") != "Application":
            problems.add(what, "the chart of Applications rendered something else")
            continue
        for problem in crds.validate(app):
            problems.add(what, problem)
        spec = app.get("spec", {})
        if app["metadata"].get("namespace") != ARGOCD_NAMESPACE:
            problems.add(what, f"is not in Argo CD's namespace {ARGOCD_NAMESPACE}")
        if not str(app["metadata"].get("annotations", {}).get(SYNC_WAVE, "")).isdigit():
            problems.add(what, f"has no {SYNC_WAVE}")
        if spec.get("syncPolicy", {}).get("automated") != {"prune": True, "selfHeal": True}:
            problems.add(what, "does not sync automatically with prune and self-heal")
        released.add(spec.get("source", {}).get("helm", {}).get("releaseName"))
    if released != delivered:
        problems.add("apps/", f"renders Applications for {sorted(released)}, but Argo CD "
                              f"delivers {sorted(delivered)}")


def check_carried_charts(tree: Path, tree_path: str, apps: list[dict[str, Any]], problems: Problems,
                         rendered: dict[str, list[dict[str, Any]]]) -> None:
    for app in apps:
        source = app["spec"]["source"]
        path = source.get("path")
        if path is None or source["helm"]["releaseName"] == SERVICE_RELEASE:
            continue
        name = app["metadata"]["name"]
        local = tree / Path(path).relative_to(tree_path)
        try:
            objects = render(local, source["helm"].get("valuesObject", {}), source["helm"]["releaseName"],
                             app["spec"]["destination"]["namespace"])
        except (helm.HelmError, ValueError) as err:
            problems.add(f"Application/{name}", f"its chart {path} does not render: {err}")
            continue
        for obj in objects:
            # A custom resource against its CRD, a built-in object (the
            # dashboards' ConfigMaps) against the Kubernetes API's schema.
            for problem in custom_resources.problems_of(obj):
                problems.add(f"Application/{name}: {obj.get('kind')}/{obj.get('metadata', {}).get('name')}", problem)
        rendered[name] = objects


def service_drift(tree: Path, tree_path: str, apps: list[dict[str, Any]], doc: dict[str, Any], problems: Problems,
                  rendered: dict[str, list[dict[str, Any]]]) -> None:
    app = next((a for a in apps if a["spec"]["source"]["helm"]["releaseName"] == SERVICE_RELEASE), None)
    release = next((r for r in doc["releases"] if r["name"] == SERVICE_RELEASE), None)
    if app is None or release is None:
        problems.add(SERVICE_RELEASE, "the service is not delivered by Argo CD")
        return
    source = app["spec"]["source"]
    namespace = app["spec"]["destination"]["namespace"]
    image = {"image": dict(IMAGE)}
    value_files = source["helm"].get("valueFiles", [])
    if value_files != [f"/{tree_path}/image.yaml"]:
        problems.add(f"Application/{SERVICE_RELEASE}", f"takes {value_files}, not the deploy's image.yaml")
    try:
        # Argo CD: value files first, then valuesObject over them.
        gitops = resolve_stand_ins(merge(image, source["helm"].get("valuesObject", {})), "Argo CD path")
        terraform = resolve_stand_ins(merge(release["values"], image), "terraform path")
        by_argo = render(tree / Path(source["path"]).relative_to(tree_path), gitops, SERVICE_RELEASE, namespace)
        by_terraform = render(ROOT / "helm-chart", terraform, SERVICE_RELEASE, namespace)
    except (helm.HelmError, ValueError) as err:
        problems.add(SERVICE_RELEASE, f"does not render: {err}")
        return
    rendered[SERVICE_RELEASE] = by_argo
    argo_by_id = {identity(o): o for o in by_argo}
    terraform_by_id = {identity(o): o for o in by_terraform}
    for key in sorted(set(argo_by_id) | set(terraform_by_id)):
        a, t = argo_by_id.get(key), terraform_by_id.get(key)
        if a != t:
            what = "/".join(k for k in (key[0], key[2]) if k)
            if a is None or t is None:
                problems.add(what, f"rendered only by the {'terraform' if a is None else 'Argo CD'} path")
            else:
                problems.add(what, "renders differently by Argo CD than by terraform:\n"
                             + first_difference(t, a))


def first_difference(old: Any, new: Any, path: str = "") -> str:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            if old.get(key) != new.get(key):
                return first_difference(old.get(key), new.get(key), f"{path}.{key}" if path else key)
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for i, (a, b) in enumerate(zip(old, new)):
            if a != b:
                return first_difference(a, b, f"{path}[{i}]")
    return f"    {path or '(object)'}: terraform {json.dumps(old)} / Argo CD {json.dumps(new)}"


def check_images(images: Path, env: str, problems: Problems) -> int:
    path = images / env / "image.yaml"
    if not path.is_file():
        return 0
    try:
        values = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        problems.add(str(path), f"is not YAML: {err}")
        return 1
    if not isinstance(values, dict) or set(values) != {"image"} or not isinstance(values["image"], dict) \
            or set(values["image"]) != {"tag", "digest"}:
        problems.add(str(path), "must set image.tag and image.digest and nothing else")
        return 1
    tag, digest = values["image"]["tag"], values["image"]["digest"]
    if not isinstance(tag, str) or not IMAGE_TAG.match(tag):
        problems.add(str(path), f"image.tag {tag!r} is not an image tag")
    if not isinstance(digest, str) or not IMAGE_DIGEST.match(digest):
        problems.add(str(path), f"image.digest {digest!r} is not sha256:<64 hex digits>")
    return 1


def check_plain(committed: Path, env: str, problems: Problems) -> None:
    """The committed tree is plain files: what git stores is what Argo CD reads."""
    tree = committed / env
    for path in sorted(tree.rglob("*")) if tree.is_dir() else []:
        if path.is_symlink():
            problems.add(str(path), f"is a symlink (to {path.readlink()}); the tree must be plain files")
        elif path.name == ".synth":
            problems.add(str(path), "is a generation directory of an older synth; `cargo run -- synth "
                         f"{env}` makes the tree plain files")


def check(tree: Path, doc: dict[str, Any], images: Path | None, out: Path | None) -> list[str]:
    env = doc["environment"]
    problems = Problems(env)
    tree_path = doc.get("gitops_tree")
    if not tree_path:
        problems.add("config", "GitOps is off: there is no tree to check")
        return problems.found
    rendered: dict[str, list[dict[str, Any]]] = {}
    try:
        _, values_object = root_values(doc)
        apps = render(tree / APPS_DIR, values_object, APPS_DIR, ARGOCD_NAMESPACE)
    except (helm.HelmError, ValueError) as err:
        problems.add(f"{tree_path}/{APPS_DIR}", f"the chart of Applications does not render: {err}")
        return problems.found
    rendered["applications"] = apps
    check_applications(apps, doc, problems)
    check_carried_charts(tree, tree_path, apps, problems, rendered)
    service_drift(tree, tree_path, apps, doc, problems, rendered)
    images_checked = 0
    if images:
        images_checked = check_images(images, env, problems)
        check_plain(images, env, problems)
    if out is not None:
        for group, objects in rendered.items():
            target = out / env / group
            target.mkdir(parents=True, exist_ok=True)
            for i, obj in enumerate(objects):
                (target / f"{i:02d}-{str(obj.get('kind')).lower()}.yaml").write_text(
                    yaml.safe_dump(obj, sort_keys=False), encoding="utf-8")
    if not problems.found:
        service = len(rendered.get(SERVICE_RELEASE, []))
        print(f"gitops [{env}]: {len(apps)} Applications valid against the CRD, "
              f"{len(rendered) - 2} carried chart(s) checked, the service's {service} manifests "
              f"identical by Argo CD and by terraform, {images_checked} committed image.yaml checked")
    return problems.found


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tree", type=Path)
    parser.add_argument("values", type=Path)
    parser.add_argument("--images", type=Path, help="directory holding <env>/image.yaml (the repo's gitops/)")
    parser.add_argument("--out", type=Path, help="write the rendered manifests here")
    args = parser.parse_args(argv)
    doc = json.loads(args.values.read_text(encoding="utf-8"))
    found = check(args.tree, doc, args.images, args.out)
    for line in found:
        print(line, file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
