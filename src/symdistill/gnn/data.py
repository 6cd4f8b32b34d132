"""A data set's graphs as dense tensors for the network: rows of [graphs, n, features], and the
edges they run on: the fully connected edge index (shared, built once per batch size) or a
radius graph of each batch (symdistill.core.geometry)."""

from __future__ import annotations

import torch

from torch import Tensor

from symdistill.core.frames import WeakFrames, read_frames
from symdistill.core.geometry import Geometry, neighbours


def load_graphs(path, split: str, sample_every: int = 1, max_graphs: int | None = None,
                dtype=torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """Node features [G, n, 2d+2] and accelerations [G, n, d] of one split's recorded frames
    (``symdistill.core.frames.read_frames``) as tensors of ``dtype``."""
    x, y = read_frames(path, split, sample_every, max_graphs)
    return torch.as_tensor(x, dtype=dtype), torch.as_tensor(y, dtype=dtype)


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


class GraphEdges:
    """The edges the network runs on for a data set's geometry: the cached fully connected
    edge index, or a radius graph (with periodic shifts) built from each batch's positions."""

    def __init__(self, geometry: Geometry, n: int, dim: int, device=None):
        self.geometry, self.n, self.dim, self.device = geometry, n, dim, device
        self._full: dict[int, Tensor] = {}

    def __call__(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        """edge_index [2, E] (row 0 sender j, row 1 receiver i) and shift [E, d] or None for
        node features x [graphs, n, features]."""
        graphs = x.shape[0]
        if self.geometry.fully_connected:
            if graphs not in self._full:
                self._full[graphs] = fully_connected_edges(self.n, graphs, self.device)
            return self._full[graphs], None
        g, i, j, shift = neighbours(x[..., : self.dim].detach(), self.geometry)
        return torch.stack([g * self.n + j, g * self.n + i]), shift


class WeakBatches:
    """A weak-form split as tensors: each system's frames and weak targets, sampled as stretches.

    A stretch of m + K - 1 consecutive frames holds the supports of m consecutive targets, so
    one forward pass over its frames gives all m phi-averaged predictions (``averaged``).
    """

    def __init__(self, frames: WeakFrames, device=None, dtype=torch.float32):
        self.x = torch.as_tensor(frames.x, dtype=dtype, device=device)  # [S, T, n, F]
        self.targets = torch.as_tensor(frames.targets, dtype=dtype, device=device)  # [S, T - K + 1, n, d]
        self.average = torch.as_tensor(frames.average, dtype=dtype, device=device)  # [K]
        self.window = len(frames.average)
        self.noise = frames.noise  # the stated std of each target component that is noise
        if self.targets.shape[1] < 1:
            raise ValueError(f"weak window of {self.window} frames is longer than the data set's "
                             f"{self.x.shape[1]} frames per system")

    def sample(self, batch_size: int, gen: torch.Generator) -> tuple[Tensor, Tensor]:
        """Stretches of consecutive targets whose frames number at most 2 x ``batch_size`` (or
        one target's K frames, if more): B = max(1, batch_size // K) stretches of m = min(K,
        2 batch_size / B - K + 1) targets. Node features [B (m + K - 1), n, F], targets [B, m, n, d]."""
        K, device = self.window, self.x.device
        count = max(1, batch_size // K)
        m = max(1, min(K, 2 * batch_size // count - K + 1))
        system = torch.randint(self.x.shape[0], (count, 1), device=device, generator=gen)
        start = torch.randint(self.targets.shape[1] - m + 1, (count, 1), device=device, generator=gen)
        frames = self.x[system, start + torch.arange(m + K - 1, device=device)]
        return frames.flatten(0, 1), self.targets[system, start + torch.arange(m, device=device)]

    def averaged(self, pred: Tensor, stretches: int) -> Tensor:
        """Predictions [stretches * L, n, d] at consecutive frames -> their phi-averages
        [stretches, L - K + 1, n, d], comparable with the targets of those frames."""
        pred = pred.view(stretches, -1, *pred.shape[1:])
        return (pred.unfold(1, self.window, 1) * self.average).sum(-1)
