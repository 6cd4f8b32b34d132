"""The ephemeris stage: real solar-system data from DE421 in simulate's layout, in well-scaled
units, whose accelerations obey Newton's law with the published masses to the accuracy of the
finite difference and of the bodies left out."""

import json

import h5py
import numpy as np
import pytest

from symdistill.core.config import ConfigError, ephemeris_settings, load_config
from symdistill.experiment import datasets, models
from symdistill.core.provenance import DATA_SET
from symdistill.gnn.data import load_graphs
from symdistill.physics.ephemeris import (
    G_PUBLISHED,
    Ephemeris,
    EphemerisSettings,
    holdout,
    julian_date,
    main,
    masses,
    newtonian_accelerations,
    read_ephemeris,
)

SHORT = dict(segments=3, steps=20, step_days=5.0, validation=0.34, test=0.34)


@pytest.fixture(scope="module")
def short(tmp_path_factory):
    """Nine bodies over 300 days from 1990."""
    s = EphemerisSettings(start="1990-01-01", **SHORT)
    return s, read_ephemeris(s, tmp_path_factory.mktemp("eph") / "data.h5")


def test_layout_is_simulates(short):
    s, path = short
    with DATA_SET.open(path) as f:
        assert f["positions"].shape == f["velocities"].shape == f["accelerations"].shape == (3, 20, 9, 3)
        assert f["masses"].shape == f["charges"].shape == (3, 9) and not f["charges"][:].any()
        assert sorted(np.concatenate([f["split"][k][:] for k in ("train", "validation", "test")])) == [0, 1, 2]
        assert f.attrs["units"].startswith("length AU, time Julian year") and f.attrs["dim"] == 3
        assert f.attrs["source"] == "de421.bsp" and len(f.attrs["source_sha256"]) == 64
        assert list(f.attrs["bodies"]) == s.bodies and f.attrs["potential"] == "-m1*m2/r"
        np.testing.assert_allclose(np.diff(f["times"][:]), 5.0 / 365.25)
        assert json.loads(f.attrs["settings"])["start"] == "1990-01-01"
    x, y = load_graphs(path, "train", 1)  # every later stage reads it as it reads a simulation
    assert x.shape == (20, 9, 8) and y.shape == (20, 9, 3)


def test_units_are_au_years_and_solar_masses(short):
    _, path = short
    with h5py.File(path) as f:
        r = np.linalg.norm(f["positions"][:, :, 3] - f["positions"][:, :, 0], axis=-1)  # Earth-Moon to Sun
        v = np.linalg.norm(f["velocities"][:, :, 3], axis=-1)
        m = f["masses"][0]
    assert 0.98 < r.min() and r.max() < 1.02  # 1 AU
    assert 6.1 < v.mean() < 6.5  # 2 pi AU per year
    assert m[0] == 1.0 and 9.5e-4 < m[5] < 9.6e-4  # the Sun; Jupiter ~ 1/1047
    assert G_PUBLISHED == pytest.approx(4 * np.pi**2, rel=1e-4)


def test_accelerations_obey_newton_with_published_masses(short):
    """Relative error per body below 1e-5: the 4th-order difference is exact to ~1e-12; what
    remains is the bodies left out (Pluto, the asteroids) and the Moon inside its barycentre."""
    _, path = short
    with h5py.File(path) as f:
        pos, acc, m = f["positions"][:], f["accelerations"][:], f["masses"][0]
    newton = newtonian_accelerations(pos, m)
    rel = np.linalg.norm(acc - newton, axis=-1) / np.linalg.norm(newton, axis=-1)
    assert rel.max() < 1e-5, rel.max(axis=(0, 1))
    assert rel[..., 1:].max() < 1e-6  # the planets, pulled mostly by the Sun
    # a wrong law or a wrong mass is far outside that
    assert (np.linalg.norm(acc - 1.01 * newton, axis=-1) / np.linalg.norm(newton, axis=-1)).min() > 5e-3
    assert np.linalg.norm(acc - newtonian_accelerations(pos, m * np.r_[1, 1, 1, 1, 1, 1.01, 1, 1, 1]),
                          axis=-1)[..., 0].min() > 1e3 * np.linalg.norm(acc - newton, axis=-1)[..., 0].max()


