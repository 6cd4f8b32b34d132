"""Rollout benchmark: a trained GNN rolled out as the previous default did (float64) and as the
pipeline does now (float32 where its error allows, ``rollout_precision``), in one run.

For each model given (results of `make run`), rolls the GNN out under each condition twice from the
same initial states at its own-error tolerance (gnn_tolerance: rollout.gnn_tol_fraction x its
relative test error), once in float64 and once in the precision the pipeline picks, and prints
the time of each, their ratio, the final median RMSE against the truth of both, and the RMS
distance between the two trajectories as a fraction of the GNN's distance from the truth.
Run: python bench/bench_rollout.py [--results results] [--models r1_d2_n4/bottleneck_s0 ...]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from symdistill.core.frames import read_geometry
from symdistill.gnn.models import load_model
from symdistill.rollout.run import (RolloutSettings, acceleration_cap, gnn_accelerations, gnn_error,
                                   gnn_tolerance, read_truth, rollout, rollout_precision)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--results", default="results", help="results folder of a default run")
    p.add_argument("--models", nargs="+", default=["spring_d2_n4/bottleneck_s0", "r2_d2_n4/hamiltonian_s0",
                                                   "r2_d2_n4/eql_s0"],
                   help="model folders under --results (their data set is the parent folder)")
    p.add_argument("--conditions", nargs="+", default=["test", "n16"])
    a = p.parse_args()
    s = RolloutSettings()
    print(f"{'model':26s} {'condition':10s} {'error':>8s} {'tol':>8s} {'ours':>8s} {'f64 s':>7s} {'ours s':>7s} "
          f"{'ratio':>6s} {'RMSE f64':>10s} {'RMSE ours':>10s} {'apart/err':>9s}")
    for name in a.models:
        folder = Path(a.results) / name
        data, truth_path = folder.parent / "data.h5", folder.parent / "rollout_truth.h5"
        model = load_model(folder / "best.pt")
        error = gnn_error(model, data, s.fit_graphs)
        tol = gnn_tolerance(error, s)
        ours = rollout_precision(model, error)
        times, truth, _ = read_truth(truth_path, s)
        cap, geometry = acceleration_cap(data, s), read_geometry(data)
        for cond in a.conditions:
            init, true_pos, _ = truth[cond]
            t0 = time.perf_counter()
            wide, _, _ = rollout(gnn_accelerations(model, geometry, torch.float64), init, times, tol, s.atol * tol / s.rtol, cap)
            t1 = time.perf_counter()
            mine, _, _ = rollout(gnn_accelerations(model, geometry, ours), init, times, tol, s.atol * tol / s.rtol, cap)
            t2 = time.perf_counter()
            final = lambda pos: float(np.median(np.sqrt(((pos - true_pos) ** 2).mean(axis=(2, 3)))[:, -1]))  # noqa: E731
            apart = np.sqrt(((mine - wide) ** 2).mean()) / np.sqrt(((wide - true_pos) ** 2).mean())
            print(f"{name:26s} {cond:10s} {error:8.2g} {tol:8.2g} {str(ours)[6:]:>8s} {t1 - t0:7.1f} {t2 - t1:7.1f} "
                  f"{(t1 - t0) / (t2 - t1):5.2f}x {final(wide):10.4g} {final(mine):10.4g} {apart:9.2%}", flush=True)


if __name__ == "__main__":
    main()
