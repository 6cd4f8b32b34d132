"""How linear are the messages in the true force? Plain and robust fits of m ~ A F + b, with R^2.

Each selected message component is fitted on all true force components (so any rotation and
scale of the force is allowed). The robust fit is least trimmed squares at 90%: it minimises the
sum of the squared residuals below their 90th percentile, i.e. drops the worst 10% as outliers
(as published), found by iterating least squares on the kept points until the kept set is stable.
A pair energy (an energy variant's message) is fitted on the true potential instead, up to scale
and offset (``target: potential``; both fits then use it, as a potential has no 1/m1 form).
"""

from __future__ import annotations

import json

import numpy as np

from symdistill.core.cli import errors, parser
from symdistill.core.fit import least_squares, r_squared
from symdistill.core.provenance import MESSAGES, SELECTION, atomic_path, record_inputs
from symdistill.core.figures import pyplot, save


def lstsq(y: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, float]:
    """Least-squares y ~ X a + b; returns (a, b)."""
    a, b, _ = least_squares(X, y)
    return a, float(b)


def trimmed_fit(y: np.ndarray, X: np.ndarray, keep: float = 0.9, max_iter: int = 50):
    """Least trimmed squares: the fit minimising the smallest ``keep`` fraction of squared residuals.

    Returns (a, b, kept mask). Concentration steps from the plain fit; each step cannot increase
    the trimmed sum, so it stops at a local optimum (usually after a few steps).
    """
    a, b = lstsq(y, X)
    kept = np.ones(len(y), dtype=bool)
    h = max(len(X[0]) + 2, int(np.ceil(keep * len(y))))
    for _ in range(max_iter):
        res2 = (y - X @ a - b) ** 2
        new = np.zeros(len(y), dtype=bool)
        new[np.argsort(res2, kind="stable")[:h]] = True
        if np.array_equal(new, kept):
            break
        kept = new
        a, b = lstsq(y[kept], X[kept])
    return a, b, kept


def fit_components(messages: np.ndarray, target: np.ndarray, keep: float = 0.9) -> dict:
    """Fit every message column on the target (force or acceleration) plainly and robustly (R^2
    NaN where the target is zero: a data set without a reference law has no true force)."""
    if not np.any(target):
        nan = float("nan")
        comps = [{"a": [nan] * target.shape[1], "b": nan, "r2_plain": nan, "a_robust": [nan] * target.shape[1],
                  "b_robust": nan, "r2_robust": nan} for _ in range(messages.shape[1])]
        return {"components": comps, "r2_plain": nan, "r2_robust": nan}
    comps = []
    for c in range(messages.shape[1]):
        y = messages[:, c]
        a, b = lstsq(y, target)
        ra, rb, kept = trimmed_fit(y, target, keep)
        comps.append({
            "a": a.tolist(), "b": b, "r2_plain": r_squared(y, y - (target @ a + b)),
            "a_robust": ra.tolist(), "b_robust": rb,
            "r2_robust": r_squared(y[kept], y[kept] - (target[kept] @ ra + rb)),
        })
    return {
        "components": comps,
        "r2_plain": float(np.mean([c["r2_plain"] for c in comps])),
        "r2_robust": float(np.mean([c["r2_robust"] for c in comps])),
    }


def fit_file(messages_path, selected_path, out_json, out_png=None) -> dict:
    """Fit the selected messages of a dump against force and pairwise acceleration; write JSON (+ figure)."""
    inputs = record_inputs(out_json, messages=messages_path, selected=selected_path)
    sel = SELECTION.read(selected_path)
    with MESSAGES.open(messages_path) as h:
        msgs = h["messages"][:][:, sel["components"]]
        target = "potential" if "potential" in h else "force"
        force = h["potential"][:][:, None] if target == "potential" else h["force"][:]
        acc = force if target == "potential" else h["acceleration"][:]
        info = {k: (v.item() if hasattr(v, "item") else str(v)) for k, v in h.attrs.items()
                if k in ("law", "dim", "n", "variant", "seed")}
    fit = {**info, "selected": sel["components"], "target": target, "force": fit_components(msgs, force),
           "acceleration": fit_components(msgs, acc), "edges": int(len(msgs)),
           "inputs": inputs}
    with atomic_path(out_json) as tmp:
        tmp.write_text(json.dumps(fit, indent=2))
    if out_png:
        plot_fit(msgs, force, fit, out_png)
    return fit


def plot_fit(msgs: np.ndarray, force: np.ndarray, fit: dict, out_png) -> None:
    """Each selected message against its best linear combination of the true force (as published)."""
    plt = pyplot()
    k = msgs.shape[1]
    fig, axes = plt.subplots(1, k, figsize=(4 * k, 3.8), squeeze=False)
    for c, ax in enumerate(axes[0]):
        comp = fit["force"]["components"][c]
        if not np.isfinite(comp["r2_robust"]):  # no reference law: nothing to plot against
            ax.text(0.5, 0.5, "no reference law", ha="center", va="center", transform=ax.transAxes)
            ax.set_axis_off()
            continue
        x = force @ np.asarray(comp["a_robust"]) + comp["b_robust"]
        y = msgs[:, c]
        lo, hi = np.percentile(np.concatenate([x, y]), [1, 99])
        ax.scatter(x, y, s=2, alpha=0.3, color="tab:blue", rasterized=True)
        ax.plot([lo, hi], [lo, hi], color="tab:red", lw=1)
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        ax.set_xlabel(f"linear combination of true {fit.get('target', 'force')}")
        ax.set_ylabel(f"message component {fit['selected'][c]}")
        ax.set_title(f"R² robust {comp['r2_robust']:.3f}, plain {comp['r2_plain']:.3f}", fontsize=9)
    save(fig, out_png, f"{fit.get('law')} d={fit.get('dim')} n={fit.get('n')} {fit.get('variant')} seed {fit.get('seed')}")


def main(argv: list[str] | None = None) -> None:
    p = parser("symdistill-fit", __doc__)
    p.add_argument("--messages", required=True, help="messages.h5 of a model (symdistill-messages dump)")
    p.add_argument("--selected", required=True, help="selected.json of the same model (symdistill-messages select)")
    p.add_argument("--out", required=True, help="JSON with coefficients and R^2")
    p.add_argument("--figure", help="PNG of messages against the fitted force")
    a = p.parse_args(argv)
    with errors("symdistill-fit", a.debug):
        fit = fit_file(a.messages, a.selected, a.out, a.figure)
    print(f"R2 robust {fit['force']['r2_robust']:.4f} plain {fit['force']['r2_plain']:.4f} "
          f"acceleration {fit['acceleration']['r2_robust']:.4f}")


if __name__ == "__main__":
    main()
