"""Provenance and file safety shared by every step: versions, config hashes, atomic writes, and
the lineage every artifact records (the content hash of each file it was made from), which
every stage, table and the report check before combining files.
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import h5py

_PACKAGES = ("symdistill", "numpy", "scipy", "sympy", "h5py", "torch", "pyoperon",
             "jplephem", "skyfield_data")


def versions() -> dict[str, str]:
    """Installed versions of the packages whose behaviour shapes our numbers."""
    found = {}
    for name in _PACKAGES:
        try:
            found[name] = metadata.version(name.replace("_", "-"))
        except metadata.PackageNotFoundError:
            continue
    return found


def source_fingerprint(paths) -> str:
    """A short hash of source files' bytes (in sorted order of their names): the version of the
    code they hold, recorded with a result so that a frozen measurement can name its code."""
    digest = hashlib.sha256()
    for path in sorted(Path(p) for p in paths):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


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


def open_h5(path: str | os.PathLike, what: str = "input", require: tuple[str, ...] = (),
            made_by: str | None = None) -> h5py.File:
    """Open an HDF5 input read-only. A missing, truncated or non-HDF5 file, or one without the
    datasets ``require`` names, is a ValueError naming the file, what was expected and the rule
    that writes it, instead of h5py's traceback."""
    path = Path(path)
    made_by = f"rule {made_by}" if made_by else producer(path)
    if not path.is_file():
        raise ValueError(f"{what} {path} does not exist (written by {made_by})")
    try:
        f = h5py.File(path, "r")
    except OSError as err:
        raise ValueError(f"{what} {path} is not a readable HDF5 file ({err.__class__.__name__}: "
                         f"{str(err).split(';')[0][:80]}): truncated or overwritten? delete it and rerun "
                         f"{made_by}") from None
    missing = [name for name in require if name not in f]
    if missing:
        f.close()
        raise ValueError(f"{path} is not a {what}: it has no {', '.join(missing)} (expected the file "
                         f"written by {made_by})")
    return f


def read_json(path: str | os.PathLike, what: str, require: tuple[str, ...] = (),
              made_by: str | None = None) -> dict:
    """Read a JSON artifact; a missing, malformed or wrong-stage file (one without the keys
    ``require`` names) is a ValueError naming the file, what was expected and its rule."""
    path = Path(path)
    made_by = f"rule {made_by}" if made_by else producer(path)
    if not path.is_file():
        raise ValueError(f"{what} {path} does not exist (written by {made_by})")
    try:
        obj = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as err:
        raise ValueError(f"{what} {path} is not valid JSON ({err}): truncated? rerun {made_by}") from None
    missing = [k for k in require if not isinstance(obj, dict) or k not in obj]
    if missing:
        raise ValueError(f"{path} is not a {what}: it has no {', '.join(map(repr, missing))} (expected the "
                         f"file written by {made_by})")
    return obj


@dataclass(frozen=True)
class Artifact:
    """What a stage's output must hold (HDF5 datasets or JSON keys) and the rule that writes it."""

    what: str
    require: tuple[str, ...]
    made_by: str
    names: tuple[str, ...] = ()  # file-name patterns of the rule's outputs (for ``producer``)

    def open(self, path: str | os.PathLike) -> h5py.File:
        return open_h5(path, self.what, self.require, self.made_by)

    def read(self, path: str | os.PathLike) -> dict:
        return read_json(path, self.what, self.require, self.made_by)


DATA_SET = Artifact("data set", ("positions", "velocities", "accelerations", "masses", "charges", "split"),
                    "simulate", ("data.h5",))
METRICS = Artifact("training metrics file", ("law", "dim", "n", "variant", "seed", "test_mae"), "train_gnn",
                   ("metrics.json", "best.pt", "last.pt", "history.h5"))
MESSAGES = Artifact("message dump", ("edge_features", "messages", "force", "acceleration"), "dump_messages",
                    ("messages.h5",))
SELECTION = Artifact("component selection", ("components", "variant", "dim"), "select_messages", ("selected.json",))
FIT = Artifact("force fit", ("force", "acceleration", "selected"), "fit_forces", ("fit.json",))
SR_RESULT = Artifact("symbolic regression result", ("components", "engine"), "symbolic_regression", ("sr_*.json",))
RECOVERY = Artifact("recovery verdict", ("components", "engine"), "judge_laws", ("recovery_*.json",))
TRUTH = Artifact("true-trajectory file", ("times",), "integrate_truth", ("rollout_truth.h5",))
ROLLOUT = Artifact("rollout", ("times",), "rollout", ("rollout_*.h5",))

#: a network has learned when the median over validation nodes of its relative error (predicting
#: zero scores 1) is below this (of noisy weak targets: this share of the way from the floor their
#: noise sets to 1); otherwise it is reported as failed and not rolled out as a model
LEARNED = 0.5


def network_status(model_path: str | os.PathLike) -> dict:
    """Whether the network beside ``model_path`` learned, from its metrics.json (``LEARNED``);
    unknown (None) without one, or from a metrics file older than the test."""
    path = Path(model_path).with_name("metrics.json")
    m = json.loads(path.read_text()) if path.exists() else {}
    return {"learned": m.get("learned"), "median_relative_error": m.get("val_median_relative_error")}

