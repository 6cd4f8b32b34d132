"""The results section: figures and one index.md rebuilt from the pipeline's artifacts alone."""

from __future__ import annotations

import csv
import json
import os
from collections import defaultdict
from pathlib import Path

import h5py
import numpy as np
import sympy as sp

from symdistill.core.cli import errors, parser
from symdistill.core.provenance import FIT, RECOVERY, ROLLOUT, atomic_path, check_lineage
from symdistill.gnn.variants import VARIANTS
from symdistill.report.plots import recovery_heatmap, rollout_errors, rollout_examples, training_curves, trajectories


def _variant_rank(path: Path) -> int:
    with h5py.File(path) as f:
        name = str(f.attrs.get("variant", ""))
    return list(VARIANTS).index(name) if name in VARIANTS else len(VARIANTS)


def observed_laws(rollouts: list[Path]) -> list[str]:
    """Markdown for the models of observed data sets: the recovered law, its constant against
    the published value, and the rollout against the observations after the training span."""
    md = []
    for path in rollouts:
        with h5py.File(path) as f:
            constant = json.loads(f.attrs.get("constant", "{}"))
            if not constant:
                continue
            masses = json.loads(f.attrs.get("masses", "{}"))
            rows = json.loads(f.attrs["rows"])
            exprs = json.loads(f.attrs["expressions"])
            name = f"{path.parent.parent.name} {f.attrs['variant']} ({f.attrs['engine']})"
            jd = f.attrs.get("holdout_jd", None)
        final = {r["predictor"]: r["rmse_final"] for r in rows if r["condition"] == "holdout"}
        md += [f"### {name}", "", f"Verdicts: {rows[0]['verdicts']}. Chosen message laws:", ""]
        md += [f"- ${sp.latex(sp.sympify(e, locals={}))}$" for e in exprs]
        md += ["", "| constant of the reference law | value | relative to published |", "|---|---|---|",
               f"| from the symbolic model (its laws through the read-out; R^2 of the proportionality "
               f"{constant['r2']:.7f}) | {constant['estimate']:.8g} | {constant['estimate_relative_error']:+.2e} |",
               f"| the symbolic model's scale refitted to the observed accelerations | {constant['refit']:.8g} "
               f"| {constant['refit_relative_error']:+.2e} |",
               f"| reference (published, or the reference law's own) | {constant['published']:.8g} | |", ""]
        if masses:
            md += ["Masses learned through the symbolic model: one free log-mass per body from equal masses "
                   f"of 1, fitted to the observed accelerations (normalised per body; R^2 {masses['r2']:.6f}):", "",
                   "| body | learned | published | relative difference |", "|---|---|---|---|"]
            md += [f"| {b_} | {lm:.6g} | {pm:.6g} | {lm / pm - 1:+.2e} |"
                   for b_, lm, pm in zip(masses["bodies"], masses["learned"], masses["published"])]
            md.append("")
        start = (f"the first observed state after the training span (JD {jd[0]:.1f} to {jd[1]:.1f})"
                 if jd is not None else "the first frame of each held-out segment of the trajectory")
        md += [f"Rollout from {start}: final position RMSE against the observations "
               f"{final.get('symbolic', float('nan')):.3g} (symbolic model), "
               f"{final.get('gnn', float('nan')):.3g} (GNN).", ""]
    return md


def _laws(r: dict) -> list[dict]:
    """A recovery's chosen laws: an energy variant's pair potential U first (labelled), then the
    force components."""
    pot = [{**r["pair_potential"], "component": "U (pair potential)"}] if "pair_potential" in r else []
    return pot + r["components"]


def equations_tex(recoveries: list[dict]) -> str:
    """Every chosen expression as LaTeX math, one item per model and component (\\input-able)."""
    items = []
    for r in recoveries:
        for c in _laws(r):
            items.append(f"  \\item {r['law']}--{r['dim']}--{r['n']}, {r['variant']}, seed {r['seed']}, "
                         f"component {c['component']} ({r['engine']}, {c['verdict']}): ${c['latex']}$")
    if not items:
        return "% no symbolic laws in this run\n"
    return "\\begin{itemize}\n" + "\n".join(items) + "\n\\end{itemize}\n"


