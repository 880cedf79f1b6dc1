"""`python -m bench.report RESULT.json [RESULT.json ...]`: the figures as a Markdown table.

Later files fill in what earlier ones lack (e.g. a `--only bigdata` run next to the rest).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from .cli import ROWS


def merged(paths: list[str]) -> dict[str, Any]:
    report: dict[str, Any] = {"backends": {}, "sources": []}
    for path in paths:
        data = json.loads(Path(path).read_text())
        report["sources"].append(
            f"{Path(path).name} ({data['profile']}, commit {data['machine']['commit']}, "
            f"load {data['machine']['load_before'][0]:.1f})"
        )
        for kind, figures in data["backends"].items():
            report["backends"].setdefault(kind, {}).update(figures)
    return report


def markdown(report: dict[str, Any]) -> str:
    kinds = list(report["backends"])
    lines = [
        "| measure | target | " + " | ".join(kinds) + " |",
        "|---|---|" + "---|" * len(kinds),
    ]
    for bench, key, label, target in ROWS:
        cells = [report["backends"][k].get(bench, {}).get(key) for k in kinds]
        if all(c is None for c in cells):
            continue
        shown = ["-" if c is None else str(c) for c in cells]
        lines.append(f"| {label} | {target} | " + " | ".join(shown) + " |")
    return "\n".join(lines)


def main() -> None:
    report = merged(sys.argv[1:])
    print(markdown(report))
    print()
    for source in report["sources"]:
        print(f"- {source}")


if __name__ == "__main__":
    main()
