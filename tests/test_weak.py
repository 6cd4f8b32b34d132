"""Weak-form targets from positions alone: the identity, the noise gain, the window rule, the
data set they are written to, and training and calibration through the phi-average."""

import h5py
import numpy as np
import pytest

from symdistill.core.frames import read_frames, read_windows, windowed
from symdistill.distill.calibrate import Frames, calibrate_law
from symdistill.gnn.train import train
from symdistill.physics.simulate import SimSettings, simulate
from symdistill.physics.weak import MIN_WINDOW, choose_window, estimate_noise, filters, noise_gain

P = np.polynomial.polynomial


@pytest.mark.parametrize("window, power", [(11, 2), (31, 4), (61, 8)])
def test_the_weak_identity_is_exact_on_polynomial_trajectories(window, power):
    """sum phi x'' = sum (D phi) x holds to rounding for any polynomial up to degree 7."""
    dt = 0.02
    t = np.arange(150) * dt
    c = np.array([0.3, -1.2, 0.7, 0.4, -0.2, 0.05, 0.01, -0.003])
    x = P.polyval(t, c)[None, :, None]
    acc = P.polyval(t, P.polyder(c, 2))[None, :, None]
    average, target = filters(window, power, dt)
    assert average.sum() == pytest.approx(1.0)
    scale = np.abs(windowed(acc, average)).max()
    np.testing.assert_allclose(windowed(x, target), windowed(acc, average), atol=1e-9 * scale / dt**2)


def test_the_stated_noise_gain_is_what_noise_becomes_and_falls_as_k_to_the_2_5():
    rng = np.random.default_rng(0)
    noise = rng.standard_normal((4, 5000, 1))
    gains = {}
    for window in (21, 41, 81):
        gains[window] = noise_gain(window, 4, 0.01)
        assert windowed(noise, filters(window, 4, 0.01)[1]).std() == pytest.approx(gains[window], rel=0.05)
    long = [101, 201, 401]  # the power law holds once the four padding frames are a small share
    slope = np.polyfit(np.log(long), np.log([noise_gain(k, 4, 0.01) for k in long]), 1)[0]
    assert slope == pytest.approx(-2.5, abs=0.1)


def pair(t: np.ndarray, phase: float = 0.0) -> np.ndarray:
    """Two particles of equal mass moving opposite ways (a straight centre of mass), with a fast
    close encounter: positions [T, 2, 2]."""
    s = np.sin(2 * t + phase) + 0.2 * np.exp(-((t - 2) / 0.03) ** 2)
    one = np.stack([s, 0.5 * np.cos(3 * t + phase)], axis=-1)
    return np.stack([one, -one], axis=1)


def test_the_noise_estimate_finds_the_noise_and_not_fast_motion():
    rng = np.random.default_rng(1)
    t = np.arange(400) * 0.01
    smooth = np.stack([pair(t, k) for k in range(8)])
    masses = np.ones((8, 2))
    assert np.median(estimate_noise(smooth, masses)) < 1e-9  # the encounter is not noise
    assert np.median(estimate_noise(smooth[:, ::25], masses)) < 1e-9  # nor motion too fast for the frames
    for sigma in (1e-4, 1e-3, 1e-2):
        x = smooth + sigma * rng.standard_normal(smooth.shape)
        assert np.median(estimate_noise(x, masses)) == pytest.approx(sigma, rel=0.15)


def test_the_window_grows_with_the_noise_and_keeps_its_target_noise_bound():
    rng = np.random.default_rng(2)
    t = np.arange(500) * 0.01
    smooth = np.stack([pair(t, k) for k in range(8)])
    windows = []
    for sigma in (0.0, 1e-3, 1e-2):
        x = smooth + sigma * rng.standard_normal(smooth.shape)
        window, noise, target_noise = choose_window(x, np.ones((8, 2)), 0.01, 4, 0.02, longest=250)
        windows.append(window)
        size = np.sqrt(np.mean(windowed(smooth, filters(window, 4, 0.01)[1]) ** 2))
        assert target_noise <= 0.02 * size * 1.2 or window >= 249
    assert windows[0] == MIN_WINDOW and windows[0] < windows[1] < windows[2]


def test_too_short_a_trajectory_is_refused():
    with pytest.raises(ValueError, match="too few"):
        choose_window(np.zeros((2, 15, 3, 2)), np.ones((2, 3)), 0.01, 4, 0.02, longest=7)


def test_a_weak_data_set_holds_the_phi_average_of_the_true_accelerations(tmp_path):
    """Without noise, each weak target equals the phi-average of the exact accelerations of the
    same frames (the weak data set integrates one frame more at each end for its velocities)."""
    exact = simulate(SimSettings(law="spring", n=4, dim=2, n_sims=6, steps=82), tmp_path / "e.h5", quiet=True)
    weak = simulate(SimSettings(law="spring", n=4, dim=2, n_sims=6, steps=80, derivatives="weak"),
                    tmp_path / "w.h5", quiet=True)
    with h5py.File(exact) as e, h5py.File(weak) as w:
        K = int(w.attrs["weak_window"])
        assert K == MIN_WINDOW and w.attrs["weak_noise"] < 1e-6
        np.testing.assert_allclose(w["positions"][:], e["positions"][:, 1:81], rtol=1e-12)
        truth = windowed(e["accelerations"][:, 1:81], w["weak_average"][:])
        h = (K - 1) // 2
        got = w["accelerations"][:, h : 80 - h]
        assert np.isnan(w["accelerations"][:, :h]).all()
        assert np.median(np.abs(got - truth)) < 1e-6 * np.median(np.abs(truth))
    frames = read_windows(weak, "train")
    assert frames.x.shape[1] == 80 and frames.targets.shape[1] == 80 - K + 1
    x, y = read_frames(weak, "train")
    assert np.isfinite(y).all() and len(x) == frames.x.shape[0] * (80 - K + 1)