def equations(recoveries: list[dict]) -> list[str]:
    """Markdown list of every chosen expression (sympy and LaTeX) with its verdict."""
    lines = ["| model | component | engine | verdict | expression | LaTeX | why chosen |", "|---|---|---|---|---|---|---|"]
    for r in recoveries:
        for c in _laws(r):
            lines.append(f"| {r['law']}-{r['dim']}-{r['n']} {r['variant']} s{r['seed']} | {c['component']} | "
                         f"{r['engine']} | {c['verdict']} | `{c['expression']}` | ${c['latex']}$ | "
                         f"{c.get('reason', '')} |")
    return lines


def stage_totals(bench_dir: Path, datasets: list[str] | None = None) -> dict[str, list[float]]:
    """Seconds of every job per rule from Snakemake's benchmark files: of the given data sets'
    jobs only (None: all) and the whole-run rules."""
    totals: dict[str, list[float]] = defaultdict(list)
    for tsv in sorted(Path(bench_dir).rglob("*.tsv")):
        rule = tsv.parent.name if tsv.parent != Path(bench_dir) else tsv.stem
        if (datasets is not None and tsv.parent != Path(bench_dir)
                and not any(tsv.stem == d or tsv.stem.startswith(d + "_") for d in datasets)):
            continue  # another configuration's job
        with tsv.open() as f:
            rows = list(csv.DictReader(f, delimiter="\t"))
        if rows:
            totals[rule].append(float(rows[-1]["s"]))
    return dict(totals)


def stage_times(bench_dir: Path, datasets: list[str]) -> list[str]:
    """Wall time per stage (sum and count per rule, ``stage_totals``) as a markdown table: the
    per-data-set files of the reported data sets only, and the whole-run rules."""
    totals = stage_totals(bench_dir, datasets)
    lines = ["| stage | jobs | total s | mean s | max s |", "|---|---|---|---|---|"]
    for rule, ts in sorted(totals.items(), key=lambda kv: -sum(kv[1])):
        lines.append(f"| {rule} | {len(ts)} | {sum(ts):.0f} | {np.mean(ts):.1f} | {max(ts):.1f} |")
    return lines


