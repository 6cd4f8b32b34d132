"""Weak-form targets: phi-averaged accelerations from positions, without differentiating them.

For a test function phi(t) that vanishes at both ends of its support, integrating by parts twice
gives integral(phi x'') dt = integral(phi'' x) dt (Messenger and Bortz's WSINDy): the
phi-average of the accelerations is a fixed filter of the positions, and a model is compared
with it through the same phi-average of its own accelerations at those frames. Both sides see the
same smoothing, so nothing is biased.

Here the identity is used in its discrete form, exact frame by frame: with D the sixth-order
7-point second difference and phi zero near its ends, summation by parts gives
sum_k phi_k (D x)_k = sum_k (D phi)_k x_k. The target is so the phi-average of D x, which
differs from the accelerations' phi-average only by D's truncation error, O(dt^6 x^(8)) per
frame (zero on polynomials of degree 7; plain central differences err by O(dt^2 x^(4))).
Independent position noise sigma becomes target noise sigma * ||D phi|| / (dt^2 sum phi), which
falls as K^-2.5 with the K frames of the support (at dt = 0.01: central differences 24,495; a
bump of 101 frames about 4-9).

phi is the bump (1 - u^2)^p on u in [-1, 1] (PySINDy's and WSINDy's family). The support K is
chosen from the data (``choose_window``): the shortest from MIN_WINDOW whose target noise, at the
noise level estimated from the positions (``estimate_noise``), is below a stated share of the
targets' own size.
"""

from __future__ import annotations

import math

import numpy as np

from symdistill.core.frames import windowed

#: shortest support, in frames (a bump over 7 frames)
MIN_WINDOW = 11
#: the sixth-order central second difference (x_-3 .. x_3), exact on polynomials of degree 7
STENCIL = np.array([2.0, -27.0, 270.0, -490.0, 270.0, -27.0, 2.0]) / 180.0


def bump(frames: int, power: int) -> np.ndarray:
    """phi_k = (1 - u_k^2)^p at ``frames`` frames spread over u in [-1, 1] (zero at both ends)."""
    if power < 2:
        raise ValueError(f"weak power {power!r} is invalid: the bump (1 - u^2)^p needs p >= 2")
    u = np.linspace(-1.0, 1.0, frames)
    return (1.0 - u**2) ** power


