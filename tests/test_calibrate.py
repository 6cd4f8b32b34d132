"""Calibration on the data: a correct law recovers its constants, a wrong law stays wrong."""

from __future__ import annotations

import numpy as np
import pytest

from symdistill.core.laws import BUILTIN_LAWS
from symdistill.distill.calibrate import Frames, calibrate_law, free_constants
from symdistill.distill.verdict import law_constants
from symdistill.physics.simulate import SimSettings, draw_initial_states, simulate
from symdistill.rollout.run import rollout


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Small r2 and spring data sets (n = 4, 2-D)."""
    out = {}
    for law in ("spring", "r2"):
        path = tmp_path_factory.mktemp(law) / "data.h5"
        out[law] = simulate(SimSettings(law=law, n=4, dim=2, n_sims=20, steps=40, block=10), path, quiet=True)
    return out


def frames(path):
    return Frames.read(path, "train", 100, 0.01), Frames.read(path, "validation", 100, 0.01)


def test_free_constants_leave_exact_numbers():
    import sympy as sp

    r, m1 = sp.symbols("r m1", real=True)
    template, params, values = free_constants(1.7 * m1 * sp.exp(-0.4 * r) / r**2)
    assert sorted(values.tolist()) == [-0.4, 1.7]
    assert template.has(r**-2)  # the exponent is exact, not a constant to fit


def test_message_components_in_the_unit_direction_recover_their_constants(data):
    """An EQL-style law written per component in the unit direction dx / (r - 0.01): the
    softening is held (the data's geometry), the 20% wrong strength and rest length come back."""
    from symdistill.distill.calibrate import law_parts

    law = {"components": ["1.2*dx*(0.8 - r)/(r - 0.01)", "1.2*dy*(0.8 - r)/(r - 0.01)"]}
    _, params, theta = law_parts(law, 2, 0.01)
    assert len(params) == 4 and 0.01 not in np.abs(theta)  # two constants per component, softening held
    train, held_out = frames(data["spring"])
    cal = calibrate_law(law, train, held_out)
    assert cal.median_relative_error < 1e-9
    c = law_constants(cal.model, BUILTIN_LAWS["spring"])
    assert c["strength"] == pytest.approx(1, abs=1e-6)
    assert c["term_ratios"][0]["recovered"] == pytest.approx(c["term_ratios"][0]["true"], rel=1e-6)


def test_correct_law_recovers_its_constants(data):
    """Spring's radial law with a 10% wrong rest length and strength: calibrated on the data,
    the stiffness and rest length come back to within 1e-6, and the accelerations to 1e-9."""
    train, held_out = frames(data["spring"])
    cal = calibrate_law({"radial": "1.8*(0.9 - r)"}, train, held_out)
    assert cal.model.divide_by_mass  # the data chose the division by the receiver's mass
    assert cal.median_relative_error < 1e-9
    c = law_constants(cal.model, BUILTIN_LAWS["spring"])
    assert c["strength"] == pytest.approx(1, abs=1e-6)
    (ratio,) = c["term_ratios"]
    assert ratio["recovered"] == pytest.approx(ratio["true"], rel=1e-6)  # the rest length
    assert c["unexplained"] < 1e-6


def test_wrong_law_is_not_made_to_look_right(data):
    """1/r in place of r2's 1/r^2: calibration moves its constants but it cannot fit the data,
    and its rollout stays far from the truth while the calibrated correct law follows it."""
    train, held_out = frames(data["r2"])
    right = calibrate_law({"radial": "-0.7*m1*m2/r**2"}, train, held_out)
    wrong = calibrate_law({"radial": "-0.7*m1*m2/r"}, train, held_out)
    assert right.loss < 1e-20 < 1e-3 < wrong.loss
    assert wrong.median_relative_error > 0.05
    law = BUILTIN_LAWS["r2"]
    init = draw_initial_states(law, 4, 2, 6, seed=3)
    times = np.arange(300) * law.dt
    truth, _, _ = rollout(None, init, times, 1e-10, 1e-10, np.inf, law)
    err = {}
    for name, cal in (("right", right), ("wrong", wrong)):
        pos, _, _ = rollout(cal.model.accelerations, init, times, 1e-10, 1e-10, 1e8)
        err[name] = np.median(np.sqrt(((pos - truth) ** 2).mean(axis=(2, 3)))[:, -1])
    assert err["right"] < 1e-6 and err["wrong"] > 1e-2, err


def test_acceleration_messages_choose_no_division(data):
    """A law whose terms are accelerations (F / m1): the data choose no division by the mass."""
    train, held_out = frames(data["r2"])
    cal = calibrate_law({"radial": "-1.3*m2/r**2"}, train, held_out)
    assert not cal.model.divide_by_mass and cal.loss < 1e-20


def test_a_term_searched_on_the_data_is_the_law_in_its_read_out_family(data):
    """A one-variable search scored on the accelerations (``TermData``): with the factor m1 m2
    and the division by the receiver's mass, the short r2 law is found to the data's precision;
    the same search without the division finds nothing that fits; and a tree's screened loss
    is the squared norm of its fitted residuals (the variable projection is exact)."""
    from symdistill.distill import exhaustive
    from symdistill.distill.calibrate import TermData

    train, _ = frames(data["r2"])
    cols = dict(zip(["dx", "dy", "r", "m1", "m2", "q1", "q2"], train.columns))
    factor = cols["m1"] * cols["m2"]
    ops = ["add", "sub", "mul", "div", "exp", "log", "sqrt"]
    right = exhaustive.front(exhaustive.search_target(TermData(train, factor, [], True), ops, size=4))
    best = min(right, key=lambda m: m.loss)
    assert best.loss < 1e-20
    f = exhaustive.evaluate(best.tree, cols["r"], best.theta)
    np.testing.assert_allclose(best.a * f + best.b, -1 / cols["r"] ** 2, rtol=1e-7, atol=1e-9)
    wrong = exhaustive.search_target(TermData(train, factor, [], False), ops, size=4)
    assert min(m.loss for m in wrong) > 1e-3
    target = TermData(train, factor, [], True)
    g = 1 / (cols["r"] + 0.3)
    _, resid = target.fit(g.reshape(-1))
    assert target.losses(g.reshape(1, -1))[0] == pytest.approx(float(resid @ resid) / target.nodes, rel=1e-9)


def test_the_data_searchs_sum_over_neighbours_is_the_pairs_own_on_a_periodic_radius_graph():
    """``TermData`` sums edges onto receivers with one sparse product; on a periodic radius graph
    (padded to one edge count per graph) it agrees with ``Pairs.sum``, and padding never counts
    (its values set to NaN change nothing)."""
    from symdistill.core.geometry import Geometry
    from symdistill.distill.calibrate import TermData

    rng = np.random.default_rng(4)
    G, n, d, L = 3, 20, 3, 4.0
    pos = rng.uniform(0, L, (G, n, d))
    ones = np.ones((G, n))
    geometry = Geometry(1.5, ((L, 0, 0), (0, L, 0), (0, 0, L)))
    f = Frames(pos, np.zeros_like(pos), ones, ones, rng.standard_normal((G, n, d)), 0.0, geometry)
    assert f.pairs.valid is not None and not f.pairs.valid.all()  # padded
    values = rng.standard_normal(f.pairs.valid.shape)
    target = TermData(f, np.ones_like(values), [], divide=False)
    want = f.pairs.sum(values[..., None])[..., 0].reshape(-1)
    np.testing.assert_allclose(target.gather @ values.reshape(-1), want, rtol=1e-12, atol=1e-12)
    values[~f.pairs.valid] = np.nan
    np.testing.assert_allclose(target.gather @ values.reshape(-1), want, rtol=1e-12, atol=1e-12)


def test_a_terms_offset_carries_its_factor(tmp_path):
    """The force m1 m2 (r + 3) of U = m1 m2 (r^2 / 2 + 3 r) is one tree (r) and the term's
    offset b times the same factor m1 m2: the data search finds it exactly, b / a = 3."""
    from symdistill.distill import exhaustive
    from symdistill.distill.calibrate import TermData
    from symdistill.physics.simulate import SimSettings, simulate

    text = "m1*m2*(r**2/2 + 3*r)"
    path = simulate(SimSettings(law="lin", n=4, dim=2, n_sims=10, steps=40, block=10,
                                custom_laws={"lin": {"potential": text, "dt": 5e-3}}), tmp_path / "d.h5", quiet=True)
    train = Frames.read(path, "train", 50, 0.01)
    cols = dict(zip(["dx", "dy", "r", "m1", "m2", "q1", "q2"], train.columns))
    found = exhaustive.search_target(TermData(train, cols["m1"] * cols["m2"], [], True),
                                     ["add", "sub", "mul", "div", "exp", "log", "sqrt"], size=1)
    assert found[0].tree == ("x",) and found[0].loss < 1e-20
    assert found[0].b / found[0].a == pytest.approx(3.0, rel=1e-8)


def test_a_sample_of_a_large_graphs_nodes_keeps_every_edge_into_them():
    """On graphs larger than the sample, ``TermData.sample`` draws receivers with every edge into
    them: a tree's loss there is the same law's on fewer nodes (zero for the law itself)."""
    from symdistill.distill.calibrate import TermData

    rng = np.random.default_rng(2)
    G, n, d = 2, 30, 2
    pos = rng.uniform(0, 6, (G, n, d))
    masses = np.exp(rng.normal(size=(G, n)))
    f = Frames(pos, np.zeros_like(pos), np.ones((G, n)), masses, np.zeros_like(pos), 0.0)
    r = f.columns[d]
    force = -(f.columns[d + 1] * f.columns[d + 2]) / r**2  # gravity, per edge
    unit = np.stack([f.columns[k] / r for k in range(d)], axis=-1)
    f.acc = f.pairs.sum(force[..., None] * unit) / masses[..., None]
    target = TermData(f, f.columns[d + 1] * f.columns[d + 2], [], True)
    sub = target.sample(300, np.random.default_rng(0))
    assert sub.nodes < target.nodes and 300 <= sub.gather.nnz < 300 + n
    assert (np.diff(sub.gather.indptr) == n - 1).all()  # each drawn receiver keeps all its edges
    law = sub.losses((-1 / sub.x**2)[None])[0]
    wrong = sub.losses((-1 / sub.x)[None])[0]
    assert law < 1e-24 < 1e-3 < wrong
