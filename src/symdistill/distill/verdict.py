"""Is a recovered expression the true law? A verdict that a law which is wrong anywhere a
physicist would use it cannot pass.

A message may be any linear map of the force, so an expression f is judged against a . F + c
(F the true pairwise force; against the pairwise acceleration F / m1 it is "correct up to
1/m1"). Three tests, on edges drawn in distance bands (``BANDS``) from much closer than any
simulated pair to much farther (0.15 to 60), with masses and charges wider than the data's:

* **numeric** (form): f regressed on F over the fresh edges has R^2 > 0.999;
* **terms** (form): f and every F_k are expanded into terms (equal rational forms are one
  term; constants inside a term go to the 0.1 grid, or to one of the truth's own numbers within
  0.05, never to zero: only a constant whose removal changes f by less than ``VOID_TOL``
  anywhere is dropped). With a . F + c fitted on the terms the truth has, each of them must
  agree to ``SYMBOLIC_TOL`` of its own coefficient, and each term the truth lacks must vanish on
  its own scale: nowhere on the bands may it reach ``EXTRA_TOL`` of the law (SRBench: the
  difference from the truth simplifies to a constant);
* **extrapolation** (constants): a fitted on the data's band (c is f's own additive constant),
  the relative error of f from a . F + c in every band has its ``QUANTILE`` quantile below
  ``CONSTANT_TOL``. An error is measured against |a| |F| plus the band's median of it, so a zero
  of the force (a rest length) does not make a rounding error look large, and each band is
  judged on its own scale.

The verdict needs all three; ``form`` reports the first two alone (spring's 1.685 (r - 0.933),
a 7% wrong rest length, is the right form with wrong constants). The 0.01 softening of
simulated data is a numerical device, not physics: the force may be written with the softened
distance r = |dx| + 0.01 in the direction factor dx / |dx| (exact) or with r itself, and |dx|
written as r - 0.01 is |dx|. Observed data carry no softening (r = |dx|).
"""

from __future__ import annotations

import functools
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import sympy as sp

from symdistill.core.edges import edge_columns, edge_features, edge_matrix
from symdistill.core.fit import least_squares, r_squared
from symdistill.core.laws import SOFTENING, Law
from symdistill.core.provenance import source_fingerprint

NUMERIC_R2 = 0.999
SYMBOLIC_TOL = 0.05  # a true term's coefficient against its own size (form)
EXTRA_TOL = 1e-4  # the terms the truth lacks, against the law where they are largest
CONSTANT_TOL = 0.01  # the relative error of the law, at QUANTILE, in every band
QUANTILE = 0.99
VOID_TOL = 1e-9  # a constant whose removal changes the law by less than this is void
ANCHOR_TOL = 0.05  # an inner constant this close to one of the truth's numbers is that number
SOFT_TOL = 1e-8  # a constant this close to minus the softening, beside r, makes |dx|
TINY = 1e-150  # a force below this is zero for any use (and float64 loses digits far below it)
#: distance bands |dx| of the judged edges: the data's range (where a . F + c is fitted) and
#: far outside it on both sides, where a law with a spurious term or constant goes wrong
BANDS = {"close": (0.15, 0.3), "data": (0.3, 5.0), "far": (5.0, 15.0), "farthest": (15.0, 60.0)}
FIT_BAND = "data"
#: the verdict of every law of a data set without a reference law (nothing to judge it against)
UNKNOWN = {"verdict": "unknown", "form": "unknown", "evidence": {}}


def fingerprint() -> str:
    """The verdict's version: a hash of this module's source. A measurement freezes the verdict by
    recording it before its run (tools/measurements.py); any change to the judge changes it."""
    return source_fingerprint([__file__])


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


