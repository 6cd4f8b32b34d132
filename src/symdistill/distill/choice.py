"""The choice (the method's fourth step): which member of a Pareto front is the law. Each rule
is a short pure function of the front's complexities, losses and per-node losses."""

from __future__ import annotations

import numpy as np

from symdistill.distill.candidates import Candidate
from symdistill.distill.settings import CHOICES, SRSettings

#: a held-out data loss (normalised squared error) below this is the data's own precision: every
#: such law reproduces the data exactly (relative error < 1e-7), so the simplest of them is chosen
EXACT = 1e-14


def exact(cands: list[Candidate]) -> bool:
    """Does a candidate calibrated on the data reproduce it exactly (held-out loss <= EXACT)?"""
    return any(c.data_loss is not None and c.data_loss <= EXACT for c in cands)


def scores(front: list[Candidate]) -> list[float]:
    """PySR's score per front member: -d log(loss) / d complexity from its simpler neighbour."""
    out, prev = [], None
    for c in front:
        if prev is None:
            out.append(0.0)
        else:
            drop = np.log(max(prev.loss, 1e-300)) - np.log(max(c.loss, 1e-300))
            out.append(float(drop / max(1, c.complexity - prev.complexity)))
        prev = c
    return out


def as_good(losses: np.ndarray | None, best: np.ndarray | None, z: float = 2.0) -> bool:
    """Does a law explain held-out nodes as well as the best one (per-node losses, paired)? Its
    mean loss is not above the best's by more than ``z`` standard errors of the difference, and
    it is not worse on significantly more nodes than it is better (a sign test at ``z``). The
    sign test matters for exact data: a law that misses a few close encounters badly and fits the
    rest exactly has a large mean but also a large spread of the difference, yet it loses on
    almost every node to the law that is exact everywhere."""
    if losses is None or best is None:
        return False
    diff = losses - best
    if not np.isfinite(diff).all():
        return False
    if float(diff.mean()) > z * float(diff.std() / np.sqrt(len(diff))):
        return False
    scale = np.maximum(np.abs(losses), np.abs(best))
    worse, better = int((diff > 1e-9 * scale).sum()), int((diff < -1e-9 * scale).sum())
    return worse - better <= z * np.sqrt(max(worse + better, 1))


def choose(front: list[Candidate], rule: str = "data", tolerance: float = 1.5,
           floor: float = 0.0) -> tuple[Candidate, str]:
    """The chosen member of a front (sorted by complexity) and the reason, by ``rule``:

    "score": the top score over the whole front (Cranmer et al. 2020, no loss threshold);
    "best": the top score among members within ``tolerance`` x the lowest loss (PySR's default);
    "data": on a front of laws calibrated on the data (``loss`` = held-out data loss), the
    simplest member whose loss above the data's noise ``floor`` is within ``tolerance`` x the
    lowest one's, or indistinguishable from the lowest on the held-out nodes (``as_good``: it
    explains the held-out data as well). On noisy data every loss sits on the floor, so the
    ratio of the losses themselves would call a wrong law as good.
    """
    if rule not in CHOICES:
        raise ValueError(f"unknown symbolic.choice {rule!r}; choose from {CHOICES}")
    best_loss = min(c.loss for c in front)
    if rule == "data":
        best = min(front, key=lambda c: c.loss)
        for c in front:
            if c.loss - floor <= tolerance * max(best_loss - floor, 0.0) + EXACT or \
                    as_good(c.node_losses, best.node_losses):
                above = f" (noise floor {floor:.3g})" if floor else ""
                return c, (f"data: simplest with held-out data loss {c.loss:.3g} within {tolerance} x "
                           f"the lowest {best_loss:.3g}{above} or indistinguishable from it node by node")
    sc = scores(front)
    eligible = list(range(len(front)))
    if rule == "best":
        eligible = [i for i, c in enumerate(front) if c.loss <= tolerance * best_loss]
    i = max(eligible, key=lambda i: (sc[i], -i))
    why = (f"{rule}: score {sc[i]:.3g} (largest{' over the whole front' if rule == 'score' else ''}"
           f"{f' among losses <= {tolerance} x {best_loss:.3g}' if rule == 'best' else ''})")
    return front[i], why


def chosen(front: list[Candidate], s: SRSettings, floor: float = 0.0) -> tuple[Candidate, str]:
    """The member the settings' rule chooses (``s.choice``, with its own tolerance; ``floor``:
    the data loss that the data's own noise accounts for)."""
    return choose(front, s.choice, s.data_tolerance if s.choice == "data" else s.loss_tolerance, floor)
