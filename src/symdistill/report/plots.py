"""The report's figures, one function per figure, each drawn from the pipeline's artifacts alone:
training curves, sample trajectories, rollout errors and examples, the recovery heat map."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import h5py
import numpy as np

from symdistill.core.figures import pyplot, save
from symdistill.gnn.variants import VARIANTS


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
