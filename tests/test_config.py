"""Config validation: defaults filled, and every kind of bad input named by key and value."""

from pathlib import Path

import pytest

from symdistill.core.config import (
    ConfigError,
    datasets,
    load_config,
    models,
    sim_settings,
    train_settings,
    validate_config,
)

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", ["config.yaml", "config/paper.yaml"])
def test_shipped_configs_are_valid(name):
    cfg = load_config(ROOT / name)
    assert datasets(cfg)


def test_defaults_are_filled():
    cfg = validate_config({})
    assert cfg["simulate"]["n_sims"] == 1000 and cfg["simulations"] == ["spring", "r1", "r2", "charge"]
    cfg = validate_config({"custom_laws": {"quad": {"potential": "m1*m2*r**2"}}, "simulations": ["quad"]})
    assert cfg["custom_laws"]["quad"]["dt"] == 0.001
    assert sim_settings(cfg, "quad")["custom_laws"]["quad"]["potential"] == "m1*m2*r**2"


@pytest.mark.parametrize(
    "config, fragments",
    [
        ({"simulate": {"n_sims": "many"}}, ["simulate.n_sims", "'many'"]),
        ({"simulate": {"n_sims": -5}}, ["simulate.n_sims", "-5"]),
        ({"n_bodies": [4, -1]}, ["n_bodies.1", "-1"]),
        ({"simulations": ["spring", "gravity9"]}, ["simulations.1", "gravity9"]),
        ({"simulate": {"nsims": 10}}, ["simulate", "nsims"]),
        ({"bogus": 1}, ["<top level>", "bogus"]),
        ({"variants": ["bottleneck", "huge"]}, ["variants.1", "huge"]),
        ({"simulate": {"dt": {"spring": 0}}}, ["simulate.dt.spring", "0"]),
        ({"custom_laws": {"evil": {"potential": "__import__('os')"}}, "simulations": ["evil"]},
         ["custom_laws.evil.potential", "__import__"]),
    ],
)
def test_bad_config_names_key_and_value(config, fragments):
    with pytest.raises(ConfigError) as err:
        validate_config(config)
    for fragment in fragments:
        assert fragment in str(err.value)


def test_eql_models_and_settings():
    cfg = validate_config({"simulations": ["spring", "r2"], "eql": {"simulations": ["r2"]}, "dims": [3]})
    assert ("r2", 3, 4, "eql", 0) in models(cfg) and ("spring", 3, 4, "eql", 0) not in models(cfg)
    s = train_settings(cfg, 4, "eql", 3)
    assert s["eql"]["inputs"][:3] == ["dx", "dy", "dz"] and s["node_output"] == "newtonian"
    # narrowing the laws narrows the GNN+EQL list (README: --config 'simulations=[spring]')
    assert validate_config({"simulations": ["spring"], "eql": {"simulations": ["r1", "spring"]}})[
        "eql"]["simulations"] == ["spring"]
    with pytest.raises(ConfigError, match="eql.simulations.0.*'nope'"):
        validate_config({"simulations": ["spring"], "eql": {"simulations": ["nope"]}})


def test_bad_files(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")
    (tmp_path / "bad.yaml").write_text("simulate: [1,\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(tmp_path / "bad.yaml")


@pytest.mark.parametrize(
    "potential, reason",
    [
        ("log(-r)", "not real and finite"),  # NaN energy
        ("sqrt(-r)", "not real and finite"),  # NaN force
        ("sqrt(r - 1)", "not real and finite"),  # complex inside r < 1
        ("1/0", "infinite or undefined"),
        ("m1*m2", "zero everywhere"),  # no force
        ("(((10**100)**100)**100)**100", "beyond 1e300"),  # would hang sympy's exact arithmetic
        ("+".join(["r"] * 3000), "nested too deeply"),
        ("-" * 5000 + "r", "nested too deeply"),
    ],
)
def test_unphysical_potentials_are_refused_naming_the_key(potential, reason):
    """Physics input is checked before any job, in bounded time, with the key and the reason."""
    with pytest.raises(ConfigError, match="custom_laws.mine.potential") as err:
        validate_config({"custom_laws": {"mine": {"potential": potential}}, "simulations": ["mine"]})
    assert reason in str(err.value) and len(str(err.value)) < 400


def test_physical_potentials_pass():
    for potential in ("q1*q2*exp(-r)/r", "m1*m2*r**3/3", "Piecewise((0, r < 2), ((r - 1)**2, True))"):
        validate_config({"custom_laws": {"mine": {"potential": potential}}, "simulations": ["mine"]})


@pytest.mark.parametrize(
    "module, settings, fragment",
    [
        ("physics.simulate", {"n_sims": "many"}, "settings key 'n_sims': value 'many'"),
        ("physics.simulate", {"n_sims": 4, "validation": 0.5, "test": 0.5}, "leaves no train simulations"),
        ("physics.simulate", {"nsims": 10}, "unknown simulate settings ['nsims']"),
        ("gnn.train", {"steps": -5, "schedule": "constant"}, "settings key 'steps': value -5"),
        ("gnn.train", {"eql": {"product": "x"}}, "eql: settings key 'product'"),
    ],
)
def test_console_scripts_check_settings_through_the_schema(module, settings, fragment, tmp_path):
    """The same rules as the workflow's config, one line, non-zero exit, nothing written."""
    import importlib
    import json

    main = importlib.import_module(f"symdistill.{module}").main
    args = {"physics.simulate": ["--law", "spring", "--out", str(tmp_path / "d.h5")],
            "gnn.train": ["--data", str(tmp_path / "d.h5"), "--out", str(tmp_path / "m"), "--variant", "standard"]}
    with pytest.raises(SystemExit) as err:
        main([*args[module], "--settings", json.dumps(settings)])
    assert fragment in str(err.value.code) and "\n" not in str(err.value.code)
    assert list(tmp_path.iterdir()) == []


def test_config_split_leaves_every_split_a_simulation():
    with pytest.raises(ConfigError, match="simulate.n_sims.*no train"):
        validate_config({"simulate": {"n_sims": 4, "validation": 0.5, "test": 0.5}})