def build_report(fits: list[Path], recovery: list[Path], rollouts: list[Path], out_dir: Path,
                 benchmarks: Path | None = None, data: list[Path] = (), histories: list[Path] = ()) -> Path:
    """Write figures and index.md under out_dir from the declared artifacts only (the fit.json
    of every model, its recovery and rollout files, the data sets and training histories, the
    tables in out_dir), so results of an earlier configuration left in the same folder are never
    reported."""
    out_dir = Path(out_dir)
    models = sorted({Path(f).parent for f in fits})
    recovery, rollouts = sorted(map(Path, recovery)), sorted(map(Path, rollouts))
    if not fits:
        raise ValueError("no fit.json given: there are no models to report")
    data, histories = sorted(map(Path, data)), sorted(map(Path, histories))
    missing = [str(p) for p in [*map(Path, fits), *recovery, *rollouts, *data, *histories] if not p.is_file()]
    if missing:
        raise ValueError(f"report inputs missing: {', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}")
    for path in fits:
        FIT.read(path)
    for path in rollouts:
        ROLLOUT.open(path).close()
    figs = out_dir / "figures"
    figs.mkdir(parents=True, exist_ok=True)
    sets = sorted({m.parent for m in models})
    md = ["# symdistill results", "",
          "Regenerated from the pipeline's artifacts by the `report` rule; published numbers",
          "(docs/results.md gives their sources) are shown beside ours in parentheses.", ""]
    md += ["## Data", ""]
    for path in data:
        png = figs / f"trajectories_{path.parent.name}.png"
        trajectories(path, png)
        md.append(f"![{path.parent.name}](figures/{png.name})")
    md += ["", "## Training", ""]
    mae = out_dir / "mae.md"
    if mae.exists():
        md += mae.read_text().splitlines()[2:]  # drop its own title
    for ds in sets:
        hist = [h for h in histories if h.parent.parent == ds]
        if hist:
            png = figs / f"training_{ds.name}.png"
            training_curves(hist, png)
            md.append(f"![training {ds.name}](figures/{png.name})")
    md += ["", "## Messages against the true force", ""]
    r2 = out_dir / "r2.md"
    if r2.exists():
        md += r2.read_text().splitlines()[2:]
    for fig in (m / "messages_vs_force.png" for m in models):
        if fig.exists():
            md.append(f"![{fig.parent.parent.name} {fig.parent.name}]({os.path.relpath(fig, out_dir)})")
    md += ["", "## Symbolic laws", ""]
    rec = out_dir / "recovery.md"
    if rec.exists():
        md += rec.read_text().splitlines()[2:]
    png = figs / "recovery_heatmap.png"
    recoveries = [RECOVERY.read(path) for path in recovery]  # sorted above; read once
    recovery_heatmap(recoveries, png)
    md.append(f"![law recovery](figures/{png.name})")
    with atomic_path(out_dir / "equations.tex") as tmp:
        tmp.write_text(equations_tex(recoveries))
    md += ["", "### Extracted equations", "", "Also as LaTeX: `equations.tex`; every table as `<name>.tex`.", ""]
    md += equations(recoveries)
    for path in recovery:
        fig = path.with_name(path.name.replace("recovery_", "pareto_").replace(".json", ".png"))
        if fig.exists():
            md.append(f"![{fig.parent.parent.name} {fig.parent.name}]({os.path.relpath(fig, out_dir)})")
    if rollouts:
        md += ["", "## Rollouts: do the recovered laws generalise?", ""]
        table = out_dir / "rollout.md"
        if table.exists():
            md += table.read_text().splitlines()[2:]
        for ds in sets:
            files = [p for p in rollouts if p.parent.parent == ds]
            if not files:
                continue
            png = figs / f"rollout_error_{ds.name}.png"
            rollout_errors(files, png)
            md.append(f"![rollout error {ds.name}](figures/{png.name})")
            example = min(files, key=_variant_rank)  # the first rolled-out variant in registry order
            png = figs / f"rollout_examples_{ds.name}.png"
            rollout_examples(example, png)
            md.append(f"![rollout examples {ds.name}](figures/{png.name})")
    observed = observed_laws(rollouts)
    if observed:
        md += ["", "## Observed data: the recovered law and its constant", ""] + observed
    if benchmarks is not None and Path(benchmarks).exists():
        md += ["", "## Wall time per stage", "", "From Snakemake's `benchmark:` files of this run.", ""]
        md += stage_times(Path(benchmarks), [ds.name for ds in sets])
    index = out_dir / "index.md"
    with atomic_path(index) as tmp:
        tmp.write_text("\n".join(md) + "\n")
    return index


def main(argv: list[str] | None = None) -> None:
    p = parser("symdistill-report", __doc__)
    p.add_argument("--out", required=True, help="report directory (holds the tables; index.md is written here)")
    p.add_argument("--fits", nargs="*", required=True, help="fit.json of every model to report")
    p.add_argument("--recovery", nargs="*", default=[], help="recovery_<engine>.json files")
    p.add_argument("--rollouts", nargs="*", default=[], help="rollout_<engine>.h5 files")
    p.add_argument("--benchmarks", help="Snakemake's benchmark folder (wall time per stage)")
    p.add_argument("--data", nargs="*", default=[], help="data.h5 of every data set (sample trajectories)")
    p.add_argument("--histories", nargs="*", default=[], help="history.h5 of every model (training curves)")
    a = p.parse_args(argv)
    with errors("symdistill-report", a.debug):
        check_lineage(*a.fits, *a.recovery, *a.rollouts)
        print(build_report(a.fits, a.recovery, a.rollouts, Path(a.out), a.benchmarks, a.data, a.histories))


if __name__ == "__main__":
    main()
