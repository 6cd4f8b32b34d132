"""The Hamiltonian variant: forces are minus the energy gradient, its own H is conserved, and its
law is a potential (calibrated through its force, judged up to a function of m and q)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from symdistill.core.frames import node_features, read_frames, split_nodes
from symdistill.core.laws import BUILTIN_LAWS, get_law
from symdistill.distill.calibrate import Frames, calibrate_law
from symdistill.distill.verdict import judge_potential, law_constants
from symdistill.gnn.data import fully_connected_edges
from symdistill.gnn.models import GraphNetwork
from symdistill.gnn.train import TrainSettings, train
from symdistill.rollout.run import gnn_accelerations, rollout


def energy_model(seed: int = 0, **kw) -> GraphNetwork:
    torch.manual_seed(seed)
    s = TrainSettings(variant="hamiltonian", seed=seed, hidden=16, layers=2, **kw)
    return GraphNetwork(s.model_settings(2)).double().eval()


def graphs(count: int = 3, n: int = 4, seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    pos, vel = rng.normal(size=(count, n, 2)) * 2, rng.normal(size=(count, n, 2))
    q, m = rng.normal(size=(count, n)), np.exp(rng.normal(size=(count, n)) * 0.5)
    return torch.from_numpy(node_features(pos, vel, q, m)).reshape(count * n, -1)


@pytest.mark.parametrize("edge_inputs", ["nodes", "relative"])
def test_accelerations_are_minus_the_energy_gradient_over_the_mass(edge_inputs):
    """a_i = -dV/dq_i / m_i by autograd equals central finite differences of the learned V."""
    model, x = energy_model(edge_inputs=edge_inputs), graphs()
    edges = fully_connected_edges(4, 3)
    with torch.no_grad():
        acc, pair = model(x, edges)
        h = 1e-6
        fd = torch.zeros_like(acc)
        for node in range(x.shape[0]):
            for k in range(2):
                up, down = x.clone(), x.clone()
                up[node, k] += h
                down[node, k] -= h
                dv = model.energies(up, edges)[0].sum() - model.energies(down, edges)[0].sum()
                fd[node, k] = -dv / (2 * h) / x[node, -1]
    assert pair.shape == (edges.shape[1], 1)
    assert torch.allclose(acc, fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("edge_inputs", ["nodes", "relative"])
def test_the_written_out_energy_gradient_trains_as_double_autograd_does(edge_inputs):
    """The training loss's weight gradients through the written-out input gradients
    (``value_and_input_grad``) equal those of autograd's gradient of V taken with create_graph."""
    model, x = energy_model(edge_inputs=edge_inputs), graphs()
    model.train()
    edges = fully_connected_edges(4, 3)
    acc, _ = model(x, edges)
    node, grad_other = model.energy_terms
    ours = torch.autograd.grad(acc.pow(2).sum() + node.pow(2).sum() + grad_other.pow(2).sum(),
                               list(model.parameters()), allow_unused=True)
    q, other = x[:, :2].clone().requires_grad_(True), x[:, 4:].clone().requires_grad_(True)
    node, _ = model.energies(torch.cat([q, x[:, 2:4], other], -1), edges)
    gq, go = torch.autograd.grad(node.sum(), (q, other), create_graph=True)
    loss = (gq / x[:, -1:]).pow(2).sum() + node.pow(2).sum() + go.pow(2).sum()
    theirs = torch.autograd.grad(loss, list(model.parameters()), allow_unused=True)
    for a, b in zip(ours, theirs):
        assert (a is None) == (b is None)
        if a is not None:
            assert torch.allclose(a, b, rtol=1e-10, atol=1e-12)


def test_velocities_do_not_enter_the_forces():
    model, x = energy_model(), graphs()
    moved = x.clone()
    moved[:, 2:4] += 5.0
    edges = fully_connected_edges(4, 3)
    assert torch.equal(model(x, edges)[0], model(moved, edges)[0])


