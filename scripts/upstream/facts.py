"""Derive, from the pinned upstream charts' own files, the facts the project
checks its Helm values and custom resources against, into stacks/upstream/.

    python scripts/upstream/facts.py [--check] [SOURCE_DIR]

SOURCE_DIR (default: $UPSTREAM_CHARTS_DIR, else ../shared/upstream-charts
beside the checkout) holds one `<chart>-<version>/` per pinned chart with its
Chart.yaml, values.yaml, values.schema.json where the chart has one, and
crds/ (see its README). For each chart version this writes
stacks/upstream/charts/<chart>-<version>.json: every values key path the
chart's defaults (and schema) define, with its kind:

  object  a mapping whose keys are listed (a key below it must be listed too)
  free    a mapping or null the chart passes through or leaves open
          (nodeSelector: {}, resources: {}, annotations: {}): any key below
  list    a list (tolerations: [], extraArgs: []): any items
  value   a scalar

and, for a chart with dependencies (sub-charts), the values prefix each one
is configured under (its alias, else its name) with its chart and version:
the check reads the keys under that prefix against the sub-chart's own facts
where the upstream data has them. For each CustomResourceDefinition version
a chart ships and serves,
stacks/upstream/crds/<group>/<Kind>-<version>.json: its openAPIV3Schema.
Keys a chart reads but documents only in comments go in
stacks/upstream/extra-keys.json, each with its reason; they are merged in.
--check regenerates in memory and fails if the committed files differ.

CRDs a chart does not carry in its crds/ (or whose chart files are not in
SOURCE_DIR) come from stacks/upstream/extra-crds.json: for each source file,
the repository, tag, commit, path and git blob id it was read from, and the
kinds taken from it. `--extra FILE` (a checkout's copy of such a file) derives
those kinds' facts again after checking FILE's blob id is the recorded one;
without it the committed facts of the listed kinds are kept as they are.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import yaml

import hashlib

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "stacks" / "upstream"
EXTRA = OUT / "extra-keys.json"
EXTRA_CRDS = OUT / "extra-crds.json"


def source_dir(argv: list[str]) -> Path:
    if argv:
        return Path(argv[0])
    env = os.environ.get("UPSTREAM_CHARTS_DIR")
    if env:
        return Path(env)
    return ROOT.parent / "shared" / "upstream-charts"


def walk_values(value: Any, path: str, keys: dict[str, str]) -> None:
    if isinstance(value, dict):
        if path:
            keys[path] = "object" if value else "free"
        for key, child in value.items():
            walk_values(child, f"{path}.{key}" if path else str(key), keys)
    elif isinstance(value, list):
        keys[path] = "list"
    elif value is None:
        keys[path] = "free"
    else:
        keys[path] = "value"


def walk_schema(schema: dict[str, Any], path: str, keys: dict[str, str]) -> None:
    """Keys the chart's values.schema.json defines beyond its defaults."""
    props = schema.get("properties")
    kind = schema.get("type")
    if path and path not in keys:
        if props:
            keys[path] = "object"
        elif kind == "array":
            keys[path] = "list"
        elif kind == "object" or kind is None or isinstance(kind, list):
            keys[path] = "free"
        else:
            keys[path] = "value"
    if path and props and keys.get(path) == "free" and schema.get("additionalProperties") is False:
        keys[path] = "object"
    for key, child in (props or {}).items():
        if isinstance(child, dict):
            walk_schema(child, f"{path}.{key}" if path else key, keys)


def chart_facts(chart_dir: Path, extra: dict[str, dict[str, str]]) -> dict[str, Any]:
    meta = yaml.safe_load((chart_dir / "Chart.yaml").read_text(encoding="utf-8"))
    values = yaml.safe_load((chart_dir / "values.yaml").read_text(encoding="utf-8")) or {}
    keys: dict[str, str] = {}
    walk_values(values, "", keys)
    schema_file = chart_dir / "values.schema.json"
    if schema_file.is_file():
        walk_schema(json.loads(schema_file.read_text(encoding="utf-8")), "", keys)
    # The directory names the version we pin (the published chart's); a
    # repository's Chart.yaml at the release tag may still carry an older one.
    chart, _, version = chart_dir.name.rpartition("-")
    if chart != meta["name"]:
        raise SystemExit(f"{chart_dir}: Chart.yaml names chart {meta['name']!r}, the directory {chart!r}")
    for path, entry in extra.get(chart_dir.name, {}).items():
        keys[path] = entry["kind"]
    facts: dict[str, Any] = {"chart": chart, "version": version, "keys": dict(sorted(keys.items()))}
    subcharts = {
        str(dep.get("alias") or dep["name"]): {"chart": str(dep["name"]), "version": str(dep["version"])}
        for dep in meta.get("dependencies") or []
    }
    if subcharts:
        facts["subcharts"] = dict(sorted(subcharts.items()))
    if str(meta["version"]) != version:
        facts["chart_yaml_version"] = str(meta["version"])
    return facts


