"""The verdict's stage (``symdistill-judge``): every recovered expression of a model judged (chosen
and Pareto front) against its true law, and the Pareto fronts drawn."""

from __future__ import annotations

import json

import numpy as np

from symdistill.core.cli import errors, parser
from symdistill.core.edges import law_from_file
from symdistill.core.provenance import SR_RESULT, atomic_path, record_inputs
from symdistill.distill.model import SymbolicModel
from symdistill.distill.verdict import fingerprint, judge, judge_potential, law_constants
from symdistill.core.figures import pyplot, save

RANK = {"correct": 2, "correct up to 1/m1": 1, "wrong": 0, "unknown": 0}


def judge_results(sr_path, messages_path) -> dict:
    """Verdicts for each component's chosen expression and for every Pareto-front member."""
    sr = SR_RESULT.read(sr_path)
    law = law_from_file(messages_path)
    dim = int(sr["dim"])
    comps = []
    for comp in sr["components"]:
        chosen = judge(comp["chosen"]["expression"], law, dim)
        front = []
        for member in comp["pareto"]:
            v = judge(member["expression"], law, dim)
            front.append({**member, "verdict": v["verdict"], "form": v["form"],
                          "numeric_r2": v["evidence"]["force"]["numeric"]["r2"] if v["evidence"] else None})
        best = max(front, key=lambda m: (RANK[m["verdict"]], -m["complexity"]))
        comps.append({
            "component": comp["component"], **comp["chosen"], "verdict": chosen["verdict"],
            "form": chosen["form"],
            "reason": comp["chosen"].get("reason", ""),
            "evidence": chosen["evidence"], "front": front,
            "best_on_front": best["verdict"],
            "best_on_front_complexity": best["complexity"] if RANK[best["verdict"]] else None,
        })
    keys = ("law", "dim", "n", "variant", "seed", "engine")
    out = {**{k: sr[k] for k in keys if k in sr}, "true_potential": str(law.potential),
           "signed_charges": law.signed_charges, "softening": law.softening, "verdict_version": fingerprint(),
           "search_version": sr.get("search_version", ""),
           "components": comps, "chosen_law": sr["chosen_law"]}
    if "pair_potential" in sr:  # an energy variant's law: the potential itself, judged too
        pot = sr["pair_potential"]
        chosen = judge_potential(pot["chosen"]["expression"], law, dim)
        out["pair_potential"] = {**pot["chosen"], "verdict": chosen["verdict"], "form": chosen["form"],
                                 "evidence": chosen["evidence"],
                                 "front": [{**m, "verdict": judge_potential(m["expression"], law, dim)["verdict"]}
                                           for m in pot["pareto"]]}
    if "calibration" in sr:  # the law calibrated on the data: its constants against the truth's
        out["calibration"] = sr["calibration"]
        if law.has_reference:
            out["constants"] = law_constants(SymbolicModel.from_dict(sr["calibration"]["model"]), law)
    return out


def plot_fronts(result: dict, out_png) -> None:
    """Loss against complexity for each component's front; chosen circled, verdicts coloured."""
    plt = pyplot()
    colours = {"correct": "tab:green", "correct up to 1/m1": "tab:orange", "wrong": "tab:grey",
               "unknown": "tab:blue"}
    comps = result["components"]
    fig, axes = plt.subplots(1, len(comps), figsize=(4.5 * len(comps), 3.6), squeeze=False)
    for ax, comp in zip(axes[0], comps):
        cx = [m["complexity"] for m in comp["front"]]
        loss = [max(m["loss"], 1e-12) for m in comp["front"]]
        ax.plot(cx, loss, color="lightgrey", zorder=1)
        ax.scatter(cx, loss, c=[colours[m["verdict"]] for m in comp["front"]], zorder=2, s=25)
        ax.scatter([comp["complexity"]], [max(comp["loss"], 1e-12)], facecolors="none",
                   edgecolors="black", s=120, zorder=3, label=f"chosen: {comp['verdict']}")
        ax.set_yscale("log")
        ax.set_xlabel("complexity")
        ax.set_ylabel("MSE")
        reason = comp.get("reason", "")
        ax.set_title(f"component {comp['component']}" + (f"\nchosen by {reason}" if reason else ""), fontsize=7)
        ax.legend(fontsize=7)
    save(fig, out_png, f"{result.get('law')} d={result.get('dim')} n={result.get('n')} "
         f"{result.get('variant')} ({result.get('engine')}); green = correct law")


def main(argv: list[str] | None = None) -> None:
    p = parser("symdistill-judge", __doc__)
    p.add_argument("--sr", required=True, help="sr_<engine>.json of a model (symdistill-sr)")
    p.add_argument("--messages", required=True, help="messages.h5 of the same model (for the true law)")
    p.add_argument("--out", required=True, help="recovery JSON: every front member judged")
    p.add_argument("--figure", help="PNG of the Pareto fronts with the chosen and the correct laws")
    a = p.parse_args(argv)
    with errors("symdistill-judge", a.debug):
        inputs = record_inputs(a.out, sr=a.sr, messages=a.messages)
        result = {**judge_results(a.sr, a.messages), "inputs": inputs}
        with atomic_path(a.out) as tmp:
            tmp.write_text(json.dumps(result, indent=2, default=float))
        if a.figure:
            plot_fronts(result, a.figure)
    for c in result["components"]:
        print(f"component {c['component']}: {c['verdict']}: {c['expression']}")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
