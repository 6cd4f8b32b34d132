"""Ablation of the symbolic stage on real message dumps: one row per setting, each one change
against the pipeline's symbolic settings (config.yaml), run on the same trained models.

For every model directory given (holding messages.h5, selected.json and best.pt beside its data set's
data.h5, as the workflow writes them) and every setting, the symbolic stage runs exactly as in the pipeline
(``symdistill.distill.stage.regress_messages``) and every chosen component is judged by the
project's verdict. Prints, per setting: chosen components correct / all, components whose
front holds the law, and the seconds spent; then the per-model verdicts.
Run: python bench/ablate_symbolic.py results/*_d2_n4/{bottleneck,pruning}_s0 [--settings ...]
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

from symdistill.core.config import load_config, sr_settings
from symdistill.core.edges import law_from_file
from symdistill.distill.settings import SRSettings
from symdistill.distill.stage import regress_messages
from symdistill.distill.verdict import judge

sys.path.insert(0, str(Path(__file__).parent))
from ablations import ABLATIONS  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("models", nargs="+", help="model directories (messages.h5, selected.json, best.pt)")
    p.add_argument("--settings", nargs="*", default=list(ABLATIONS), help="rows of ABLATIONS to run")
    a = p.parse_args()
    base = SRSettings(**sr_settings(load_config(ROOT / "config.yaml"), "operon"))
    print(f"{'setting':66s} {'chosen correct':>14s} {'front holds law':>15s} {'seconds':>8s}  per model")
    for label in a.settings:
        s = replace(base, **ABLATIONS[label])
        ok = front = total = 0
        spent = 0.0
        per_model = []
        for d in map(Path, a.models):
            t0 = time.perf_counter()
            out = regress_messages(d / "messages.h5", d / "selected.json", s, d / "best.pt", d.parent / "data.h5")
            spent += time.perf_counter() - t0
            law, dim = law_from_file(d / "messages.h5"), int(out["dim"])
            verdicts = [judge(c["chosen"]["expression"], law, dim)["verdict"] for c in out["components"]]
            on_front = [any(judge(m["expression"], law, dim)["verdict"] == "correct" for m in c["pareto"])
                        for c in out["components"]]
            ok += verdicts.count("correct")
            front += sum(on_front)
            total += len(verdicts)
            per_model.append(f"{d.parent.name.split('_')[0]}/{d.name.split('_')[0]} "
                             f"{sum(v == 'correct' for v in verdicts)}/{len(verdicts)}")
        print(f"{label:66s} {f'{ok}/{total}':>14s} {f'{front}/{total}':>15s} {spent:8.0f}  {', '.join(per_model)}",
              flush=True)


if __name__ == "__main__":
    main()
