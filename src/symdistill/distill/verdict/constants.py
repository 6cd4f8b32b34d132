"""The constants a calibrated law implies, in the true law's own terms (its strength, a rest
length, the ratio of two terms): what a reader compares with the generating potential."""

from __future__ import annotations

import numpy as np
import sympy as sp

from symdistill.core.fit import least_squares
from symdistill.core.laws import Law
from symdistill.distill.verdict.bands import _evaluate, edge_symbols, fresh_edges


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
