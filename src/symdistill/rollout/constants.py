"""What a recovered law says about observed data: its constant and the bodies' masses.

The symbolic model (symdistill.distill.model.SymbolicModel: the chosen message laws through a
linear read-out fitted to the GNN) is a law with numbers in it. ``law_constant`` compares its
pairwise term with the data set's reference law (unit constant), which gives G for Newton's law;
``learned_masses`` frees one log-mass per body and fits the symbolic model to the observed
accelerations, as Lemos et al. 2022 learned masses in their network, so the masses come from
the recovered law and the observations alone.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import least_squares as nonlinear_least_squares

from symdistill.core.edges import pair_forces
from symdistill.core.fit import r_squared
from symdistill.core.frames import phi_average, read_targets, split_nodes
from symdistill.core.laws import Law
from symdistill.core.provenance import DATA_SET
from symdistill.distill.model import SymbolicModel


def _test_nodes(data_path, graphs: int, dim: int):
    """Positions, velocities, charges, masses and observed accelerations of the test frames."""
    x, y, average = read_targets(data_path, "test", graphs)
    return (*split_nodes(x, dim), y, average)


def law_constant(sym: SymbolicModel, law: Law, data_path, graphs: int = 2000) -> dict:
    """The recovered law's constant in the data's units (G for Newton's): the symbolic model's
    pairwise term (its expressions through the read-out W, v) regressed on the reference law's
    (the data set's potential, whose constant is 1) over the test edges, with the R^2 of that
    proportionality; ``refit`` is the same after the symbolic model's scale is refitted to the
    observed accelerations, and ``published`` the data set's ``reference_constant`` if it has one."""
    d = sym.dim
    if not law.has_reference:  # a trajectory without a reference law: no constant to read
        nan = float("nan")
        return {"estimate": nan, "r2": nan, "refit": nan, "published": nan, "estimate_relative_error": nan,
                "refit_relative_error": nan}
    pos, vel, q, m, y, average = _test_nodes(data_path, graphs, d)
    phi, cols, pairs = sym.messages(pos, m, q)
    model = pairs.real(phi @ sym.W.T + sym.v)
    feats = pairs.real(np.stack(cols, axis=-1))
    reference = pair_forces(law, feats, d)
    if not sym.divide_by_mass:  # the model's terms are accelerations: the force over the receiver's mass
        reference = reference / feats[:, d + 1 : d + 2]
    ok = np.isfinite(model).all(axis=1) & np.isfinite(reference).all(axis=1)
    k = float((model[ok] * reference[ok]).sum() / (reference[ok] ** 2).sum())
    r2 = r_squared(model[ok], model[ok] - k * reference[ok])
    pred = phi_average(sym.accelerations(pos, vel, m, q), average)
    good = np.isfinite(pred).all(axis=-1)
    scale = float((pred[good] * y[good]).sum() / (pred[good] ** 2).sum())
    with DATA_SET.open(data_path) as f:
        published = float(f.attrs.get("reference_constant", np.nan))
    out = {"estimate": k, "r2": float(r2), "refit": k * scale, "published": published}
    out.update({f"{key}_relative_error": out[key] / published - 1 for key in ("estimate", "refit")})
    return out


def learned_masses(sym: SymbolicModel, data_path, graphs: int = 2000) -> dict:
    """One free log-mass per body (node index), fitted so the symbolic model reproduces the
    observed accelerations of the test frames, each body's residual divided by its RMS
    acceleration (Lemos et al.'s normalised loss: the Sun's small reflex motion counts as much
    as Mercury's large one). The model's read-out W and per-edge constant v stay as calibrated
    on the data (refitting v with the masses, as the fit to the GNN once needed, lets the
    optimiser stop at its first step on the ~1e-11 offsets of a calibrated model). Starts from
    equal masses of 1; the data's own masses are used only to report the ratio. Returns the
    bodies, learned and published masses, and the fit's R^2."""
    pos, vel, q, m, y, average = _test_nodes(data_path, graphs, sym.dim)
    if average is not None:
        raise ValueError(f"{data_path}: learned masses need per-frame accelerations, not weak-form targets")
    n = m.shape[1]
    scale = np.sqrt((y**2).sum(-1).mean(0))[None, :, None]  # per body

    def residual(p):
        masses = np.broadcast_to(np.exp(p), m.shape)
        with np.errstate(all="ignore"):
            a = sym.accelerations(pos, vel, masses, q)
        return np.nan_to_num((a - y) / scale, nan=1e6, posinf=1e6, neginf=-1e6).ravel()

    fit = nonlinear_least_squares(residual, np.zeros(n), method="trf")
    learned = np.exp(fit.x)
    with DATA_SET.open(data_path) as f:
        bodies = [str(b) for b in f.attrs.get("bodies", [str(k) for k in range(m.shape[1])])]
    r2 = 1 - float((fit.fun**2).sum()) / float((((y - y.mean(0)) / scale) ** 2).sum())
    return {"bodies": bodies, "learned": learned.tolist(), "published": m[0].tolist(), "r2": r2,
            "converged": bool(fit.success), "message": str(fit.message)}
