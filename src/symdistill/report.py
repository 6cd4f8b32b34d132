"""The results section: figures and one index.md rebuilt from the pipeline's artifacts alone."""

from __future__ import annotations

import argparse
import csv
import json
from collections import defaultdict
from pathlib import Path

import h5py
import numpy as np

from symdistill.plots import pyplot, save
from symdistill.provenance import atomic_path


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


def equations(recovery_files: list[Path]) -> list[str]:
    """Markdown list of every chosen expression (sympy and LaTeX) with its verdict."""
    lines = ["| model | component | engine | verdict | expression | LaTeX |", "|---|---|---|---|---|---|"]
    for path in sorted(recovery_files):
        r = json.loads(path.read_text())
        for c in r["components"]:
            lines.append(f"| {r['law']}-{r['dim']}-{r['n']} {r['variant']} s{r['seed']} | {c['component']} | "
                         f"{r['engine']} | {c['verdict']} | `{c['expression']}` | ${c['latex']}$ |")
    return lines


def stage_times(bench_dir: Path) -> list[str]:
    """Wall time per stage from Snakemake's benchmark files (sum and count per rule)."""
    totals: dict[str, list[float]] = defaultdict(list)
    for tsv in sorted(bench_dir.rglob("*.tsv")):
        rule = tsv.parent.name if tsv.parent != bench_dir else tsv.stem
        with tsv.open() as f:
            rows = list(csv.DictReader(f, delimiter="\t"))
        if rows:
            totals[rule].append(float(rows[-1]["s"]))
    lines = ["| stage | jobs | total s | mean s | max s |", "|---|---|---|---|---|"]
    for rule, ts in sorted(totals.items(), key=lambda kv: -sum(kv[1])):
        lines.append(f"| {rule} | {len(ts)} | {sum(ts):.0f} | {np.mean(ts):.1f} | {max(ts):.1f} |")
    return lines


def build_report(results: Path, out_dir: Path) -> Path:
    """Write figures and index.md under out_dir from everything found under results."""
    results, out_dir = Path(results), Path(out_dir)
    figs = out_dir / "figures"
    figs.mkdir(parents=True, exist_ok=True)
    sets = sorted(p.parent for p in results.glob("*_d*_n*/data.h5"))
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
        hist = sorted(ds.glob("*_s*/history.h5"))
        if hist:
            png = figs / f"training_{ds.name}.png"
            training_curves(hist, png)
            md.append(f"![training {ds.name}](figures/{png.name})")
    md += ["", "## Messages against the true force", ""]
    r2 = out_dir / "r2.md"
    if r2.exists():
        md += r2.read_text().splitlines()[2:]
    for fig in sorted(results.glob("*_d*_n*/*_s*/messages_vs_force.png")):
        md.append(f"![{fig.parent.parent.name} {fig.parent.name}](../{fig.relative_to(results)})")
    md += ["", "## Symbolic laws", ""]
    rec = out_dir / "recovery.md"
    if rec.exists():
        md += rec.read_text().splitlines()[2:]
    recov = sorted(results.glob("*_d*_n*/*_s*/recovery_*.json"))
    md += ["", "### Extracted equations", ""] + equations(recov)
    for fig in sorted(results.glob("*_d*_n*/*_s*/pareto_*.png")):
        md.append(f"![{fig.parent.parent.name} {fig.parent.name}](../{fig.relative_to(results)})")
    bench = results / "benchmarks"
    if bench.exists():
        md += ["", "## Wall time per stage", "", "From Snakemake's `benchmark:` files of this run.", ""]
        md += stage_times(bench)
    index = out_dir / "index.md"
    with atomic_path(index) as tmp:
        tmp.write_text("\n".join(md) + "\n")
    return index


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--results", required=True, help="the results directory")
    p.add_argument("--out", required=True, help="report directory (holds the tables)")
    a = p.parse_args(argv)
    print(build_report(Path(a.results), Path(a.out)))


if __name__ == "__main__":
    main()
