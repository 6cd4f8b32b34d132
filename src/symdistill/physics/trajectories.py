"""A user's trajectories as a data set: any file ``ase.io`` reads (extxyz, ASE .traj, LAMMPS dump,
xyz, ...) or plain arrays (NPZ, HDF5), in the layout ``simulate`` writes, so every later stage
runs unchanged.

Positions are unwrapped (each frame-to-frame step taken to its minimum image, so a periodic
trajectory is continuous). Velocities are the file's where it has them (ASE momenta / masses,
or a ``velocities`` array), otherwise Savitzky-Golay derivatives of the positions; accelerations
are the file's forces over the masses where it has forces, otherwise the second derivative of
the same fit (``derivative_window`` frames; physics.derivatives, whose noise gain the file's
attributes record). The frames are cut into ``segments`` consecutive stretches that play the
part of the simulator's independent systems (the split is by stretch); the rollout's truth is
each test stretch's own frames. A periodic cell and the interaction cutoff are stored as the data
set's geometry (symdistill.core.geometry), which training, messages, rollouts and the symbolic
model all read. Each problem with a file is one ValueError naming the file and the problem.
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import h5py
import numpy as np

from symdistill.core.cli import errors, parser
from symdistill.core.frames import split_indices, split_sizes
from symdistill.core.geometry import Geometry, minimum_image
from symdistill.core.provenance import DATA_SET, atomic_path, config_hash, stamp, versions
from symdistill.core.schema import settings_json, stage_settings
from symdistill.physics.derivatives import differentiate, noise_gain
from symdistill.physics.weak import filters, settle_window
from symdistill.physics.weak import targets as weak_targets

ARRAY_FORMATS = ("npz", "hdf5")  # plain arrays; every other format is ase.io's
#: relative tolerance between the configured time step and the file's time stamps
DT_TOLERANCE = 1e-6


@stage_settings("$defs/trajectory")
class TrajectorySettings:
    """One ``trajectories`` entry: the file and what it lacks (defaults from the schema)."""

    file: str
    format: str | None
    read_options: dict
    dt: float | None
    masses: float | list | None
    charges: float | list
    units: str
    reference: str | None
    cutoff: float | None
    segments: int
    every: int
    derivative_window: int
    derivatives: str  # weak | differences: what a file without forces gives in place of them
    weak_window: int | None
    weak_power: int
    weak_tolerance: float
    validation: float
    test: float
    seed: int


@dataclass
class Frames:
    """What a trajectory file holds, as arrays: positions [T, n, d] and what else it has."""

    positions: np.ndarray
    velocities: np.ndarray | None = None
    forces: np.ndarray | None = None
    masses: np.ndarray | None = None  # [n]
    charges: np.ndarray | None = None  # [n]
    cell: np.ndarray | None = None  # [d, d] if periodic
    times: np.ndarray | None = None  # [T]
    pbc: np.ndarray | None = None  # [d] periodic along each axis (ASE files; arrays: all if a cell)


def _format(s: TrajectorySettings) -> str | None:
    if s.format:
        return s.format
    suffix = Path(s.file).suffix.lower()
    return {".npz": "npz", ".h5": "hdf5", ".hdf5": "hdf5"}.get(suffix)


def _read_ase(path: Path, fmt: str | None, index=":", options: dict | None = None) -> Frames:
    try:
        import ase.io
    except ImportError:
        raise ValueError(f"{path}: reading {fmt or path.suffix} files needs ASE: pip install ase") from None
    try:
        atoms = ase.io.read(path, index=index, format=fmt, **(options or {}))
    except Exception as err:  # ASE raises many types for a file it cannot parse
        raise ValueError(f"{path}: not a readable {fmt or 'trajectory'} file ({err.__class__.__name__}: "
                         f"{str(err).splitlines()[0][:100] if str(err) else 'no detail'})") from None
    atoms = atoms if isinstance(atoms, list) else [atoms]
    if not atoms:
        raise ValueError(f"{path}: holds no frames")
    counts = sorted({len(a) for a in atoms})
    if len(counts) > 1:
        raise ValueError(f"{path}: inconsistent particle count across frames ({counts[0]} to {counts[-1]})")
    first = atoms[0]
    has = lambda key: all(key in a.arrays for a in atoms)  # noqa: E731

    def forces(a):
        calc = a.calc
        return None if calc is None or "forces" not in getattr(calc, "results", {}) else calc.results["forces"]

    f = [forces(a) for a in atoms]
    pbc = np.asarray(first.pbc, dtype=bool)
    return Frames(
        positions=np.stack([a.get_positions() for a in atoms]),
        velocities=np.stack([a.get_velocities() for a in atoms]) if has("momenta") else None,
        forces=np.stack(f) if all(x is not None for x in f) else None,
        masses=first.get_masses() if "masses" in first.arrays else None,
        charges=first.get_initial_charges() if "initial_charges" in first.arrays else None,
        cell=np.asarray(first.cell[:], dtype=float) if pbc.any() else None,
        times=np.array([a.info["time"] for a in atoms], dtype=float) if all("time" in a.info for a in atoms) else None,
        pbc=pbc,
    )


_ARRAY_KEYS = ("positions", "velocities", "forces", "masses", "charges", "cell", "times")


def _read_arrays(path: Path, fmt: str) -> Frames:
    try:
        if fmt == "npz":
            with np.load(path, allow_pickle=False) as z:
                got = {k: np.asarray(z[k], dtype=float) for k in _ARRAY_KEYS if k in z.files}
        else:
            with h5py.File(path, "r") as h:
                got = {k: np.asarray(h[k][()], dtype=float) for k in _ARRAY_KEYS if k in h}
    except (OSError, ValueError) as err:
        raise ValueError(f"{path}: not a readable {fmt} file ({err.__class__.__name__}: {str(err)[:80]})") from None
    if "positions" not in got:
        raise ValueError(f"{path}: no 'positions' array (frames x particles x dimensions)")
    return Frames(**got)


def read_file(s: TrajectorySettings) -> Frames:
    """The file's arrays, checked: at least 2 frames, [T, n, d] positions, finite values."""
    path = Path(s.file)
    if not path.is_file():
        raise ValueError(f"{path}: trajectory file does not exist")
    fmt = _format(s)
    fr = _read_arrays(path, fmt) if fmt in ARRAY_FORMATS else _read_ase(path, fmt, options=s.read_options)
    pos = fr.positions
    if pos.ndim != 3:
        raise ValueError(f"{path}: positions have shape {list(pos.shape)}, not frames x particles x dimensions")
    T, n, d = pos.shape
    if T < 2:
        raise ValueError(f"{path}: only {T} frame; a trajectory needs at least 2 (better: hundreds)")
    for name in ("positions", "velocities", "forces"):
        a = getattr(fr, name)
        if a is not None and a.shape != pos.shape:
            raise ValueError(f"{path}: {name} have shape {list(a.shape)}, positions {list(pos.shape)} "
                             "(inconsistent particle count?)")
        if a is not None and not np.isfinite(a).all():
            frame = int(np.nonzero(~np.isfinite(a).reshape(T, -1).all(1))[0][0])
            raise ValueError(f"{path}: {name} hold NaN or infinite values (first at frame {frame})")
    return fr


