"""Two results folders of the same models compared apart from provenance: does a code change
leave every law, verdict and table as it was?

    python tools/compare_runs.py BEFORE/results AFTER/results [--skip laws_holdout6 ...]

Every sr_*.json and recovery_*.json of BEFORE is compared with AFTER's, without the fields that
name the code (inputs, versions, search_version, verdict_version), and every report table
(.csv without those columns, .md and .tex with the version hashes blanked). Prints each file that differs and a count;
exits 1 if anything differs or is missing, or if an AFTER sr file was not made by other code
(the same search_version: not rerun, so the comparison would prove nothing).
"""

import argparse
import csv
import io
import json
import sys
from pathlib import Path

PROVENANCE = {"inputs", "versions", "search_version", "verdict_version"}


def strip(value):
    """A JSON value without its provenance fields, at any depth."""
    if isinstance(value, dict):
        return {k: strip(v) for k, v in value.items() if k not in PROVENANCE}
    if isinstance(value, list):
        return [strip(v) for v in value]
    return value


def table(path: Path, versions: set[str]):
    """A report table as compared: CSV rows without provenance columns, Markdown and LaTeX with
    the code's version hashes blanked."""
    if path.suffix != ".csv":
        text = path.read_text()
        for v in versions:
            text = text.replace(v, "<version>")
        return text
    return [{k: v for k, v in row.items() if k not in PROVENANCE} for row in csv.DictReader(io.StringIO(path.read_text()))]


def compared(before: Path, skip: list[str]) -> list[Path]:
    """The files of a results folder that a code change must leave as they were."""
    files = [p for p in before.rglob("*") if not set(p.relative_to(before).parts) & set(skip)]
    laws = [p for p in files if p.suffix == ".json" and p.name.startswith(("sr_", "recovery_"))]
    tables = [p for p in files if "report" in p.parts and p.suffix in (".csv", ".md", ".tex")
              and p.name != "index.md"]  # index.md also lists each stage's wall time
    return sorted(laws + tables)


def code_versions(*folders: Path) -> set[str]:
    """Every search and verdict version the sr and recovery files of these folders name."""
    found = set()
    for folder in folders:
        for p in folder.rglob("*.json"):
            if p.name.startswith(("sr_", "recovery_")):
                d = json.loads(p.read_text())
                found |= {d[k] for k in ("search_version", "verdict_version") if isinstance(d.get(k), str)}
    return found


def compare(before: Path, after: Path, skip: list[str] = ()) -> dict[str, list[str]]:
    """Relative paths that are the same, different, missing from AFTER, or not rerun there."""
    out = {"same": [], "different": [], "missing": [], "not rerun": []}
    versions = code_versions(before, after)
    for a in compared(before, list(skip)):
        rel, b = str(a.relative_to(before)), after / a.relative_to(before)
        if not b.exists():
            out["missing"].append(rel)
            continue
        if a.suffix == ".json":
            ja, jb = json.loads(a.read_text()), json.loads(b.read_text())
            if a.name.startswith("sr_") and ja.get("search_version") == jb.get("search_version"):
                out["not rerun"].append(rel)
            same = strip(ja) == strip(jb)
        else:
            same = table(a, versions) == table(b, versions)
        out["same" if same else "different"].append(rel)
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("before", type=Path)
    p.add_argument("after", type=Path)
    p.add_argument("--skip", nargs="*", default=[], help="folders to leave out (other runs nested in BEFORE)")
    a = p.parse_args(argv)
    result = compare(a.before, a.after, a.skip)
    for kind in ("different", "missing", "not rerun"):
        for rel in result[kind]:
            print(f"{kind}: {rel}")
    print(", ".join(f"{len(v)} {k}" for k, v in result.items()))
    sys.exit(1 if result["different"] or result["missing"] or result["not rerun"] else 0)


if __name__ == "__main__":
    main()
