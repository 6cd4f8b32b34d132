"""The held-out protocol (tools/measurements.py): a measurement frozen after its run, or a first
judgement edited afterwards, or a headline that is not the table's, is caught; the committed
measurements check out."""

import csv
import importlib.util
import subprocess
from pathlib import Path

import pytest
import yaml

from symdistill.report.tables import RECOVERY_COLUMNS

TOOL = Path(__file__).resolve().parents[1] / "tools" / "measurements.py"


def load(monkeypatch, root):
    monkeypatch.setenv("SYMDISTILL_ROOT", str(root))
    spec = importlib.util.spec_from_file_location("measurements", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def git(root, *args):
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)


def row(verdict, expression="-m1*m2*dx/r**3", version="v1"):
    return {"sim": "r2", "dim": 2, "n": 4, "variant": "bottleneck", "seed": 0, "component": 0, "engine": "operon",
            "expression": expression, "complexity": 7, "verdict": verdict, "true_potential": "-m1*m2/r",
            "signed_charges": False, "softening": 0.01, "verdict_version": version, "search_version": "s1"}


@pytest.fixture
def repo(tmp_path):
    git(tmp_path, "init", "-q")
    git(tmp_path, "config", "user.email", "t@t")
    git(tmp_path, "config", "user.name", "t")
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "set.yaml").write_text("results: results/set\n")
    folder = tmp_path / "measurements" / "set"
    folder.mkdir(parents=True)
    (folder / "MEASURE.yaml").write_text(yaml.safe_dump({"name": "set", "config": "config/set.yaml", "kind": "blind",
                                                          "verdict": "v1", "search": "s1"}))
    (tmp_path / "measurements" / "README.md").write_text("| set | 1/2 (1 correct, 0 up to 1/m1) |\n")
    return tmp_path


def commit(root, message):
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)


def write(root, rows):
    with (root / "measurements" / "set" / "recovery.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(RECOVERY_COLUMNS))
        w.writeheader()
        w.writerows(rows)


def test_a_measurement_frozen_before_its_run_checks_out(repo, monkeypatch):
    m = load(monkeypatch, repo)
    commit(repo, "freeze")
    write(repo, [row("correct"), row("wrong")])
    commit(repo, "measure")
    assert m.check([], again=False)


def test_a_measurement_frozen_with_its_results_is_caught(repo, monkeypatch, capsys):
    m = load(monkeypatch, repo)
    write(repo, [row("correct"), row("wrong")])
    commit(repo, "freeze and measure at once")
    assert not m.check([], again=False)
    assert "not committed before" in capsys.readouterr().out


def test_an_edited_first_judgement_is_caught(repo, monkeypatch, capsys):
    m = load(monkeypatch, repo)
    commit(repo, "freeze")
    write(repo, [row("correct"), row("wrong")])
    commit(repo, "measure")
    write(repo, [row("correct"), row("correct")])
    (repo / "measurements" / "README.md").write_text("| set | 2/2 (2 correct, 0 up to 1/m1) |\n")
    commit(repo, "re-judged in place")
    assert not m.check([], again=False)
    assert "edited after it was committed" in capsys.readouterr().out


def test_a_headline_that_is_not_the_tables_is_caught(repo, monkeypatch, capsys):
    m = load(monkeypatch, repo)
    commit(repo, "freeze")
    write(repo, [row("correct"), row("correct", version="v0")])
    commit(repo, "measure")
    assert not m.check([], again=False)
    out = capsys.readouterr().out
    assert "README.md quotes" in out and "frozen verdict" in out


def test_a_set_frozen_over_an_overlay_runs_both_and_a_changed_overlay_is_caught(repo, monkeypatch, capsys):
    m = load(monkeypatch, repo)
    (repo / "config" / "overlay.yaml").write_text("dims: [2, 3]\n")
    (repo / "measurements" / "set" / "MEASURE.yaml").unlink()
    m.freeze("set", ["config/overlay.yaml", "config/set.yaml"], "blind")
    frozen = yaml.safe_load((repo / "measurements" / "set" / "MEASURE.yaml").read_text())
    assert frozen["command"].endswith("--configfile config/overlay.yaml config/set.yaml")
    assert frozen["under"] == ["config/overlay.yaml"] and frozen["table"] == "results/set/report/recovery.csv"
    frozen.update(verdict="v1", search="s1")
    (repo / "measurements" / "set" / "MEASURE.yaml").write_text(yaml.safe_dump(frozen))
    commit(repo, "freeze")
    (repo / "config" / "overlay.yaml").write_text("dims: [2]\n")
    write(repo, [row("correct"), row("wrong")])
    commit(repo, "measure, with the overlay changed")
    assert not m.check([], again=False)
    assert "config/overlay.yaml changed between freezing" in capsys.readouterr().out


def test_a_row_is_rejudged_against_the_law_it_names(monkeypatch):
    m = load(monkeypatch, TOOL.parents[1])
    assert m.judged(row("", "-m1*m2*dx/(r - 0.01)/r**2")) == "correct"
    assert m.judged(row("", "(-m1*m2/r**2 + 0.005*m1*m2)*dx/(r - 0.01)")) == "wrong"


def test_the_committed_measurements_check_out(monkeypatch):
    """Every measurement in measurements/: frozen before its run, its first judgement untouched,
    its headline the one README.md quotes (the verdicts themselves: check --rejudge)."""
    m = load(monkeypatch, TOOL.parents[1])
    assert m.check([], again=False)