def _unsoftened(expr: sp.Expr, softening: float) -> sp.Expr:
    """|dx| written as r - softening becomes r: the softening is the data's device, not a term.
    A denominator that vanishes at r = softening (r^2 - 0.01 r, as an EQL read-out multiplies it
    out) has the factor r - softening taken out first."""
    if not softening:
        return expr
    r, s = sp.Symbol("r", real=True), sp.Float(softening)

    def split(base: sp.Expr) -> tuple[sp.Expr, sp.Expr] | None:
        """A sum as r^p times a polynomial in r (p the lowest power of r in it, fractional too),
        or None where its powers of r do not differ by integers."""
        terms = [t.as_coeff_exponent(r) for t in sp.Add.make_args(base)]
        if not all(q.is_number for _, q in terms):
            return None
        p = min(float(q) for _, q in terms)
        if not all(float(q - p).is_integer() for _, q in terms):
            return None
        poly = sp.Add(*[c * r ** int(round(float(q) - p)) for c, q in terms])
        return r ** sp.nsimplify(p), poly

    def divisible(e) -> bool:
        if not (e.is_Pow and e.exp.is_Integer and e.exp < 0 and e.base.is_Add):
            return False
        if any(a.is_Number and abs(float(a) + softening) < SOFT_TOL for a in e.base.args) and len(e.base.args) == 2:
            return False  # r - softening itself
        parts = split(e.base)
        if parts is None or not parts[1].is_polynomial(r):
            return False
        poly = parts[1]
        rest = sp.expand(poly.subs(r, s))
        return rest.is_number and abs(float(rest)) < SOFT_TOL * softening * max(1.0, *(abs(float(c)) for c in sp.Poly(
            poly, r).coeffs() if c.is_number))

    def factored(e):
        power, poly = split(e.base)
        quotient, _ = sp.div(poly, r - s, r)
        return (r - s) ** e.exp * (power * quotient) ** e.exp

    def is_distance(e) -> bool:
        return (e.is_Add and len(e.args) == 2 and r in e.args
                and any(a.is_Number and abs(float(a) + softening) < SOFT_TOL for a in e.args))

    try:
        expr = expr.replace(divisible, factored)
    except (sp.PolynomialError, TypeError, ValueError):
        pass
    return expr.replace(is_distance, lambda e: r)


def void_constants_dropped(expr: sp.Expr, symbols, bands: Bands) -> sp.Expr:
    """expr without its numerically void constants: each small constant (below the rounding
    grid's half step) outside its additive constant whose replacement by zero changes the rest
    by less than ``VOID_TOL`` of the rest's size anywhere on the bands (e^(-2.3e-13 / r^3) is 1;
    e^(-0.01 r) is not; an offset of 10^6 does not make a small term void)."""
    c, rest = constant_part(expr)
    small = sorted({f for f in rest.atoms(sp.Float) if 0 < abs(float(f)) < ANCHOR_TOL}, key=lambda f: abs(float(f)))
    if not small:
        return expr
    values = _evaluate(rest, symbols, bands.X)
    ok = np.isfinite(values)
    changed = False
    for f in small:
        trial = rest.xreplace({f: sp.Integer(0)})
        v = _evaluate(trial, symbols, bands.X)
        if not np.array_equal(np.isfinite(v), ok):
            continue
        change = bands.relative(v - values, np.abs(values))[ok]
        if not change.size or float(np.max(change)) <= VOID_TOL:
            rest, values, changed = trial, v, True
    return rest + c if changed else expr


def _snapped(f: float, anchors: tuple[float, ...]) -> sp.Expr | None:
    """An inner constant on the form's grid: one of the truth's numbers within ANCHOR_TOL (the
    grid's tolerance centred on the truth: e^(-0.25 r^2) is e^(-r^2/4), not e^(-r^2/5)), else
    the 0.1 grid; None where the grid would make it zero (it stays what it is: e^(-0.01 r) is a
    screening, not 1)."""
    near = min(anchors, key=lambda a: abs(a - f), default=None)
    if near is not None and abs(near - f) <= ANCHOR_TOL:
        return sp.nsimplify(near, rational=True)
    grid = round(f, 1)
    return sp.nsimplify(grid) if grid != 0 else None