def crd_facts(
    crd_file: Path, source: str | None = None, kinds: list[str] | None = None
) -> list[tuple[Path, dict[str, Any]]]:
    # Some CRD files keep the chart's template lines around their metadata.
    text = "\n".join(line for line in crd_file.read_text(encoding="utf-8").splitlines() if "{{" not in line)
    out = []
    for doc in yaml.safe_load_all(text):
        if not doc or doc.get("kind") != "CustomResourceDefinition":
            continue
        if kinds is not None and doc["spec"]["names"]["kind"] not in kinds:
            continue
        spec = doc["spec"]
        for version in spec["versions"]:
            if not version.get("served"):
                continue
            schema = version["schema"]["openAPIV3Schema"]
            rel = Path(spec["group"]) / f"{spec['names']['kind']}-{version['name']}.json"
            out.append(
                (
                    rel,
                    {
                        "group": spec["group"],
                        "kind": spec["names"]["kind"],
                        "version": version["name"],
                        "scope": spec["scope"],
                        "source": source or f"{crd_file.parent.parent.name}/crds/{crd_file.name}",
                        "schema": schema,
                    },
                )
            )
    return out


def render(doc: dict[str, Any]) -> str:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"


def git_blob_id(data: bytes) -> str:
    """The id git gives a file with this content (`git hash-object`)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def extra_crd_facts(given: list[Path]) -> dict[Path, str]:
    """Facts of the CRDs listed in extra-crds.json: derived from a given copy
    of their source file, else the committed ones kept."""
    sources = json.loads(EXTRA_CRDS.read_text(encoding="utf-8")) if EXTRA_CRDS.is_file() else []
    by_blob = {git_blob_id(path.read_bytes()): path for path in given}
    files: dict[Path, str] = {}
    for entry in sources:
        label = f"{entry['repository']}@{entry['tag']}:{entry['path']}"
        path = by_blob.pop(entry["blob"], None)
        if path is not None:
            derived = crd_facts(path, source=label, kinds=entry["kinds"])
            if {doc["kind"] for _, doc in derived} != set(entry["kinds"]):
                raise SystemExit(f"{path}: does not define every kind of {entry['kinds']}")
            for rel, doc in derived:
                files[Path("crds") / rel] = render(doc)
            continue
        for committed in sorted((OUT / "crds").rglob("*.json")):
            doc = json.loads(committed.read_text(encoding="utf-8"))
            if doc.get("source") == label and doc.get("kind") in entry["kinds"]:
                files[committed.relative_to(OUT)] = committed.read_text(encoding="utf-8")
    if by_blob:
        unknown = ", ".join(str(p) for p in by_blob.values())
        raise SystemExit(f"--extra {unknown}: not a source recorded in {EXTRA_CRDS.relative_to(ROOT)} (blob id differs)")
    return files


def generate(source: Path, extra_crds: list[Path]) -> dict[Path, str]:
    extra = json.loads(EXTRA.read_text(encoding="utf-8")) if EXTRA.is_file() else {}
    files: dict[Path, str] = extra_crd_facts(extra_crds)
    for chart_dir in sorted(p for p in source.iterdir() if (p / "values.yaml").is_file()):
        facts = chart_facts(chart_dir, extra)
        files[Path("charts") / f"{facts['chart']}-{facts['version']}.json"] = json.dumps(
            facts, indent=1, sort_keys=True
        ) + "\n"
        crds = chart_dir / "crds"
        if crds.is_dir():
            for crd_file in sorted(crds.glob("*.yaml")):
                for rel, doc in crd_facts(crd_file):
                    files[Path("crds") / rel] = render(doc)
    return files


def main(argv: list[str]) -> int:
    check = "--check" in argv
    argv = [a for a in argv if a != "--check"]
    extra_crds: list[Path] = []
    while "--extra" in argv:
        at = argv.index("--extra")
        extra_crds.append(Path(argv[at + 1]))
        del argv[at : at + 2]
    source = source_dir(argv)
    if not source.is_dir():
        if check:
            # Outside this workplace the charts' files are not on disk; the
            # committed facts are then the only source and nothing is compared.
            print(f"upstream facts: no upstream chart data at {source}; compared nothing "
                  "(set UPSTREAM_CHARTS_DIR to check)")
            return 0
        print(f"upstream facts: no upstream chart data at {source} (set UPSTREAM_CHARTS_DIR)", file=sys.stderr)
        return 2
    files = generate(source, extra_crds)
    committed = {
        p.relative_to(OUT): p.read_text(encoding="utf-8")
        for sub in ("charts", "crds")
        if (OUT / sub).is_dir()
        for p in (OUT / sub).rglob("*.json")
    }
    if check:
        stale = sorted(str(p) for p in set(files) | set(committed) if files.get(p) != committed.get(p))
        if stale:
            print("upstream facts differ from the charts' files (run just upstream-facts):", file=sys.stderr)
            for name in stale:
                print(f"  stacks/upstream/{name}", file=sys.stderr)
            return 1
        print(f"upstream facts: {len(files)} files match {source}")
        return 0
    for rel in committed.keys() - files.keys():
        (OUT / rel).unlink()
    for rel, text in files.items():
        (OUT / rel).parent.mkdir(parents=True, exist_ok=True)
        (OUT / rel).write_text(text, encoding="utf-8")
    print(f"upstream facts: wrote {len(files)} files from {source} into {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
