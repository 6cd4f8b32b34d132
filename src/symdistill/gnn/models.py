"""The graph network of Cranmer et al. (2020): one message-passing layer in PyTorch Geometric's idiom.

Edge model phi_e(x_i, x_j) -> message, summed over incoming edges, node model
phi_v(x_i, sum of messages) -> acceleration. What differs between variants (edge model, message
width, sampling, masking, regulariser) is asked of the variant's entry in
``symdistill.gnn.variants.VARIANTS``. An energy variant (``hamiltonian``) reads the same layer as
a Hamiltonian: the edge model is a pair energy, the node model a self energy, and the
accelerations come from Hamilton's equations by autograd.
"""

from __future__ import annotations

import math
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


def mlp(n_in: int, hidden: int, n_out: int, layers: int, smooth: bool = False) -> nn.Sequential:
    """``layers`` hidden ReLU layers of width ``hidden`` (softplus if ``smooth``: an energy whose
    gradient is a force must be smooth), then a linear output."""
    mods: list[nn.Module] = []
    for i in range(layers):
        mods += [nn.Linear(n_in if i == 0 else hidden, hidden), nn.Softplus() if smooth else nn.ReLU(inplace=True)]
    mods.append(nn.Linear(hidden if layers else n_in, n_out))
    return nn.Sequential(*mods)


def value_and_input_grad(net: nn.Sequential, inp: Tensor) -> tuple[Tensor, Tensor]:
    """A scalar-output softplus MLP (``mlp(..., smooth=True)``) on the rows of ``inp``: its values
    [rows, 1] and their gradients with respect to ``inp`` [rows, features], both differentiable.

    The backward chain written out (g <- (g W) * sigmoid(z) from the output layer down) is the
    gradient autograd would give, at half the matrix products of taking it with
    ``create_graph=True`` and differentiating that again: an energy variant's training step then
    costs about as much as its forward pass twice, not four times."""
    linears = [m for m in net if isinstance(m, nn.Linear)]
    h, slopes = inp, []
    for lin in linears[:-1]:
        z = lin(h)
        h = nn.functional.softplus(z)
        slopes.append(torch.sigmoid(z))  # d softplus / dz
    out = linears[-1](h)
    g = linears[-1].weight.expand(h.shape[0], -1)  # d out / d h, [rows, hidden]
    for lin, slope in zip(reversed(linears[:-1]), reversed(slopes)):
        g = (g * slope) @ lin.weight
    return out, g


