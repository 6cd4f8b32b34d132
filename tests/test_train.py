"""Training: every variant learns, structural guarantees hold, resume and reload are exact."""

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from conftest import TINY
from torch_geometric.nn import MessagePassing

from symdistill.gnn.data import load_graphs
from symdistill.gnn.models import load_model
from symdistill.gnn.train import Trainer, TrainingDiverged, TrainSettings, train
from symdistill.gnn.variants import pruned_count


@pytest.mark.parametrize("variant", ["standard", "bottleneck", "l1", "kl", "pruning", "eql"])
def test_every_variant_learns(variant, spring_data, tmp_path, tiny):
    extra = {"node_output": "newtonian", "grad_clip": 1.0, "eql": {"product": 4, "sparsity": 1e-3}} if variant == "eql" else {}
    m = train(spring_data, tmp_path, tiny(variant, **extra), quiet=True)
    with h5py.File(tmp_path / "history.h5") as f:
        mae = f["loss"][:]  # the objective (MAE plus the variant's penalty)
        assert len(mae) == 300 and np.isfinite(mae).all()
        # KL messages start as pure N(0,1) noise and learn slowly (the paper's KL test MAE is
        # 35x the standard model's), so it only has to show a clear fall here.
        factor = 0.95 if variant == "kl" else 0.7
        assert mae[-50:].mean() < factor * mae[:20].mean(), (mae[:20].mean(), mae[-50:].mean())
    assert json.loads((tmp_path / "metrics.json").read_text())["test_mae"] == m["test_mae"]
    model = load_model(tmp_path / "best.pt")
    x, _ = load_graphs(spring_data, "test", 5, max_graphs=8)
    from symdistill.gnn.data import fully_connected_edges

    _, raw = model(x.reshape(-1, x.shape[-1]), fully_connected_edges(4, 8))
    msgs = model.messages(raw)
    if variant == "bottleneck":
        assert msgs.shape[1] == 2
    if variant == "pruning":
        assert int(model.mask.sum()) == 2 and m["unmasked_components"] == 2
        assert (msgs.abs().sum(0) > 0).sum() == 2
    if variant == "kl":
        assert raw.shape[1] == 2 * 16 and msgs.shape[1] == 16


def test_pruning_schedule():
    counts = [pruned_count(t, 1000, 0.65, 100, 2) for t in range(0, 1001, 10)]
    assert counts[0] == 100 and counts[-1] == 2 and pruned_count(650, 1000, 0.65, 100, 2) == 2
    assert all(a >= b for a, b in zip(counts, counts[1:]))


def test_resume_matches_uninterrupted(spring_data, tmp_path, tiny):
    s = tiny("kl")
    train(spring_data, tmp_path / "full", s, quiet=True)

    class Interrupt(Exception):
        pass

    t = Trainer(spring_data, tmp_path / "cut", s, quiet=True)
    real = t._checkpoint

    def stop_after_second():
        real()
        if t.step == 200:
            raise Interrupt

    t._checkpoint = stop_after_second
    with pytest.raises(Interrupt):
        t.fit()
    resumed = Trainer(spring_data, tmp_path / "cut", s, quiet=True)
    assert resumed.step == 200
    resumed.fit()
    a = torch.load(tmp_path / "full" / "last.pt", weights_only=False)["state_dict"]
    b = torch.load(tmp_path / "cut" / "last.pt", weights_only=False)["state_dict"]
    for k in a:
        if resumed.device.type == "cpu":  # bit-identical on the CPU (docs/reproducibility.md)
            assert torch.equal(a[k], b[k]), k
        else:  # CUDA's scatter-add sums in no fixed order: equal to rounding
            torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-5)


def test_reload_reproduces_predictions(spring_data, tmp_path, tiny):
    t = Trainer(spring_data, tmp_path, tiny("standard", steps=50), quiet=True)
    t.fit()
    x = t.vx[:10]
    t.model.eval()
    with torch.no_grad():
        want, _ = t._forward(x)
        model = load_model(tmp_path / "best.pt")  # always on the CPU
        from symdistill.gnn.data import fully_connected_edges

        got, _ = model(x.cpu().reshape(-1, x.shape[-1]), fully_connected_edges(4, 10))
    if t.device.type == "cpu":
        assert torch.equal(want.reshape(got.shape), got)
    else:  # trained on a GPU, reloaded on the CPU: the same function to rounding
        torch.testing.assert_close(want.cpu().reshape(got.shape), got, rtol=1e-4, atol=1e-5)


def test_divergence_names_the_step(spring_data, tmp_path, tiny):
    s = tiny("standard", lr=1e6, schedule="constant")
    with pytest.raises(TrainingDiverged, match=r"diverged at step \d+"):
        train(spring_data, tmp_path, s, quiet=True)


