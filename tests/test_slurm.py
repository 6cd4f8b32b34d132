"""The whole workflow, tiny, submitted through profiles/slurm to a real single-node SLURM.

Skips where SLURM is not installed (CI installs it and sets SYMDISTILL_REQUIRE_SLURM=1, which
turns the skip into a failure).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from slurm_cluster import missing, slurm_cluster

REPO = Path(__file__).resolve().parents[1]

TINY = {
    "simulations": ["spring"],
    "variants": ["bottleneck"],
    "simulate": {"n_sims": 40, "steps": 40, "block": 40, "threads": 1},
    "train": {"steps": 60, "batch_size": 8, "hidden": 16, "layers": 2, "msg_dim": 8, "gpus": 1},
    "messages": {"max_graphs": 20},
    "symbolic": {"variants": ["bottleneck"], "time_limit": 2, "samples": 200, "population_size": 50,
                 "threads": 1},
    "eql": {"simulations": ["spring"], "steps": 60},
}


def _require() -> None:
    lacking = missing()
    if lacking:
        reason = f"SLURM test cluster needs {', '.join(lacking)}"
        if os.environ.get("SYMDISTILL_REQUIRE_SLURM") == "1":
            pytest.fail(reason)
        pytest.skip(reason)


def test_workflow_runs_on_slurm(tmp_path):
    _require()
    work = tmp_path / "work"
    work.mkdir()
    (work / "config.yaml").write_text(yaml.safe_dump({**TINY, "results": str(work / "results")}))
    env_bin = str(Path(sys.executable).parent)
    with slurm_cluster(tmp_path / "slurm") as env:
        env = {**env, "PATH": f"{env_bin}:{env['PATH']}"}
        cmd = ["timeout", "-s", "KILL", "900", "snakemake", "-s", str(REPO / "Snakefile"),
               "--directory", str(work), "--configfile", str(work / "config.yaml"),
               "--workflow-profile", str(REPO / "profiles" / "slurm"), "--jobs", "4",
               "--latency-wait", "5", "--retries", "0",
               # this test cluster's own settings: no slurmdbd, and a gpu partition for training
               "--slurm-status-command", "squeue", "--slurm-init-seconds-before-status-checks", "5",
               "--default-resources", "slurm_partition=cpu", "--set-resources", "train_gnn:slurm_partition=gpu"]
        run = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True)
        ctl_log = (tmp_path / "slurm" / "slurmctld.log").read_text()
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-6000:]
    results = work / "results"
    assert (results / "report" / "index.md").exists() and (results / "report" / "rollout.csv").exists()
    assert json.loads((results / "spring_d2_n4" / "eql_s0" / "recovery_eql.json").read_text())["components"]
    # the jobs really went through SLURM: the controller ran every one to exit 0, the two
    # training jobs (bottleneck, eql) on the gpu partition, which has one (fake) GPU
    lines = ctl_log.splitlines()
    # 10 cluster jobs: simulate, 2 trainings, 2 message groups, 2 search+verdict groups, the true
    # rollouts and 2 model rollouts (the tables and the report run locally)
    assert sum("WEXITSTATUS 0" in line for line in lines) >= 10, ctl_log[-2000:]
    started = [line for line in lines if "sched: Allocate JobId" in line or "_start_job: Started JobId" in line]
    assert sum("Partition=gpu" in line or " in gpu on " in line for line in started) == 2, started
