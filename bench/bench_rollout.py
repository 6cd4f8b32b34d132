"""Rollout benchmark: a trained GNN rolled out as a previous default did and as the pipeline does
now, from the same initial states, in one run.

"Previous" is integrated at ``--previous-fraction`` x its relative test error (the default before
2026-12-06: 1e-5) in ``--previous-precision`` (``chosen``: the precision the pipeline picks,
``rollout_precision``; ``float64``: the default before 2026-12-05); "ours" at the configured
``rollout.gnn_tol_fraction`` in the chosen precision. Prints the tolerance, the right-hand-side
calls and seconds of each, their ratio, the final median RMSE against the truth of both, and the
RMS distance between the two trajectories as a fraction of the previous one's distance from the
truth (how much the change moves what the rollout measures).
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


def counted(fn):
    """``fn`` and a one-element list counting its calls (an acceleration function or an
    integrator's right-hand side: one call per right-hand side)."""
    calls = [0]

    def call(*args):
        calls[0] += 1
        return fn(*args)

    return call, calls


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--results", default="results", help="results folder of a default run")
    p.add_argument("--models", nargs="+", default=["spring_d2_n4/bottleneck_s0", "r2_d2_n4/hamiltonian_s0",
                                                   "r2_d2_n4/eql_s0"],
                   help="model folders under --results (their data set is the parent folder)")
    p.add_argument("--conditions", nargs="+", default=["test", "n16"])
    p.add_argument("--previous-fraction", type=float, default=1e-5, help="gnn_tol_fraction of the previous default")
    p.add_argument("--previous-precision", choices=["chosen", "float64"], default="chosen")
    p.add_argument("--fraction", type=float, default=RolloutSettings().gnn_tol_fraction,
                   help="gnn_tol_fraction of ours (default: the configured one)")
    a = p.parse_args()
    s = RolloutSettings(gnn_tol_fraction=a.fraction)
    old = RolloutSettings(gnn_tol_fraction=a.previous_fraction)
    print(f"{'model':26s} {'condition':11s} {'error':>7s} {'tol prev':>8s} {'tol ours':>8s} {'calls prev':>10s} "
          f"{'calls ours':>10s} {'prev s':>7s} {'ours s':>7s} {'ratio':>6s} {'RMSE prev':>10s} {'RMSE ours':>10s} "
          f"{'apart/err':>9s}")
    total = [0.0, 0.0]
    for name in a.models:
        folder = Path(a.results) / name
        data, truth_path = folder.parent / "data.h5", folder.parent / "rollout_truth.h5"
        model = load_model(folder / "best.pt")
        error = gnn_error(model, data, s.fit_graphs)
        tols = gnn_tolerance(error, old), gnn_tolerance(error, s)
        ours = rollout_precision(model, error)
        precisions = (torch.float64 if a.previous_precision == "float64" else ours), ours
        times, truth, _ = read_truth(truth_path, s)
        cap, geometry = acceleration_cap(data, s), read_geometry(data)
        for cond in a.conditions:
            init, true_pos, _ = truth[cond]
            runs = []
            for tol, dtype in zip(tols, precisions):
                acc, calls = counted(gnn_accelerations(load_model(folder / "best.pt"), geometry, dtype))
                t0 = time.perf_counter()
                pos, _, _ = rollout(acc, init, times, tol, s.atol * tol / s.rtol, cap)
                runs.append((pos, calls[0], time.perf_counter() - t0))
            (prev, calls_prev, t_prev), (mine, calls_ours, t_ours) = runs
            total[0] += t_prev
            total[1] += t_ours
            final = lambda pos: float(np.median(np.sqrt(((pos - true_pos) ** 2).mean(axis=(2, 3)))[:, -1]))  # noqa: E731
            apart = np.sqrt(((mine - prev) ** 2).mean()) / np.sqrt(((prev - true_pos) ** 2).mean())
            print(f"{name:26s} {cond:11s} {error:7.2g} {tols[0]:8.2g} {tols[1]:8.2g} {calls_prev:10d} {calls_ours:10d} "
                  f"{t_prev:7.1f} {t_ours:7.1f} {t_prev / t_ours:5.2f}x {final(prev):10.4g} {final(mine):10.4g} "
                  f"{apart:9.2%}", flush=True)
    print(f"all: previous {total[0]:.1f} s, ours {total[1]:.1f} s, {total[0] / max(total[1], 1e-9):.2f}x")


if __name__ == "__main__":
    main()
