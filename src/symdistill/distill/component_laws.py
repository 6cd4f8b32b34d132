"""A law per message component (``symbolic.structure: none``, and every GNN+EQL model, whose
law is read out of its EQL edge network): one front per component, each chosen by the message
score and then, with ``choice: data``, each in turn on the data."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from symdistill.distill.calibrate import noise_floor
from symdistill.distill.calibrated import calibrate_components
from symdistill.distill.candidates import describe, pareto
from symdistill.distill.choice import choose
from symdistill.distill.engines import SearchContext
from symdistill.distill.inputs import LawInputs
from symdistill.distill.readout import READOUT, read_out
from symdistill.distill.search import refined_front, search_front, trimmed
from symdistill.distill.settings import SRSettings


def component_front(engine, inp: LawInputs, k: int, s: SRSettings) -> list:
    """The front of message component ``k`` (by its search loss): the EQL read-out refined, or a
    search on the component's values (trimmed to their central ``s.trim`` fraction)."""
    y = inp.values[:, k]
    keep = trimmed(y, s.trim)
    context = SearchContext(component=int(inp.components[k]), model=inp.model, softening=inp.softening)
    if s.engine == READOUT:
        X, y = inp.X[keep], y[keep]
        return refined_front(read_out(X, y, inp.names, s, context), X, y, inp.names, s)
    return search_front(engine, inp.X[keep], y[keep], inp.names, s, context)


def component_laws(engine, inp: LawInputs, s: SRSettings) -> list[dict]:
    """Every selected component's front and chosen law. With ``choice: data`` each component's
    members are calibrated on the data together with the others' current choices (one pass of
    coordinate descent) and chosen on the data; the chosen set, calibrated together, is the
    symbolic model (``comps[0]["calibration"]``)."""
    fronts = []
    for k, c in enumerate(inp.components):
        front = component_front(engine, inp, k, s)
        if not front:
            raise RuntimeError(f"{s.engine} returned no usable expression for component {c}")
        fronts.append(front)
    # each component by the message score; with choice: data, then each in turn by the data
    # with the others held at their current choice (one pass of coordinate descent)
    rule = "score" if s.choice == "data" else s.choice
    picks, whys = (list(x) for x in zip(*(choose(front, rule, s.loss_tolerance) for front in fronts)))
    data = inp.data
    if s.choice == "data":
        if data is None:
            raise ValueError("symbolic.choice 'data' needs the data set (--data)")
        for k, front in enumerate(fronts):
            calibrated = []
            for member in front:
                texts = [m.expression for m in picks[:k]] + [member.expression] + [m.expression for m in picks[k + 1 :]]
                cal = calibrate_components(texts, inp.names, inp.dim, data)
                if cal is not None and np.isfinite(cal.loss):
                    calibrated.append(replace(member, data_loss=cal.loss, message_loss=member.search_loss,
                                              node_losses=cal.node_losses,
                                              calibration={"data_r2": cal.r2, "model": cal.model.describe()}))
            if calibrated:
                fronts[k] = pareto(calibrated, by="data")
                picks[k], whys[k] = choose(fronts[k], "data", s.data_tolerance,
                                           noise_floor(data["train"], data["held_out"]))
    comps = [{"component": int(c), "pareto": [describe(x) for x in front],
              "chosen": {**describe(pick), "reason": why}}
             for c, front, pick, why in zip(inp.components, fronts, picks, whys)]
    if data is not None:  # the chosen set, calibrated together (the symbolic model of this law)
        cal = calibrate_components([p.expression for p in picks], inp.names, inp.dim, data)
        if cal is not None:
            comps[0]["calibration"] = {**cal.summary(), "divide_by_mass": cal.model.divide_by_mass}
    return comps