def peek(s: TrajectorySettings) -> tuple[int, int]:
    """(particles, dimension) of a trajectory file from its first frame (for the workflow's DAG)."""
    path, fmt = Path(s.file), _format(s)
    if not path.is_file():
        raise ValueError(f"{path}: trajectory file does not exist")
    if fmt in ARRAY_FORMATS:
        fr = _read_arrays(path, fmt)
    else:
        first, last = (_read_ase(path, fmt, index=k, options=s.read_options) for k in (0, -1))
        fr = replace(first, positions=np.concatenate([first.positions, last.positions]))
    shape = fr.positions.shape
    if len(shape) != 3:
        raise ValueError(f"{path}: positions have shape {list(shape)}, not frames x particles x dimensions")
    return int(shape[1]), len(moving_axes(fr, path))


def moving_axes(fr: Frames, path) -> np.ndarray:
    """The axes a data set keeps: those along which some particle moves or the cell is periodic
    (a 2-D system stored in a 3-D format has one flat axis, which is dropped). A cell periodic
    along some kept axes must be periodic along all of them."""
    pos = fr.positions
    ends = pos[[0, -1]].reshape(-1, pos.shape[-1])  # the first and last frames decide (peek reads only these)
    pbc = fr.pbc if fr.pbc is not None else np.full(pos.shape[-1], fr.cell is not None)
    keep = (np.ptp(ends, axis=0) > 0) | pbc
    if (np.ptp(pos.reshape(-1, pos.shape[-1]), axis=0)[~keep] > 0).any():
        raise ValueError(f"{path}: particles leave the plane of the first and last frames along axes "
                         f"{np.flatnonzero(~keep).tolist()} in between")
    if pbc[keep].any() and not pbc[keep].all():
        raise ValueError(f"{path}: periodic along axes {np.flatnonzero(pbc).tolist()} only, but particles move "
                         f"along {np.flatnonzero(keep).tolist()}; a cell must be periodic along every axis they use")
    if fr.cell is not None and pbc[keep].all():
        off = fr.cell[np.ix_(keep, ~keep)], fr.cell[np.ix_(~keep, keep)]
        if any(np.abs(o).max(initial=0) > 0 for o in off):
            raise ValueError(f"{path}: the cell couples the flat axes {np.flatnonzero(~keep).tolist()} to the others")
    return np.flatnonzero(keep)


