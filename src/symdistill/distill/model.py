"""The symbolic model: per-edge message expressions and a linear read-out, as an n-body law.

    a_i = (W sum_j phi(e_ij) + (n_i - 1) v) / m_i      (divide_by_mass: the messages are forces)
    a_i =  W sum_j phi(e_ij) + (n_i - 1) v             (otherwise: accelerations)

phi_k are the chosen expressions in the edge features (symdistill.core.edges); (n_i - 1) v is a
per-edge constant (n_i - 1: the receiver's incoming edges, all others unless the data set
interacts within a cutoff), so the model applies to any number of particles. The calibration stage
(symdistill.distill.calibrate) fits W, v, the mass power and the expressions' own constants to a
data set's accelerations; the rollout integrates it; the constants table reads its law.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import numpy as np
import sympy as sp

from symdistill.core.edges import edge_columns, edge_features
from symdistill.core.expr import parse_expression
from symdistill.core.geometry import Geometry, Pairs
from symdistill.core.laws import SOFTENING


def edge_feature_columns(pos, masses, charges, pairs: Pairs, softening: float = SOFTENING) -> list[np.ndarray]:
    """Edge features in ``edge_columns`` order, [S, E] each, on ``pairs`` (receiver i, sender j
    at its nearest image)."""
    g = pairs.gather
    cols = edge_features(g(pos, pairs.receiver), pairs.sender_positions(pos), g(masses, pairs.receiver),
                         g(masses, pairs.sender), g(charges, pairs.receiver), g(charges, pairs.sender), softening)
    return [cols[c] for c in edge_columns(pos.shape[-1])]


@dataclass
class SymbolicModel:
    """Per-edge message expressions and the linear read-out that turns their sums into accelerations."""

    expressions: list[str]
    dim: int
    W: np.ndarray  # [d, k]
    v: np.ndarray  # [d], per incoming edge
    divide_by_mass: bool
    node_r2: float = float("nan")  # R^2 of the accelerations it was fitted to
    softening: float = SOFTENING  # the data set's: r = |dx| + softening in the expressions
    geometry: Geometry = field(default_factory=Geometry)  # the data set's pairs (all, or a radius graph)
    _fns: list = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self):
        cols = edge_columns(self.dim)
        syms = [sp.Symbol(c, real=True) for c in cols]
        self._fns = [sp.lambdify(syms, parse_expression(e, cols, what=f"message expression {e!r}"), "numpy")
                     for e in self.expressions]

    def messages(self, pos, masses, charges) -> tuple[np.ndarray, list[np.ndarray], Pairs]:
        """phi on every interacting pair, [S, E, k], the edge features it saw and the pairs."""
        pairs = Pairs.build(pos, self.geometry)
        feats = edge_feature_columns(pos, masses, charges, pairs, self.softening)
        with np.errstate(all="ignore"):
            phi = np.stack([np.broadcast_to(f(*feats), feats[0].shape) for f in self._fns], axis=-1)
        return phi, feats, pairs

    def summed_messages(self, pos, masses, charges) -> tuple[np.ndarray, np.ndarray]:
        """phi summed per receiver, [S, n, k], and each node's incoming edges [S, n]."""
        phi, _, pairs = self.messages(pos, masses, charges)
        return pairs.sum(phi), pairs.degree(len(pos))

    def accelerations(self, pos, vel, masses, charges) -> np.ndarray:
        summed, degree = self.summed_messages(pos, masses, charges)
        out = summed @ self.W.T + degree[..., None] * self.v
        return out / masses[..., None] if self.divide_by_mass else out

    def describe(self) -> dict:
        """JSON-ready fields that rebuild the model (``from_dict``)."""
        return {"expressions": list(self.expressions), "dim": self.dim, "W": np.asarray(self.W).tolist(),
                "v": np.asarray(self.v).tolist(), "divide_by_mass": bool(self.divide_by_mass),
                "node_r2": float(self.node_r2), "softening": float(self.softening),
                "geometry": self.geometry.describe()}

    @classmethod
    def from_dict(cls, d: dict) -> SymbolicModel:
        return cls(list(d["expressions"]), int(d["dim"]), np.asarray(d["W"], dtype=float),
                   np.asarray(d["v"], dtype=float), bool(d["divide_by_mass"]), float(d.get("node_r2", np.nan)),
                   float(d.get("softening", SOFTENING)), Geometry.from_dict(d.get("geometry")))
