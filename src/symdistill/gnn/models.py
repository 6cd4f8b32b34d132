"""The graph network of Cranmer et al. (2020): one message-passing layer in PyTorch Geometric's idiom.

Edge model phi_e(x_i, x_j) -> message, summed over incoming edges, node model
phi_v(x_i, sum of messages) -> acceleration. What differs between variants (edge model, message
width, sampling, masking, regulariser) is asked of the variant's entry in
``symdistill.gnn.variants.VARIANTS``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from symdistill.core.edges import edge_columns, node_edge_features
from symdistill.core.laws import SOFTENING
from symdistill.core.provenance import atomic_path
from symdistill.core.schema import enum
from symdistill.gnn.eql import EQL, EQLSettings, edge_inputs, log_space
from symdistill.gnn.variants import get_variant

NODE_OUTPUTS = tuple(enum("node_output"))
LINEAR_NODE_OUTPUTS = ("newtonian", "linear")  # node models that are one linear map of the summed messages
EDGE_INPUTS = tuple(enum("edge_inputs"))


@dataclass
class ModelSettings:
    """Everything needed to rebuild a model; stored in every checkpoint. Built from a stage's
    TrainSettings (``TrainSettings.model_settings``), so it has no defaults of its own."""

    variant: str
    dim: int  # spatial dimension d
    node_features: int  # position (d), velocity (d), charge, mass
    hidden: int
    layers: int  # hidden layers per MLP
    msg_dim: int  # message components (the variant's width for the configured msg_dim)
    # "acceleration": the node model outputs the acceleration (published). "force": its output
    # is divided by the receiver's mass (Newton's second law built in). "newtonian": no node
    # MLP at all: acceleration = L (summed messages) / m, L linear.
    node_output: str
    eql: dict = field(default_factory=dict)  # eql edge model: EQLSettings fields plus "inputs"
    # what an MLP edge model sees: "nodes" = concat(receiver, sender) features (published);
    # "relative" = the edge_columns (dx, r, m1, m2, q1, q2) and dv (translation invariant).
    # Model files from before this field existed used "nodes".
    edge_inputs: str = "nodes"
    # r = |dx| + softening in the edge features the edge model sees: the data set's (0 for
    # observed data); model files from before this field existed used SOFTENING
    softening: float = SOFTENING

    def __post_init__(self):
        variant = get_variant(self.variant)
        if self.node_output not in NODE_OUTPUTS:
            raise ValueError(f"unknown node_output {self.node_output!r}; choose from {NODE_OUTPUTS}")
        if self.edge_inputs not in EDGE_INPUTS:
            raise ValueError(f"unknown edge_inputs {self.edge_inputs!r}; choose from {EDGE_INPUTS}")
        if variant.edge_model == "eql" and not self.eql.get("inputs"):
            raise ValueError(f"the {self.variant} variant needs eql settings with a list of 'inputs'")


def mlp(n_in: int, hidden: int, n_out: int, layers: int) -> nn.Sequential:
    """``layers`` hidden ReLU layers of width ``hidden``, then a linear output."""
    mods: list[nn.Module] = []
    for i in range(layers):
        mods += [nn.Linear(n_in if i == 0 else hidden, hidden), nn.ReLU(inplace=True)]
    mods.append(nn.Linear(hidden if layers else n_in, n_out))
    return nn.Sequential(*mods)


class GraphNetwork(nn.Module):
    r"""Interaction network predicting each node's acceleration.

    .. math::
        e_{ij} = \phi_e(x_i, x_j), \quad M_i = \sum_{j \ne i} \mathrm{msg}(e_{ij}), \quad
        a_i = \phi_v(x_i, M_i)

    for every edge j -> i of ``edge_index`` (row 0 the sender j, row 1 the receiver i: PyTorch
    Geometric's source-to-target flow), msg the variant's (masking, KL sampling). The gather
    (``index_select``) and the sum (``scatter_add_``) are the ops of PyG's ``MessagePassing`` with
    ``aggr="add"``, written out: the numbers are PyG's to the bit, and a job does not spend 2.5 s
    importing PyG.

    Args:
        cfg: the ``ModelSettings`` (variant, widths, node model, edge inputs) that rebuild it.
    """

    def __init__(self, cfg: ModelSettings):
        super().__init__()
        self.cfg = cfg
        self.variant = get_variant(cfg.variant)
        f, k = cfg.node_features, cfg.msg_dim
        raw = self.variant.raw_factor * k
        if self.variant.edge_model == "eql":
            arch = {key: v for key, v in cfg.eql.items() if key != "inputs"}
            names = cfg.eql["inputs"]
            self.edge_model = EQL(len(names), raw, EQLSettings(**arch), log_space(names))
        else:
            n_in = 2 * f if cfg.edge_inputs == "nodes" else 2 * cfg.dim + 5
            self.edge_model = mlp(n_in, cfg.hidden, raw, cfg.layers)
        if cfg.node_output in LINEAR_NODE_OUTPUTS:
            self.node_model = nn.Linear(k, cfg.dim, bias=False)
        else:
            self.node_model = mlp(f + k, cfg.hidden, cfg.dim, cfg.layers)
        self.register_buffer("mask", torch.ones(k))  # pruning zeroes components here

    def edge_update(self, x_i: Tensor, x_j: Tensor) -> Tensor:
        """The edge model on concat(receiver, sender): raw messages (kl: mean | log-variance).

        The EQL edge model instead sees the named edge inputs (dx, r, 1/r, m1, ...).
        """
        if self.variant.edge_model == "eql":
            return self.edge_model(edge_inputs(self.cfg.eql["inputs"], x_i, x_j, self.cfg.dim, self.cfg.softening))
        if self.cfg.edge_inputs == "relative":  # the shared edge geometry, plus dv
            d = self.cfg.dim
            cols = node_edge_features(x_i, x_j, d, self.cfg.softening)
            dv = x_i[:, d : 2 * d] - x_j[:, d : 2 * d]
            return self.edge_model(torch.cat([torch.stack([cols[c] for c in edge_columns(d)], -1), dv], -1))
        return self.edge_model(torch.cat([x_i, x_j], dim=-1))

    def to_message(self, raw: Tensor, sample: bool, generator: torch.Generator | None = None) -> Tensor:
        """Turn raw edge-model output into the message that is summed (mask, KL sampling)."""
        return self.variant.to_message(raw, self.mask, self.cfg.msg_dim, sample, generator)

    def forward(
        self, x: Tensor, edge_index: Tensor, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        """Predicted accelerations [nodes, d] and raw edge outputs [edges, k or 2k].

        KL messages are sampled (with ``generator``) in training mode, the mean in eval mode.
        """
        sender, receiver = edge_index[0], edge_index[1]
        raw = self.edge_update(x.index_select(0, receiver), x.index_select(0, sender))
        msg = self.to_message(raw, self.training, generator)
        agg = msg.new_zeros(x.size(0), msg.size(1)).scatter_add_(0, receiver.view(-1, 1).expand_as(msg), msg)
        if self.cfg.node_output == "newtonian":
            return self.node_model(agg) / x[:, -1:], raw  # mass is the last node feature
        if self.cfg.node_output == "linear":
            return self.node_model(agg), raw
        out = self.node_model(torch.cat([x, agg], dim=-1))
        if self.cfg.node_output == "force":
            out = out / x[:, -1:]
        return out, raw

    def message_readout(self) -> np.ndarray | None:
        """W of a linear node model (summed messages -> force, or acceleration for ``linear``), masked
        components zero, in float64, when the variant's messages are distilled through it; None
        otherwise."""
        if not self.variant.read_through or self.cfg.node_output not in LINEAR_NODE_OUTPUTS:
            return None
        return (self.node_model.weight.detach() * self.mask).double().numpy()

    def messages(self, raw: Tensor) -> Tensor:
        """Analysis-time messages: the mean for KL, masked components zero for pruning."""
        return self.to_message(raw, sample=False)

    def regulariser(self, raw: Tensor) -> Tensor:
        """Per-edge message penalty before weighting (the variant's; zeros if it has none)."""
        return self.variant.penalty(raw, self.cfg.msg_dim)


def save_model(path, model: GraphNetwork, **extra) -> None:
    """Write weights plus the settings that rebuild the model, so a file alone is enough to load."""
    with atomic_path(path) as tmp:  # a crash never leaves a best.pt that looks complete
        torch.save({"model_settings": asdict(model.cfg), "state_dict": model.state_dict(), **extra}, tmp)


def load_model(path, map_location="cpu") -> GraphNetwork:
    """Rebuild a model from a file written by ``save_model`` (or a training checkpoint)."""
    if not Path(path).is_file():
        raise ValueError(f"model {path} does not exist (written by rule train_gnn)")
    try:
        blob = torch.load(path, map_location=map_location, weights_only=False)
        settings = ModelSettings(**blob["model_settings"])
    except (RuntimeError, EOFError, KeyError, TypeError, AttributeError, ValueError) as err:
        raise ValueError(f"{path} is not a model file as written by rule train_gnn "
                         f"({err.__class__.__name__}: {str(err)[:80]}); truncated? rerun train_gnn") from None
    model = GraphNetwork(settings)
    model.load_state_dict(blob["state_dict"])
    model.meta = {k: v for k, v in blob.items() if k not in ("model_settings", "state_dict")}
    return model.eval()