def _round_inner(expr: sp.Expr, anchors: tuple[float, ...] = ()) -> sp.Expr:
    """Constants inside a term (not its overall coefficient) on the form's grid (``_snapped``);
    a power's exponent snapped to one of the truth's numbers within 0.01, else to a rational
    within 0.01 (r^0.25 is r^(1/4)) unless that is zero."""
    def monic(e):  # (c*r - c*k)^p -> c^p (r - k)^p, so inner constants are comparable
        terms = [t for t in sp.Add.make_args(e.base) if not t.is_number]
        lead = max((t.as_coeff_Mul()[0] for t in terms), key=lambda c: abs(float(c)), default=1)
        if lead == 0:
            return e
        return sp.Pow(lead, e.exp) * sp.Pow(sp.expand(e.base / lead), e.exp)

    def exponent(e):
        near = min(anchors, key=lambda a: abs(a - float(e.exp)), default=None)
        if near is not None and abs(near - float(e.exp)) <= 0.01:
            return sp.Pow(e.base, sp.nsimplify(near, rational=True))
        p = sp.nsimplify(float(e.exp), tolerance=0.01, rational=True)
        return sp.Pow(e.base, p) if p != 0 else e

    expr = expr.replace(lambda e: e.is_Pow and e.base.is_Add, monic)
    expr = expr.replace(lambda e: e.is_Pow and e.exp.is_Float, exponent)
    snaps = {f: _snapped(float(f), anchors) for f in expr.atoms(sp.Float)}
    return expr.xreplace({f: s for f, s in snaps.items() if s is not None})


def truth_numbers(targets: list[sp.Expr]) -> tuple[float, ...]:
    """The true law's numbers that inner constants may be snapped to: every nonzero number in
    it, with either sign."""
    numbers = {abs(float(n)) for t in targets for n in sp.sympify(t).atoms(sp.Number)}
    return tuple(sorted({s * n for n in numbers if n > 0 for s in (1.0, -1.0)}))


def _split_powers(expr: sp.Expr) -> sp.Expr:
    """(n / d)^p written n^p d^-p for a sum raised to a fractional power, powers of one base
    merged: (r + 1/r)^1.5 sqrt(r) and r (r^2 + 1)^-1.5 are then one form (distances are
    positive, so the split is exact where the law is real)."""
    def split(e):
        n, d = sp.fraction(sp.together(e.base))
        return sp.Pow(n, e.exp) * sp.Pow(d, -e.exp)

    try:
        return sp.powsimp(expr.replace(lambda e: e.is_Pow and e.base.is_Add and not e.exp.is_Integer, split))
    except (TypeError, ValueError, sp.PolynomialError):
        return expr


def _cancelled(term: sp.Expr) -> sp.Expr:
    """A term with common factors of its numerator and denominator cancelled and each made
    primitive (its numeric content moved to the coefficient), so that equal rational functions
    (r / (r^3 s + r s) and 1 / (r^2 s + s); m1 m2 / (10 m1 + 10 m2) and m1 m2 / (m1 + m2) / 10)
    are one key."""
    try:
        n, d = sp.fraction(sp.cancel(term))
        (cn, n), (cd, d) = n.as_content_primitive(), d.as_content_primitive()
    except (sp.PolynomialError, TypeError, ValueError):
        return sp.expand(term)
    # the numerator's terms over the primitive denominator (expanding the whole would carry
    # the content back into the denominator: 33 x / (10 m1 + 10 m2))
    return sp.Add(*(cn / cd * t / d for t in sp.Add.make_args(sp.expand(n))))


def _numeric_part(term: sp.Expr) -> tuple[float, sp.Expr]:
    """A product's numeric factors, rational or not (E, exp(2), exp(-1)), and the rest: the
    numbers belong to the coefficient, not to the term."""
    coeff, rest = term.as_coeff_Mul()
    numbers = sp.Mul(*[f for f in sp.Mul.make_args(rest) if f.is_number])
    return float(coeff) * float(numbers), rest / numbers


