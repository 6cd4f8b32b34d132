"""Candidate laws and their Pareto front (the method's third step): what a candidate carries,
which of its losses a front ranks it by, and how a member is written to the sr file."""

from __future__ import annotations

import re

from dataclasses import dataclass, field, replace

import numpy as np
import sympy as sp

#: the losses a candidate can carry, each named for what it measures
LOSSES = ("search", "message", "data")


@dataclass
class Candidate:
    """One law: its expression, its size and what it was measured on.

    Each loss is its own field; ``loss`` is the one its front ranks it by (set by ``pareto``'s
    ``by``, so a front never mixes two kinds)."""

    complexity: int  # nodes of the expression tree (symdistill.distill.simplify.complexity)
    expression: str  # sympy text in the edge variables (through the restricted parser)
    search_loss: float = np.nan  # mean squared error on the target its search fitted
    message_loss: float | None = None  # mean squared error on the messages' own values
    data_loss: float | None = None  # held-out acceleration loss of the law calibrated on the data
    node_losses: np.ndarray | None = field(default=None, repr=False)  # per held-out node (paired tests)
    origin: str = ""  # which route and search found it
    potential: str | None = None  # the pair potential U it is the force of (g = -dU/dr)
    tied: bool = False  # off its exhaustive front, within the loss tolerance of its best
    calibration: dict | None = None  # the calibrated model's summary (data R^2, read-out, model)
    loss: float = np.nan  # the loss of the front it is on (one of the above, by ``pareto``)

    @property
    def sympy(self) -> sp.Expr:
        return sp.sympify(self.expression, locals={})


def ranked(cands: list[Candidate], by: str) -> list[Candidate]:
    """Copies of ``cands`` whose front loss is their ``by`` loss (one of ``LOSSES``)."""
    if by not in LOSSES:
        raise ValueError(f"unknown loss {by!r}; one of {LOSSES}")
    return [replace(c, loss=getattr(c, f"{by}_loss")) for c in cands]


def pareto(cands: list[Candidate], by: str | None = None) -> list[Candidate]:
    """Non-dominated candidates by (complexity, loss), sorted by complexity; ``by`` names the
    loss to rank by (None: the front loss they already carry)."""
    front: list[Candidate] = []
    for c in sorted(ranked(cands, by) if by else cands, key=lambda c: (c.complexity, c.loss)):
        if not front or c.loss < front[-1].loss:
            front.append(c)
    return front


def found_by(c: Candidate) -> str:
    """Where a law came from: a search on the data alone (the data route, whose origins name
    it) or a search on the network's messages (every other route)."""
    return "the data alone" if re.search(r"(^|, )data, separable", c.origin) else "the network's messages"


def describe(c: Candidate) -> dict:
    """A front member as the sr file writes it: complexity, front loss, expression, LaTeX, the
    message loss where known, its origin, its calibration and what it carries."""
    out = {"complexity": c.complexity, "loss": c.loss, "expression": c.expression, "latex": sp.latex(c.sympy)}
    if c.message_loss is not None and np.isfinite(c.message_loss):
        out["message_loss"] = c.message_loss
    out.update({"origin": c.origin, "found_by": found_by(c)} if c.origin else {})
    out.update(c.calibration or {})
    out.update({"potential": c.potential} if c.potential is not None else {})
    out.update({"tied": True} if c.tied else {})
    return out
