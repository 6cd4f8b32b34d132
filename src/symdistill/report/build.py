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
from symdistill.report.plots import pyplot, save


def training_curves(histories: list[Path], out_png) -> None:
    """Training loss (smoothed) and validation MAE of every model of one data set."""
    plt = pyplot()
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.6))
    for path in sorted(histories):
        with h5py.File(path) as f:
            loss, vs, vm = f["mae"][:], f["val_step"][:], f["val_mae"][:]
        label = path.parent.name
        k = max(1, len(loss) // 200)
        smooth = np.convolve(loss, np.ones(k) / k, mode="valid")
        a.plot(np.arange(len(smooth)) + k // 2, smooth, label=label, lw=1)
        b.plot(vs, vm, marker=".", label=label, lw=1)
    for ax, name in ((a, "train MAE (moving average)"), (b, "validation MAE")):
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_ylabel(name)
    b.legend(fontsize=7)
    save(fig, out_png, histories[0].parent.parent.name if histories else "")


def trajectories(data_path, out_png, count: int = 4) -> None:
    """A few simulated systems from the test split: particle paths, marker size ~ mass."""
    plt = pyplot()
    with h5py.File(data_path) as f:
        sims = f["split/test"][:count]
        pos, m = f["positions"][:][sims], f["masses"][:][sims]
        law = str(f.attrs["law"])
    fig, axes = plt.subplots(1, len(sims), figsize=(3.2 * len(sims), 3.2), squeeze=False)
    for ax, p, mass in zip(axes[0], pos, m):
        for i in range(p.shape[1]):
            ax.plot(p[:, i, 0], p[:, i, 1], lw=0.8)
            ax.scatter(p[-1, i, 0], p[-1, i, 1], s=12 * mass[i] ** 0.5)
        ax.set_aspect("equal", adjustable="datalim")
        ax.set_xticks([])
        ax.set_yticks([])
    save(fig, out_png, f"{law}: sample test trajectories (dot = end, size ~ sqrt(mass))")


def rollout_errors(files: list[Path], out_png) -> None:
    """Median position error against the true simulator vs time, one panel per test condition:
    GNN dashed, symbolic solid, one colour per model."""
    plt = pyplot()
    with h5py.File(files[0]) as f:
        conds = [c for c in f if isinstance(f[c], h5py.Group)]
        law = str(f.attrs["law"])
    fig, axes = plt.subplots(1, len(conds), figsize=(3.3 * len(conds), 3.2), squeeze=False, sharey=True)
    for k, path in enumerate(sorted(files)):
        with h5py.File(path) as f:
            t, label = f["times"][:], f"{f.attrs['variant']} ({f.attrs['engine']})"
            for ax, c in zip(axes[0], conds):
                for name, style in (("gnn", "--"), ("symbolic", "-")):
                    ax.plot(t[1:], f[c][name]["rmse_median"][1:], style, color=f"C{k}", lw=1,
                            label=f"{label} {name}")
                ax.set_title(f"{c} (n={f[c].attrs['n']})", fontsize=8)
    for ax in axes[0]:
        ax.set_yscale("log")
        ax.set_xlabel("time")
    axes[0][0].set_ylabel("median position RMSE")
    axes[0][-1].legend(fontsize=6)
    save(fig, out_png, f"{law}: rollout error vs time (dashed: GNN, solid: symbolic model)")


def _variant_rank(path: Path) -> int:
    with h5py.File(path) as f:
        name = str(f.attrs.get("variant", ""))
    return list(VARIANTS).index(name) if name in VARIANTS else len(VARIANTS)


def rollout_examples(path: Path, out_png, conditions=("test", "n8", "holdout")) -> None:
    """One system per condition: true, GNN and symbolic particle paths side by side."""
    plt = pyplot()
    with h5py.File(path) as f:
        conds = [c for c in conditions if c in f]
        title = f"{f.attrs['law']} {f.attrs['variant']} ({f.attrs['engine']})"
        paths = {c: {"true": f[c]["true_positions_example"][:], "GNN": f[c]["gnn/positions_example"][:],
                     "symbolic": f[c]["symbolic/positions_example"][:]} for c in conds}
    if not conds:
        return
    fig, axes = plt.subplots(len(conds), 3, figsize=(9, 3 * len(conds)), squeeze=False)
    for row, c in zip(axes, conds):
        for ax, (name, p) in zip(row, paths[c].items()):
            for i in range(p.shape[1]):
                ax.plot(p[:, i, 0], p[:, i, 1], lw=0.8, color=f"C{i % 10}")
            ax.set_title(f"{c}: {name}", fontsize=8)
            ax.set_aspect("equal", adjustable="datalim")
            ax.set_xticks([])
            ax.set_yticks([])
    save(fig, out_png, f"{title}: example trajectories")


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
               f"| published | {constant['published']:.8g} | |", ""]
        if masses:
            md += ["Masses learned through the symbolic model: one free log-mass per body from equal masses "
                   f"of 1, fitted to the observed accelerations (normalised per body; R^2 {masses['r2']:.6f}):", "",
                   "| body | learned | published | relative difference |", "|---|---|---|---|"]
            md += [f"| {b_} | {lm:.6g} | {pm:.6g} | {lm / pm - 1:+.2e} |"
                   for b_, lm, pm in zip(masses["bodies"], masses["learned"], masses["published"])]
            md.append("")
        span = f" (JD {jd[0]:.1f} to {jd[1]:.1f})" if jd is not None else ""
        md += [f"Rollout from the first observed state after the training span{span}: final position "
               f"RMSE against the observations {final.get('symbolic', float('nan')):.3g} (symbolic model), "
               f"{final.get('gnn', float('nan')):.3g} (GNN).", ""]
    return md


def recovery_heatmap(recoveries: list[dict], out_png) -> None:
    """Share of message components whose chosen law is correct, per data set (row) and variant
    (column), over every engine and seed; each cell says correct / components."""
    plt = pyplot()
    counts: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    for r in recoveries:
        cell = counts[(f"{r['law']}-{r['dim']}-{r['n']}", r["variant"])]
        cell[0] += sum(c["verdict"] == "correct" for c in r["components"])
        cell[1] += len(r["components"])
    if not counts:
        fig, ax = plt.subplots(figsize=(4, 1.5))
        ax.axis("off")
        ax.text(0.5, 0.5, "no symbolic laws in this run", ha="center", va="center")
        save(fig, out_png)
        return
    rows = sorted({k[0] for k in counts})
    cols = [v for v in VARIANTS if any(k[1] == v for k in counts)]
    share = np.full((len(rows), len(cols)), np.nan)
    for (row, col), (good, total) in counts.items():
        share[rows.index(row), cols.index(col)] = good / total if total else np.nan
    fig, ax = plt.subplots(figsize=(3.2 + 1.1 * len(cols), 1.6 + 0.45 * len(rows)))
    im = ax.imshow(share, vmin=0, vmax=1, cmap="viridis", aspect="auto")
    for (row, col), (good, total) in counts.items():
        i, j = rows.index(row), cols.index(col)
        ax.text(j, i, f"{good}/{total}", ha="center", va="center", fontsize=8,
                color="black" if share[i, j] > 0.5 else "white")
    ax.set_xticks(range(len(cols)), cols)
    ax.set_yticks(range(len(rows)), rows)
    fig.colorbar(im, ax=ax, label="share correct")
    save(fig, out_png, "law recovery: correct / components")


def equations_tex(recoveries: list[dict]) -> str:
    """Every chosen expression as LaTeX math, one item per model and component (\\input-able)."""
    items = []
    for r in recoveries:
        for c in r["components"]:
            items.append(f"  \\item {r['law']}--{r['dim']}--{r['n']}, {r['variant']}, seed {r['seed']}, "
                         f"component {c['component']} ({r['engine']}, {c['verdict']}): ${c['latex']}$")
    if not items:
        return "% no symbolic laws in this run\n"
    return "\\begin{itemize}\n" + "\n".join(items) + "\n\\end{itemize}\n"


def equations(recoveries: list[dict]) -> list[str]:
    """Markdown list of every chosen expression (sympy and LaTeX) with its verdict."""
    lines = ["| model | component | engine | verdict | expression | LaTeX | why chosen |", "|---|---|---|---|---|---|---|"]
    for r in recoveries:
        for c in r["components"]:
            lines.append(f"| {r['law']}-{r['dim']}-{r['n']} {r['variant']} s{r['seed']} | {c['component']} | "
                         f"{r['engine']} | {c['verdict']} | `{c['expression']}` | ${c['latex']}$ | "
                         f"{c.get('reason', '')} |")
    return lines


def stage_times(bench_dir: Path, datasets: list[str]) -> list[str]:
    """Wall time per stage from Snakemake's benchmark files (sum and count per rule): the
    per-data-set files of the reported data sets only, and the whole-run rules."""
    totals: dict[str, list[float]] = defaultdict(list)
    for tsv in sorted(bench_dir.rglob("*.tsv")):
        rule = tsv.parent.name if tsv.parent != bench_dir else tsv.stem
        if tsv.parent != bench_dir and not any(tsv.stem == d or tsv.stem.startswith(d + "_") for d in datasets):
            continue  # another configuration's job
        with tsv.open() as f:
            rows = list(csv.DictReader(f, delimiter="\t"))
        if rows:
            totals[rule].append(float(rows[-1]["s"]))
    lines = ["| stage | jobs | total s | mean s | max s |", "|---|---|---|---|---|"]
    for rule, ts in sorted(totals.items(), key=lambda kv: -sum(kv[1])):
        lines.append(f"| {rule} | {len(ts)} | {sum(ts):.0f} | {np.mean(ts):.1f} | {max(ts):.1f} |")
    return lines


def build_report(fits: list[Path], recovery: list[Path], rollouts: list[Path], out_dir: Path,
                 benchmarks: Path | None = None) -> Path:
    """Write figures and index.md under out_dir from the declared per-model artifacts only (the
    fit.json of every model, its recovery and rollout files, the tables in out_dir), so results
    of an earlier configuration left in the same folder are never reported."""
    out_dir = Path(out_dir)
    models = sorted({Path(f).parent for f in fits})
    recovery, rollouts = sorted(map(Path, recovery)), sorted(map(Path, rollouts))
    if not fits:
        raise ValueError("no fit.json given: there are no models to report")
    missing = [str(p) for p in [*map(Path, fits), *recovery, *rollouts] if not p.is_file()]
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
          "(../shared/REFERENCE.md §4) are shown beside ours in parentheses.", ""]
    md += ["## Data", ""]
    for ds in sets:
        png = figs / f"trajectories_{ds.name}.png"
        trajectories(ds / "data.h5", png)
        md.append(f"![{ds.name}](figures/{png.name})")
    md += ["", "## Training", ""]
    mae = out_dir / "mae.md"
    if mae.exists():
        md += mae.read_text().splitlines()[2:]  # drop its own title
    for ds in sets:
        hist = [m / "history.h5" for m in models if m.parent == ds and (m / "history.h5").exists()]
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
    p = parser("symdistill-report", __doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="report directory (holds the tables; index.md is written here)")
    p.add_argument("--fits", nargs="*", required=True, help="fit.json of every model to report")
    p.add_argument("--recovery", nargs="*", default=[], help="recovery_<engine>.json files")
    p.add_argument("--rollouts", nargs="*", default=[], help="rollout_<engine>.h5 files")
    p.add_argument("--benchmarks", help="Snakemake's benchmark folder (wall time per stage)")
    a = p.parse_args(argv)
    with errors("symdistill-report", a.debug):
        check_lineage(*a.fits, *a.recovery, *a.rollouts)
        print(build_report(a.fits, a.recovery, a.rollouts, Path(a.out), a.benchmarks))


if __name__ == "__main__":
    main()
