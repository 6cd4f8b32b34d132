"""Law recovery against position noise: config/studies/noise.yaml run once per noise level (and
derivative window), each into its own results folder, then one table of chosen-law verdicts
per law, with the messages' robust R^2 and the networks' test MAE.

The positions get Gaussian noise of std ``level`` x each simulation's position spread before the
velocities and accelerations are taken from them by finite differences (simulate.derivatives:
differences); see docs/method.md. Runs resume: a finished level is not rerun.
Run: python bench/noise_table.py [--levels 0 1e-4 1e-3 1e-2] [--windows 3] [--cores 2]
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def run_level(level: float, window: int, cores: int, base: Path) -> Path:
    """One Snakemake run of config/studies/noise.yaml at this noise level and window; its results folder."""
    out = base / f"w{window}_noise{level:g}"
    out.mkdir(parents=True, exist_ok=True)
    overlay = out / "overlay.yaml"
    rel = out.relative_to(ROOT) if out.is_relative_to(ROOT) else out
    overlay.write_text(yaml.safe_dump({"results": str(rel), "simulate": {
        "derivatives": "differences", "derivative_window": window, "position_noise": level}}))
    cmd = ["snakemake", "--cores", str(cores), "--configfile", str(ROOT / "config" / "studies" / "noise.yaml"), str(overlay)]
    print(f"[noise {level:g}, window {window}] {' '.join(cmd)}", file=sys.stderr, flush=True)
    subprocess.run(cmd, cwd=ROOT, check=True)
    return out


def rows(folder: Path) -> dict[str, dict]:
    """Per law: components correct / total, robust R^2 and test MAE of the bottleneck model."""
    out: dict[str, dict] = defaultdict(lambda: {"correct": 0, "total": 0})
    with open(folder / "report" / "recovery.csv") as f:
        for r in csv.DictReader(f):
            out[r["sim"]]["correct"] += r["verdict"] == "correct"
            out[r["sim"]]["total"] += 1
    for name, key, col in (("r2.csv", "r2", "r2_robust"), ("mae.csv", "mae", "test_mae")):
        with open(folder / "report" / name) as f:
            for r in csv.DictReader(f):
                out[r["sim"]][key] = float(r[col])
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--levels", type=float, nargs="+", default=[0, 1e-4, 1e-3, 1e-2], help="position noise levels")
    p.add_argument("--windows", type=int, nargs="+", default=[3], help="derivative windows (odd)")
    p.add_argument("--cores", type=int, default=2, help="cores for Snakemake")
    p.add_argument("--results", default="results/noise", help="folder of the runs")
    a = p.parse_args(argv)
    base = (ROOT / a.results).resolve()
    table = {(w, lvl): rows(run_level(lvl, w, a.cores, base)) for w in a.windows for lvl in a.levels}
    laws = sorted({law for r in table.values() for law in r})
    print("| window | noise | " + " | ".join(laws) + " | all |")
    print("|---|---|" + "---|" * (len(laws) + 1))
    for (w, lvl), r in table.items():
        cells = [f"{r[x]['correct']}/{r[x]['total']} (R² {r[x].get('r2', float('nan')):.3f}, MAE {r[x].get('mae', float('nan')):.3g})"
                 for x in laws]
        c, t = sum(r[x]["correct"] for x in laws), sum(r[x]["total"] for x in laws)
        print(f"| {w} | {lvl:g} | " + " | ".join(cells) + f" | {c}/{t} |")


if __name__ == "__main__":
    main()