#: which workflow rule writes an artifact, by file name (for errors that say what to rerun);
#: the truth file is listed before rollout_*.h5, which would match it too
PRODUCERS = tuple((name, a.made_by) for a in (DATA_SET, TRUTH, METRICS, MESSAGES, SELECTION, FIT, SR_RESULT,
                                               RECOVERY, ROLLOUT) for name in a.names)
#: artifacts whose lineage is recorded in a sibling written by the same job (a model file is
#: read without torch through its metrics.json)
_RECORDED_IN = {"best.pt": "metrics.json", "last.pt": "metrics.json"}


class StaleInput(ValueError):
    """An input was made from a file that has changed since: combining it would mix results."""


def producer(path: str | os.PathLike) -> str:
    """'rule <name>' of the rule that writes a file of this name ('the rule that writes it' if
    none matches), for messages that say what to rerun."""
    name = Path(path).name
    rule = next((rule for pattern, rule in PRODUCERS if fnmatch.fnmatch(name, pattern)), None)
    return f"rule {rule}" if rule else "the rule that writes it"


_digests: dict[tuple, str] = {}


def digest(path: str | os.PathLike) -> str:
    """Content hash of a file (sha256, 16 hex digits), cached per (path, size, mtime)."""
    st = os.stat(path)
    key = (str(Path(path).resolve()), st.st_size, st.st_mtime_ns)
    if key not in _digests:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        _digests[key] = h.hexdigest()[:16]
    return _digests[key]


def lineage(out: str | os.PathLike, **inputs: str | os.PathLike) -> dict:
    """The record an artifact written to ``out`` keeps of its inputs: role -> path (relative to
    the artifact's folder, so a moved results tree still checks) and content hash."""
    base = Path(out).resolve().parent
    missing = [(role, p) for role, p in inputs.items() if not Path(p).is_file()]
    if missing:
        role, p = missing[0]
        raise ValueError(f"{role} {p} does not exist (written by {producer(p)})")
    return {role: {"path": os.path.relpath(Path(p).resolve(), base), "sha256": digest(p)}
            for role, p in inputs.items()}


def read_lineage(path: str | os.PathLike) -> dict:
    """The lineage recorded in an artifact (JSON key or HDF5 attribute 'inputs'); {} if none."""
    path = Path(path)
    path = path.with_name(_RECORDED_IN.get(path.name, path.name))
    if not path.is_file():
        return {}
    try:
        if path.suffix == ".json":
            return json.loads(path.read_text()).get("inputs") or {}
        if path.suffix == ".h5":
            with h5py.File(path, "r") as f:
                return json.loads(f.attrs.get("inputs", "{}"))
    except (OSError, ValueError, AttributeError):
        return {}  # damaged files are reported by the reader that needs them
    return {}


def record_inputs(out: str | os.PathLike, **inputs: str | os.PathLike) -> dict:
    """What a stage does first: refuse stale inputs (``check_lineage``), then return the lineage
    its output ``out`` records, so nothing is computed from files that no longer agree."""
    check_lineage(*inputs.values())
    return lineage(out, **inputs)


def check_lineage(*paths: str | os.PathLike) -> None:
    """Refuse inputs made from files that have changed since (anywhere up their ancestry).

    Raises StaleInput naming the stale artifact, the file that changed and the rule to rerun.
    Ancestors that no longer exist are not checked.
    """
    seen: set[Path] = set()

    def walk(path: Path, via: list[Path]) -> None:
        if path in seen:
            return
        seen.add(path)
        for role, entry in read_lineage(path).items():
            src = (path.parent / entry["path"]).resolve()
            if not src.is_file():
                continue
            if digest(src) != entry["sha256"]:
                chain = "".join(f" (used by {os.path.relpath(v)})" for v in reversed(via))
                raise StaleInput(f"{os.path.relpath(path)} is stale{chain}: it was made from {os.path.relpath(src)}, which has changed "
                                 f"since; rerun {producer(path)} for it (or the whole workflow)")
            walk(src, [*via, path])

    for p in paths:
        walk(Path(p).resolve(), [])


def damaged(path: str | os.PathLike) -> bool:
    """True if an existing output cannot be what it claims: an HDF5 file h5py cannot open, a
    JSON file that does not parse, a model file that is not a zip (torch's format)."""
    import zipfile

    path = Path(path)
    try:
        if path.suffix == ".h5":
            h5py.File(path, "r").close()
        elif path.suffix == ".json":
            json.loads(path.read_text())
        elif path.suffix == ".pt":
            return not zipfile.is_zipfile(path)
    except (OSError, ValueError, UnicodeDecodeError):
        return True
    return False


def set_aside_damaged(paths) -> list[tuple[Path, Path]]:
    """Move existing damaged outputs to ``<name>.damaged`` (kept, not deleted) so the workflow
    makes them again instead of stopping at the first reader; returns (path, moved to)."""
    moved = []
    for p in map(Path, paths):
        if p.is_file() and damaged(p):
            target = p.with_name(p.name + ".damaged")
            os.replace(p, target)
            moved.append((p, target))
    return moved
