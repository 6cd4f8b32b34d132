"""Load and validate the workflow config against its JSON schema, filling in defaults.

The same function serves the Snakefile (at start-up, before any job runs) and every console
entry point, so a bad value is reported the same way everywhere: by its key and value.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path

import jsonschema
import yaml

from symdistill.core.expr import ExpressionError
from symdistill.core.laws import BUILTIN_LAWS, check_law, get_law
from symdistill.core.schema import ConfigError, enum, schema, stage_values
from symdistill.gnn.variants import VARIANTS, get_variant
from symdistill.physics.simulate import split_sizes


def _with_defaults(cls):
    """A jsonschema validator class that also writes each property's default into the instance."""
    validate_props = cls.VALIDATORS["properties"]

    def properties(validator, props, instance, schema):
        if isinstance(instance, dict):
            for key, sub in props.items():
                if "default" in sub and key not in instance:
                    instance[key] = copy.deepcopy(sub["default"])
        yield from validate_props(validator, props, instance, schema)

    return jsonschema.validators.extend(cls, {"properties": properties})


def _describe(err: jsonschema.ValidationError) -> str:
    key = ".".join(str(p) for p in err.absolute_path) or "<top level>"
    if err.validator == "additionalProperties":
        allowed = sorted(err.schema.get("properties", {}))
        return f"config key '{key}': {err.message}; allowed keys are {allowed}"
    return f"config key '{key}': value {err.instance!r} is invalid: {err.message}"


def validate_config(config: dict) -> dict:
    """Return a validated deep copy of ``config`` with all defaults filled in.

    Raises ConfigError listing every problem, each naming the key and the value.
    """
    cfg = copy.deepcopy(dict(config))
    rules = schema()
    cls = _with_defaults(jsonschema.validators.validator_for(rules))
    errors = sorted(cls(rules).iter_errors(cfg), key=lambda e: list(map(str, e.absolute_path)))
    problems = [_describe(e) for e in errors]
    if not problems:
        if not cfg["simulations"] and not cfg["observed"]:
            problems.append("config key 'simulations': value [] is invalid: no simulated and no observed "
                            "data sets (give simulations, observed or both)")
        for i, name in enumerate(cfg["simulations"]):
            if name not in BUILTIN_LAWS and name not in cfg["custom_laws"]:
                problems.append(
                    f"config key 'simulations.{i}': unknown simulation {name!r}; choose from "
                    f"{sorted(BUILTIN_LAWS)} or define it under 'custom_laws'"
                )
        for name in set(cfg["simulations"]) & set(cfg["observed"]):
            problems.append(f"config key 'simulations': {name!r} is an observed data set (listed under 'observed')")
        if cfg["observed"]:
            e = cfg["ephemeris"]
            try:
                check_law(get_law("reference", {"reference": {"potential": e["reference"]}}))
            except (ExpressionError, ValueError) as err:
                problems.append(f"config key 'ephemeris.reference': {str(err).split(': ', 1)[-1]}")
            try:
                split_sizes(e["segments"], e["validation"], e["test"])
            except ValueError as err:
                problems.append(f"config key 'ephemeris.segments': {err}")
        for name in cfg["custom_laws"]:
            try:
                check_law(get_law(name, cfg["custom_laws"]))
            except ExpressionError as err:
                key = f"custom_laws.{name}.potential"
                msg = str(err).removeprefix(f"{key}: ")
                problems.append(f"config key '{key}': {msg}")
            except ValueError as err:
                problems.append(f"config key 'custom_laws.{name}.potential': {err}")
        for section in [v.section for v in VARIANTS.values() if v.section]:
            known = set(BUILTIN_LAWS) | set(cfg["custom_laws"]) | set(enum("observed"))
            for i, name in enumerate(cfg[section]["simulations"]):  # a known data set outside
                if name not in known:  # 'simulations' and 'observed' is narrowed away
                    problems.append(f"config key '{section}.simulations.{i}': unknown simulation {name!r}")
            used = set(cfg["simulations"]) | set(cfg["observed"])
            cfg[section]["simulations"] = [s for s in cfg[section]["simulations"] if s in used]
        s = cfg["simulate"]
        try:
            split_sizes(s["n_sims"], s["validation"], s["test"])
        except ValueError as err:
            problems.append(f"config key 'simulate.n_sims': {err}")
        for name in cfg["simulate"]["dt"]:
            if name not in BUILTIN_LAWS and name not in cfg["custom_laws"]:
                problems.append(f"config key 'simulate.dt.{name}': unknown simulation {name!r}")
    if problems:
        raise ConfigError("invalid config:\n  " + "\n  ".join(problems))
    return cfg


def load_config(path_or_dict: str | Path | dict) -> dict:
    """Read a YAML config file (or take a dict) and validate it."""
    if isinstance(path_or_dict, dict):
        return validate_config(path_or_dict)
    path = Path(path_or_dict)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise ConfigError(f"config file {str(path)!r} does not exist") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"config file {str(path)!r} is not valid YAML: {err}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"config file {str(path)!r} must hold a mapping, got {type(raw).__name__}")
    return validate_config(raw)


def sim_settings(cfg: dict, law: str) -> dict:
    """The SimSettings fields (besides law, n, dim) for one simulation of a validated config."""
    out = stage_values("simulate", cfg["simulate"])
    out["dt"] = cfg["simulate"]["dt"].get(law, cfg["custom_laws"].get(law, {}).get("dt"))
    if law in cfg["custom_laws"]:
        out["custom_laws"] = {law: cfg["custom_laws"][law]}
    return out


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


def sr_settings(cfg: dict, engine: str) -> dict:
    """The SRSettings fields for one engine (threads come from the rule)."""
    return {**stage_values("symbolic", cfg["symbolic"]), "engine": engine}


def rollout_settings(cfg: dict) -> dict:
    """The RolloutSettings fields (threads and the variant list are for the workflow)."""
    return stage_values("rollout", cfg["rollout"])


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
    if rule == "train_gnn":
        t = train_settings(cfg, n, wildcards["variant"], dim, wildcards["sim"])
        return t["steps"] * t["batch_size"] * n * n * t["hidden"] ** 2 / 1e12
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
    dimension and size, then each observed data set in its own (solar: 3-D, one node per body)."""
    simulated = [(s, d, n) for s in cfg["simulations"] for d in cfg["dims"] for n in cfg["n_bodies"]]
    return simulated + [(name, 3, len(cfg["ephemeris"]["bodies"])) for name in cfg["observed"]]


def ephemeris_settings(cfg: dict) -> dict:
    """The EphemerisSettings fields of a validated config."""
    return stage_values("ephemeris", cfg["ephemeris"])
