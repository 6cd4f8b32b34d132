"""Symbolic regression engines and the automatic verdict on recovered laws."""

import json

import numpy as np
import pytest
import sympy as sp

from symdistill.expr import ExpressionError, parse_expression
from symdistill.laws import BUILTIN_LAWS, Law, r
from symdistill.symbolic import (Candidate, EngineUnavailable, PySREngine, SRSettings, choose,
                                 get_engine, main as sr_main, pareto, to_sympy_string)
from symdistill.verdict import fresh_edges, judge, true_laws

NAMES = ["dx", "dy", "r", "m1", "m2", "q1", "q2"]
GENERATIONS = 20


def P(text):
    return parse_expression(text, NAMES)


@pytest.mark.parametrize("law", ["spring", "r1", "r2", "charge"])
def test_rotated_scaled_force_is_correct(law):
    fx, fy = true_laws(BUILTIN_LAWS[law], 2)["force"]
    assert judge(0.8 * fx - 1.7 * fy + 0.3, BUILTIN_LAWS[law], 2)["verdict"] == "correct"


@pytest.mark.parametrize("law", ["r1", "r2"])
def test_acceleration_is_correct_up_to_m1(law):
    ax, ay = true_laws(BUILTIN_LAWS[law], 2)["acceleration"]
    assert judge(2.5 * ax + ay, BUILTIN_LAWS[law], 2)["verdict"] == "correct up to 1/m1"


def test_near_miss_is_wrong_even_if_it_fits_the_training_range():
    law = BUILTIN_LAWS["r2"]
    near = P("m1*m2*dx/r**2")  # the r1 law, for an r2 system
    # in a narrow training-like range (|dx| around 1) the near miss still fits well...
    X = fresh_edges(2, False, count=2000)
    X = X[(X[:, 2] > 0.9) & (X[:, 2] < 1.3)]
    f = sp.lambdify([sp.Symbol(c, real=True) for c in NAMES], near)(*X.T)
    t = sp.lambdify([sp.Symbol(c, real=True) for c in NAMES], true_laws(law, 2)["force"][0])(*X.T)
    assert np.corrcoef(f, t)[0, 1] ** 2 > 0.9
    # ...but the verdict, on wider fresh edges and symbolically, says wrong
    out = judge(near, law, 2)
    assert out["verdict"] == "wrong"
    assert out["evidence"]["force"]["numeric"]["r2"] < 0.999
    assert not out["evidence"]["force"]["symbolic"]["pass"]


def test_operon_style_output_with_fitted_constants_is_judged_correct():
    text = ("(0.1000 + (0.9989 * (((6.6463 * r) - 6.6352) * (((((-0.0425) * dx) / ((-1.9677) * r))"
            " + ((0.7518 * dy) - ((-1.7516) * dx))) / ((-8.3141) * r)))))")
    assert judge(P(text), BUILTIN_LAWS["spring"], 2)["verdict"] == "correct"


def test_custom_potential_gets_a_verdict():
    law = Law("quad", P("m1*m2*r**2").subs(sp.Symbol("r", real=True), r), 1e-3)
    good = P("m1*m2*dx")  # F = -2 m1 m2 r dx/|dx| ~ m1 m2 dx
    assert judge(good, law, 2)["verdict"] == "correct"
    assert judge(P("m1*dx"), law, 2)["verdict"] == "wrong"


@pytest.mark.parametrize("text", [
    "__import__('os').system('echo pwned')", "dx.__class__", "open('x')", "dx; import os",
    "lambda: 0", "[dx]", "dx if r else dy",
])
def test_hostile_engine_output_is_rejected(text):
    with pytest.raises(ExpressionError):
        to_sympy_string(text, NAMES)


def test_pareto_and_choice():
    cands = [Candidate(3, 1.0, "dx"), Candidate(5, 0.01, "dx/r"), Candidate(7, 0.0099, "dx/r + 1"),
             Candidate(5, 0.5, "dy"), Candidate(9, 0.2, "dx*dy")]
    front = pareto(cands)
    assert [c.complexity for c in front] == [3, 5, 7]
    assert choose(front).expression == "dx/r"


def test_operon_recovers_planted_law():
    """Noiseless r1-like data: some front member is the true force, and the verdict finds it."""
    law = BUILTIN_LAWS["r1"]
    X = fresh_edges(2, False, count=1000, seed=3)
    X = X[X[:, 2] > 0.3]
    fx, fy = true_laws(law, 2, softened=False)["force"]
    target = sp.lambdify([sp.Symbol(c, real=True) for c in NAMES], 1.5 * fx)(*X.T)
    # a generation cap on one thread makes the search repeatable whatever the machine's load
    s = SRSettings(time_limit=600, generations=GENERATIONS, population_size=500, max_length=25, seed=1, threads=1)
    front = pareto(get_engine("operon").search(X, target, NAMES, s))
    verdicts = [judge(c.expression, law, 2)["verdict"] for c in front]
    assert "correct" in verdicts, [c.expression for c in front]


def test_pysr_unavailable_is_explained(tmp_path, monkeypatch, capsys):
    try:
        PySREngine.check()
    except EngineUnavailable as err:
        reason = str(err)
    else:
        pytest.skip("PySR has Julia here; the missing-Julia message cannot be checked")
    assert "Julia" in reason or "not installed" in reason
    with pytest.raises(SystemExit) as exit_:
        sr_main(["--messages", "m.h5", "--selected", "s.json", "--out", str(tmp_path / "o.json"),
                 "--settings", json.dumps({"engine": "pysr"})])
    assert "Julia" in str(exit_.value) or "not installed" in str(exit_.value)


def test_pysr_engine_runs_where_julia_exists():
    try:
        PySREngine.check()
    except EngineUnavailable as err:
        pytest.skip(str(err))
    X = fresh_edges(2, False, count=300)
    y = X[:, 0] / X[:, 2] ** 2
    front = get_engine("pysr").search(X, y, NAMES, SRSettings(engine="pysr", time_limit=30, iterations=20))
    assert front
