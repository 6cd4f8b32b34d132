# symdistill: simulate -> train -> messages -> R^2 -> symbolic regression -> rollout -> report.
# Run: snakemake --cores 8   (config.yaml; another: --configfile config/paper.yaml)
import json
import os
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError

sys.path.insert(0, str(Path(workflow.basedir) / "src"))
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


rule all:
    input:
        rules.report.output[0],
    default_target: True
