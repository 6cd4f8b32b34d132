"""Simulator physics: forces from the potential, conservation laws, reproducibility."""

from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp

from symdistill.core.laws import BUILTIN_LAWS, get_law
from symdistill.physics.integrate import integrate
from symdistill.physics.nbody import NBody
from symdistill.physics.simulate import SimSettings, initial_conditions, simulate, simulate_block

CUSTOM = {"quad": {"potential": "m1*m2*r**2", "dt": 1e-3}}


def torch_potential(law: str, r, m1, m2, q1, q2):
    """Independent hand-written potentials (Cranmer et al. 2020's six laws), for autograd checks."""
    if law in ("spring", "damped"):
        return (r - 1) ** 2
    if law == "r1":
        return m1 * m2 * torch.log(r)
    if law == "r2":
        return -m1 * m2 / r
    if law == "charge":
        return q1 * q2 / r
    if law == "discontinuous":
        return torch.where(r < 2, torch.zeros_like(r), (r - 1) ** 2)
    if law == "quad":
        return m1 * m2 * r**2
    raise KeyError(law)


@pytest.mark.parametrize("dim", [2, 3])
@pytest.mark.parametrize("law", [*BUILTIN_LAWS, "quad"])
def test_accelerations_match_autograd(law, dim):
    s = SimSettings(law=law, n=5, dim=dim, n_sims=30, custom_laws=CUSTOM)
    init = initial_conditions(s)
    if law == "discontinuous":  # spread the particles so both branches are exercised
        init["positions"] = init["positions"] * 2.0
    pos = torch.tensor(init["positions"], requires_grad=True)
    m, q = torch.tensor(init["masses"]), torch.tensor(init["charges"])
    total = 0
    for i in range(s.n):
        for j in range(i + 1, s.n):
            r = torch.linalg.norm(pos[:, i] - pos[:, j], dim=-1) + 0.01
            total = total + torch_potential(law, r, m[:, i], m[:, j], q[:, i], q[:, j]).sum()
    (grad,) = torch.autograd.grad(total, pos)
    expected = -grad.numpy() / init["masses"][..., None]
    vel = init["velocities"]
    if law == "damped":  # velocity damping term (x . v)/n per particle -> force -v/n
        expected = expected - vel / s.n / init["masses"][..., None]
    system = NBody(s.resolve_law(), s.n, dim, init["masses"].T, init["charges"].T)
    got = system.accelerations(init["positions"].transpose(1, 2, 0), vel.transpose(1, 2, 0))
    np.testing.assert_allclose(got.transpose(2, 0, 1), expected, rtol=1e-10, atol=1e-10)


def _run(law, dim=2, n=4, n_sims=40, **kw):
    s = SimSettings(law=law, n=n, dim=dim, n_sims=n_sims, steps=300, **kw)
    return s, simulate_block(s, initial_conditions(s))


@pytest.mark.parametrize("dim", [2, 3])
@pytest.mark.parametrize("law", ["spring", "r1", "r2", "charge"])
def test_energy_and_momentum_conserved(law, dim):
    s, res = _run(law, dim)
    e = res["energy"]
    drift = np.abs(e[:, -1] - e[:, 0]) / np.abs(e[:, 0]).clip(1e-3)
    assert np.median(drift) < 1e-7, np.median(drift)
    assert np.percentile(drift, 90) < 1e-5
    p = (res["velocities"] * initial_conditions(s)["masses"][:, None, :, None]).sum(axis=2)
    np.testing.assert_allclose(p, np.broadcast_to(p[:, :1], p.shape), atol=1e-6 * np.abs(p).max())


def test_damped_loses_energy():
    _, res = _run("damped")
    e = res["energy"]
    assert np.all(e[:, -1] < e[:, 0])
    assert np.all(np.diff(e, axis=1) <= 1e-9 * np.abs(e).max())


