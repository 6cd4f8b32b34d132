"""The potential route: laws found as a pair potential U(r, m1, m2, q1, q2) whose force -dU/dr
is the law. For a force model, U is searched on the messages integrated along each edge
(``force_candidates``); for an energy model, on its pair energies (``potential_pool``)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import sympy as sp

from symdistill.core.expr import ExpressionError, parse_expression
from symdistill.distill import calibrate, simplify
from symdistill.distill.candidates import Candidate
from symdistill.distill.engines import SearchContext, to_sympy_string
from symdistill.distill.routes.messages import above_noise, message_loss, radial_candidates, separable_candidates
from symdistill.distill.search import trimmed, with_potential
from symdistill.distill.settings import SRSettings


def force_free_terms_dropped(expr: sp.Expr) -> sp.Expr:
    """A potential without its terms free of r (functions of masses and charges alone, which no
    force sees, such as the offset of E(r) - E(r_ref)), read from its top-level sum as it is or
    multiplied out, whichever is simpler; 0 if nothing depends on r."""
    r = sp.Symbol("r", real=True)
    forms = [sp.Add(*[t for t in sp.Add.make_args(e) if t.has(r)]) for e in (expr, sp.expand(expr, deep=False))]
    return min(forms, key=lambda e: (simplify.complexity(e), sp.default_sort_key(e)))


def potential_pool(engine, S: np.ndarray, energy: np.ndarray, names: list[str], s: SRSettings,
                   context: SearchContext, with_separable: bool) -> tuple[list[Candidate], list[dict]]:
    """Candidate pair potentials for pair energies E(r) - E(r_ref) on edges S (r, m1, m2, q1,
    q2): ``radial_candidates`` (no part across dx, so no noise floor) and, ``with_separable``,
    ``separable_candidates`` (each g_k in r alone, where the reference's offset phi(m, q)
    g(r_ref) costs nothing); each without its terms free of r, exponents written as integers
    where they are. Returns them and the separable structures tried."""
    noise = np.zeros_like(energy)
    pool = radial_candidates(engine, S, energy, noise, names, s, context)
    tried = []
    if with_separable:
        extra, tried = separable_candidates(engine, S, energy, noise, names, s, context)
        pool += extra
    stripped: dict[str, Candidate] = {}
    for c in pool:
        u = simplify.integral_exponents(force_free_terms_dropped(parse_expression(c.expression, names)))
        if u != 0:
            try:
                text = to_sympy_string(str(u), names)
            except ExpressionError:
                continue
            stripped.setdefault(text, replace(c, complexity=simplify.complexity(u), expression=text))
    return list(stripped.values()), tried


def force_candidates(engine, S: np.ndarray, work: np.ndarray, radial: np.ndarray, noise: np.ndarray,
                     names: list[str], s: SRSettings, context: SearchContext) -> list[Candidate]:
    """Radial laws g = -dU/dr from a search for the pair potential U on ``work`` (the radial law
    integrated along each edge from a reference distance: U(r) - U(r_ref) up to scale and sign),
    each carrying U (``potential``, calibrated as a potential) and its message loss on
    the radial values ``radial`` of the edges above the noise (as ``radial_candidates``)."""
    keep = above_noise(radial, noise, s.snr) & trimmed(radial, s.trim)
    pots, _ = potential_pool(engine, S, work, names, s, context, s.separable)
    out: dict[str, Candidate] = {}
    for c in pots:
        u = parse_expression(c.expression, names)
        try:
            cand = with_potential(calibrate.potential_force(u), u, names, origin=f"potential, {c.origin}")
        except ExpressionError:  # a force outside the grammar (an exponent beyond its limit)
            continue
        text = cand.expression
        cand.message_loss = message_loss(cand, names, S[keep], radial[keep])
        if cand.message_loss is not None and text not in out:
            out[text] = cand
    return sorted(out.values(), key=lambda c: (c.complexity, c.message_loss))
