"""Property-based fuzzing of the two doors untrusted text comes through: the restricted
expression parser and the config schema. Whatever the input, the answer is a valid result or
one clear error, in bounded time, and nothing is executed."""

from __future__ import annotations

import builtins
import contextlib
import time

import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from symdistill.core.config import ConfigError, validate_config
from symdistill.core.expr import ExpressionError, parse_expression

NAMES = ["r", "m1", "m2", "q1", "q2"]
BOUND = 5.0  # seconds any single input may take (the parser's own limits keep it far lower)

# pieces an attacker or a typo would use: dunders, calls, attribute chains, huge powers, deep nesting
ATOMS = ["r", "m1", "q2", "1", "0", "2.5", "1e308", "10**100", "__import__", "os", "eval", "exec",
         "open", "lambda", "x", "pi", "E", "exp", "log", "sqrt", "Piecewise", "getattr", "().__class__",
         "[]", "{}", "'a'", "...", "None", "True"]
OPS = ["+", "-", "*", "/", "**", "^", "(", ")", ",", ".", "[", "]", ":", " ", "<", "==", "@", "%", ";", "\n"]
tokens = st.lists(st.sampled_from(ATOMS + OPS), min_size=1, max_size=60).map("".join)


@contextlib.contextmanager
def no_execution(*names: str, texts: list[str] | None = None):
    """Within the block, calling any of these builtins fails the test (the parser must never
    evaluate text; ast.parse only builds a tree). With ``texts``, only calls handed one of those
    untrusted strings fail (libraries such as jsonschema eval their own generated code)."""
    saved = {n: getattr(builtins, n) for n in names}

    def guard(name):
        def call(*a, **k):
            if texts is None or any(isinstance(x, str) and s in x for x in a for s in texts):
                raise AssertionError(f"untrusted text reached {name}()")
            return saved[name](*a, **k)
        return call

    try:
        for n in names:
            setattr(builtins, n, guard(n))
        yield
    finally:
        for n, f in saved.items():
            setattr(builtins, n, f)


def _parse_or_clear_error(text: str) -> None:
    start = time.perf_counter()
    try:
        with no_execution("eval", "exec", "open"):
            out = parse_expression(text, NAMES, what="fuzz")
    except ExpressionError as err:
        msg = str(err)
        assert msg and "fuzz" in msg and "Traceback" not in msg
    else:
        assert isinstance(out, (sp.Basic, int, float))
        assert {s.name for s in out.free_symbols} <= set(NAMES)
    assert time.perf_counter() - start < BOUND


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=200))
def test_random_text_parses_or_fails_clearly(text):
    _parse_or_clear_error(text)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tokens)
def test_adversarial_token_soup_parses_or_fails_clearly(text):
    _parse_or_clear_error(text)


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 5000), st.sampled_from(["r+", "-", "(", "exp(", "r**", "((10**9)**9)**"]))
def test_long_and_nested_inputs_end_in_bounded_time(n, piece):
    _parse_or_clear_error(piece * n + "r" + ")" * (n if "(" in piece else 0))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)
SECTIONS = ["results", "simulations", "dims", "n_bodies", "variants", "seeds", "custom_laws", "simulate", "train",
            "messages", "symbolic", "eql", "rollout"]
KEYS = ["n_sims", "steps", "dt", "lr", "potential", "engines", "operators", "inputs", "variants", "spring",
        "threads", "simulations", "block", "trim", "seed"]
configs = st.dictionaries(
    st.sampled_from(SECTIONS) | st.text(max_size=10),
    json_values | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), json_values, max_size=4),
    max_size=5,
)


def _strings(obj) -> list[str]:
    """The untrusted strings (3+ characters) anywhere in a config value."""
    if isinstance(obj, str):
        return [obj] if len(obj.strip()) > 2 else []
    if isinstance(obj, dict):
        return [s for k, v in obj.items() for s in _strings(k) + _strings(v)]
    if isinstance(obj, list):
        return [s for v in obj for s in _strings(v)]
    return []


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(configs)
def test_any_config_is_valid_or_refused_by_key(cfg):
    start = time.perf_counter()
    try:
        with no_execution("eval", "exec", texts=_strings(cfg)):
            out = validate_config(cfg)
    except ConfigError as err:
        assert str(err).startswith("invalid config") and "config key" in str(err)
    else:
        assert set(out) >= {"simulate", "train", "symbolic"}
    assert time.perf_counter() - start < BOUND


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tokens)
def test_any_custom_potential_is_checked_or_refused_by_key(text):
    try:
        with no_execution("eval", "exec", texts=_strings(text)):
            validate_config({"simulations": ["mine"], "custom_laws": {"mine": {"potential": text}}})
    except ConfigError as err:
        assert "custom_laws.mine" in str(err)