@pytest.fixture(scope="module")
def trained(tmp_path_factory, simulated):
    """A few hundred steps of the variant on spring data: the training loop, its checkpoints and
    its penalty run with the energy variant."""
    data = simulated("spring")
    out = tmp_path_factory.mktemp("ham")
    s = TrainSettings(variant="hamiltonian", seed=0, steps=300, batch_size=16, hidden=32, layers=2,
                      val_every=100, checkpoint_every=100, sample_every=5, lr=3e-3)
    metrics = train(data, out, s, quiet=True)
    return data, out, metrics


def test_training_learns_and_keeps_its_own_energy_along_its_trajectories(trained):
    """Trained, the model predicts better than zero; rolled out by the rollout stage's
    integrator, its own H = T + V stays constant to the integrator's tolerance."""
    from symdistill.gnn.models import load_model

    data, out, metrics = trained
    assert metrics["best_val_mae"] < 0.8 * metrics["zero_val_mae"]
    model = load_model(out / "best.pt").double()
    x, _ = read_frames(data, "test", max_graphs=4)
    pos, vel, q, m = split_nodes(x, 2)
    init = {"positions": pos, "velocities": vel, "masses": m, "charges": q}
    times = np.linspace(0, 2.0, 41)
    tpos, tvel, hit = rollout(gnn_accelerations(model), init, times, 1e-10, 1e-10, np.inf)
    assert not hit.any()
    n, S = pos.shape[1], pos.shape[0]
    edges = fully_connected_edges(n, S)
    H = []
    with torch.no_grad():
        for t in range(len(times)):
            xt = torch.from_numpy(node_features(tpos[:, t], tvel[:, t], q, m)).reshape(S * n, -1)
            H.append(model.hamiltonian(xt, edges, S).numpy())
    H = np.array(H)  # [T, S]
    drift = np.abs(H - H[0]).max(axis=0) / np.abs(H[0]).clip(1e-3)
    assert drift.max() < 1e-6


def test_a_potential_is_calibrated_through_its_force(tmp_path, simulated):
    """Spring's potential with a wrong strength, rest length and a meaningless m-term: calibrated
    on the data through -dU/dr, the constants come back (stiffness 1, rest length 1)."""
    data = simulated("spring", n_sims=20, steps=40, block=10)
    train_f, held = Frames.read(data, "train", 100, 0.01), Frames.read(data, "validation", 100, 0.01)
    cal = calibrate_law({"potential": "0.4*(r - 0.9)**2 + 3.0*m1"}, train_f, held)
    assert cal.model.divide_by_mass and cal.median_relative_error < 1e-9
    c = law_constants(cal.model, get_law("spring"))
    assert c["strength"] == pytest.approx(1, abs=1e-6)
    assert c["term_ratios"][0]["recovered"] == pytest.approx(c["term_ratios"][0]["true"], rel=1e-6)
    wrong = calibrate_law({"potential": "0.4*(r - 0.9)**4"}, train_f, held)
    assert wrong.median_relative_error > 0.05


def test_the_potential_route_recovers_a_screened_law_no_config_names():
    """The symbolic stage's potential route (Operon, terms free of r dropped, score choice) on
    noisy pair energies 0.5 (U(r) - U(r_ref)) of a Yukawa potential q1 q2 e^-r / r: the chosen
    potential is the law, and its force components are judged correct as forces."""
    import sympy as sp

    from symdistill.core.laws import Law, r
    from symdistill.distill.energy_law import potential_components
    from symdistill.distill.engines import get_engine
    from symdistill.distill.inputs import LawInputs
    from symdistill.distill.settings import SRSettings
    from symdistill.distill.verdict import fresh_edges, judge

    names = ["dx", "dy", "r", "m1", "m2", "q1", "q2"]
    law = Law("yukawa", sp.sympify("q1*q2*exp(-r)/r", locals={"r": r, **{n: sp.Symbol(n, real=True) for n in names}}),
              1e-3, signed_charges=True)
    X = fresh_edges(2, True, count=3000, seed=5)
    X = X[(X[:, 2] > 0.2) & (X[:, 2] < 4)]
    U = law.potential_function()
    ref = 1.5
    E = 0.5 * (U(X[:, 2], *X[:, 3:].T) - U(np.full(len(X), ref), *X[:, 3:].T))
    E += 1e-4 * E.std() * np.random.default_rng(0).standard_normal(len(E))
    s = SRSettings(engine="operon", generations=20, population_size=500, threads=1, seed=0,
                   choice="score", objectives=["r2"])
    comps, pot = potential_components(get_engine("operon"), LawInputs(X, E, names, 2, [0]), s)
    chosen = pot["chosen"]["expression"]
    assert judge_potential(chosen, law, 2)["verdict"] == "correct", chosen
    assert not sp.sympify(chosen).is_Add or all(t.has(sp.Symbol("r")) for t in sp.sympify(chosen).args)
    assert [judge(c["chosen"]["expression"], law, 2)["verdict"] for c in comps] == ["correct", "correct"]


