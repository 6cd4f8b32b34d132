"""Simulate n-body data sets: published initial conditions, adaptive float64 integration, HDF5 out.

Systems are integrated in fixed-size blocks (optionally on several processes); each finished
block is written to a ``.partial`` file at once, so an interrupted run resumes where it stopped
and the result never depends on how many workers were used.
"""

from __future__ import annotations

import os
import sys
import zlib
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, field
from pathlib import Path

import h5py
import numpy as np
from tqdm import tqdm

from symdistill.core.cli import errors, parser
from symdistill.core.config import derivatives_problem
from symdistill.core.laws import Law, get_law
from symdistill.core.provenance import config_hash, stamp
from symdistill.core.schema import stage_settings
from symdistill.physics.derivatives import differentiate, noise_gain
from symdistill.physics.integrate import integrate
from symdistill.physics.weak import filters, settle_window
from symdistill.physics.weak import targets as weak_targets
from symdistill.core.frames import split_indices, split_sizes
from symdistill.physics.nbody import NBody


@stage_settings("simulate", shaped_elsewhere=("dt",))
class SimSettings:
    """Everything that determines a data set (and so its config hash); defaults from the
    schema's ``simulate`` section."""

    law: str
    n: int
    dim: int
    n_sims: int
    steps: int
    rtol: float
    atol: float
    seed: int
    validation: float
    test: float
    block: int
    derivatives: str
    derivative_window: int
    position_noise: float
    weak_window: int | None
    weak_power: int
    weak_tolerance: float
    dt: float | None = None  # this law's step (None: the law's default); the schema maps law -> dt
    custom_laws: dict = field(default_factory=dict)  # the law's definition, if it is not built in

    def __post_init__(self):
        if (problem := derivatives_problem(asdict(self))) is not None:
            raise ValueError(problem.removeprefix("config key "))

    @property
    def margin(self) -> int:
        """Frames integrated beyond ``steps`` at each end for the finite differences (then dropped)."""
        return (self.derivative_window - 1) // 2 if self.derivatives != "exact" else 0

    def hashed(self) -> dict:
        """The fields that determine the data set: the weak keys only for weak-form data."""
        out = asdict(self)
        if self.derivatives != "weak":
            for key in ("weak_window", "weak_power", "weak_tolerance"):
                out.pop(key)
        return out

    def resolve_law(self) -> Law:
        return get_law(self.law, self.custom_laws)

    @property
    def step(self) -> float:
        return float(self.dt) if self.dt is not None else self.resolve_law().dt


#: systems whose positions choose the weak window (the first ones: the same for any block size)
WEAK_PROBE = 100


def initial_conditions(s: SimSettings) -> dict[str, np.ndarray]:
    """Published initial state: every entry N(0,1), mass = exp(N(0,1)), charge +-1 for charge laws.

    Returns positions, velocities [S, n, dim], masses, charges [S, n]. The generator is seeded
    from (seed, law, n, dim) so each data set has its own reproducible stream.
    """
    return draw_initial_states(s.resolve_law(), s.n, s.dim, s.n_sims, s.seed)


def draw_initial_states(law: Law, n: int, dim: int, count: int, seed: int, *, spread: float = 1.0,
                        mass_sigma: float = 1.0) -> dict[str, np.ndarray]:
    """``count`` initial states of the published distribution, optionally widened for
    out-of-distribution tests: positions N(0, spread^2), masses exp(N(0, mass_sigma^2))."""
    rng = np.random.default_rng([seed, zlib.crc32(law.name.encode()), n, dim])
    x = rng.standard_normal((count, n, 2 * dim + 2))
    charges = np.sign(x[..., -2]) if law.signed_charges else x[..., -2]
    return {
        "positions": spread * x[..., :dim],
        "velocities": x[..., dim : 2 * dim],
        "masses": np.exp(mass_sigma * x[..., -1]),
        "charges": np.where(charges == 0, 1.0, charges) if law.signed_charges else charges,
    }


