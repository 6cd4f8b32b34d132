"""Write a molecular-dynamics trajectory that no one here wrote the physics of: Lennard-Jones atoms
in a periodic box, integrated by ASE's own calculator and integrator, as extxyz.

Reduced units (epsilon = sigma = 1 eV and 1 Angstrom, mass 1 amu, so ASE's time unit is the LJ
time sigma sqrt(m / epsilon)). An fcc lattice at number density ``--density`` is melted by a
Langevin thermostat at ``--temperature`` (in units of epsilon / k_B), then run at constant energy
with velocity Verlet; every ``--every``-th step is written with its positions, momenta, the
calculator's forces, the cell and the time. ASE's LennardJones cuts the potential at ``--cutoff``
(shifted to 0 there; smooth=False, so the force is the plain LJ force inside the cutoff). The
config that distils it is config/data/md.yaml (`make md-example`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def simulate(out: Path, cells: int, density: float, temperature: float, cutoff: float, dt: float,
             equilibrate: int, frames: int, every: int, seed: int) -> Path:
    import ase.io
    from ase import units
    from ase.calculators.lj import LennardJones
    from ase.calculators.singlepoint import SinglePointCalculator
    from ase.lattice.cubic import FaceCenteredCubic
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import Stationary, thermalize_momenta
    from ase.md.verlet import VelocityVerlet

    a = (4.0 / density) ** (1 / 3)  # fcc: 4 atoms per cubic cell
    atoms = FaceCenteredCubic("Ar", size=(cells,) * 3, latticeconstant=a, pbc=True)
    atoms.set_masses(np.ones(len(atoms)))
    atoms.calc = LennardJones(sigma=1.0, epsilon=1.0, rc=cutoff, smooth=False)
    rng = np.random.default_rng(seed)
    thermalize_momenta(atoms, temperature / units.kB, rng=rng)
    Stationary(atoms)
    Langevin(atoms, dt, temperature_K=temperature / units.kB, friction=1.0, fixcm=False, rng=rng).run(equilibrate)
    md = VelocityVerlet(atoms, dt)
    written = []

    def record():
        snap = atoms.copy()
        snap.calc = SinglePointCalculator(snap, energy=atoms.get_potential_energy(), forces=atoms.get_forces())
        snap.info["time"] = round(len(written) * every * dt, 12)
        written.append(snap)

    record()
    for _ in range(frames - 1):
        md.run(every)
        record()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp.extxyz")
    ase.io.write(tmp, written, format="extxyz")
    tmp.replace(out)
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="results/md/lj.extxyz", help="extxyz file to write")
    p.add_argument("--cells", type=int, default=4, help="fcc cells per side (4 atoms each: 4 -> 256 atoms)")
    p.add_argument("--density", type=float, default=0.8, help="atoms per sigma^3")
    p.add_argument("--temperature", type=float, default=1.5, help="k_B T / epsilon")
    p.add_argument("--cutoff", type=float, default=2.5, help="LJ cutoff (sigma)")
    p.add_argument("--dt", type=float, default=0.002, help="MD time step (LJ time units)")
    p.add_argument("--equilibrate", type=int, default=2000, help="Langevin steps before recording")
    p.add_argument("--frames", type=int, default=1000, help="frames written")
    p.add_argument("--every", type=int, default=10, help="MD steps between frames")
    p.add_argument("--seed", type=int, default=0, help="velocities and thermostat noise")
    p.add_argument("--force", action="store_true", help="write the file again even if it exists")
    a = p.parse_args(argv)
    if Path(a.out).exists() and not a.force:
        print(f"{a.out} exists (the same seed writes the same file); --force writes it again")
        return
    path = simulate(Path(a.out), a.cells, a.density, a.temperature, a.cutoff, a.dt, a.equilibrate, a.frames,
                    a.every, a.seed)
    print(f"wrote {path}: {4 * a.cells**3} atoms, {a.frames} frames every {a.every * a.dt:g}")


if __name__ == "__main__":
    main()
