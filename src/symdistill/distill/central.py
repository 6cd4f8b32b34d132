"""Central-force structure of the messages: search one scalar law instead of d vector components.

Every pairwise-potential law (built in or custom) acts along the separation: the force on the
receiver is f(r, m1, m2, q1, q2) * u with u = dx / |dx|. If the d selected message components M
are a linear map of that force, M = A f u + b, then some matrix C and vector c make C M - c
parallel to u on every edge. Parallelism is linear in (C, c), so they are found (up to scale) as
the smallest singular vector of one homogeneous system, robustly, from the messages alone. The
radial part s = (C M - c) . u is then a scalar function of the scalar edge features, which a
symbolic search finds far more easily than d separate vector expressions; each component is
rebuilt as g * (a . dx) / |dx| + b with a, b refitted by least squares for every front member.
This uses no knowledge of the law beyond "it is a pairwise central force", as Lemos et al. 2022.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from symdistill.core.fit import least_squares
from symdistill.core.laws import SOFTENING


@dataclass
class Decomposition:
    """C M - c = s u on the sampled edges: the map, the radial scalar and how well it holds."""

    C: np.ndarray  # [d, k]
    c: np.ndarray  # [d]
    radial: np.ndarray  # s per edge
    alignment: float  # fraction of |C M - c|^2 along u on the kept edges (1 = exactly central)


def _rows(M: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Coefficients of the parallelism equations (C M - c)_i u_j - (C M - c)_j u_i = 0.

    Unknowns are vec(C) (row-major, d x k) then c; one row per edge and pair i < j: [E * P, dk + d].
    """
    E, k = M.shape
    d = u.shape[1]
    rows = []
    for i in range(d):
        for j in range(i + 1, d):
            r = np.zeros((E, d * k + d))
            r[:, i * k : (i + 1) * k] = M * u[:, j : j + 1]
            r[:, j * k : (j + 1) * k] = -M * u[:, i : i + 1]
            r[:, d * k + i] = -u[:, j]
            r[:, d * k + j] = u[:, i]
            rows.append(r)
    return np.stack(rows, axis=1)  # [E, P, unknowns]


def decompose(M: np.ndarray, dx: np.ndarray, keep: float = 0.9, iters: int = 8) -> Decomposition:
    """Find C, c with C M - c parallel to dx on (the best ``keep`` fraction of) the edges.

    Messages are standardised per column and each edge's equations are divided by its message
    size, so close encounters with huge forces do not dominate; the worst edges are dropped and
    the fit repeated (trimmed least squares on the homogeneous system).
    """
    M = np.asarray(M, dtype=float)
    dx = np.asarray(dx, dtype=float)
    if M.ndim != 2 or dx.ndim != 2 or len(M) != len(dx):
        raise ValueError(f"messages {M.shape} and separations {dx.shape} do not match")
    d, k = dx.shape[1], M.shape[1]
    if d < 2:
        raise ValueError("a central decomposition needs at least 2 spatial dimensions")
    norm = np.linalg.norm(dx, axis=1)
    ok = (norm > 0) & np.isfinite(M).all(axis=1)
    centre = np.median(M[ok], axis=0)
    scale = M[ok].std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    Z = (M - centre) / scale
    u = dx / np.where(norm > 0, norm, 1.0)[:, None]
    size = np.linalg.norm(Z, axis=1)
    weight = 1.0 / np.maximum(size, np.quantile(size[ok], 0.1) + 1e-12)
    A = _rows(Z, u) * weight[:, None, None]
    kept = ok.copy()
    for _ in range(iters):
        _, _, vt = np.linalg.svd(A[kept].reshape(-1, A.shape[-1]), full_matrices=False)
        theta = vt[-1]
        resid = np.sqrt((np.einsum("epu,u->ep", A, theta) ** 2).sum(axis=1))
        h = max(d * k + d + 1, int(np.ceil(keep * ok.sum())))
        new = np.zeros_like(ok)
        new[np.flatnonzero(ok)[np.argsort(resid[ok], kind="stable")[:h]]] = True
        if np.array_equal(new, kept):
            break
        kept = new
    Cz, cz = theta[: d * k].reshape(d, k), theta[d * k :]
    # back to raw messages: C M - c with C = Cz / scale, c = cz + C centre
    C = Cz / scale[None, :]
    c = cz + C @ centre
    F = M @ C.T - c
    s = (F * u).sum(axis=1)
    tot = (F[kept] ** 2).sum()
    alignment = float((s[kept] ** 2).sum() / tot) if tot > 0 else 0.0
    # fix the arbitrary scale and sign: median |s| = 1, and s correlates positively with the
    # first selected component's projection (only for repeatable output; nothing depends on it)
    med = np.median(np.abs(s[kept]))
    if med > 0:
        C, c, s = C / med, c / med, s / med
    return Decomposition(C, c, s, alignment)


def spatial_names(names: list[str], dim: int) -> list[str]:
    """The spatial separation columns (dx, dy, ...) of an edge-feature column list."""
    return list(names[:dim])


def scalar_names(names: list[str], dim: int) -> list[str]:
    """The scalar edge features (r, m1, m2, q1, q2) a central law's magnitude may depend on."""
    return list(names[dim:])


def refit_component(g: np.ndarray, dx: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Least squares y ~ g (a . dx) / |dx| + b for one message component; returns (a, b, mse)."""
    u = dx / np.linalg.norm(dx, axis=1, keepdims=True)
    X = g[:, None] * u
    ok = np.isfinite(X).all(axis=1) & np.isfinite(y)
    if ok.sum() < X.shape[1] + 2:
        return np.full(dx.shape[1], np.nan), float("nan"), float("inf")
    a, b, resid = least_squares(X[ok], y[ok])
    return a, float(b), float(np.mean(resid**2))


def component_text(g_text: str, a: np.ndarray, b: float, spatial: list[str], r_name: str = "r") -> str:
    """Text of g * (a . dx) / |dx| + b, with |dx| written as the softened distance minus SOFTENING."""
    direction = " + ".join(f"({float(v):.6g})*{n}" for v, n in zip(a, spatial))
    return f"({g_text})*({direction})/({r_name} - {SOFTENING}) + ({float(b):.6g})"
