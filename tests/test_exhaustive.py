"""The exhaustive one-variable search: what it writes, what it finds, and that it can fail."""

import numpy as np
import pytest
import sympy as sp

from symdistill.core.expr import parse_expression
from symdistill.distill import exhaustive

OPERATORS = ["add", "sub", "mul", "div", "exp", "log", "sqrt"]
NAMES = ["dx", "dy", "r", "m1", "m2", "q1", "q2"]


def sample(fn, count=600, seed=0):
    x = np.exp(np.random.default_rng(seed).uniform(np.log(0.2), np.log(4.0), count))
    return x, fn(x)


def test_trees_are_written_once_and_stay_small():
    unary, binary = exhaustive.grammar(OPERATORS)
    levels = exhaustive.trees(6, 2, unary, binary)
    flat = [t for level in levels for t in level]
    assert len(flat) == len(set(flat))
    assert all(exhaustive._consts(t) <= 2 for t in flat)
    # no constant-only subtree, no c + c or u(c)
    assert ("add", ("c",), ("c",)) not in flat and ("exp", ("c",)) not in flat


def test_grammar_follows_the_operators():
    assert exhaustive.grammar(["add", "mul"]) == (("square",), ("add", "mul"))
    assert "pow" in exhaustive.grammar(["exp", "log"])[1]


@pytest.mark.parametrize("truth, size", [
    (lambda x: 2 * x / (1 + x**2), 5),          # a logarithmic well's force
    (lambda x: -1 / np.sqrt(1 + x**2), 6),      # a softened potential
    (lambda x: np.exp(-2 * x) / x, 6),          # screened
    (lambda x: x**2.5, 3),                      # a non-integer power
])
def test_short_laws_are_found_exactly(truth, size):
    x, y = sample(truth)
    front = exhaustive.front(exhaustive.search(x, y, OPERATORS, size=7))
    best = [f for f in front if f[0] <= size]
    assert best and best[-1][1] < 1e-12 * np.var(y)
    n, loss, tree, theta, a, b = best[-1][:6]
    law = parse_expression(f"{a!r}*({exhaustive.text(tree, theta, 'r')}) + {b!r}", ["r"])
    got = sp.lambdify(sp.Symbol("r", real=True), law)(x)
    assert np.allclose(got, y, rtol=1e-6, atol=1e-9 * np.abs(y).max())


def test_a_law_beyond_the_size_is_not_found():
    x, y = sample(lambda x: np.exp(-x) * (1 + x) / x**2 + np.sin(3 * x))
    front = exhaustive.front(exhaustive.search(x, y, OPERATORS, size=5))
    assert front[-1][1] > 1e-3 * np.var(y)
    assert [f[0] for f in front] == sorted({f[0] for f in front})  # one member per size, losses falling
    assert all(a[1] > b[1] for a, b in zip(front, front[1:]))


def test_search_is_repeatable():
    x, y = sample(lambda x: x / (1 + x**2) + 0.01 * np.cos(7 * x))
    one, two = (exhaustive.search(x, y, OPERATORS, size=6, seed=3) for _ in range(2))
    assert [(f[0], f[1]) for f in one] == [(f[0], f[1]) for f in two]


def test_weights_read_the_errors_in_the_messages_scale():
    """On y / phi (a separable term's target), edges with a small phi carry large errors; weighted
    by phi^2 the law is found, unweighted a look-alike that fits the noisy edges wins."""
    rng = np.random.default_rng(1)
    x = np.exp(rng.uniform(np.log(0.3), np.log(4.0), 800))
    phi = np.exp(rng.normal(0.0, 1.5, 800))
    truth = x / np.sqrt(1 + x**2)
    y = truth + rng.normal(0.0, 0.02, 800) / phi
    weighted = exhaustive.front(exhaustive.search(x, y, OPERATORS, size=7, weights=phi**2))
    best = min(weighted, key=lambda m: m.loss)
    f = exhaustive.evaluate(best.tree, x, best.theta)
    assert np.sqrt(np.mean((best.a * f + best.b - truth) ** 2)) < 0.01
    plain = exhaustive.front(exhaustive.search(x, y, OPERATORS, size=7))
    g = min(plain, key=lambda m: m.loss)
    fit = g.a * exhaustive.evaluate(g.tree, x, g.theta) + g.b
    assert np.sqrt(np.mean((fit - truth) ** 2)) > np.sqrt(np.mean((best.a * f + best.b - truth) ** 2))


def test_a_force_is_found_as_the_derivative_of_a_short_potential():
    """The screened force e^(-2r)(1 + 2r)/r^2 is eleven nodes; as -dU/dr of U = e^(-2r)/r it is
    found in a search of six, and not in a search of six on the force itself."""
    x, y = sample(lambda x: np.exp(-2 * x) * (1 + 2 * x) / x**2)
    as_force = exhaustive.front(exhaustive.search(x, y, OPERATORS, size=6))
    assert as_force[-1].loss > 1e-8 * np.var(y)
    as_potential = exhaustive.front(exhaustive.search(x, y, OPERATORS, size=6, derivative=True))
    assert as_potential[-1].loss < 1e-12 * np.var(y)


