"""Tables gathered from per-model artifacts: the recovery table and its rate over seeds."""

import json

from symdistill.tables import recovery_table


def _recovery(path, sim, variant, seed, verdicts):
    comps = [{"component": k, "expression": "dx", "complexity": 3, "verdict": v, "best_on_front": v,
              "best_on_front_complexity": 3, "reason": "score: 1 (largest over the whole front)"}
             for k, v in enumerate(verdicts)]
    path.write_text(json.dumps({"law": sim, "dim": 2, "n": 4, "variant": variant, "seed": seed,
                                "engine": "operon", "components": comps}))
    return path


def test_recovery_rate_over_seeds(tmp_path):
    files = [
        _recovery(tmp_path / "a.json", "spring", "bottleneck", 0, ["correct", "correct"]),
        _recovery(tmp_path / "b.json", "spring", "bottleneck", 1, ["correct", "wrong"]),
        _recovery(tmp_path / "c.json", "r2", "bottleneck", 0, ["correct up to 1/m1", "correct"]),
        _recovery(tmp_path / "d.json", "r2", "pruning", 0, ["wrong", "wrong"]),
    ]
    rows = recovery_table(files, tmp_path / "recovery.csv")
    assert len(rows) == 8 and rows[0]["reason"].startswith("score")
    md = (tmp_path / "recovery.md").read_text()
    assert "Recovery rate over seeds [0, 1]" in md
    assert "| spring-2-4 (operon) | 3/4 | – |" in md
    assert "| r2-2-4 (operon) | 1/2 | 0/2 |" in md
    assert "| **all** | **4/6** | **0/2** |" in md
