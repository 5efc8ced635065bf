"""Render every chart of ours that carries custom resources, as each
environment's helm_release would install it, and check what it renders.

    python scripts/upstream/custom_resources.py MODULE_DIR VALUES_JSON [OUT_DIR]

MODULE_DIR is a synthesized module (`infra synth <env> --out MODULE_DIR`),
VALUES_JSON what `infra values <env>` printed for it. For each helm_release
of a chart carried in the module other than the service's own (checked by
`just app-values-check`), the chart is rendered by Helm's own library with
the release's values (values only terraform knows stand for themselves) and
every object it renders must validate against its CRD's schema at the pinned
chart version (scripts/upstream/crds.py). A built-in object such a chart
carries beside its custom resources (the ServiceAccount a SecretStore
authenticates as, a dashboard's ConfigMap) is validated by
kubernetes-validate, strictly, for the Kubernetes version the clusters run.
With OUT_DIR, the manifests are written there, one directory per release,
for checkov. Releases Argo CD delivers (GitOps on) carry their charts in the
GitOps tree, not the module: `just gitops-check` renders and validates those
as Argo CD renders them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import helm_python as helm
import kubernetes_validate as kv
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

import crds  # noqa: E402

SERVICE_CHART = "chart"

#: The clusters' Kubernetes version (stacks/config/*.toml, cluster.kubernetes_version).
KUBE_VERSION = "1.32.0"


def builtin(api_version: str) -> bool:
    """The core group (`v1`) and the Kubernetes API groups (`apps/v1`, `*.k8s.io/...`)."""
    group = api_version.rpartition("/")[0]
    return group in ("", "apps", "batch", "policy", "autoscaling") or group.endswith(".k8s.io")


def problems_of(obj: dict) -> list[str]:
    """An object's problems: against its CRD, or the Kubernetes API's schema."""
    api_version = obj.get("apiVersion", "")
    if crds.known(api_version, obj.get("kind", "")) or not builtin(api_version):
        return crds.validate(obj)
    try:
        kv.validate(obj, KUBE_VERSION, strict=True)
    except kv.ValidationError as err:
        where = ".".join(str(part) for part in err.path) or "(object)"
        return [f"{where}: {err.message}"]
    return []


def render(chart_dir: Path, release: dict) -> list[dict]:
    namespace = release["namespace"] if isinstance(release["namespace"], str) else "default"
    with helm.Chart.load(chart_dir) as chart:
        rendered = chart.render(
            release["values"], name=release["name"], namespace=namespace, is_install=True
        )
    objects = []
    for text in rendered.values():
        objects.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return objects


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    module, values_file = Path(argv[0]), Path(argv[1])
    out = Path(argv[2]) if len(argv) == 3 else None
    doc = json.loads(values_file.read_text(encoding="utf-8"))
    failures = 0
    checked = 0
    for release in doc["releases"]:
        path = release["chart"].get("path")
        if path is None or path == SERVICE_CHART or release.get("delivery") == "argocd":
            continue
        try:
            objects = render(module / path, release)
        except helm.HelmError as err:
            print(f"{release['address']}: the chart does not render: {err}", file=sys.stderr)
            failures += 1
            continue
        if not objects:
            print(f"{release['address']}: renders no objects", file=sys.stderr)
            failures += 1
        for obj in objects:
            what = f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"
            reason = crds.unvalidated(obj)
            if reason is not None:
                print(f"NOT VALIDATED against a CRD: {doc['environment']}: {release['address']}: {what}: {reason}")
                continue
            checked += 1
            for problem in problems_of(obj):
                failures += 1
                print(f"{doc['environment']}: {release['address']}: {what}: {problem}", file=sys.stderr)
        if out is not None:
            target = out / release["name"]
            target.mkdir(parents=True, exist_ok=True)
            for i, obj in enumerate(objects):
                (target / f"{i:02d}-{obj['kind'].lower()}.yaml").write_text(
                    yaml.safe_dump(obj, sort_keys=False), encoding="utf-8"
                )
    print(f"custom resources [{doc['environment']}]: {checked} objects checked, {failures} problems")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
