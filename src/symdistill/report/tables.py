"""Gather per-model results into the report's tables (CSV, Markdown and LaTeX)."""

from __future__ import annotations

import contextlib
import csv
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from tabulate import tabulate

from symdistill.core.cli import errors, parser
from symdistill.core.provenance import FIT, METRICS, RECOVERY, ROLLOUT, atomic_path, check_lineage, producer
from symdistill.gnn.variants import VARIANTS
from symdistill.report.published import MAE_PAPER, R2_MPHIL, R2_PAPER

MAE_COLUMNS = ("sim", "dim", "n", "variant", "seed", "test_mae", "zero_val_mae", "converged")
RECOVERY_COLUMNS = ("sim", "dim", "n", "variant", "seed", "component", "engine", "expression",
                    "complexity", "verdict", "best_on_front", "best_on_front_complexity", "reason",
                    "true_potential", "signed_charges", "softening", "verdict_version", "search_version")
R2_COLUMNS = ("sim", "dim", "n", "variant", "seed", "target", "r2_plain", "r2_robust", "r2_robust_acceleration")
ROLLOUT_COLUMNS = ("sim", "dim", "n_train", "variant", "seed", "engine", "verdicts", "predictor", "condition",
                   "n", "systems", "node_r2", "rmse_10pct", "rmse_50pct", "rmse_final", "energy_drift",
                   "true_energy_drift", "capped_fraction")
VARIANT_ORDER = tuple(VARIANTS)  # registry order


def markdown(rows: list[dict], columns) -> list[str]:
    fmt = lambda v: f"{v:.4g}" if isinstance(v, float) else str(v)  # noqa: E731
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    return lines + ["| " + " | ".join(fmt(r.get(c, "")) for c in columns) + " |" for r in rows]


def pivot(rows: list[dict], value: str, published: dict | None, key) -> list[str]:
    """Markdown table: one row per data set, one column per variant, 'ours (published)' cells.

    ``key(row)`` gives the published table's row key for a row (or None when not published).
    Several seeds are shown as their mean.
    """
    variants = [v for v in VARIANT_ORDER if any(r["variant"] == v for r in rows)]
    sets = sorted({(r["sim"], r["dim"], r["n"]) for r in rows})
    lines = ["| sim-dim-n | " + " | ".join(variants) + " |", "|---|" + "---|" * len(variants)]
    for sim, dim, n in sets:
        cells = []
        for v in variants:
            vals = [r[value] for r in rows if (r["sim"], r["dim"], r["n"], r["variant"]) == (sim, dim, n, v)]
            cell = f"{np.mean(vals):.3f}" if vals else "–"
            pub = (published or {}).get(key({"sim": sim, "dim": dim, "n": n}), {}).get(v)
            cells.append(f"{cell} ({pub:.3f})" if pub is not None and vals else cell)
        lines.append(f"| {sim}-{dim}-{n} | " + " | ".join(cells) + " |")
    return lines


@contextlib.contextmanager
def reading(path) -> Iterator[None]:
    """Turn a missing, unreadable or malformed per-model input into one ValueError naming it."""
    try:
        yield
    except FileNotFoundError:
        raise ValueError(f"input {path} does not exist") from None
    except json.JSONDecodeError as err:
        raise ValueError(f"input {path} is not valid JSON ({err})") from None
    except (KeyError, TypeError, IndexError) as err:
        raise ValueError(f"input {path} lacks {err} (expected the file written by {producer(path)}; "
                         "written by another version?)") from None
    except OSError as err:
        raise ValueError(f"input {path} cannot be read ({err})") from None


def latex(rows: list[dict], columns) -> str:
    """The rows as a booktabs LaTeX tabular (tabulate escapes the text; needs \\usepackage{booktabs})."""
    body = [[r.get(c, "") for c in columns] for r in rows]
    return tabulate(body, headers=list(columns), tablefmt="latex_booktabs", floatfmt=".4g") + "\n"