@pytest.fixture(scope="module")
def noisy_spring(tmp_path_factory):
    path = tmp_path_factory.mktemp("weak") / "spring.h5"
    return simulate(SimSettings(law="spring", n=4, dim=2, n_sims=30, steps=300, derivatives="weak",
                                position_noise=1e-3), path, quiet=True)


def test_noise_is_estimated_and_stated_in_the_data_set(noisy_spring):
    with h5py.File(noisy_spring) as f:
        spread = f["positions"][:].reshape(30, -1).std(axis=1)
        assert f.attrs["weak_noise"] == pytest.approx(1e-3 * np.median(spread), rel=0.1)
        assert f.attrs["weak_target_noise"] == pytest.approx(
            f.attrs["weak_noise"] * noise_gain(int(f.attrs["weak_window"]), 4, float(f.attrs["dt"])))
        assert f.attrs["weak_window"] > MIN_WINDOW


def test_on_noisy_positions_the_true_law_is_calibrated_and_a_wrong_one_does_not_look_right(noisy_spring):
    """At noise 1e-3 of the spread the spring's constants come out within 1%, and laws of
    another form (a rest length of zero, an inverse square) are far worse on held-out targets."""
    train = Frames.read(noisy_spring, "train", 200, 0.01)
    held = Frames.read(noisy_spring, "validation", 200, 0.01)
    true = calibrate_law({"radial": "-(r - 0.01 - 1.3)"}, train, held)
    assert true.constants[0] == pytest.approx(1.0, rel=0.01)
    assert np.trace(true.model.W) / 2 == pytest.approx(2.0, rel=0.01)
    for wrong in ("-r", "-1/r**2", "-(r - 1.3)**3", "-exp(r)"):
        assert calibrate_law({"radial": wrong}, train, held).loss > 10 * true.loss


@pytest.mark.parametrize("variant", ["standard", "bottleneck", "l1", "pruning", "hamiltonian", "eql"])
def test_every_variant_learns_in_weak_form(variant, noisy_spring, tmp_path, tiny):
    """Each variant trains on phi-averaged targets (two stretches of frames a step): the loss falls
    and the held-out weak error is below that of predicting zero."""
    extra = {"node_output": "newtonian", "grad_clip": 1.0, "eql": {"product": 4, "sparsity": 1e-3}} if variant == "eql" else {}
    m = train(noisy_spring, tmp_path, tiny(variant, batch_size=64, steps=600, **extra), quiet=True)
    with h5py.File(tmp_path / "history.h5") as f:
        loss = f["loss"][:]
    assert np.isfinite(loss).all() and loss[-50:].mean() < 0.8 * loss[:20].mean()
    assert m["best_val_mae"] < m["zero_val_mae"] and np.isfinite(m["test_mae"])
    # the targets' noise floors the median relative error, and the bar to count as learned rises with it
    assert 0 < m["val_noise_floor"] < 0.2
    assert m["learned_below"] == pytest.approx(m["val_noise_floor"] + 0.5 * (1 - m["val_noise_floor"]))


def test_the_weak_batch_averages_the_frames_its_targets_are_made_from(noisy_spring):
    """A stretch's phi-averaged true accelerations are its targets: the batch lines frames up
    with the targets centred K // 2 frames in."""
    import torch

    from symdistill.gnn.data import WeakBatches

    frames = read_windows(noisy_spring, "train")
    batches = WeakBatches(frames)
    K = batches.window
    x, y = batches.sample(3 * K, torch.Generator().manual_seed(0))
    assert x.shape[0] == 3 * (2 * K - 1) and y.shape[:2] == (3, K)
    x_long, _ = batches.sample(K // 2, torch.Generator().manual_seed(0))  # a batch shorter than K
    assert K <= x_long.shape[0] <= max(K, 2 * (K // 2))
    positions = x[..., :2].double().view(3, -1, 4, 2)
    target = torch.as_tensor(filters(batches.window, 4, 0.01)[1])
    rebuilt = positions.unfold(1, batches.window, 1) @ target
    np.testing.assert_allclose(rebuilt.numpy(), y.double().numpy(), rtol=1e-3, atol=1e-3 * float(y.abs().max()))


def test_a_strided_quadrature_lines_its_frames_up_with_the_targets(tmp_path):
    """Slow motion (r2 at dt 0.001) gets a quadrature stride: every s-th frame, whose phi-average
    of the true accelerations is each target's to the quadrature's error on typical windows."""
    exact = simulate(SimSettings(law="r2", n=4, dim=2, n_sims=10, steps=402), tmp_path / "e.h5", quiet=True)
    weak = simulate(SimSettings(law="r2", n=4, dim=2, n_sims=10, steps=400, derivatives="weak", weak_window=141),
                    tmp_path / "w.h5", quiet=True)
    with h5py.File(weak) as f:
        s, sims = int(f.attrs["weak_stride"]), f["split/train"][:]
    assert s > 1 and 140 % (2 * s) == 0
    frames = read_windows(weak, "train")
    with h5py.File(exact) as f:
        truth = windowed(f["accelerations"][:, 1:401][sims][:, ::s], frames.average)
    assert frames.x.shape[1] == len(range(0, 400, s)) and truth.shape == frames.targets.shape
    err = np.linalg.norm(truth - frames.targets, axis=-1) / np.median(np.linalg.norm(truth, axis=-1))
    assert np.median(err) < 1e-4
