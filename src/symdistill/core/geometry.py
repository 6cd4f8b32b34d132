"""Which particles interact, and their separations: every ordered pair (the default, for a
handful of particles), or the pairs closer than a cutoff (a radius graph, for tens to thousands),
optionally in a periodic cell by the minimum-image convention.

A data set stores its geometry in its attributes (``cutoff``, ``cell``); every stage that builds
pairs (training, message dump, rollouts, the symbolic model's calibration) reads it from there,
so a law is learned, distilled and integrated on the same pairs. A periodic pair (i, j) is the
receiver i and the image of the sender j nearest to it: x_j + shift, with shift a lattice vector,
so dx = x_i - (x_j + shift) is the minimum-image separation. Functions take numpy arrays or
torch tensors (the GNN's) and do not import torch.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

#: pairs examined at once (graphs x n^2) when a radius graph is built
CHUNK_PAIRS = 4_000_000


@dataclass(frozen=True)
class Geometry:
    """How a data set's particles interact: all pairs, or those within ``cutoff``, in ``cell``."""

    cutoff: float | None = None  # interaction range (None: every pair interacts)
    cell: tuple[tuple[float, ...], ...] | None = None  # lattice vectors as rows, periodic along each

    @property
    def fully_connected(self) -> bool:
        return self.cutoff is None and self.cell is None

    @property
    def periodic(self) -> bool:
        return self.cell is not None

    def cell_array(self) -> np.ndarray:
        return np.asarray(self.cell, dtype=float)

    def check(self, dim: int, what: str = "geometry") -> None:
        """A ValueError naming ``what`` if the cell is not d x d and invertible, or the cutoff is
        not positive or is longer than half the cell's narrowest width (the minimum image is then
        not the only image within the cutoff)."""
        if self.cutoff is not None and not self.cutoff > 0:
            raise ValueError(f"{what}: cutoff {self.cutoff!r} must be a positive distance")
        if self.cell is None:
            return
        cell = self.cell_array()
        if cell.shape != (dim, dim) or not np.isfinite(cell).all() or abs(np.linalg.det(cell)) < 1e-12:
            raise ValueError(f"{what}: cell {cell.tolist()} is not an invertible {dim} x {dim} matrix")
        if self.cutoff is None:
            raise ValueError(f"{what}: a periodic cell needs a cutoff (every pair of an infinite lattice "
                             "cannot interact)")
        width = widths(cell).min()
        if self.cutoff > width / 2:
            raise ValueError(f"{what}: cutoff {self.cutoff:g} exceeds half the cell's narrowest width "
                             f"({width:g}), so the minimum image is not the only image in range")

    def attrs(self) -> dict:
        """The HDF5 attributes that store it (absent keys: fully connected, not periodic)."""
        out = {}
        if self.cutoff is not None:
            out["cutoff"] = float(self.cutoff)
        if self.cell is not None:
            out["cell"] = self.cell_array()
        return out

    @classmethod
    def from_attrs(cls, attrs) -> Geometry:
        cutoff = attrs.get("cutoff")
        cell = attrs.get("cell")
        return cls(None if cutoff is None else float(cutoff),
                   None if cell is None else tuple(map(tuple, np.asarray(cell, dtype=float).tolist())))

    def describe(self) -> dict:
        return {"cutoff": self.cutoff, "cell": None if self.cell is None else [list(r) for r in self.cell]}

    @classmethod
    def from_dict(cls, d: dict | None) -> Geometry:
        d = d or {}
        return cls(d.get("cutoff"), None if d.get("cell") is None else tuple(map(tuple, d["cell"])))


def widths(cell: np.ndarray) -> np.ndarray:
    """The distances between opposite faces of a cell (rows: lattice vectors)."""
    inv = np.linalg.inv(cell)  # columns: reciprocal vectors, so 1 / |column| is each face spacing
    return 1.0 / np.linalg.norm(inv, axis=0)


def _torch(a) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(a, torch.Tensor)


def minimum_image(dx, cell: np.ndarray):
    """Separations [..., d] mapped to their nearest periodic image (rounding fractional coordinates:
    exact for orthorhombic cells and for any cell when |dx| is below half its narrowest width)."""
    inv = np.linalg.inv(cell)
    if _torch(dx):
        import torch

        c, ci = (torch.as_tensor(a, dtype=dx.dtype, device=dx.device) for a in (cell, inv))
        return dx - torch.round(dx @ ci) @ c
    return dx - np.round(dx @ inv) @ cell


