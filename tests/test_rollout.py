"""Rollouts: a symbolic model of the exact law reproduces the true simulator; a wrong law diverges."""

from __future__ import annotations

import numpy as np
import pytest

from symdistill.core.laws import BUILTIN_LAWS
from symdistill.physics.simulate import draw_initial_states
from symdistill.distill.model import SymbolicModel
from symdistill.rollout.run import CONDITIONS, initial_states, rollout


def exact_model(law_name: str, dim: int = 2) -> SymbolicModel:
    """Messages = the true pair force components; read-out = identity, divided by own mass."""
    exprs = [str(e) for e in BUILTIN_LAWS[law_name].pair_force_expr(dim)]
    return SymbolicModel(exprs, dim, np.eye(dim), np.zeros(dim), divide_by_mass=True)


def _run(law_name: str, model: SymbolicModel, n: int = 4, systems: int = 6, frames: int = 200, rtol=1e-10):
    law = BUILTIN_LAWS[law_name]
    init = draw_initial_states(law, n, 2, systems, seed=3)
    times = np.arange(frames) * law.dt
    true_pos, _, _ = rollout(None, init, times, rtol, rtol, np.inf, law)
    pos, _, hit = rollout(model.accelerations, init, times, rtol, rtol, 1e8)
    return np.sqrt(((pos - true_pos) ** 2).mean(axis=(2, 3))), hit  # [S, T]


@pytest.mark.parametrize("law", ["spring", "r1", "r2", "charge"])
def test_exact_symbolic_model_reproduces_true_simulator(law):
    err, hit = _run(law, exact_model(law))
    assert not hit.any()
    assert err.max() < 1e-7, err.max()


@pytest.mark.parametrize("n", [8, 16])
def test_exact_model_generalises_to_more_particles(n):
    err, _ = _run("spring", exact_model("spring"), n=n, systems=3, frames=100)
    assert err.max() < 1e-7


