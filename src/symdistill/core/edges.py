"""Edge features shared by every stage that looks at pairs: how they are computed from the two
particles, their column names, the law a file was made with, and the true pairwise force.

Per edge, receiver i = particle 1 and sender j = particle 2: dx = x_i - x_j, ...,
r = |dx| + softening (the data set's: SOFTENING for simulations, 0 for observations), m1, m2, q1, q2. ``edge_features`` is the one place this geometry is
computed (message dump, EQL inputs, rollout, benchmarks); it takes numpy arrays or torch tensors
and does not import torch, so light stages import this module cheaply.
"""

from __future__ import annotations

import sys

import numpy as np

from symdistill.core.expr import parse_expression
from symdistill.core.laws import BUILTIN_LAWS, POTENTIAL_SYMBOLS, SOFTENING, Law
from symdistill.core.provenance import open_h5

SPATIAL = ("dx", "dy", "dz")


def spatial_columns(dim: int) -> list[str]:
    """Names of the separation components: dx, dy, dz (dx0, dx1, ... above three dimensions)."""
    return [f"dx{k}" for k in range(dim)] if dim > 3 else list(SPATIAL[:dim])


def edge_columns(dim: int) -> list[str]:
    """Names of the edge feature columns for a spatial dimension."""
    return [*spatial_columns(dim), "r", "m1", "m2", "q1", "q2"]


def _norm(dx):
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(dx, torch.Tensor):
        return torch.linalg.norm(dx, dim=-1)
    return np.linalg.norm(dx, axis=-1)


def edge_features(pos_i, pos_j, m_i, m_j, q_i, q_j, softening: float = SOFTENING) -> dict:
    """Named features of the edges from senders j to receivers i, any leading shape.

    Positions are [..., d], masses and charges [...]. Returns the ``edge_columns`` entries
    (dx, ..., r = |dx| + softening, m1, m2, q1, q2) plus ``dist`` = |dx| before softening.
    """
    dx = pos_i - pos_j
    dist = _norm(dx)
    cols = {name: dx[..., k] for k, name in enumerate(spatial_columns(dx.shape[-1]))}
    cols.update(r=dist + softening, m1=m_i, m2=m_j, q1=q_i, q2=q_j, dist=dist)
    return cols


def node_edge_features(x_i, x_j, dim: int, softening: float = SOFTENING) -> dict:
    """``edge_features`` from receiver and sender node features (position, velocity, charge, mass)."""
    return edge_features(x_i[..., :dim], x_j[..., :dim], x_i[..., -1], x_j[..., -1], x_i[..., -2], x_j[..., -2],
                         softening)


def edge_matrix(cols: dict, dim: int) -> np.ndarray:
    """The ``edge_columns`` of ``edge_features`` output as one float array [..., dim + 5]."""
    return np.stack([cols[c] for c in edge_columns(dim)], axis=-1)


def law_from_file(path) -> Law:
    """The law a data or message file was made with, rebuilt from its stored potential expression."""
    with open_h5(path) as f:
        a = f.attrs
        pot = parse_expression(str(a["potential"]), POTENTIAL_SYMBOLS, what=f"{path}: potential")
        name = str(a["law"])
        signed = a.get("signed_charges", BUILTIN_LAWS[name].signed_charges if name in BUILTIN_LAWS else False)
        return Law(name, pot, float(a.get("dt", 0.0)), bool(signed), float(a.get("damping", 0.0)),
                   float(a.get("softening", SOFTENING)))


def pair_forces(law: Law, features: np.ndarray, dim: int) -> np.ndarray:
    """True force on the receiver from the sender, [E, dim], from the law's dU/dr."""
    dx, r = features[:, :dim], features[:, dim]
    m1, m2, q1, q2 = features[:, dim + 1 : dim + 5].T
    g = law.force_magnitude()(r, m1, m2, q1, q2)
    return -(g / np.maximum(r - law.softening, 1e-300))[:, None] * dx


def pair_potentials(law: Law, features: np.ndarray, dim: int) -> np.ndarray:
    """True pair potential U(r, m1, m2, q1, q2) of every edge, [E]."""
    r = features[:, dim]
    m1, m2, q1, q2 = features[:, dim + 1 : dim + 5].T
    return law.potential_function()(r, m1, m2, q1, q2)
