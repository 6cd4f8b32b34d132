#!/usr/bin/env bash
# The post-deploy script of every rule env (envs/<env>.post-deploy.sh links here): Snakemake runs
# a copy of it in each new conda env. It installs symdistill itself, editable, from the workflow's
# source tree, which the Snakefile exports as SYMDISTILL_SOURCE. Conda already holds every
# dependency (envs/<env>.yaml), so pip adds nothing else.
set -euo pipefail
src=${SYMDISTILL_SOURCE:-}
if [ -z "$src" ] || [ ! -f "$src/pyproject.toml" ]; then
    echo "post-deploy: SYMDISTILL_SOURCE='$src' is not the symdistill source tree (the Snakefile sets it)" >&2
    exit 1
fi
python -m pip install --quiet --no-deps --no-build-isolation --editable "$src"
