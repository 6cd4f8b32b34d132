# symdistill: simulate -> train -> messages -> R^2 -> symbolic regression -> rollout -> report.
# Run: snakemake --cores 8   (config.yaml; another: --configfile config/paper.yaml)
import json
import os
import shutil
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError

sys.path.insert(0, str(Path(workflow.basedir) / "src"))
# where the conda envs' post-deploy script installs symdistill from (--sdm conda)
os.environ.setdefault("SYMDISTILL_SOURCE", str(Path(workflow.basedir)))
from symdistill.core.provenance import set_aside_damaged  # noqa: E402
from symdistill.core.schema import schema  # noqa: E402
from symdistill.distill.availability import EngineUnavailable, check_engines  # noqa: E402
from symdistill.core.config import (  # noqa: E402
    ConfigError,
    ephemeris_settings,
    rollout_settings,
    sim_settings,
    sr_settings,
    trajectory_settings,
    validate_config,
)
from symdistill.experiment import check_budget, datasets, engines_for, job_runtime, models, train_settings  # noqa: E402


configfile: "config.yaml"


report: "workflow/report/workflow.rst"


try:
    config.update(validate_config(config))
except ConfigError as err:
    raise WorkflowError(str(err)) from None

RESULTS = config["results"]


include: "workflow/rules/common.smk"
include: "workflow/rules/simulate.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/messages.smk"
include: "workflow/rules/symbolic.smk"
include: "workflow/rules/rollout.smk"
include: "workflow/rules/report.smk"


# Light jobs run where Snakemake runs (no queue wait on a cluster); a model's three message
# steps, and a search with its verdict, go to the cluster as one job each.
localrules:
    mae_table,
    r2_table,
    recovery_table,
    rollout_table,
    report,


# A symbolic-regression engine that cannot run here (PySR without Julia) stops the run now,
# before any job, not after every model has trained. A dry run only warns.
ENGINES = sorted({e for *_, v, _ in models(config) for e in engines_for(config, v)})
try:
    check_engines(ENGINES)
except EngineUnavailable as err:
    if not inspecting_only(sys.argv[1:]):
        raise WorkflowError(f"symbolic.engines: {err}") from None
    print(f"symdistill: warning: symbolic.engines: {err}", file=sys.stderr)


# What the config asks for (job minutes, disk, memory), from the resources model, before any job:
# a config whose data sets cannot fit on the disk or in a training job's memory stops here.
_existing = next(p for p in [Path(RESULTS).resolve(), *Path(RESULTS).resolve().parents] if p.exists())
try:
    _estimate = check_budget(config, shutil.disk_usage(_existing).free)
except ConfigError as err:
    if not inspecting_only(sys.argv[1:]):
        raise WorkflowError(str(err)) from None
    print(f"symdistill: warning: {err}", file=sys.stderr)
else:
    print(f"symdistill: this config asks for {_estimate.summary()}", file=sys.stderr)


# An output damaged after it was made (a truncated copy, a full disk) is set aside, not trusted,
# and made again (a target of `all`, so Snakemake reruns what depends on it too). Its bytes are
# kept beside it as <name>.damaged. A dry run, lint, summary etc. moves nothing.
DAMAGED = [] if inspecting_only(sys.argv[1:]) else set_aside_damaged(all_outputs())
for path, moved in DAMAGED:
    print(f"symdistill: {path} is damaged (unreadable); moved to {moved}, it will be made again", file=sys.stderr)


rule all:
    input:
        rules.report.output[0],
        requested_outputs(),
        [str(path) for path, _ in DAMAGED],
    default_target: True
