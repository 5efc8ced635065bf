"""Offline checks of the webapp Helm chart, shared by the test suite and the CLIs.

Helm itself is not installed here: Helm's Go library does the linting,
schema validation and rendering through the `helm_python` bindings of the
PyPI package helm-python-sdk (it ships libhelm_c, so nothing is downloaded
at run time). kubernetes-validate checks each rendered object against the
OpenAPI schemas of Kubernetes releases it ships.
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import helm_python as helm
import kubernetes_validate.utils as kv
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts" / "upstream"))

import crds  # noqa: E402
CHART_DIR = ROOT / "helm-chart"
RELEASE_NAME = "webapp"
NAMESPACE = "webapp"

#: The oldest Kubernetes the chart is validated for (EKS in standard support
#: when the chart was written), and the newest kubernetes-validate ships.
KUBE_VERSIONS = ("1.31.0", kv.latest_version())

#: Custom resources the chart may render. kubernetes-validate only knows the
#: built-in API, so these are validated against their CRD's schema at the
#: version the platform installs (stacks/upstream/crds/, closed: an unknown
#: field fails).
CUSTOM_KINDS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("elbv2.k8s.aws/v1beta1", "IngressClassParams"),
}

#: Kinds without a namespace.
CLUSTER_SCOPED_KINDS = {"IngressClass", "IngressClassParams"}

#: Marks a directory written by `write_rendered`, so a re-render may replace
#: it without risking a directory someone else owns.
RENDER_MARKER = ".webapp-chart-render"

LINT_SEVERITY_WARNING = 2


class ChartCheckError(Exception):
    """A values file or rendered manifest failed a check; the message says where."""


@dataclass(frozen=True)
class ValuesCase:
    """One set of values to check: a file on top of the chart defaults, or the defaults."""

    label: str
    path: Path | None

    def load(self) -> dict[str, Any]:
        if self.path is None:
            return {}
        return load_values_file(self.path)


def load_values_file(path: Path) -> dict[str, Any]:
    """Parse a values file the way `helm -f` does."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ChartCheckError(f"{path}: cannot read values file: {err}") from err
    return load_values_text(text, source=str(path))


def load_values_text(text: str, *, source: str) -> dict[str, Any]:
    try:
        values = helm.values_from_yaml(text)
    except helm.HelmError as err:
        raise ChartCheckError(f"{source}: not a valid YAML values document: {err}") from err
    if not isinstance(values, dict):
        raise ChartCheckError(f"{source}: a values file must be a YAML mapping")
    return values


def merged_values(values: dict[str, Any]) -> dict[str, Any]:
    """The chart defaults with `values` on top, as an install would use them."""
    with helm.Chart.load(CHART_DIR) as chart:
        return chart.merge_values(values)


def lint(values: dict[str, Any], *, source: str) -> list[str]:
    """Strict `helm lint` for every checked Kubernetes version.

    Returns informational findings; raises on any warning or error, which is
    what `helm lint --strict` fails on.
    """
    infos: list[str] = []
    problems: list[str] = []
    for version in KUBE_VERSIONS:
        report = helm.lint(
            CHART_DIR,
            values,
            strict=True,
            namespace=NAMESPACE,
            kube_version=f"v{version}",
        )
        found = False
        for message in report["messages"]:
            line = f"{message['path']}: {message['error'].strip()}"
            if message["severity"] >= LINT_SEVERITY_WARNING:
                found = True
                problems.append(f"[kubernetes {version}] {line}")
            elif line not in infos:
                infos.append(line)
        if report["errors"] and not found:
            problems.extend(f"[kubernetes {version}] {e.strip()}" for e in report["errors"])
    if problems:
        raise ChartCheckError(f"{source}: helm lint --strict failed:\n" + "\n".join(problems))
    return infos


def render(
    values: dict[str, Any],
    *,
    source: str,
    name: str = RELEASE_NAME,
    namespace: str = NAMESPACE,
) -> dict[str, str]:
    """Render the chart offline; the schema is enforced as `helm template` does.

    Returns template path (relative to the chart, e.g. templates/service.yaml)
    to rendered text, NOTES.txt included, templates that rendered empty left out.
    """
    try:
        with helm.Chart.load(CHART_DIR) as chart:
            prefix = f"{chart.name}/"
            rendered = chart.render(values, name=name, namespace=namespace, is_install=True)
    except helm.HelmError as err:
        raise ChartCheckError(f"{source}: the chart rejects these values:\n{err}") from err
    return {
        path.removeprefix(prefix): text
        for path, text in sorted(rendered.items())
        if text.strip()
    }


def manifests(rendered: dict[str, str]) -> list[tuple[str, dict[str, Any]]]:
    """The Kubernetes objects of a render, each with the template it came from."""
    objects: list[tuple[str, dict[str, Any]]] = []
    for path, text in rendered.items():
        if not path.endswith(".yaml"):
            continue
        try:
            documents = list(yaml.safe_load_all(text))
        except yaml.YAMLError as err:
            raise ChartCheckError(f"{path}: rendered invalid YAML: {err}") from err
        objects.extend((path, doc) for doc in documents if doc)
    return objects


