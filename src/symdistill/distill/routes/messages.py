"""The message route: the radial law searched on the network's own messages. The radial values as
they are and over their short-range envelope r^k (``radial_candidates``), and sums of separable
terms phi_k(m, q) g_k(r), each g_k searched in r alone (``separable_candidates``)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import sympy as sp

from symdistill.core.expr import ExpressionError, parse_expression
from symdistill.core.fit import least_squares
from symdistill.distill import separable, simplify
from symdistill.distill.candidates import Candidate, pareto
from symdistill.distill.choice import choose
from symdistill.distill.engines import SearchContext, to_sympy_string
from symdistill.distill.search import evaluate, is_exhaustive, search_front, trimmed, with_potential
from symdistill.distill.settings import SRSettings


def envelope_power(r: np.ndarray, y: np.ndarray, closest: float = 0.2, grid: float = 0.5) -> float:
    """The power k of the short-range envelope |y| ~ r^k, rounded to ``grid``: the slope of
    median log|y| against median log r over five bins of the ``closest`` fraction of edges.

    A law singular at short range (1/r^2, e^-r/r) spans orders of magnitude there, so a
    squared-error search sees only its closest edges; divided by r^k it is of order one
    everywhere. Read from the data alone (the leading power, as dimensional analysis would give)."""
    ok = np.isfinite(y) & (y != 0) & (r > 0)
    r, y = r[ok], np.abs(y[ok])
    if len(r) < 50:
        return 0.0
    near = r <= np.quantile(r, closest)
    edges = np.quantile(r[near], np.linspace(0, 1, 6))
    bins = np.clip(np.searchsorted(edges, r[near], side="right") - 1, 0, 4)
    lr = np.array([np.median(np.log(r[near][bins == b])) for b in range(5) if (bins == b).any()])
    ly = np.array([np.median(np.log(y[near][bins == b])) for b in range(5) if (bins == b).any()])
    if len(lr) < 3 or np.ptp(lr) <= 0:
        return 0.0
    k = float(np.polyfit(lr, ly, 1)[0])
    return float(np.round(k / grid) * grid) if np.isfinite(k) else 0.0


def _times_power(c: Candidate, k: float, r: sp.Symbol) -> Candidate:
    """A member found for y / r^k, as a law for y."""
    power = sp.Integer(int(k)) if float(k).is_integer() else sp.Rational(int(round(2 * k)), 2)
    e = sp.Mul(r**power, c.sympy)
    return replace(c, complexity=simplify.complexity(e), expression=str(e))


def above_noise(radial: np.ndarray, noise: np.ndarray, snr: float) -> np.ndarray:
    """Edges whose radial part exceeds ``snr`` x the network's error across dx (all edges when
    fewer than 50 or 5% do)."""
    signal = np.abs(radial) > snr * noise if snr else np.ones(len(radial), dtype=bool)
    if signal.sum() < max(50, 0.05 * len(radial)):
        signal = np.ones(len(radial), dtype=bool)
    return signal


def message_loss(c: Candidate, names: list[str], S: np.ndarray, radial: np.ndarray,
                  weights: np.ndarray | None = None) -> float | None:
    """Mean (``weights``-weighted) squared error of the best multiple of a law on radial values
    (None if not finite on 99%)."""
    g = evaluate(c.expression, names, S)
    ok = np.isfinite(g)
    if ok.mean() < 0.99:
        return None
    w = None if weights is None else (weights / np.mean(weights))[ok]
    _, _, resid = least_squares(g[ok, None], radial[ok], weights=w)
    return float(np.mean(resid**2))


def radial_candidates(engine, S: np.ndarray, radial: np.ndarray, noise: np.ndarray, names: list[str],
                      s: SRSettings, context: SearchContext, weights: np.ndarray | None = None,
                      derivative: bool = False) -> list[Candidate]:
    """Fronts for the radial law, merged: searches on it as it is and (``s.envelope``) divided
    by its short-range envelope r^k (``envelope_power``), each with every objective of
    ``s.objectives``, on the edges whose radial part exceeds ``s.snr`` x ``noise`` (the part
    across dx), then trimmed (``s.trim``) in the target's own scale; members are mapped back.
    Every member carries its mean squared error on the raw radial values of those edges
    (``message_loss``, ``weights``-weighted as the exhaustive searches are); duplicates are
    dropped. ``derivative`` (the radial values are a force) adds, in the exhaustive search on
    the raw values, the forces of short potentials (``search_front``)."""
    r_col = S[:, names.index("r")]
    signal = above_noise(radial, noise, s.snr)
    targets = {"raw": 0.0}
    k = envelope_power(r_col[signal], radial[signal]) if s.envelope else 0.0
    if k:
        targets[f"r^{k:g} envelope"] = k
    raw_keep = signal & trimmed(radial, s.trim)
    r_sym = sp.Symbol("r", real=True)
    out: dict[str, Candidate] = {}
    exhaustive_only = is_exhaustive(names, s)  # least squares: one objective serves
    objectives = s.objectives[:1] if exhaustive_only else s.objectives
    for label, k in targets.items():
        y = radial * r_col ** -k
        keep = signal & trimmed(y, s.trim) & np.isfinite(y)
        for objective in objectives:
            # y / r^k has errors r^-k times the messages': weighted back by r^2k
            for c in search_front(engine, S[keep], y[keep], names, replace(s, objectives=[objective]), context,
                                  None if weights is None else weights[keep] * r_col[keep] ** (2 * k),
                                  derivative and not k):
                c.origin = f"{label}, {'exhaustive' if exhaustive_only else objective}"
                c = _times_power(c, k, r_sym) if k else c
                c.message_loss = message_loss(c, names, S[raw_keep], radial[raw_keep],
                                               None if weights is None else weights[raw_keep])
                if c.message_loss is None:
                    continue
                if c.expression not in out or c.complexity < out[c.expression].complexity:
                    out[c.expression] = c
    return sorted(out.values(), key=lambda c: (c.complexity, c.message_loss))


def separable_candidates(engine, S: np.ndarray, radial: np.ndarray, noise: np.ndarray, names: list[str],
                         s: SRSettings, context: SearchContext,
                         derivative: bool = False) -> tuple[list[Candidate], list[dict]]:
    """Laws of the form sum_k phi_k(m, q) g_k(r) (``symdistill.distill.separable``): the factors
    phi_k found numerically, each g_k searched in r alone (``radial_candidates`` on its partial
    residual over phi_k, its errors weighted by phi_k^2, i.e. measured in the messages' scale;
    ``derivative``: also as the force of a short potential), and the terms combined: each
    member of one term's front, and each that ties with its best, with the other terms at their
    front's knee (``choose(..., "best")``); a law whose terms all carry potentials carries their
    sum. Every structure of the forward selection whose terms can all be read on 50 edges is
    searched (a last term may be the network's error, which the data then tell). Returns the
    laws (message losses on the raw radial values) and the structures found, the searched ones
    marked."""
    r_at = names.index("r")
    signal = above_noise(radial, noise, s.snr)
    keep = signal & trimmed(radial, s.trim)
    Sk, yk, nk = S[keep], radial[keep], noise[keep]
    found = separable.structures(Sk, yk, names, seed=s.seed)
    tried = [{**st.describe(), "searched": False} for st in found]
    out: dict[str, Candidate] = {}
    for i, st in enumerate(found):
        readable = separable.partial_targets(st, yk)
        if min(m.sum() for m, _ in readable) < 50:
            continue
        tried[i]["searched"] = True
        fronts, members = [], []
        for term, (mask, target) in zip(st.terms, readable):
            own = radial_candidates(engine, Sk[mask][:, [r_at]], target[mask], nk[mask] / np.abs(term.values[mask]),
                                    ["r"], s, context, term.values[mask] ** 2, derivative)
            fronts.append(pareto([c for c in own if not c.tied], by="message"))
            members.append(fronts[-1] + [c for c in own if c.tied])
        if not all(fronts):
            continue
        knees = [choose(f, "best", s.loss_tolerance)[0] for f in fronts]
        tried[i]["knees"] = [k.expression for k in knees]
        for t, front in enumerate(members):
            for c in front:
                parts = [c if j == t else knee for j, knee in enumerate(knees)]
                law = sp.Add(*[term.factor * parse_expression(p.expression, ["r"]) for term, p in zip(st.terms, parts)])
                text = to_sympy_string(str(law), names)
                if text in out:
                    continue
                origin = f"separable {' + '.join(str(x.factor) for x in st.terms)}, {c.origin}"
                cand = Candidate(simplify.complexity(parse_expression(text, names)), text, origin=origin)
                if all(p.potential is not None for p in parts):
                    try:
                        cand = with_potential(law, sp.Add(*[term.factor * parse_expression(p.potential, ["r"])
                                                            for term, p in zip(st.terms, parts)]), names, origin=origin)
                    except ExpressionError:
                        pass
                cand.message_loss = message_loss(cand, names, Sk, yk)
                if cand.message_loss is not None:
                    out[text] = cand
    return sorted(out.values(), key=lambda c: (c.complexity, c.message_loss)), tried