@pytest.mark.parametrize("schedule", ["onecycle", "constant"])
def test_blow_up_without_nan_is_caught_and_no_model_is_written(spring_data, tmp_path, schedule, tiny):
    """A loss that grows huge but stays finite stops the run; nothing downstream sees the model,
    and a checkpoint, if any, is one whose validation error is not blown up."""
    s = tiny("standard", lr=1e6, schedule=schedule)
    with pytest.raises(TrainingDiverged, match="diverged"):
        train(spring_data, tmp_path, s, quiet=True)
    assert not (tmp_path / "best.pt").exists() and not (tmp_path / "metrics.json").exists()
    if (tmp_path / "checkpoint.pt").exists():
        t = Trainer(spring_data, tmp_path, s, quiet=True)  # resumes from it
        assert t.evaluate(t.vx, t.vy) < s.explode_factor * t.zero_val


def test_cli_exits_non_zero_on_divergence(spring_data, tmp_path):
    from symdistill.gnn.train import main

    settings = json.dumps({**TINY, "lr": 1e6})
    with pytest.raises(SystemExit) as err:
        main(["--data", str(spring_data), "--out", str(tmp_path), "--variant", "standard",
              "--settings", settings, "--quiet"])
    assert "diverged" in str(err.value.code)


def test_bad_variant_is_named():
    with pytest.raises(ValueError, match="unknown model variant 'huge'"):
        TrainSettings(variant="huge", seed=0)


def test_damaged_data_is_named_not_blamed_on_training(spring_data, tmp_path):
    """A truncated or non-HDF5 file and NaN bytes give one line naming the file."""
    import shutil

    from symdistill.gnn.train import main

    cases = {}
    cut = tmp_path / "cut.h5"
    cut.write_bytes(Path(spring_data).read_bytes()[:5000])
    cases[cut] = "not a readable HDF5 file"
    nan = tmp_path / "nan.h5"
    shutil.copy(spring_data, nan)
    with h5py.File(nan, "a") as f:
        first_train = int(f["split/train"][0])
        f["accelerations"][first_train, :, 0, 0] = np.nan
    cases[nan] = "NaN or infinite"
    for path, fragment in cases.items():
        with pytest.raises(SystemExit) as err:
            main(["--data", str(path), "--out", str(tmp_path / "m"), "--variant", "standard",
                  "--settings", json.dumps(TINY), "--quiet"])
        msg = str(err.value.code)
        assert str(path) in msg and fragment in msg and "\n" not in msg


def test_compile_option_trains_the_same_model(spring_data, tmp_path, tiny):
    """train.compile runs the forward pass through torch.compile: same model to rounding."""
    plain = train(spring_data, tmp_path / "plain", tiny("bottleneck", steps=100), quiet=True)
    compiled = train(spring_data, tmp_path / "compiled", tiny("bottleneck", steps=100, compile=True), quiet=True)
    assert compiled["test_mae"] == pytest.approx(plain["test_mae"], rel=1e-3)


def test_rotation_augmentation_is_one_proper_rotation_of_positions_velocities_and_targets(spring_data, tmp_path, tiny):
    t = Trainer(spring_data, tmp_path, tiny("bottleneck", augment_rotate=True), quiet=True)
    x, y = t.x[:16].double(), t.y[:16].double()
    xr, yr, _ = t._rotate(x, y)
    d = t.dim
    gram = lambda a, b: torch.einsum("gid,gjd->gij", a, b)  # noqa: E731  all dot products
    for a, b in ((x[..., :d], xr[..., :d]), (x[..., d : 2 * d], xr[..., d : 2 * d]), (y, yr)):
        torch.testing.assert_close(gram(a, a), gram(b, b))
    torch.testing.assert_close(gram(x[..., :d], y), gram(xr[..., :d], yr))  # targets turn with positions
    torch.testing.assert_close(x[..., 2 * d :], xr[..., 2 * d :])  # charges and masses untouched
    assert not torch.allclose(x[..., :d], xr[..., :d])


@pytest.mark.parametrize("extra", [{"loss": "relative"}, {"augment_rotate": True}, {"node_output": "linear"},
                                   {"edge_inputs": "relative", "augment_std": 0.0}])
def test_normalised_loss_and_rotation_still_learn_a_simulated_law(spring_data, tmp_path, tiny, extra):
    """The options added for observed data leave the simulated laws learnable (the linear node
    model: acceleration = W . summed messages, no division by mass), each against the plain
    loop without rotations."""
    plain = train(spring_data, tmp_path / "plain", tiny("bottleneck", augment_rotate=False), quiet=True)
    other = train(spring_data, tmp_path / "other", tiny("bottleneck", **{"augment_rotate": False, **extra}), quiet=True)
    with h5py.File(tmp_path / "other" / "history.h5") as f:
        mae = f["mae"][:]
    assert mae[-50:].mean() < 0.7 * mae[:20].mean()
    assert other["test_mae"] < 1.5 * plain["test_mae"], (other["test_mae"], plain["test_mae"])