def describe(obj: dict[str, Any]) -> str:
    return f"{obj.get('kind', '?')}/{obj.get('metadata', {}).get('name', '?')}"


def kube_validate(objects: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """`kubernetes-validate --strict` for every object and checked version.

    Returns the problems found; a kind without a schema is a problem too,
    unless it is a known custom resource (checked against its CRD instead).
    """
    problems: list[str] = []
    for path, obj in objects:
        if (obj.get("apiVersion"), obj.get("kind")) in CUSTOM_KINDS:
            problems.extend(f"{path}: {describe(obj)}: {p}" for p in crds.validate(obj))
            continue
        for version in KUBE_VERSIONS:
            try:
                kv.validate(obj, version, strict=True)
            except kv.ValidationError as err:
                where = ".".join(str(part) for part in err.path) or "(top level)"
                problems.append(
                    f"{path}: {describe(obj)} is invalid for Kubernetes {version} "
                    f"at {where}: {err.message}"
                )
            except kv.SchemaNotFoundError as err:
                problems.append(f"{path}: {describe(obj)}: {err.message}")
    return problems


def write_rendered(rendered: dict[str, str], outdir: Path) -> list[Path]:
    """Write the rendered manifests (not NOTES.txt) under `outdir`, one file per template.

    A directory left by an earlier render is replaced; any other non-empty
    directory is refused rather than mixed with stale or foreign files.
    """
    if outdir.exists():
        if (outdir / RENDER_MARKER).exists():
            shutil.rmtree(outdir)
        elif any(outdir.iterdir()):
            raise ChartCheckError(
                f"{outdir}: output directory is not empty and was not written by a "
                "chart render; choose an empty or new directory"
            )
    outdir.mkdir(parents=True, exist_ok=True)
    (outdir / RENDER_MARKER).write_text("written by scripts/chart/render.py\n", encoding="utf-8")
    written: list[Path] = []
    for path, text in rendered.items():
        if not path.endswith(".yaml"):
            continue
        target = outdir / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text.lstrip("\n"), encoding="utf-8")
        written.append(target)
    return written


#: Volume types the Pod Security "restricted" profile admits.
RESTRICTED_VOLUME_TYPES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}


def pod_spec_of(obj: dict[str, Any]) -> dict[str, Any] | None:
    """The pod spec inside a Pod or a workload object, or None."""
    if obj.get("kind") == "Pod":
        return obj.get("spec", {})
    template = obj.get("spec", {}).get("template")
    if isinstance(template, dict):
        return template.get("spec", {})
    return None


def pss_restricted_violations(pod: dict[str, Any]) -> list[str]:
    """What the Pod Security Standards "restricted" profile would refuse in a pod spec.

    Follows the profile's published controls (baseline plus restricted), so
    a namespace labelled pod-security.kubernetes.io/enforce=restricted admits
    the pod.
    """
    problems: list[str] = []
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(field):
            problems.append(f"{field} must not be true")
    for volume in pod.get("volumes", []):
        kinds = set(volume) - {"name"}
        if not kinds <= RESTRICTED_VOLUME_TYPES:
            problems.append(f"volume {volume.get('name')}: type {sorted(kinds)} is not allowed")
    pod_sc = pod.get("securityContext", {})
    if pod_sc.get("runAsUser") == 0:
        problems.append("pod securityContext.runAsUser must not be 0")
    if pod_sc.get("sysctls"):
        problems.append("pod securityContext.sysctls must be empty")
    containers = [
        *pod.get("initContainers", []),
        *pod.get("containers", []),
        *pod.get("ephemeralContainers", []),
    ]
    for container in containers:
        where = f"container {container.get('name')}"
        sc = container.get("securityContext", {})
        if sc.get("privileged"):
            problems.append(f"{where}: privileged must not be true")
        if sc.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{where}: allowPrivilegeEscalation must be false")
        if sc.get("runAsUser") == 0:
            problems.append(f"{where}: runAsUser must not be 0")
        if sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is not True:
            problems.append(f"{where}: runAsNonRoot must be true (pod or container)")
        seccomp = sc.get("seccompProfile", pod_sc.get("seccompProfile", {})).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            problems.append(f"{where}: seccompProfile.type must be RuntimeDefault or Localhost")
        capabilities = sc.get("capabilities", {})
        if "ALL" not in capabilities.get("drop", []):
            problems.append(f"{where}: capabilities.drop must contain ALL")
        if set(capabilities.get("add", [])) - {"NET_BIND_SERVICE"}:
            problems.append(f"{where}: capabilities.add may only hold NET_BIND_SERVICE")
        if sc.get("procMount", "Default") != "Default":
            problems.append(f"{where}: procMount must be Default")
        for port in container.get("ports", []):
            if port.get("hostPort"):
                problems.append(f"{where}: hostPort must not be set")
    return problems
