"""Finite-difference derivatives of recorded positions, and data sets built from them."""

import h5py
import numpy as np
import pytest

from symdistill.core.config import ConfigError, load_config
from symdistill.physics.derivatives import derivative_weights, differentiate, noise_gain
from symdistill.physics.simulate import SimSettings, initial_conditions, simulate, simulate_block


def test_window_three_is_the_central_difference():
    w1, w2 = derivative_weights(3)
    np.testing.assert_allclose(w1, [-0.5, 0, 0.5], atol=1e-15)
    np.testing.assert_allclose(w2, [1, -2, 1], atol=1e-14)
    assert noise_gain(3, 0.1) == pytest.approx((1 / (np.sqrt(2) * 0.1), np.sqrt(6) / 0.01))


@pytest.mark.parametrize("window, degree", [(3, 2), (5, 3), (9, 3)])
def test_polynomials_up_to_the_fit_order_are_differentiated_exactly(window, degree):
    dt = 0.05
    t = np.arange(40) * dt
    c = np.array([0.3, -1.2, 0.7, 0.4][: degree + 1])
    x = np.polynomial.polynomial.polyval(t, c)[None, :, None]
    pos, vel, acc = differentiate(x, dt, window)
    h = (window - 1) // 2
    inner = t[h : len(t) - h]
    np.testing.assert_allclose(pos[0, :, 0], x[0, h : len(t) - h, 0])
    np.testing.assert_allclose(vel[0, :, 0], np.polynomial.polynomial.polyval(inner, np.polynomial.polynomial.polyder(c)), atol=1e-9)
    np.testing.assert_allclose(acc[0, :, 0], np.polynomial.polynomial.polyval(inner, np.polynomial.polynomial.polyder(c, 2)), atol=1e-7)


def test_the_stated_noise_gain_is_what_noise_becomes():
    rng = np.random.default_rng(0)
    noise = rng.standard_normal((1, 20000, 1))
    for window in (3, 7):
        _, vel, acc = differentiate(noise, 0.1, window)
        gv, ga = noise_gain(window, 0.1)
        assert vel.std() == pytest.approx(gv, rel=0.03) and acc.std() == pytest.approx(ga, rel=0.03)


@pytest.mark.parametrize("window", [1, 4])
def test_a_bad_window_is_refused(window):
    with pytest.raises(ValueError, match="window"):
        derivative_weights(window)


def test_differences_of_clean_positions_match_the_law(tmp_path):
    """Without noise the data set's differences agree with the exact accelerations of the same
    frames (integrated with one extra frame at each end, which are dropped)."""
    exact = simulate(SimSettings(law="spring", n=4, dim=2, n_sims=6, steps=52), tmp_path / "e.h5", quiet=True)
    diff = simulate(SimSettings(law="spring", n=4, dim=2, n_sims=6, steps=50, derivatives="differences"),
                    tmp_path / "d.h5", quiet=True)
    with h5py.File(exact) as e, h5py.File(diff) as d:
        assert d["accelerations"].shape == (6, 50, 4, 2)
        np.testing.assert_allclose(d["positions"][:], e["positions"][:, 1:51], rtol=1e-12)
        a, ref = d["accelerations"][:], e["accelerations"][:, 1:51]
        assert np.median(np.abs(a - ref)) < 1e-3 * np.median(np.abs(ref))
        assert "finite differences" in d.attrs["derivatives"]


def test_position_noise_is_the_stated_size_and_independent_of_the_block():
    s = SimSettings(law="r1", n=3, dim=2, n_sims=8, steps=60, derivatives="differences", position_noise=1e-3)
    clean = SimSettings(law="r1", n=3, dim=2, n_sims=8, steps=60, derivatives="differences")
    init = initial_conditions(s)
    noisy, ref = simulate_block(s, init), simulate_block(clean, init)
    spread = ref["positions"].reshape(8, -1).std(axis=1)
    ratio = (noisy["positions"] - ref["positions"]).reshape(8, -1).std(axis=1) / spread
    assert np.all(np.abs(ratio / 1e-3 - 1) < 0.2), ratio
    alone = simulate_block(s, {k: v[5:6] for k, v in init.items()}, first=5)
    np.testing.assert_allclose(alone["positions"][0], noisy["positions"][5], rtol=1e-12, atol=1e-12)


def test_noise_without_differences_is_refused_naming_the_key():
    with pytest.raises(ConfigError, match="simulate.position_noise"):
        load_config({"simulate": {"position_noise": 0.01}})
    with pytest.raises(ConfigError, match="simulate.derivative_window"):
        load_config({"simulate": {"derivatives": "differences", "derivative_window": 4}})
