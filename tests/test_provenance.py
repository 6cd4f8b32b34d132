"""Lineage is checked, not just written; every console script fails in one line naming the file,
what was expected and the rule that makes it; --debug shows the traceback."""

from __future__ import annotations

import json
import shutil

import pytest

from symdistill.core.provenance import StaleInput, check_lineage, lineage, read_lineage
from symdistill.distill.messages import main as messages_main
from symdistill.gnn.train import main as train_main
from symdistill.gnn.train import train
from symdistill.physics.simulate import SimSettings, simulate
from symdistill.report.tables import main as table_main


def _artifact(path, **inputs):
    path.write_text(json.dumps({"value": 1, "inputs": lineage(path, **inputs)}))
    return path


def test_a_changed_ancestor_makes_every_descendant_stale(tmp_path):
    a = tmp_path / "a.txt"
    a.write_text("first")
    b = _artifact(tmp_path / "b.json", a=a)
    (tmp_path / "sub").mkdir()
    c = _artifact(tmp_path / "sub" / "c.json", b=b)
    check_lineage(c)  # all current
    a.write_text("second")
    with pytest.raises(StaleInput) as err:
        check_lineage(c)
    msg = str(err.value)
    assert "b.json is stale" in msg and "a.txt" in msg and "c.json" in msg and "\n" not in msg


def test_lineage_survives_moving_the_results_tree(tmp_path):
    (tmp_path / "old").mkdir()
    a = tmp_path / "old" / "a.txt"
    a.write_text("x")
    _artifact(tmp_path / "old" / "b.json", a=a)
    moved = shutil.copytree(tmp_path / "old", tmp_path / "new")
    check_lineage(moved / "b.json")
    assert read_lineage(moved / "b.json")["a"]["path"] == "a.txt"


@pytest.fixture(scope="module")
def two_models(tmp_path_factory, simulated):
    """Two tiny models trained on the same data file, then the data file re-simulated with
    another seed: both models are now stale."""
    tmp = tmp_path_factory.mktemp("stale")
    data = tmp / "data.h5"
    shutil.copy(simulated("spring", n_sims=12, steps=20), data)
    from symdistill.gnn.train import TrainSettings

    for v in ("standard", "bottleneck"):
        train(data, tmp / v, TrainSettings(variant=v, seed=0, steps=20, batch_size=4, hidden=8, layers=1,
                                            msg_dim=4, val_every=10, checkpoint_every=10), quiet=True)
    return tmp, data


def test_a_table_of_stale_models_names_the_stale_file(two_models, tmp_path):
    tmp, data = two_models
    metrics = [str(tmp / v / "metrics.json") for v in ("standard", "bottleneck")]
    table_main(["mae", "--out", str(tmp_path / "ok.csv"), *metrics])  # consistent: fine
    backup = tmp_path / "data_backup.h5"
    shutil.copy(data, backup)
    simulate(SimSettings(law="spring", n=4, dim=2, n_sims=12, steps=20, seed=7), tmp_path / "other.h5", quiet=True)
    shutil.copy(tmp_path / "other.h5", data)
    try:
        with pytest.raises(SystemExit) as err:
            table_main(["mae", "--out", str(tmp_path / "mae.csv"), *metrics])
        msg = str(err.value.code)
        assert "metrics.json is stale" in msg and "data.h5" in msg and "train_gnn" in msg and "\n" not in msg
        assert not (tmp_path / "mae.csv").exists()
    finally:
        shutil.copy(backup, data)


def test_wrong_layout_and_wrong_stage_files_are_named_with_their_rule(two_models, tmp_path):
    tmp, data = two_models
    # a JSON of the wrong stage where a selection is expected
    sel = tmp_path / "selected.json"
    shutil.copy(tmp / "bottleneck" / "metrics.json", sel)
    msgs = tmp_path / "messages.h5"
    messages_main(["dump", "--model", str(tmp / "bottleneck" / "best.pt"), "--data", str(data),
                   "--max-graphs", "4", "--out", str(msgs)])
    from symdistill.distill.force_r2 import main as fit_main

    with pytest.raises(SystemExit) as err:
        fit_main(["--messages", str(msgs), "--selected", str(sel), "--out", str(tmp_path / "fit.json")])
    msg = str(err.value.code)
    assert f"{sel} is not a component selection" in msg and "'components'" in msg and "select_messages" in msg
    # an HDF5 without the expected datasets where a data set is expected
    with pytest.raises(SystemExit) as err:
        train_main(["--data", str(msgs), "--out", str(tmp_path / "m"), "--variant", "standard", "--quiet"])
    msg = str(err.value.code)
    assert f"{msgs} is not a data set" in msg and "positions" in msg and "simulate" in msg and "\n" not in msg


def test_empty_inputs_are_errors(tmp_path):
    with pytest.raises(SystemExit) as err:
        table_main(["r2", "--out", str(tmp_path / "r2.csv")])
    assert "no rows" in str(err.value.code)
    from symdistill.report.build import main as report_main

    with pytest.raises(SystemExit) as err:
        report_main(["--out", str(tmp_path), "--fits"])
    assert "no models to report" in str(err.value.code)
    empty = tmp_path / "metrics.json"
    empty.write_text("")
    with pytest.raises(SystemExit) as err:
        table_main(["mae", "--out", str(tmp_path / "mae.csv"), str(empty)])
    assert "not valid JSON" in str(err.value.code) and "train_gnn" in str(err.value.code)


def test_debug_shows_the_traceback_and_plain_runs_do_not(tmp_path, capsys):
    missing = str(tmp_path / "nope.json")
    with pytest.raises(SystemExit) as err:
        table_main(["mae", "--out", str(tmp_path / "t.csv"), missing])
    assert err.value.code.startswith("symdistill-table: ") and "does not exist" in err.value.code
    with pytest.raises(ValueError, match="does not exist"):
        table_main(["--debug", "mae", "--out", str(tmp_path / "t.csv"), missing])
    with pytest.raises(SystemExit) as err:
        table_main(["--version"])
    assert err.value.code == 0 and "symdistill-table" in capsys.readouterr().out
