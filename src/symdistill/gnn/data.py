"""A data set's graphs as dense tensors for the network: rows of [graphs, n, features], and the
fully connected edge index they run on (shared, built once per batch size)."""

from __future__ import annotations

import torch

from torch import Tensor

from symdistill.core.frames import read_frames


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
