"""N-body dynamics for a law: pairwise forces, accelerations and energies for many systems at once.

Arrays put the system index last ([particle, dim, systems]) so each numpy call runs over long
contiguous rows; pairs are the n(n-1)/2 unordered pairs i < j, and Newton's third law scatters
each pair force to both particles with one small matrix product.
"""

from __future__ import annotations

import numpy as np

from symdistill.core.laws import SOFTENING, Law


class NBody:
    """Pairwise-force dynamics of ``law`` for n particles in ``dim`` dimensions.

    masses, charges: [n, systems].
    """

    def __init__(self, law: Law, n: int, dim: int, masses: np.ndarray, charges: np.ndarray):
        if n < 2 or dim < 1:
            raise ValueError(f"need n >= 2 and dim >= 1, got n={n}, dim={dim}")
        self.law, self.n, self.dim = law, n, dim
        self.masses = np.ascontiguousarray(masses, dtype=np.float64)
        self.charges = np.ascontiguousarray(charges, dtype=np.float64)
        self.i, self.j = np.triu_indices(n, 1)
        # incidence[p] scatters pair p's force: +1 onto particle i, -1 onto particle j
        self.incidence = np.zeros((n, len(self.i)))
        self.incidence[self.i, np.arange(len(self.i))] = 1.0
        self.incidence[self.j, np.arange(len(self.i))] = -1.0
        self._dudr = law.force_magnitude()
        self._u = law.potential_function()
        self._cached_cols, self._cached = None, ()

    def _pairs(self, pos: np.ndarray, cols):
        """Pair separations [P, dim, S], distances |dx| [P, S], and pair constants for cols."""
        diff = pos[self.i] - pos[self.j]
        dist = np.sqrt(np.einsum("pds,pds->ps", diff, diff))
        if self._cached_cols is not cols:  # the integrator reuses one cols array between compactions
            m, q = self.masses[:, cols], self.charges[:, cols]
            self._cached = (m[self.i], m[self.j], q[self.i], q[self.j], m[:, None, :])
            self._cached_cols = cols
        return diff, dist, self._cached[:4]

    def forces(self, pos: np.ndarray, vel: np.ndarray | None = None, cols=slice(None)) -> np.ndarray:
        """Total force on each particle, [n, dim, S], for positions (and velocities) [n, dim, S]."""
        diff, dist, (mi, mj, qi, qj) = self._pairs(pos, cols)
        g = self._dudr(dist + SOFTENING, mi, mj, qi, qj)
        coef = -g / np.maximum(dist, 1e-300)  # force on i = -dU/dr * (x_i - x_j)/|x_i - x_j|
        pair_f = coef[:, None, :] * diff
        p, d, s = pair_f.shape
        total = (self.incidence @ pair_f.reshape(p, d * s)).reshape(self.n, d, s)
        if self.law.damping and vel is not None:
            total -= (self.law.damping / self.n) * vel
        return total

    def accelerations(self, pos, vel=None, cols=slice(None)) -> np.ndarray:
        force = self.forces(pos, vel, cols)  # fills the per-cols cache used below
        return force / self._cached[4]

    def rhs(self, y: np.ndarray, cols) -> np.ndarray:
        """Time derivative of the flat state [2*n*dim, S] = (positions, velocities)."""
        nd = self.n * self.dim
        s = y.shape[1]
        pos = y[:nd].reshape(self.n, self.dim, s)
        vel = y[nd:].reshape(self.n, self.dim, s)
        out = np.empty_like(y)
        out[:nd] = y[nd:]
        out[nd:] = self.accelerations(pos, vel, cols).reshape(nd, s)
        return out

    def energy(self, pos: np.ndarray, vel: np.ndarray, cols=slice(None)) -> np.ndarray:
        """Kinetic plus pairwise potential energy per system, [S] (positions [n, dim, S])."""
        diff, dist, (mi, mj, qi, qj) = self._pairs(pos, cols)
        potential = self._u(dist + SOFTENING, mi, mj, qi, qj).sum(axis=0)
        kinetic = 0.5 * (self.masses[:, cols] * (vel**2).sum(axis=1)).sum(axis=0)
        return kinetic + potential
