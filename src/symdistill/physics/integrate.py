"""Vectorised adaptive Dormand-Prince 5(4) integrator with one step size per system.

All systems advance together as columns of one [state, systems] array, so every numpy call runs
over long contiguous rows, yet each system has its own error-controlled step size, exactly like
a separate adaptive solver per system (the published pipeline's method, scipy's ``RK45``).
Outputs are read off the solver's 4th-order dense output, so recording many frames does not
force small steps; finished systems are compacted away.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.integrate import RK45

# Dormand & Prince (1980) tableau and Shampine's dense-output polynomial, as used by scipy.
_A, _B, _C, _E, _P = RK45.A, RK45.B, RK45.C, RK45.E, RK45.P
_STAGES = RK45.n_stages  # 6, plus the FSAL stage at the new point
_ERR_EXP = -1.0 / (RK45.error_estimator_order + 1)

RHS = Callable[[np.ndarray, np.ndarray], np.ndarray]


def integrate(
    rhs: RHS,
    y0: np.ndarray,
    times: np.ndarray,
    *,
    rtol: float = 1e-10,
    atol: float = 1e-10,
    max_steps: int = 10_000_000,
    progress: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Integrate dy/dt = rhs(y, cols) for every column of y0 ([state, systems]) from times[0].

    ``rhs(y, cols)`` receives the active columns and their original indices ``cols`` (to look
    up per-system constants such as masses). Returns the states at ``times``
    ([len(times), state, systems]) and the number of accepted steps per system.
    ``progress(k)`` is called with the number of outputs just recorded.
    """
    y0 = np.asarray(y0, dtype=np.float64)
    times = np.asarray(times, dtype=np.float64)
    if np.any(np.diff(times) <= 0):
        raise ValueError("output times must be strictly increasing")
    n_state, n_sys = y0.shape
    out = np.empty((len(times), n_state, n_sys))
    out[0] = y0
    steps = np.zeros(n_sys, dtype=np.int64)
    if len(times) == 1 or n_sys == 0:
        return out, steps

    t_end = times[-1]
    cols = np.arange(n_sys)
    y = y0.copy()
    f = rhs(y, cols)
    t = np.full(n_sys, times[0])
    nxt = np.ones(n_sys, dtype=np.int64)  # index of the next output time per system
    h = _initial_step(rhs, y, f, cols, rtol, atol, t_end - times[0])
    k = np.empty((_STAGES + 1, n_state, n_sys))
    for _ in range(max_steps):
        hs = np.minimum(h, t_end - t)
        k[0] = f
        flat = k.reshape(_STAGES + 1, -1)  # stage combinations as one vector-matrix product each
        for s in range(1, _STAGES):
            ys = y + hs * (_A[s, :s] @ flat[:s]).reshape(y.shape)
            k[s] = rhs(ys, cols)
        y_new = y + hs * (_B @ flat[:_STAGES]).reshape(y.shape)
        k[_STAGES] = rhs(y_new, cols)  # FSAL: the derivative at the new point
        err_vec = hs * (_E @ flat).reshape(y.shape)
        scale = atol + rtol * np.maximum(np.abs(y), np.abs(y_new))
        err = np.sqrt(np.mean((err_vec / scale) ** 2, axis=0))
        accept = err <= 1.0
        factor = np.clip(0.9 * np.maximum(err, 1e-10) ** _ERR_EXP, 0.2, 10.0)
        h = hs * np.where(accept, factor, np.minimum(factor, 1.0))
        if not accept.any():
            continue
        acc = np.flatnonzero(accept)
        t_new = t[acc] + hs[acc]
        _record(out, times, nxt, acc, cols, t[acc], hs[acc], y, k, t_new, progress)
        y[:, acc] = y_new[:, acc]
        f[:, acc] = k[_STAGES][:, acc]
        t[acc] = t_new
        steps[cols[acc]] += 1
        done = nxt >= len(times)
        if done.all():
            break
        # Compact once enough systems are finished, so the rest do not drag dead columns.
        if done.sum() > 0.2 * cols.size:
            keep = ~done
            cols, y, f, t, h, nxt = cols[keep], y[:, keep], f[:, keep], t[keep], h[keep], nxt[keep]
            k = np.empty((_STAGES + 1, n_state, cols.size))
    else:
        raise RuntimeError(f"integrator exceeded {max_steps} steps; the system may be stiff")
    return out, steps


def _record(out, times, nxt, acc, cols, t0, hs, y, k, t_new, progress) -> None:
    """Write every output time inside (t0, t_new] of the accepted systems from the dense output."""
    due = times[np.minimum(nxt[acc], len(times) - 1)] <= t_new * (1 + 1e-14)
    if not due.any():
        return
    acc, t0, hs, t_new = acc[due], t0[due], hs[due], t_new[due]
    last = np.searchsorted(times, t_new * (1 + 1e-14), side="right")  # first index beyond t_new
    count = last - nxt[acc]
    rows = np.repeat(np.arange(acc.size), count)
    idx = np.repeat(nxt[acc], count) + (np.arange(rows.size) - np.repeat(np.cumsum(count) - count, count))
    theta = np.clip((times[idx] - t0[rows]) / hs[rows], 0.0, 1.0)
    powers = theta[:, None] ** np.arange(1, _P.shape[1] + 1)  # [L, 4]
    weights = powers @ _P.T  # [L, stages]
    c = acc[rows]
    interp = y[:, c] + hs[rows] * np.einsum("jnl,lj->nl", k[:, :, c], weights)
    out[idx, :, cols[c]] = interp.T
    nxt[acc] += count
    if progress is not None:
        progress(int(rows.size))


def _initial_step(rhs, y, f, cols, rtol, atol, span) -> np.ndarray:
    """Hairer-Norsett-Wanner starting step, per system (the same rule scipy uses)."""
    scale = atol + np.abs(y) * rtol
    d0 = np.sqrt(np.mean((y / scale) ** 2, axis=0))
    d1 = np.sqrt(np.mean((f / scale) ** 2, axis=0))
    h0 = np.where((d0 < 1e-5) | (d1 < 1e-5), 1e-6, 0.01 * d0 / np.maximum(d1, 1e-300))
    h0 = np.minimum(h0, span)
    f1 = rhs(y + h0 * f, cols)
    d2 = np.sqrt(np.mean(((f1 - f) / scale) ** 2, axis=0)) / h0
    big = np.maximum(d1, d2)
    h1 = np.where(big <= 1e-15, np.maximum(1e-6, h0 * 1e-3), (0.01 / np.maximum(big, 1e-300)) ** 0.2)
    return np.minimum(np.minimum(100 * h0, h1), span)
