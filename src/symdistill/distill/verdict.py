"""Is a recovered expression the true law? A numerical and a symbolic test.

A message may be any linear map of the force, so an expression f is judged against a . F + c:

* numerically: on fresh edges drawn wider than the training data, f is regressed on the true
  force components (least squares for a and c); it passes when R^2 > 0.999;
* symbolically: f and every F_k are expanded into sums of terms (a sum under a fractional power
  split into numerator and denominator, each term's common factors cancelled, so equal rational
  forms are one term), constants inside each term are
  rounded (to 0.1, so the 0.01 softening and fitted near-integers like r - 0.998 become r and
  r - 1; one within 0.05 of a number of the true law becomes that number); f passes when its
  term coefficients are a . F + c up to 5% (SRBench's "the difference simplifies to a
  constant", with the top-level coefficients left free).

Both together say the *form* is right. The *constants* (rest lengths, decay rates, ratios of
terms, exponents) are judged apart: the median relative deviation of f from its best a . F + c
on the fresh edges must be below 1% (CONSTANT_TOL). The verdict needs both; ``form`` reports the
form alone (so spring's 1.685 (r - 0.933), a 7% wrong rest length, is the right form with wrong
constants: "wrong" by the verdict, "correct" by form).

The same against the pairwise acceleration F / m1 gives "correct up to 1/m1". The 0.01
softening of simulated data is a numerical device, not physics: the numerical test accepts the
force written with the softened distance r = |dx| + 0.01 in the direction factor dx / |dx|
(exact) or with r itself. Observed data carry no softening (r = |dx|).
"""

from __future__ import annotations

import functools
from collections import defaultdict

import numpy as np
import sympy as sp

from symdistill.core.edges import edge_columns, edge_features, edge_matrix
from symdistill.core.fit import least_squares, r_squared
from symdistill.core.laws import SOFTENING, Law

NUMERIC_R2 = 0.999
SYMBOLIC_TOL = 0.05
CONSTANT_TOL = 0.01
ANCHOR_TOL = 0.05  # an inner constant this close to one of the truth's numbers is that number
#: the verdict of every law of a data set without a reference law (nothing to judge it against)
UNKNOWN = {"verdict": "unknown", "form": "unknown", "evidence": {}}


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
        force = [sp.simplify(f.subs(r - law.softening, r)) for f in force]
    m1 = sp.Symbol("m1", real=True)
    return {"force": force, "acceleration": [f / m1 for f in force]}


def fresh_edges(dim: int, signed_charges: bool, count: int = 4000, seed: int = 12345,
                softening: float = SOFTENING) -> np.ndarray:
    """Edge features well beyond the training distribution (wider separations and masses)."""
    rng = np.random.default_rng(seed)
    direction = rng.standard_normal((count, dim))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    dist = np.exp(rng.uniform(np.log(0.05), np.log(12.0), count))  # |dx| from 0.05 to 12
    dx = direction * dist[:, None]
    m = np.exp(rng.uniform(-2.5, 2.5, (count, 2)))
    q = np.sign(rng.standard_normal((count, 2))) if signed_charges else rng.standard_normal((count, 2)) * 2
    # receivers at dx, senders at the origin: the features every stage computes for a pair
    return edge_matrix(edge_features(dx, np.zeros_like(dx), m[:, 0], m[:, 1], q[:, 0], q[:, 1], softening), dim)


def _evaluate(expr: sp.Expr, symbols, X: np.ndarray) -> np.ndarray:
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


def _round_inner(expr: sp.Expr, anchors: tuple[float, ...] = ()) -> sp.Expr:
    """Round constants inside a term (not its overall coefficient) to 0.1; snap to exact numbers.
    A constant within 0.05 of one of the true law's own numbers (``anchors``) is snapped to that
    number instead (e^(-0.25 r^2) is e^(-r^2/4): rounding alone makes it e^(-r^2/5), and 0.25
    lies on the grid's edge), so the grid's tolerance is centred on the truth wherever the truth
    has a constant. A power's exponent is snapped to the simplest rational within 0.01 (r^0.25 is
    r^(1/4), not the r^(1/5) that rounding to 0.1 makes of it)."""
    def monic(e):  # (c*r - c*k)^p -> c^p (r - k)^p, so inner constants are comparable
        terms = [t for t in sp.Add.make_args(e.base) if not t.is_number]
        lead = max((t.as_coeff_Mul()[0] for t in terms), key=lambda c: abs(float(c)), default=1)
        if lead == 0:
            return e
        return sp.Pow(lead, e.exp) * sp.Pow(sp.expand(e.base / lead), e.exp)

    expr = expr.replace(lambda e: e.is_Pow and e.base.is_Add, monic)
    expr = expr.replace(lambda e: e.is_Pow and e.exp.is_Float,
                        lambda e: sp.Pow(e.base, sp.nsimplify(float(e.exp), tolerance=0.01, rational=True)))
    def snapped(f: float) -> sp.Expr:
        near = min(anchors, key=lambda a: abs(a - f), default=None)
        if near is not None and abs(near - f) <= ANCHOR_TOL:
            return sp.nsimplify(near, rational=True)
        return sp.nsimplify(round(f, 1))

    return expr.xreplace({f: snapped(float(f)) for f in expr.atoms(sp.Float)})


