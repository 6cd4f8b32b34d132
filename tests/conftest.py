"""Shared fixtures: small simulated data sets (made once per session) and tiny training settings."""

import os
import re
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest  # noqa: E402

from symdistill.gnn.train import TrainSettings  # noqa: E402
from symdistill.physics.simulate import SimSettings, simulate  # noqa: E402

#: a training run that takes seconds and still learns (steps, widths, cadence)
TINY = dict(steps=300, batch_size=16, hidden=32, layers=2, msg_dim=16, val_every=100,
            checkpoint_every=100, sample_every=5, lr=3e-3)


@pytest.fixture(scope="session")
def simulated(tmp_path_factory):
    """Factory: simulate(law, n, dim, n_sims, steps, **settings) once per session, return its path."""
    made = {}

    def make(law="spring", n=4, dim=2, n_sims=40, steps=100, **kw):
        key = (law, n, dim, n_sims, steps, tuple(sorted(kw.items())))
        if key not in made:
            path = tmp_path_factory.mktemp("data") / f"{law}_d{dim}_n{n}.h5"
            made[key] = simulate(SimSettings(law=law, n=n, dim=dim, n_sims=n_sims, steps=steps, **kw), path, quiet=True)
        return made[key]

    return make


@pytest.fixture(scope="session")
def spring_data(simulated):
    """40 spring systems of 4 particles in 2-D, 100 steps."""
    return simulated("spring")


@pytest.fixture
def tiny():
    """Factory: TrainSettings for a seconds-long run of a variant (TINY, seed 0, overrides)."""
    def make(variant: str, **kw) -> TrainSettings:
        return TrainSettings(variant=variant, **{"seed": 0, **TINY, **kw})

    return make


def rule_blocks() -> dict[str, str]:
    """Rule name -> its text, for every rule in workflow/rules/*.smk (tests that read the rules);
    a rule made by ``use rule A as B with:`` is A's text followed by B's own directives."""
    out, reused = {}, {}
    for smk in sorted((Path(__file__).resolve().parents[1] / "workflow" / "rules").glob("*.smk")):
        for block in re.split(r"(?m)^(?=rule |use rule )", smk.read_text())[1:]:
            if block.startswith("use rule"):
                parent, name = re.match(r"use rule (\w+) as (\w+) with:", block).groups()
                reused[name] = (parent, block)
            else:
                out[re.match(r"rule (\w+):", block).group(1)] = block
    for name, (parent, block) in reused.items():
        out[name] = out[parent] + block
    return out
