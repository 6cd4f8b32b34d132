"""The verdict's numbers: the true law in edge symbols, the judged edges in distance bands from
much closer than any simulated pair to much farther, and the two numeric tests on them (R^2 on
fresh edges, and the extrapolation test: the law's relative error in every band)."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import sympy as sp

from symdistill.core.edges import edge_columns, edge_features, edge_matrix
from symdistill.core.fit import least_squares, r_squared
from symdistill.core.laws import SOFTENING, Law

NUMERIC_R2 = 0.999
CONSTANT_TOL = 0.01  # the relative error of the law, at QUANTILE, in every band
QUANTILE = 0.99
TINY = 1e-150  # a force below this is zero for any use (and float64 loses digits far below it)
#: distance bands |dx| of the judged edges: the data's range (where a . F + c is fitted) and
#: far outside it on both sides, where a law with a spurious term or constant goes wrong
BANDS = {"close": (0.15, 0.3), "data": (0.3, 5.0), "far": (5.0, 15.0), "farthest": (15.0, 60.0)}
FIT_BAND = "data"


def edge_symbols(dim: int) -> list[sp.Symbol]:
    return [sp.Symbol(c, real=True) for c in edge_columns(dim)]


@functools.lru_cache(maxsize=32)
def true_laws(law: Law, dim: int, softened: bool = True) -> dict[str, list[sp.Expr]]:
    """The true pairwise force and acceleration on the receiver, per component, in edge symbols
    (cached: every front member of a model is judged against the same law).

    ``softened=False`` writes the direction dx / |dx| as dx / r (no softening in the direction).
    """
    force = law.pair_force_expr(dim)
    if not softened:
        r = sp.Symbol("r", real=True)
        force = [-law.dudr * c / r for c in edge_symbols(dim)[:dim]]
    m1 = sp.Symbol("m1", real=True)
    return {"force": force, "acceleration": [f / m1 for f in force]}


def fresh_edges(dim: int, signed_charges: bool, count: int = 4000, seed: int = 12345,
                softening: float = SOFTENING, distance: tuple[float, float] = (0.05, 12.0)) -> np.ndarray:
    """Edge features beyond the training distribution: |dx| log-uniform in ``distance``, masses
    e^U(-2.5, 2.5), charges +-1 (``signed_charges``) or N(0, 2^2)."""
    rng = np.random.default_rng(seed)
    direction = rng.standard_normal((count, dim))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    dist = np.exp(rng.uniform(np.log(distance[0]), np.log(distance[1]), count))
    dx = direction * dist[:, None]
    m = np.exp(rng.uniform(-2.5, 2.5, (count, 2)))
    q = np.sign(rng.standard_normal((count, 2))) if signed_charges else rng.standard_normal((count, 2)) * 2
    # receivers at dx, senders at the origin: the features every stage computes for a pair
    return edge_matrix(edge_features(dx, np.zeros_like(dx), m[:, 0], m[:, 1], q[:, 0], q[:, 1], softening), dim)


@dataclass(frozen=True)
class Bands:
    """The judged edges: ``X`` [N, columns], each row's band (index into ``names``) and its
    window, a factor of two in distance (the scale an error is measured against)."""

    X: np.ndarray
    band: np.ndarray
    names: tuple[str, ...]
    window: np.ndarray

    def relative(self, error: np.ndarray, scale: np.ndarray) -> np.ndarray:
        """|error| / (scale + the window's median scale + ``TINY``), per edge (arrays over all of
        X): relative to the law where it is large, to its size nearby (a factor of two in
        distance) where it crosses zero; a Gaussian's far window, which float64 holds as zeros
        and denormals, is judged on ``TINY``."""
        floor = np.empty_like(scale)
        for w in np.unique(self.window):
            rows = self.window == w
            finite = scale[rows & np.isfinite(scale)]
            floor[rows] = np.median(finite) if finite.size else np.inf
        with np.errstate(all="ignore"):
            return np.abs(error) / (scale + floor + TINY)

    def per_band(self, values: np.ndarray, rows: np.ndarray, reduce) -> dict[str, float]:
        """``reduce`` of ``values`` over the ``rows`` of each band (0 where a band has none)."""
        return {name: float(reduce(values[rows & (self.band == b)])) if (rows & (self.band == b)).any() else 0.0
                for b, name in enumerate(self.names)}


@functools.lru_cache(maxsize=16)
def judged_bands(dim: int, signed_charges: bool, softening: float, count: int = 1500) -> Bands:
    """``count`` fresh edges in each distance band of ``BANDS`` (fixed seeds: every verdict is
    a deterministic function of the expression and the law), windows of a factor two from the
    closest distance judged."""
    X = [fresh_edges(dim, signed_charges, count, seed=777 + k, softening=softening, distance=lims)
         for k, lims in enumerate(BANDS.values())]
    X = np.concatenate(X)
    dist = np.linalg.norm(X[:, :dim], axis=1)
    window = np.floor(np.log2(dist / min(lo for lo, _ in BANDS.values()))).astype(int)
    return Bands(X, np.repeat(np.arange(len(BANDS)), count), tuple(BANDS), window)


def _evaluate(expr: sp.Expr, symbols, X: np.ndarray) -> np.ndarray:
    """expr's values on the rows of X, exponentials of one product merged first (e^(20 r)
    e^(-10 r^2) is e^(20 r - 10 r^2), not inf times 0 far out)."""
    if expr.count(sp.exp) > 1:
        expr = sp.powsimp(expr, combine="exp")
    fn = sp.lambdify(symbols, expr, modules="numpy")
    with np.errstate(all="ignore"):
        out = fn(*X.T)
    return np.broadcast_to(np.asarray(out, dtype=np.complex128).real
                           if np.iscomplexobj(out) else np.asarray(out, dtype=float), (len(X),)).astype(float)


def numeric_check(expr: sp.Expr, targets: list[sp.Expr], symbols, X: np.ndarray, offset: bool = True) -> dict:
    """R^2 of expr ~ a . targets + c on X (rows where everything is finite; c = 0 unless ``offset``)."""
    y = _evaluate(expr, symbols, X)
    T = np.column_stack([_evaluate(t, symbols, X) for t in targets])
    ok = np.isfinite(y) & np.isfinite(T).all(axis=1)
    if ok.mean() < 0.9:
        return {"r2": float("nan"), "a": None, "c": None, "median_relative_error": float("inf"),
                "finite_fraction": float(ok.mean()), "pass": False}
    a, c, resid = least_squares(T[ok], y[ok], intercept=offset)
    r2 = r_squared(y[ok], resid)
    mapped = np.abs(T[ok] @ a)
    rel = float(np.median(np.abs(resid) / np.maximum(mapped, 1e-300))) if mapped.any() else float("inf")
    return {"r2": float(r2), "a": a.tolist(), "c": float(c), "median_relative_error": rel,
            "finite_fraction": float(ok.mean()), "pass": bool(r2 > NUMERIC_R2)}


def _fit_on_band(y: np.ndarray, T: np.ndarray, bands: Bands, intercept: bool) -> tuple[np.ndarray, float] | None:
    """a (and, with ``intercept``, c) of y ~ a . T + c on the data's band, each edge's error
    relative to |T| there."""
    rows = (bands.band == bands.names.index(FIT_BAND)) & np.isfinite(y) & np.isfinite(T).all(axis=1)
    size = np.linalg.norm(T[rows], axis=1)
    if rows.sum() < 10 or not size.any():
        return None
    w = 1 / (size + np.median(size) + 1e-300) ** 2
    a, c, _ = least_squares(T[rows], y[rows], intercept=intercept, weights=w)
    if intercept and abs(c) <= 1e-9 * np.sqrt(np.mean(y[rows] ** 2)):
        c = 0.0  # the fit's rounding, not an offset: it would swamp a force of 1e-20 far away
    return a, float(c)


def constant_part(expr: sp.Expr) -> tuple[float, sp.Expr]:
    """expr's additive constant c and the rest (its top-level sum's numbers, multiplied out one
    level where the top is a product): a message's offset, taken from the law itself rather than
    fitted where it is written apart, and subtracted before evaluation so that a force of 1e-20
    far away is not lost in the rounding of an offset of order one."""
    for form in (expr, sp.expand(expr, deep=False)):
        numbers = [t for t in sp.Add.make_args(form) if t.is_number]
        if numbers and form.is_Add:
            c = sp.Add(*numbers)
            return float(c), form - c
    return 0.0, expr


def extrapolation_check(expr: sp.Expr, targets: list[sp.Expr], symbols, bands: Bands, offset: bool = True) -> dict:
    """The law with a fitted on the data's band (and, with ``offset``, c: its own additive
    constant where it writes one, else fitted there too), against a . F + c in every band: the
    ``QUANTILE`` quantile of the relative error (``Bands.relative`` of |a| |F|) per band; it
    passes when every band's is below ``CONSTANT_TOL``. An edge where the truth is finite and
    the law is not counts as an infinite error."""
    c, rest = constant_part(expr) if offset else (0.0, expr)
    y = _evaluate(rest, symbols, bands.X)
    T = np.column_stack([_evaluate(t, symbols, bands.X) for t in targets])
    fit = _fit_on_band(y, T, bands, intercept=offset and c == 0.0)
    if fit is None:
        return {"quantile": {}, "pass": False, "reason": "no finite values on the data's band"}
    a, fitted = fit
    truth_ok = np.isfinite(T).all(axis=1)
    with np.errstate(all="ignore"):
        error = np.where(np.isfinite(y), y - fitted - T @ a, np.inf)
        rel = bands.relative(error, np.linalg.norm(a) * np.linalg.norm(T, axis=1))
    rel = np.where(np.isnan(rel), np.inf, rel)
    q = bands.per_band(rel, truth_ok, lambda v: np.quantile(v, QUANTILE))
    return {"quantile": q, "worst_band": max(q, key=q.get), "a": a.tolist(), "c": c + fitted,
            "pass": bool(all(v <= CONSTANT_TOL for v in q.values()))}
