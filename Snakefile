# symdistill: simulate -> train -> messages -> R^2 -> symbolic regression -> rollout -> report.
# Run: snakemake --cores 8   (config.yaml; another: --configfile config/paper.yaml)
import json
import os
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError

sys.path.insert(0, str(Path(workflow.basedir) / "src"))
from symdistill.core.provenance import set_aside_damaged  # noqa: E402
from symdistill.core.config import (  # noqa: E402
    ConfigError,
    datasets,
    engines_for,
    models,
    rollout_settings,
    sim_settings,
    sr_settings,
    train_settings,
    validate_config,
)


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


# An output damaged after it was made (a truncated copy, a full disk) is set aside, not trusted,
# and made again (a target of `all`, so Snakemake reruns what depends on it too). Its bytes are
# kept beside it as <name>.damaged. A dry run, lint, summary etc. moves nothing.
DAMAGED = [] if inspecting_only(sys.argv[1:]) else set_aside_damaged(all_outputs())
for path, moved in DAMAGED:
    print(f"symdistill: {path} is damaged (unreadable); moved to {moved}, it will be made again", file=sys.stderr)


rule all:
    input:
        rules.report.output[0],
        [str(path) for path, _ in DAMAGED],
    default_target: True
