"""A data set's layout: its train / validation / test split, and its recorded frames as plain
arrays (node features and accelerations per graph).

Every graph of a data set has the same n, so a split is just rows of [graphs, n, features]. This
is the one reader of a data set's frames; the GNN's tensors (symdistill.gnn.data) and the
symbolic model's calibration (symdistill.distill.calibrate) both read through it.
"""

from __future__ import annotations

import numpy as np

from symdistill.core.geometry import Geometry, neighbours
from symdistill.core.provenance import DATA_SET

#: edges a stage reads at most when it takes a subset of a split's graphs (``max_graphs``): a
#: radius graph of many particles gives fewer graphs (the default n = 4 data sets are far below it)
MAX_EDGES = 500_000


def node_features(positions, velocities, charges, masses) -> np.ndarray:
    """Node features in the published order: position (d), velocity (d), charge, mass.

    positions, velocities: [..., n, d]; charges, masses: broadcastable to [..., n].
    """
    q = np.broadcast_to(charges, positions.shape[:-1])[..., None]
    m = np.broadcast_to(masses, positions.shape[:-1])[..., None]
    return np.concatenate([positions, velocities, q, m], axis=-1)


def split_sizes(n_sims: int, validation: float, test: float,
                need: tuple[str, ...] = ("train", "validation", "test")) -> tuple[int, int, int]:
    """Simulations in (train, validation, test); each split in ``need`` must get at least one
    (the workflow trains, validates and tests, so it needs all three)."""
    n_val, n_test = int(round(validation * n_sims)), int(round(test * n_sims))
    sizes = (n_sims - n_val - n_test, n_val, n_test)
    empty = [name for name, k in zip(("train", "validation", "test"), sizes) if k < 1 and name in need]
    if empty:
        raise ValueError(f"n_sims={n_sims} with validation={validation} and test={test} leaves no "
                         f"{' or '.join(empty)} simulations; raise n_sims or change the fractions")
    return sizes


def split_indices(count: int, validation: float, test: float, seed: int) -> dict[str, np.ndarray]:
    """Reproducible train / validation / test split of ``count`` systems (simulations, or
    stretches of an ephemeris)."""
    order = np.random.default_rng([seed, 7919]).permutation(count)
    _, n_val, n_test = split_sizes(count, validation, test, need=("train",))
    return {
        "validation": np.sort(order[:n_val]),
        "test": np.sort(order[n_val : n_val + n_test]),
        "train": np.sort(order[n_val + n_test :]),
    }


def split_nodes(x: np.ndarray, dim: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Positions, velocities, charges and masses from node features [..., n, 2d+2]."""
    return x[..., :dim], x[..., dim : 2 * dim], x[..., 2 * dim], x[..., 2 * dim + 1]


def read_geometry(path) -> Geometry:
    """Which pairs of a data set's particles interact (its ``cutoff`` and periodic ``cell``)."""
    with DATA_SET.open(path) as f:
        return Geometry.from_attrs(f.attrs)


def read_frames(path, split: str, sample_every: int = 1, max_graphs: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Node features [G, n, 2d+2] and accelerations [G, n, d] (float64) of one split's frames.

    Every ``sample_every``-th recorded step is used (published: 5). ``max_graphs`` keeps an
    evenly spaced subset, deterministic, of at most MAX_EDGES edges in all.
    """
    with DATA_SET.open(path) as f:
        if split not in f["split"]:
            raise KeyError(f"{path}: no split {split!r} (have {list(f['split'])})")
        sims = f["split"][split][:]
        if sims.size == 0:
            raise ValueError(f"{path}: split {split!r} is empty; raise simulate.n_sims or the split fraction")
        pos, vel = f["positions"][:, ::sample_every][sims], f["velocities"][:, ::sample_every][sims]
        acc = f["accelerations"][:, ::sample_every][sims]
        q, m = f["charges"][:][sims], f["masses"][:][sims]
    x = node_features(pos, vel, q[:, None, :], m[:, None, :])
    for name, a in (("positions/velocities/charges/masses", x), ("accelerations", acc)):
        if not np.isfinite(a).all():
            raise ValueError(f"{path}: the {split} split's {name} hold NaN or infinite values "
                             "(a damaged data set, not a training problem); delete it and re-simulate")
    n, d = pos.shape[-2], pos.shape[-1]
    x, y = x.reshape(-1, n, 2 * d + 2), acc.reshape(-1, n, d)
    if max_graphs is not None:
        geometry = read_geometry(path)
        per_graph = n * (n - 1) if geometry.fully_connected else len(neighbours(x[:1, :, :d], geometry)[0])
        max_graphs = min(max_graphs, max(1, MAX_EDGES // max(1, per_graph)))
    if max_graphs is not None and len(x) > max_graphs:
        keep = np.linspace(0, len(x) - 1, max_graphs).round().astype(int)
        x, y = x[keep], y[keep]
    return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
