"""Candidates calibrated on the data (the data choice's inputs): each law becomes a simulator
whose constants, read-out and mass power are fitted to the data set's training accelerations
(``symdistill.distill.calibrate``) and scored by its held-out loss; the read-out family of a
model; and each law's terms eliminated on the data."""

from __future__ import annotations

import numpy as np
import sympy as sp

from symdistill.core.edges import spatial_columns
from symdistill.core.expr import ExpressionError, parse_expression
from symdistill.distill import calibrate, simplify
from symdistill.distill.candidates import Candidate
from symdistill.distill.choice import EXACT
from symdistill.distill.engines import to_sympy_string
from symdistill.distill.routes.potential import force_free_terms_dropped
from symdistill.distill.search import with_potential
from symdistill.distill.settings import SRSettings


def calibration_data(data_path, s: SRSettings, softening: float) -> dict:
    """The frames a candidate law is calibrated on (training split) and judged on (validation)."""
    return {"train": calibrate.Frames.read(data_path, "train", s.calibration_graphs, softening),
            "held_out": calibrate.Frames.read(data_path, "validation", s.calibration_graphs, softening)}


def _summary(cal: calibrate.Calibration, dim: int, divide: bool) -> tuple[float, dict]:
    """The read-out's scale beta = trace(B) / d and the calibration's summary for the sr file."""
    B = cal.model.W
    beta = float(np.trace(B) / dim)
    return beta, {"data_r2": cal.r2, "data_median_relative_error": cal.median_relative_error,
                  "divide_by_mass": divide,
                  "anisotropy": float(np.linalg.norm(B - beta * np.eye(dim)) / max(np.linalg.norm(B), 1e-300)),
                  "model": cal.model.describe()}


def calibrated_potential(potential: str, constants: np.ndarray, beta: float, names: list[str]) -> sp.Expr:
    """beta U for a potential calibrated on the data: U's fitted constants (tied as U has them,
    ``calibrate.potential_constants``) and the read-out's scale beta written in, terms free of r
    dropped."""
    template, params, theta, seen = calibrate.potential_constants(potential, names)
    theta[seen] = constants
    written = template.xreplace(dict(zip(params, map(calibrate.rounded, theta))))
    return force_free_terms_dropped(calibrate.rounded(beta) * written)


def calibrate_radial(c: Candidate, names: list[str], dim: int, data: dict,
                     divide: bool | None = None) -> Candidate | None:
    """A radial law calibrated on the data (``calibrate.calibrate_law``): its constants, the
    read-out B (force = g B dx/|dx|) and (unless ``divide`` fixes it) the mass power fitted to
    the training accelerations. Returned as the physical radial law beta g (beta = trace(B) / d)
    with the held-out loss; a law that carries its potential U is calibrated as U."""
    law_text = {"potential": c.potential} if c.potential else {"radial": c.expression}
    cal = calibrate.calibrate_law(law_text, data["train"], data["held_out"], divide)
    if cal is None or not np.isfinite(cal.loss):
        return None
    beta, summary = _summary(cal, dim, cal.model.divide_by_mass)
    if c.potential:  # the force of the calibrated potential, its constants tied as U has them
        u_cal = calibrated_potential(c.potential, cal.constants, beta, names)
        try:
            law = to_sympy_string(str(calibrate.potential_force(u_cal)), names)
            potential = to_sympy_string(str(simplify.integral_exponents(u_cal)), names)
        except ExpressionError:  # the calibration moved an exponent beyond the grammar's limit
            return None
        complexity = min(simplify.complexity(parse_expression(law, names)),
                         simplify.complexity(parse_expression(potential, names)) + 1)
        return Candidate(complexity, law, message_loss=c.message_loss, data_loss=cal.loss,
                         node_losses=cal.node_losses, origin=c.origin, potential=potential, calibration=summary)
    template, params, _ = calibrate.free_constants(parse_expression(c.expression, names))
    g_cal = template.xreplace({p: calibrate.rounded(t) for p, t in zip(params, cal.constants)})
    try:
        law = to_sympy_string(str(calibrate.rounded(beta) * g_cal), names) if beta else str(g_cal)
    except ExpressionError:  # the calibration moved an exponent beyond the grammar's limit
        return None
    return Candidate(simplify.complexity(parse_expression(law, names)), law, message_loss=c.message_loss,
                     data_loss=cal.loss, node_losses=cal.node_losses, origin=c.origin, calibration=summary)


def calibrate_potential(c: Candidate, names: list[str], dim: int, data: dict) -> Candidate | None:
    """A pair potential (``c.expression`` is U) calibrated on the data: its force -dU/dr dx/|dx|
    with U's constants and the read-out B fitted to the training accelerations over the
    receiver's mass (``calibrate.calibrate_law``); returned as the physical potential beta U
    (beta = trace(B) / d, terms free of r dropped) with the held-out loss."""
    cal = calibrate.calibrate_law({"potential": c.expression}, data["train"], data["held_out"])
    if cal is None or not np.isfinite(cal.loss):
        return None
    beta, summary = _summary(cal, dim, True)
    law = to_sympy_string(str(simplify.integral_exponents(
        calibrated_potential(c.expression, cal.constants, beta, names))), names)
    return Candidate(simplify.complexity(parse_expression(law, names)), law, message_loss=c.message_loss,
                     data_loss=cal.loss, node_losses=cal.node_losses, origin=c.origin, calibration=summary)