def canonical_terms(expr: sp.Expr, passes: int = 3, anchors: tuple[float, ...] = ()) -> dict[sp.Expr, float]:
    """expr as {term without coefficient: coefficient}, after expansion and inner rounding
    (``_round_inner``, with the true law's ``anchors``)."""
    out: dict[sp.Expr, float] = defaultdict(float)
    pending = [(1.0, sp.expand(_split_powers(sp.sympify(expr))))]
    for _ in range(passes):
        nxt = []
        for scale, e in pending:
            for term in sp.Add.make_args(e):
                coeff, rest = _numeric_part(term)
                rounded = _cancelled(_round_inner(rest, anchors))
                if not rounded.is_Add:  # cancelling may bring out numbers (exp(-1) of exp(-(r - 1)^2))
                    c, rounded = _numeric_part(rounded)
                    coeff *= c
                if rounded.is_Add or rounded.as_coeff_Mul()[0] != 1:
                    nxt.append((scale * float(coeff), rounded))
                elif rounded != 0:
                    out[rounded] += scale * float(coeff)
        pending = nxt
        if not pending:
            break
    for scale, e in pending:  # did not settle: keep as is
        out[e] += scale
    return {k: v for k, v in out.items() if v != 0.0}


#: the edge variables that are positive wherever a law is used (sqrt(r^2) is r)
POSITIVE = ("r", "m1", "m2")


def symbolic_check(expr: sp.Expr, targets: list[sp.Expr], symbols, bands: Bands, offset: bool = True) -> dict:
    """Are expr's terms those of a . targets + c (c = 0 unless ``offset``)? a and c are fitted
    on the terms the truth has; each of those must agree to ``SYMBOLIC_TOL`` of its own
    coefficient, and the terms the truth lacks, taken together as written (before any rounding:
    two screenings that round alike are not one), must stay below ``EXTRA_TOL`` of the law
    (``Bands.relative`` of |a| |F|) everywhere on the bands."""
    positive = {sp.Symbol(n, real=True): sp.Symbol(n, positive=True) for n in POSITIVE}
    back = {v: k for k, v in positive.items()}
    try:
        near = truth_numbers(targets)
        written = sp.expand(_split_powers(sp.sympify(expr).xreplace(positive)))
        t = canonical_terms(written, anchors=near)
        basis = [canonical_terms(x.xreplace(positive), anchors=near) for x in targets]
        basis += [{sp.Integer(1): 1.0}] if offset else []
    except (TypeError, ValueError, sp.SympifyError) as err:
        return {"pass": False, "reason": f"could not expand: {err}"}
    if not t:
        return {"pass": False, "reason": "expression is zero"}
    keys = sorted(set().union(*basis), key=sp.default_sort_key)
    y = np.array([t.get(k, 0.0) for k in keys])
    B = np.array([[b.get(k, 0.0) for b in basis] for k in keys])
    coef, _, _ = least_squares(B, y, intercept=False)
    fitted = B @ coef
    with np.errstate(all="ignore"):
        own = np.abs(y - fitted) / np.maximum(np.maximum(np.abs(y), np.abs(fitted)), 1e-9 * np.abs(y).max())
    a = coef[: len(targets)]
    only_constant = bool(np.allclose(a, 0))
    truth_keys = set(keys)
    extra, names = sp.Integer(0), []
    for term in sp.Add.make_args(written):  # each as written, where all its terms are extra
        own_keys = canonical_terms(term, anchors=near)
        outside = {k: v for k, v in own_keys.items() if k not in truth_keys}
        extra += term if outside and len(outside) == len(own_keys) else sp.Add(*[v * k for k, v in outside.items()])
        names += [str(k.xreplace(back)) for k in outside]
    size = 0.0
    if extra != 0:
        T = np.column_stack([_evaluate(x, symbols, bands.X) for x in targets])
        scale = np.linalg.norm(a) * np.linalg.norm(T, axis=1)
        ok = np.isfinite(scale)
        try:
            rel = bands.relative(_evaluate(extra.xreplace(back), symbols, bands.X), scale)[ok]
            size = float(np.max(np.where(np.isnan(rel), np.inf, rel))) if rel.size else np.inf
        except (TypeError, ValueError, NameError, ZeroDivisionError, OverflowError):
            size = np.inf
    worst_own = float(own.max()) if own.size else 0.0
    return {"pass": bool(worst_own <= SYMBOLIC_TOL and size <= EXTRA_TOL and not only_constant),
            "coefficient_error": worst_own, "a": a.tolist(), "c": float(coef[-1]) if offset else 0.0,
            "extra_size": size, "extra_terms": sorted(set(names), key=str)[:10],
            "unexplained_terms": [str(k.xreplace(back)) for k, o in zip(keys, own) if o > SYMBOLIC_TOL][:10]}