def test_wrong_law_is_detected_as_diverging():
    """dx/r^2 (the r1 force law) in place of the r2 law's dx/r^3 on r2 systems."""
    right = exact_model("r2")
    wrong = SymbolicModel(["-m1*m2*dx/r**2", "-m1*m2*dy/r**2"], 2, np.eye(2), np.zeros(2), divide_by_mass=True)
    err_right, _ = _run("r2", right, frames=500)
    err_wrong, _ = _run("r2", wrong, frames=500)
    final_wrong = np.median(err_wrong[:, -1])
    assert final_wrong > 1e-2, final_wrong
    assert final_wrong > 1e4 * np.median(err_right[:, -1])
    # and the error grows over time
    assert np.median(err_wrong[:, -1]) > 10 * np.median(err_wrong[:, len(err_wrong[0]) // 10])


def test_diverging_expression_does_not_stall_the_integrator():
    """Singular or overflowing messages are capped and flagged, not integrated forever."""
    bad = SymbolicModel(["exp(1000*r)*dx", "dy/(r - 0.01 - sqrt(dx**2 + dy**2))"], 2, np.eye(2), np.zeros(2), divide_by_mass=True)
    law = BUILTIN_LAWS["spring"]
    init = draw_initial_states(law, 4, 2, 3, seed=0)
    pos, _, hit = rollout(bad.accelerations, init, np.arange(20) * law.dt, 1e-7, 1e-7, 1e3)
    assert hit.all() and np.isfinite(pos).all()


def test_out_of_distribution_conditions_widen_the_draws(tmp_path):
    law = BUILTIN_LAWS["r1"]
    from symdistill.rollout.run import RolloutSettings

    s = RolloutSettings(systems=400)
    base = draw_initial_states(law, 4, 2, 400, seed=s.seed + 1000)
    wide = initial_states("spread_wide", law, None, 4, 2, s)
    heavy = initial_states("mass_wide", law, None, 4, 2, s)
    assert initial_states("n16", law, None, 4, 2, s)["positions"].shape == (400, 16, 2)
    assert wide["positions"].std() == pytest.approx(3 * base["positions"].std())
    assert np.log(heavy["masses"]).std() == pytest.approx(2 * np.log(base["masses"]).std())
    assert set(CONDITIONS) >= {"test", "n8", "n16", "mass_wide", "spread_wide"}


def dx_gnn(node: np.ndarray):
    """A hand-set GNN: edge model = (dx, dy) exactly (ReLU(z) - ReLU(-z)), node model = ``node`` / mass."""
    import torch

    from symdistill.gnn.models import GraphNetwork, ModelSettings

    model = GraphNetwork(ModelSettings(dim=2, variant="bottleneck", node_features=6, msg_dim=2, hidden=4, layers=1,
                                       node_output="newtonian"))
    first, last = model.edge_model[0], model.edge_model[2]
    with torch.no_grad():
        first.weight.zero_(), first.bias.zero_(), last.bias.zero_()
        for k, (col, sign) in enumerate([(0, 1), (0, -1), (1, 1), (1, -1)]):  # +-dx, +-dy
            first.weight[k, col], first.weight[k, 6 + col] = sign, -sign
        last.weight.copy_(torch.tensor([[1.0, -1.0, 0, 0], [0, 0, 1.0, -1.0]]))
        model.node_model.weight.copy_(torch.as_tensor(node, dtype=torch.float32))
    return model


def test_gnn_tolerance_follows_its_error_and_stays_below_it(tmp_path):
    """The GNN is integrated at gnn_tol_fraction x its relative test error (never below rtol):
    the trajectory that tolerance gives differs from the tight one by far less than the GNN's
    own distance from the truth; an exact predictor would keep rtol."""
    from symdistill.core.frames import read_frames, split_nodes
    from symdistill.physics.simulate import SimSettings, simulate
    from symdistill.rollout.run import RolloutSettings, gnn_accelerations, gnn_error, gnn_tolerance

    data = simulate(SimSettings(law="spring", n=4, dim=2, n_sims=10, steps=30, block=10), tmp_path / "d.h5", quiet=True)
    model = dx_gnn(np.eye(2))  # a linear force: not spring's, so it has a model error
    x, a = read_frames(data, "test")
    pos, vel, q, m = split_nodes(x, 2)
    error = np.abs(gnn_accelerations(model)(pos, vel, m, q) - a).mean() / np.abs(a).mean()
    s = RolloutSettings(systems=4, gnn_tol_fraction=1e-4)
    assert gnn_error(model, data, 2000) == pytest.approx(error, rel=1e-12)
    tol = gnn_tolerance(error, s)
    assert tol == pytest.approx(max(s.rtol, 1e-4 * error)) and tol > 10 * s.rtol
    assert gnn_tolerance(error, RolloutSettings(gnn_tol_fraction=1e-12)) == s.rtol
    law = BUILTIN_LAWS["spring"]
    init = initial_states("n8", law, data, 8, 2, s)
    times = np.arange(300) * law.dt
    truth, _, _ = rollout(None, init, times, 1e-10, 1e-10, np.inf, law)
    acc = gnn_accelerations(model)
    tight, _, _ = rollout(acc, init, times, s.rtol, s.atol, 1e8)
    loose, _, _ = rollout(acc, init, times, tol, tol, 1e8)
    rms = lambda u, v: np.sqrt(((u - v) ** 2).mean())  # noqa: E731
    assert rms(loose, tight) < 0.01 * rms(tight, truth)


def test_float32_rollouts_follow_float64_ones_far_within_the_network_error(tmp_path):
    """The GNN rolled out in float32 (the precision it was trained in) stays within a small
    fraction of its own error of the float64 rollout; the precision rule keeps float64 for an
    exact network."""
    import torch

    from symdistill.physics.simulate import SimSettings, simulate
    from symdistill.rollout.run import FLOAT32_FROM_ERROR, RolloutSettings, gnn_accelerations

    data = simulate(SimSettings(law="spring", n=4, dim=2, n_sims=10, steps=30, block=10), tmp_path / "d.h5", quiet=True)
    model = dx_gnn(np.eye(2))
    s = RolloutSettings(systems=4)
    law = BUILTIN_LAWS["spring"]
    init = initial_states("n8", law, data, 8, 2, s)
    times = np.arange(300) * law.dt
    truth, _, _ = rollout(None, init, times, 1e-10, 1e-10, np.inf, law)
    wide, _, _ = rollout(gnn_accelerations(model, dtype=torch.float64), init, times, s.rtol, s.atol, 1e8)
    narrow, _, _ = rollout(gnn_accelerations(model, dtype=torch.float32), init, times, s.rtol, s.atol, 1e8)
    rms = lambda u, v: np.sqrt(((u - v) ** 2).mean())  # noqa: E731
    assert rms(narrow, wide) < 1e-3 * rms(wide, truth)
    assert 1e-7 < FLOAT32_FROM_ERROR <= 1e-3  # float32 rounding stays far below any error it is used at


def test_gnn_readout_of_a_hand_set_gnn_is_exact(tmp_path):
    """Edge model = (dx, dy) exactly (ReLU(z) - ReLU(-z)), node model linear / mass: the read-out
    fitted to the GNN (the diagnostic) recovers the node model's matrix; a law that is not
    finite gives a flagged NaN model."""
    import torch

    from symdistill.gnn.models import GraphNetwork, ModelSettings
    from symdistill.physics.simulate import SimSettings, simulate
    from symdistill.rollout.run import RolloutSettings, fit_to_gnn

    data = simulate(SimSettings(law="spring", n=4, dim=2, n_sims=10, steps=20, block=10), tmp_path / "d.h5", quiet=True)
    model = GraphNetwork(ModelSettings(dim=2, variant="bottleneck", node_features=6, msg_dim=2, hidden=4, layers=1,
                                       node_output="newtonian"))
    first, last = model.edge_model[0], model.edge_model[2]
    L = torch.tensor([[0.5, -2.0], [1.5, 0.25]])
    with torch.no_grad():
        first.weight.zero_(), first.bias.zero_(), last.bias.zero_()
        for k, (col, sign) in enumerate([(0, 1), (0, -1), (1, 1), (1, -1)]):  # +-dx, +-dy
            first.weight[k, col], first.weight[k, 6 + col] = sign, -sign
        last.weight.copy_(torch.tensor([[1.0, -1.0, 0, 0], [0, 0, 1.0, -1.0]]))
        model.node_model.weight.copy_(L)
    good = fit_to_gnn(model, ["dx", "dy"], data)
    assert good.node_r2 > 1 - 1e-9
    np.testing.assert_allclose(good.W, L.numpy(), atol=1e-6)
    np.testing.assert_allclose(good.v, 0, atol=1e-6)
    bad = fit_to_gnn(model, ["log(-r)*dx", "dy"], data)  # NaN on every edge
    assert np.isnan(bad.W).all()
    init = initial_states("test", BUILTIN_LAWS["spring"], data, 4, 2, RolloutSettings(systems=2))
    _, _, hit = rollout(bad.accelerations, init, np.arange(5) * 0.01, 1e-7, 1e-7, 1e3)
    assert hit.all()


def test_true_trajectories_are_shared_and_models_are_compared_against_them(tmp_path):
    """The truth is integrated once per data set and every model is compared against it; the
    symbolic model is the chosen law calibrated on the data (here spring's, with wrong constants
    that the data correct), so it follows the truth where the crude linear GNN does not; other
    rollout settings are refused, naming the file."""
    import json

    import h5py

    from symdistill.gnn.models import save_model
    from symdistill.physics.simulate import SimSettings, simulate
    from symdistill.rollout.run import RolloutSettings, evaluate, read_truth, write_truth

    data = simulate(SimSettings(law="spring", n=4, dim=2, n_sims=10, steps=30, block=10), tmp_path / "d.h5", quiet=True)
    model = dx_gnn(np.eye(2))  # edge model = (dx, dy) exactly, node model = identity / mass
    save_model(tmp_path / "best.pt", model)
    (tmp_path / "rec.json").write_text(json.dumps(
        {"engine": "operon", "components": [{"expression": "dx"}, {"expression": "dy"}],
         "chosen_law": {"radial": "1.5*(1.1 - r)"}}))
    s = RolloutSettings(systems=3, conditions=["test", "n8"], fit_graphs=50)
    write_truth(data, s, tmp_path / "truth.h5", quiet=True)
    times, truth, _ = read_truth(tmp_path / "truth.h5", s)
    init, true_pos, _ = truth["n8"]
    assert true_pos.shape == (3, 30, 8, 2) and len(times) == 30
    expected, _, _ = rollout(None, init, times, s.rtol, s.atol, np.inf, BUILTIN_LAWS["spring"])
    np.testing.assert_array_equal(true_pos, expected)
    rows = evaluate(tmp_path / "best.pt", tmp_path / "rec.json", data, tmp_path / "truth.h5", s,
                    tmp_path / "out.h5", quiet=True)
    assert len(rows) == 4
    with h5py.File(tmp_path / "out.h5") as h:
        assert h["n8/symbolic/rmse_median"][-1] < 1e-6 < h["n8/gnn/rmse_median"][-1]
        assert h.attrs["gnn_readout_r2"] > 1 - 1e-9  # the expressions dx, dy are the GNN's messages
        # a network this far from the law (relative error >= FLOAT32_FROM_ERROR) rolls out in the
        # precision it was trained in
        assert h.attrs["gnn_relative_error"] > 0.1 and h.attrs["gnn_precision"] == "float32"
    with pytest.raises(ValueError, match="truth.h5"):
        read_truth(tmp_path / "truth.h5", RolloutSettings(systems=4, conditions=["test", "n8"], fit_graphs=50))
