"""Load and validate the workflow config against its JSON schema, filling in defaults.

The same function serves the Snakefile (at start-up, before any job runs) and every console
entry point, so a bad value is reported the same way everywhere: by its key and value.
"""

from __future__ import annotations

import copy
from pathlib import Path

import jsonschema
import yaml

from symdistill.core.expr import ExpressionError
from symdistill.core.laws import BUILTIN_LAWS, check_law, get_law
from symdistill.core.schema import ConfigError, enum, schema, stage_values
from symdistill.core.frames import split_sizes


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
    if "propertyNames" in err.absolute_schema_path:  # a bad name, not a bad value
        return (f"config key '{key}.{err.instance}': {err.instance!r} is not a valid name: use a letter "
                "then letters, digits or _ (it names result folders)")
    if err.validator == "additionalProperties":
        allowed = sorted(err.schema.get("properties", {}))
        return f"config key '{key}': {err.message}; allowed keys are {allowed}"
    return f"config key '{key}': value {err.instance!r} is invalid: {err.message}"


def _sections_with_simulations() -> list[str]:
    """Config sections that name their own simulations (a variant's own section, such as eql)."""
    props = schema()["properties"]
    return [k for k, v in props.items() if "simulations" in v.get("properties", {})]


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
        for i, name in enumerate(cfg["observed"]):
            if name not in enum("observed") and name not in cfg["trajectories"]:
                problems.append(f"config key 'observed.{i}': unknown observed data set {name!r}; choose from "
                                f"{enum('observed')} or define it under 'trajectories'")
        for name, t in cfg["trajectories"].items():
            if name in BUILTIN_LAWS or name in cfg["custom_laws"] or name in enum("observed"):
                problems.append(f"config key 'trajectories.{name}': {name!r} already names a law or data set")
            if t["reference"] is not None:
                try:
                    check_law(get_law("reference", {"reference": {"potential": t["reference"]}}))
                except (ExpressionError, ValueError) as err:
                    problems.append(f"config key 'trajectories.{name}.reference': {str(err).split(': ', 1)[-1]}")
            if t["derivative_window"] % 2 == 0:
                problems.append(f"config key 'trajectories.{name}.derivative_window': value "
                                f"{t['derivative_window']!r} is invalid: must be odd (a centred fit)")
            try:
                split_sizes(t["segments"], t["validation"], t["test"])
            except ValueError as err:
                problems.append(f"config key 'trajectories.{name}.segments': {err}")
        if set(cfg["observed"]) & set(enum("observed")):
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
            if name in BUILTIN_LAWS:
                problems.append(f"config key 'custom_laws.{name}': {name!r} is a built-in law; a custom law "
                                "may not shadow it (give it another name)")
                continue
            try:
                check_law(get_law(name, cfg["custom_laws"]))
            except ExpressionError as err:
                key = f"custom_laws.{name}.potential"
                msg = str(err).removeprefix(f"{key}: ")
                problems.append(f"config key '{key}': {msg}")
            except ValueError as err:
                problems.append(f"config key 'custom_laws.{name}.potential': {err}")
        for section in _sections_with_simulations():
            known = set(BUILTIN_LAWS) | set(cfg["custom_laws"]) | set(enum("observed")) | set(cfg["trajectories"])
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
        if (problem := derivatives_problem(s)) is not None:
            problems.append(problem)
    if problems:
        raise ConfigError("invalid config:\n  " + "\n  ".join(problems))
    return cfg


def derivatives_problem(sim: dict) -> str | None:
    """What is wrong with a ``simulate`` section's finite-difference keys, in one line, or None."""
    if sim["position_noise"] > 0 and sim["derivatives"] == "exact":
        return (f"config key 'simulate.position_noise': value {sim['position_noise']!r} needs "
                "simulate.derivatives: differences or weak (noisy positions beside exact derivatives are no data set anyone has)")
    if sim.get("weak_window") is not None and sim["weak_window"] % 2 == 0:
        return (f"config key 'simulate.weak_window': value {sim['weak_window']!r} is invalid: "
                "must be odd (a centred test function)")
    if sim["derivative_window"] % 2 == 0:
        return (f"config key 'simulate.derivative_window': value {sim['derivative_window']!r} is invalid: "
                "must be odd (a centred fit)")
    return None


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
        own = cfg["custom_laws"][law]
        out["custom_laws"] = {law: {k: v for k, v in own.items() if k != "seed"}}
        if own.get("seed") is not None:
            out["seed"] = own["seed"]
    return out


def sr_settings(cfg: dict, engine: str) -> dict:
    """The SRSettings fields for one engine (threads come from the rule)."""
    return {**stage_values("symbolic", cfg["symbolic"]), "engine": engine}


def rollout_settings(cfg: dict) -> dict:
    """The RolloutSettings fields (threads and the variant list are for the workflow)."""
    return stage_values("rollout", cfg["rollout"])


def trajectory_settings(cfg: dict, name: str) -> dict:
    """The TrajectorySettings fields of one trajectories entry of a validated config."""
    return dict(cfg["trajectories"][name])


def ephemeris_settings(cfg: dict) -> dict:
    """The EphemerisSettings fields of a validated config."""
    return stage_values("ephemeris", cfg["ephemeris"])
