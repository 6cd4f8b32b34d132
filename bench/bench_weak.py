"""Weak-form training benchmark: time per optimiser step on weak-form targets against the exact
path, same model, variant and batch_size, measured side by side (interleaved rounds, so a busy
machine slows both alike), for the windows the rule picks at several noise levels.

A weak step evaluates at most 2 x batch_size frames in stretches of consecutive frames
(gnn.data.WeakBatches.sample), an exact step batch_size frames; the target is a ratio of at
most 2.
Run: python bench/bench_weak.py [--steps 100] [--rounds 5] [--threads 1]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np
import torch

from symdistill.gnn.train import Trainer, TrainSettings
from symdistill.physics.simulate import SimSettings, simulate


def seconds_per_step(trainer: Trainer, steps: int) -> float:
    t0 = time.perf_counter()
    for _ in range(steps):
        trainer.train_step()
    return (time.perf_counter() - t0) / steps


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--variants", nargs="+", default=["bottleneck", "hamiltonian"])
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    with tempfile.TemporaryDirectory() as tmp:
        sets = {"exact": simulate(SimSettings(law="spring", n=4, dim=2, n_sims=40, steps=500),
                                  Path(tmp) / "exact.h5", quiet=True)}
        for noise in (0.0, 1e-3, 1e-2):
            sets[f"weak, noise {noise:g}"] = simulate(
                SimSettings(law="spring", n=4, dim=2, n_sims=40, steps=500, derivatives="weak", position_noise=noise),
                Path(tmp) / f"weak{noise:g}.h5", quiet=True)
        for variant in a.variants:
            trainers = {name: Trainer(path, Path(tmp) / f"{variant}-{name}",
                                      TrainSettings(variant=variant, seed=0, steps=10**6, threads=a.threads), quiet=True)
                        for name, path in sets.items()}
            for t in trainers.values():  # warm up
                seconds_per_step(t, 10)
            times = {name: [] for name in trainers}
            for _ in range(a.rounds):
                for name, t in trainers.items():
                    times[name].append(seconds_per_step(t, a.steps))
            base = float(np.median(times["exact"]))
            print(f"\n{variant}: ms per step (median of {a.rounds} interleaved rounds of {a.steps} steps), batch_size 64")
            for name, path in sets.items():
                with h5py.File(path) as f:
                    window = int(f.attrs["weak_window"]) if "weak_window" in f.attrs else 1
                step = float(np.median(times[name]))
                print(f"  {name:22s} window {window:4d}  {1000 * step:7.2f} ms  ratio to exact {step / base:5.2f}")


if __name__ == "__main__":
    main()