def _expression(expr: sp.Expr | str, dim: int) -> sp.Expr:
    """An engine's expression (or its text) in the canonical real edge symbols (engines' parse
    gives real symbols already)."""
    expr = sp.sympify(expr, locals={c: s for c, s in zip(edge_columns(dim), edge_symbols(dim))}) \
        if isinstance(expr, str) else expr
    return expr.xreplace({s: sp.Symbol(s.name, real=True) for s in expr.free_symbols})


def _best(checks: list[dict]) -> dict:
    """Of one test against the softened and the plain truth, the one the law fits better."""
    def badness(c):
        if "r2" in c:
            return -c["r2"] if np.isfinite(c["r2"]) else np.inf
        return max(c["quantile"].values(), default=np.inf)
    return min(checks, key=badness)


def _evidence(expr: sp.Expr, forms: list[list[sp.Expr]], symbols, X: np.ndarray, bands: Bands,
              softening: float, offset: bool) -> dict:
    """The three tests of one law against one family of targets (each written in ``forms``:
    the softened and the plain truth; the terms are compared with the last, the plain one)."""
    return {"numeric": _best([numeric_check(expr, t, symbols, X, offset) for t in forms]),
            "symbolic": symbolic_check(_unsoftened(expr, softening), forms[-1], symbols, bands, offset),
            "extrapolation": _best([extrapolation_check(expr, t, symbols, bands, offset) for t in forms])}


def _passes(evidence: dict) -> tuple[bool, bool]:
    """(form, exact) of one family's evidence."""
    form = evidence["numeric"]["pass"] and evidence["symbolic"]["pass"]
    return form, form and evidence["extrapolation"]["pass"]


def judge(expr: sp.Expr | str, law: Law, dim: int, signed_charges: bool | None = None) -> dict:
    """Verdict for one expression: 'correct', 'correct up to 1/m1' or 'wrong', with the evidence
    (``form`` judges the numeric and term tests alone). Without a reference law
    (``law.has_reference`` false: a user's trajectory) the verdict is "unknown"."""
    if not law.has_reference:
        return dict(UNKNOWN)
    expr, symbols = _expression(expr, dim), edge_symbols(dim)
    if signed_charges is None:
        signed_charges = law.signed_charges
    X = fresh_edges(dim, signed_charges, softening=law.softening)
    bands = judged_bands(dim, signed_charges, law.softening)
    expr = void_constants_dropped(expr, symbols, bands)
    plain = true_laws(law, dim, softened=False)
    evidence = {name: _evidence(expr, [targets, plain[name]], symbols, X, bands, law.softening, True)
                for name, targets in true_laws(law, dim).items()}
    form = {k: _passes(v)[0] for k, v in evidence.items()}
    exact = {k: _passes(v)[1] for k, v in evidence.items()}
    return {"verdict": _ladder(exact), "form": _ladder(form), "evidence": evidence}


