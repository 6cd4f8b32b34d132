"""Read a trained model's edge messages on held-out graphs, and pick the important components.

Per edge (receiver i = particle 1, sender j = particle 2) we record the features a symbolic law
may use (``symdistill.core.edges``: dx = x_i - x_j, ..., r = |dx| + 0.01, m1, m2, q1, q2), the true pairwise force on the
receiver from the simulator's own potential, the pairwise acceleration F / m1, and the messages.
An energy variant's message is its pair energy relative to the same pair at the median
separation, E(r) - E(r_ref) (``GraphNetwork.reference_messages``), recorded beside the true
potential's U(r) - U(r_ref).
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np

from symdistill.core.cli import errors, parser
from symdistill.core.edges import (edge_columns, edge_matrix, law_from_file, node_edge_features, pair_forces,
                                   pair_potentials)
from symdistill.core.frames import read_geometry
from symdistill.core.provenance import MESSAGES, atomic_path, record_inputs, stamp
from symdistill.gnn.variants import get_variant


def dump_messages(model_path, data_path, out, max_graphs: int = 2000) -> Path:
    """Run the model on test graphs and write edge features, forces and messages to HDF5."""
    import torch  # only this step runs the network; selection stays light

    from symdistill.gnn.data import GraphEdges, load_graphs
    from symdistill.gnn.models import load_model

    inputs = record_inputs(out, model=model_path, data=data_path)
    with torch.no_grad():
        model = load_model(model_path)
        dim = model.cfg.dim
        geometry = read_geometry(data_path)
        x, _ = load_graphs(data_path, "test", sample_every=1, max_graphs=max_graphs, dtype=torch.float32)
        g, n, f = x.shape
        edges, shift = GraphEdges(geometry, n, dim)(x)
        _, raw = model(x.reshape(g * n, f), edges, shift=shift)
        msgs = model.messages(raw).numpy().astype(np.float64)
        readout = model.message_readout()
        mask = model.mask.numpy()
        if readout is not None:  # the per-edge force W m_ij: dim components, each a force component
            msgs, mask = msgs @ readout.T, np.ones(dim)
        xs = x.reshape(g * n, f).numpy().astype(np.float64)
        src, dst = edges.numpy()  # sender j, receiver i
        law = law_from_file(data_path)
        x_i, x_j = model.ends(torch.from_numpy(xs), edges, None if shift is None else shift.double())
        feats = edge_matrix(node_edge_features(x_i.numpy(), x_j.numpy(), dim, law.softening), dim)
        force = pair_forces(law, feats, dim)
        energy, integrals = {}, None
        r_ref = float(np.median(np.linalg.norm(feats[:, :dim], axis=1)))
        if not model.variant.energy and model.variant.edge_model != "eql":  # the work along each edge
            integrals = model.message_integrals(x.reshape(g * n, f), edges, r_ref, shift=shift).numpy().astype(np.float64)
            if readout is not None:
                integrals = integrals @ readout.T
        if model.variant.energy:  # E(r) - E(r_ref), and the truth's U(r) - U(r_ref)
            msgs = msgs - model.messages(model.reference_messages(x.reshape(g * n, f), edges, r_ref, shift)).numpy()
            ref = feats.copy()  # the same pairs at r_ref (a potential reads r, masses and charges)
            ref[:, dim] = r_ref + law.softening
            energy = {"potential": pair_potentials(law, feats, dim) - pair_potentials(law, ref, dim)}
        with atomic_path(out) as tmp, h5py.File(tmp, "w") as h:
            stamp(h, {"model": str(model_path), "data": str(data_path), "max_graphs": max_graphs},
                  law=law.name, potential=str(law.potential), variant=model.cfg.variant, dim=dim, n=n,
                  seed=int(model.meta.get("train_settings", {}).get("seed", 0)),
                  signed_charges=law.signed_charges, dt=law.dt, damping=law.damping, softening=law.softening,
                  msg_dim=model.cfg.msg_dim, mask=mask, read_through=readout is not None,
                  energy=bool(model.variant.energy), reference_distance=r_ref,
                  **geometry.attrs(),
                  inputs=json.dumps(inputs))
            h.create_dataset("edge_features", data=feats).attrs["columns"] = edge_columns(dim)
            h["messages"] = msgs
            for name, values in model.variant.message_extras(raw, model.cfg.msg_dim).items():
                h[name] = values
            h["force"] = force
            if energy:
                h["potential"] = energy["potential"]
            if integrals is not None:
                h["message_integrals"] = integrals
            h["acceleration"] = force / feats[:, dim + 1 : dim + 2]
            h["graph"] = dst // n
    return Path(out)


def select_components(messages: np.ndarray, variant: str, dim: int, extras: dict | None = None,
                      mask: np.ndarray | None = None) -> dict:
    """The d most important message components and why, by the variant's own criterion
    (``symdistill.gnn.variants``: std, mean KL, all of a bottleneck, the unmasked of a pruned model).
    """
    v = get_variant(variant)
    scores = v.scores(messages, dim, extras or {}, mask)
    order = np.argsort(-scores, kind="stable")[:dim]
    return {"components": [int(c) for c in order], "scores": [float(scores[c]) for c in order],
            "criterion": v.criterion,
            "all_scores": [float(s) for s in np.where(np.isfinite(scores), scores, 0.0)]}


def select_file(messages_path, out) -> dict:
    inputs = record_inputs(out, messages=messages_path)
    with MESSAGES.open(messages_path) as h:
        variant, dim = str(h.attrs["variant"]), int(h.attrs["dim"])
        extras = {k: h[k][:] for k in get_variant(variant).extras}
        sel = select_components(h["messages"][:], variant, dim, extras, h.attrs["mask"])
    sel.update(variant=variant, dim=dim, inputs=inputs)
    with atomic_path(out) as tmp:
        tmp.write_text(json.dumps(sel, indent=2))
    return sel


def main(argv: list[str] | None = None) -> None:
    p = parser("symdistill-messages", __doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("dump", help="write edge features, true forces and messages")
    d.add_argument("--model", required=True, help="best.pt of a trained model (symdistill-train)")
    d.add_argument("--data", required=True, help="the model's data set (symdistill-simulate)")
    d.add_argument("--max-graphs", type=int, default=2000, help="test graphs whose edges are recorded")
    d.add_argument("--out", required=True, help="messages.h5 to write")
    s = sub.add_parser("select", help="pick the d most important components")
    s.add_argument("--messages", required=True, help="messages.h5 (symdistill-messages dump)")
    s.add_argument("--out", required=True, help="selected.json to write")
    a = p.parse_args(argv)
    with errors(f"symdistill-messages {a.cmd}", a.debug):
        if a.cmd == "dump":
            dump_messages(a.model, a.data, a.out, a.max_graphs)
        else:
            print(json.dumps(select_file(a.messages, a.out)))


if __name__ == "__main__":
    main()
