"""Start-up benchmark: the seconds each command-line stage spends importing before it works, for
this checkout and a previous commit, side by side in one run.

Every job of the workflow is a fresh interpreter that imports its stage (a default run starts 163
of them), so what an import pulls in is paid once per job. For each entry point in
pyproject.toml, times ``python -c "import <module>"`` alternately with this checkout's source and
with ``--previous``'s (checked out into a temporary git worktree), ``--repeats`` times each, and
prints the medians and their ratio, then the job-seconds a default run would save (each stage's
median saving times its number of jobs in that run, from the run's benchmark files).
Run: python bench/bench_startup.py [--previous afccb9c] [--repeats 5] [--results results]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: the workflow rule that runs each entry point (their jobs are counted in a run's benchmarks/)
RULES = {"symdistill-simulate": ["simulate"], "symdistill-train": ["train_gnn"],
         "symdistill-messages": ["dump_messages", "select_messages"], "symdistill-fit": ["fit_forces"],
         "symdistill-sr": ["symbolic_regression"], "symdistill-judge": ["judge_laws"],
         "symdistill-rollout": ["rollout", "rollout_truth"], "symdistill-report": ["report"]}


def import_seconds(module: str, src: Path) -> float:
    """Wall seconds of a fresh interpreter importing ``module`` from ``src`` (one torch thread)."""
    env = {**os.environ, "PYTHONPATH": str(src), "OMP_NUM_THREADS": "1"}
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", f"import {module}"], env=env, check=True)
    return time.perf_counter() - t0


def jobs_per_rule(results: Path) -> dict[str, int]:
    """Jobs of each rule in a run (its benchmark files), or none without one."""
    bench = results / "benchmarks"
    return {d.name: len(list(d.glob("*.tsv"))) for d in bench.iterdir() if d.is_dir()} if bench.is_dir() else {}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--previous", default="HEAD~1", help="git revision to compare with")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--results", default="results", help="a default run's results (for its job counts)")
    a = p.parse_args()
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    jobs = jobs_per_rule(Path(a.results))
    with tempfile.TemporaryDirectory() as tmp:
        old = Path(tmp) / "previous"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(old), a.previous],
                       check=True, capture_output=True)
        try:
            print(f"{'entry point':22s} {'module':30s} {'previous s':>10s} {'ours s':>7s} {'ratio':>6s} {'jobs':>5s}")
            saved = 0.0
            for name, target in scripts.items():
                module = target.split(":")[0]
                times: dict[str, list[float]] = {"previous": [], "ours": []}
                for _ in range(a.repeats):  # alternate, so a drift in the machine's speed hits both
                    times["previous"].append(import_seconds(module, old / "src"))
                    times["ours"].append(import_seconds(module, ROOT / "src"))
                before, after = statistics.median(times["previous"]), statistics.median(times["ours"])
                n = sum(jobs.get(rule, 0) for rule in RULES.get(name, []))
                saved += n * (before - after)
                print(f"{name:22s} {module:30s} {before:10.2f} {after:7.2f} {before / after:5.2f}x {n:5d}")
            if jobs:
                print(f"import time saved over the run's jobs: {saved:.0f} job-seconds")
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(old)], check=True)


if __name__ == "__main__":
    main()