def test_relative_loss_weighs_each_node_by_its_scale(spring_data, tmp_path, tiny):
    t = Trainer(spring_data, tmp_path, tiny("bottleneck", loss="relative"), quiet=True)
    scale = t.y.norm(dim=-1).pow(2).mean(0).sqrt()
    torch.testing.assert_close(t.node_weight * scale, torch.full_like(scale, float(scale.mean())))
    assert torch.equal(Trainer(spring_data, tmp_path / "m", tiny("bottleneck"), quiet=True).node_weight,
                       torch.ones(4))


def test_relative_edge_inputs_make_messages_translation_invariant(spring_data, tmp_path, tiny):
    from symdistill.gnn.data import fully_connected_edges

    t = Trainer(spring_data, tmp_path, tiny("l1", edge_inputs="relative"), quiet=True)
    t.model.eval()
    x = t.x[:8].reshape(-1, t.x.shape[-1])
    moved = x.clone()
    moved[:, : t.dim] += torch.tensor([40.0, -7.0])  # every position shifted alike
    edges = fully_connected_edges(4, 8)
    with torch.no_grad():
        (_, a), (_, b) = t.model(x, edges), t.model(moved, edges)
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    assert t.model.edge_model[0].in_features == 2 * t.dim + 5


def test_training_flushes_subnormals_and_only_while_it_trains():
    from symdistill.gnn.train import flushed_subnormals

    small = torch.tensor([1e-30])  # times 1e-10 is 1e-40: a float32 subnormal
    with flushed_subnormals():
        assert (small * 1e-10).item() == 0.0
    assert 0.0 < (small * 1e-10).item() < torch.finfo(torch.float32).tiny


class PyGLayer(MessagePassing):
    """PyG's MessagePassing (aggr="add") running a GraphNetwork's edge model and messages: the
    reference the written-out layer must equal."""

    def __init__(self, model, generator):
        super().__init__(aggr="add")
        self.model, self.generator, self.raw = model, generator, None

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        return self.propagate(edge_index, x=x)  # PyG reads its signature from this call

    def message(self, x_i: torch.Tensor, x_j: torch.Tensor) -> torch.Tensor:
        self.raw = self.model.edge_update(x_i, x_j)
        return self.model.to_message(self.raw, True, self.generator)


@pytest.mark.parametrize("variant", ["standard", "kl", "pruning", "eql"])
def test_message_passing_is_pyg_add_aggregation_to_the_bit(variant, spring_data, tmp_path, tiny):
    """GraphNetwork writes out PyG's gather and scatter-add: predictions and gradients equal a
    MessagePassing(aggr="add") layer's running the same edge and node models."""
    from symdistill.gnn.data import fully_connected_edges

    extra = {"eql": {"product": 4}} if variant == "eql" else {}
    model = Trainer(spring_data, tmp_path, tiny(variant, node_output="acceleration", **extra)).model

    x, _ = load_graphs(spring_data, "test")
    x = x[:8].reshape(32, -1)
    edges = fully_connected_edges(4, 8)
    model.train()
    outputs = []
    for run in ("ours", "pyg"):
        model.zero_grad()
        gen = torch.Generator().manual_seed(1)
        if run == "ours":
            pred, raw = model(x, edges, gen)
        else:
            layer = PyGLayer(model, gen)
            agg = layer(x, edges)
            pred, raw = model.node_model(torch.cat([x, agg], dim=-1)), layer.raw
        (pred.square().sum() + raw.abs().sum()).backward()
        outputs.append([pred.detach(), raw.detach()] + [p.grad.clone() for p in model.parameters() if p.grad is not None])
    assert len(outputs[0]) == len(outputs[1]) > 2
    assert all(torch.equal(a, b) for a, b in zip(*outputs))


def test_a_network_that_learned_nothing_is_reported_failed_and_not_rolled_out(spring_data, tmp_path, tiny):
    """Two optimiser steps leave a network's median relative error near 1 (predicting zero's):
    its metrics say learned false, and the status the symbolic stage and the rollout read says so;
    a network trained for longer learned."""
    from symdistill.core.provenance import network_status

    m = train(spring_data, tmp_path, tiny("bottleneck", steps=2, val_every=1, checkpoint_every=1), quiet=True)
    assert m["learned"] is False and m["val_median_relative_error"] > 0.5
    assert network_status(tmp_path / "best.pt") == {"learned": False, "median_relative_error": m["val_median_relative_error"]}
    good = train(spring_data, tmp_path / "good", tiny("bottleneck", steps=1500), quiet=True)
    assert good["learned"] is True and network_status(tmp_path / "good" / "best.pt")["learned"] is True
    assert network_status(tmp_path / "nowhere" / "best.pt")["learned"] is None
