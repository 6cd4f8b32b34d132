"""Graphs straight from a simulation file: node features and targets as dense tensors.

Every graph of a data set has the same n, so a batch is just rows of [graphs, n, features];
the fully connected edge index is shared and built once per batch size.
"""

from __future__ import annotations

import numpy as np
import torch

from symdistill.core.provenance import DATA_SET


def node_features(positions, velocities, charges, masses) -> np.ndarray:
    """Node features in the published order: position (d), velocity (d), charge, mass.

    positions, velocities: [..., n, d]; charges, masses: broadcastable to [..., n].
    """
    q = np.broadcast_to(charges, positions.shape[:-1])[..., None]
    m = np.broadcast_to(masses, positions.shape[:-1])[..., None]
    return np.concatenate([positions, velocities, q, m], axis=-1)


def load_graphs(path, split: str, sample_every: int = 1, max_graphs: int | None = None,
                dtype=torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """Node features [G, n, 2d+2] and accelerations [G, n, d] of one split's recorded frames.

    Every ``sample_every``-th recorded step is used (published: 5). ``max_graphs`` keeps an
    evenly spaced subset (for validation), deterministic.
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
    if max_graphs is not None and len(x) > max_graphs:
        keep = np.linspace(0, len(x) - 1, max_graphs).round().astype(int)
        x, y = x[keep], y[keep]
    return torch.as_tensor(x, dtype=dtype), torch.as_tensor(y, dtype=dtype)
