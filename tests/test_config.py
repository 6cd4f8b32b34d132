"""Config validation: defaults filled, and every kind of bad input named by key and value."""

from pathlib import Path

import pytest

from symdistill.core.config import ConfigError, load_config, sim_settings, validate_config
from symdistill.core.schema import schema
from symdistill.experiment import check_budget, datasets, estimate, models, train_settings

ROOT = Path(__file__).resolve().parents[1]


#: every config the project ships, each laid over config.yaml as its header runs it: a law set
#: under the law sets' shared overlay, routes.yaml over the validation laws
LAWS = ROOT / "config" / "laws"
SHIPPED = {str(p.relative_to(ROOT)): [LAWS / "overlay.yaml", p] if p.parent == LAWS else [p]
           for p in sorted((ROOT / "config").rglob("*.yaml")) if p.name != "overlay.yaml"}
SHIPPED["config/studies/routes.yaml"] = [LAWS / "overlay.yaml", LAWS / "validation.yaml",
                                         ROOT / "config" / "studies" / "routes.yaml"]
SHIPPED["config.yaml"] = []


def _merged(files: list[Path]) -> dict:
    import yaml

    from snakemake.utils import update_config

    merged = yaml.safe_load((ROOT / "config.yaml").read_text())
    for f in files:
        update_config(merged, yaml.safe_load(f.read_text()) or {})
    return merged


@pytest.fixture(scope="module")
def md_trajectory(tmp_path_factory) -> Path:
    """A working directory holding the few-frame Lennard-Jones file config/data/md.yaml reads."""
    import subprocess
    import sys

    work = tmp_path_factory.mktemp("shipped")
    subprocess.run([sys.executable, str(ROOT / "tools" / "md_example.py"), "--out", str(work / "results/md/lj.extxyz"),
                    "--cells", "2", "--equilibrate", "20", "--frames", "60"], check=True, capture_output=True)
    return work


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_every_shipped_config_is_valid_and_plans_a_run(name, md_trajectory, monkeypatch):
    """Each shipped config validates against the schema and its whole run is planned by a dry run."""
    import os
    import subprocess
    import sys

    monkeypatch.chdir(md_trajectory)
    assert datasets(validate_config(_merged(SHIPPED[name])))
    env_bin = str(Path(sys.executable).parent)
    files = [ROOT / "config.yaml", *SHIPPED[name]]  # config.yaml first, as the Snakefile reads it
    run = subprocess.run(["snakemake", "-n", "-s", str(ROOT / "Snakefile"), "--directory", str(md_trajectory),
                          "--cores", "2", "--configfile", *map(str, files)],
                         capture_output=True, text=True, env={**os.environ, "PATH": f"{env_bin}:{os.environ['PATH']}"},
                         timeout=600)
    assert run.returncode == 0 and "This was a dry-run" in run.stdout, run.stdout[-2000:] + run.stderr[-3000:]


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
        ({"custom_laws": {"../x": {"potential": "r"}}, "simulations": ["../x"]}, ["custom_laws.../x", "not a valid name"]),
        ({"custom_laws": {"a b": {"potential": "r"}}}, ["custom_laws.a b", "not a valid name"]),
        ({"custom_laws": {"x;y": {"potential": "r"}}}, ["custom_laws.x;y", "not a valid name"]),
        ({"custom_laws": {"spring": {"potential": "r**4"}}}, ["custom_laws.spring", "built-in"]),
        ({"observed": ["mine"]}, ["observed.0", "'mine'", "trajectories"]),
        ({"trajectories": {"t": {"file": "t.xyz", "reference": "__import__('os')"}}},
         ["trajectories.t.reference", "__import__"]),
        ({"trajectories": {"t": {"file": "t.xyz", "derivative_window": 4}}}, ["trajectories.t.derivative_window", "odd"]),
        ({"trajectories": {"spring": {"file": "t.xyz"}}}, ["trajectories.spring", "already names"]),
        ({"trajectories": {"t": {"file": "t.xyz", "cutoff": -1}}}, ["trajectories.t.cutoff", "-1"]),
        ({"trajectories": {"t": {"cutoff": 2}}}, ["trajectories.t", "file"]),
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
    assert s["eql"]["inputs"][:3] == ["ux", "uy", "uz"] and s["node_output"] == "newtonian"
    # narrowing the laws narrows the GNN+EQL list (README: --config 'simulations=[spring]')
    assert validate_config({"simulations": ["spring"], "eql": {"simulations": ["r1", "spring"]}})[
        "eql"]["simulations"] == ["spring"]
    with pytest.raises(ConfigError, match="eql.simulations.0.*'nope'"):
        validate_config({"simulations": ["spring"], "eql": {"simulations": ["nope"]}})


