"""tools/compare_runs.py: two runs of the same models are the same apart from provenance, and a
changed law, a missing file or an sr file that was not rerun is caught."""

import importlib.util
import json
from pathlib import Path

TOOL = Path(__file__).resolve().parents[1] / "tools" / "compare_runs.py"


def load():
    spec = importlib.util.spec_from_file_location("compare_runs", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(root: Path, law: str, search: str, verdict: str) -> Path:
    model = root / "r2_d2_n4" / "bottleneck_s0"
    model.mkdir(parents=True)
    (model / "sr_operon.json").write_text(json.dumps({"chosen_law": law, "search_version": search,
                                                      "versions": {"torch": search}}))
    (model / "recovery_operon.json").write_text(json.dumps({"verdict": "correct", "verdict_version": verdict}))
    (root / "report").mkdir()
    (root / "report" / "recovery.md").write_text(f"| -m1*m2/r**2 | correct | {verdict} | {search} |\n")
    (root / "report" / "recovery.csv").write_text(f"expression,verdict,verdict_version\n{law},correct,{verdict}\n")
    return root


def test_runs_that_differ_only_in_provenance_are_the_same(tmp_path):
    m = load()
    a = run(tmp_path / "a", "-m1*m2/r**2", "aaaaaaaaaaaa", "cccccccccccc")
    b = run(tmp_path / "b", "-m1*m2/r**2", "bbbbbbbbbbbb", "dddddddddddd")
    result = m.compare(a, b)
    assert len(result["same"]) == 4 and not (result["different"] or result["missing"] or result["not rerun"])


def test_a_changed_law_a_missing_file_and_a_file_not_rerun_are_caught(tmp_path):
    m = load()
    a = run(tmp_path / "a", "-m1*m2/r**2", "aaaaaaaaaaaa", "cccccccccccc")
    b = run(tmp_path / "b", "-m1*m2/r**2 + 0.005*m1*m2", "bbbbbbbbbbbb", "dddddddddddd")
    assert "r2_d2_n4/bottleneck_s0/sr_operon.json" in m.compare(a, b)["different"]
    assert "report/recovery.csv" in m.compare(a, b)["different"]
    c = run(tmp_path / "c", "-m1*m2/r**2", "aaaaaaaaaaaa", "dddddddddddd")
    assert m.compare(a, c)["not rerun"] == ["r2_d2_n4/bottleneck_s0/sr_operon.json"]
    (c / "report" / "recovery.md").unlink()
    assert m.compare(a, c)["missing"] == ["report/recovery.md"]
