"""Central-force structure of the messages: search one scalar law instead of d vector components.

Every pairwise-potential law (built in or custom) acts along the separation: the force on the
receiver is f(r, m1, m2, q1, q2) * u with u = dx / |dx|. If the d selected message components M
are a linear map of that force, M = A f u + b, then some matrix C and vector c make C M - c
parallel to u on every edge. Parallelism is linear in (C, c), so they are found (up to scale) as
the (C, c) whose C M - c has the smallest part across u relative to its whole (one generalised
eigenproblem), robustly, from the messages alone. The
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
    perpendicular: np.ndarray  # |C M - c - s u| per edge: the network's error, for a central force
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


def _values(M: np.ndarray, d: int) -> np.ndarray:
    """C M - c per edge as a linear map of the unknowns (vec(C) row-major, then c): [E, d, dk + d]."""
    E, k = M.shape
    B = np.zeros((E, d, d * k + d))
    for i in range(d):
        B[:, i, i * k : (i + 1) * k] = M
        B[:, i, d * k + i] = -1.0
    return B


def _least_misaligned(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """The unknowns minimising |A theta|^2 / |B theta|^2 (misaligned over total part of C M - c),
    a generalised eigenproblem solved in the span where B theta can be non-zero."""
    A2, B2 = A.reshape(-1, A.shape[-1]), B.reshape(-1, B.shape[-1])
    lam, V = np.linalg.eigh(B2.T @ B2)
    live = lam > 1e-10 * lam.max()
    P = V[:, live] / np.sqrt(lam[live])
    AP = A2 @ P
    _, vec = np.linalg.eigh(AP.T @ AP)
    return P @ vec[:, 0]


def decompose(M: np.ndarray, dx: np.ndarray, keep: float, iters: int = 8) -> Decomposition:
    """Find C, c with C M - c parallel to dx on the best aligned ``keep`` fraction of the edges
    (symbolic.align_keep).

    Minimises the misaligned fraction sum |F x u|^2 / sum |F|^2 of F = C M - c, which, unlike a
    unit-norm constraint on (C, c), no F ~ 0 can satisfy: messages confined to a subspace (orbits
    in one plane) would otherwise offer such a trivial solution. Edges are trimmed by their angle
    to dx, not by the size of their residual, so the edges that carry the force stay in however
    few they are, and messages at the noise floor (random directions) or broken ones drop out.
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
    if ok.sum() < d * k + d + 1:
        raise ValueError(f"a central decomposition needs more than {d * k + d} usable edges, got {ok.sum()}")
    centre = np.median(M[ok], axis=0)
    scale = M[ok].std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    Z = (M - centre) / scale  # standardised columns: only for conditioning (the ratio is affine-invariant)
    u = dx / np.where(norm > 0, norm, 1.0)[:, None]
    A, B = _rows(Z, u), _values(Z, d)
    kept = ok.copy()
    h = max(d * k + d + 1, int(np.ceil(keep * ok.sum())))
    for _ in range(iters):
        theta = _least_misaligned(A[kept], B[kept])
        misaligned = np.sqrt((np.einsum("epu,u->ep", A, theta) ** 2).sum(axis=1))
        size = np.linalg.norm(np.einsum("edu,u->ed", B, theta), axis=1)
        sine = misaligned / np.maximum(size, 1e-300)
        new = np.zeros_like(ok)
        new[np.flatnonzero(ok)[np.argsort(sine[ok], kind="stable")[:h]]] = True
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
    # fix the arbitrary scale: median |s| = 1 on the kept edges (for repeatable output only)
    med = np.median(np.abs(s[kept]))
    perp = np.linalg.norm(F - s[:, None] * u, axis=1)
    if med > 0:
        C, c, s, perp = C / med, c / med, s / med, perp / med
    return Decomposition(C, c, s, perp, alignment)


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


def component_text(g_text: str, a: np.ndarray, b: float, spatial: list[str], softening: float = SOFTENING,
                   r_name: str = "r") -> str:
    """Text of g * (a . dx) / |dx| + b, with |dx| written as the softened distance r minus the softening."""
    direction = " + ".join(f"({float(v):.6g})*{n}" for v, n in zip(a, spatial))
    return f"({g_text})*({direction})/({r_name} - {float(softening)}) + ({float(b):.6g})"