def calibrate_components(texts: list[str], names: list[str], dim: int, data: dict) -> calibrate.Calibration | None:
    """Per-component laws calibrated together on the data (shared read-out; each keeps its constants)."""
    return calibrate.calibrate_law({"components": texts}, data["train"], data["held_out"])


def mass_power(pool: list[Candidate], names: list[str], dim: int, data: dict, tolerance: float) -> bool:
    """The read-out family of the model (is the acceleration the summed forces over the
    receiver's mass, or the summed terms themselves?), from the data: of the eight laws that fit
    the messages best, that of the one whose read-out alone (its own constants kept) fits the
    held-out data best; among laws that fit it equally well (a force law g with division and
    g / m1 without are the same physics), that of the one that fits the messages best."""
    fits = []
    for c in sorted(pool, key=lambda c: c.message_loss)[:8]:  # the laws that fit the messages best
        cal = calibrate.calibrate_law({"radial": c.expression}, data["train"], data["held_out"], fit_constants=False)
        if cal is not None and np.isfinite(cal.loss):
            fits.append((c, cal))
    if not fits:
        return True
    lowest = min(cal.loss for _, cal in fits)
    floor = calibrate.noise_floor(data["train"], data["held_out"])
    tied = [(c, cal) for c, cal in fits if cal.loss - floor <= tolerance * max(lowest - floor, 0.0) + EXACT]
    return bool(min(tied, key=lambda t: t[0].message_loss)[1].model.divide_by_mass)


def data_eliminations(front: list[Candidate], names: list[str], dim: int, data: dict,
                      divide: bool | None = None, support: np.ndarray | None = None) -> list[Candidate]:
    """Each calibrated member's backward eliminations on the data (``calibrate.eliminations``:
    terms dropped while the training fit misses them least), each calibrated again. A term the
    network's errors put into a law, and the data does not need, goes. A law found as a
    potential U loses terms of U (each term's force -dU_k/dr in the fit) and stays a potential.
    Each result is reduced on the data's ``support`` (samples of the ``names`` variables;
    ``simplify.on_support``: a variable with one value everywhere is that value). Each member
    keeps its read-out family (its calibration's ``divide_by_mass``) unless ``divide`` fixes one."""
    out: dict[str, Candidate] = {}
    spatial = [sp.Symbol(n, real=True) for n in spatial_columns(dim)]
    r = sp.Symbol("r", real=True)
    dist = r - sp.Float(data["train"].softening)
    symbols = [sp.Symbol(n, real=True) for n in names]
    seen = {c.expression for c in front}
    for c in front:
        terms = sp.Add.make_args(sp.expand(parse_expression(c.potential or c.expression, names)))
        if not 2 <= len(terms) <= simplify.MAX_TERMS:
            continue
        forces = [-sp.diff(t, r) for t in terms] if c.potential else list(terms)
        own = (c.calibration or {}).get("divide_by_mass", True) if divide is None else divide
        chain = calibrate.eliminations(forces, [x / dist for x in spatial], data["train"], own)
        for step, (keep, beta) in enumerate(chain):
            kept = sp.Add(*[calibrate.rounded(b) * terms[i] for i, b in zip(keep, beta)])
            reduced = kept if support is None else simplify.on_support(kept, symbols, support)
            if step == 0 and reduced == kept:  # all terms kept and nothing reduced: the member itself
                continue
            kept = reduced
            u = to_sympy_string(str(kept), names) if c.potential else None
            text = to_sympy_string(str(calibrate.potential_force(kept) if c.potential else kept), names)
            if text in seen:
                continue
            seen.add(text)
            cal = calibrate_radial(Candidate(0, text, origin=f"{c.origin}, data elimination", potential=u),
                                   names, dim, data, own)
            if cal is not None:
                out[cal.expression] = cal
    return list(out.values())


def potential_eliminations(front: list[Candidate], names: list[str], dim: int, data: dict,
                           support: np.ndarray) -> list[Candidate]:
    """Each calibrated potential's backward eliminations on the data (``data_eliminations`` of
    its force, U carried; Hamilton's read-out a = F / m_i), as calibrated potentials."""
    as_forces = []
    for c in front:
        try:
            u = parse_expression(c.expression, names)
            as_forces.append(with_potential(calibrate.potential_force(u), u, names, origin=c.origin))
        except ExpressionError:
            continue
    return [Candidate(simplify.complexity(parse_expression(c.potential, names)), c.potential,
                      message_loss=c.message_loss, data_loss=c.data_loss, node_losses=c.node_losses,
                      origin=c.origin, calibration=c.calibration)
            for c in data_eliminations(as_forces, names, dim, data, divide=True, support=support)]
