"""Render the webapp chart with one values file into a directory of manifests.

    python scripts/chart/render.py VALUES_FILE OUTDIR [--name N] [--namespace NS]

The values file is applied on top of the chart defaults, as `helm template -f`
does. One file per template is written under OUTDIR/templates/, ready for
scanners such as checkov. Exit status 1 with a message naming the file and
the failing field when the chart rejects the values.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import chartlib


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("values_file", type=Path, help="values file, on top of the chart defaults")
    parser.add_argument("outdir", type=Path, help="directory to write manifests into")
    parser.add_argument("--name", default=chartlib.RELEASE_NAME, help="release name")
    parser.add_argument("--namespace", default=chartlib.NAMESPACE, help="release namespace")
    args = parser.parse_args(argv)
    try:
        values = chartlib.load_values_file(args.values_file)
        rendered = chartlib.render(
            values, source=str(args.values_file), name=args.name, namespace=args.namespace
        )
        written = chartlib.write_rendered(rendered, args.outdir)
    except chartlib.ChartCheckError as err:
        print(f"chart-render: {err}", file=sys.stderr)
        return 1
    print(f"chart-render: {len(written)} manifest files from {args.values_file} in {args.outdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
