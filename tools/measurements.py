"""Held-out measurements, taken blind and checkable without rerunning them.

A measurement is a set of laws (a config) and the exact command that runs it, frozen with the
verdict's and the search's fingerprints (hashes of their sources) and committed *before* the
run; after the run its recovery table (the first judgement) is copied in and never edited; a
later verdict is reported beside it, never instead.
Each measurement lives in measurements/<name>/: MEASURE.yaml (set, command, verdict, kind),
recovery.csv (the first judgement, one row per message component) and rejudged.csv (the verdict
of every later verdict version, by fingerprint). measurements/README.md quotes each headline.

    python tools/measurements.py freeze NAME --config CONFIG [--kind blind]   # before the run
    python tools/measurements.py record NAME RESULTS_DIR                       # after it
    python tools/measurements.py rejudge NAME [NAME ...]                       # the current verdict, beside
    python tools/measurements.py check [--rejudge] [NAME ...]                  # every claim, from git and the CSVs
    python tools/measurements.py table NAME [--by variant,dim] [--verdict V]   # a breakdown, as Markdown

``check`` verifies, per measurement: MEASURE.yaml was committed before recovery.csv, the set's
config did not change between the two commits, recovery.csv was never edited after it was
committed, every row was searched and judged by the frozen code, and the counts quoted in README.md are the
CSV's; with ``--rejudge`` it judges every row again and requires the verdict recorded for the
current verdict version to be reproduced exactly. A retrospective measurement (kind:
retrospective: a set measured before this protocol existed, rerun later) skips the git order.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(os.environ.get("SYMDISTILL_ROOT", Path(__file__).resolve().parents[1]))  # tests point it elsewhere
HOME = ROOT / "measurements"
VERDICTS = ("correct", "correct up to 1/m1", "wrong")
KEY = ("sim", "dim", "n", "variant", "seed", "component", "engine")


def git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(ROOT), *args], check=True, capture_output=True, text=True).stdout.strip()


def added_in(path: Path) -> str | None:
    """The commit that first added ``path`` (None if it is not committed)."""
    commits = git("log", "--diff-filter=A", "--format=%H", "--", str(path.relative_to(ROOT))).split()
    return commits[-1] if commits else None


def touched_by(path: Path) -> list[str]:
    return git("log", "--format=%H", "--follow", "--", str(path.relative_to(ROOT))).split()


def read_measure(name: str) -> dict:
    path = HOME / name / "MEASURE.yaml"
    if not path.exists():
        raise SystemExit(f"measurements: no measurement {name!r} ({path} is missing; freeze it first)")
    return yaml.safe_load(path.read_text())


def read_rows(path: Path) -> list[dict]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def counts(rows: list[dict], column: str = "verdict") -> dict[str, int]:
    return {v: sum(r[column] == v for r in rows) for v in VERDICTS} | {"components": len(rows)}


def headline(c: dict[str, int]) -> str:
    right = c["correct"] + c["correct up to 1/m1"]
    return f"{right}/{c['components']} ({c['correct']} correct, {c['correct up to 1/m1']} up to 1/m1)"


def write_csv(path: Path, rows: list[dict], columns: list[str]) -> None:
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    tmp.replace(path)


def verdict_at(commit: str) -> str:
    """The fingerprint of the verdict as it was at ``commit`` (for a retrospective measurement)."""
    import hashlib

    source = subprocess.run(["git", "-C", str(ROOT), "show", f"{commit}:src/symdistill/distill/verdict.py"],
                            check=True, capture_output=True).stdout
    return hashlib.sha256(b"verdict.py\0" + source).hexdigest()[:12]  # as core.provenance.source_fingerprint


def freeze(name: str, configs: list[str], kind: str, verdict_from: str | None = None) -> None:
    """Write MEASURE.yaml: the set (the last config; those before it are laid under it, as a law
    set under config/laws/overlay.yaml), the command and the verdict's fingerprint (commit it, then
    run; a retrospective measurement names the commit whose verdict judged it)."""
    from symdistill.distill.stage import search_fingerprint
    from symdistill.distill.verdict import fingerprint

    for config in configs:
        if not (ROOT / config).exists():
            raise SystemExit(f"measurements: the set {config} does not exist")
    folder = HOME / name
    if (folder / "recovery.csv").exists():
        raise SystemExit(f"measurements: {name} is already measured; a measurement is frozen once")
    folder.mkdir(parents=True, exist_ok=True)
    results = "results"
    for config in configs:
        results = (yaml.safe_load((ROOT / config).read_text()) or {}).get("results", results)
    measure = {"name": name, "config": configs[-1], **({"under": configs[:-1]} if len(configs) > 1 else {}),
               "kind": kind, "verdict": verdict_at(verdict_from) if verdict_from else fingerprint(),
               "command": f"snakemake --cores 2 --configfile {' '.join(configs)}",
               "table": f"{results}/report/recovery.csv",
               **({"code": verdict_from} if verdict_from else {"search": search_fingerprint()})}
    (folder / "MEASURE.yaml").write_text(yaml.safe_dump(measure, sort_keys=False))
    print(f"froze {name}: verdict {measure['verdict']}; commit {folder / 'MEASURE.yaml'} and {' '.join(configs)}, "
          f"then run:\n  {measure['command']}")


def record(name: str, results: str) -> None:
    """Copy the run's recovery table in as the first judgement (refused unless MEASURE.yaml is
    committed and every row was judged by the frozen verdict). A retrospective run, judged by a
    verdict older than its fingerprint, is read from its per-model verdicts instead."""
    m = read_measure(name)
    folder = HOME / name
    if m["kind"] == "blind" and added_in(folder / "MEASURE.yaml") is None:
        raise SystemExit(f"measurements: {folder / 'MEASURE.yaml'} is not committed: a blind measurement is "
                         "committed before its run")
    if (folder / "recovery.csv").exists():
        raise SystemExit(f"measurements: {name} already has its first judgement")
    table = Path(results) / "report" / "recovery.csv"
    rows = retrospective_rows(Path(results), m["verdict"]) if m["kind"] == "retrospective" else read_rows(table)
    versions = {r.get("verdict_version", "") for r in rows}
    if versions != {m["verdict"]}:
        raise SystemExit(f"measurements: {table} was judged by verdict {sorted(versions)}, "
                         f"not the frozen {m['verdict']}")
    searches = {r.get("search_version", "") for r in rows}
    if "search" in m and searches != {m["search"]}:
        raise SystemExit(f"measurements: {table} was searched by {sorted(searches)}, not the frozen {m['search']}")
    from symdistill.report.tables import RECOVERY_COLUMNS

    write_csv(folder / "recovery.csv", rows, list(RECOVERY_COLUMNS))
    print(f"{name}: {headline(counts(rows))}")


def retrospective_rows(results: Path, version: str) -> list[dict]:
    """Recovery rows from a run's per-model verdicts (recovery_<engine>.json), the law of each
    from its message dump, all marked as judged by ``version``."""
    from symdistill.core.edges import law_from_file

    rows = []
    for path in sorted(results.glob("*/*/recovery_*.json")):
        f = json.loads(path.read_text())
        law = law_from_file(path.parent / "messages.h5")
        for c in f["components"]:
            rows.append({"sim": f["law"], "dim": f["dim"], "n": f["n"], "variant": f["variant"], "seed": f["seed"],
                         "component": c["component"], "engine": f["engine"], "expression": c["expression"],
                         "complexity": c["complexity"], "verdict": c["verdict"], "best_on_front": c["best_on_front"],
                         "best_on_front_complexity": c["best_on_front_complexity"] or "",
                         "reason": c.get("reason", ""), "true_potential": str(law.potential),
                         "signed_charges": law.signed_charges, "softening": law.softening, "verdict_version": version})
    rows.sort(key=lambda r: tuple(str(r[k]) for k in KEY))
    return rows


def rejudge(name: str) -> None:
    """Judge every row with the current verdict; its column (by fingerprint) goes to rejudged.csv."""
    from symdistill.distill.verdict import fingerprint

    folder = HOME / name
    rows = read_rows(folder / "recovery.csv")
    version = fingerprint()
    before = folder / "rejudged.csv"
    old = {tuple(r[k] for k in KEY): r for r in read_rows(before)} if before.exists() else {}
    out = []
    for row in rows:
        kept = old.get(tuple(row[k] for k in KEY), {})
        out.append({**{k: row[k] for k in KEY}, "expression": row["expression"],
                    **{k: v for k, v in kept.items() if k.startswith("verdict_")},
                    f"verdict_{row['verdict_version']}": row["verdict"], f"verdict_{version}": judged(row)})
    columns = [*KEY, "expression"] + sorted({k for r in out for k in r if k.startswith("verdict_")})
    write_csv(folder / "rejudged.csv", out, columns)
    print(f"{name}: first {headline(counts(rows))}; verdict {version}: {headline(counts(out, f'verdict_{version}'))}")


def judged(row: dict) -> str:
    """The current verdict on one row's expression, against the law the row names."""
    import sympy as sp

    from symdistill.core.expr import parse_expression
    from symdistill.core.laws import POTENTIAL_SYMBOLS, Law, r
    from symdistill.distill.verdict import judge

    potential = parse_expression(row["true_potential"], POTENTIAL_SYMBOLS).subs(sp.Symbol("r", real=True), r)
    law = Law(row["sim"], potential, 0.0, row["signed_charges"] == "True", softening=float(row["softening"]))
    return judge(row["expression"], law, int(row["dim"]))["verdict"]


