"""Simpler variants of a candidate law, with their constants refitted: the search's front, pruned.

A search engine returns expressions whose last terms often fit the network's residual errors
(an extra offset, a tiny second monomial). For each expression we build the chain of its
backward eliminations: drop the top-level term whose loss the data least misses, refit the
remaining terms' coefficients by least squares on all samples, repeat down to one term.
Non-integer exponents are also tried rounded to the nearest multiple of 1/2 (the EQL
"round and retrain" step). All candidates are scored with one engine-neutral complexity, so
the front and the choice from it mean the same for every engine.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from symdistill.core.fit import least_squares

MAX_TERMS = 24  # expansions with more top-level terms are pruned as printed


def complexity(expr: sp.Expr) -> int:
    """Nodes of the expression as a binary tree: each operator, symbol and constant counts 1,
    an n-ary sum or product n - 1 operators; a fitted real constant (not a multiple of 1/2)
    counts 2, so a law with rounded exponents is simpler than the same law with fitted ones."""
    if expr.is_Symbol:
        return 1
    if expr.is_Number:
        v = float(expr)
        return 1 if float(2 * v).is_integer() else 2
    args = expr.args
    if expr.is_Add or expr.is_Mul:
        coeff, rest = (expr.as_coeff_Mul() if expr.is_Mul else (None, None))
        if expr.is_Mul and coeff == -1:  # a sign is not a node
            return complexity(rest)
        return len(args) - 1 + sum(complexity(a) for a in args)
    return 1 + sum(complexity(a) for a in args)


def _basis(expr: sp.Expr) -> list[sp.Expr]:
    """Top-level non-constant terms without their numeric coefficients (expanded when small)."""
    expanded = sp.expand(expr)
    terms = sp.Add.make_args(expanded)
    if len(terms) > MAX_TERMS:
        terms = sp.Add.make_args(expr)
    out: dict[sp.Expr, None] = {}
    for t in terms:
        if t.is_number:
            continue
        out[t.as_coeff_Mul()[1]] = None
    return list(out)


def _values(basis: list[sp.Expr], symbols: list[sp.Symbol], X: np.ndarray) -> np.ndarray:
    cols = []
    with np.errstate(all="ignore"):
        for b in basis:
            v = sp.lambdify(symbols, b, "numpy")(*X.T)
            cols.append(np.broadcast_to(np.asarray(v, dtype=float), (len(X),)))
    return np.column_stack(cols) if cols else np.zeros((len(X), 0))


def _refit(V: np.ndarray, y: np.ndarray, intercept: bool) -> tuple[np.ndarray, float, float]:
    design = np.column_stack([V, np.ones(len(y))]) if intercept else V
    if design.shape[1] == 0:
        return np.zeros(0), 0.0, float(np.mean(y**2))
    ok = np.isfinite(design).all(axis=1)
    if ok.mean() < 0.99:
        return np.zeros(V.shape[1]), 0.0, float("inf")
    a, b, resid = least_squares(design[ok], y[ok], intercept=False)
    mse = float(np.mean(resid**2))
    return (a[:-1], float(a[-1]), mse) if intercept else (a, 0.0, mse)


def _build(basis, coef, const) -> sp.Expr:
    e = sp.Add(*[sp.Float(float(f"{c:.6g}")) * b for c, b in zip(coef, basis)])
    return e + sp.Float(float(f"{const:.6g}")) if const else e


def snap_exponents(expr: sp.Expr, grid: float = 0.5) -> sp.Expr:
    """Every non-integer float exponent rounded to the nearest multiple of ``grid``."""
    def snap(e):
        v = round(float(e.exp) / grid) * grid
        return e.base ** (sp.Integer(int(v)) if float(v).is_integer() else sp.Rational(int(2 * v), 2))

    return expr.replace(lambda e: e.is_Pow and e.exp.is_Float, snap)


def integral_exponents(expr: sp.Expr) -> sp.Expr:
    """Float exponents that are whole numbers (r**1.0, a search's constant that landed on one)
    written as integers: the same function, read as it is."""
    return expr.replace(lambda e: e.is_Pow and e.exp.is_Float and float(e.exp).is_integer(),
                        lambda e: e.base ** sp.Integer(int(e.exp)))


def eliminations(expr: sp.Expr, symbols: list[sp.Symbol], X: np.ndarray, y: np.ndarray) -> list[tuple[sp.Expr, float]]:
    """The expression refitted, and its backward-elimination chain, as (expression, MSE) pairs."""
    basis = _basis(expr)
    if not basis:
        return []
    V = _values(basis, symbols, X)
    keep = list(range(len(basis)))
    intercept = True
    out = []
    while keep:
        coef, const, mse = _refit(V[:, keep], y, intercept)
        if np.isfinite(mse):
            out.append((_build([basis[i] for i in keep], coef, const), mse))
        options = [(i, False) for i in range(len(keep))] + ([(None, True)] if intercept else [])
        if len(keep) == 1 and not intercept:
            break
        trials = []
        for drop, drop_const in options:
            cols = [k for j, k in enumerate(keep) if j != drop]
            if not cols:
                continue
            trials.append((_refit(V[:, cols], y, intercept and not drop_const)[2], drop, drop_const))
        if not trials:
            break
        _, drop, drop_const = min(trials, key=lambda t: t[0])
        if drop_const:
            intercept = False
        else:
            keep = [k for j, k in enumerate(keep) if j != drop]
    return out


def on_support(expr: sp.Expr, symbols: list[sp.Symbol], X: np.ndarray) -> sp.Expr:
    """The expression reduced by identities that hold on the data: a variable with one value in
    every sample (the equal masses of a one-species trajectory) is that value, and a variable
    whose every sample is -1 or +1 (signed charges) satisfies v**k = v**(k mod 2), so q2/q1 is
    q1*q2 there."""
    fixed = {s: float(col[0]) for s, col in zip(symbols, X.T) if len(col) and (col == col[0]).all()}
    expr = expr.xreplace({s: sp.Integer(int(v)) if v.is_integer() else sp.Float(v) for s, v in fixed.items()})
    signs = [s for s, col in zip(symbols, X.T) if s not in fixed and np.isin(col, (-1.0, 1.0)).all()]
    if not signs:
        return expr

    def reduce(e):
        return e.base ** (int(e.exp) % 2)

    return expr.replace(lambda e: e.is_Pow and e.base in signs and e.exp.is_Integer, reduce)


def variants(expr: sp.Expr, symbols: list[sp.Symbol], X: np.ndarray, y: np.ndarray) -> list[tuple[sp.Expr, float]]:
    """Refitted eliminations of the expression, of its exponent-rounded form and of its form
    reduced on the data's support."""
    forms = [expr]
    for transform in (snap_exponents, lambda e: on_support(e, symbols, X)):
        new = transform(forms[-1])
        if new not in forms:
            forms.append(new)
    return [v for f in forms for v in eliminations(f, symbols, X, y)]
