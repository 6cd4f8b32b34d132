"""Symbolic-regression benchmark: does the symbolic stage name each law from its true force, and how fast?

No GNN: the "messages" are a fixed linear map of the true pairwise force (plus an offset and
--noise x their std of Gaussian noise) on edges of a small simulated data set, so the
benchmark measures the symbolic stage alone. Each setting in ABLATIONS (the pipeline's
symbolic settings from config.yaml with one change) runs on every law with a generation
budget, through the same ``symdistill.distill.stage.distil`` the pipeline calls; the table gives the
chosen law's verdict per component, whether the front holds the law, and the seconds taken.
PySR runs only where Julia is installed (otherwise the reason is printed).
Run: python bench/bench_symbolic.py [--laws spring r1 r2 charge] [--noise 0.01] [--config config/laws/custom.yaml]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from symdistill.core.config import load_config, sr_settings
from symdistill.core.edges import edge_columns, edge_features, edge_matrix, pair_forces
from symdistill.core.laws import get_law
from symdistill.distill.availability import EngineUnavailable
from symdistill.distill.calibrated import calibration_data
from symdistill.distill.engines import PySREngine, get_engine
from symdistill.distill.inputs import LawInputs
from symdistill.distill.settings import SRSettings
from symdistill.distill.stage import distil
from symdistill.distill.verdict import judge
from symdistill.physics.simulate import SimSettings, simulate

sys.path.insert(0, str(Path(__file__).parent))
from ablations import ABLATIONS  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
def edges_of(path, law, samples, seed=0):
    """Edge features and true forces of recorded frames (receiver - sender), sampled."""
    import h5py

    with h5py.File(path) as f:
        pos, m, q = f["positions"][:, ::5], f["masses"][:], f["charges"][:]
    S, T, n, d = pos.shape
    i, j = np.where(~np.eye(n, dtype=bool))
    per_frame = lambda a: np.broadcast_to(a[:, None], (S, T, *a.shape[1:]))  # noqa: E731
    cols = edge_features(pos[:, :, i], pos[:, :, j], per_frame(m[:, i]), per_frame(m[:, j]),
                         per_frame(q[:, i]), per_frame(q[:, j]))
    feats = edge_matrix(cols, d).reshape(-1, d + 5)
    rows = np.random.default_rng(seed).choice(len(feats), samples, replace=False)
    return feats[rows], pair_forces(law, feats[rows], d)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--laws", nargs="*", default=["spring", "r1", "r2", "charge"])
    p.add_argument("--samples", type=int, default=5000)
    p.add_argument("--noise", type=float, default=0.01, help="message noise, as a fraction of their std")
    p.add_argument("--settings", nargs="*", default=list(ABLATIONS), help="rows of ABLATIONS to run")
    p.add_argument("--config", default=str(ROOT / "config.yaml"),
                   help="config whose symbolic settings and custom_laws are used")
    a = p.parse_args()
    cfg = load_config(a.config)
    engines = ["operon"]
    try:
        PySREngine.check()
        engines.append("pysr")
    except EngineUnavailable as err:
        print(f"pysr skipped: {err}")
    rng = np.random.default_rng(0)
    A = np.array([[0.3, -1.2], [0.9, 0.4]])  # any invertible map: messages are a rotated, scaled force
    with tempfile.TemporaryDirectory() as tmp:
        data = {}
        for name in a.laws:
            law = get_law(name, cfg["custom_laws"])
            path = simulate(SimSettings(law=name, n=4, dim=2, n_sims=100, steps=100,
                                        custom_laws=cfg["custom_laws"]), Path(tmp) / f"{name}.h5", quiet=True)
            X, F = edges_of(path, law, a.samples)
            M = F @ A.T + np.array([0.1, -0.2])
            M = M + a.noise * M.std(axis=0) * rng.standard_normal(M.shape)
            data[name] = (law, X, M, path)
        print(f"{'setting':28s} {'engine':7s} {'law':8s} {'chosen':22s} {'front':12s} {'s':>6s}  chosen law")
        for label in a.settings:
            for engine in engines:
                base = SRSettings(**sr_settings(cfg, engine))
                s = replace(base, **ABLATIONS[label])
                for name, (law, X, M, path) in data.items():
                    t0 = time.perf_counter()
                    frames = calibration_data(path, s, law.softening) if s.choice == "data" else None
                    inp = LawInputs(X, M, edge_columns(2), 2, [0, 1], law.softening, data=frames)
                    comps, radial = distil(get_engine(engine), inp, s)
                    spent = time.perf_counter() - t0
                    chosen = [judge(c["chosen"]["expression"], law, 2)["verdict"] for c in comps]
                    front = [any(judge(m["expression"], law, 2)["verdict"] == "correct" for m in c["pareto"])
                             for c in comps]
                    shown = (radial or comps[0])["chosen"]["expression"]
                    print(f"{label:28s} {engine:7s} {name:8s} {'/'.join(chosen):22s} "
                          f"{'/'.join('yes' if f else 'no' for f in front):12s} {spent:6.1f}  {shown[:70]}",
                          flush=True)


if __name__ == "__main__":
    main()
