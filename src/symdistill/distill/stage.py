"""The symbolic stage's entry point (``symdistill-sr``): read what the search may see of a
model's message dump, distil its law by the model's structure (a force, an energy, or one law
per component) and write the sr file: every front, the chosen law and its calibration."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from symdistill.core.cli import errors, parser
from symdistill.core.laws import SOFTENING
from symdistill.core.provenance import (MESSAGES, SELECTION, atomic_path, network_status, record_inputs,
                                       source_fingerprint, versions)
from symdistill.core.schema import settings_json
from symdistill.distill.availability import check_engines
from symdistill.distill.calibrated import calibration_data
from symdistill.distill.component_laws import component_laws
from symdistill.distill.energy_law import potential_components
from symdistill.distill.engines import get_engine
from symdistill.distill.force_law import central_components
from symdistill.distill.inputs import LawInputs
from symdistill.distill.readout import READOUT
from symdistill.distill.settings import STRUCTURES, SRSettings

#: what the search reads of a message dump: the features, the messages and how they were made;
#: never the true law (its potential, forces or energies), so no search can see the answer
SEARCH_DATASETS = ("edge_features", "messages", "message_integrals")
SEARCH_ATTRS = ("dim", "energy", "reference_distance", "softening")
#: labels copied into the output for the tables (which data set and model), not read by the search
LABELS = ("law", "dim", "n", "variant", "seed")
#: what the sr file keeps of a chosen law's calibration on the data
CALIBRATION = ("loss", "data_r2", "data_median_relative_error", "divide_by_mass", "model")
#: the sources whose hash is the search's version: the distil package but the verdict (versioned
#: on its own) and the stages before the search (the message dump and its fit to the true force)
SEARCH_SOURCES = [p for p in Path(__file__).parent.rglob("*.py")
                  if "verdict" not in p.relative_to(Path(__file__).parent).parts
                  and p.name not in ("messages.py", "force_r2.py")]


def search_fingerprint() -> str:
    """The search's version: a hash of the distil package's sources but the verdict's (which is
    versioned on its own); recorded in every sr file, so that a frozen measurement names the
    search it ran."""
    return source_fingerprint(SEARCH_SOURCES)


def search_inputs(messages_path) -> dict:
    """The arrays and attributes of a message dump that the search may read (``SEARCH_DATASETS``,
    ``SEARCH_ATTRS``; columns of the edge features) and the output's ``LABELS``."""
    with MESSAGES.open(messages_path) as h:
        out = {k: h[k][:] for k in SEARCH_DATASETS if k in h}
        out["names"] = [str(c) for c in h["edge_features"].attrs["columns"]]
        out.update({k: h.attrs[k].item() if hasattr(h.attrs[k], "item") else h.attrs[k]
                    for k in SEARCH_ATTRS if k in h.attrs})
        out["labels"] = {k: (h.attrs[k].item() if hasattr(h.attrs[k], "item") else str(h.attrs[k]))
                         for k in LABELS if k in h.attrs}
    return out


def distil(engine, inp: LawInputs, s: SRSettings) -> tuple[list[dict], dict | None]:
    """The law of a force model's selected message columns, by its structure: one radial law
    of a central force (``force_law``), or one law per component (``component_laws``; always for
    a GNN+EQL model, whose law is read out of it). Returns the components and the radial law."""
    if s.structure not in STRUCTURES:
        raise ValueError(f"unknown symbolic.structure {s.structure!r}; choose from {STRUCTURES}")
    if s.structure == "central" and s.engine != READOUT:
        return central_components(engine, inp, s)
    return component_laws(engine, inp, s), None


def regress_messages(messages_path, selected_path, s: SRSettings, model_path=None, data_path=None) -> dict:
    """Search a law for the selected message components of a message dump (``data_path``, the
    model's data set, is needed by ``choice: data``). Reads only ``search_inputs``."""
    sel = SELECTION.read(selected_path)
    engine = None if s.engine == READOUT else get_engine(s.engine)
    found = search_inputs(messages_path)
    X, names, msgs = found["edge_features"], found["names"], found["messages"]
    integrals = found.get("message_integrals")
    reference = float(found.get("reference_distance", np.nan))
    rows = np.random.default_rng(s.seed).choice(len(X), min(s.samples, len(X)), replace=False)
    softening = float(found.get("softening", SOFTENING))
    if s.choice == "data" and data_path is None:
        raise ValueError("symbolic.choice 'data' calibrates the laws on the data set: give --data")
    data = calibration_data(data_path, s, softening) if s.choice == "data" else None
    out = {**found["labels"], "engine": s.engine, "settings": asdict(s), "variables": names, "versions": versions(),
           "search_version": search_fingerprint(),
           "network": network_status(model_path) if model_path else {"learned": None}}
    components = sel["components"]
    energy = bool(found.get("energy", False))  # a pair energy: the law is a potential
    has_work = not energy and integrals is not None and np.isfinite(reference)
    inp = LawInputs(X[rows], msgs[rows][:, components[0] if energy else components], names, int(found["dim"]),
                    components, softening, str(model_path) if model_path else None, data,
                    (integrals[rows][:, components], reference) if has_work else None)
    if energy:
        comps, law = potential_components(engine, inp, s)
        out["pair_potential"] = law
        out["chosen_law"] = {"potential": law["chosen"]["expression"]}
    else:
        comps, law = distil(engine, inp, s)
        if law is not None:
            out["radial"] = law
            out["chosen_law"] = {"radial": law["chosen"]["expression"]}
        else:
            out["chosen_law"] = {"components": [c["chosen"]["expression"] for c in comps]}
            if "calibration" in comps[0]:
                out["calibration"] = comps[0].pop("calibration")
    if law is not None and "model" in law["chosen"]:
        out["calibration"] = {k: law["chosen"][k] for k in CALIBRATION}
    return {**out, "components": comps}


def main(argv: list[str] | None = None) -> None:
    p = parser("symdistill-sr", __doc__)
    p.add_argument("--messages", required=True, help="messages.h5 of a model (symdistill-messages dump)")
    p.add_argument("--selected", required=True, help="selected.json of the same model")
    p.add_argument("--model", help="trained model (needed by the eql read-out)")
    p.add_argument("--data", help="the model's data set (needed by choice: data, which calibrates laws on it)")
    p.add_argument("--settings", default="{}", help="JSON object of SRSettings fields (schema section 'symbolic')")
    p.add_argument("--threads", type=int, default=None, help="search threads (overrides the settings)")
    p.add_argument("--out", required=True, help="sr_<engine>.json to write: fronts and chosen laws")
    a = p.parse_args(argv)
    with errors("symdistill-sr", a.debug):
        extra = settings_json(a.settings, "symbolic", SRSettings)
        s = SRSettings(**extra)
        if a.threads:
            s.threads = a.threads
        check_engines([s.engine])
        inputs = record_inputs(a.out, messages=a.messages, selected=a.selected,
                               **({"model": a.model} if a.model else {}), **({"data": a.data} if a.data else {}))
        result = {**regress_messages(a.messages, a.selected, s, a.model, a.data), "inputs": inputs}
        with atomic_path(a.out) as tmp:
            tmp.write_text(json.dumps(result, indent=2))
    for comp in result["components"]:
        print(f"component {comp['component']}: {comp['chosen']['expression']}")


if __name__ == "__main__":
    main()
