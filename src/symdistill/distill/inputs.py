"""What a law is distilled from: the edges, the message values searched, and what the routes
and the data choice need besides (one typed object per model, read by symdistill.distill.stage)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from symdistill.core.laws import SOFTENING


@dataclass(frozen=True)
class LawInputs:
    """A model's search inputs (never its true law: symdistill.distill.stage.search_inputs)."""

    X: np.ndarray  # edge features [E, columns]: dx (, dy, dz), r, m1, m2, q1, q2
    values: np.ndarray  # the selected message columns [E, k], or an energy model's pair energies [E]
    names: list[str]  # the columns of X
    dim: int  # spatial dimension
    components: list[int]  # indices of the selected message components in the model
    softening: float = SOFTENING  # r = |dx| + softening in X
    model: str | None = None  # the trained model's path (the EQL read-out reads it)
    data: dict | None = None  # training and held-out frames (``calibrated.calibration_data``; choice: data)
    work: tuple[np.ndarray, float] | None = None  # the columns' integrals along each edge and their reference distance
