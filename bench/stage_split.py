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
    for run in runs:
        run["all"] = [t for k in rules for t in run.get(k, [])]
    head = "".join(f" {str(r)[-22:]:>22s}" for r in a.results)
    print(f"{'stage':22s}{head}   (job-seconds; jobs; ratio to the first)")
    for rule in [*rules, "all"]:
        base = sum(runs[0].get(rule, []))
        cells = [f" {sum(ts):8.0f} {len(ts):4d} {(f'{sum(ts) / base:5.2f}x' if base else '   - '):>7s}"
                 for ts in (run.get(rule, []) for run in runs)]
        print(f"{rule:22s}{''.join(cells)}")


if __name__ == "__main__":
    main()
