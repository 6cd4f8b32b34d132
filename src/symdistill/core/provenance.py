"""Provenance and file safety shared by every step: versions, config hashes, atomic HDF5 writes."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import h5py

_PACKAGES = ("symdistill", "numpy", "scipy", "sympy", "h5py", "torch", "torch_geometric", "pyoperon")


def versions() -> dict[str, str]:
    """Installed versions of the packages whose behaviour shapes our numbers."""
    found = {}
    for name in _PACKAGES:
        try:
            found[name] = metadata.version(name.replace("_", "-"))
        except metadata.PackageNotFoundError:
            continue
    return found


def config_hash(settings: object) -> str:
    """Stable short hash of a JSON-serialisable settings object (key order does not matter)."""
    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def stamp(obj: h5py.HLObject, settings: dict, **attrs) -> None:
    """Write the provenance attributes every output carries: versions, settings and their hash."""
    obj.attrs["versions"] = json.dumps(versions(), sort_keys=True)
    obj.attrs["settings"] = json.dumps(settings, sort_keys=True, default=str)
    obj.attrs["config_hash"] = config_hash(settings)
    for key, value in attrs.items():
        obj.attrs[key] = value


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary sibling path and move it onto ``path`` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def open_h5(path: str | os.PathLike, what: str = "input") -> h5py.File:
    """Open an HDF5 input read-only; a missing, truncated or non-HDF5 file is a ValueError that
    names the file and what to do, instead of h5py's traceback."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{what} {path} does not exist")
    try:
        return h5py.File(path, "r")
    except OSError as err:
        raise ValueError(f"{what} {path} is not a readable HDF5 file ({err.__class__.__name__}: "
                         f"{str(err).split(';')[0][:80]}): truncated or overwritten? delete it and rerun "
                         "the rule that writes it") from None
