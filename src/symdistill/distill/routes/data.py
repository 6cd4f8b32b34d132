"""The data route: where no candidate reproduces the data exactly, each radial term of a
separable structure is searched again with its form scored on the data set's accelerations
rather than on the messages (``data_candidates``): the network gives the structure, the data
its radial form. The search on the data starts here."""

from __future__ import annotations

import itertools

import numpy as np
import sympy as sp

from symdistill.core.edges import edge_columns
from symdistill.core.expr import ExpressionError, parse_expression
from symdistill.distill import calibrate, exhaustive, simplify
from symdistill.distill.candidates import Candidate
from symdistill.distill.engines import to_sympy_string
from symdistill.distill.routes.messages import message_loss
from symdistill.distill.search import with_potential
from symdistill.distill.settings import SRSettings


def data_candidates(structures: list[dict], names: list[str], dim: int, data: dict, s: SRSettings,
                    S: np.ndarray | None = None, radial: np.ndarray | None = None,
                    potentials: bool = False) -> list[tuple[Candidate, bool]]:
    """Laws whose radial function is searched on the data set's accelerations rather than on the
    messages: for each term phi_k g_k(r) of each separable structure that was searched (its
    factors phi found on the messages), every short g_k (``s.exhaustive`` nodes, as a force and
    as a short potential's derivative) and every sum of two short trees with both scales fitted
    (``exhaustive.pair_search``) is scored by the loss of the law on the accelerations, the
    other terms held at their knees (``calibrate.TermData``). The network gives the structure
    (pairwise, central, which factors); the data tell its radial form among short expressions,
    which messages distorted by a network's errors can hide (a look-alike that fits the
    messages better than the law). Both read-out families are searched (a = sum F / m_i, or the
    summed terms: a factor read on messages that are accelerations lacks the receiver's mass).

    ``potentials``: the structures are a pair energy's, U = sum_k phi_k u_k(r) (knees u_k are
    potentials, held as their forces -phi_k u_k'); each term is searched as a short potential,
    in the family a = F / m_i of Hamilton's equations, and every law carries its U.
    Returns each search's front as laws (message losses on ``S``, ``radial`` where given), each
    with its family (divided by the receiver's mass?)."""
    searched = [st for st in structures if st.get("searched") and "knees" in st]
    if not searched:
        return []
    frames = data["train"]
    symbols = [sp.Symbol(c, real=True) for c in edge_columns(dim)]
    r = sp.Symbol("r", real=True)
    families = (True,) if potentials else (True, False)
    kinds = (True,) if potentials else (False, True)

    def per_edge(expr: sp.Expr) -> np.ndarray:
        with np.errstate(all="ignore"):
            values = sp.lambdify(symbols, expr, "numpy")(*frames.columns)
        return np.array(np.broadcast_to(np.asarray(values, dtype=float), frames.columns[0].shape))

    out: dict[tuple[str, bool], tuple[Candidate, bool]] = {}
    for st in searched:
        factors = [parse_expression(f, names) for f in st["factors"]]
        knees = [parse_expression(k, ["r"]) for k in st["knees"]]
        label = f"data, separable {' + '.join(st['factors'])}"
        for t, factor in enumerate(factors):
            held_terms = [factors[j] * knees[j] for j in range(len(factors)) if j != t]  # as U has them
            others = [calibrate.potential_force(h) for h in held_terms] if potentials else held_terms
            phi, held = per_edge(factor), [per_edge(h) for h in others]
            targets = {divide: calibrate.TermData(frames, phi, held, divide).sample(
                calibrate.SEARCH_EDGES, np.random.default_rng(s.seed)) for divide in families}
            for divide, is_potential in itertools.product(families, kinds):
                target = targets[divide]
                found = [(m.size, m.loss, [(m.tree, m.theta)], [m.a], m.b, m.rest) for m in exhaustive.search_target(
                    target, s.operators, s.exhaustive - is_potential, seed=s.seed, derivative=is_potential,
                    grid=exhaustive.FINE_GRID)]
                found += [(m.size, m.loss, list(zip(m.trees, m.thetas)), m.coef[:2], m.coef[2], m.coef[3:])
                          for m in exhaustive.pair_search(target, s.operators, seed=s.seed, derivative=is_potential,
                                                          grid=exhaustive.FINE_GRID)]
                for _, _, parts, scales, offset, rest in exhaustive.front(found):
                    try:
                        f = sp.Add(*[float(a) * parse_expression(exhaustive.text(t, theta, "r"), ["r"])
                                     for a, (t, theta) in zip(scales, parts)])
                        g = sp.diff(f, r) + offset if is_potential else f + offset
                        law = factor * g + sp.Add(*[sp.Float(c) * h for c, h in zip(rest, others)])
                        if potentials:
                            u = -factor * (f + offset * r) + sp.Add(*[sp.Float(c) * h for c, h in zip(rest, held_terms)])
                            cand = with_potential(law, u, names, origin=label)
                        elif is_potential and not others:
                            cand = with_potential(law, -factor * (f + offset * r), names, origin=label)
                        else:
                            text = to_sympy_string(str(law), names)
                            cand = Candidate(simplify.complexity(parse_expression(text, names)), text, origin=label)
                    except (ExpressionError, ValueError, TypeError):
                        continue
                    if radial is not None:
                        cand.message_loss = message_loss(cand, names, S, radial)
                        if cand.message_loss is None:
                            continue
                    if (cand.expression, divide) not in out:
                        out[cand.expression, divide] = (cand, divide)
    return sorted(out.values(), key=lambda c: (c[0].complexity, c[0].message_loss or 0.0))
