"""The force route's pair-potential search: messages integrated along each edge, powers found
through log r, and the node-by-node choice on the data."""

import numpy as np
import pytest
import sympy as sp
import torch

from symdistill.core.config import load_config, sr_settings
from symdistill.core.edges import edge_features, edge_matrix, pair_forces, pair_potentials
from symdistill.core.expr import parse_expression
from symdistill.core.laws import POTENTIAL_SYMBOLS, Law
from symdistill.distill.candidates import Candidate
from symdistill.distill.choice import as_good
from symdistill.distill.engines import get_engine
from symdistill.distill.force_law import central_components
from symdistill.distill.inputs import LawInputs
from symdistill.distill.routes import DATA, MESSAGES, POTENTIAL, needed
from symdistill.distill.search import search_front
from symdistill.distill.settings import SRSettings
from symdistill.distill.verdict import judge
from symdistill.gnn.models import GraphNetwork, ModelSettings

NAMES = ["dx", "dy", "r", "m1", "m2", "q1", "q2"]


def settings(**kw) -> SRSettings:
    s = sr_settings(load_config({}), "operon")
    return SRSettings(**{**s, "generations": 20, "choice": "score", **kw})


def test_message_integrals_are_the_integral_of_the_messages_along_the_edge():
    torch.manual_seed(0)
    d = 2
    model = GraphNetwork(ModelSettings(variant="bottleneck", dim=d, node_features=2 * d + 2, msg_dim=d, hidden=16,
                                       layers=2, node_output="newtonian")).double().eval()
    x = torch.randn(2, 2 * d + 2, dtype=torch.float64)
    x[:, -1] = x[:, -1].exp()
    edges = torch.tensor([[1], [0]])  # sender 1, receiver 0
    ref = 0.4
    got = model.message_integrals(x, edges, ref, nodes=24)[0].numpy()
    xi, xj = x[0], x[1]
    dx = xi[:d] - xj[:d]
    u = dx / dx.norm()
    rho = np.linspace(ref, float(dx.norm()), 20001)
    vals = []
    with torch.no_grad():
        for p in rho:
            moved = torch.cat([xi[:d] - u * p, xj[d:]])
            vals.append(model.messages(model.edge_update(xi[None], moved[None]))[0].numpy())
    brute = np.trapezoid(np.array(vals), rho, axis=0)
    np.testing.assert_allclose(got, brute, rtol=1e-3, atol=1e-4)  # a ReLU network: kinks limit the quadrature


def test_log_r_puts_powers_within_reach():
    rng = np.random.default_rng(0)
    r = np.exp(rng.uniform(np.log(0.2), np.log(4), 1500))
    m1, m2 = np.exp(rng.normal(size=(2, 1500)))
    X = np.column_stack([r, m1, m2, np.zeros(1500), np.zeros(1500)])
    y = m1 * m2 * r**-1.5
    front = search_front(get_engine("operon"), X, y, ["r", "m1", "m2", "q1", "q2"], settings(log_r=True))
    rr = sp.Symbol("r", real=True)
    assert any(sp.sympify(c.expression, locals={"r": rr}).has(rr ** sp.Rational(-3, 2)) and c.loss < 1e-10
               for c in front), \
        [c.expression for c in front]


def _edges(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    dx = rng.standard_normal((n, 2)) * 1.3
    m = np.exp(rng.normal(size=(n, 2)))
    q = rng.standard_normal((n, 2))
    return edge_matrix(edge_features(dx, np.zeros_like(dx), m[:, 0], m[:, 1], q[:, 0], q[:, 1]), 2)


def test_a_law_simpler_as_a_potential_is_found_through_its_potential():
    """Yukawa's force e^-r (1 + r) / r^2 from messages that are a rotated, offset copy of it,
    with the work integral of the same map: the potential search offers e^-r / r, whose force is
    the law (chosen on the messages here; the pipeline chooses on the data)."""
    law = Law("yukawa", parse_expression("q1*q2*exp(-r)/r", POTENTIAL_SYMBOLS), 1e-3)
    X = _edges(2500)
    A, b = np.array([[0.3, -1.2], [0.9, 0.4]]), np.array([0.1, -0.2])
    F = pair_forces(law, X, 2)
    M = F @ A.T + b
    dist = X[:, 2] - law.softening
    ref = float(np.median(dist))
    at_ref = X.copy()
    at_ref[:, 2] = ref + law.softening
    u = X[:, :2] / dist[:, None]
    work = -(pair_potentials(law, X, 2) - pair_potentials(law, at_ref, 2))[:, None] * u  # int F d rho
    integrals = work @ A.T + np.outer(dist - ref, b)
    comps, radial = central_components(get_engine("operon"), LawInputs(X, M, NAMES, 2, [0, 1], work=(integrals, ref)),
                                       settings(potential=True))
    found = [m for m in radial["pareto"] if m.get("origin", "").startswith("potential")]
    assert found, "no member came from the potential search"
    assert any(judge(c["expression"], law, 2)["form"] == "correct" for c in comps[0]["pareto"])


def test_a_law_worse_on_almost_every_node_is_not_as_good_despite_a_heavy_tail():
    exact = np.full(800, 1e-30)
    near = np.full(800, 1e-9)
    near[3] = 8e-4  # one close encounter missed badly: a large mean and a larger spread
    assert not as_good(near, exact)
    rng = np.random.default_rng(0)
    a, b = rng.exponential(1e-3, 800), rng.exponential(1e-3, 800)
    assert as_good(a, b) and as_good(b, a)  # equally good laws on noisy data


@pytest.mark.parametrize("loss, runs", [(0.0, False), (1e-3, True)])
def test_a_costly_route_runs_only_where_no_law_is_exact(loss, runs):
    """With the data choice the data search and the potential's searches run only when no
    candidate calibrated so far reproduces the data exactly; a route the settings do not enable
    never runs, and without the data choice (nothing calibrated) every enabled route runs."""
    calibrated = [Candidate(5, "r", data_loss=1.0), Candidate(7, "r**2", data_loss=loss)]
    assert needed(POTENTIAL, True, calibrated) is runs and needed(DATA, True, calibrated) is runs
    assert needed(MESSAGES, True, calibrated)
    assert not needed(POTENTIAL, False, calibrated)
    assert needed(POTENTIAL, True, None)
