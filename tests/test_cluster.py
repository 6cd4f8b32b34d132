"""Running on a cluster: every rule declares its resources from the config, runtimes grow with
the work, light rules stay local, and a missing engine stops the run before any job."""

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml
from conftest import rule_blocks

from symdistill.core.config import load_config, sr_settings, validate_config
from symdistill.experiment import job_runtime, work
from symdistill.core.schema import schema

ROOT = Path(__file__).resolve().parents[1]


def test_every_rule_declares_log_benchmark_threads_and_resources_from_the_config():
    blocks = rule_blocks()
    configured = set(schema()["properties"]["resources"]["properties"])
    assert set(blocks) == configured, f"rules without a resources entry: {sorted(set(blocks) - configured)}, " \
                                      f"entries without a rule: {sorted(configured - set(blocks))}"
    for name, block in blocks.items():
        for directive in ("log:", "benchmark:", "threads:"):
            assert f"\n    {directive}" in block, f"rule {name} has no {directive}"
        assert f'mem_mb=mem_mb("{name}")' in block and f'runtime=runtime("{name}")' in block, name


def test_runtimes_grow_with_the_work_and_the_attempt():
    base = validate_config({})
    model = {"sim": "r1", "dim": 2, "n": 4, "variant": "bottleneck", "seed": 0}
    longer = validate_config({"train": {"steps": 200000}})
    res = base["resources"]["train_gnn"]
    t1, t10 = job_runtime(base, "train_gnn", model), job_runtime(longer, "train_gnn", model)
    assert work(longer, "train_gnn", model) == 10 * work(base, "train_gnn", model)  # ten times the steps
    assert t10 >= res["minutes"] + 10 * (t1 - 1 - res["minutes"]) and t1 > res["minutes"]
    assert job_runtime(base, "train_gnn", {**model, "n": 8}) > t1  # four times the edges
    assert job_runtime(base, "train_gnn", model, attempt=2) >= 2 * t1 - 1
    sims = validate_config({"simulate": {"n_sims": 100000}})
    ds = {"sim": "r1", "dim": 2, "n": 4}
    assert job_runtime(sims, "simulate", ds) > job_runtime(base, "simulate", ds)
    sr = validate_config({"symbolic": {"time_limit": 3600}})
    assert job_runtime(sr, "symbolic_regression", model) * 60 > 3600 * 2  # one capped search per component
    assert job_runtime(base, "report", {}) == base["resources"]["report"]["minutes"]


def test_paper_config_sets_its_own_budgets():
    paper = load_config(ROOT / "config" / "paper.yaml")
    s = sr_settings(paper, "operon")
    assert s["time_limit"] == 600 and s["generations"] == 0  # the time limit, not 30 generations, stops it
    model = {"sim": "r1", "dim": 3, "n": 8, "variant": "bottleneck", "seed": 0}
    assert job_runtime(paper, "symbolic_regression", model) * 60 > 3 * 600
    assert paper["resources"]["train_gnn"]["mem_mb"] > validate_config({})["resources"]["train_gnn"]["mem_mb"]


def test_light_rules_run_locally_and_message_steps_are_grouped():
    text = (ROOT / "Snakefile").read_text()
    local = re.search(r"localrules:\n((?:    \w+,\n)+)", text).group(1).split()
    assert {r.rstrip(",") for r in local} == {"mae_table", "r2_table", "recovery_table", "rollout_table", "report"}
    blocks = rule_blocks()
    for name in ("dump_messages", "select_messages", "fit_forces"):
        assert 'group:\n        "messages"' in blocks[name]
    for name in ("symbolic_regression", "judge_laws"):
        assert 'group:\n        "distill"' in blocks[name]


def test_slurm_profile_is_not_tied_to_one_cluster():
    profile = yaml.safe_load((ROOT / "profiles" / "slurm" / "config.yaml").read_text())
    assert profile["executor"] == "slurm"
    assert "slurm-status-command" not in profile and "default-resources" not in profile
    assert "set-resources" not in profile  # partitions are site settings


def test_missing_engine_stops_the_run_before_any_job(tmp_path):
    """PySR without Julia: a real run fails at once, naming the key and what to install; a dry
    run warns. Nothing is simulated."""
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({
        "results": str(tmp_path / "results"), "simulations": ["spring"], "variants": ["bottleneck"],
        "symbolic": {"engines": ["operon", "pysr"], "variants": ["bottleneck"]}}))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON_JULIA")}
    env["PATH"] = f"{Path(sys.executable).parent}:/usr/bin:/bin"
    base = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--directory", str(tmp_path),
            "--configfile", str(tmp_path / "config.yaml"), "--cores", "1"]
    if subprocess.run([sys.executable, "-c", "import pysr"], capture_output=True).returncode == 0 and \
            subprocess.run(["which", "julia"], capture_output=True, env=env).returncode == 0:
        return  # PySR can run here: nothing to stop
    run = subprocess.run(base, capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode != 0
    assert "symbolic.engines: PySR" in run.stderr, run.stderr[-2000:]
    assert not (tmp_path / "results").exists()
    dry = subprocess.run([*base, "-n"], capture_output=True, text=True, env=env, timeout=300)
    assert dry.returncode == 0 and "warning: symbolic.engines: PySR" in dry.stderr, dry.stderr[-2000:]
