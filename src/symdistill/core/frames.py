"""A data set's layout: its train / validation / test split, and its recorded frames as plain
arrays (node features and accelerations per graph).

Every graph of a data set has the same n, so a split is just rows of [graphs, n, features]. This
is the one reader of a data set's frames; the GNN's tensors (symdistill.gnn.data) and the
symbolic model's calibration (symdistill.distill.calibrate) both read through it.
"""

from __future__ import annotations

from dataclasses import dataclass

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


def weak_window(path) -> int | None:
    """The frames of a weak-form data set's test functions, or None for per-frame accelerations."""
    with DATA_SET.open(path) as f:
        return int(f.attrs["weak_window"]) if "weak_window" in f.attrs else None


def _split_systems(f, path, split: str) -> np.ndarray:
    if split not in f["split"]:
        raise KeyError(f"{path}: no split {split!r} (have {list(f['split'])})")
    sims = f["split"][split][:]
    if sims.size == 0:
        raise ValueError(f"{path}: split {split!r} is empty; raise simulate.n_sims or the split fraction")
    return sims


def read_frames(path, split: str, sample_every: int = 1, max_graphs: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Node features [G, n, 2d+2] and accelerations [G, n, d] (float64) of one split's frames.

    Every ``sample_every``-th recorded step is used (published: 5). ``max_graphs`` keeps an
    evenly spaced subset, deterministic, of at most MAX_EDGES edges in all. Of a weak-form data
    set, the frames a test function is centred on, each with its phi-averaged acceleration (a
    smoothed value: what fits or judges a law reads ``read_windows`` instead).
    """
    with DATA_SET.open(path) as f:
        sims = _split_systems(f, path, split)
        T = f["positions"].shape[1]
        h = (int(f.attrs["weak_window"]) - 1) // 2 if "weak_window" in f.attrs else 0
        frames = slice(h, T - h, sample_every)
        pos, vel = f["positions"][:, frames][sims], f["velocities"][:, frames][sims]
        acc = f["accelerations"][:, frames][sims]
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


@dataclass
class WeakFrames:
    """One split of a weak-form data set: every s-th frame of each system (s the data set's
    quadrature stride), and the weak targets centred on them.

    A model's accelerations a [S, T, n, d] at those frames are compared with the targets through
    ``windowed(a, average)``: entry j is the phi-average over strided frames j .. j + K - 1 (the
    quadrature, at stride s, of the phi-average the target of frame j + (K - 1) / 2 is of the
    true accelerations at every frame).
    """

    x: np.ndarray  # node features [S, T, n, 2d+2] at every s-th recorded frame
    targets: np.ndarray  # weak targets [S, T - K + 1, n, d]: phi-averaged accelerations
    average: np.ndarray  # [K] the phi-average's weights at the strided frames (sum 1)
    noise: float  # the target noise std the data set states (estimated position noise x gain)


def read_windows(path, split: str, max_systems: int | None = None) -> WeakFrames:
    """One split of a weak-form data set (``max_systems``: an evenly spaced subset of systems)."""
    with DATA_SET.open(path) as f:
        if "weak_window" not in f.attrs:
            raise ValueError(f"{path}: not a weak-form data set (no weak_window attribute)")
        sims = _split_systems(f, path, split)
        if max_systems is not None and len(sims) > max_systems:
            sims = sims[np.linspace(0, len(sims) - 1, max_systems).round().astype(int)]
        s = int(f.attrs.get("weak_stride", 1))  # the quadrature stride: every s-th frame
        J = (int(f.attrs["weak_window"]) - 1) // (2 * s)  # strided frames each side of a centre
        x = node_features(f["positions"][sims][:, ::s], f["velocities"][sims][:, ::s],
                          f["charges"][:][sims][:, None, :], f["masses"][:][sims][:, None, :])
        targets = f["accelerations"][sims][:, ::s][:, J : x.shape[1] - J]
        average = f["weak_average"][::s] / f["weak_average"][::s].sum()
        noise = float(f.attrs["weak_target_noise"])
    for name, a in (("positions/velocities/charges/masses", x), ("weak targets", targets)):
        if not np.isfinite(a).all():
            raise ValueError(f"{path}: the {split} split's {name} hold NaN or infinite values "
                             "(a damaged data set, not a training problem); delete it and re-simulate")
    return WeakFrames(np.asarray(x, dtype=np.float64), np.asarray(targets, dtype=np.float64), average, noise)


def windowed(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """values [S, T, ...] filtered along time by ``weights`` [K]: [S, T - K + 1, ...], entry j
    the weighted sum over frames j .. j + K - 1 (so centred on frame j + (K - 1) / 2)."""
    K = len(weights)
    if values.shape[1] < K:
        raise ValueError(f"{values.shape[1]} frames are too few for a weak window of {K} frames")
    out = np.zeros((values.shape[0], values.shape[1] - K + 1, *values.shape[2:]))
    for k, w in enumerate(weights):  # K shifted sums: memory of one output, no window copies
        if w:
            out += w * values[:, k : k + out.shape[1]]
    return out


def read_weak_targets(path, split: str, targets: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """``targets`` weak targets of one split, evenly spaced over its systems and frames, each
    with the K frames of its test function: node features [R, K, n, 2d+2], targets [R, n, d],
    the phi-average's weights [K] and the stated target noise std (the choice data of a
    weak-form data set, whose law is judged through the phi-average of its accelerations). At
    most MAX_EDGES edges in all, as ``read_frames``."""
    w = read_windows(path, split)
    S, J = w.targets.shape[:2]
    K = len(w.average)
    geometry = read_geometry(path)
    n = w.x.shape[2]
    per_graph = n * (n - 1) if geometry.fully_connected else len(neighbours(w.x[:1, 0, :, : w.targets.shape[-1]], geometry)[0])
    targets = min(targets, max(1, MAX_EDGES // max(1, K * per_graph)))
    pick = np.linspace(0, S * J - 1, min(targets, S * J)).round().astype(int)
    system, start = np.divmod(pick, J)
    x = w.x[system[:, None], start[:, None] + np.arange(K)]
    return x, w.targets[system, start], w.average, w.noise


def phi_average(values: np.ndarray, average: np.ndarray | None) -> np.ndarray:
    """Per-frame values [R K, ...] of R windows of K frames -> each window's phi-average [R, ...]
    (``average`` None: per-frame values, returned as they are)."""
    if average is None:
        return values
    return np.einsum("rk...,k->r...", values.reshape(-1, len(average), *values.shape[1:]), average)


def read_targets(path, split: str, graphs: int, sample_every: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """What a model's accelerations are judged against: node features [G, n, 2d+2], the
    observed targets and the phi-average (None for per-frame accelerations) that maps the model's
    per-frame accelerations onto them (``phi_average``). Per frame: ``read_frames``; of a
    weak-form data set: ``graphs`` weak targets, each with its window's K frames (G = graphs K)."""
    if weak_window(path) is None:
        x, y = read_frames(path, split, sample_every, graphs)
        return x, y, None
    x, y, average, _ = read_weak_targets(path, split, graphs)
    return x.reshape(-1, *x.shape[2:]), y, average
