"""Velocities and accelerations of sampled trajectories by finite differences.

What a trajectory file gives is positions per frame; the network needs accelerations. Each is
the local polynomial fit of Savitzky and Golay (1964) over ``window`` frames, differentiated at
the centre frame: window 3 is the second-order central difference
(v = (x+ - x-) / 2dt, a = (x+ - 2x + x-) / dt^2); wider windows (cubic fits) trade bias on fast
close encounters for less noise. The first and last (window - 1) / 2 frames have no centred fit
and are dropped, never extrapolated.
"""

from __future__ import annotations

import numpy as np


def derivative_weights(window: int) -> tuple[np.ndarray, np.ndarray]:
    """The centre-frame weights (first derivative, second derivative) of a ``window``-frame fit
    (odd, >= 3), for unit frame spacing; x @ w gives dx/dt and d2x/dt2 at the centre."""
    if window < 3 or window % 2 == 0:
        raise ValueError(f"derivative window {window!r} is invalid: must be an odd integer >= 3")
    from scipy.signal import savgol_coeffs  # here, not at import: scipy.signal costs every job 0.3 s

    order = 2 if window == 3 else 3
    # savgol_coeffs(use="dot") returns weights for samples in time order
    return (savgol_coeffs(window, order, deriv=1, use="dot"),
            savgol_coeffs(window, order, deriv=2, use="dot"))


def differentiate(positions: np.ndarray, dt: float, window: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions [S, T, ...] sampled every ``dt`` -> (positions, velocities, accelerations) at the
    T - (window - 1) frames that have a centred fit (time axis 1)."""
    w1, w2 = derivative_weights(window)
    T = positions.shape[1]
    h = (window - 1) // 2
    if T <= 2 * h:
        raise ValueError(f"{T} frames are too few for a derivative window of {window} (need more than {2 * h})")
    frames = np.stack([positions[:, k : T - 2 * h + k] for k in range(window)], axis=-1)
    return positions[:, h : T - h], (frames @ w1) / dt, (frames @ w2) / dt**2


def noise_gain(window: int, dt: float) -> tuple[float, float]:
    """How much independent position noise of std sigma becomes: (velocity std, acceleration std)
    per unit sigma, i.e. the weights' norms over dt and dt^2 (window 3: 1/(sqrt(2) dt), sqrt(6)/dt^2)."""
    w1, w2 = derivative_weights(window)
    return float(np.linalg.norm(w1) / dt), float(np.linalg.norm(w2) / dt**2)
