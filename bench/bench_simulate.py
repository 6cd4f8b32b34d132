"""Simulator benchmark: our vectorised solver vs a per-simulation scipy solve_ivp, in one run.

For each law (n=4, d=2, 500 recorded steps) it prints simulations/s of both, their ratio, and
each one's trajectory error against a very tight reference (DOP853, rtol=atol=1e-13) on the same
systems. The per-simulation solver uses the published tolerance (rtol=atol=1.4e-8, RK45) and is
timed on the first --scipy-sims systems of the same data set (a random sample of it, tail
systems with close encounters included in proportion); ours integrates the whole data set
(--sims, the published size by default), on one process and on two.
Run: python bench/bench_simulate.py [--sims 10000] [--scipy-sims 200] [--ref-sims 40]
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from scipy.integrate import solve_ivp

from symdistill.core.laws import BUILTIN_LAWS
from symdistill.physics.nbody import NBody
from symdistill.physics.simulate import SimSettings, _worker, initial_conditions, simulate_block


def per_sim_solve(system, init, k, times, method, tol):
    y0 = np.concatenate([init["positions"][k].ravel(), init["velocities"][k].ravel()])
    cols = np.array([k])
    sol = solve_ivp(lambda t, y: system.rhs(y[:, None], cols)[:, 0], (times[0], times[-1]), y0,
                    t_eval=times, method=method, rtol=tol, atol=tol)
    return sol.y[: y0.size // 2].T.reshape(len(times), *init["positions"][k].shape)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sims", type=int, default=10000, help="systems for our solver's timing")
    p.add_argument("--scipy-sims", type=int, default=200, help="systems for scipy's timing")
    p.add_argument("--ref-sims", type=int, default=40, help="systems compared to the reference")
    p.add_argument("--laws", nargs="*", default=list(BUILTIN_LAWS))
    a = p.parse_args()
    print(f"{'law':14s} {'ours 1 proc':>12s} {'ours 2 proc':>12s} {'scipy':>9s} {'ratio 1:1':>10s}"
          f" {'ratio 2:1':>10s} {'err ours':>10s} {'err scipy':>10s}  (sims/s; max position error)", flush=True)
    for name in a.laws:
        s = SimSettings(law=name, n=4, dim=2, n_sims=a.sims, steps=500, block=a.sims)
        init = initial_conditions(s)
        t0 = time.perf_counter()
        ours = simulate_block(s, init)
        ours_rate = a.sims / (time.perf_counter() - t0)
        half = SimSettings(**{**s.__dict__, "block": a.sims // 2})
        jobs = [(half, {k: v[i : i + half.block] for k, v in init.items()}) for i in (0, half.block)]
        t0 = time.perf_counter()
        with ProcessPoolExecutor(2) as pool:
            list(pool.map(_worker, jobs))
        ours2_rate = a.sims / (time.perf_counter() - t0)

        system = NBody(s.resolve_law(), 4, 2, init["masses"].T, init["charges"].T)
        times = np.arange(s.steps) * s.step
        t0 = time.perf_counter()
        scipy_traj = [per_sim_solve(system, init, k, times, "RK45", 1.4e-8) for k in range(a.scipy_sims)]
        scipy_rate = a.scipy_sims / (time.perf_counter() - t0)
        err_ours, err_scipy = [], []
        for k in range(a.ref_sims):
            ref = per_sim_solve(system, init, k, times, "DOP853", 1e-13)
            err_ours.append(np.abs(ours["positions"][k] - ref).max())
            err_scipy.append(np.abs(scipy_traj[k] - ref).max())
        print(f"{name:14s} {ours_rate:12.0f} {ours2_rate:12.0f} {scipy_rate:9.1f} "
              f"{ours_rate / scipy_rate:9.0f}x {ours2_rate / scipy_rate:9.0f}x "
              f"{max(err_ours):10.2e} {max(err_scipy):10.2e}", flush=True)


if __name__ == "__main__":
    main()