def test_the_message_dump_holds_pair_energies_against_the_true_potential(trained, tmp_path):
    """An energy variant's dump: one message (E(r) - E(r_ref)), the true U(r) - U(r_ref) beside
    it, zero at the reference distance; the fit is on the potential."""
    import h5py

    from symdistill.distill.force_r2 import fit_file
    from symdistill.distill.messages import dump_messages, select_file

    data, out, _ = trained
    dump = dump_messages(out / "best.pt", data, tmp_path / "messages.h5", max_graphs=50)
    with h5py.File(dump) as h:
        assert h.attrs["energy"] and h["messages"].shape[1] == 1
        r_ref, feats = float(h.attrs["reference_distance"]), h["edge_features"][:]
        U = h["potential"][:]
    dist = np.linalg.norm(feats[:, :2], axis=1)
    assert r_ref == pytest.approx(np.median(dist))
    assert np.allclose(U, (dist + 0.01 - 1) ** 2 - (r_ref + 0.01 - 1) ** 2)
    select_file(dump, tmp_path / "selected.json")
    fit = fit_file(dump, tmp_path / "selected.json", tmp_path / "fit.json")
    assert fit["target"] == "potential" and np.isfinite(fit["force"]["r2_robust"])


def test_the_energy_routes_search_on_the_data_finds_what_the_energies_miss(simulated):
    """Pair energies that have the right structure (one term, no mass factor) but the wrong
    radial form (-1/r, for spring data): no member calibrated from searches on them reproduces
    the data. The energy route's search on the data (each term a short potential scored on the
    accelerations) finds r^2 - 2r, and the data choice takes it."""
    from dataclasses import replace

    from symdistill.distill.choice import EXACT
    from symdistill.distill.energy_law import potential_components
    from symdistill.distill.engines import get_engine
    from symdistill.distill.inputs import LawInputs
    from symdistill.distill.settings import SRSettings
    from symdistill.distill.verdict import fresh_edges

    law = BUILTIN_LAWS["spring"]
    path = simulated("spring", n_sims=20, steps=40, block=10)
    data = {"train": Frames.read(path, "train", 50, 0.01), "held_out": Frames.read(path, "validation", 50, 0.01)}
    names = ["dx", "dy", "r", "m1", "m2", "q1", "q2"]
    X = fresh_edges(2, False, count=1500, seed=7)
    X = X[(X[:, 2] > 0.2) & (X[:, 2] < 4)]
    E = 1.5 - 1 / X[:, 2]  # -1/r + 1/r_ref at r_ref = 1.5
    s = SRSettings(engine="operon", generations=5, population_size=200, threads=1, seed=0, choice="data",
                   objectives=["r2"])
    inputs = LawInputs(X, E, names, 2, [0], data=data)
    _, without = potential_components(get_engine("operon"), inputs, replace(s, data_search=False))
    assert min(m["loss"] for m in without["pareto"]) > EXACT
    _, pot = potential_components(get_engine("operon"), inputs, s)
    assert pot["chosen"]["origin"].startswith("data"), pot["chosen"]
    assert pot["chosen"]["loss"] <= EXACT
    assert judge_potential(pot["chosen"]["expression"], law, 2)["verdict"] == "correct", pot["chosen"]["expression"]
