#!/usr/bin/env bash
# Make the project's virtual environment, or remake it when what it was built from changed:
# pyproject.toml, the torch choice (TORCH) or the Python interpreter. `make install` calls this.
#
#   TORCH=auto   (default) the CUDA build where `nvidia-smi -L` finds a GPU, else the CPU build
#   TORCH=cpu    the CPU build, from PyTorch's CPU wheel index
#   TORCH=cuda   PyPI's own Linux wheel (the CUDA build)
#   TORCH=URL    any wheel index, e.g. https://download.pytorch.org/whl/cu126
#
# --dry-run prints the decision and the commands without running them; --fingerprint prints what
# the environment is built from (kept in $VENV/.installed).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
TORCH=${TORCH:-auto}
PYTHON=${PYTHON:-python3}  # the interpreter the venv is made from (make run PYTHON=python3.12)
TORCH_VERSION=2.13.0  # the tested release; pyproject.toml holds the oldest supported
CPU_INDEX=https://download.pytorch.org/whl/cpu
dry=false
[ "${1:-}" = "--dry-run" ] && dry=true

case "$TORCH" in
    auto)
        if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then choice=cuda; else choice=cpu; fi ;;
    cpu | cuda | http://* | https://* | file://*) choice=$TORCH ;;
    *)
        echo "install: TORCH=$TORCH is not auto, cpu, cuda or a wheel index URL (http://, https://, file://)" >&2
        exit 2 ;;
esac
case "$choice" in
    cpu) index="--index-url $CPU_INDEX" ;;
    cuda) index="" ;;
    *) index="--index-url $choice" ;;
esac

# The Python floor, from pyproject.toml: an older or missing interpreter stops here, by name.
floor=$(sed -n 's/^requires-python = ">=\([0-9][0-9.]*\)"/\1/p' pyproject.toml)
if ! command -v "$PYTHON" >/dev/null 2>&1; then
    echo "install: no Python interpreter '$PYTHON'; symdistill needs Python >= $floor (set PYTHON=/path/to/python3)" >&2
    exit 2
fi
found=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
if ! "$PYTHON" -c "import sys; sys.exit(sys.version_info[:2] < tuple(map(int, '$floor'.split('.'))))"; then
    echo "install: $PYTHON is Python $found, but symdistill needs Python >= $floor (snakemake 9 does);" \
         "give a newer one with PYTHON=/path/to/python3.11, e.g. make test PYTHON=python3.12" >&2
    exit 2
fi

want="pyproject $(sha256sum pyproject.toml | cut -d' ' -f1)
torch $choice $TORCH_VERSION
python $("$PYTHON" -c 'import sys; print(sys.version.split()[0])')"
if [ "${1:-}" = "--fingerprint" ]; then printf '%s\n' "$want"; exit 0; fi
have=$(cat "$VENV/.installed" 2>/dev/null || true)
if [ "$want" = "$have" ]; then
    echo "install: $VENV is up to date (torch $choice)"
    exit 0
fi
if [ -z "$have" ]; then
    reason="no environment yet"
else
    reason=$( (diff <(echo "$have") <(echo "$want") || true) | sed -n 's/^> \([a-z]*\) .*/\1/p' | paste -sd, -)
    reason="changed: $reason"
fi
echo "install: building $VENV with torch $TORCH_VERSION ($choice) ($reason)"
run() { echo "+ $*"; $dry || "$@"; }
run rm -rf "$VENV"
run "$PYTHON" -m venv "$VENV"
run "$VENV/bin/python" -m pip install --quiet --upgrade pip
# shellcheck disable=SC2086  # $index is zero or two words
run "$VENV/bin/python" -m pip install --quiet $index "torch==$TORCH_VERSION"
run "$VENV/bin/python" -m pip install --quiet -e '.[test]'
$dry || printf '%s\n' "$want" > "$VENV/.installed"