def judge_potential(expr: sp.Expr | str, law: Law, dim: int) -> dict:
    """Verdict for a pair potential: 'correct' when it is a U + c(m1, m2, q1, q2) for the true
    potential U (the same forces; c, free of r, is what no force sees), else 'wrong'. Judged on
    the radial derivatives dV/dr against a dU/dr (no offset: a constant beside dU/dr would be a
    force of its own) by the force verdict's three tests ("unknown" without a reference law)."""
    if not law.has_reference:
        return dict(UNKNOWN)
    expr, symbols = _expression(expr, dim), edge_symbols(dim)
    bands = judged_bands(dim, law.signed_charges, law.softening)
    rec = void_constants_dropped(sp.diff(expr, sp.Symbol("r", real=True)), symbols, bands)
    X = fresh_edges(dim, law.signed_charges, softening=law.softening)
    evidence = _evidence(rec, [[law.dudr]], symbols, X, bands, law.softening, False)
    form, exact = _passes(evidence)
    return {"verdict": "correct" if exact else "wrong", "form": "correct" if form else "wrong",
            "evidence": {"dU/dr": evidence}}


def _ladder(ok: dict) -> str:
    return "correct" if ok["force"] else "correct up to 1/m1" if ok["acceleration"] else "wrong"


def law_constants(model, law: Law, count: int = 4000) -> dict:
    """The constants a calibrated symbolic model (symdistill.distill.model.SymbolicModel) implies,
    in the true law's own terms: its pairwise radial force f = (W phi(e)) . dx/|dx| on fresh
    edges, fitted by least squares to the true radial force's terms (-dU/dr expanded, each term
    with a free coefficient; over m1 where the model's terms are accelerations), each edge
    weighted by 1 / sqrt(F^2 + median F^2) so that relative errors count, as in the calibration. Returns per term
    the recovered and true coefficients, the strength (recovered / true, of the largest true
    term), each other term's ratio to it against the truth's (a rest length, the weight of a second
    term), and the relative RMS of what the truth's terms do not explain (0 for the exact law)."""
    dim = model.dim
    X = fresh_edges(dim, law.signed_charges, count=count, softening=law.softening)
    symbols = edge_symbols(dim)
    phi = np.column_stack([_evaluate(sp.sympify(e, locals={s.name: s for s in symbols}), symbols, X)
                           for e in model.expressions])
    dx = X[:, :dim]
    u = dx / np.linalg.norm(dx, axis=1, keepdims=True)
    f_rec = ((phi @ np.asarray(model.W).T) * u).sum(axis=1)
    r, m1, m2, q1, q2 = (sp.Symbol(n, real=True) for n in ("r", "m1", "m2", "q1", "q2"))
    truth = sp.expand(-law.dudr / (1 if model.divide_by_mass else m1))
    terms = [t.as_coeff_Mul() for t in sp.Add.make_args(truth)]
    basis = np.column_stack([_evaluate(rest, symbols, X) for _, rest in terms])
    true = np.array([float(c) for c, _ in terms])
    ok = np.isfinite(f_rec) & np.isfinite(basis).all(axis=1)
    # relative weights, as in the calibration's loss: close encounters do not decide the constants
    f_true = basis[ok] @ true
    w = 1 / np.sqrt(f_true**2 + np.median(f_true**2))
    coef, _, resid = least_squares(basis[ok] * w[:, None], f_rec[ok] * w, intercept=False)
    lead = int(np.argmax(np.abs(true)))
    strength = float(coef[lead] / true[lead])
    rows = [{"term": str(rest), "recovered": float(c), "true": float(t),
             "ratio": float(c / t) if t else float("nan")} for (_, rest), c, t in zip(terms, coef, true)]
    ratios = [{"ratio": f"{rows[k]['term']} : {rows[lead]['term']}", "recovered": float(coef[k] / coef[lead]),
               "true": float(true[k] / true[lead])} for k in range(len(terms)) if k != lead]
    scale = float(np.sqrt(np.mean((f_rec[ok] * w) ** 2)))
    return {"truth": str(truth), "terms": rows, "strength": strength, "term_ratios": ratios,
            "unexplained": float(np.sqrt(np.mean(resid**2)) / scale) if scale > 0 else float("nan"),
            "divide_by_mass": bool(model.divide_by_mass)}
