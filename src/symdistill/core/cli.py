"""One error path for every console script: a failure is one line naming the problem and a
non-zero exit; the traceback only with --debug."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator
from importlib import metadata

#: errors whose message already says what is wrong (bad input, damaged or stale files)
EXPECTED = (ValueError, KeyError, OSError, TypeError)


def parser(prog: str, doc: str) -> argparse.ArgumentParser:
    """An argument parser with the options every console script shares (--debug, --version);
    its description is the first paragraph of ``doc`` (the module docstring), whole sentences."""
    p = argparse.ArgumentParser(prog=prog, description=" ".join(doc.strip().split("\n\n")[0].split()))
    p.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    try:
        version = metadata.version("symdistill")
    except metadata.PackageNotFoundError:
        version = "unknown"
    p.add_argument("--version", action="version", version=f"%(prog)s {version}")
    return p


def one_line(err: BaseException) -> str:
    """The error as one line: its message (lines joined), or its type if it has none."""
    text = str(err.args[0]) if isinstance(err, KeyError) and err.args else str(err)
    text = "; ".join(line.strip() for line in text.splitlines() if line.strip())
    if not isinstance(err, EXPECTED) or not text:
        text = f"{err.__class__.__name__}: {text}" if text else err.__class__.__name__
    return text


@contextlib.contextmanager
def errors(prog: str, debug: bool = False) -> Iterator[None]:
    """Run a console script's work: any exception ends it with ``prog: <one line>`` and exit
    code 1 (the traceback is shown only with ``debug``)."""
    try:
        yield
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as err:  # noqa: BLE001 - every failure gets the same one-line treatment
        if debug:
            raise
        sys.exit(f"{prog}: {one_line(err)}")  # printed to stderr, exit code 1
