"""Force laws: each a pairwise potential U(r, m1, m2, q1, q2) in sympy, compiled to numpy.

r is the softened distance |x_i - x_j| + softening (SOFTENING = 0.01 for simulations, a numerical
device against close encounters; 0 for observed data, whose law is read as it is). The force on particle i from j is
-dU/dr * (x_i - x_j) / |x_i - x_j|, taken from the symbolic derivative, so custom potentials
get exact forces and later stages can compare learned messages against the same expression.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import sympy as sp

from symdistill.core.expr import parse_expression

SOFTENING = 0.01
POTENTIAL_SYMBOLS = ("r", "m1", "m2", "q1", "q2")
r, m1, m2, q1, q2 = sp.symbols(POTENTIAL_SYMBOLS, real=True)


@dataclass(frozen=True)
class Law:
    """A pairwise interaction: its potential, recommended time step and initial-state rules."""

    name: str
    potential: sp.Expr
    dt: float
    signed_charges: bool = False  # charges are +-1 (charge sims) instead of standard normal
    damping: float = 0.0  # extra per-particle force -damping * v (the 'damped' law)
    softening: float = SOFTENING  # r = |dx| + softening in the potential and the edge features

    @property
    def has_reference(self) -> bool:
        """Is the potential known? A user's trajectory without a reference law carries U = 0
        (no force: never a law that can be simulated), and its verdicts are "unknown"."""
        return self.potential != 0

    @property
    def dudr(self) -> sp.Expr:
        """dU/dr, the radial derivative that gives the pairwise force."""
        return sp.diff(self.potential, r)

    def force_magnitude(self) -> Callable[..., np.ndarray]:
        """Numpy function g(r, m1, m2, q1, q2) = dU/dr, vectorised."""
        return _lambdify(self.dudr)

    def potential_function(self) -> Callable[..., np.ndarray]:
        """Numpy function U(r, m1, m2, q1, q2), vectorised (for energies)."""
        return _lambdify(self.potential)

    def pair_force_expr(self, dim: int) -> list[sp.Expr]:
        """Force on the receiver (particle 1) from particle 2 in terms of dx = x1 - x2 etc.

        The distance symbol r here is the softened distance, so |dx| = r - softening.
        """
        comps = sp.symbols(("dx", "dy", "dz")[:dim], real=True)
        return [sp.simplify(-self.dudr * c / (r - self.softening)) for c in comps]


def _lambdify(expr: sp.Expr) -> Callable[..., np.ndarray]:
    fn = sp.lambdify((r, m1, m2, q1, q2), expr, modules="numpy")

    def wrapped(rr, mm1, mm2, qq1, qq2):
        out = fn(rr, mm1, mm2, qq1, qq2)
        if np.shape(out) != np.shape(rr):  # constant or mass-only expressions
            out = np.broadcast_to(out, np.broadcast_shapes(np.shape(rr), np.shape(mm1)))
        return np.asarray(out, dtype=float)

    return wrapped


BUILTIN_LAWS: dict[str, Law] = {
    "spring": Law("spring", (r - 1) ** 2, 1e-2),
    "r1": Law("r1", m1 * m2 * sp.log(r), 5e-3),
    "r2": Law("r2", -m1 * m2 / r, 1e-3),
    "charge": Law("charge", q1 * q2 / r, 1e-3, signed_charges=True),
    "damped": Law("damped", (r - 1) ** 2, 2e-2, damping=1.0),
    "discontinuous": Law(
        "discontinuous", sp.Piecewise((0, r < 2), ((r - 1) ** 2, True)), 1e-2
    ),
}


def check_law(law: Law) -> None:
    """Refuse a potential that cannot drive a simulation: U or dU/dr not real and finite on a
    grid of distances (0.05 to 10), masses and charges, or a force that is zero everywhere.
    Raises ValueError with the reason (the caller names the config key)."""
    rng = np.random.default_rng(0)
    rr = np.repeat(np.geomspace(0.05, 10.0, 60), 8) + SOFTENING
    mm1, mm2 = np.exp(rng.normal(size=(2, rr.size)))
    qq1, qq2 = (rng.choice([-1.0, 1.0], size=(2, rr.size)) if law.signed_charges
                else rng.normal(size=(2, rr.size)))
    for what, expr in (("potential", law.potential), ("force dU/dr", law.dudr)):
        try:
            with np.errstate(all="ignore"):
                values = np.asarray(_lambdify(expr)(rr, mm1, mm2, qq1, qq2))
        except (TypeError, ValueError, ZeroDivisionError, OverflowError, NameError) as err:
            raise ValueError(f"the {what} {expr} cannot be evaluated: {err}") from None
        bad = ~np.isfinite(values) | (np.imag(values) != 0)
        if bad.any():
            raise ValueError(f"the {what} {expr} is not real and finite for r > 0 (e.g. at r = "
                             f"{rr[bad].min() - SOFTENING:.3g})")
    if not np.any(values):  # values: the force on the grid
        raise ValueError(f"the force dU/dr of {law.potential} is zero everywhere: nothing to learn")


def get_law(name: str, custom: dict | None = None) -> Law:
    """Look up a built-in law, or build one from the config's ``custom_laws`` entry of that name."""
    custom = custom or {}
    if name in custom:
        spec = custom[name]
        pot = parse_expression(
            spec["potential"], POTENTIAL_SYMBOLS, what=f"custom_laws.{name}.potential"
        )
        return Law(name, pot, float(spec.get("dt", 1e-3)), bool(spec.get("signed_charges", False)))
    if name in BUILTIN_LAWS:
        return BUILTIN_LAWS[name]
    raise KeyError(
        f"unknown simulation {name!r}: choose one of {sorted(BUILTIN_LAWS)} or define it under "
        "'custom_laws' in the config"
    )
