"""The config schema: the one place defaults live, and the typed per-stage settings built from it.

``config.schema.yaml`` is package data (found from any install through importlib.resources; the
workflow's ``workflow/schemas/config.schema.yaml`` links to it). ``stage_settings`` turns a
section of it into a dataclass whose field defaults *are* the schema's, so no default is written
twice; ``check_settings`` validates a console script's JSON settings by the same rules.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
from importlib import resources

import jsonschema
import yaml

SCHEMA = "config.schema.yaml"


class ConfigError(ValueError):
    """The config is invalid; the message names the key and the offending value."""


@functools.lru_cache(maxsize=1)
def _schema_text() -> str:
    return resources.files("symdistill.core").joinpath(SCHEMA).read_text()


@functools.lru_cache(maxsize=1)
def _parsed() -> dict:
    """The schema parsed once per process (libyaml's C loader where PyYAML has it): every job
    reads it at import for its settings' defaults, and the pure-Python parser took 0.2 s a time."""
    return yaml.load(_schema_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def schema() -> dict:
    """A fresh copy of the parsed schema."""
    return copy.deepcopy(_parsed())


@functools.lru_cache(maxsize=None)
def _section(section: str) -> dict:
    """A section's properties: a top-level key, or "$defs/<name>" for an entry of a mapping (a
    ``trajectories`` entry)."""
    if section.startswith("$defs/"):
        return _defs()[section.removeprefix("$defs/")]["properties"]
    return _parsed()["properties"][section]["properties"]


@functools.lru_cache(maxsize=1)
def _defs() -> dict:
    return _parsed()["$defs"]


def enum(name: str) -> list[str]:
    """The allowed values of a shared definition under ``$defs`` (e.g. the GNN variant names)."""
    return list(_defs()[name]["enum"])


def stage_settings(section: str, shaped_elsewhere: tuple[str, ...] = ()):
    """Class decorator: a dataclass whose field defaults are the schema's for ``section``.

    A field the schema knows must not carry a default of its own (it would be a second source
    of truth); ``shaped_elsewhere`` names fields whose schema entry has another shape (a per-law
    map, say) and so keep the class's own. Fields unknown to the schema are the caller's to give.
    """

    def wrap(cls):
        props = _section(section)
        for name in cls.__dict__.get("__annotations__", {}):
            rule = props.get(name)
            if rule is None or name in shaped_elsewhere or "default" not in rule:
                continue
            if name in cls.__dict__:
                raise TypeError(f"{cls.__name__}.{name}: its default is the schema's ({section}.{name})")
            value = rule["default"]
            if isinstance(value, (list, dict)):
                setattr(cls, name, dataclasses.field(default_factory=functools.partial(copy.deepcopy, value)))
            else:
                setattr(cls, name, value)
        return dataclasses.dataclass(cls)

    return wrap


def stage_values(section: str, values: dict) -> dict:
    """The entries of a validated config section that are the stage's own settings (not the
    workflow's: keys marked ``x-workflow`` in the schema, such as threads and job lists)."""
    props = _section(section)
    return {k: v for k, v in values.items() if not props.get(k, {}).get("x-workflow")}


def settings_json(text: str, section: str, cls, **kw) -> dict:
    """A console script's ``--settings`` JSON, parsed and checked (check_settings) as a dict."""
    try:
        settings = json.loads(text)
    except json.JSONDecodeError as err:
        raise ConfigError(f"--settings is not valid JSON ({err})") from None
    check_settings(section, settings, cls, **kw)
    return settings


def check_settings(section: str, settings: dict, cls=None, ignore: tuple[str, ...] = (),
                   nested: dict[str, tuple[str, type]] | None = None) -> None:
    """Validate a console script's JSON settings through the workflow's schema.

    Every key the schema section ``section`` knows (except ``ignore``: keys whose shape differs
    there) must satisfy its rule; given the settings dataclass ``cls``, no key may be unknown to
    it. ``nested`` maps a key holding a sub-object to its (schema section, dataclass).
    """
    if not isinstance(settings, dict):
        raise ConfigError(f"--settings must be a JSON object, got {type(settings).__name__}")
    nested = nested or {}
    if cls is not None:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(settings) - known)
        if unknown:
            raise ConfigError(f"unknown {section} settings {unknown}; known: {sorted(known)}")
    problems = []
    for key, value in settings.items():
        if key in nested and isinstance(value, dict):
            sub, sub_cls = nested[key]
            try:
                check_settings(sub, value, sub_cls)
            except ConfigError as err:
                problems.append(f"{key}: {err}")
            continue
        rule = _section(section).get(key)
        if rule is None or key in ignore:
            continue
        rule = {**{k: v for k, v in rule.items() if k != "default"}, "$defs": _defs()}  # $refs resolve
        for err in jsonschema.validators.validator_for(rule)(rule).iter_errors(value):
            problems.append(f"settings key '{key}': value {value!r} is invalid: {err.message}")
    if problems:
        raise ConfigError("; ".join(problems))
