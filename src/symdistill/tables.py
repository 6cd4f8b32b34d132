"""Gather per-model results into the report's tables (CSV and Markdown)."""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

MAE_COLUMNS = ("sim", "dim", "n", "variant", "seed", "test_mae")


def write_table(rows: list[dict], columns, out_csv: str | Path) -> None:
    """Write rows as CSV and a Markdown twin (same name, .md) with the given columns."""
    out_csv = Path(out_csv)
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    with out_csv.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(columns), extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    fmt = lambda v: f"{v:.4g}" if isinstance(v, float) else str(v)  # noqa: E731
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(fmt(r.get(c, "")) for c in columns) + " |" for r in rows]
    out_csv.with_suffix(".md").write_text("\n".join(lines) + "\n")


def mae_table(metrics_files, out_csv) -> list[dict]:
    """Test-set acceleration MAE of every trained model (the paper's Table 3 analogue)."""
    rows = []
    for path in metrics_files:
        m = json.loads(Path(path).read_text())
        rows.append({"sim": m["law"], "dim": m["dim"], "n": m["n"], "variant": m["variant"],
                     "seed": m["seed"], "test_mae": m["test_mae"]})
    rows.sort(key=lambda r: (r["sim"], r["dim"], r["n"], r["variant"], r["seed"]))
    write_table(rows, MAE_COLUMNS, out_csv)
    return rows


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("table", choices=["mae"])
    p.add_argument("--out", required=True)
    p.add_argument("inputs", nargs="+")
    a = p.parse_args(argv)
    mae_table(a.inputs, a.out)


if __name__ == "__main__":
    main()
