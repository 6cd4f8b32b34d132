"""The GNN variants: one registry entry each, holding everything in which they differ.

A variant decides what the edge model is, how wide the message is, what its raw output becomes
on the way to the sum (KL sampling, a pruning mask), the message regulariser and its weight,
what it does during training (pruning schedule, EQL sparsify/prune), what is recorded beside the
messages, how the d most important components are picked for symbolic regression, and which
engine reads its law out (``readout``; None: the configured symbolic-regression engines).
Adding a variant is one class here, one ``@register``, one name in the schema's ``$defs`` and one
test. No other module tests a variant's name. torch is imported only inside methods, so the
light stages (selection, tables) import this module cheaply.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from torch import Tensor

VARIANTS: dict[str, Variant] = {}


def register(cls):
    """Add a variant class to ``VARIANTS`` under its ``name`` (registry order = table order)."""
    VARIANTS[cls.name] = cls()
    return cls


def get_variant(name: str) -> Variant:
    try:
        return VARIANTS[name]
    except KeyError:
        raise ValueError(f"unknown model variant {name!r}; choose from {list(VARIANTS)}") from None


def kl_to_standard_normal(mean, logvar, exp):
    """Per-component KL divergence of N(mean, exp(logvar)) to N(0, 1) (numpy or torch via ``exp``)."""
    return 0.5 * (mean**2 + exp(logvar) - logvar - 1)


@dataclass
class TrainingState:
    """What a variant's training hooks see of a run: its settings, step, model, data and the two
    actions a schedule may take (mask message components, forget the best-so-far model)."""

    s: Any  # the run's TrainSettings
    step: int  # optimiser steps taken
    model: Any  # the GraphNetwork being trained
    n: int  # particles per graph
    dim: int  # spatial dimension
    x: Tensor  # training node inputs [graphs, n, features] (input scales)
    mask_components: Callable[[int], None]  # keep the k strongest message components
    forget_best: Callable[[], None]  # only models after this point count as best
    edges: Callable  # node features [graphs, n, f] -> (edge_index, periodic shift or None)


class Variant:
    """The standard graph network (Cranmer et al. 2020): MLP edge model, 100-wide messages, no
    regulariser; components ranked by their standard deviation."""

    name = "standard"
    edge_model = "mlp"  # or "eql": an Equation Learner on named edge inputs
    raw_factor = 1  # edge-model outputs per message component
    criterion = "standard deviation"
    readout: str | None = None  # an engine that reads the law out of the model itself
    extras: tuple[str, ...] = ()  # arrays written beside the messages (``message_extras``)
    section: str | None = None  # a config section of its own (with its 'simulations' list)
    # messages distilled through a linear node model's read-out W (the per-edge force W m_ij),
    # not component by component: for edge models that spread the force over many components
    read_through: bool = False
    # the edge model is a scalar pair energy and the accelerations are -dH/dq / m by autograd
    # (``GraphNetwork.hamiltonian_forward``); its law is a potential
    energy: bool = False
    step_cost: float = 1.0  # a training step's time relative to the standard's (the job's runtime request)

    def width(self, msg_dim: int, dim: int) -> int:
        """Message components for the configured ``msg_dim`` in ``dim`` dimensions."""
        return msg_dim

    def penalty_weight(self, s) -> float:
        """Weight of ``penalty`` in the loss, from the TrainSettings ``s`` (0: none)."""
        return 0.0

    def penalty(self, raw: Tensor, k: int) -> Tensor:
        """Per-edge message penalty before weighting."""
        return raw.new_zeros(raw.shape[0])

    def to_message(self, raw: Tensor, mask: Tensor, k: int, sample: bool, generator=None) -> Tensor:
        """The message that is summed, from the raw edge output."""
        return raw * mask

    def extra_loss(self, state: TrainingState) -> Tensor | None:
        """A loss term beyond the fit and the message penalty (None: none)."""
        return None

    def before_step(self, state: TrainingState) -> None:
        """Called before every optimiser step (schedules that act on the model)."""

    def prepare(self, state: TrainingState) -> None:
        """Called once the model is built, before training (e.g. input scales)."""

    def train_overrides(self, cfg: dict, dim: int, sim: str) -> dict:
        """TrainSettings fields this variant takes from its own config section."""
        return {}

    def message_extras(self, raw, k: int) -> dict[str, np.ndarray]:
        """Arrays written beside the messages that ``select`` needs."""
        return {}

    def scores(self, messages: np.ndarray, dim: int, extras: dict, mask: np.ndarray | None) -> np.ndarray:
        """Importance of each message component (the d highest are distilled)."""
        return messages.std(axis=0)


@register
class Standard(Variant):
    pass


@register
class Bottleneck(Variant):
    """Messages exactly d wide (the configured msg_dim does not apply); all d are distilled."""

    name = "bottleneck"
    criterion = "bottleneck (all)"

    def width(self, msg_dim: int, dim: int) -> int:
        return dim


@register
class L1(Variant):
    """L1 on the messages (weight train.l1_weight)."""

    name = "l1"

    def penalty_weight(self, s) -> float:
        return s.l1_weight

    def penalty(self, raw, k):
        return raw.abs().sum(dim=-1)


@register
class KL(Variant):
    """Messages sampled from N(mean, exp(logvar)) in training, KL to N(0, 1) as the penalty
    (weight train.kl_weight); components ranked by their mean KL."""

    name = "kl"
    raw_factor = 2
    extras = ("logvar",)
    criterion = "mean KL divergence"

    def penalty_weight(self, s) -> float:
        return s.kl_weight

    def penalty(self, raw, k):
        import torch

        return kl_to_standard_normal(raw[:, :k], raw[:, k:], torch.exp).sum(dim=-1)

    def to_message(self, raw, mask, k, sample, generator=None):
        import torch

        mean, logvar = raw[:, :k], raw[:, k:]
        if not sample:
            return mean
        noise = torch.randn(mean.shape, device=mean.device, generator=generator)
        return mean + torch.exp(0.5 * logvar) * noise

    def message_extras(self, raw, k):
        return {"logvar": raw[:, k:].numpy().astype(np.float64)}

    def scores(self, messages, dim, extras, mask):
        if extras.get("logvar") is None:
            raise ValueError("kl selection needs the log-variances ('logvar' beside the messages)")
        return kl_to_standard_normal(messages, extras["logvar"], np.exp).mean(axis=0)


def pruned_count(step: int, steps: int, prune_end: float, msg_dim: int, dim: int) -> int:
    """Components kept at ``step``: cosine from msg_dim down to d, reaching d at prune_end."""
    end = max(1, int(prune_end * steps))
    frac = min(step / end, 1.0)
    return int(round(dim + (msg_dim - dim) * 0.5 * (1 + math.cos(math.pi * frac))))


@register
class Pruning(Variant):
    """Components masked during training, by message std, down to d by train.prune_end; the
    unmasked d are distilled."""

    name = "pruning"
    criterion = "unmasked (ordered by std)"

    def before_step(self, state: TrainingState) -> None:
        s = state.s
        if state.step % (s.prune_every or max(1, s.steps // 100)) == 0:
            before = int(state.model.mask.sum().item())
            state.mask_components(pruned_count(state.step, s.steps, s.prune_end, s.msg_dim, state.dim))
            if int(state.model.mask.sum().item()) < before:
                state.forget_best()  # only models with the present mask count as best

    def scores(self, messages, dim, extras, mask):
        std = messages.std(axis=0)
        if mask is None:
            return std
        kept = np.asarray(mask) > 0
        if int(kept.sum()) != dim:
            raise ValueError(f"pruned model has {int(kept.sum())} unmasked components, expected {dim}")
        return np.where(kept, std, -np.inf)


@register
class Hamiltonian(Variant):
    """Cranmer et al.'s Hamiltonian graph network (HGN): a scalar pair energy E(s_i, s_j) and a
    self energy S(s_i), softplus MLPs of the static features s (position, charge, mass); H is the
    kinetic energy of the momenta p = m v plus their sum V, and a_i = -dH/dq_i / m_i by autograd
    (``GraphNetwork.hamiltonian_forward``). The paper's penalty, train.energy_weight times the
    squared node energies and the squared gradient of V in the non-dynamical features (charge,
    mass), pins the energies' free offset. The distilled law is the pair potential
    U(r, m1, m2, q1, q2), known up to a function of the masses and charges alone."""

    name = "hamiltonian"
    energy = True
    step_cost = 3.0  # the loss is on a gradient: a second backward pass (115 against ~330 steps/s)
    criterion = "pair energy (its only component)"

    def width(self, msg_dim: int, dim: int) -> int:
        return 1

    def extra_loss(self, state: TrainingState):
        weight = state.s.energy_weight
        if not weight:
            return None
        node, grad_other = state.model.energy_terms
        graphs = node.shape[0] / state.n
        return weight * ((node**2).sum() + (grad_other**2).sum()) / graphs


@register
class EQL(L1):
    """GNN+EQL: an Equation Learner as the edge model on named edge inputs, trained end to end
    with an L1 on the messages, a sparsity penalty and pruning (settings: config section eql);
    its law is read out of the network (engine eql)."""

    name = "eql"
    edge_model = "eql"
    readout = "eql"
    section = "eql"
    read_through = True

    def penalty_weight(self, s) -> float:
        return s.eql.message_l1

    def prepare(self, state: TrainingState) -> None:
        """Fixed input scales from the training edges."""
        from symdistill.gnn.eql import edge_inputs

        probe = state.x[: min(len(state.x), 2048)]
        e, shift = state.edges(probe)
        x_i, x_j = state.model.ends(probe.reshape(-1, probe.shape[-1]), e, shift)
        inputs = edge_inputs(state.s.eql.inputs, x_i, x_j, state.dim, state.model.cfg.softening)
        state.model.edge_model.set_input_scale(inputs)

    def extra_loss(self, state: TrainingState):
        s, e = state.s, state.s.eql
        if state.step >= e.sparsity_start * s.steps and e.sparsity:
            return e.sparsity * state.model.edge_model.sparsity_penalty(e.sparsity_kind)
        return None

    def before_step(self, state: TrainingState) -> None:
        s, e = state.s, state.s.eql
        if state.step != int(e.prune_at * s.steps):
            return
        net = state.model.edge_model
        snapped = net.snap_exponents(e.snap, e.snap_tol)
        if snapped:
            print(f"step {state.step}: froze {snapped} exponents at multiples of {e.snap}", file=sys.stderr)
        kept = net.prune(e.threshold)
        state.forget_best()  # only pruned weights count
        print(f"step {state.step}: pruned EQL weights below {e.threshold}; {kept} remain", file=sys.stderr)

    def train_overrides(self, cfg: dict, dim: int, sim: str) -> dict:
        """The eql section's training schedule and node model, and its EQLTraining fields; in 3-D
        dz is added after dy, and uz after uy."""
        from dataclasses import fields

        from symdistill.gnn.eql import EQLTraining

        e = cfg["eql"]
        inputs = [i for i in e["inputs_per_sim"].get(sim, e["inputs"]) if i not in ("dz", "uz")]
        for y, z in (("dy", "dz"), ("uy", "uz")):
            if dim == 3 and y in inputs:
                inputs.insert(inputs.index(y) + 1, z)
        out = {"eql": {**{f.name: e[f.name] for f in fields(EQLTraining) if f.name != "inputs"}, "inputs": inputs},
               "node_output": e["node_output"], "grad_clip": e["grad_clip"]}
        out.update({k: e[k] for k in ("steps", "lr") if e.get(k) is not None})
        return out
