"""The experiment matrix and what each of its jobs costs: which models a config asks for, each
model's training settings (its variant's own overrides included), the engines that distil it, and
the runtime a job asks the scheduler for. Sits above every stage, since it needs the variant
registry; core.config validates and reads the config without it.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass
from pathlib import Path

from symdistill.core.schema import ConfigError, stage_values
from symdistill.gnn.variants import VARIANTS, get_variant


def train_settings(cfg: dict, n: int, variant: str = "standard", dim: int = 2, sim: str = "") -> dict:
    """The TrainSettings fields (besides variant, seed, threads) for one model: the train
    section, the batch size for n particles, and what the variant takes from its own section."""
    t = cfg["train"]
    out = stage_values("train", t)
    out["batch_size"] = t["batch_size_per_n"].get(str(n), t["batch_size"])
    out.update(get_variant(variant).train_overrides(cfg, dim, sim))
    return out


def engines_for(cfg: dict, variant: str) -> list[str]:
    """The engines that distil a variant's law: its own read-out, else the configured symbolic
    regression engines if the variant is among symbolic.variants."""
    readout = get_variant(variant).readout
    if readout:
        return [readout]
    return list(cfg["symbolic"]["engines"]) if variant in cfg["symbolic"]["variants"] else []


def work(cfg: dict, rule: str, wildcards) -> float:
    """A job's work in the unit its rule's ``resources`` entry names (the schema says which), so
    that its runtime scales with the config; 0 for rules whose cost does not grow with it."""
    n, dim = int(wildcards.get("n", 0) or 0), int(wildcards.get("dim", 0) or 0)
    if rule == "simulate":
        sim = cfg["simulate"]
        return sim["n_sims"] * sim["steps"] * n * n / 1e9
    if rule == "read_ephemeris":
        e = cfg["ephemeris"]
        return 5 * e["segments"] * e["steps"] * len(e["bodies"]) / 1e6  # ephemeris evaluations
    if rule == "read_trajectory":
        path = Path(cfg["trajectories"][wildcards["sim"]]["file"])
        return path.stat().st_size / 1e6 if path.is_file() else 0.0
    if rule == "train_gnn":
        t = train_settings(cfg, n, wildcards["variant"], dim, wildcards["sim"])
        cost = get_variant(wildcards["variant"]).step_cost
        return cost * t["steps"] * t["batch_size"] * n * n * t["hidden"] ** 2 / 1e12
    if rule == "dump_messages":
        return cfg["messages"]["max_graphs"] * n * n / 1e6
    if rule == "symbolic_regression":
        sr = cfg["symbolic"]
        return sr["time_limit"] * sr["restarts"] * dim / 60
    if rule in ("integrate_truth", "rollout"):
        r = cfg["rollout"]
        return r["systems"] * len(r["conditions"]) * (r.get("frames") or cfg["simulate"]["steps"]) / 1e3
    return 0.0


def job_runtime(cfg: dict, rule: str, wildcards, attempt: int = 1) -> int:
    """Minutes a job asks the scheduler for: its rule's fixed minutes plus per_unit x its work,
    times the attempt (a job that ran out of time gets more on a retry)."""
    res = cfg["resources"][rule]
    return math.ceil((res["minutes"] + res["per_unit"] * work(cfg, rule, wildcards)) * attempt)


def models(cfg: dict) -> list[tuple[str, int, int, str, int]]:
    """Every (simulation, dim, n, variant, seed) model of the experiment matrix: the configured
    variants on every data set, and a variant with a section of its own (eql) on the simulations
    that section names."""
    out = []
    for ds in datasets(cfg):
        own = [v.name for v in VARIANTS.values() if v.section and ds[0] in cfg[v.section]["simulations"]]
        out += [(*ds, v, s) for v in [*cfg["variants"], *own] for s in cfg["seeds"]]
    return out


def datasets(cfg: dict) -> list[tuple[str, int, int]]:
    """Every (simulation, dim, n) data set of the experiment matrix: each simulation in every
    dimension and size, then each observed data set in its own (solar: 3-D, one node per body;
    a trajectory: its file's dimension and particles)."""
    simulated = [(s, d, n) for s in cfg["simulations"] for d in cfg["dims"] for n in cfg["n_bodies"]]
    return simulated + [observed_shape(cfg, name) for name in cfg["observed"]]


def observed_shape(cfg: dict, name: str) -> tuple[str, int, int]:
    """(name, dim, n) of an observed data set; a trajectory's from its file's first and last frames."""
    if name in cfg["trajectories"]:
        n, dim = _peek(cfg["trajectories"][name])
        return name, dim, n
    return name, 3, len(cfg["ephemeris"]["bodies"])


def source_rule(cfg: dict, name: str) -> str:
    """The rule that makes a data set: simulate, read_ephemeris or read_trajectory."""
    if name in cfg["trajectories"] and name in cfg["observed"]:
        return "read_trajectory"
    return "read_ephemeris" if name in cfg["observed"] else "simulate"


@functools.lru_cache(maxsize=32)
def _peek_cached(entry: str, mtime: float) -> tuple[int, int]:
    from symdistill.physics.trajectories import TrajectorySettings, peek

    return peek(TrajectorySettings(**json.loads(entry)))


def _peek(entry: dict) -> tuple[int, int]:
    """(particles, dimension) of a trajectories entry's file, read once per file version."""
    path = Path(entry["file"])
    try:
        return _peek_cached(json.dumps(entry, sort_keys=True), path.stat().st_mtime if path.is_file() else -1.0)
    except ValueError as err:
        raise ConfigError(f"config key 'trajectories': {err}") from None


def jobs(cfg: dict) -> list[tuple[str, dict]]:
    """Every (rule, wildcards) of the heavy jobs a config asks for: per data set (simulate or
    read_ephemeris, integrate_truth), per model (train_gnn, dump_messages) and per distilling
    engine (symbolic_regression, rollout)."""
    out = []
    for sim, dim, n in datasets(cfg):
        w = {"sim": sim, "dim": dim, "n": n}
        out += [(source_rule(cfg, sim), w), ("integrate_truth", w)]
    for sim, dim, n, variant, seed in models(cfg):
        w = {"sim": sim, "dim": dim, "n": n, "variant": variant, "seed": seed}
        out += [("train_gnn", w), ("dump_messages", w)]
        out += [(rule, {**w, "engine": e}) for e in engines_for(cfg, variant) for rule in ("symbolic_regression", "rollout")]
    return out


@dataclass(frozen=True)
class Estimate:
    """What a config asks for before any job runs, from the resources model: job minutes (the
    scheduler's request, about 2x the measured time on a 2-core CPU), the data sets' disk and the
    largest training job's memory."""

    job_minutes: float  # sum over jobs of job_runtime (the upper bound a scheduler is asked for)
    longest_job_minutes: float  # the largest single request
    data_bytes: int  # simulated data sets on disk (positions, velocities, accelerations, energy)
    train_bytes: int  # the largest training job's data in memory (float64 read, float32 tensors)

    def summary(self) -> str:
        return (f"{self.job_minutes / 60:.3g} job-hours of scheduler time (an upper bound; longest job "
                f"{self.longest_job_minutes:.0f} min), "
                f"{self.data_bytes / 1e9:.3g} GB of simulated data, {self.train_bytes / 1e9:.3g} GB of training "
                "data in memory per model")


def estimate(cfg: dict) -> Estimate:
    """The Estimate of a validated config."""
    minutes = [job_runtime(cfg, rule, w) for rule, w in jobs(cfg)]
    s = cfg["simulate"]
    frames = [(n, dim) for sim, dim, n in datasets(cfg) if sim not in cfg["observed"]]
    data = sum(8 * s["n_sims"] * s["steps"] * (3 * n * dim + 1) for n, dim in frames)
    train_share = 1 - s["validation"] - s["test"]
    sample = cfg["train"]["sample_every"]
    train = max([int(s["n_sims"] * train_share * s["steps"] / sample * n * (3 * dim + 2) * 12)
                 for n, dim in frames] or [0])
    return Estimate(float(sum(minutes)), float(max(minutes or [0])), int(data), train)


def check_budget(cfg: dict, free_bytes: int) -> Estimate:
    """The config's Estimate; raises ConfigError, naming simulate.n_sims, when its data sets would
    not fit in ``free_bytes`` of disk or one training job's data not in its resources' memory."""
    est = estimate(cfg)
    s = cfg["simulate"]
    if est.data_bytes > free_bytes:
        raise ConfigError(f"config key 'simulate.n_sims': value {s['n_sims']} (x steps {s['steps']}) asks for "
                          f"{est.data_bytes / 1e9:.3g} GB of simulated data, more than the {free_bytes / 1e9:.3g} GB "
                          f"free under '{cfg['results']}'; {est.summary()}")
    mem = cfg["resources"]["train_gnn"]["mem_mb"] * 1e6
    if est.train_bytes > mem:
        raise ConfigError(f"config key 'simulate.n_sims': value {s['n_sims']} (x steps {s['steps']}) puts "
                          f"{est.train_bytes / 1e9:.3g} GB of training data in memory, more than "
                          f"resources.train_gnn.mem_mb = {mem / 1e6:.0f}; raise it or train.sample_every; {est.summary()}")
    return est