def simulate_block(s: SimSettings, init: dict[str, np.ndarray], first: int = 0) -> dict[str, np.ndarray]:
    """Integrate one block of systems (global indices from ``first``); returns arrays shaped
    [S, steps, n, dim] plus energies. With ``derivatives: differences`` (or ``weak``) the recorded
    positions (plus ``position_noise``) are all that the velocities and accelerations (or the weak
    targets, written by ``weak_pass`` once every block is in) are made from."""
    law = s.resolve_law()
    n, d, S = s.n, s.dim, init["masses"].shape[0]
    system = NBody(law, n, d, init["masses"].T, init["charges"].T)
    to_cols = lambda a: a.transpose(1, 2, 0).reshape(n * d, S)  # noqa: E731  [S,n,d] -> [nd,S]
    y0 = np.concatenate([to_cols(init["positions"]), to_cols(init["velocities"])])
    times = np.arange(s.steps + 2 * s.margin) * s.step
    traj, steps = integrate(system.rhs, y0, times, rtol=s.rtol, atol=s.atol)
    T = len(times)
    pos = traj[:, : n * d].reshape(T, n, d, S)
    vel = traj[:, n * d :].reshape(T, n, d, S)
    flat = lambda a: a.transpose(1, 2, 0, 3).reshape(n, d, T * S)  # noqa: E731
    acc = system.accelerations(flat(pos), flat(vel), np.repeat(np.arange(S)[None], T, 0).ravel())
    energy = system.energy(flat(pos), flat(vel), np.repeat(np.arange(S)[None], T, 0).ravel())
    back = lambda a: a.reshape(n, d, T, S).transpose(3, 2, 0, 1)  # noqa: E731  -> [S,T,n,d]
    out = {
        "positions": back(flat(pos)),
        "velocities": back(flat(vel)),
        "accelerations": back(acc),
        "energy": energy.reshape(T, S).T,
        "solver_steps": steps,
    }
    if s.derivatives != "exact":
        x = out["positions"]
        if s.position_noise > 0:
            x = x + s.position_noise * position_spread(x)[:, None, None, None] * np.stack(
                [_noise_stream(s, first + i).standard_normal(x.shape[1:]) for i in range(S)])
        h = s.margin
        out["positions"], out["velocities"], out["accelerations"] = differentiate(x, s.step, s.derivative_window)
        out["energy"] = out["energy"][:, h : T - h]  # the true energy at the kept frames
    return out


def position_spread(positions: np.ndarray) -> np.ndarray:
    """Each simulation's position spread [S]: the std of its positions over frames, particles and axes."""
    return positions.reshape(len(positions), -1).std(axis=1)


def _noise_stream(s: SimSettings, system: int) -> np.random.Generator:
    """The position noise of one simulation: its own stream, so no block size changes it."""
    return np.random.default_rng([s.seed, zlib.crc32(s.law.encode()), s.n, s.dim, system, 1])


def _worker(args):
    settings, init, first = args
    return simulate_block(settings, init, first)


def _derivatives_note(s: SimSettings) -> str:
    """What the file's velocities and accelerations are, with the noise the differences add."""
    if s.derivatives == "exact":
        return "exact: the integrator's velocities, accelerations from the law"
    if s.derivatives == "weak":
        gv, _ = noise_gain(s.derivative_window, s.step)
        return (f"weak form: positions as recorded (position noise std {s.position_noise:g} x each simulation's "
                f"position spread); velocities by Savitzky-Golay differences over {s.derivative_window} frames "
                f"(velocity noise std {gv:.4g} x the position noise std); accelerations are weak-form targets, "
                "the phi-average centred on each frame computed from the positions (attrs weak_*; "
                "NaN at the frames a test function does not fit)")
    gv, ga = noise_gain(s.derivative_window, s.step)
    return (f"finite differences of the recorded positions (Savitzky-Golay window {s.derivative_window}, "
            f"{s.margin} frame(s) integrated and dropped at each end); position noise std "
            f"{s.position_noise:g} x each simulation's position spread, so velocity noise std {gv:.4g} x and "
            f"acceleration noise std {ga:.4g} x the position noise std")


