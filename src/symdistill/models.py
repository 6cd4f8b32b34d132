"""The graph network of Cranmer et al. (2020) as a PyTorch Geometric ``MessagePassing`` layer.

Edge model phi_e(x_i, x_j) -> message, summed over incoming edges, node model
phi_v(x_i, sum of messages) -> acceleration. Variants differ only in what happens to the edge
model's output on its way to the sum: ``kl`` samples it, ``pruning`` masks it, ``l1`` and
``kl`` add a regulariser computed from it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from torch import Tensor, nn
from torch_geometric.nn import MessagePassing

from symdistill.eql import EQL, EQLSettings, edge_inputs, log_space
from symdistill.provenance import atomic_path

VARIANTS = ("standard", "bottleneck", "l1", "kl", "pruning", "eql")
NODE_OUTPUTS = ("acceleration", "force", "newtonian")


@dataclass
class ModelSettings:
    """Everything needed to rebuild a model; stored in every checkpoint."""

    variant: str = "standard"
    dim: int = 2  # spatial dimension d
    node_features: int = 6  # position (d), velocity (d), charge, mass
    hidden: int = 300
    layers: int = 3  # hidden layers per MLP
    msg_dim: int = 100  # message components (d for bottleneck)
    # "acceleration": the node model outputs the acceleration (published). "force": its output
    # is divided by the receiver's mass (Newton's second law built in), so summed messages that
    # are forces need no further processing and the edge model has no reason to learn F / m1.
    # "newtonian": no node MLP at all: acceleration = L (summed messages) / m, L linear.
    node_output: str = "acceleration"
    eql: dict = field(default_factory=dict)  # eql variant: EQLSettings fields plus "inputs"

    def __post_init__(self):
        if self.variant not in VARIANTS:
            raise ValueError(f"unknown model variant {self.variant!r}; choose from {VARIANTS}")
        if self.node_output not in NODE_OUTPUTS:
            raise ValueError(f"unknown node_output {self.node_output!r}; choose from {NODE_OUTPUTS}")
        if self.variant == "eql" and not self.eql.get("inputs"):
            raise ValueError("the eql variant needs eql settings with a list of 'inputs'")
        if self.variant == "bottleneck":
            self.msg_dim = self.dim


def mlp(n_in: int, hidden: int, n_out: int, layers: int) -> nn.Sequential:
    """``layers`` hidden ReLU layers of width ``hidden``, then a linear output."""
    mods: list[nn.Module] = []
    for i in range(layers):
        mods += [nn.Linear(n_in if i == 0 else hidden, hidden), nn.ReLU(inplace=True)]
    mods.append(nn.Linear(hidden if layers else n_in, n_out))
    return nn.Sequential(*mods)


class GraphNetwork(MessagePassing):
    """Interaction network predicting each node's acceleration."""

    def __init__(self, cfg: ModelSettings):
        super().__init__(aggr="add")
        self.cfg = cfg
        f, k = cfg.node_features, cfg.msg_dim
        raw = 2 * k if cfg.variant == "kl" else k  # kl: mean and log-variance per component
        if cfg.variant == "eql":
            arch = {key: v for key, v in cfg.eql.items() if key != "inputs"}
            names = cfg.eql["inputs"]
            self.edge_model = EQL(len(names), raw, EQLSettings(**arch), log_space(names))
        else:
            self.edge_model = mlp(2 * f, cfg.hidden, raw, cfg.layers)
        if cfg.node_output == "newtonian":
            self.node_model = nn.Linear(k, cfg.dim, bias=False)
        else:
            self.node_model = mlp(f + k, cfg.hidden, cfg.dim, cfg.layers)
        self.register_buffer("mask", torch.ones(k))  # pruning zeroes components here

    def edge_update(self, x_i: Tensor, x_j: Tensor) -> Tensor:
        """The edge model on concat(receiver, sender): raw messages (kl: mean | log-variance).

        The EQL edge model instead sees the named edge inputs (dx, r, 1/r, m1, ...).
        """
        if self.cfg.variant == "eql":
            return self.edge_model(edge_inputs(self.cfg.eql["inputs"], x_i, x_j, self.cfg.dim))
        return self.edge_model(torch.cat([x_i, x_j], dim=-1))

    def message(self, msg: Tensor) -> Tensor:
        return msg

    def to_message(self, raw: Tensor, sample: bool, generator: torch.Generator | None = None) -> Tensor:
        """Turn raw edge-model output into the message that is summed (mask, KL sampling)."""
        k = self.cfg.msg_dim
        if self.cfg.variant == "kl":
            mean, logvar = raw[:, :k], raw[:, k:]
            if not sample:
                return mean
            noise = torch.randn(mean.shape, device=mean.device, generator=generator)
            return mean + torch.exp(0.5 * logvar) * noise
        return raw * self.mask

    def forward(
        self, x: Tensor, edge_index: Tensor, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        """Predicted accelerations [nodes, d] and raw edge outputs [edges, k or 2k].

        KL messages are sampled (with ``generator``) in training mode, the mean in eval mode.
        """
        raw = self.edge_updater(edge_index, x=x)
        msg = self.to_message(raw, self.training, generator)
        agg = self.propagate(edge_index, msg=msg, size=(x.size(0), x.size(0)))
        if self.cfg.node_output == "newtonian":
            return self.node_model(agg) / x[:, -1:], raw  # mass is the last node feature
        out = self.node_model(torch.cat([x, agg], dim=-1))
        if self.cfg.node_output == "force":
            out = out / x[:, -1:]
        return out, raw

    def messages(self, raw: Tensor) -> Tensor:
        """Analysis-time messages: the mean for KL, masked components zero for pruning."""
        return self.to_message(raw, sample=False)

    def regulariser(self, raw: Tensor) -> Tensor:
        """Per-edge penalty before weighting: sum |m| (l1, eql) or KL to N(0, 1) (kl); else zeros."""
        k = self.cfg.msg_dim
        if self.cfg.variant in ("l1", "eql"):
            return raw.abs().sum(dim=-1)
        if self.cfg.variant == "kl":
            mean, logvar = raw[:, :k], raw[:, k:]
            return 0.5 * (mean**2 + torch.exp(logvar) - logvar - 1).sum(dim=-1)
        return raw.new_zeros(raw.shape[0])


def fully_connected_edges(n: int, graphs: int, device=None) -> Tensor:
    """edge_index [2, graphs * n(n-1)] of ``graphs`` disjoint complete digraphs without self-loops.

    Row 0 is the source j, row 1 the receiver i (PyG's source_to_target flow), so x_i is the
    receiving node in ``edge_update``.
    """
    src, dst = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
    keep = src != dst
    base = torch.stack([src[keep], dst[keep]])  # [2, n(n-1)]
    offsets = (torch.arange(graphs) * n).repeat_interleave(base.shape[1])
    return (base.repeat(1, graphs) + offsets).to(device)


def save_model(path, model: GraphNetwork, **extra) -> None:
    """Write weights plus the settings that rebuild the model, so a file alone is enough to load."""
    with atomic_path(path) as tmp:  # a crash never leaves a best.pt that looks complete
        torch.save({"model_settings": asdict(model.cfg), "state_dict": model.state_dict(), **extra}, tmp)


def load_model(path, map_location="cpu") -> GraphNetwork:
    """Rebuild a model from a file written by ``save_model`` (or a training checkpoint)."""
    blob = torch.load(path, map_location=map_location, weights_only=False)
    model = GraphNetwork(ModelSettings(**blob["model_settings"]))
    model.load_state_dict(blob["state_dict"])
    model.meta = {k: v for k, v in blob.items() if k not in ("model_settings", "state_dict")}
    return model.eval()
