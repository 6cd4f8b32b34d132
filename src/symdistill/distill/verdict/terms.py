"""The verdict's term test: a law and the truth expanded into terms (equal rational forms one
term, inner constants on a grid centred on the truth's own numbers, never rounded to zero), the
truth's terms matched coefficient by coefficient and every term the truth lacks sized where it is
largest on the judged bands."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import sympy as sp

from symdistill.core.fit import least_squares
from symdistill.distill.verdict.bands import Bands, _evaluate, constant_part

SYMBOLIC_TOL = 0.05  # a true term's coefficient against its own size (form)
EXTRA_TOL = 1e-4  # the terms the truth lacks, against the law where they are largest
VOID_TOL = 1e-9  # a constant whose removal changes the law by less than this is void
ANCHOR_TOL = 0.05  # an inner constant this close to one of the truth's numbers is that number
SOFT_TOL = 1e-8  # a constant this close to minus the softening, beside r, makes |dx|


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
