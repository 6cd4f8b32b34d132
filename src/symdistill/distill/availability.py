"""Can an engine run on this machine? Checked before any job (the Snakefile imports this light
module at parse time), so a missing engine never costs a training run."""

from __future__ import annotations

import importlib.util
import os
import shutil


class EngineUnavailable(RuntimeError):
    """The engine cannot run on this machine; the message says what is missing."""


def check_operon() -> None:
    if importlib.util.find_spec("pyoperon") is None:
        raise EngineUnavailable("Operon is not installed: pip install 'pyoperon==0.6.2' (a pyproject dependency)")


def check_pysr() -> None:
    """Raise EngineUnavailable unless PySR can run without downloading anything."""
    try:
        if importlib.util.find_spec("pysr") is None:
            raise EngineUnavailable("PySR is not installed: pip install 'symdistill[pysr]'")
    except ImportError as err:
        raise EngineUnavailable(f"PySR cannot be imported: {err}") from None
    julia = os.environ.get("PYTHON_JULIAPKG_EXE") or shutil.which("julia")
    if not julia:
        raise EngineUnavailable(
            "PySR needs Julia, and no Julia is installed here (PySR would try to download it "
            "at first import). Install Julia >= 1.10 and put `julia` on PATH, or point PySR at "
            "an existing one with PYTHON_JULIAPKG_EXE=/path/to/julia (and "
            "PYTHON_JULIAPKG_OFFLINE=yes if its packages are already installed)."
        )


def check_readout() -> None:
    """The EQL read-out needs only torch, a core dependency."""


#: each engine name the config accepts -> its check
CHECKS = {"operon": check_operon, "pysr": check_pysr, "eql": check_readout}


def check_engines(names) -> None:
    """Raise EngineUnavailable, saying what to install, unless every named engine can run here."""
    for name in dict.fromkeys(names):
        CHECKS[name]()