def check_rates(positions: np.ndarray, rates: np.ndarray, order: int, dt: float, what: str, path) -> None:
    """Refuse the file's velocities (order 1) or forces over masses (order 2) if they are not the
    positions' own rate of change at the time step dt within a factor of 2 (a dt in other units
    than the file's, or forces in other units than its positions and masses)."""
    if len(positions) < 3:
        return
    fd = (positions[2:] - positions[:-2]) / (2 * dt) if order == 1 else \
        (positions[2:] - 2 * positions[1:-1] + positions[:-2]) / dt**2
    mine = rates[1:-1]
    denom = float((fd * fd).sum())
    if denom <= 0 or not np.isfinite(denom):
        return
    k = float((mine * fd).sum()) / denom
    if not 0.5 <= k <= 2:
        raise ValueError(f"{path}: the file's {what} are {k:.3g} x the positions' own "
                         f"{'rate of change' if order == 1 else 'second derivative'} at dt {dt:g}: is dt in the "
                         "file's time unit (ASE files: its time unit, Angstrom sqrt(amu / eV))?")


def per_particle(value, n: int, what: str, path) -> np.ndarray:
    """A configured per-particle quantity (one number, or a list of n) as an array [n]."""
    a = np.asarray(value, dtype=float)
    if a.ndim == 0:
        return np.full(n, float(a))
    if a.shape != (n,):
        raise ValueError(f"{path}: trajectories.{what} lists {a.size} values for {n} particles")
    return a


def unwrap(positions: np.ndarray, cell: np.ndarray | None) -> np.ndarray:
    """Continuous positions [T, n, d]: each frame-to-frame displacement taken to its minimum image
    (a particle must move less than half the cell between frames)."""
    if cell is None:
        return positions
    step = minimum_image(np.diff(positions, axis=0), cell)
    return np.concatenate([positions[:1], positions[:1] + np.cumsum(step, axis=0)])


def frame_step(s: TrajectorySettings, times: np.ndarray | None, path) -> float:
    """The time between kept frames: the configured dt (checked against the file's stamps), or the
    stamps' own (uniform) step."""
    stamped = None
    if times is not None and len(times) > 1:
        steps = np.diff(times)
        if not np.allclose(steps, steps[0], rtol=1e-6, atol=0):
            raise ValueError(f"{path}: time stamps are not evenly spaced (steps {steps.min():g} to {steps.max():g})")
        stamped = float(steps[0])
    if s.dt is None:
        if stamped is None:
            raise ValueError(f"{path}: no time stamps in the file; give trajectories.<name>.dt")
        return stamped * s.every
    if stamped is not None and abs(stamped - s.dt) > DT_TOLERANCE * abs(s.dt):
        raise ValueError(f"{path}: trajectories dt {s.dt:g} disagrees with the file's time stamps (step {stamped:g})")
    return float(s.dt) * s.every