def simulate(s: SimSettings, out: str | os.PathLike, *, workers: int = 1, quiet: bool = False) -> Path:
    """Write the data set for ``s`` to ``out`` (HDF5), resuming a ``.partial`` file if present."""
    out = Path(out)
    law = s.resolve_law()
    settings = s.hashed()
    digest = config_hash(settings)
    partial = out.with_name(out.name + ".partial")
    init = initial_conditions(s)
    blocks = [(a, min(a + s.block, s.n_sims)) for a in range(0, s.n_sims, s.block)]
    if partial.exists():
        try:
            with h5py.File(partial, "r") as f:
                stale = f.attrs.get("config_hash") != digest
        except OSError:  # truncated by a kill mid-write: nothing in it can be trusted
            print(f"{partial}: unreadable (truncated by an interrupted run?); starting over", file=sys.stderr)
            stale = True
        if stale:
            partial.unlink()  # or settings changed: the partial file is for another data set
    out.parent.mkdir(parents=True, exist_ok=True)
    shape = (s.n_sims, s.steps, s.n, s.dim)
    with h5py.File(partial, "a") as f:
        if "blocks_done" not in f:
            stamp(f, settings, law=s.law, potential=str(law.potential), dt=s.step, n=s.n,
                  dim=s.dim, seed=s.seed, damping=law.damping, signed_charges=law.signed_charges, rtol=s.rtol, atol=s.atol,
                  softening=law.softening, integrator="vectorised adaptive Dormand-Prince 5(4), dense output",
                  derivatives=_derivatives_note(s))
            for name in ("positions", "velocities", "accelerations"):
                f.create_dataset(name, shape, dtype="f8", chunks=(1, s.steps, s.n, s.dim))
            f.create_dataset("energy", (s.n_sims, s.steps), dtype="f8")
            f.create_dataset("solver_steps", (s.n_sims,), dtype="i8")
            f["masses"] = init["masses"]
            f["charges"] = init["charges"]
            f["times"] = np.arange(s.steps) * s.step
            for name, idx in split_indices(s.n_sims, s.validation, s.test, s.seed).items():
                f[f"split/{name}"] = idx
            f.create_dataset("blocks_done", (len(blocks),), dtype=bool)
        todo = [b for b, done in zip(range(len(blocks)), f["blocks_done"][:]) if not done]
        jobs = [(s, {k: v[blocks[b][0] : blocks[b][1]] for k, v in init.items()}, blocks[b][0]) for b in todo]
        bar = tqdm(total=len(todo), desc=f"simulate {s.law} n={s.n} d={s.dim}", unit="block",
                   disable=quiet, file=sys.stderr)
        if workers > 1 and len(jobs) > 1:
            pool = ProcessPoolExecutor(workers)
            results = pool.map(_worker, jobs)
        else:
            pool, results = None, map(_worker, jobs)
        try:
            for b, res in zip(todo, results):
                a, z = blocks[b]
                for name, arr in res.items():
                    f[name][a:z] = arr
                f["blocks_done"][b] = True
                f.flush()
                bar.update()
        finally:
            bar.close()
            if pool is not None:
                pool.shutdown(cancel_futures=True)
    if s.derivatives == "weak":
        with h5py.File(partial, "a") as f:
            weak_pass(f, s)
    os.replace(partial, out)
    return out


def weak_pass(f: h5py.File, s: SimSettings) -> None:
    """Write the weak targets of a file whose positions are all in: the window chosen once from
    the positions of (at most) the first WEAK_PROBE systems, so no block size changes it."""
    if "weak_window" in f.attrs:
        return  # done before an interruption
    pos = f["positions"]
    probe = min(WEAK_PROBE, len(pos))
    window, stride, sigma, target_noise = settle_window(pos[:probe], f["masses"][:probe], s.step, s.weak_power,
                                                        s.weak_tolerance, s.weak_window)
    for a in range(0, len(pos), s.block):
        f["accelerations"][a : a + s.block] = weak_targets(pos[a : a + s.block], window, s.weak_power, s.step)
    if "weak_average" in f:
        del f["weak_average"]
    f["weak_average"] = filters(window, s.weak_power, s.step)[0]
    f.attrs.update(weak_window=window, weak_stride=stride, weak_power=s.weak_power, weak_noise=sigma,
                   weak_target_noise=target_noise)


def main(argv: list[str] | None = None) -> None:
    p = parser("symdistill-simulate", __doc__)
    p.add_argument("--law", required=True, help="simulation name (built-in or from custom_laws)")
    p.add_argument("--n", type=int, default=4, help="particles per system")
    p.add_argument("--dim", type=int, default=2, help="spatial dimension")
    p.add_argument("--settings", default="{}", help="JSON object of further SimSettings fields (schema section 'simulate')")
    p.add_argument("--config", help="config.yaml to take the 'simulate' settings from")
    p.add_argument("--threads", type=int, default=1, help="worker processes")
    p.add_argument("--out", required=True, help="data.h5 to write")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    a = p.parse_args(argv)
    with errors("symdistill-simulate", a.debug):
        from symdistill.core.config import load_config, sim_settings
        from symdistill.core.schema import settings_json

        extra = settings_json(a.settings, "simulate", SimSettings, ignore=("dt",))  # one law's dt here
        dt = extra.get("dt")
        if dt is not None and not (isinstance(dt, (int, float)) and dt > 0):
            raise ValueError(f"settings key 'dt': value {dt!r} is invalid: must be a positive number or null")
        if a.config:
            extra = {**sim_settings(load_config(a.config), a.law), **extra}
        settings = SimSettings(law=a.law, n=a.n, dim=a.dim, **extra)
        settings.resolve_law()
        split_sizes(settings.n_sims, settings.validation, settings.test)
        path = simulate(settings, a.out, workers=a.threads, quiet=a.quiet)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