def filters(window: int, power: int, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """(average, target) weights over the ``window`` frames of one test function: average @ a
    is the phi-average of accelerations a, target @ x the same average computed from positions x.

    phi is the bump over the inner window - 4 frames (zero at their ends), so the stencil D
    applied to phi stays within the window, and sum phi (D x) = sum (D phi) x exactly."""
    if window < MIN_WINDOW or window % 2 == 0:
        raise ValueError(f"weak window {window!r} is invalid: must be an odd number of frames >= {MIN_WINDOW}")
    phi = np.pad(bump(window - 4, power), 2)
    padded = np.pad(phi, 3)
    second = sum(c * padded[3 + k : 3 + k + window] for k, c in zip(range(-3, 4), STENCIL)) / dt**2
    return phi / phi.sum(), second / phi.sum()


def noise_gain(window: int, power: int, dt: float) -> float:
    """Std of the weak target per unit std of independent position noise: ||target weights||."""
    return float(np.linalg.norm(filters(window, power, dt)[1]))


def estimate_noise(positions: np.ndarray, masses: np.ndarray) -> np.ndarray:
    """Each system's position noise std [S], from positions [S, T, n, d] sampled evenly in time
    and masses [S, n], assuming independent noise of one std on every coordinate.

    The fourth difference (1, -4, 6, -4, 1) removes any cubic trend and leaves independent noise
    with std sqrt(70) sigma; its median absolute value / 0.6745 estimates that std, robustly
    (Donoho and Johnstone). It is taken of each system's centre of mass, whose motion pairwise
    forces leave straight: so motion too fast for the frames is never mistaken for noise (of the
    particles themselves it would be). The centre's noise is sigma sqrt(sum m^2) / sum m.
    """
    if positions.shape[1] < 5:
        raise ValueError(f"{positions.shape[1]} frames are too few to estimate the position noise (need 5)")
    m = np.asarray(masses, dtype=float)
    centre = np.einsum("stnd,sn->std", positions, m) / m.sum(-1)[:, None, None]
    r = centre[:, :-4] - 4 * centre[:, 1:-3] + 6 * centre[:, 2:-2] - 4 * centre[:, 3:-1] + centre[:, 4:]
    shrink = np.sqrt((m**2).sum(-1)) / m.sum(-1)
    return np.median(np.abs(r.reshape(len(r), -1)), axis=1) / (0.6745 * math.sqrt(70.0)) / shrink


def choose_window(positions: np.ndarray, masses: np.ndarray, dt: float, power: int, tolerance: float,
                  longest: int) -> tuple[int, float, float]:
    """The support (odd, frames) of the weak targets of positions [S, T, n, d]: the shortest of
    MIN_WINDOW, then about 15% longer each time, up to ``longest``, whose target noise is at most
    ``tolerance`` x the targets' RMS size at that support (with the noise's share removed).
    Returns (window, noise, target noise)."""
    longest = min(longest, positions.shape[1])
    longest -= 1 - longest % 2
    if longest < MIN_WINDOW:
        raise ValueError(f"{positions.shape[1]} frames per system are too few for weak-form targets "
                         f"(need {2 * MIN_WINDOW - 1}: two supports of {MIN_WINDOW} frames)")
    sigma = float(np.median(estimate_noise(positions, masses)))
    window = MIN_WINDOW
    while True:
        noise = sigma * noise_gain(window, power, dt)
        rms = float(np.sqrt(np.mean(windowed(positions, filters(window, power, dt)[1]) ** 2)))
        if noise <= tolerance * math.sqrt(max(rms**2 - noise**2, 0.0)) or window == longest:
            return window, sigma, noise
        window = min(longest, window + 2 * max(1, round(0.075 * window)))


def turning(positions: np.ndarray, window: int, power: int, dt: float) -> float:
    """How far the motion turns between frames: the 90th percentile over particles and weak
    targets of |a| dt / |v| (a the weak target, v the central difference), the angle in radians a
    motion of that rate turns through in one frame. Noise only lowers it (it adds to |v|)."""
    a = windowed(positions, filters(window, power, dt)[1])
    h = (window - 1) // 2
    v = (positions[:, 2:] - positions[:, :-2]) / (2 * dt)
    v = v[:, h - 1 : h - 1 + a.shape[1]]
    rate = np.linalg.norm(a, axis=-1) / np.maximum(np.linalg.norm(v, axis=-1), 1e-300)
    return float(np.quantile(rate, 0.9) * dt)


#: the turning (radians per frame) above which frames are too coarse in time for the motion: the
#: sixth-order stencil's relative error (w dt)^6 / 560 passes 0.2% there
COARSE = 1.0


#: the turning (radians) one quadrature stride may span: a model's phi-average is taken over every
#: s-th frame of a window where the motion turns by at most this from one such frame to the next
STRIDE_TURN = 0.1
#: fewest strided intervals across a window (so the bump is still finely sampled)
STRIDE_POINTS = 16


def stride_for(window: int, turn: float) -> int:
    """The quadrature stride s: the longest over which the motion turns by at most STRIDE_TURN
    (``turn`` per frame), with at least STRIDE_POINTS strides across the window."""
    return max(1, min(int(STRIDE_TURN / max(turn, 1e-300)), (window - 1) // STRIDE_POINTS))


def settle_window(positions: np.ndarray, masses: np.ndarray, dt: float, power: int, tolerance: float,
                  window: int | None = None) -> tuple[int, int, float, float]:
    """(window, stride, noise, target noise) for positions [S, T, n, d] of masses [S, n]:
    ``choose_window`` over supports that leave two per system, or the given ``window`` with the
    noise it then carries, and the quadrature stride (``stride_for``; for a given window the
    longest stride up to it that divides it). Frames too coarse in time for the motion
    (``turning``) are refused."""
    T = positions.shape[1]
    given = window
    if window is None:
        window, sigma, _ = choose_window(positions, masses, dt, power, tolerance, longest=(T + 1) // 2)
    else:
        if 2 * window - 1 > T:
            raise ValueError(f"weak window {window} needs {2 * window - 1} frames per system; there are {T}")
        sigma = float(np.median(estimate_noise(positions, masses)))
    if (turn := turning(positions, window, power, dt)) > COARSE:
        raise ValueError(f"frames {dt:g} apart are too coarse in time for the motion: on a tenth of the frames it "
                         f"turns by {turn:.2g} rad between frames (|a| dt / |v|, limit {COARSE:g}); "
                         "record frames more often")
    stride = stride_for(window, turn)
    if given is None:  # the window rounded up so the strided frames reach both of its ends
        while (rounded := 2 * stride * math.ceil((window - 1) / (2 * stride)) + 1) > (T + 1) // 2:
            stride -= 1
        window = rounded
    else:  # a given window keeps its length: the longest stride that divides it
        stride = max(k for k in range(1, stride + 1) if (window - 1) % (2 * k) == 0)
    return window, stride, sigma, sigma * noise_gain(window, power, dt)


def targets(positions: np.ndarray, window: int, power: int, dt: float) -> np.ndarray:
    """Weak targets of positions [S, T, n, d] centred on each frame [S, T, n, d]; NaN at the
    (window - 1) / 2 frames at each end, where no test function fits."""
    h = (window - 1) // 2
    out = np.full(positions.shape, np.nan)
    out[:, h : positions.shape[1] - h] = windowed(positions, filters(window, power, dt)[1])
    return out