def build(s: TrajectorySettings) -> tuple[dict, dict]:
    """The data set's arrays ([segments, steps, n, d] positions, velocities, accelerations; masses,
    charges [segments, n]; times) and its attributes, from the file and the settings."""
    path = Path(s.file)
    fr = read_file(s)
    axes = moving_axes(fr, path)
    if len(axes) < fr.positions.shape[-1]:
        fr = replace(fr, **{k: getattr(fr, k)[..., axes] for k in ("positions", "velocities", "forces")
                            if getattr(fr, k) is not None},
                     cell=None if fr.cell is None else fr.cell[np.ix_(axes, axes)])
    T, n, d = fr.positions.shape
    if d < 2:
        raise ValueError(f"{path}: particles move along only {d} axis; a pairwise law needs 2 or 3 dimensions")
    masses = fr.masses if s.masses is None else per_particle(s.masses, n, "masses", path)
    if masses is None:
        raise ValueError(f"{path}: the file has no masses; give trajectories.<name>.masses (one number or a list of {n})")
    if (masses <= 0).any() or not np.isfinite(masses).all():
        raise ValueError(f"{path}: masses must be positive and finite")
    charges = per_particle(s.charges, n, "charges", path) if fr.charges is None or s.charges != 0 else fr.charges
    dt = frame_step(s, fr.times, path)
    keep = slice(None, None, s.every)
    pos = unwrap(fr.positions, fr.cell)[keep]
    geometry = Geometry(s.cutoff, None if fr.cell is None else tuple(map(tuple, fr.cell.tolist())))
    geometry.check(d, f"{path}")
    need_fit = fr.velocities is None or fr.forces is None
    if need_fit:  # derivatives of the positions, at the frames with a centred fit
        if len(pos) < s.derivative_window + 2:
            raise ValueError(f"{path}: {len(pos)} frames are too few for derivatives over {s.derivative_window}")
        x, v_fit, a_fit = differentiate(pos[None], dt, s.derivative_window)
        h = (s.derivative_window - 1) // 2
        inner = slice(h, len(pos) - h)
        pos = x[0]
    else:
        inner = slice(None)
    if fr.velocities is not None:
        check_rates(unwrap(fr.positions, fr.cell)[keep], fr.velocities[keep], 1, dt, "velocities", path)
    if fr.forces is not None:
        check_rates(unwrap(fr.positions, fr.cell)[keep], fr.forces[keep] / masses[:, None], 2, dt,
                    "forces over masses", path)
    vel = fr.velocities[keep][inner] if fr.velocities is not None else v_fit[0]
    acc = fr.forces[keep][inner] / masses[:, None] if fr.forces is not None else a_fit[0]
    steps = len(pos) // s.segments
    if steps < 2:
        raise ValueError(f"{path}: {len(pos)} usable frames cannot make {s.segments} segments of 2 or more")
    cut = lambda a: a[: steps * s.segments].reshape(s.segments, steps, n, d)  # noqa: E731
    gv, ga = noise_gain(s.derivative_window, dt)
    note = (f"velocities {'from the file' if fr.velocities is not None else 'by differences'}, accelerations "
            f"{'= the file forces / masses' if fr.forces is not None else 'by differences'}")
    if need_fit:
        note += (f" (Savitzky-Golay window {s.derivative_window}: position noise of std sigma gives velocity noise "
                 f"{gv:.4g} sigma, acceleration noise {ga:.4g} sigma)")
    arrays = {"positions": cut(pos), "velocities": cut(vel), "accelerations": cut(acc),
              "masses": np.broadcast_to(masses, (s.segments, n)).copy(),
              "charges": np.broadcast_to(charges, (s.segments, n)).copy(),
              "times": np.arange(steps) * dt}
    attrs = {"derivatives": note, "dt": dt, "n": n, "dim": d, **geometry.attrs()}
    if fr.forces is None and s.derivatives == "weak":  # each segment's weak targets, none across a cut
        try:
            window, stride, sigma, target_noise = settle_window(arrays["positions"], arrays["masses"], dt, s.weak_power,
                                                        s.weak_tolerance,
                                                        s.weak_window)
        except ValueError as err:
            raise ValueError(f"{path}: {err} (segments of {steps} frames; fewer trajectories.<name>.segments "
                             "make longer ones)") from None
        arrays["accelerations"] = weak_targets(arrays["positions"], window, s.weak_power, dt)
        arrays["weak_average"] = filters(window, s.weak_power, dt)[0]
        attrs.update(weak_window=window, weak_stride=stride, weak_power=s.weak_power, weak_noise=sigma, weak_target_noise=target_noise,
                     derivatives=note.replace("accelerations by differences", "accelerations as weak-form targets")
                     + f"; weak targets over {window} frames, target noise std {target_noise:.3g}")
    return arrays, attrs


