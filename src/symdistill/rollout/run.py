"""Use the recovered laws: integrate trajectories with a trained GNN and with its distilled
symbolic model, beside the true simulator, in and out of the training distribution.

The symbolic model (symdistill.distill.model.SymbolicModel) is the chosen law calibrated on the
data set's own training accelerations (symdistill.distill.calibrate): the constants inside its
expressions, the read-out W, v and whether the node model divides by the receiver's mass are
fitted to the data, not to the network, whose close-encounter errors would otherwise set them.
The read-out fitted to the GNN's outputs is kept as a diagnostic (``gnn_readout_r2``). A wrong
law is calibrated the same way and stays wrong: only its numbers move. All three simulators
use the same adaptive integrator. An observed data set has no simulator: its truth is the
observations after its span (condition ``holdout``), and symdistill.rollout.constants reads the
law's constant and the masses from it.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, replace

import h5py
import numpy as np
import torch
from tqdm import tqdm

from symdistill.core.cli import errors, parser
from symdistill.core.edges import law_from_file, pair_potentials
from symdistill.core.fit import least_squares, r_squared
from symdistill.core.frames import node_features, phi_average, read_frames, read_geometry, read_targets, split_nodes
from symdistill.core.geometry import Geometry, Pairs
from symdistill.core.laws import Law
from symdistill.core.provenance import DATA_SET, RECOVERY, TRUTH, atomic_path, network_status, record_inputs, stamp
from symdistill.core.schema import settings_json, stage_settings
from symdistill.distill import calibrate
from symdistill.distill.calibrate import Frames, calibrate_law
from symdistill.distill.model import SymbolicModel, edge_feature_columns
from symdistill.gnn.data import GraphEdges
from symdistill.gnn.models import GraphNetwork, load_model
from symdistill.physics.integrate import integrate
from symdistill.physics.nbody import NBody
from symdistill.physics.simulate import draw_initial_states

#: Test conditions: n (None: as trained), initial position spread and log-mass standard deviation.
CONDITIONS: dict[str, dict] = {
    "test": {},  # the data set's own held-out initial states
    "n8": {"n": 8},
    "n16": {"n": 16},
    "mass_wide": {"mass_sigma": 2.0},
    "spread_wide": {"spread": 3.0},
}
PREDICTORS = ("gnn", "symbolic")
HOLDOUT = "holdout"  # the condition of an observed data set: the observations after its span
#: an MLP network whose relative test error is at least this is rolled out in float32, the
#: precision it was trained in: its rounding (~1e-7) is then under 0.1% of its own error, and its
#: matrix products take about half the time (bench/bench_rollout.py). More exact networks keep
#: float64, and so does GNN+EQL (its units are many small operations float32 does not speed up)
FLOAT32_FROM_ERROR = 1e-4


def rollout_precision(model: GraphNetwork, error: float) -> torch.dtype:
    """The precision a GNN is rolled out in, from its relative test error (``FLOAT32_FROM_ERROR``)."""
    mlp = model.variant.edge_model != "eql"
    return torch.float32 if mlp and np.isfinite(error) and error >= FLOAT32_FROM_ERROR else torch.float64


@stage_settings("rollout")
class RolloutSettings:
    """What a rollout integrates and how (defaults: the schema's ``rollout`` section)."""

    systems: int
    rtol: float
    atol: float
    conditions: list[str]
    seed: int
    fit_graphs: int
    accel_cap: float
    gnn_tol_fraction: float  # the GNN's tolerance: this times its relative test error (at least rtol)
    frames: int | None  # recorded frames (None: the data set's steps)


# --- acceleration functions: (pos [S,n,d], vel, masses [S,n], charges [S,n]) -> acc [S,n,d] ---

def gnn_accelerations(model: GraphNetwork, geometry: Geometry = Geometry(), dtype: torch.dtype = torch.float64):
    """The trained GNN as an acceleration function (evaluation mode, computing in ``dtype``,
    returning float64) on the data set's pairs (``geometry``: all, or a radius graph rebuilt
    from every state). Converts ``model`` in place."""
    model = model.to(dtype).eval()
    graphs: dict[int, GraphEdges] = {}

    @torch.no_grad()
    def acc(pos, vel, masses, charges):
        S, n, d = pos.shape
        x = torch.from_numpy(node_features(pos, vel, charges, masses)).to(dtype)
        if n not in graphs:
            graphs[n] = GraphEdges(geometry, n, d)
        edge_index, shift = graphs[n](x)
        out, _ = model(x.reshape(S * n, -1), edge_index, shift=shift)
        return out.double().numpy().reshape(S, n, d)

    return acc


def fit_to_gnn(model: GraphNetwork, expressions: list[str], data_path, graphs: int = 2000) -> SymbolicModel:
    """The read-out W, v of the symbolic model fitted to the GNN's predictions on test graphs
    (a diagnostic: how well the expressions reproduce the network; the model is ``calibrated``)."""
    x, _ = read_frames(data_path, "test", max_graphs=graphs)
    d, geometry = model.cfg.dim, read_geometry(data_path)
    pos, vel, q, m = split_nodes(x, d)
    target = gnn_accelerations(model, geometry)(pos, vel, m, q)
    divide = model.divides_by_mass
    if divide:
        target = target * m[..., None]
    soft = model.cfg.softening  # the data set's, which the model was trained with
    sym = SymbolicModel(expressions, d, np.eye(d, len(expressions)), np.zeros(d), False, softening=soft,
                        geometry=geometry)  # its messages
    summed, degree = sym.summed_messages(pos, m, q)
    design = np.column_stack([summed.reshape(-1, len(expressions)), degree.reshape(-1)])
    y = target.reshape(-1, d)
    ok = np.isfinite(design).all(axis=1)
    if ok.mean() < 0.9:  # not a usable law: NaN accelerations, which the rollout caps and flags
        print(f"warning: message expressions are not finite on {100 * (1 - ok.mean()):.0f}% of the test "
              "nodes; the symbolic model gives NaN", file=sys.stderr)
        return SymbolicModel(expressions, d, np.full((d, len(expressions)), np.nan), np.full(d, np.nan), divide,
                             softening=soft, geometry=geometry)
    coef, _, resid = least_squares(design[ok], y[ok], intercept=False)
    r2 = r_squared(y[ok], resid)
    return SymbolicModel(expressions, d, coef[:-1].T.copy(), coef[-1].copy(), divide, float(r2), soft, geometry)


def acceleration_cap(data_path, s: RolloutSettings) -> float:
    """Accelerations above ``accel_cap`` times the data's largest (first 200 simulations) are capped."""
    with DATA_SET.open(data_path) as f:
        return s.accel_cap * float(np.nanmax(np.abs(f["accelerations"][: min(200, f["accelerations"].shape[0])])))


def gnn_error(model: GraphNetwork, data_path, graphs: int) -> float:
    """The GNN's relative test error, mean |a_gnn - a| / mean |a| (evaluated in float64)."""
    x, a, average = read_targets(data_path, "test", graphs)
    pos, vel, q, m = split_nodes(x, model.cfg.dim)
    pred = phi_average(gnn_accelerations(model, read_geometry(data_path))(pos, vel, m, q), average)
    return float(np.abs(pred - a).mean()
                 / max(np.abs(a).mean(), 1e-300))


def gnn_tolerance(error: float, s: RolloutSettings) -> float:
    """The GNN's integrator tolerance: ``gnn_tol_fraction`` times its relative test error
    (``gnn_error``), never below ``rtol``. Its integration error then stays orders
    of magnitude below the model error its rollout measures, at a fraction of the steps a tight
    tolerance costs on a ReLU network's kinks; an exact network (EQL) keeps ``rtol``."""
    return float(np.clip(s.gnn_tol_fraction * error, s.rtol, 1e-3)) if np.isfinite(error) else s.rtol


def calibrated(recovery: dict, data_path, graphs: int, softening: float) -> SymbolicModel:
    """The chosen law of a recovery file calibrated on the data set's training accelerations
    (judged on its validation split); NaN read-out if the law is not finite on the data."""
    law = recovery.get("chosen_law") or {"components": [c["expression"] for c in recovery["components"]]}
    train = Frames.read(data_path, "train", graphs, softening)
    cal = calibrate_law(law, train, Frames.read(data_path, "validation", graphs, softening))
    if cal is None:
        print("warning: the chosen law is not finite on the data; the symbolic model gives NaN", file=sys.stderr)
        k = len(calibrate.law_parts(law, train.dim, softening)[0])
        return SymbolicModel(["0"] * k, train.dim, np.full((train.dim, k), np.nan), np.full(train.dim, np.nan),
                             True, softening=softening, geometry=train.geometry)
    return cal.model


# --- integration and metrics ---

def _rhs(acc_fn, n: int, dim: int, masses: np.ndarray, charges: np.ndarray, cap: float, hit: np.ndarray):
    """Integrator right-hand side for an acceleration function. Non-finite accelerations become
    0 and magnitudes are capped at ``cap`` (so a diverging law cannot stall the integrator);
    systems where that happened are flagged in ``hit``."""
    nd = n * dim

    def rhs(y, cols):
        S = y.shape[1]
        pos = y[:nd].reshape(n, dim, S).transpose(2, 0, 1)
        vel = y[nd:].reshape(n, dim, S).transpose(2, 0, 1)
        a = acc_fn(pos, vel, masses[cols], charges[cols])
        bad = ~np.isfinite(a)
        a = np.where(bad, 0.0, a)
        norm = np.linalg.norm(a, axis=-1, keepdims=True)
        over = norm > cap
        a = np.where(over, a * (cap / np.maximum(norm, 1e-300)), a)
        hit[cols[(bad | over).any(axis=(1, 2))]] = True
        return np.concatenate([y[nd:], a.transpose(1, 2, 0).reshape(nd, S)])

    return rhs


def rollout(acc_fn, init: dict, times: np.ndarray, rtol: float, atol: float, cap: float,
            law: Law | None = None):
    """Trajectories [S, T, n, d] from ``init`` under ``acc_fn`` (or, given ``law`` and no
    acc_fn, the true simulator itself), and the flags of systems whose accelerations were capped."""
    S, n, dim = init["positions"].shape
    to_cols = lambda a: a.transpose(1, 2, 0).reshape(n * dim, S)  # noqa: E731
    y0 = np.concatenate([to_cols(init["positions"]), to_cols(init["velocities"])])
    hit = np.zeros(S, dtype=bool)
    if acc_fn is None:
        rhs = NBody(law, n, dim, init["masses"].T, init["charges"].T).rhs
    else:
        rhs = _rhs(acc_fn, n, dim, init["masses"], init["charges"], cap, hit)
    traj, _ = integrate(rhs, y0, times, rtol=rtol, atol=atol)
    T = len(times)
    pos = traj[:, : n * dim].reshape(T, n, dim, S).transpose(3, 0, 1, 2)
    vel = traj[:, n * dim :].reshape(T, n, dim, S).transpose(3, 0, 1, 2)
    return pos, vel, hit


def energies(law: Law, pos, vel, masses, charges, geometry: Geometry = Geometry()) -> tuple[np.ndarray, np.ndarray]:
    """True-law total energy [S, T] of trajectories (on the data set's pairs), and each system's
    scale KE + |PE| at t = 0."""
    S, T, n, d = pos.shape
    if geometry.fully_connected:
        system = NBody(law, n, d, masses.T, charges.T)
        cols = np.repeat(np.arange(S)[None], T, 0).ravel()
        flat = lambda a: a.transpose(2, 3, 1, 0).reshape(n, d, T * S)  # noqa: E731
        e = system.energy(flat(pos), flat(vel), cols).reshape(T, S).T
    else:  # half the pair potentials of the interacting pairs, plus the kinetic energy
        p, m, q = pos.reshape(S * T, n, d), np.repeat(masses, T, 0), np.repeat(charges, T, 0)
        pairs = Pairs.build(p, geometry)
        feats = np.stack(edge_feature_columns(p, m, q, pairs, law.softening), -1)
        u = pair_potentials(law, feats.reshape(-1, feats.shape[-1]), d).reshape(S * T, -1)
        potential = 0.5 * np.where(pairs.valid, u, 0.0).sum(-1).reshape(S, T)
        e = potential + 0.5 * (masses[:, None] * (vel**2).sum(-1)).sum(-1)
    kinetic0 = 0.5 * (masses * (vel[:, 0] ** 2).sum(-1)).sum(-1)
    return e, kinetic0 + np.abs(e[:, 0] - kinetic0)


def initial_states(cond: str, law: Law, data_path, n: int, dim: int, s: RolloutSettings) -> dict:
    """Initial states of a test condition: the test split's first frames, or fresh OOD draws."""
    spec = CONDITIONS[cond]
    if cond == "test":
        with DATA_SET.open(data_path) as f:
            sims = f["split"]["test"][: s.systems]
            return {"positions": f["positions"][:, 0][sims], "velocities": f["velocities"][:, 0][sims],
                    "masses": f["masses"][:][sims], "charges": f["charges"][:][sims]}
    return draw_initial_states(law, spec.get("n", n), dim, s.systems, s.seed + 1000,
                               spread=spec.get("spread", 1.0), mass_sigma=spec.get("mass_sigma", 1.0))


def observed(data_path) -> bool:
    """Is the data set real observations (no simulator: its truth is read, not integrated)?"""
    with DATA_SET.open(data_path) as f:
        return bool(f.attrs.get("observed", False))


def trajectory(data_path) -> bool:
    """Is the data set a user's trajectory file (its truth: the test segments' recorded frames)?"""
    with DATA_SET.open(data_path) as f:
        return str(f.attrs.get("source_kind", "")) == "trajectory"


#: the rollout settings that determine the true trajectories (the others may change without
#: invalidating them)
TRUTH_FIELDS = ("systems", "conditions", "seed", "rtol", "atol", "frames")


def _truth_settings(settings: dict) -> dict:
    return {k: settings[k] for k in TRUTH_FIELDS}


def write_truth(data_path, s: RolloutSettings, out_h5, quiet: bool = False) -> None:
    """Integrate the true simulator once per data set and condition (every model of the data
    set is compared against the same trajectories): initial states and true positions, velocities.
    An observed data set has one condition instead, ``HOLDOUT``: the observations after its span."""
    unknown = [c for c in s.conditions if c not in CONDITIONS]
    if unknown:
        raise ValueError(f"unknown rollout condition(s) {unknown}; choose from {sorted(CONDITIONS)}")
    inputs = record_inputs(out_h5, data=data_path)
    law = law_from_file(data_path)
    with DATA_SET.open(data_path) as f:
        steps, n, dim = (int(v) for v in f["positions"].shape[1:])
        times = np.arange(s.frames or steps) * float(f.attrs["dt"])
    with atomic_path(out_h5) as tmp, h5py.File(tmp, "w") as h:
        stamp(h, asdict(s), data=str(data_path), law=law.name, dim=dim, n=n,
              inputs=json.dumps(inputs))
        h["times"] = times
        if observed(data_path):
            g = h.create_group(HOLDOUT)
            if trajectory(data_path):  # the test segments' own frames
                from symdistill.physics.trajectories import holdout

                init, pos, vel = holdout(data_path, s.systems, len(times))
            else:
                from symdistill.physics.ephemeris import holdout

                init, pos, vel, jd = holdout(data_path, len(times))
                g.attrs["jd"] = jd[[0, -1]]
            for key, value in init.items():
                g[f"init/{key}"] = value
            g["positions"], g["velocities"] = pos, vel
            return
        for cond in tqdm(s.conditions, desc=f"true rollouts {law.name}", disable=quiet, file=sys.stderr):
            init = initial_states(cond, law, data_path, n, dim, s)
            pos, vel, _ = rollout(None, init, times, s.rtol, s.atol, np.inf, law)
            g = h.create_group(cond)
            for key, value in init.items():
                g[f"init/{key}"] = value
            g["positions"], g["velocities"] = pos, vel


def read_truth(truth_h5, s: RolloutSettings) -> tuple[np.ndarray, dict, dict]:
    """Times, per condition (initial states, true positions, true velocities) written by
    ``write_truth`` with the same ``TRUTH_FIELDS`` (others are an error naming the file), and
    the dates of observed truth (``holdout_jd``, if any)."""
    with TRUTH.open(truth_h5) as h:
        wanted = _truth_settings(json.loads(json.dumps(asdict(s), default=str)))
        if _truth_settings(json.loads(h.attrs["settings"])) != wanted:
            raise ValueError(f"{truth_h5} was written with other rollout settings ({', '.join(TRUTH_FIELDS)}); "
                             "rerun its rule")
        conditions = [HOLDOUT] if HOLDOUT in h else s.conditions
        out = {c: ({k: v[:] for k, v in h[c]["init"].items()}, h[c]["positions"][:], h[c]["velocities"][:])
               for c in conditions}
        dates = {"holdout_jd": h[HOLDOUT].attrs["jd"][:]} if HOLDOUT in h and "jd" in h[HOLDOUT].attrs else {}
        return h["times"][:], out, dates


def _not_rolled_out(true_pos: np.ndarray, true_vel: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The trajectory of a predictor that is not rolled out: NaN everywhere, never capped."""
    return np.full_like(true_pos, np.nan), np.full_like(true_vel, np.nan), np.zeros(len(true_pos), dtype=bool)


def evaluate(model_path, recovery_path, data_path, truth_path, s: RolloutSettings, out_h5,
             quiet: bool = False) -> list[dict]:
    """Roll out the GNN and its symbolic model under every condition against the true
    trajectories of ``truth_path``; write curves and example trajectories to ``out_h5`` and
    return one table row per predictor and condition."""
    inputs = record_inputs(out_h5, model=model_path, recovery=recovery_path, data=data_path, truth=truth_path)
    model = load_model(model_path)
    rec = RECOVERY.read(recovery_path)
    law = law_from_file(data_path)
    exprs = [c["expression"] for c in rec["components"]]
    sym = calibrated(rec, data_path, s.fit_graphs, model.cfg.softening)
    gnn_readout = fit_to_gnn(model, exprs, data_path, s.fit_graphs).node_r2
    error = gnn_error(model, data_path, s.fit_graphs)
    tol = {"gnn": gnn_tolerance(error, s), "symbolic": s.rtol}
    precision = rollout_precision(model, error)
    times, truth, dates = read_truth(truth_path, s)
    constant, masses = {}, {}
    if observed(data_path):  # what the recovered law says about the observations
        from symdistill.rollout.constants import law_constant, learned_masses  # it builds on this module

        constant = law_constant(sym, law, data_path, s.fit_graphs)
        masses = {} if trajectory(data_path) else learned_masses(sym, data_path, s.fit_graphs)  # bodies, not atoms
        if np.isfinite(constant["published"]):  # energies need the constant the reference leaves out
            law = replace(law, potential=law.potential * constant["published"])
    with DATA_SET.open(data_path) as f:
        n, dim = f["positions"].shape[2:]
    cap = acceleration_cap(data_path, s)
    predictors = {"gnn": gnn_accelerations(model, read_geometry(data_path), precision), "symbolic": sym.accelerations}
    if network_status(model_path)["learned"] is False:  # a failed network is no model: no trajectory of it
        print(f"{model_path}: the network learned nothing (metrics.json); it is not rolled out", file=sys.stderr)
        del predictors["gnn"]
    rows = []
    bar = tqdm(total=len(truth) * len(predictors), desc=f"rollout {law.name} {model.cfg.variant}",
               disable=quiet, file=sys.stderr)
    with atomic_path(out_h5) as tmp, h5py.File(tmp, "w") as h:
        stamp(h, asdict(s), model=str(model_path), recovery=str(recovery_path), data=str(data_path),
              truth=str(truth_path), law=law.name, variant=model.cfg.variant, engine=rec["engine"],
              dim=int(dim), n=int(n), expressions=json.dumps(exprs), W=sym.W, v=sym.v,
              node_r2=sym.node_r2, gnn_readout_r2=gnn_readout, divide_by_mass=sym.divide_by_mass,
              symbolic_model=json.dumps(sym.describe()), constant=json.dumps(constant),
              masses=json.dumps(masses), gnn_rtol=tol["gnn"], gnn_relative_error=error,
              gnn_precision=str(precision).removeprefix("torch."),
              **dates,
              inputs=json.dumps(inputs))
        h["times"] = times
        for cond in truth:
            init, true_pos, true_vel = truth[cond]
            traj = {}
            for name, fn in predictors.items():
                traj[name] = rollout(fn, init, times, tol[name], s.atol * tol[name] / s.rtol, cap)  # atol moves with rtol
                bar.update()
            geometry = read_geometry(data_path)
            e_true, scale = energies(law, true_pos, true_vel, init["masses"], init["charges"], geometry)
            g = h.create_group(cond)
            g["true_positions_example"] = true_pos[0]
            g.attrs["n"] = init["positions"].shape[1]
            for name in PREDICTORS:
                pos, vel, hit = traj[name] if name in traj else _not_rolled_out(true_pos, true_vel)
                err = np.sqrt(((pos - true_pos) ** 2).mean(axis=(2, 3)))  # [S, T]
                err = np.where(np.isfinite(err), err, np.inf)
                e, _ = energies(law, pos, vel, init["masses"], init["charges"], geometry)
                drift = np.abs(e[:, -1] - e[:, 0]) / scale
                g[f"{name}/rmse_median"] = np.median(err, axis=0)
                g[f"{name}/rmse_q25"] = np.quantile(err, 0.25, axis=0)
                g[f"{name}/rmse_q75"] = np.quantile(err, 0.75, axis=0)
                g[f"{name}/positions_example"] = pos[0]
                T = len(times)
                rows.append({
                    "sim": law.name, "dim": int(dim), "n_train": int(n), "variant": model.cfg.variant,
                    "seed": int(model.meta.get("train_settings", {}).get("seed", 0)), "engine": rec["engine"],
                    "predictor": name, "condition": cond, "n": int(init["positions"].shape[1]),
                    "systems": int(len(err)), "verdicts": "/".join(c.get("verdict", "?") for c in rec["components"]),
                    "node_r2": sym.node_r2 if name == "symbolic" else float("nan"),
                    "gnn_readout_r2": gnn_readout if name == "symbolic" else float("nan"),
                    "rmse_10pct": float(np.median(err[:, max(1, T // 10)])),
                    "rmse_50pct": float(np.median(err[:, T // 2])),
                    "rmse_final": float(np.median(err[:, -1])),
                    "energy_drift": float(np.median(drift)),
                    "true_energy_drift": float(np.median(np.abs(e_true[:, -1] - e_true[:, 0]) / scale)),
                    "capped_fraction": float(hit.mean()),
                })
        h.attrs["rows"] = json.dumps(rows)
    bar.close()
    return rows


def main(argv: list[str] | None = None) -> None:
    p = parser("symdistill-rollout", __doc__)
    sub = p.add_subparsers(dest="command", required=True)
    tr = sub.add_parser("truth", help="integrate the true simulator once per data set and condition")
    ev = sub.add_parser("models", help="roll out a GNN and its symbolic model against the true trajectories")
    ev.add_argument("--model", required=True, help="best.pt of a trained GNN")
    ev.add_argument("--recovery", required=True, help="recovery_<engine>.json: the chosen expressions")
    ev.add_argument("--truth", required=True, help="true trajectories written by `symdistill-rollout truth`")
    for q in (tr, ev):
        q.add_argument("--data", required=True, help="the data set (the model's training data)")
        q.add_argument("--settings", default="{}", help="JSON object of RolloutSettings fields (schema section 'rollout')")
        q.add_argument("--threads", type=int, default=1, help="torch threads")
        q.add_argument("--out", required=True, help="output HDF5")
        q.add_argument("--quiet", action="store_true", help="no progress bar")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    with errors("symdistill-rollout", a.debug):
        extra = settings_json(a.settings, "rollout", RolloutSettings)
        s = RolloutSettings(**extra)
        if a.command == "truth":
            write_truth(a.data, s, a.out, a.quiet)
        else:
            evaluate(a.model, a.recovery, a.data, a.truth, s, a.out, a.quiet)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
