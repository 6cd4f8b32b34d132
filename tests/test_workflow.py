"""The whole workflow on config/test.yaml with the local executor, and a report that shows only
what the current configuration declares."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _snakemake(work: Path, *extra: str) -> subprocess.CompletedProcess:
    """Run the workflow on config/test.yaml in ``work`` (results in work/results)."""
    env_bin = str(Path(sys.executable).parent)
    cmd = ["snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(work), "--cores", "2",
           "--configfile", str(REPO / "config" / "test.yaml"), "--config", f"results={work / 'results'}",
           *extra]
    return subprocess.run(cmd, cwd=work, capture_output=True, text=True,
                          env={**os.environ, "PATH": f"{env_bin}:{os.environ['PATH']}"}, timeout=900)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("workflow")
    run = _snakemake(work)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-6000:]
    return work / "results"


def test_every_stage_runs_locally(finished_run):
    report = finished_run / "report"
    for table in ("mae", "r2", "recovery", "rollout"):
        assert (report / f"{table}.csv").exists() and (report / f"{table}.md").exists()
    index = (report / "index.md").read_text()
    assert "spring_d2_n4" in index and "### Extracted equations" in index
    for link in [line.split("](", 1)[1].rstrip(")") for line in index.splitlines() if line.startswith("![")]:
        assert (report / link).exists(), link  # every figure the report shows is there
    assert (finished_run / "spring_d2_n4" / "rollout_truth.h5").exists()


def test_a_stale_result_is_not_reported(finished_run, tmp_path):
    """Artifacts of an earlier configuration (another law) in the same folder stay out of the
    report: it reads its declared inputs, not the folder."""
    stale = finished_run / "r1_d2_n4"
    shutil.copytree(finished_run / "spring_d2_n4", stale)
    bench = finished_run / "benchmarks" / "train_gnn"
    shutil.copy(next(bench.glob("spring_d2_n4_*.tsv")), bench / "r1_d2_n4_bottleneck_s0.tsv")
    run = _snakemake(finished_run.parent, "--forcerun", "report")
    assert run.returncode == 0, run.stderr[-4000:]
    index = (finished_run / "report" / "index.md").read_text()
    assert "r1_d2_n4" not in index and "r1-2-4" not in index  # no r1 data set, model, equation or figure
    train_row = next(line for line in index.splitlines() if line.startswith("| train_gnn |"))
    assert train_row.split("|")[2].strip() == "2"  # bottleneck and eql of spring, not the stale one
