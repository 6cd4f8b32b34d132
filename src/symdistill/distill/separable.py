"""Separable structure of a radial law: which factors of the particles' properties multiply which
functions of distance, found numerically before any formula is searched.

A pairwise law is almost always a short sum of terms, each a monomial in the particles'
properties times a function of distance alone,

    f(r, m1, m2, q1, q2) = sum_k phi_k(m1, m2, q1, q2) g_k(r),

(gravity m1 m2 / r^2; a charge plus a spring q1 q2 / r^2 + r; Yukawa q1 q2 e^-r (1 + r) / r^2). As in
AI Feynman's separability tests, the structure is tested on the data rather than assumed: each
g_k is modelled without a formula (piecewise linear in log r, on y divided by its typical size
at each distance, so that a singular law is of order one everywhere), and monomials phi_k are
added one at a time, each the one that lowers the two-fold cross-validated error most, while it
lowers it by more than ``min_gain``. Each g_k is then a search in r alone (``partial_targets``):
a five-variable problem becomes one or two one-variable problems. A law outside this family (a reduced mass m1 m2 /
(m1 + m2)) is still found by the free search beside it; this one only adds candidates.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import sympy as sp

KNOTS = 16  # piecewise-linear nodes in log r of each g_k (at quantiles of the edges)
MAX_TERMS = 3  # monomials in the largest structure tried


@dataclass
class Term:
    """phi_k(properties) g_k(r): the factor (a monomial), its values and g_k's formula-free estimate
    on the edges."""

    factor: sp.Expr
    values: np.ndarray
    g: np.ndarray


@dataclass
class Structure:
    """A sum of separable terms and its cross-validated relative error on the edges."""

    terms: list[Term]
    cv_error: float

    def describe(self) -> dict:
        return {"factors": [str(t.factor) for t in self.terms], "cv_error": self.cv_error}


def monomials(S: np.ndarray, names: list[str]) -> list[tuple[sp.Expr, np.ndarray]]:
    """Every monomial of the property columns (all but r) with exponents -1, 0, 1 (0, 1 for a
    column of signs, where q^-1 = q, or one that changes sign); constant columns are left out.
    The constant monomial 1 is first."""
    choices = []
    for k, name in enumerate(names):
        x = S[:, k]
        if name == "r" or np.ptp(x) <= 1e-12 * max(1.0, np.abs(x).max()):
            continue
        signs = np.allclose(np.abs(x), 1.0)
        exps = (0, 1) if signs or (x <= 0).any() else (0, 1, -1)
        choices.append((sp.Symbol(name, real=True), x, exps))
    out = []
    for powers in itertools.product(*(c[2] for c in choices)):
        expr, vals = sp.Integer(1), np.ones(len(S))
        for (sym, x, _), p in zip(choices, powers):
            if p:
                expr, vals = expr * sym**p, vals * x**p
        out.append((expr, vals))
    return out


def _hats(logr: np.ndarray, knots: np.ndarray) -> np.ndarray:
    """Piecewise-linear interpolation basis on ``knots`` (flat outside them): [E, len(knots)]."""
    eye = np.eye(len(knots))
    return np.stack([np.interp(logr, knots, eye[b]) for b in range(len(knots))], axis=1)


def magnitude(logr: np.ndarray, y: np.ndarray, knots: np.ndarray) -> np.ndarray:
    """The typical size of |y| at each edge's distance: the median |y| between neighbouring
    knots, interpolated in log r (floored at 1e-3 of its largest value, where a law changes
    sign). Dividing by it makes every distance weigh alike in the fit, whatever the law's
    dynamic range."""
    mids, size = [], []
    for a, b in zip(knots[:-1], knots[1:]):
        inside = (logr >= a) & (logr <= b)
        if inside.sum() >= 5:
            mids.append(0.5 * (a + b))
            size.append(float(np.median(np.abs(y[inside]))))
    if not mids:
        return np.full(len(y), max(float(np.median(np.abs(y))), 1e-300))
    size = np.maximum(np.asarray(size), 1e-3 * max(size) + 1e-300)
    return np.exp(np.interp(logr, mids, np.log(size)))


def _design(factors: list[np.ndarray], hats: np.ndarray) -> np.ndarray:
    return np.concatenate([f[:, None] * hats for f in factors], axis=1)


def _cv_error(D: np.ndarray, y: np.ndarray, folds: np.ndarray) -> float:
    """Two-fold cross-validated sum of squared errors over the sum of squares of y."""
    err = 0.0
    for f in (0, 1):
        train, test = folds != f, folds == f
        coef, *_ = np.linalg.lstsq(D[train], y[train], rcond=None)
        err += float(((D[test] @ coef - y[test]) ** 2).sum())
    return err / max(float((y**2).sum()), 1e-300)


def structures(S: np.ndarray, y: np.ndarray, names: list[str], min_gain: float = 0.1,
               seed: int = 0) -> list[Structure]:
    """Nested separable structures (one term, two, ...) chosen by forward selection of monomials,
    each kept while it lowers the cross-validated error by more than ``min_gain`` (a fraction);
    the first is always returned. y is divided by its typical size at each distance
    (``magnitude``) so the fit weighs every distance alike."""
    r = S[:, names.index("r")]
    ok = np.isfinite(y) & (r > 0)
    logr = np.log(r[ok])
    knots = np.unique(np.quantile(logr, np.linspace(0, 1, KNOTS)))
    hats = _hats(logr, knots)
    scale = np.full(len(y), np.nan)
    scale[ok] = 1.0 / magnitude(logr, y[ok], knots)
    z = y * scale
    folds = np.random.default_rng(seed).permutation(ok.sum()) % 2
    pool = [(e, v[ok]) for e, v in monomials(S[ok], names)]
    chosen: list[int] = []
    found: list[Structure] = []
    last = np.inf
    while len(chosen) < min(MAX_TERMS, len(pool)):
        trials = {i: _cv_error(_design([pool[j][1] for j in chosen + [i]], hats), z[ok], folds)
                  for i in range(len(pool)) if i not in chosen}
        i = min(trials, key=lambda i: (trials[i], i))
        if found and not trials[i] < (1 - min_gain) * last:
            break
        chosen.append(i)
        last = trials[i]
        D = _design([pool[j][1] for j in chosen], hats)
        coef, *_ = np.linalg.lstsq(D, z[ok], rcond=None)
        terms = []
        for t, j in enumerate(chosen):
            g = np.full(len(y), np.nan)
            g[ok] = hats @ coef[t * len(knots):(t + 1) * len(knots)] / scale[ok]
            vals = np.full(len(y), np.nan)
            vals[ok] = pool[j][1]
            terms.append(Term(pool[j][0], vals, g))
        found.append(Structure(terms, last))
    return found


def partial_targets(structure: Structure, y: np.ndarray, floor: float = 0.1,
                    share: float = 0.25) -> list[tuple[np.ndarray, np.ndarray]]:
    """For each term k, the edges where it can be read and its one-variable target there, the
    partial residual (y - sum_{j != k} phi_j g_j) / phi_k. Readable: |phi_k| at least ``floor`` x
    its median, and the term at least ``share`` of the terms' summed sizes, since the other terms'
    formula-free estimates err by a fraction of their own size (a spring under a 1/r^2 core is
    read at long range, not where the core swamps it)."""
    parts = [t.values * t.g for t in structure.terms]
    total = sum((np.abs(p) for p in parts), np.zeros(len(y)))
    out = []
    for k, term in enumerate(structure.terms):
        others = sum((p for j, p in enumerate(parts) if j != k), np.zeros(len(y)))
        size = np.abs(term.values)
        with np.errstate(invalid="ignore", divide="ignore"):
            mask = np.isfinite(others) & (size >= floor * np.nanmedian(size)) & (np.abs(parts[k]) >= share * total)
        target = np.full(len(y), np.nan)
        target[mask] = (y[mask] - others[mask]) / term.values[mask]
        out.append((mask, target))
    return out
