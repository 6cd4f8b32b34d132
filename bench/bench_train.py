"""Training benchmark: our tensor-batched loop vs a conventional PyG DataLoader loop, in one run.

Prints steps/s and samples/s of both loops (same model, batch, data and loss) at the paper size
(hidden 300, message 100, batch 64, n = 4) and at the default config's size, the achieved FLOP/s
as a fraction of this machine's dense matmul FLOP/s, the share of our step spent in the matrix
products (a profile) and the ratio to the DataLoader loop that a step of nothing but those
products would reach, K models trained in one step by batched products against K steps, the
Hamiltonian variant's step with its written-out energy gradient against double autograd, and the
time per step for n = 4 ... 64.
Run: python bench/bench_train.py [--steps 200] [--threads 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from torch_geometric.data import Data
from torch_geometric.loader import DataLoader

from symdistill.core.config import load_config
from symdistill.gnn.data import fully_connected_edges
from symdistill.gnn.train import Trainer, TrainSettings
from symdistill.physics.simulate import SimSettings, simulate

ROOT = Path(__file__).resolve().parents[1]


def mlp_flops(model, nodes: int, edges: int) -> float:
    """Forward + backward FLOPs of one step (2 per multiply-add; backward = 2x forward)."""
    def seq(mlp, rows):
        layers = [mlp] if isinstance(mlp, torch.nn.Linear) else list(mlp)  # newtonian: one linear map
        return sum(2 * rows * m.in_features * m.out_features for m in layers if isinstance(m, torch.nn.Linear))
    return 3 * (seq(model.edge_model, edges) + seq(model.node_model, nodes))


def matmul_peak(threads: int, size: int = 2048, reps: int = 10) -> float:
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.matmul(a, b)
    t0 = time.perf_counter()
    for _ in range(reps):
        torch.matmul(a, b)
    return 2 * size**3 * reps / (time.perf_counter() - t0)


def time_ours(trainer: Trainer, steps: int) -> float:
    for _ in range(10):
        trainer.train_step()
    t0 = time.perf_counter()
    for _ in range(steps):
        trainer.train_step()
    return steps / (time.perf_counter() - t0)


MATMULS = ("aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm")


def matmul_share(trainer: Trainer, steps: int) -> float:
    """The fraction of a training step's CPU time spent in matrix products (torch.profiler's
    self time of mm/addmm/bmm/baddbmm over all operators)."""
    from torch.profiler import ProfilerActivity, profile

    for _ in range(10):
        trainer.train_step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            trainer.train_step()
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    return sum(e.self_cpu_time_total for e in events if e.key in MATMULS) / max(total, 1e-12)


def time_batched_models(k: int, rows: int, widths: list[int], steps: int) -> tuple[float, float]:
    """ms per model-step of ``k`` ReLU MLPs (``widths``, an edge model's shape) on ``rows`` rows
    each, trained one after another (forward, backward, fused Adam) and as one stack whose
    layers are batched products (baddbmm): whether grouping models into one job would pay."""
    pairs = list(zip(widths[:-1], widths[1:]))

    def layers():
        mods = []
        for i, (m, n) in enumerate(pairs):
            mods += [torch.nn.Linear(m, n)] + ([torch.nn.ReLU(inplace=True)] if i < len(pairs) - 1 else [])
        return torch.nn.Sequential(*mods)

    nets = [layers() for _ in range(k)]
    opts = [torch.optim.Adam(net.parameters(), fused=True) for net in nets]
    xs, ys = torch.randn(k, rows, widths[0]), torch.randn(k, rows, widths[-1])
    weights = [torch.randn(k, m, n, requires_grad=True) for m, n in pairs]
    biases = [torch.zeros(k, 1, n, requires_grad=True) for _, n in pairs]
    stacked = torch.optim.Adam(weights + biases, fused=True)

    def one_by_one():
        for net, opt, x, y in zip(nets, opts, xs, ys):
            loss = (net(x) - y).abs().mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

    def batched():
        h = xs
        for i, (w, b) in enumerate(zip(weights, biases)):
            h = torch.baddbmm(b, h, w)
            h = torch.relu(h) if i < len(pairs) - 1 else h
        loss = (h - ys).abs().mean((1, 2)).sum()
        stacked.zero_grad(set_to_none=True)
        loss.backward()
        stacked.step()

    out = []
    for fn in (one_by_one, batched):
        for _ in range(10):
            fn()
        t0 = time.perf_counter()
        for _ in range(steps):
            fn()
        out.append(1000 * (time.perf_counter() - t0) / steps / k)
    return out[0], out[1]


def time_dataloader(trainer: Trainer, steps: int) -> float:
    """The conventional PyG loop: per-sample Data objects, DataLoader collation, same loss."""
    s, n, d = trainer.s, trainer.n, trainer.dim
    edges = fully_connected_edges(n, 1)
    samples = [Data(x=trainer.x[i], edge_index=edges, y=trainer.y[i]) for i in range(len(trainer.x))]
    loader = DataLoader(samples, batch_size=s.batch_size, shuffle=True, drop_last=True)
    model, opt = trainer.model, trainer.opt
    done, t0 = -10, None
    while done < steps:
        for batch in loader:
            if done == 0:
                t0 = time.perf_counter()
            x = batch.x.clone()
            x[:, :d] += torch.randn(1, d) * s.augment_std
            pred, raw = model(x, batch.edge_index)
            loss = (pred - batch.y).abs().sum() / batch.num_graphs
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            done += 1
            if done == steps:
                break
    return steps / (time.perf_counter() - t0)


def time_energy_autograd(trainer: Trainer, steps: int) -> float:
    """The Hamiltonian variant's step as it was before the written-out gradient: dV/dq by
    autograd with create_graph (the loss, penalty and optimiser as ``Trainer.train_step``)."""
    model, s, d = trainer.model, trainer.s, trainer.dim

    def step():
        idx = torch.randint(len(trainer.x), (s.batch_size,), generator=trainer.gen)
        x, y = trainer.x[idx], trainer.y[idx]
        edge_index, shift = trainer.graph(x)
        x = x.reshape(-1, x.shape[-1])
        q = x[:, :d].detach().requires_grad_(True)
        other = x[:, 2 * d :].detach().requires_grad_(True)
        node, _ = model.energies(torch.cat([q, x[:, d : 2 * d], other], dim=-1), edge_index, shift)
        gq, go = torch.autograd.grad(node.sum(), (q, other), create_graph=True)
        pred = (-gq / x[:, -1:]).view(s.batch_size, trainer.n, d)
        loss = (pred - y).abs().sum((1, 2)).mean() + s.energy_weight * ((node**2).sum() + (go**2).sum()) / s.batch_size
        trainer.opt.zero_grad(set_to_none=True)
        loss.backward()
        trainer.opt.step()

    for _ in range(10):
        step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return steps / (time.perf_counter() - t0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    peak = matmul_peak(a.threads)
    print(f"dense matmul (2048^2, float32, {a.threads} threads): {peak / 1e9:.1f} GFLOP/s")
    default = load_config(ROOT / "config.yaml")["train"]
    sizes = {"paper": dict(hidden=300, layers=3, msg_dim=100, batch_size=64),
             "default config": {k: default[k] for k in ("hidden", "layers", "msg_dim", "batch_size")}}
    with tempfile.TemporaryDirectory() as tmp:
        data = {}
        for n in (4, 8, 16, 32, 64):
            data[n] = simulate(SimSettings(law="spring", n=n, dim=2, n_sims=20 if n > 4 else 100, steps=50),
                               Path(tmp) / f"spring{n}.h5", quiet=True)
        print(f"\n{'size':15s} {'ours steps/s':>12s} {'PyG steps/s':>12s} {'ratio':>6s} "
              f"{'ours samples/s':>14s} {'GFLOP/s':>8s} {'of peak':>8s} {'in matmul':>9s} {'ceiling':>8s}")
        for name, kw in sizes.items():
            s = TrainSettings(variant="standard", seed=0, steps=10**6, threads=a.threads, **kw)
            trainer = Trainer(data[4], Path(tmp) / name.replace(" ", "_"), s, quiet=True)
            ours = time_ours(trainer, a.steps)
            pyg = time_dataloader(trainer, a.steps)
            share = matmul_share(trainer, max(20, a.steps // 4))
            flops = mlp_flops(trainer.model, s.batch_size * 4, s.batch_size * 12) * ours
            # ceiling: the ratio to PyG of a step that did nothing but its matrix products
            print(f"{name:15s} {ours:12.1f} {pyg:12.1f} {ours / pyg:5.2f}x {ours * s.batch_size:14.0f} "
                  f"{flops / 1e9:8.1f} {flops / peak:8.1%} {share:9.1%} {ours / pyg / share:7.2f}x")
        edge = trainer.model.edge_model
        widths = [m.in_features for m in edge if isinstance(m, torch.nn.Linear)] + [edge[-1].out_features]
        rows = sizes["default config"]["batch_size"] * 12
        for k in (2, 4):
            alone, stacked = time_batched_models(k, rows, widths, a.steps)
            print(f"\n{k} edge models of the default size ({rows} edges each) in one step: {stacked:.3f} ms per "
                  f"model-step, one after another {alone:.3f} ms, ratio {alone / stacked:.2f}x")
        s = TrainSettings(variant="hamiltonian", seed=0, steps=10**6, threads=a.threads,
                          **sizes["default config"])
        trainer = Trainer(data[4], Path(tmp) / "hamiltonian", s, quiet=True)
        trainer.model.train()
        written, autograd = time_ours(trainer, a.steps), time_energy_autograd(trainer, a.steps)
        print(f"\nhamiltonian, default size: written-out dV/dq {written:.1f} steps/s, double autograd "
              f"{autograd:.1f} steps/s, ratio {written / autograd:.2f}x")
        print(f"\nscaling with n (paper size, batch 8 graphs): {'n':>3s} {'edges':>7s} {'ms/step':>8s} {'us/edge':>8s}")
        for n in (4, 8, 16, 32, 64):
            s = TrainSettings(variant="standard", seed=0, steps=10**6, threads=a.threads, hidden=300, msg_dim=100, batch_size=8)
            trainer = Trainer(data[n], Path(tmp) / f"scale{n}", s, quiet=True)
            steps = max(5, a.steps // (n // 4))
            rate = time_ours(trainer, steps)
            edges = 8 * n * (n - 1)
            print(f"{'':44s} {n:3d} {edges:7d} {1000 / rate:8.2f} {1e6 / rate / edges:8.3f}")


if __name__ == "__main__":
    main()
