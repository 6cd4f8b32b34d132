"""The symbolic model: per-edge message expressions and a linear read-out, as an n-body law.

    a_i = (W sum_j phi(e_ij) + (n_i - 1) v) / m_i      (divide_by_mass: the messages are forces)
    a_i =  W sum_j phi(e_ij) + (n_i - 1) v             (otherwise: accelerations)

phi_k are the chosen expressions in the edge features (symdistill.core.edges); (n_i - 1) v is a
per-edge constant, so the model applies to any number of particles. The calibration stage
(symdistill.distill.calibrate) fits W, v, the mass power and the expressions' own constants to a
data set's accelerations; the rollout integrates it; the constants table reads its law.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import sympy as sp

from symdistill.core.edges import edge_columns, edge_features
from symdistill.core.expr import parse_expression
from symdistill.core.laws import SOFTENING


@lru_cache(maxsize=8)
def pairs(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ordered pairs (receiver i, sender j), i != j, and the receiver incidence [n, E]."""
    i, j = np.nonzero(~np.eye(n, dtype=bool))
    recv = np.zeros((n, len(i)))
    recv[i, np.arange(len(i))] = 1.0
    return i, j, recv


def edge_feature_columns(pos, masses, charges, i, j, softening: float = SOFTENING) -> list[np.ndarray]:
    """Edge features in ``edge_columns`` order, [S, E] each, for receivers i and senders j."""
    cols = edge_features(pos[:, i], pos[:, j], masses[:, i], masses[:, j], charges[:, i], charges[:, j], softening)
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
    _fns: list = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self):
        cols = edge_columns(self.dim)
        syms = [sp.Symbol(c, real=True) for c in cols]
        self._fns = [sp.lambdify(syms, parse_expression(e, cols, what=f"message expression {e!r}"), "numpy")
                     for e in self.expressions]

    def messages(self, pos, masses, charges) -> tuple[np.ndarray, list[np.ndarray]]:
        """phi on every ordered pair (``pairs`` order), [S, E, k], and the edge features it saw."""
        i, j, _ = pairs(pos.shape[1])
        feats = edge_feature_columns(pos, masses, charges, i, j, self.softening)
        with np.errstate(all="ignore"):
            return np.stack([np.broadcast_to(f(*feats), feats[0].shape) for f in self._fns], axis=-1), feats

    def summed_messages(self, pos, masses, charges) -> np.ndarray:
        """phi on every ordered pair, summed per receiver: [S, n, k]."""
        return np.einsum("ne,sek->snk", pairs(pos.shape[1])[2], self.messages(pos, masses, charges)[0])

    def accelerations(self, pos, vel, masses, charges) -> np.ndarray:
        n = pos.shape[1]
        out = self.summed_messages(pos, masses, charges) @ self.W.T + (n - 1) * self.v
        return out / masses[..., None] if self.divide_by_mass else out

    def describe(self) -> dict:
        """JSON-ready fields that rebuild the model (``from_dict``)."""
        return {"expressions": list(self.expressions), "dim": self.dim, "W": np.asarray(self.W).tolist(),
                "v": np.asarray(self.v).tolist(), "divide_by_mass": bool(self.divide_by_mass),
                "node_r2": float(self.node_r2), "softening": float(self.softening)}

    @classmethod
    def from_dict(cls, d: dict) -> SymbolicModel:
        return cls(list(d["expressions"]), int(d["dim"]), np.asarray(d["W"], dtype=float),
                   np.asarray(d["v"], dtype=float), bool(d["divide_by_mass"]), float(d.get("node_r2", np.nan)),
                   float(d.get("softening", SOFTENING)))