def test_holdout_is_the_ephemeris_after_the_span(short):
    """The rollout truth of an observed data set: the ephemeris from one step after its last frame."""
    s, path = short
    init, pos, vel, jd = holdout(path, 10)
    with h5py.File(path) as f:
        end, masses_ = f.attrs["end_jd"], f["masses"][0]
        assert f.attrs["softening"] == 0.0 and f.attrs["reference_constant"] == G_PUBLISHED
    assert jd[0] == pytest.approx(end + s.step_days) and pos.shape == vel.shape == (1, 10, 9, 3)
    np.testing.assert_allclose(np.diff(jd), s.step_days)
    ref_pos, ref_vel = Ephemeris(s.bodies).states(jd)
    np.testing.assert_array_equal(pos[0], ref_pos)
    np.testing.assert_array_equal(vel[0], ref_vel)
    np.testing.assert_array_equal(init["positions"], pos[:, 0])
    np.testing.assert_array_equal(init["masses"][0], masses_)


def test_constant_of_a_symbolic_model(short):
    """The constant the rollout stage reports: Newton's law times 2.5 through the read-out gives
    2.5 from the model and, rescaled to the observed accelerations, G; another law is not
    proportional to the reference."""
    from symdistill.core.edges import law_from_file
    from symdistill.rollout.constants import law_constant
    from symdistill.distill.model import SymbolicModel

    _, path = short
    law = law_from_file(path)
    assert law.softening == 0.0  # observations are not softened: r = |dx|
    newton = SymbolicModel([f"-m2*{c}/r**3" for c in ("dx", "dy", "dz")], 3, 2.5 * np.eye(3), np.zeros(3), False,
                           softening=0.0)
    c = law_constant(newton, law, path)
    assert c["estimate"] == pytest.approx(2.5, rel=1e-9) and c["r2"] > 0.999999
    assert c["refit"] == pytest.approx(G_PUBLISHED, rel=1e-5) and c["published"] == G_PUBLISHED
    assert abs(c["refit_relative_error"]) < 1e-5
    other = SymbolicModel([f"-m2*{c}/r**4" for c in ("dx", "dy", "dz")], 3, np.eye(3), np.zeros(3), False,
                          softening=0.0)
    assert law_constant(other, law, path)["r2"] < 0.99


def test_masses_learned_through_a_symbolic_model(short):
    """One free log-mass per body, from equal masses: Newton's law with G recovers every
    published mass from 100 days of observations; the wrong law does not reproduce them."""
    from symdistill.rollout.constants import learned_masses
    from symdistill.distill.model import SymbolicModel

    _, path = short
    newton = SymbolicModel([f"-m2*{c}/r**3" for c in ("dx", "dy", "dz")], 3, G_PUBLISHED * np.eye(3), np.zeros(3),
                           False, softening=0.0)
    out = learned_masses(newton, path)
    np.testing.assert_allclose(out["learned"], masses(out["bodies"]), rtol=1e-3)
    assert out["bodies"][5] == "jupiter" and out["r2"] > 0.999999
    cubic = SymbolicModel([f"-m2*{c}/r**4" for c in ("dx", "dy", "dz")], 3, G_PUBLISHED * np.eye(3), np.zeros(3),
                          False, softening=0.0)
    wrong = learned_masses(cubic, path)
    assert wrong["r2"] < 0.5 and not np.allclose(wrong["learned"], masses(wrong["bodies"]), rtol=0.1)


def test_finite_difference_converges_at_fourth_order():
    eph = Ephemeris(["sun", "mercury"])
    jd = julian_date("2000-03-01") + np.array([0.0, 17.0])
    exact = eph.accelerations(jd, 0.01)
    errors = [np.abs(eph.accelerations(jd, h) - exact).max() for h in (2.0, 1.0)]
    assert 10 < errors[0] / errors[1] < 22  # 2^4 = 16


