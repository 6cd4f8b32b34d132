"""The one least-squares fit and R^2 every stage uses (message fits, read-outs, refits, verdicts)."""

from __future__ import annotations

import numpy as np


def least_squares(X: np.ndarray, y: np.ndarray, intercept: bool = True,
                  weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | float, np.ndarray]:
    """Least squares y ~ X a (+ b); returns (a, b, residuals). y may have several columns.

    Rows must be finite (callers choose which rows to keep); b is 0.0 without an intercept.
    With ``weights`` each row's squared error is weighted: rows are scaled by sqrt(weights) and
    the residuals returned in that scale (their mean square is the weighted loss).
    """
    design = np.column_stack([X, np.ones(len(X))]) if intercept else X
    if weights is not None:
        root = np.sqrt(weights)
        design, y = design * root[:, None], y * (root[:, None] if np.ndim(y) > 1 else root)
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    resid = y - design @ coef
    if intercept:
        return coef[:-1], coef[-1], resid
    return coef, 0.0, resid


def r_squared(y: np.ndarray, resid: np.ndarray) -> float:
    """Coefficient of determination 1 - SS_res / SS_tot (column means for several columns);
    0 for a constant y."""
    ss_tot = float(((y - y.mean(axis=0)) ** 2).sum())
    if ss_tot == 0.0:
        return 0.0
    return 1.0 - float((resid**2).sum()) / ss_tot
