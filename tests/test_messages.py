"""Message reading and fitting: exact recovery, robustness to outliers, noise, selection rules."""

import json

import h5py
import numpy as np
import pytest

from symdistill.distill.force_r2 import fit_components, fit_file, trimmed_fit
from symdistill.distill.messages import dump_messages, select_components, select_file
from symdistill.gnn.train import TrainSettings, train


def _forces(rng, n=4000):
    return rng.standard_normal((n, 2)) * rng.lognormal(size=(n, 1))


def test_rotation_and_scale_recovered_exactly():
    rng = np.random.default_rng(0)
    F = _forces(rng)
    A = np.array([[0.3, -2.0], [1.5, 0.7]])
    msgs = F @ A.T + np.array([0.2, -1.0])
    fit = fit_components(msgs, F)
    assert fit["r2_plain"] > 1 - 1e-12 and fit["r2_robust"] > 1 - 1e-12
    for c in range(2):
        np.testing.assert_allclose(fit["components"][c]["a"], A[c], atol=1e-10)
        np.testing.assert_allclose(fit["components"][c]["a_robust"], A[c], atol=1e-10)


def test_robust_fit_ignores_wild_outliers():
    rng = np.random.default_rng(1)
    F = _forces(rng)
    msgs = F @ np.array([[1.0, 0.5], [-0.5, 2.0]]).T + 0.01 * rng.standard_normal((len(F), 2))
    bad = rng.choice(len(F), len(F) // 10, replace=False)
    msgs[bad] += 50 * rng.standard_normal((len(bad), 2))
    fit = fit_components(msgs, F)
    assert fit["r2_robust"] > 0.99, fit["r2_robust"]
    assert fit["r2_plain"] < 0.5, fit["r2_plain"]
    _, _, kept = trimmed_fit(msgs[:, 0], F)
    assert kept.sum() == int(np.ceil(0.9 * len(F)))
    assert kept[bad].mean() < 0.02  # a few "outliers" drew a tiny perturbation and are fine to keep


def test_noise_has_no_r2():
    rng = np.random.default_rng(2)
    fit = fit_components(rng.standard_normal((5000, 2)), _forces(rng, 5000))
    assert fit["r2_plain"] < 0.01
    assert fit["r2_robust"] < 0.05


def test_selection_rules():
    rng = np.random.default_rng(3)
    msgs = rng.standard_normal((1000, 6)) * np.array([1, 5, 1, 3, 1, 1])
    assert select_components(msgs, "standard", 2)["components"] == [1, 3]
    # KL: components 2 and 4 carry information (mean far from 0, small variance) -> high KL
    mean = rng.standard_normal((1000, 6)) * 0.05
    mean[:, 2] = rng.standard_normal(1000) * 3
    mean[:, 4] = rng.standard_normal(1000) * 2
    logvar = np.zeros((1000, 6))
    logvar[:, [2, 4]] = -6.0
    sel = select_components(mean, "kl", 2, {"logvar": logvar})
    assert sel["components"] == [2, 4] and sel["criterion"] == "mean KL divergence"
    mask = np.array([0, 0, 1, 0, 0, 1.0])
    assert sorted(select_components(msgs, "pruning", 2, mask=mask)["components"]) == [2, 5]
    with pytest.raises(ValueError, match="unmasked"):
        select_components(msgs, "pruning", 2, mask=np.ones(6))


@pytest.fixture(scope="module")
def r1_model(tmp_path_factory, simulated):
    tmp = tmp_path_factory.mktemp("r1")
    data = simulated("r1", n_sims=30, steps=50)
    s = TrainSettings(variant="bottleneck", seed=0, steps=100, batch_size=16, hidden=16, layers=1, val_every=50)
    train(data, tmp / "model", s, quiet=True)
    return data, tmp


def test_dump_records_true_pairwise_forces(r1_model):
    data, tmp = r1_model
    out = dump_messages(tmp / "model" / "best.pt", data, tmp / "messages.h5", max_graphs=20)
    with h5py.File(out) as h, h5py.File(data) as d:
        cols = list(h["edge_features"].attrs["columns"])
        assert cols == ["dx", "dy", "r", "m1", "m2", "q1", "q2"]
        feats, force, acc, graph = h["edge_features"][:], h["force"][:], h["acceleration"][:], h["graph"][:]
        assert h["messages"].shape == (20 * 12, 2) and h.attrs["law"] == "r1"
        np.testing.assert_allclose(acc, force / feats[:, 3:4])
        # summing the pairwise forces on each receiver gives the simulator's acceleration
        test = d["split/test"][:]
        want = d["accelerations"][:][test].reshape(-1, 4, 2)
        keep = np.linspace(0, len(want) - 1, 20).round().astype(int)
        total = np.zeros((20, 4, 2))
        from symdistill.gnn.data import fully_connected_edges

        receiver = fully_connected_edges(4, 20)[1].numpy() % 4
        np.add.at(total, (graph, receiver), force)
        masses = d["masses"][:][test].repeat(50, axis=0)[keep]
        np.testing.assert_allclose(total / masses[..., None], want[keep], rtol=1e-4, atol=1e-4)
    sel = select_file(out, tmp / "selected.json")
    assert sorted(sel["components"]) == [0, 1]
    fit = fit_file(out, tmp / "selected.json", tmp / "fit.json", tmp / "fit.png")
    assert (tmp / "fit.png").stat().st_size > 1000
    assert json.loads((tmp / "fit.json").read_text())["variant"] == "bottleneck"
    assert 0 <= fit["force"]["r2_robust"] <= 1


def test_the_search_never_reads_the_true_law(r1_model, tmp_path):
    """The symbolic stage reads a message dump through ``search_inputs`` alone: with the true
    law in the dump replaced by another (its potential, forces and accelerations), the search
    writes the same laws, and its output carries no trace of the truth."""
    import shutil

    from symdistill.distill.settings import SRSettings
    from symdistill.distill.stage import regress_messages, search_inputs

    data, tmp = r1_model
    out = dump_messages(tmp / "model" / "best.pt", data, tmp_path / "messages.h5", max_graphs=20)
    select_file(out, tmp_path / "selected.json")
    other = tmp_path / "other.h5"
    shutil.copy(out, other)
    with h5py.File(other, "r+") as h:
        h.attrs["potential"] = "m1*m2*r**7"
        for name in ("force", "acceleration"):
            h[name][...] = 0.0
    assert not set(search_inputs(out)) & {"force", "acceleration", "potential"}
    s = SRSettings(engine="operon", choice="score", generations=2, population_size=50, objectives=["r2"],
                   separable=False, potential=False, envelope=False, exhaustive=0, threads=1)
    one, two = (regress_messages(p, tmp_path / "selected.json", s) for p in (out, other))
    assert one == two
    assert "potential" not in one