def read_trajectory(name: str, s: TrajectorySettings, out) -> Path:
    """Write trajectory ``name``'s data set to ``out`` in simulate's layout, with its provenance."""
    split_sizes(s.segments, s.validation, s.test)
    arrays, attrs = build(s)
    path = Path(s.file)
    out = Path(out)
    with atomic_path(out) as tmp, h5py.File(tmp, "w") as f:
        stamp(f, asdict(s), law=name, observed=True, source_kind="trajectory",
              potential=s.reference or "0", has_reference=s.reference is not None, seed=s.seed,
              reference_constant=1.0 if s.reference else np.nan,
              damping=0.0, signed_charges=False, softening=0.0, source=path.name,
              source_sha256=hashlib.sha256(path.read_bytes()).hexdigest(), units=s.units,
              source_package=versions().get("ase", "") if _format(s) not in ARRAY_FORMATS else "",
              integrator="none: recorded trajectory", **attrs)
        for key, value in arrays.items():
            f[key] = value
        for split, idx in split_indices(s.segments, s.validation, s.test, s.seed).items():
            f[f"split/{split}"] = idx
    return out


def holdout(data_path, systems: int, frames: int) -> tuple[dict, np.ndarray, np.ndarray]:
    """The rollout truth of a trajectory data set: up to ``systems`` test segments, their first
    state (positions, velocities [S, n, d], masses, charges [S, n]) and their first ``frames``
    recorded positions and velocities [S, T, n, d]."""
    with DATA_SET.open(data_path) as f:
        sims = f["split"]["test"][:systems]
        steps = f["positions"].shape[1]
        if frames > steps:
            raise ValueError(f"rollout.frames {frames} exceeds the {steps} frames of {data_path}'s segments")
        pos, vel = f["positions"][:, :frames][sims], f["velocities"][:, :frames][sims]
        init = {"positions": pos[:, 0], "velocities": vel[:, 0], "masses": f["masses"][:][sims],
                "charges": f["charges"][:][sims]}
    return init, pos, vel


def main(argv: list[str] | None = None) -> None:
    p = parser("symdistill-trajectory", __doc__)
    p.add_argument("--name", required=True, help="the trajectory's name (its config key)")
    p.add_argument("--settings", required=True, help="JSON object of TrajectorySettings fields (a trajectories entry)")
    p.add_argument("--out", required=True, help="data.h5 to write")
    a = p.parse_args(argv)
    with errors("symdistill-trajectory", a.debug):
        s = TrajectorySettings(**settings_json(a.settings, "$defs/trajectory", TrajectorySettings))
        path = read_trajectory(a.name, s, a.out)
        with DATA_SET.open(path) as f:
            shape = f["positions"].shape
        print(f"{path}: {shape[0]} segments x {shape[1]} frames of {shape[2]} particles in {shape[3]}-D from "
              f"{s.file}; hash {config_hash(asdict(s))[:12]}", file=sys.stderr)


if __name__ == "__main__":
    main()
