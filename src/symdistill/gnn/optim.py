"""Where and how a network is optimised: the device, the learning-rate schedule, and CPU
arithmetic with subnormal floats flushed to zero."""

from __future__ import annotations

from contextlib import contextmanager

import torch


@contextmanager
def flushed_subnormals():
    """CPU arithmetic with subnormal floats (|x| < 1.2e-38 in float32) read and written as 0.

    GNN+EQL's L0.5 sparsity penalty drives weights, gradients and Adam's moments into the
    subnormal range, where x86 arithmetic is many times slower: spring's GNN+EQL spent half of its
    20k steps near 20 steps/s against 120 (docs/benchmarks.md). The other variants train to the
    same bits with or without it. Applies to the calling thread, which is all of it at one torch thread.
    """
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(False)


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"train.device={name!r} but CUDA is not available on this machine")
    return torch.device(name)


def make_schedule(opt: torch.optim.Optimizer, s) -> torch.optim.lr_scheduler.LRScheduler:
    """The learning-rate schedule of a run's settings ``s`` (TrainSettings: schedule, lr, steps)."""
    if s.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=s.lr, total_steps=s.steps, final_div_factor=s.final_div_factor
        )
    if s.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=s.steps)
    if s.schedule == "constant":
        return torch.optim.lr_scheduler.LambdaLR(opt, lambda _: 1.0)
    raise ValueError(f"unknown train.schedule {s.schedule!r}; use onecycle, cosine or constant")
