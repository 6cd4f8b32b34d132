"""A force model's law (``symbolic.structure: central``): one radial law g(r, m1, m2, q1, q2) of
a central force, its candidates from the routes (symdistill.distill.routes), calibrated on the
data and chosen from one front; every message component rebuilt from each front member."""

from __future__ import annotations

import numpy as np

from symdistill.distill import central
from symdistill.distill.calibrate import noise_floor
from symdistill.distill.calibrated import calibrate_radial, data_eliminations, mass_power
from symdistill.distill.candidates import Candidate, describe, pareto
from symdistill.distill.choice import chosen
from symdistill.distill.engines import SearchContext, to_sympy_string
from symdistill.distill.inputs import LawInputs
from symdistill.distill.routes import DATA, POTENTIAL, needed
from symdistill.distill.routes.data import data_candidates
from symdistill.distill.routes.messages import radial_candidates, separable_candidates
from symdistill.distill.routes.potential import force_candidates
from symdistill.distill.search import evaluate, trimmed
from symdistill.distill.settings import SRSettings


def central_components(engine, inp: LawInputs, s: SRSettings) -> tuple[list[dict], dict]:
    """The radial law of a central force and the model's components from it.

    The message route searches the radial scalar (``radial_candidates``) and its separable
    terms (``separable_candidates``); the potential route (``s.potential``, given ``inp.work``:
    the messages integrated along each edge from a reference distance) searches its pair
    potential, whose forces join. With ``choice: data`` every candidate is calibrated on the
    data set's accelerations, the data route (``s.data_search``) searches each separable term on
    the data, the costly routes run only where no candidate reproduces the data exactly
    (``routes.needed``), and the front is held-out data loss against complexity, each member's
    terms eliminated on the data; otherwise the front is the message loss. Every component is
    rebuilt from each front member with its direction and offset refitted on the messages
    (symdistill.distill.central)."""
    dim, names, msgs = inp.dim, inp.names, inp.values
    spatial, scalars = central.spatial_names(names, dim), central.scalar_names(names, dim)
    dx, S = inp.X[:, :dim], inp.X[:, dim:]
    context = SearchContext(model=inp.model, softening=inp.softening)
    dec = central.decompose(msgs, dx, keep=s.align_keep)
    keep = trimmed(dec.radial, s.trim)
    # the message route: the radial values, and sums of separable terms
    pool = radial_candidates(engine, S, dec.radial, dec.perpendicular, scalars, s, context)
    tried = []
    if s.separable:
        extra, tried = separable_candidates(engine, S, dec.radial, dec.perpendicular, scalars, s, context,
                                            derivative=True)
        seen = {c.expression for c in pool}
        pool += [c for c in extra if c.expression not in seen]

    def potentials() -> list[Candidate]:  # the potential route: the work's potentials, as radial laws
        integrals, reference = inp.work
        dist = np.linalg.norm(dx, axis=1)
        u = dx / np.maximum(dist, 1e-300)[:, None]
        radial_work = ((integrals @ dec.C.T - np.outer(dist - reference, dec.c)) * u).sum(axis=1)
        seen = {c.expression for c in pool}
        return [c for c in force_candidates(engine, S, -radial_work, dec.radial, dec.perpendicular, scalars, s,
                                            context) if c.expression not in seen]

    with_potential = s.potential and inp.work is not None
    if s.choice == "data":
        data = inp.data
        if data is None:
            raise ValueError("symbolic.choice 'data' needs the data set (--data)")
        divide = mass_power(pool, scalars, dim, data, s.data_tolerance)
        calibrated = [c for c in (calibrate_radial(c, scalars, dim, data, divide) for c in pool) if c is not None]
        if needed(DATA, s.data_search and bool(s.exhaustive), calibrated):
            seen = {(c.expression, divide) for c in pool}
            extra = [(c, own) for c, own in data_candidates(tried, scalars, dim, data, s, S[keep], dec.radial[keep])
                     if (c.expression, own) not in seen]
            calibrated += [c for c in (calibrate_radial(c, scalars, dim, data, own) for c, own in extra)
                           if c is not None]
        if needed(POTENTIAL, with_potential, calibrated):
            calibrated += [c for c in (calibrate_radial(c, scalars, dim, data, divide) for c in potentials())
                           if c is not None]
        front = pareto(calibrated, by="data")
        front = pareto(front + data_eliminations(front, scalars, dim, data, support=S), by="data")
    else:
        if needed(POTENTIAL, with_potential, None):
            pool += potentials()
        front = pareto(pool, by="message")
    if not front:
        raise RuntimeError(f"{s.engine} returned no usable expression for the radial law")
    pick, why = chosen(front, s, noise_floor(inp.data["train"], inp.data["held_out"]) if s.choice == "data" else 0.0)
    comps = []
    for k, c in enumerate(inp.components):
        members = []
        for member in front:
            g = evaluate(member.expression, scalars, S[keep])
            a, b, mse = central.refit_component(g, dx[keep], msgs[keep, k])
            text = central.component_text(member.expression, a, b, spatial, inp.softening)
            members.append(Candidate(member.complexity, to_sympy_string(text, names), loss=mse))
        comps.append({"component": int(c), "pareto": [describe(m) for m in members],
                      "chosen": {**describe(members[front.index(pick)]), "reason": why}})
    radial = {"alignment": dec.alignment, "C": dec.C.tolist(), "c": dec.c.tolist(),
              "variables": scalars, "separable": tried, "pareto": [describe(m) for m in front],
              "chosen": {**describe(pick), "reason": why}}
    return comps, radial
