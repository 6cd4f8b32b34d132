"""The stage split of whole runs, side by side: job-seconds per Snakemake rule from each run's
``benchmark:`` files, and each run's ratio to the first (the previous default, say).

Run: python bench/stage_split.py RESULTS [RESULTS ...]   (each a results folder of a run)
"""

from __future__ import annotations

import argparse
from pathlib import Path

from symdistill.report.build import stage_totals


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("results", nargs="+", type=Path, help="results folders (each with benchmarks/)")
    a = p.parse_args()
    runs = []
    for r in a.results:
        bench = r / "benchmarks"
        if not bench.is_dir():
            raise SystemExit(f"stage_split: {bench} does not exist (no run with benchmark: files there)")
        runs.append(stage_totals(bench))
    rules = sorted({k for run in runs for k in run}, key=lambda k: -sum(runs[0].get(k, [0.0])))
    head = "".join(f" {str(r)[-22:]:>22s}" for r in a.results)
    print(f"{'stage':22s}{head}   (job-seconds; jobs; ratio to the first)")
    for rule in [*rules, "all"]:
        cells = []
        for run in runs:
            ts = [t for k, v in run.items() for t in v] if rule == "all" else run.get(rule, [])
            base = sum(t for k, v in runs[0].items() for t in v) if rule == "all" else sum(runs[0].get(rule, []))
            ratio = f"{sum(ts) / base:5.2f}x" if base else "   - "
            cells.append(f" {sum(ts):8.0f} {len(ts):4d} {ratio:>7s}")
        print(f"{rule:22s}{''.join(cells)}")


if __name__ == "__main__":
    main()
