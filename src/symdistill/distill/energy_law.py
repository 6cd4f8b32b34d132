"""An energy model's law (the Hamiltonian variant): the pair potential U(r, m1, m2, q1, q2)
searched on its pair energies, calibrated on the data through its force and chosen from one
front; the force components -dU/dr dx_k / |dx| of every member are the model's components."""

from __future__ import annotations

import sympy as sp

from symdistill.core.expr import parse_expression
from symdistill.distill import calibrate, central
from symdistill.distill.calibrate import noise_floor
from symdistill.distill.calibrated import calibrate_potential, potential_eliminations
from symdistill.distill.candidates import Candidate, describe, pareto
from symdistill.distill.choice import chosen
from symdistill.distill.engines import SearchContext, to_sympy_string
from symdistill.distill.inputs import LawInputs
from symdistill.distill.routes import DATA, needed
from symdistill.distill.routes.data import data_candidates
from symdistill.distill.routes.potential import potential_pool
from symdistill.distill.settings import SRSettings


def potential_components(engine, inp: LawInputs, s: SRSettings) -> tuple[list[dict], dict]:
    """The pair potential of an energy model: a search for U on its pair energies E(r) - E(r_ref)
    (``potential_pool``: the radial search, no part across dx, so no noise floor, and always the
    separable search, each g_k in r alone, where the reference's offset phi(m, q) g(r_ref) costs
    nothing), each member without its terms free of r. With ``choice: data`` every member is
    calibrated on the data through its force (``calibrate_potential``), each term is also
    searched as a short potential on the data where no member is exact (the data route,
    ``s.data_search``), and every member's terms are eliminated on the data, as for a force."""
    dim, names = inp.dim, inp.names
    spatial, scalars = central.spatial_names(names, dim), central.scalar_names(names, dim)
    context = SearchContext(model=inp.model, softening=inp.softening)
    pool, tried = potential_pool(engine, inp.X[:, dim:], inp.values, scalars, s, context, True)
    if s.choice == "data":
        data = inp.data
        if data is None:
            raise ValueError("symbolic.choice 'data' needs the data set (--data)")
        calibrated = [c for c in (calibrate_potential(c, scalars, dim, data) for c in pool) if c is not None]
        if needed(DATA, s.data_search and bool(s.exhaustive), calibrated):
            found = [Candidate(c.complexity, c.potential, origin=c.origin)
                     for c, _ in data_candidates(tried, scalars, dim, data, s, potentials=True)]
            calibrated += [c for c in (calibrate_potential(c, scalars, dim, data) for c in found) if c is not None]
        front = pareto(calibrated, by="data")
        front = pareto(front + potential_eliminations(front, scalars, dim, data, inp.X[:, dim:]), by="data")
    else:
        front = pareto(pool, by="message")
    if not front:
        raise RuntimeError(f"{s.engine} returned no usable expression for the pair potential")
    pick, why = chosen(front, s, noise_floor(inp.data["train"], inp.data["held_out"]) if s.choice == "data" else 0.0)
    dist = sp.Symbol("r", real=True) - sp.Float(inp.softening)
    comps = []
    for k, x in enumerate(spatial):
        members = []
        for member in front:
            force = calibrate.potential_force(parse_expression(member.expression, scalars))
            members.append(Candidate(member.complexity, to_sympy_string(str(force * sp.Symbol(x, real=True) / dist), names),
                                     loss=member.loss))
        comps.append({"component": k, "pareto": [describe(m) for m in members],
                      "chosen": {**describe(members[front.index(pick)]), "reason": why}})
    potential = {"variables": scalars, "separable": tried, "pareto": [describe(m) for m in front],
                 "chosen": {**describe(pick), "reason": why}}
    return comps, potential