def test_bad_input_is_named(tmp_path):
    with pytest.raises(ValueError, match="ephemeris.bodies: unknown bodies \\['pluto'\\]"):
        Ephemeris(["sun", "pluto"])
    with pytest.raises(ValueError, match="outside de421.bsp's range"):
        read_ephemeris(EphemerisSettings(start="2060-01-01", **SHORT), tmp_path / "x.h5")
    assert not (tmp_path / "x.h5").exists()
    with pytest.raises(SystemExit) as err:
        main(["--settings", '{"start": "yesterday"}', "--out", str(tmp_path / "y.h5")])
    assert "ephemeris.start 'yesterday' is not an ISO date" in str(err.value.code)
    with pytest.raises(SystemExit) as err:
        main(["--settings", '{"segments": 3', "--out", str(tmp_path / "y.h5")])
    assert "--settings is not valid JSON" in str(err.value.code) and "\n" not in str(err.value.code)
    with pytest.raises(ConfigError, match="ephemeris.reference"):
        load_config({"simulations": [], "observed": ["solar"], "ephemeris": {"reference": "log(-r)"}})
    with pytest.raises(ConfigError, match="no simulated and no observed"):
        load_config({"simulations": []})


def test_config_adds_the_observed_data_set():
    cfg = load_config({"simulations": ["spring"], "observed": ["solar"], "variants": ["bottleneck"],
                       "ephemeris": {"bodies": ["sun", "jupiter", "saturn"]}})
    assert datasets(cfg) == [("spring", 2, 4), ("solar", 3, 3)]
    assert ("solar", 3, 3, "bottleneck", 0) in models(cfg)
    assert ephemeris_settings(cfg)["bodies"] == ["sun", "jupiter", "saturn"]
    assert masses(["sun"]).tolist() == [1.0]


def test_every_later_stage_runs_unchanged_on_the_observed_data(tmp_path):
    """The whole workflow on a tiny solar data set: read, train, messages, fit, symbolic
    regression, verdict, rollout against the ephemeris after the span, tables and report (no
    simulation)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    import yaml

    repo = Path(__file__).resolve().parents[1]
    config = {"results": "results", "simulations": [], "observed": ["solar"], "variants": ["bottleneck"],
              "ephemeris": {"segments": 3, "steps": 40, "step_days": 4.0, "validation": 0.34, "test": 0.34},
              "train": {"steps": 60, "batch_size": 8, "hidden": 16, "layers": 2, "msg_dim": 8,
                        "node_output": "acceleration", "sample_every": 1},
              "messages": {"max_graphs": 20},
              "symbolic": {"variants": ["bottleneck"], "generations": 2, "time_limit": 5, "samples": 200,
                           "population_size": 50},
              "eql": {"simulations": []}, "rollout": {"variants": ["bottleneck"], "frames": 12}}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    run = subprocess.run(["snakemake", "-s", str(repo / "Snakefile"), "--directory", str(tmp_path), "--cores", "2",
                          "--configfile", str(tmp_path / "config.yaml")], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-4000:]
    results = tmp_path / "results"
    assert not (results / "logs" / "simulate").exists()
    recovery = json.loads((results / "solar_d3_n9" / "bottleneck_s0" / "recovery_operon.json").read_text())
    assert recovery["law"] == "solar" and recovery["true_potential"] == "-m1*m2/r" and recovery["components"]
    report = (results / "report" / "index.md").read_text()
    assert "solar_d3_n9" in report and "## Observed data: the recovered law and its constant" in report
    with h5py.File(results / "solar_d3_n9" / "bottleneck_s0" / "rollout_operon.h5") as f:
        assert list(f) == ["holdout", "times"] and f["holdout/symbolic/rmse_median"].shape == (12,)
        constant = json.loads(f.attrs["constant"])
        learned = json.loads(f.attrs["masses"])
    assert constant["published"] == G_PUBLISHED and np.isfinite(constant["estimate"])
    assert learned["bodies"][0] == "sun" and len(learned["learned"]) == 9 and "| jupiter |" in report