def write_table(rows: list[dict], columns, out_csv: str | Path, header: list[str] | None = None) -> None:
    """Write rows as CSV, a Markdown twin (same name, .md: optional header, then all rows) and a
    LaTeX twin (.tex). A table without rows is an error (an empty table would look finished)."""
    out_csv = Path(out_csv)
    if not rows:
        raise ValueError(f"no rows for {out_csv}: its inputs hold no results (none given, or all empty)")
    with atomic_path(out_csv) as tmp:
        with tmp.open("w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(columns), extrasaction="ignore")
            w.writeheader()
            w.writerows(rows)
        lines = (header + ["", "All rows:", ""] if header else []) + markdown(rows, columns)
        with atomic_path(out_csv.with_suffix(".md")) as md:
            md.write_text("\n".join(lines) + "\n")
        with atomic_path(out_csv.with_suffix(".tex")) as tex:
            tex.write_text(latex(rows, columns))


def mae_table(metrics_files, out_csv) -> list[dict]:
    """Test-set acceleration MAE of every trained model (the paper's Table 3 analogue)."""
    rows = []
    for path in metrics_files:
        with reading(path):
            m = METRICS.read(path)
            rows.append({"sim": m["law"], "dim": m["dim"], "n": m["n"], "variant": m["variant"],
                         "seed": m["seed"], "test_mae": m["test_mae"],
                         "zero_val_mae": m.get("zero_val_mae", float("nan")), "converged": m.get("converged", ""),
                         "learned": (m.get("learned", m.get("converged", True) is not False),
                                     m.get("val_median_relative_error", np.nan), m.get("learned_below", np.nan))})
    rows.sort(key=lambda r: (r["sim"], r["dim"], r["n"], r["variant"], r["seed"]))
    header = ["# Test MAE on accelerations", "",
              "Ours, with the paper's value in parentheses where it reports one (same sim and dim;",
              "the paper trained far longer on 10,000 simulations).", ""]
    failed = [f"{r['sim']}-{r['dim']}-{r['n']} {r['variant']} s{r['seed']} ({r['learned'][1]:.2f}, "
              f"needs below {r['learned'][2]:.2g})" for r in rows if not r["learned"][0]]
    for r in rows:
        del r["learned"]
    if failed:
        header += ["**Failed: the network learned nothing** (median relative error on the validation nodes; "
                   "predicting zero scores 1; the sr file says so beside every law, and the network is not "
                   "rolled out): " + ", ".join(failed), ""]
    header += pivot(rows, "test_mae", MAE_PAPER, lambda r: (r["sim"], r["dim"]))
    write_table(rows, MAE_COLUMNS, out_csv, header)
    return rows


def r2_table(fit_files, out_csv) -> list[dict]:
    """Robust and plain R^2 of the selected messages against the true force, per model."""
    rows = []
    for path in fit_files:
        with reading(path):
            f = FIT.read(path)
            rows.append({"sim": f["law"], "dim": f["dim"], "n": f["n"], "variant": f["variant"],
                         "seed": f["seed"], "target": f.get("target", "force"), "r2_plain": f["force"]["r2_plain"],
                         "r2_robust": f["force"]["r2_robust"],
                         "r2_robust_acceleration": f["acceleration"]["r2_robust"]})
    rows.sort(key=lambda r: (r["sim"], r["dim"], r["n"], VARIANT_ORDER.index(r["variant"]), r["seed"]))
    header = ["# Message-force R² (robust: worst 10% of residuals dropped)", "",
              "An energy variant's pair energy is fitted on the true potential instead (column target).", "",
              "Ours, with the MPhil reproduction's robust R² in parentheses (2-D, n = 4):", ""]
    header += pivot(rows, "r2_robust", R2_MPHIL, lambda r: r["sim"] if (r["dim"], r["n"]) == (2, 4) else None)
    header += ["", "Ours, with the original paper's R² in parentheses (same sim and dim):", ""]
    header += pivot(rows, "r2_robust", R2_PAPER, lambda r: (r["sim"], r["dim"]))
    header += ["", "Against the pairwise acceleration F/m1 (a model may learn that instead):", ""]
    header += pivot(rows, "r2_robust_acceleration", None, lambda r: None)
    write_table(rows, R2_COLUMNS, out_csv, header)
    return rows


def recovery_table(recovery_files, out_csv) -> list[dict]:
    """One row per message component: the chosen expression, its verdict, the best on the front."""
    rows, constants, potentials = [], [], []
    for path in recovery_files:
        with reading(path):
            f = RECOVERY.read(path)
            if f.get("constants"):
                constants.append((f, f["constants"]))
            if "pair_potential" in f:
                p = f["pair_potential"]
                potentials.append(f"| {f['law']}-{f['dim']}-{f['n']} {f['variant']} s{f['seed']} | "
                                  f"`{p['expression']}` | `{f['true_potential']}` | {p['verdict']} |")
            for c in f["components"]:
                rows.append({"sim": f["law"], "dim": f["dim"], "n": f["n"], "variant": f["variant"],
                             "seed": f["seed"], "component": c["component"], "engine": f["engine"],
                             "expression": c["expression"], "complexity": c["complexity"],
                             "verdict": c["verdict"], "best_on_front": c["best_on_front"],
                             "best_on_front_complexity": c["best_on_front_complexity"] or "",
                             "reason": c.get("reason", ""), "true_potential": f.get("true_potential", ""),
                             "signed_charges": f.get("signed_charges", ""), "softening": f.get("softening", ""),
                             "verdict_version": f.get("verdict_version", ""),
                             "search_version": f.get("search_version", "")})
    rows.sort(key=lambda r: (r["sim"], r["dim"], r["n"], VARIANT_ORDER.index(r["variant"]),
                             r["seed"], r["engine"], r["component"]))
    header = ["# Law recovery", "",
              "Chosen expression per message component: correct / correct up to 1/m1 / wrong",
              "(counts over components); 'front: c/a' = components whose Pareto front holds the correct",
              "law / only the law up to 1/m1.",
              "Published (MPhil, PySR): bottleneck and pruning correct for both components of all four",
              "sims; L1 failed on charge (2nd component) and r2; KL failed almost everywhere; standard",
              "failed on charge and r2.", ""]
    variants = [v for v in VARIANT_ORDER if any(r["variant"] == v for r in rows)]
    header += ["| sim-dim-n (engine) | " + " | ".join(variants) + " |", "|---|" + "---|" * len(variants)]
    for key in sorted({(r["sim"], r["dim"], r["n"], r["engine"]) for r in rows}):
        cells = []
        for v in variants:
            sel = [r for r in rows if (r["sim"], r["dim"], r["n"], r["engine"]) == key and r["variant"] == v]
            if not sel:
                cells.append("–")
                continue
            count = lambda field, verdict: sum(r[field] == verdict for r in sel)  # noqa: E731
            cells.append(f"{count('verdict', 'correct')}/{count('verdict', 'correct up to 1/m1')}/"
                         f"{count('verdict', 'wrong')} (front: {count('best_on_front', 'correct')}/"
                         f"{count('best_on_front', 'correct up to 1/m1')})")
        header.append(f"| {key[0]}-{key[1]}-{key[2]} ({key[3]}) | " + " | ".join(cells) + " |")
    header += ["", *recovery_rates(rows, variants), "", *constants_lines(constants)]
    if potentials:  # energy variants: the potential itself, judged up to a function of m and q
        header += ["", "Pair potentials (energy variants; correct = a U + c(m, q), the same forces):", "",
                   "| model | chosen U | true U | verdict |", "|---|---|---|---|", *potentials]
    write_table(rows, RECOVERY_COLUMNS, out_csv, header)
    return rows


def constants_lines(found: list[tuple[dict, dict]]) -> list[str]:
    """Markdown: the physical constants each law calibrated on the data implies, against the
    generating potential's (symdistill.distill.verdict.law_constants): the strength (recovered /
    true, of the leading term; G, k or the charge constant), each other term's ratio to it
    (e.g. a spring's rest length), and the share of the law the truth's terms do not explain."""
    if not found:
        return []
    lines = ["Constants of the laws calibrated on the data (recovered against the generating potential's):", "",
             "| sim-dim-n | variant (engine) | verdicts | strength (recovered / true) | term ratios: recovered (true) "
             "| unexplained |", "|---|---|---|---|---|---|"]
    for f, c in sorted(found, key=lambda x: (x[0]["law"], x[0]["dim"], VARIANT_ORDER.index(x[0]["variant"]))):
        verdicts = "/".join(comp["verdict"].replace("correct up to 1/m1", "1/m1") for comp in f["components"])
        ratios = "; ".join(f"{r['ratio']}: {r['recovered']:.6g} ({r['true']:.6g})" for r in c["term_ratios"]) or "–"
        lines.append(f"| {f['law']}-{f['dim']}-{f['n']} | {f['variant']} ({f['engine']}) | {verdicts} | "
                     f"{c['strength']:.6f} | {ratios} | {c['unexplained']:.2e} |")
    return lines


def recovery_rates(rows: list[dict], variants: list[str]) -> list[str]:
    """Markdown: correct chosen components / all components, per law and variant, over all seeds,
    with a total per variant (the number to quote: it is not one seed's luck)."""
    seeds = sorted({r["seed"] for r in rows})
    lines = [f"Recovery rate over seeds {seeds} (chosen expression correct / components):", "",
             "| sim-dim-n (engine) | " + " | ".join(variants) + " |", "|---|" + "---|" * len(variants)]
    keys = sorted({(r["sim"], r["dim"], r["n"], r["engine"]) for r in rows})
    total = {v: [0, 0] for v in variants}
    for key in keys:
        cells = []
        for v in variants:
            sel = [r for r in rows if (r["sim"], r["dim"], r["n"], r["engine"]) == key and r["variant"] == v]
            ok = sum(r["verdict"] == "correct" for r in sel)
            total[v][0] += ok
            total[v][1] += len(sel)
            cells.append(f"{ok}/{len(sel)}" if sel else "–")
        lines.append(f"| {key[0]}-{key[1]}-{key[2]} ({key[3]}) | " + " | ".join(cells) + " |")
    lines.append("| **all** | " + " | ".join(f"**{a}/{b}**" if b else "–" for a, b in total.values()) + " |")
    return lines


def rollout_table(rollout_files, out_csv) -> list[dict]:
    """One row per model, predictor (GNN or symbolic) and test condition; the header pivots the
    final position error: GNN / symbolic per condition."""
    rows = []
    for path in rollout_files:
        with reading(path), ROLLOUT.open(path) as f:
            rows += json.loads(f.attrs["rows"])
    key = lambda r: (r["sim"], r["dim"], r["n_train"], VARIANT_ORDER.index(r["variant"]), r["seed"], r["engine"])  # noqa: E731
    rows.sort(key=key)  # stable: conditions stay in the order they were run
    conditions = list(dict.fromkeys(r["condition"] for r in rows))
    header = ["# Rollouts: GNN against its symbolic model", "",
              "Median position RMSE at the end of the horizon against the true simulator, GNN / symbolic,",
              "per test condition (test = held-out initial states; n8, n16 = more particles than the 4",
              "trained on; mass_wide = log-mass std 2 instead of 1; spread_wide = positions std 3;",
              "holdout = an observed data set's observations after its span, against the observations).",
              "Bold: the better of the two.", "",
              "| model (engine) | verdicts | " + " | ".join(conditions) + " |",
              "|---|---|" + "---|" * len(conditions)]
    fmt = lambda v, bold: f"**{v:.3g}**" if bold else f"{v:.3g}"  # noqa: E731
    for k in sorted({key(r) for r in rows}):
        sel = [r for r in rows if key(r) == k]
        cells = []
        for c in conditions:
            val = {r["predictor"]: r["rmse_final"] for r in sel if r["condition"] == c}
            g, s_ = val.get("gnn", float("nan")), val.get("symbolic", float("nan"))
            cells.append(f"{fmt(g, g < s_)} / {fmt(s_, s_ < g)}")
        name = f"{k[0]}-{k[1]}-{k[2]} {VARIANT_ORDER[k[3]]} s{k[4]} ({k[5]})"
        header.append(f"| {name} | {sel[0]['verdicts']} | " + " | ".join(cells) + " |")
    write_table(rows, ROLLOUT_COLUMNS, out_csv, header)
    return rows


def main(argv: list[str] | None = None) -> None:
    p = parser("symdistill-table", __doc__)
    p.add_argument("table", choices=["mae", "r2", "recovery", "rollout"], help="which table to write")
    p.add_argument("--out", required=True, help="output CSV (a Markdown .md and a LaTeX .tex, booktabs, are written beside it)")
    p.add_argument("inputs", nargs="*", help="per-model result files the table gathers")
    a = p.parse_intermixed_args(argv)
    tables = {"mae": mae_table, "r2": r2_table, "recovery": recovery_table, "rollout": rollout_table}
    with errors("symdistill-table", a.debug):
        check_lineage(*a.inputs)
        tables[a.table](a.inputs, a.out)


if __name__ == "__main__":
    main()