def test_trajectory_matches_tight_reference():
    """Our per-system adaptive solver agrees with scipy's DOP853 at rtol 1e-13."""
    s = SimSettings(law="r1", n=4, dim=2, n_sims=5, steps=200)
    init = initial_conditions(s)
    res = simulate_block(s, init)
    system = NBody(s.resolve_law(), 4, 2, init["masses"].T, init["charges"].T)
    times = np.arange(s.steps) * s.step
    for k in range(s.n_sims):
        y0 = np.concatenate([init["positions"][k].ravel(), init["velocities"][k].ravel()])
        f = lambda t, y, k=k: system.rhs(y[:, None], np.array([k]))[:, 0]  # noqa: E731
        ref = solve_ivp(f, (0, times[-1]), y0, t_eval=times, method="DOP853", rtol=1e-13, atol=1e-13)
        err = np.abs(ref.y[:8].T.reshape(-1, 4, 2) - res["positions"][k]).max()
        assert err < 1e-5, err


def test_systems_are_independent_of_their_batch():
    """A system gives the same trajectory alone as in a batch (so block size and workers don't matter)."""
    s, res = _run("r2", n_sims=20)
    init = initial_conditions(s)
    one = simulate_block(s, {k: v[7:8] for k, v in init.items()})
    np.testing.assert_allclose(one["positions"][0], res["positions"][7], rtol=1e-12, atol=1e-12)


def test_integrator_rejects_bad_times():
    with pytest.raises(ValueError, match="increasing"):
        integrate(lambda y, c: y, np.ones((1, 1)), np.array([0.0, 1.0, 0.5]))


def test_files_reproducible(tmp_path):
    s = SimSettings(law="spring", n=3, dim=2, n_sims=12, steps=20, block=5)
    a, b = simulate(s, tmp_path / "a.h5", quiet=True), simulate(s, tmp_path / "b.h5", workers=2, quiet=True)
    s2 = SimSettings(law="spring", n=3, dim=2, n_sims=12, steps=20, block=5, seed=1)
    c = simulate(s2, tmp_path / "c.h5", quiet=True)
    with h5py.File(a) as fa, h5py.File(b) as fb, h5py.File(c) as fc:
        for name in ("positions", "velocities", "accelerations", "masses", "split/test"):
            np.testing.assert_array_equal(fa[name][:], fb[name][:])
        assert not np.array_equal(fa["positions"][:], fc["positions"][:])
        assert fa.attrs["config_hash"] == fb.attrs["config_hash"] != fc.attrs["config_hash"]
        assert fa.attrs["potential"] == "(r - 1)**2" and fa.attrs["law"] == "spring"
        assert fa["positions"].shape == (12, 20, 3, 2)
        split = np.concatenate([fa[f"split/{k}"][:] for k in ("train", "validation", "test")])
        assert sorted(split) == list(range(12))


def test_resume_after_interruption(tmp_path, monkeypatch):
    import symdistill.physics.simulate as sim

    s = SimSettings(law="r1", n=3, dim=2, n_sims=12, steps=20, block=4)
    full = simulate(s, tmp_path / "full.h5", quiet=True)
    calls = {"n": 0}
    real = sim.simulate_block

    def flaky(settings, init, first=0):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(settings, init, first)

    monkeypatch.setattr(sim, "simulate_block", flaky)
    with pytest.raises(KeyboardInterrupt):
        simulate(s, tmp_path / "out.h5", quiet=True)
    assert (tmp_path / "out.h5.partial").exists() and not (tmp_path / "out.h5").exists()
    calls["n"] = -100  # no more failures; count the blocks still to do
    simulate(s, tmp_path / "out.h5", quiet=True)
    assert calls["n"] == -99  # only the one unfinished block was integrated
    with h5py.File(full) as a, h5py.File(tmp_path / "out.h5") as b:
        np.testing.assert_array_equal(a["positions"][:], b["positions"][:])


def test_truncated_partial_file_is_restarted_not_fatal(tmp_path):
    """A .partial cut mid-write by a kill cannot be read; the next run starts it over."""
    s = SimSettings(law="spring", n=3, dim=2, n_sims=4, steps=10, block=4)
    good = simulate(s, tmp_path / "good.h5", quiet=True)
    (tmp_path / "out.h5.partial").write_bytes(Path(good).read_bytes()[:3000])
    out = simulate(s, tmp_path / "out.h5", quiet=True)
    with h5py.File(good) as a, h5py.File(out) as b:
        np.testing.assert_array_equal(a["positions"][:], b["positions"][:])


def test_custom_law_needs_valid_expression():
    with pytest.raises(ValueError, match="not allowed"):
        get_law("evil", {"evil": {"potential": "__import__('os').getcwd()"}})
