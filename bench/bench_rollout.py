"""Rollout benchmark: a trained GNN integrated at rollout.rtol against its own-error tolerance, in one run.

For each model given (results of `make run`), rolls the GNN out under each condition twice from the
same initial states, at the tight tolerance (rollout.rtol, the previous default) and at
gnn_tolerance (rollout.gnn_tol_fraction x its relative test error), and prints the time of each,
their ratio, the final median RMSE against the truth of both, and the RMS distance between the two
trajectories as a fraction of the GNN's distance from the truth.
Run: python bench/bench_rollout.py [--results results] [--models r1_d2_n4/bottleneck_s0 ...]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from symdistill.gnn.models import load_model
from symdistill.rollout.run import (RolloutSettings, acceleration_cap, gnn_accelerations, gnn_tolerance,
                                   read_truth, rollout)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--results", default="results", help="results folder of a default run")
    p.add_argument("--models", nargs="+", default=["r1_d2_n4/bottleneck_s0", "r2_d2_n4/eql_s0"],
                   help="model folders under --results (their data set is the parent folder)")
    p.add_argument("--conditions", nargs="+", default=["test", "n16"])
    a = p.parse_args()
    s = RolloutSettings()
    print(f"{'model':26s} {'condition':10s} {'tol':>8s} {'tight s':>8s} {'loose s':>8s} {'ratio':>6s} "
          f"{'RMSE tight':>10s} {'RMSE loose':>10s} {'apart/err':>9s}")
    for name in a.models:
        folder = Path(a.results) / name
        data, truth_path = folder.parent / "data.h5", folder.parent / "rollout_truth.h5"
        model = load_model(folder / "best.pt")
        tol = gnn_tolerance(model, data, s.fit_graphs, s)
        times, truth, _ = read_truth(truth_path, s)
        cap = acceleration_cap(data, s)
        acc = gnn_accelerations(model)
        for cond in a.conditions:
            init, true_pos, _ = truth[cond]
            t0 = time.perf_counter()
            tight, _, _ = rollout(acc, init, times, s.rtol, s.atol, cap)
            t1 = time.perf_counter()
            loose, _, _ = rollout(acc, init, times, tol, s.atol * tol / s.rtol, cap)
            t2 = time.perf_counter()
            final = lambda pos: float(np.median(np.sqrt(((pos - true_pos) ** 2).mean(axis=(2, 3)))[:, -1]))  # noqa: E731
            apart = np.sqrt(((loose - tight) ** 2).mean()) / np.sqrt(((tight - true_pos) ** 2).mean())
            print(f"{name:26s} {cond:10s} {tol:8.2g} {t1 - t0:8.1f} {t2 - t1:8.1f} {(t1 - t0) / (t2 - t1):5.2f}x "
                  f"{final(tight):10.4g} {final(loose):10.4g} {apart:9.2%}", flush=True)


if __name__ == "__main__":
    main()