def quoted(name: str) -> str | None:
    """The first judgement README.md quotes for a measurement (its row's second cell)."""
    for line in (HOME / "README.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and cells[0] == name:
            return cells[1]
    return None


def check(names: list[str], again: bool) -> bool:
    from symdistill.distill.verdict import fingerprint

    ok = True
    for name in names or sorted(p.parent.name for p in HOME.glob("*/MEASURE.yaml")):
        m, folder, problems = read_measure(name), HOME / name, []
        table = folder / "recovery.csv"
        if not table.exists():
            print(f"{name}: frozen, not yet measured (verdict {m['verdict']})")
            continue
        rows = read_rows(table)
        if m["kind"] == "blind":
            frozen, measured = added_in(folder / "MEASURE.yaml"), added_in(table)
            if frozen is None or measured is None:
                problems.append("MEASURE.yaml and recovery.csv must both be committed")
            else:
                before = subprocess.run(["git", "-C", str(ROOT), "merge-base", "--is-ancestor", frozen, measured])
                if frozen == measured or before.returncode:
                    problems.append(f"MEASURE.yaml ({frozen[:8]}) was not committed before recovery.csv "
                                    f"({measured[:8]})")
                for config in [*m.get("under", []), m["config"]]:
                    if git("diff", frozen, measured, "--", config):
                        problems.append(f"{config} changed between freezing ({frozen[:8]}) and measuring "
                                        f"({measured[:8]})")
            if len(touched_by(table)) > 1 or git("status", "--porcelain", "--", str(table.relative_to(ROOT))):
                problems.append("recovery.csv was edited after it was committed")
        if {r.get("verdict_version") for r in rows} != {m["verdict"]}:
            problems.append(f"rows not judged by the frozen verdict {m['verdict']}")
        if "search" in m and {r.get("search_version") for r in rows} != {m["search"]}:
            problems.append(f"rows not searched by the frozen search {m['search']}")
        first = headline(counts(rows))
        if quoted(name) != first:
            problems.append(f"README.md quotes {quoted(name)!r}, the CSV gives {first!r}")
        line = f"{name}: first judgement {first}"
        rejudged = folder / "rejudged.csv"
        if rejudged.exists():
            later = read_rows(rejudged)
            for col in sorted(k for k in later[0] if k.startswith("verdict_") and k != f"verdict_{m['verdict']}"):
                line += f"; verdict {col[8:]}: {headline(counts(later, col))}"
        if again:
            version = fingerprint()
            recorded = ({tuple(r[k] for k in KEY): r["verdict"] for r in rows} if version == m["verdict"] else
                        {tuple(r[k] for k in KEY): r.get(f"verdict_{version}") for r in read_rows(rejudged)}
                        if rejudged.exists() else {})
            differ = [r for r in rows if recorded.get(tuple(r[k] for k in KEY)) not in (None, judged(r))]
            missing = sum(recorded.get(tuple(r[k] for k in KEY)) is None for r in rows)
            if differ:
                problems.append(f"{len(differ)} rows judged differently by verdict {version} than recorded")
            line += f"; rejudged by {version}: {len(rows) - len(differ) - missing} reproduced" + \
                    (f", {missing} not recorded for it" if missing else "")
        print(line)
        for p in problems:
            print(f"  PROBLEM: {p}")
        ok &= not problems
    return ok


def table(name: str, by: list[str], version: str | None) -> str:
    """A Markdown breakdown of a measurement: components right (correct or up to 1/m1) of all,
    per group of ``by`` columns, in the first judgement or (``version``) a later one."""
    folder = HOME / name
    rows = read_rows(folder / "recovery.csv") if version is None else read_rows(folder / "rejudged.csv")
    column = "verdict" if version is None else f"verdict_{version}"
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault(tuple(row[k] for k in by), []).append(row)
    lines = ["| " + " | ".join(by) + " | right | correct | up to 1/m1 |", "|" + "---|" * (len(by) + 3)]
    for key in sorted(groups, key=lambda k: tuple((len(x), x) for x in k)):
        c = counts(groups[key], column)
        lines.append("| " + " | ".join(key) + f" | {c['correct'] + c['correct up to 1/m1']}/{c['components']} | "
                     f"{c['correct']} | {c['correct up to 1/m1']} |")
    c = counts(rows, column)
    lines.append("| all" + " |" * len(by) + f" {c['correct'] + c['correct up to 1/m1']}/{c['components']} | "
                 f"{c['correct']} | {c['correct up to 1/m1']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("freeze", help="freeze a set, its command and the verdict before the run")
    f.add_argument("name")
    f.add_argument("--config", required=True, nargs="+",
                   help="the set's config, after any it is laid over: config/laws/overlay.yaml config/laws/<set>.yaml")
    f.add_argument("--kind", choices=("blind", "retrospective"), default="blind")
    f.add_argument("--verdict-from", help="retrospective: the commit whose verdict judged the run")
    r = sub.add_parser("record", help="copy a run's recovery table in as the first judgement")
    r.add_argument("name")
    r.add_argument("results", help="the run's results folder (its report/recovery.csv)")
    j = sub.add_parser("rejudge", help="the current verdict beside the first judgement (rejudged.csv)")
    j.add_argument("names", nargs="+")
    c = sub.add_parser("check", help="check every measurement (git order, untouched tables, quoted counts)")
    c.add_argument("names", nargs="*")
    c.add_argument("--rejudge", action="store_true", help="judge every row again and compare")
    t = sub.add_parser("table", help="a measurement's breakdown by columns of its table, as Markdown")
    t.add_argument("name")
    t.add_argument("--by", default="variant,dim", help="columns to group by (default variant,dim)")
    t.add_argument("--verdict", help="a later verdict version's column of rejudged.csv (default: the first)")
    a = p.parse_args(argv)
    if a.cmd == "freeze":
        if not re.fullmatch(r"[a-z0-9_]+", a.name):
            raise SystemExit(f"measurements: a name is lower-case letters, digits and _ (got {a.name!r})")
        freeze(a.name, a.config, a.kind, a.verdict_from)
    elif a.cmd == "record":
        record(a.name, a.results)
    elif a.cmd == "table":
        print(table(a.name, a.by.split(","), a.verdict))
    elif a.cmd == "rejudge":
        for name in a.names:
            rejudge(name)
    elif not check(a.names, a.rejudge):
        sys.exit(1)


if __name__ == "__main__":
    main()
