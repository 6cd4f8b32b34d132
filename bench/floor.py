"""The default run's floor: how much of its symbolic and rollout stages is Operon's searches and
the networks' own rollouts, the two computations besides training that its results are made of.

For every Operon model of a finished run (``<law>/<variant>_s<seed>/sr_operon.json``), reruns the
symbolic stage (``regress_messages``, config.yaml's settings, as rule symbolic_regression) and
times each ``SymbolicRegressor.fit`` inside it; for every rolled-out model (``rollout_*.h5``),
reruns the rollouts (``evaluate``, as rule rollout) and times the integration of the GNN and of
the symbolic law, counting right-hand-side calls. Two processes, one thread each, as the
workflow runs them. Prints per model and in total; docs/benchmarks.md, "Where the 15-minute
target stands", adds training from the run's benchmark files.
Run: python bench/floor.py --results <default run>/results [--jobs 2]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from bench_rollout import counted  # this folder is on the path of a script run from it

ROOT = Path(__file__).resolve().parents[1]


def symbolic(model: Path) -> tuple[str, float, float, int]:
    """(model, seconds of the symbolic stage, seconds inside Operon's fit, searches)."""
    os.environ["OMP_NUM_THREADS"] = "1"
    import pyoperon.sklearn as operon

    from symdistill.core.config import load_config, sr_settings
    from symdistill.distill.settings import SRSettings
    from symdistill.distill.stage import regress_messages

    spent = [0.0, 0]
    fit = operon.SymbolicRegressor.fit

    def timed(self, *args, **kwargs):
        t0 = time.perf_counter()
        try:
            return fit(self, *args, **kwargs)
        finally:
            spent[0] += time.perf_counter() - t0
            spent[1] += 1

    operon.SymbolicRegressor.fit = timed
    s = SRSettings(**sr_settings(load_config(ROOT / "config.yaml"), "operon"))
    t0 = time.perf_counter()
    regress_messages(model / "messages.h5", model / "selected.json", s, model / "best.pt", model.parent / "data.h5")
    return model.parent.name + "/" + model.name, time.perf_counter() - t0, spent[0], spent[1]


def rollouts(job: tuple[Path, str]) -> tuple[str, float, int, float, int]:
    """(model, GNN seconds, GNN calls, symbolic seconds, symbolic calls) of its rollouts."""
    os.environ["OMP_NUM_THREADS"] = "1"
    import symdistill.rollout.run as run
    from symdistill.core.config import load_config, rollout_settings

    model, engine = job
    log: list[tuple[float, int]] = []
    integrate = run.integrate

    def timed(rhs, y0, times, **kwargs):
        rhs, calls = counted(rhs)
        t0 = time.perf_counter()
        out = integrate(rhs, y0, times, **kwargs)
        log.append((time.perf_counter() - t0, calls[0]))
        return out

    run.integrate = timed
    settings = run.RolloutSettings(**rollout_settings(load_config(ROOT / "config.yaml")))
    data = model.parent
    with tempfile.TemporaryDirectory() as tmp:
        run.evaluate(model / "best.pt", model / f"recovery_{engine}.json", data / "data.h5",
                     data / "rollout_truth.h5", settings, Path(tmp) / "rollout.h5", True)
    gnn, sym = log[0::2], log[1::2]  # each condition: the GNN, then its symbolic model
    return (data.name + "/" + model.name, sum(t for t, _ in gnn), sum(c for _, c in gnn),
            sum(t for t, _ in sym), sum(c for _, c in sym))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--results", type=Path, default=Path("results"))
    p.add_argument("--jobs", type=int, default=2)
    a = p.parse_args()
    models = sorted(f.parent for f in a.results.glob("*/*/sr_operon.json"))
    rolled = sorted((f.parent, f.stem.removeprefix("rollout_")) for f in a.results.glob("*/*/rollout_*.h5"))
    with ProcessPoolExecutor(a.jobs) as pool:
        total = [0.0, 0.0]
        for name, seconds, operon, searches in pool.map(symbolic, models):
            total[0] += seconds
            total[1] += operon
            print(f"{name:28s} symbolic stage {seconds:6.1f} s, Operon {operon:6.1f} s in {searches} searches", flush=True)
        print(f"symbolic stage of {len(models)} models: {total[0]:.0f} s, Operon's searches {total[1]:.0f} s "
              f"({total[1] / max(total[0], 1e-9):.0%})\n", flush=True)
        total = [0.0, 0.0]
        for name, gnn, gnn_calls, sym, sym_calls in pool.map(rollouts, rolled):
            total[0] += gnn
            total[1] += sym
            print(f"{name:28s} GNN {gnn:6.1f} s ({gnn_calls} right-hand sides), symbolic {sym:6.1f} s "
                  f"({sym_calls})", flush=True)
        print(f"rollouts of {len(rolled)} models: GNN {total[0]:.0f} s, symbolic {total[1]:.0f} s")


if __name__ == "__main__":
    main()
