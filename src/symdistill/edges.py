"""Edge features shared by every stage that looks at pairs: their column names, the law a file
was made with, and the true pairwise force. No torch here, so light stages import it cheaply.

Per edge, receiver i = particle 1 and sender j = particle 2: dx = x_i - x_j, ...,
r = |dx| + SOFTENING, m1, m2, q1, q2.
"""

from __future__ import annotations

import numpy as np

from symdistill.expr import parse_expression
from symdistill.laws import BUILTIN_LAWS, POTENTIAL_SYMBOLS, SOFTENING, Law
from symdistill.provenance import open_h5

SPATIAL = ("dx", "dy", "dz")


def edge_columns(dim: int) -> list[str]:
    """Names of the edge feature columns for a spatial dimension."""
    if dim > 3:
        return [f"dx{k}" for k in range(dim)] + ["r", "m1", "m2", "q1", "q2"]
    return [*SPATIAL[:dim], "r", "m1", "m2", "q1", "q2"]


def law_from_file(path) -> Law:
    """The law a data or message file was made with, rebuilt from its stored potential expression."""
    with open_h5(path) as f:
        a = f.attrs
        pot = parse_expression(str(a["potential"]), POTENTIAL_SYMBOLS, what=f"{path}: potential")
        name = str(a["law"])
        signed = a.get("signed_charges", BUILTIN_LAWS[name].signed_charges if name in BUILTIN_LAWS else False)
        return Law(name, pot, float(a.get("dt", 0.0)), bool(signed), float(a.get("damping", 0.0)))


def pair_forces(law: Law, features: np.ndarray, dim: int) -> np.ndarray:
    """True force on the receiver from the sender, [E, dim], from the law's dU/dr."""
    dx, r = features[:, :dim], features[:, dim]
    m1, m2, q1, q2 = features[:, dim + 1 : dim + 5].T
    g = law.force_magnitude()(r, m1, m2, q1, q2)
    return -(g / np.maximum(r - SOFTENING, 1e-300))[:, None] * dx
