"""Real data: solar-system bodies from JPL's DE421 ephemeris, in the layout ``simulate`` writes.

DE421 (Folkner et al. 2008, IPN Progress Report 42-178) ships inside the ``skyfield-data``
package and is read with ``jplephem``: positions and velocities (the derivative of the
ephemeris's own Chebyshev interpolants) of each body relative to the solar-system barycentre.
Accelerations are the 4th-order central difference of those velocities, with step
``fd_step`` days (truncation error ~ fd_step^4, far below 1e-9 relative at 0.05 d). Units are
chosen so the numbers are well scaled: AU, Julian years (365.25 d) and solar masses, in which
the Sun pulls the Earth with about 40 and Neptune with 0.04, and G = (365.25 k)^2 ~ 4 pi^2
(k: the Gaussian gravitational constant). The span is cut into ``segments`` consecutive stretches of
``steps`` frames, which play the part of the simulator's independent systems (the train /
validation / test split is by segment), so every later stage runs unchanged.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import sys
import warnings
from dataclasses import asdict
from pathlib import Path

import h5py
import numpy as np

from symdistill.core.cli import errors, parser
from symdistill.core.provenance import atomic_path, config_hash, stamp, versions
from symdistill.core.schema import settings_json, stage_settings
from symdistill.core.frames import split_indices

#: Gaussian gravitational constant k (IAU 1938/1976): G = k^2 in AU^3 / (solar mass day^2)
GAUSS_K = 0.01720209895
YEAR_DAYS = 365.25  # the time unit: a Julian year
G_PUBLISHED = (GAUSS_K * YEAR_DAYS) ** 2  # AU^3 / (solar mass year^2)
AU_KM = 149597870.700  # IAU 2012 Resolution B2
J2000_JD = 2451545.0  # 2000-01-01 12:00 TDB
#: body -> (DE421 target id; its centre is the solar-system barycentre, 0), Sun / body mass ratio.
#: Mass ratios: IAU 2009 system of astronomical constants (Luzum et al. 2011, Celest. Mech. Dyn.
#: Astron. 110, 293), the values DE421 was fitted with. A barycentre body carries its system's
#: mass (a planet and its moons; the Earth and the Moon).
BODIES = {
    "sun": (10, 1.0),
    "mercury": (1, 6023597.400),
    "venus": (2, 408523.719),
    "earth_moon": (3, 328900.5614),
    "mars": (4, 3098703.59),
    "jupiter": (5, 1047.348644),
    "saturn": (6, 3497.9018),
    "uranus": (7, 22902.98),
    "neptune": (8, 19412.26),
}
MASS_SOURCE = "IAU 2009 system of astronomical constants (Luzum et al. 2011), as used by DE421"


@stage_settings("ephemeris")
class EphemerisSettings:
    """Everything that determines an ephemeris data set; defaults from the schema's
    ``ephemeris`` section."""

    bodies: list
    start: str
    segments: int
    steps: int
    step_days: float
    fd_step: float
    validation: float
    test: float
    seed: int
    reference: str

    @property
    def span_days(self) -> float:
        return self.segments * self.steps * self.step_days


def ephemeris_path() -> Path:
    """DE421 as shipped in skyfield-data (offline; no download)."""
    try:
        with warnings.catch_warnings():  # it warns that its Earth-orientation file (unused here) is old
            warnings.simplefilter("ignore")
            import skyfield_data

            path = Path(skyfield_data.get_skyfield_data_path()) / "de421.bsp"
    except ImportError:
        raise RuntimeError("the ephemeris stage needs skyfield-data: pip install skyfield-data") from None
    if not path.exists():
        raise RuntimeError(f"{path} is missing from the installed skyfield-data")
    return path


def julian_date(iso: str) -> float:
    """TDB Julian date of an ISO date or date-time (taken as TDB; UTC differs by about a minute)."""
    try:
        when = datetime.datetime.fromisoformat(iso)
    except ValueError:
        raise ValueError(f"ephemeris.start {iso!r} is not an ISO date such as 1980-01-01") from None
    epoch = datetime.datetime(2000, 1, 1, 12)
    return J2000_JD + (when.replace(tzinfo=None) - epoch).total_seconds() / 86400.0


class Ephemeris:
    """Barycentric states of named bodies from a DE421 file, in AU and AU/year."""

    def __init__(self, bodies: list[str], path: str | os.PathLike | None = None):
        from jplephem.spk import SPK

        unknown = [b for b in bodies if b not in BODIES]
        if unknown:
            raise ValueError(f"ephemeris.bodies: unknown bodies {unknown}; choose from {list(BODIES)}")
        self.bodies = list(bodies)
        self.path = Path(path) if path else ephemeris_path()
        with warnings.catch_warnings():  # skyfield-data warns about its Earth-orientation file
            warnings.simplefilter("ignore")
            self.kernel = SPK.open(str(self.path))
        self.segments = [self.kernel[0, BODIES[b][0]] for b in self.bodies]
        first = max(s.start_jd for s in self.segments)
        last = min(s.end_jd for s in self.segments)
        self.range = (first, last)

    def states(self, jd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Positions [T, n, 3] (AU) and velocities [T, n, 3] (AU/year) at TDB Julian dates ``jd``."""
        jd = np.asarray(jd, dtype=float)
        lo, hi = self.range
        if jd.min() < lo or jd.max() > hi:
            raise ValueError(f"dates JD {jd.min():.1f}..{jd.max():.1f} fall outside {self.path.name}'s "
                             f"range JD {lo:.1f}..{hi:.1f}")
        pos, vel = zip(*(seg.compute_and_differentiate(jd) for seg in self.segments))
        return (np.stack(pos).transpose(2, 0, 1) / AU_KM, np.stack(vel).transpose(2, 0, 1) * YEAR_DAYS / AU_KM)

    def accelerations(self, jd: np.ndarray, h: float) -> np.ndarray:
        """[T, n, 3] AU/year^2: the 4th-order central difference of the velocities, step h days."""
        v = [self.states(np.asarray(jd) + k * h)[1] for k in (-2, -1, 1, 2)]
        return (v[0] - 8 * v[1] + 8 * v[2] - v[3]) / (12 * h / YEAR_DAYS)

    def sha256(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def masses(bodies: list[str]) -> np.ndarray:
    """Published masses (solar masses) of the bodies (MASS_SOURCE)."""
    return np.array([1.0 / BODIES[b][1] for b in bodies])


def newtonian_accelerations(pos: np.ndarray, m: np.ndarray, G: float = G_PUBLISHED) -> np.ndarray:
    """a_i = G sum_j m_j (x_j - x_i) / |x_j - x_i|^3 for positions [..., n, 3] (a reference check)."""
    dx = pos[..., None, :, :] - pos[..., :, None, :]
    r = np.linalg.norm(dx, axis=-1)
    n = pos.shape[-2]
    r[..., np.arange(n), np.arange(n)] = np.inf
    return G * (m[..., None, :, None] * dx / r[..., None] ** 3).sum(-2)


def holdout(data_path: str | os.PathLike, frames: int) -> tuple[dict, np.ndarray, np.ndarray, np.ndarray]:
    """The ephemeris after a data set's last frame, outside its span (the truth of its rollouts):
    ``frames`` frames at the data set's step from one step after its end, in its units. Returns
    the initial state (positions, velocities [1, n, 3], masses, charges [1, n]), the positions
    and velocities [1, T, n, 3], and the Julian dates [T]."""
    with h5py.File(data_path, "r") as f:
        bodies = [str(b) for b in f.attrs["bodies"]]
        step = float(f.attrs["dt"]) * YEAR_DAYS
        jd = float(f.attrs["end_jd"]) + step * (1 + np.arange(frames))
        m = f["masses"][:1]
    pos, vel = (a[None] for a in Ephemeris(bodies).states(jd))
    init = {"positions": pos[:, 0], "velocities": vel[:, 0], "masses": m, "charges": np.zeros_like(m)}
    return init, pos, vel, jd


def read_ephemeris(s: EphemerisSettings, out: str | os.PathLike, source: str | os.PathLike | None = None) -> Path:
    """Write the data set for ``s`` to ``out`` in simulate's layout (positions, velocities,
    accelerations [segments, steps, n, 3], masses, charges, times, split) with its provenance."""
    eph = Ephemeris(s.bodies, source)
    start = julian_date(s.start)
    jd = start + np.arange(s.segments * s.steps) * s.step_days
    pos, vel = eph.states(jd)
    acc = eph.accelerations(jd, s.fd_step)
    shape = (s.segments, s.steps, len(s.bodies), 3)
    m = masses(s.bodies)
    out = Path(out)
    with atomic_path(out) as tmp:
        with h5py.File(tmp, "w") as f:
            stamp(f, asdict(s), law="solar", observed=True, potential=s.reference, dt=s.step_days / YEAR_DAYS, n=len(s.bodies), dim=3,
                  seed=s.seed, damping=0.0, signed_charges=False, softening=0.0, source=eph.path.name,
                  source_sha256=eph.sha256(), source_package=versions().get("skyfield_data", "unknown"),
                  bodies=list(s.bodies), start_jd=start, end_jd=float(jd[-1]), mass_source=MASS_SOURCE,
                  G_published=G_PUBLISHED, reference_constant=G_PUBLISHED, units="length AU, time Julian year (365.25 d, TDB), mass solar mass",
                  accelerations=f"4th-order central difference of the ephemeris velocities, step {s.fd_step} d",
                  integrator="none: JPL DE421 ephemeris")
            f["positions"] = pos.reshape(shape)
            f["velocities"] = vel.reshape(shape)
            f["accelerations"] = acc.reshape(shape)
            f["masses"] = np.broadcast_to(m, (s.segments, len(m))).copy()
            f["charges"] = np.zeros((s.segments, len(m)))
            f["times"] = (jd[: s.steps] - jd[0]) / YEAR_DAYS
            f["segment_start_jd"] = jd[:: s.steps]
            for name, idx in split_indices(s.segments, s.validation, s.test, s.seed).items():
                f[f"split/{name}"] = idx
    return out


def main(argv: list[str] | None = None) -> None:
    p = parser("symdistill-ephemeris", __doc__)
    p.add_argument("--settings", default="{}", help="JSON object of EphemerisSettings fields (schema section 'ephemeris')")
    p.add_argument("--source", help="a DE421 .bsp file (default: the one in skyfield-data)")
    p.add_argument("--out", required=True, help="data.h5 to write")
    a = p.parse_args(argv)
    with errors("symdistill-ephemeris", a.debug):
        extra = settings_json(a.settings, "ephemeris", EphemerisSettings)
        s = EphemerisSettings(**extra)
        path = read_ephemeris(s, a.out, a.source)
        print(f"{path}: {len(s.bodies)} bodies, {s.segments} segments x {s.steps} frames of {s.step_days} d "
              f"({s.span_days / 365.25:.1f} years from {s.start}); hash {config_hash(asdict(s))[:12]}",
              file=sys.stderr)


if __name__ == "__main__":
    main()
