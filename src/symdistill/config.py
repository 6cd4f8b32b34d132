"""Load and validate the workflow config against its JSON schema, filling in defaults.

The same function serves the Snakefile (at start-up, before any job runs) and every console
entry point, so a bad value is reported the same way everywhere: by its key and value.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
from importlib import resources
from pathlib import Path

import jsonschema
import yaml

from symdistill.expr import ExpressionError
from symdistill.laws import BUILTIN_LAWS, check_law, get_law
from symdistill.simulate import split_sizes

#: the one place defaults live; package data, so it is found from any install (the workflow's
#: workflow/schemas/config.schema.yaml is a link to it)
SCHEMA = "config.schema.yaml"


class ConfigError(ValueError):
    """The config is invalid; the message names the key and the offending value."""


@functools.lru_cache(maxsize=1)
def _schema_text() -> str:
    return resources.files("symdistill").joinpath(SCHEMA).read_text()


def _schema() -> dict:
    return yaml.safe_load(_schema_text())


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
    schema = _schema()
    cls = _with_defaults(jsonschema.validators.validator_for(schema))
    errors = sorted(cls(schema).iter_errors(cfg), key=lambda e: list(map(str, e.absolute_path)))
    problems = [_describe(e) for e in errors]
    if not problems:
        for i, name in enumerate(cfg["simulations"]):
            if name not in BUILTIN_LAWS and name not in cfg["custom_laws"]:
                problems.append(
                    f"config key 'simulations.{i}': unknown simulation {name!r}; choose from "
                    f"{sorted(BUILTIN_LAWS)} or define it under 'custom_laws'"
                )
        for name in cfg["custom_laws"]:
            try:
                check_law(get_law(name, cfg["custom_laws"]))
            except ExpressionError as err:
                problems.append(str(err))
            except ValueError as err:
                problems.append(f"config key 'custom_laws.{name}.potential': {err}")
        for i, name in enumerate(cfg["eql"]["simulations"]):  # a known law outside 'simulations'
            if name not in BUILTIN_LAWS and name not in cfg["custom_laws"]:  # is narrowed away
                problems.append(f"config key 'eql.simulations.{i}': unknown simulation {name!r}")
        cfg["eql"]["simulations"] = [s for s in cfg["eql"]["simulations"] if s in cfg["simulations"]]
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


def check_settings(section: str, settings: dict, cls=None, ignore: tuple[str, ...] = ()) -> None:
    """Validate a console script's JSON settings through the workflow's schema: every key the
    schema section ``section`` knows (``eql_*`` keys against the ``eql`` section), except
    ``ignore`` (keys whose shape differs there), must satisfy its rule, and, given the settings
    dataclass ``cls``, no key may be unknown to it."""
    if not isinstance(settings, dict):
        raise ConfigError(f"--settings must be a JSON object, got {type(settings).__name__}")
    props = _schema()["properties"]
    if cls is not None:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(settings) - known)
        if unknown:
            raise ConfigError(f"unknown {section} settings {unknown}; known: {sorted(known)}")
    problems = []
    for key, value in settings.items():
        where, name = (("eql", key[4:]) if key.startswith("eql_") else (section, key))
        rule = props.get(where, {}).get("properties", {}).get(name)
        if rule is None or key in ignore:
            continue
        rule = {k: v for k, v in rule.items() if k != "default"}
        for err in jsonschema.validators.validator_for(rule)(rule).iter_errors(value):
            problems.append(f"settings key '{key}': value {value!r} is invalid: {err.message}")
    if problems:
        raise ConfigError("; ".join(problems))


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
    s = cfg["simulate"]
    dt = s["dt"].get(law, cfg["custom_laws"].get(law, {}).get("dt"))
    fields = ("n_sims", "steps", "rtol", "atol", "seed", "validation", "test", "block")
    out = {k: s[k] for k in fields}
    out["dt"] = dt
    if law in cfg["custom_laws"]:
        out["custom_laws"] = {law: cfg["custom_laws"][law]}
    return out


_SCHEDULING_KEYS = ("batch_size_per_n", "gpus", "mem_mb", "runtime")


def train_settings(cfg: dict, n: int, variant: str = "standard", dim: int = 2, sim: str = "") -> dict:
    """The TrainSettings fields (besides variant, seed, threads) for one model."""
    t = cfg["train"]
    out = {k: v for k, v in t.items() if k not in _SCHEDULING_KEYS and k != "threads"}
    out["batch_size"] = t["batch_size_per_n"].get(str(n), t["batch_size"])
    if variant == "eql":
        e = cfg["eql"]
        inputs = [i for i in e["inputs_per_sim"].get(sim, e["inputs"]) if i != "dz"]
        if dim == 3 and "dy" in inputs:
            inputs.insert(inputs.index("dy") + 1, "dz")
        out.update({f"eql_{k}": v for k, v in e.items()
                    if k not in ("simulations", "inputs", "inputs_per_sim", "node_output", "steps", "lr",
                                 "grad_clip")})
        out.update(eql_inputs=inputs, node_output=e["node_output"], grad_clip=e["grad_clip"])
        out.update({k: e[k] for k in ("steps", "lr") if k in e})
    return out


def sr_settings(cfg: dict, engine: str) -> dict:
    """The SRSettings fields for one engine (threads come from the rule)."""
    out = {k: v for k, v in cfg["symbolic"].items() if k not in ("engines", "variants", "threads")}
    out["engine"] = engine
    return out


def rollout_settings(cfg: dict) -> dict:
    """The RolloutSettings fields (threads and the variant list are for the workflow)."""
    return {k: v for k, v in cfg["rollout"].items() if k not in ("variants", "threads")}


def models(cfg: dict) -> list[tuple[str, int, int, str, int]]:
    """Every (simulation, dim, n, variant, seed) model of the experiment matrix (eql included)."""
    out = []
    for ds in datasets(cfg):
        variants = list(cfg["variants"]) + (["eql"] if ds[0] in cfg["eql"]["simulations"] else [])
        out += [(*ds, v, s) for v in variants for s in cfg["seeds"]]
    return out


def datasets(cfg: dict) -> list[tuple[str, int, int]]:
    """Every (simulation, dim, n) data set of the experiment matrix."""
    return [(s, d, n) for s in cfg["simulations"] for d in cfg["dims"] for n in cfg["n_bodies"]]
