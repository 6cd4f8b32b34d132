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

from pathlib import Path

import numpy as np
import sympy as sp

from symdistill.core.edges import edge_columns
from symdistill.core.laws import Law
from symdistill.core.provenance import source_fingerprint
from symdistill.distill.verdict.bands import (
    Bands,
    edge_symbols,
    extrapolation_check,
    fresh_edges,
    judged_bands,
    numeric_check,
    true_laws,
)
from symdistill.distill.verdict.constants import law_constants
from symdistill.distill.verdict.terms import _unsoftened, symbolic_check, void_constants_dropped

__all__ = ["UNKNOWN", "edge_symbols", "fingerprint", "fresh_edges", "judge", "judge_potential", "law_constants",
           "numeric_check", "true_laws"]

#: the verdict of every law of a data set without a reference law (nothing to judge it against)
UNKNOWN = {"verdict": "unknown", "form": "unknown", "evidence": {}}


def fingerprint() -> str:
    """The verdict's version: a hash of this package's sources. A measurement freezes the verdict
    by recording it before its run (tools/measurements.py); any change to the judge changes it."""
    return source_fingerprint(Path(__file__).parent.glob("*.py"))


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
