"""The separable-structure search: phi_k(m, q) g_k(r) terms found on the data, each g_k searched
in r alone."""

import numpy as np
import sympy as sp

from symdistill.core.expr import parse_expression
from symdistill.distill import separable
from symdistill.distill.engines import SearchContext, get_engine
from symdistill.distill.routes.messages import separable_candidates
from symdistill.distill.search import evaluate
from symdistill.distill.settings import SRSettings
from symdistill.distill.verdict import fresh_edges

NAMES = ["r", "m1", "m2", "q1", "q2"]


def _edges(count: int = 3000, seed: int = 4, rmax: float = 4.0) -> np.ndarray:
    X = fresh_edges(2, False, count=count, seed=seed)  # dx, dy, r, m1, m2, q1, q2
    X = X[(X[:, 2] > 0.1) & (X[:, 2] < rmax)]
    return X[:, 2:]


def _noisy(y: np.ndarray, level: float = 1e-3, seed: int = 0) -> np.ndarray:
    return y + level * np.median(np.abs(y)) * np.random.default_rng(seed).standard_normal(len(y))


def _factors(st: separable.Structure) -> set[str]:
    return {str(t.factor) for t in st.terms}


def test_a_charge_plus_a_spring_is_two_terms():
    S = _edges()
    r, q1, q2 = S[:, 0], S[:, 3], S[:, 4]
    y = _noisy(q1 * q2 / r**2 + (r - 1.0))
    found = separable.structures(S, y, NAMES)
    assert _factors(found[-1]) == {"q1*q2", "1"}, [st.describe() for st in found]
    assert found[-1].cv_error < 1e-2
    # each term's partial residual is its own function of r alone
    for term, (mask, target) in zip(found[-1].terms, separable.partial_targets(found[-1], y)):
        truth = 1 / r**2 if str(term.factor) == "q1*q2" else r - 1.0
        assert np.corrcoef(target[mask], truth[mask])[0, 1] > 0.999


def test_a_product_law_is_one_term_and_stops_there():
    S = _edges()
    r, m1, m2 = S[:, 0], S[:, 1], S[:, 2]
    found = separable.structures(S, _noisy(m1 * m2 * np.exp(-r) / r), NAMES)
    assert [_factors(st) for st in found] == [{"m1*m2"}], [st.describe() for st in found]


def test_a_law_outside_the_family_is_not_forced_into_it():
    """A reduced mass m1 m2 / (m1 + m2) is no sum of monomials: the best structure leaves an error
    far above a separable law's."""
    S = _edges()
    r, m1, m2 = S[:, 0], S[:, 1], S[:, 2]
    found = separable.structures(S, _noisy(m1 * m2 / (m1 + m2) / r**2), NAMES)
    assert found[-1].cv_error > 1e-2, [st.describe() for st in found]


def test_monomials_skip_constant_columns_and_invert_positive_ones():
    S = _edges(500)
    S[:, 4] = 1.0  # q2 constant
    exprs = {str(e) for e, _ in separable.monomials(S, NAMES)}
    assert "1" in exprs and "m1/m2" in exprs and "q1" in exprs
    assert not any("q2" in e for e in exprs)
    assert "1/q1" not in exprs  # q1 changes sign: no inverse


def test_separable_search_recovers_a_two_term_law():
    """Operon on each g_k alone: a charge plus a spring, a law the free five-variable search rarely
    reaches at this budget, comes out with both terms."""
    S = _edges(2000)
    r, q1, q2 = S[:, 0], S[:, 3], S[:, 4]
    truth = 0.7 * (q1 * q2 / r**2 + 2.0 * (r - 1.0))
    radial = _noisy(truth)
    s = SRSettings(engine="operon", generations=20, population_size=300, threads=1, seed=0)
    laws, tried = separable_candidates(get_engine("operon"), S, radial, np.zeros_like(radial), NAMES, s,
                                       SearchContext())
    assert any(set(t["factors"]) == {"q1*q2", "1"} and t["searched"] for t in tried), tried
    test = _edges(2000, seed=9, rmax=6.0)  # fresh edges, beyond the searched distances
    exact = 0.7 * (test[:, 3] * test[:, 4] / test[:, 0] ** 2 + 2.0 * (test[:, 0] - 1.0))

    def error(expression: str) -> float:
        g = evaluate(expression, NAMES, test)
        if not np.isfinite(g).all():
            return np.inf
        scale = g @ exact / max(g @ g, 1e-300)
        return float(np.linalg.norm(scale * g - exact) / np.linalg.norm(exact))

    best = min(laws, key=lambda c: error(c.expression))
    assert error(best.expression) < 1e-2, [c.expression for c in laws[:10]]
    assert sp.Symbol("q1", real=True) in sp.sympify(best.expression, locals={
        n: sp.Symbol(n, real=True) for n in NAMES}).free_symbols


def test_exhaustive_candidates_carry_potentials_and_pass_on_ties():
    """Forces found as a potential's derivative carry the potential (calibrated as one); members
    off the front that fit about as well are passed on, marked, at most TIES of them."""
    from symdistill.distill.search import TIES, exhaustive_candidates

    rng = np.random.default_rng(2)
    r = np.exp(rng.uniform(np.log(0.3), np.log(4.0), 1000))
    y = np.exp(-2 * r) * (1 + 2 * r) / r**2 * (1 + 0.01 * rng.normal(size=r.size))
    s = SRSettings(engine="operon", threads=1, seed=0)
    front, ties = exhaustive_candidates(r, y, "r", s, derivative=True)
    law = min(front, key=lambda c: c.loss)
    assert law.potential is not None and "exp" in law.potential
    u = parse_expression(law.potential, ["r"])
    force = sp.lambdify(sp.Symbol("r", real=True), -sp.diff(u, sp.Symbol("r", real=True)))(r)
    assert np.allclose(force, evaluate(law.expression, ["r"], r[:, None]), rtol=1e-9)
    assert len(ties) <= TIES and all(t.tied for t in ties)
    assert all(t.loss <= s.loss_tolerance * law.loss for t in ties)