class GraphNetwork(nn.Module):
    r"""Interaction network predicting each node's acceleration.

    .. math::
        e_{ij} = \phi_e(x_i, x_j), \quad M_i = \sum_{j \ne i} \mathrm{msg}(e_{ij}), \quad
        a_i = \phi_v(x_i, M_i)

    for every edge j -> i of ``edge_index`` (row 0 the sender j, row 1 the receiver i: PyTorch
    Geometric's source-to-target flow), msg the variant's (masking, KL sampling). For an energy
    variant (Cranmer et al.'s HGN) the same layer is a Hamiltonian of positions q and momenta p = m v:

    .. math::
        H = \sum_i \frac{p_i^2}{2 m_i} + V, \quad
        V = \sum_i \Big( \sum_{j \ne i} E(s_i, s_j) + S(s_i) \Big), \quad
        \dot q_i = \frac{\partial H}{\partial p_i}, \quad
        a_i = -\frac{1}{m_i} \frac{\partial H}{\partial q_i}

    E the pair energy (the scalar message) and S the self energy, softplus MLPs of the static
    features s = (position, charge, mass); ``node_output`` does not apply. The published HGN also
    feeds the energies the momenta and learns the kinetic term, but only dv/dt is trained, so a
    momentum dependence could only add velocity-dependent forces; with T known, H is conserved
    along the model's own trajectories. The gather
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
        elif self.variant.energy:  # pair energy of the static features (no velocity)
            n_in = 2 * (f - cfg.dim) if cfg.edge_inputs == "nodes" else cfg.dim + 5
            self.edge_model = mlp(n_in, cfg.hidden, raw, cfg.layers, smooth=True)
        else:
            n_in = 2 * f if cfg.edge_inputs == "nodes" else 2 * cfg.dim + 5
            self.edge_model = mlp(n_in, cfg.hidden, raw, cfg.layers)
        if self.variant.energy:  # the self energy S(s_i)
            self.node_model = mlp(f - cfg.dim, cfg.hidden, 1, cfg.layers, smooth=True)
        elif cfg.node_output in LINEAR_NODE_OUTPUTS:
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

    def ends(self, x: Tensor, edge_index: Tensor, shift: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Receiver and sender features of every edge; a periodic edge's sender at its nearest
        image (its position plus ``shift``, symdistill.core.geometry)."""
        x_i, x_j = x.index_select(0, edge_index[1]), x.index_select(0, edge_index[0])
        if shift is not None:
            d = self.cfg.dim
            x_j = torch.cat([x_j[:, :d] + shift.to(x_j.dtype), x_j[:, d:]], dim=-1)
        return x_i, x_j

    def forward(
        self, x: Tensor, edge_index: Tensor, generator: torch.Generator | None = None, shift: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """Predicted accelerations [nodes, d] and raw edge outputs [edges, k or 2k].

        KL messages are sampled (with ``generator``) in training mode, the mean in eval mode.
        ``shift`` [edges, d] moves periodic senders to their nearest image (None: no cell).
        """
        if self.variant.energy:
            return self.hamiltonian_forward(x, edge_index, shift)
        receiver = edge_index[1]
        raw = self.edge_update(*self.ends(x, edge_index, shift))
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

    @property
    def divides_by_mass(self) -> bool:
        """Is the predicted acceleration a force over the receiver's mass (Newton's second law
        built in: an energy variant, or node_output force or newtonian)?"""
        return self.variant.energy or self.cfg.node_output in ("force", "newtonian")

    def _static_features(self, x: Tensor) -> Tensor:
        """Node features without the velocities: (position, charge, mass), what energies see."""
        d = self.cfg.dim
        return torch.cat([x[:, :d], x[:, 2 * d :]], dim=-1)

    def pair_inputs(self, xs_i: Tensor, xs_j: Tensor) -> Tensor:
        """What an energy variant's pair energy sees of an edge, from receiver and sender static
        features (position, charge, mass): concat(receiver, sender), or the edge columns (dx, r,
        m1, m2, q1, q2) with relative edge inputs."""
        if self.cfg.edge_inputs == "relative":
            cols = node_edge_features(xs_i, xs_j, self.cfg.dim, self.cfg.softening)
            return torch.stack([cols[c] for c in edge_columns(self.cfg.dim)], -1)
        return torch.cat([xs_i, xs_j], dim=-1)

    def pair_energy(self, xs_i: Tensor, xs_j: Tensor) -> Tensor:
        """An energy variant's pair energies [edges, 1] (``pair_inputs``)."""
        return self.edge_model(self.pair_inputs(xs_i, xs_j))

    def energies(self, x: Tensor, edge_index: Tensor, shift: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """An energy variant's learned energy per node [nodes, 1] (its pair energies as receiver
        plus its self energy) and the pair energies [edges, 1]; V = their sum over nodes."""
        xs = self._static_features(x)
        pair = self.pair_energy(*self.ends(xs, edge_index, shift))
        return pair.new_zeros(x.size(0), 1).index_add_(0, edge_index[1], pair) + self.node_model(xs), pair

    def hamiltonian_forward(self, x: Tensor, edge_index: Tensor, shift: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Accelerations -dV/dq / m [nodes, d], and the pair energies [edges, 1]: the energies'
        input gradients written out (``value_and_input_grad``), carried to q by autograd.

        In training the graph of the gradient is kept (the loss is on it) and the paper's small
        penalty terms are left on ``self.energy_terms``: each node's learned energy and dV with
        respect to the non-dynamical features (charge, mass). Works under ``torch.no_grad`` too
        (rollouts, message dumps): the gradient is always taken.
        """
        d = self.cfg.dim
        with torch.enable_grad():
            q = x[:, :d].detach().requires_grad_(True)
            other = x[:, 2 * d :].detach().requires_grad_(self.training)
            xs = self._static_features(torch.cat([q, x[:, d : 2 * d], other], dim=-1))
            edge_in = self.pair_inputs(*self.ends(xs, edge_index, shift))
            with torch.set_grad_enabled(self.training):  # evaluation needs no graph through the MLPs
                pair, g_pair = value_and_input_grad(self.edge_model, edge_in)
                own, g_own = value_and_input_grad(self.node_model, xs)
            wrt = (q, other) if self.training else (q,)
            # dV/dq: the MLPs' input gradients carried back through the feature maps (gathers, dx, r)
            grads = torch.autograd.grad((edge_in, xs), wrt, grad_outputs=(g_pair, g_own), create_graph=self.training)
            node = pair.new_zeros(x.size(0), 1).index_add_(0, edge_index[1], pair) + own
        if self.training:
            self.energy_terms = (node, grads[1])
            return -grads[0] / x[:, -1:], pair
        return -grads[0].detach() / x[:, -1:], pair.detach()

    def hamiltonian(self, x: Tensor, edge_index: Tensor, graphs: int, shift: Tensor | None = None) -> Tensor:
        """An energy variant's H = T + V per graph [graphs]: the kinetic energy sum m v^2 / 2 (of
        the momenta p = m v) plus the learned V, conserved along the model's own trajectories."""
        d = self.cfg.dim
        kinetic = 0.5 * x[:, -1] * (x[:, d : 2 * d] ** 2).sum(-1)
        return (kinetic + self.energies(x, edge_index, shift)[0][:, 0]).view(graphs, -1).sum(-1)

    def reference_messages(self, x: Tensor, edge_index: Tensor, distance: float,
                           shift: Tensor | None = None) -> Tensor:
        """An energy variant's pair energies [edges, 1] with each sender moved along its edge to
        ``distance`` from the receiver (its charge and mass kept): subtracted from the pair
        energies, they leave E(r) - E(distance), free of whatever the pair energy holds that
        does not depend on the separation (a function of masses and charges alone, which no
        force sees)."""
        d = self.cfg.dim
        xi, xj = self.ends(self._static_features(x), edge_index, shift)
        dx = xi[:, :d] - xj[:, :d]
        moved = xi[:, :d] - dx * (distance / dx.norm(dim=-1, keepdim=True).clamp_min(1e-12))
        return self.pair_energy(xi, torch.cat([moved, xj[:, d:]], dim=-1)).detach()

    def message_integrals(self, x: Tensor, edge_index: Tensor, distance: float, nodes: int = 24,
                          shift: Tensor | None = None) -> Tensor:
        """A force variant's messages integrated along each edge, int_distance^|dx| m(rho) d rho
        [edges, k]: the sender moved along its edge to every distance rho from the receiver (its
        other features kept), by ``nodes``-point Gauss-Legendre quadrature in log rho (exact
        for powers of rho to high order, so a singular force integrates as well as a smooth one).

        For messages that are a linear map of a central force, A f(r) u + b, this is the map of
        the work -(U(r) - U(distance)) u + b (|dx| - distance): the pair potential a law's
        force came from, often the simpler of the two (Yukawa's e^-r / r against its force
        e^-r (1 + r) / r^2), read from the network without a Hamiltonian variant."""
        d = self.cfg.dim
        xi, xj = self.ends(x, edge_index, shift)
        dx = xi[:, :d] - xj[:, :d]
        rho = dx.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        u = dx / rho
        t, w = np.polynomial.legendre.leggauss(nodes)
        lo, hi = math.log(distance), rho.log()
        half = (hi - lo) / 2
        total = None
        for tk, wk in zip(t.tolist(), w.tolist()):
            at = (lo + hi) / 2 + half * tk  # log rho at this node
            moved = torch.cat([xi[:, :d] - u * at.exp(), xj[:, d:]], dim=-1)
            m = self.messages(self.edge_update(xi, moved)) * (half * wk * at.exp())
            total = m if total is None else total + m
        return total.detach()

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