def neighbours(pos, geometry: Geometry):
    """The interacting ordered pairs of G graphs of n particles, pos [G, n, d]: graph, receiver
    i and sender j index arrays [E] (graph-major, then i, then j), and the shift [E, d] that
    moves each sender to its nearest image (None if not periodic). Every i != j without a cutoff."""
    G, n, d = pos.shape
    is_torch = _torch(pos)
    chunk = max(1, CHUNK_PAIRS // max(1, n * n))
    parts = []
    for a in range(0, G, chunk):
        p = pos[a : a + chunk]
        dx = p[:, :, None, :] - p[:, None, :, :]  # x_i - x_j, [g, i, j, d]
        near = minimum_image(dx, geometry.cell_array()) if geometry.periodic else dx
        if is_torch:
            import torch

            dist = torch.linalg.norm(near, dim=-1)
            keep = ~torch.eye(n, dtype=torch.bool, device=pos.device)[None]
            if geometry.cutoff is not None:
                keep = keep & (dist < geometry.cutoff)
            g, i, j = torch.nonzero(keep, as_tuple=True)
        else:
            dist = np.linalg.norm(near, axis=-1)
            keep = ~np.eye(n, dtype=bool)[None]
            if geometry.cutoff is not None:
                keep = keep & (dist < geometry.cutoff)
            g, i, j = np.nonzero(keep)
        shift = (dx - near)[g, i, j] if geometry.periodic else None
        parts.append((g + a, i, j, shift))
    cat = (lambda xs: __import__("torch").cat(xs)) if is_torch else np.concatenate
    g, i, j = (cat([p[k] for p in parts]) for k in range(3))
    shift = cat([p[3] for p in parts]) if geometry.periodic else None
    return g, i, j, shift


@lru_cache(maxsize=8)
def _all_pairs(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ordered pairs (receiver i, sender j), i != j, and the receiver incidence [n, E]."""
    i, j = np.nonzero(~np.eye(n, dtype=bool))
    recv = np.zeros((n, len(i)))
    recv[i, np.arange(len(i))] = 1.0
    return i, j, recv


@dataclass
class Pairs:
    """The interacting ordered pairs of G graphs (numpy), padded to one edge count per graph: what
    the symbolic model evaluates its messages on and sums back to the receivers.

    Fully connected graphs share one pair list (``receiver`` and ``sender`` of shape [1, E]);
    a radius graph has its own per graph, padded with copies of a real edge that ``valid`` marks.
    """

    receiver: np.ndarray  # [G or 1, E] receiver i of each edge
    sender: np.ndarray  # [G or 1, E] sender j
    shift: np.ndarray | None  # [G, E, d]: added to the sender's position (its nearest image)
    valid: np.ndarray | None  # [G, E]: False on padding (None: every edge is real)
    n: int

    @classmethod
    def build(cls, pos: np.ndarray, geometry: Geometry) -> Pairs:
        G, n, d = pos.shape
        if geometry.fully_connected:
            i, j, _ = _all_pairs(n)
            return cls(i[None], j[None], None, None, n)
        g, i, j, shift = neighbours(pos, geometry)
        counts = np.bincount(g, minlength=G)
        E = max(1, int(counts.max()) if len(counts) else 1)
        start = np.concatenate([[0], np.cumsum(counts)[:-1]])
        slot = np.arange(len(g)) - start[g]  # position of each edge within its graph
        valid = np.zeros((G, E), dtype=bool)
        valid[g, slot] = True
        if len(g) == 0:  # nothing in range (or positions not finite): one padding edge per graph
            return cls(np.zeros((G, 1), int), np.full((G, 1), 1 % n), np.zeros((G, 1, d)) if geometry.periodic
                       else None, np.zeros((G, 1), bool), n)
        edge = np.zeros((G, E), dtype=int)  # each slot's edge in the flat list; padding: the graph's first
        edge[g, slot] = np.arange(len(g))
        edge = np.where(valid, edge, np.where(counts > 0, start, 0)[:, None])
        return cls(i[edge], j[edge], None if shift is None else shift[edge], valid, n)

    def gather(self, a: np.ndarray, which: np.ndarray) -> np.ndarray:
        """Per-node values a [G, n, ...] at each edge's end ``which`` (receiver or sender): [G, E, ...]."""
        if which.shape[0] == 1:
            return a[:, which[0]]
        return np.take_along_axis(a, which.reshape(*which.shape, *([1] * (a.ndim - 2))), axis=1)

    def sender_positions(self, pos: np.ndarray) -> np.ndarray:
        out = self.gather(pos, self.sender)
        return out if self.shift is None else out + self.shift

    def sum(self, values: np.ndarray) -> np.ndarray:
        """Per-edge values [G, E, k] summed onto their receivers: [G, n, k] (padding ignored)."""
        if self.valid is None:
            return np.einsum("ne,gek->gnk", _all_pairs(self.n)[2], values)
        G, E, k = values.shape
        v = np.where(self.valid[..., None], values, 0.0)
        idx = (np.arange(G)[:, None] * self.n + self.receiver).ravel()
        return np.stack([np.bincount(idx, v[..., c].ravel(), G * self.n) for c in range(k)], -1).reshape(G, self.n, k)

    def degree(self, G: int) -> np.ndarray:
        """Incoming edges per node [G, n] (n - 1 everywhere when fully connected)."""
        if self.valid is None:
            return np.full((G, self.n), self.n - 1.0)
        return self.sum(np.ones((*self.valid.shape, 1)))[..., 0]

    def real(self, values: np.ndarray) -> np.ndarray:
        """Per-edge values [G, E, ...] of real edges only, flattened: [edges, ...]."""
        flat = values.reshape(-1, *values.shape[2:])
        return flat if self.valid is None else flat[np.broadcast_to(self.valid, values.shape[:2]).ravel()]

