"""Symbolic-regression benchmark: seconds to the correct law from each simulation's true force.

No GNN: the target is the true pairwise force (x component) on edges of a small simulated data
set, trimmed as the pipeline trims messages (symbolic.trim). Each engine runs with a ladder of
time budgets; the first budget whose chosen expression
(or, separately, any Pareto-front member) gets the verdict "correct" is reported, with the
expression. PySR runs only where Julia is installed (otherwise the reason is printed).
Run: python bench/bench_symbolic.py [--budgets 5 10 20 40 80] [--threads 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from symdistill.laws import BUILTIN_LAWS
from symdistill.messages import edge_columns, pair_forces
from symdistill.simulate import SimSettings, simulate
from symdistill.symbolic import EngineUnavailable, PySREngine, SRSettings, choose, get_engine, pareto, trimmed
from symdistill.verdict import judge


def edges_of(path, law, samples, seed=0):
    """Edge features and true forces of recorded frames (receiver - sender), sampled."""
    import h5py

    with h5py.File(path) as f:
        pos, m, q = f["positions"][:, ::5], f["masses"][:], f["charges"][:]
    S, T, n, d = pos.shape
    i, j = np.where(~np.eye(n, dtype=bool))
    dx = (pos[:, :, i] - pos[:, :, j]).reshape(-1, d)
    rep = lambda a, idx: np.broadcast_to(a[:, None, idx], (S, T, len(idx))).reshape(-1)  # noqa: E731
    feats = np.column_stack([dx, np.linalg.norm(dx, axis=1) + 0.01, rep(m, i), rep(m, j), rep(q, i), rep(q, j)])
    rows = np.random.default_rng(seed).choice(len(feats), samples, replace=False)
    return feats[rows], pair_forces(law, feats[rows], d)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--laws", nargs="*", default=["spring", "r1", "r2", "charge"])
    p.add_argument("--budgets", nargs="*", type=float, default=[5, 10, 20, 40, 80])
    p.add_argument("--samples", type=int, default=5000)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    engines = ["operon"]
    try:
        PySREngine.check()
        engines.append("pysr")
    except EngineUnavailable as err:
        print(f"pysr skipped: {err}")
    with tempfile.TemporaryDirectory() as tmp:
        print(f"{'law':8s} {'engine':7s} {'chosen correct at':>18s} {'front correct at':>17s}  expression")
        for name in a.laws:
            law = BUILTIN_LAWS[name]
            data = simulate(SimSettings(law=name, n=4, dim=2, n_sims=100, steps=100), Path(tmp) / f"{name}.h5", quiet=True)
            X, F = edges_of(data, law, a.samples)
            for engine in engines:
                chosen_at = front_at = None
                expr = ""
                for budget in a.budgets:
                    s = SRSettings(engine=engine, time_limit=budget, threads=a.threads, seed=0)
                    t0 = time.perf_counter()
                    keep = trimmed(F[:, 0], s.trim)
                    front = pareto(get_engine(engine).search(X[keep], F[keep, 0], edge_columns(2), s))
                    spent = time.perf_counter() - t0
                    verdicts = [judge(c.expression, law, 2)["verdict"] for c in front]
                    best = choose(front)
                    if front_at is None and "correct" in verdicts:
                        front_at = spent
                    if judge(best.expression, law, 2)["verdict"] == "correct":
                        chosen_at, expr = spent, best.expression
                        break
                    expr = best.expression
                fmt = lambda v: f"{v:.1f} s" if v is not None else f"> {a.budgets[-1]:.0f} s"  # noqa: E731
                print(f"{name:8s} {engine:7s} {fmt(chosen_at):>18s} {fmt(front_at):>17s}  {expr[:90]}", flush=True)


if __name__ == "__main__":
    main()