def truth_numbers(targets: list[sp.Expr]) -> tuple[float, ...]:
    """The true law's numbers that inner constants may be snapped to: every number in it, with
    either sign, that rounding to 0.1 would not make zero (the 0.01 softening is left out)."""
    numbers = {abs(float(n)) for t in targets for n in sp.sympify(t).atoms(sp.Number)}
    return tuple(sorted({s * n for n in numbers if n >= ANCHOR_TOL for s in (1.0, -1.0)}))


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


def symbolic_check(expr: sp.Expr, targets: list[sp.Expr], offset: bool = True) -> dict:
    """Is expr's term vector a . (targets' term vectors) + c (c = 0 unless ``offset``), up to SYMBOLIC_TOL?"""
    try:
        near = truth_numbers(targets)
        t = canonical_terms(expr, anchors=near)
        basis = [canonical_terms(x, anchors=near) for x in targets] + ([{sp.Integer(1): 1.0}] if offset else [])
    except (TypeError, ValueError, sp.SympifyError) as err:
        return {"pass": False, "reason": f"could not expand: {err}"}
    keys = sorted(set(t).union(*basis), key=sp.default_sort_key)
    if not t:
        return {"pass": False, "residual": 1.0, "reason": "expression is zero"}
    y = np.array([t.get(k, 0.0) for k in keys])
    B = np.array([[b.get(k, 0.0) for b in basis] for k in keys])
    coef, _, resid = least_squares(B, y, intercept=False)
    rel = float(np.abs(resid).max() / np.abs(y).max())
    a = coef[: len(targets)]
    only_constant = bool(np.allclose(a, 0))
    extra = [str(k) for k, r in zip(keys, resid) if abs(r) > SYMBOLIC_TOL * np.abs(y).max()]
    return {"pass": rel <= SYMBOLIC_TOL and not only_constant, "residual": rel,
            "a": a.tolist(), "c": float(coef[-1]) if offset else 0.0, "unexplained_terms": extra[:10]}


def _expression(expr: sp.Expr | str, dim: int) -> sp.Expr:
    """An engine's expression (or its text) in the canonical real edge symbols (engines' parse
    gives real symbols already)."""
    expr = sp.sympify(expr, locals={c: s for c, s in zip(edge_columns(dim), edge_symbols(dim))}) \
        if isinstance(expr, str) else expr
    return expr.xreplace({s: sp.Symbol(s.name, real=True) for s in expr.free_symbols})


def judge(expr: sp.Expr | str, law: Law, dim: int, signed_charges: bool | None = None) -> dict:
    """Verdict for one expression: 'correct', 'correct up to 1/m1' or 'wrong', with the evidence.

    The form and the constants are judged apart: ``form`` passes the numeric (R^2) and symbolic
    (terms, inner constants rounded to 0.1) tests; ``verdict`` also needs the constants: the
    median relative deviation from the best a . F + c on the fresh edges below CONSTANT_TOL (1%),
    so a rest length or a decay rate 2% off is the right form with wrong constants. Without a
    reference law (``law.has_reference`` false: a user's trajectory) the verdict is "unknown"."""
    if not law.has_reference:
        return dict(UNKNOWN)
    expr, symbols = _expression(expr, dim), edge_symbols(dim)
    if signed_charges is None:
        signed_charges = law.signed_charges
    X = fresh_edges(dim, signed_charges, softening=law.softening)
    evidence = {}
    plain = true_laws(law, dim, softened=False)
    for name, targets in true_laws(law, dim).items():
        numeric = max((numeric_check(expr, t, symbols, X) for t in (targets, plain[name])),
                      key=lambda c: c["r2"] if np.isfinite(c["r2"]) else -np.inf)
        evidence[name] = {"numeric": numeric, "symbolic": symbolic_check(expr, targets)}
    form = {k: v["numeric"]["pass"] and v["symbolic"]["pass"] for k, v in evidence.items()}
    exact = {k: form[k] and v["numeric"]["median_relative_error"] <= CONSTANT_TOL for k, v in evidence.items()}
    return {"verdict": _ladder(exact), "form": _ladder(form), "evidence": evidence}


def judge_potential(expr: sp.Expr | str, law: Law, dim: int) -> dict:
    """Verdict for a pair potential: 'correct' when it is a U + c(m1, m2, q1, q2) for the true
    potential U (the same forces; c, free of r, is what no force sees), else 'wrong'. Judged on
    the radial derivatives dV/dr against a dU/dr (no offset) by the force verdict's tests: numeric
    R^2 on the fresh edges, the symbolic term check and the 1% constants check ("unknown"
    without a reference law)."""
    if not law.has_reference:
        return dict(UNKNOWN)
    expr, symbols = _expression(expr, dim), edge_symbols(dim)
    r = sp.Symbol("r", real=True)
    rec, true = sp.diff(expr, r), law.dudr
    X = fresh_edges(dim, law.signed_charges, softening=law.softening)
    # no offset: a constant beside dU/dr would be a force of its own (a linear potential)
    numeric, symbolic = numeric_check(rec, [true], symbols, X, offset=False), symbolic_check(rec, [true], offset=False)
    form = numeric["pass"] and symbolic["pass"]
    exact = form and numeric["median_relative_error"] <= CONSTANT_TOL
    return {"verdict": "correct" if exact else "wrong", "form": "correct" if form else "wrong",
            "evidence": {"dU/dr": {"numeric": numeric, "symbolic": symbolic}}}


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