def test_a_missing_trajectory_file_is_named_before_any_job(tmp_path):
    cfg = validate_config({"simulations": [], "observed": ["t"], "trajectories": {"t": {"file": str(tmp_path / "t.xyz")}}})
    with pytest.raises(ConfigError, match="trajectories.*t.xyz: trajectory file does not exist"):
        datasets(cfg)


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


def schema_keys(node=None, path=()):
    """(dotted key, its schema) of every configurable key, resources excluded (those are the
    scheduler's, documented once per rule)."""
    node = schema() if node is None else node
    for key, sub in node.get("properties", {}).items():
        if path + (key,) == ("resources",):
            continue
        yield ".".join(path + (key,)), sub
        if sub.get("type") == "object":
            yield from schema_keys(sub, path + (key,))


def test_every_schema_key_is_described_and_defaulted():
    keys = dict(schema_keys())
    assert len(keys) > 100
    assert not [k for k, sub in keys.items() if "description" not in sub]
    assert not [k for k, sub in keys.items() if "default" not in sub]


def test_config_yaml_values_are_the_schema_defaults():
    """A --configfile is laid over config.yaml, so both must give one reading of an omitted key."""
    import yaml

    shipped, defaults = yaml.safe_load((ROOT / "config.yaml").read_text()), validate_config({})

    def differ(a, b, path=""):
        for k, v in a.items():
            if isinstance(v, dict) and v and isinstance(b.get(k), dict):
                yield from differ(v, b[k], f"{path}{k}.")
            elif b.get(k) != v:
                yield f"{path}{k}: config.yaml {v!r}, schema {b.get(k)!r}"

    assert not list(differ(shipped, defaults))


def test_a_config_too_large_for_the_disk_is_refused_before_any_job():
    cfg = load_config(ROOT / "config.yaml")
    est = check_budget(cfg, free_bytes=10**12)
    assert 0.3e9 < est.data_bytes < 0.5e9  # 4 data sets of 1000 x 500 frames of 4 bodies in 2-D
    big = validate_config({"simulate": {"n_sims": 10**9}})
    assert estimate(big).data_bytes > 1e14
    with pytest.raises(ConfigError, match=r"simulate.n_sims.*1000000000.*GB"):
        check_budget(big, free_bytes=10**12)
    with pytest.raises(ConfigError, match=r"resources.train_gnn.mem_mb"):
        check_budget(validate_config({"simulate": {"n_sims": 10**7}}), free_bytes=10**18)


def test_every_console_script_describes_itself_in_whole_sentences(capsys):
    import importlib
    import tomllib

    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    for name, target in scripts.items():
        module, func = target.split(":")
        with pytest.raises(SystemExit):
            getattr(importlib.import_module(module), func)(["--help"])
        text = capsys.readouterr().out
        description = " ".join(text.split("\n\n")[1].split())
        assert description.endswith("."), f"{name} --help: {description!r}"
    with pytest.raises(SystemExit):
        importlib.import_module("symdistill.report.tables").main(["--help"])
    assert ".tex" in capsys.readouterr().out
