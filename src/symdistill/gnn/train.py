"""Train a graph network on a simulation file: MAE on accelerations, resumable, with history.

One loop for every variant (standard, bottleneck, l1, kl, pruning). Batches are rows gathered
from tensors already in memory; the fully connected edge index is built once per batch size (a
radius graph per batch, from its positions). Checkpoints hold
model, optimiser, schedule and RNG state, so a rerun continues exactly where it stopped.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections import deque
from dataclasses import asdict
from pathlib import Path

import h5py
import numpy as np
import torch
from tqdm import tqdm

from symdistill.core.cli import errors, parser
from symdistill.core.edges import law_from_file
from symdistill.core.frames import read_geometry, read_windows, weak_window
from symdistill.core.laws import SOFTENING
from symdistill.core.provenance import DATA_SET, LEARNED, atomic_path, config_hash, lineage, stamp
from symdistill.core.schema import settings_json, stage_settings
from symdistill.gnn.eql import EQLTraining
from symdistill.gnn.optim import flushed_subnormals, make_schedule, pick_device
from symdistill.gnn.data import GraphEdges, WeakBatches, load_graphs
from symdistill.gnn.models import GraphNetwork, ModelSettings, save_model
from symdistill.gnn.variants import VARIANTS, TrainingState, get_variant


@stage_settings("train")
class TrainSettings:
    """One model's training (defaults and their meaning: the schema's ``train`` section;
    published values in config/paper.yaml). ``eql`` holds the EQL edge model's settings for the
    variants that have one."""

    variant: str
    seed: int
    steps: int
    batch_size: int
    lr: float
    weight_decay: float
    schedule: str  # onecycle | cosine | constant
    final_div_factor: float
    hidden: int
    layers: int
    msg_dim: int
    node_output: str
    l1_weight: float
    kl_weight: float
    energy_weight: float  # hamiltonian variant: weight of the energy penalty
    augment_std: float
    prune_end: float  # pruning reaches d components at this fraction of training
    prune_every: int  # steps between pruning updates; 0: steps // 100
    sample_every: int
    val_every: int
    val_graphs: int
    checkpoint_every: int
    grad_clip: float  # max gradient norm (0: no clipping)
    explode_factor: float
    device: str  # auto | cpu | cuda | cuda:N
    amp: bool  # bfloat16 autocast on GPU
    compile: bool  # torch.compile the model
    augment_rotate: bool
    loss: str  # mae | relative
    edge_inputs: str  # nodes | relative
    threads: int
    eql: EQLTraining | None = None

    def __post_init__(self):
        variant = get_variant(self.variant)
        if isinstance(self.eql, dict):
            self.eql = EQLTraining(**self.eql)
        if variant.edge_model == "eql" and self.eql is None:
            self.eql = EQLTraining()

    def model_settings(self, dim: int, softening: float = SOFTENING) -> ModelSettings:
        variant = get_variant(self.variant)  # an eql edge model has self.eql (__post_init__)
        eql = {**asdict(self.eql.architecture()), "inputs": list(self.eql.inputs)} if variant.edge_model == "eql" else {}
        return ModelSettings(self.variant, dim, 2 * dim + 2, self.hidden, self.layers,
                             variant.width(self.msg_dim, dim), self.node_output, eql, self.edge_inputs,
                             softening)

    def hashed(self) -> dict:
        """The fields that determine the numbers (not where or how fast they are computed)."""
        return {k: v for k, v in asdict(self).items() if k not in ("device", "threads")}


class TrainingDiverged(RuntimeError):
    """Loss became NaN/inf or exploded; the last good checkpoint is kept."""


#: losses in the running median that the divergence check compares (robust to single batches)
WINDOW = 50
SYNC_EVERY = 50  # steps between reading the losses back from the device (one host sync)
ROTATIONS = 1000  # random rotations drawn at once (augment_rotate)


class Trainer:
    """Holds the data, model and optimiser state of one training run."""

    def __init__(self, data_path, out_dir, s: TrainSettings, quiet: bool = False):
        self.s, self.quiet = s, quiet
        self.out = Path(out_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        self.device = pick_device(s.device)
        torch.set_num_threads(max(1, s.threads))
        torch.manual_seed(s.seed)
        with DATA_SET.open(data_path) as f:
            self.data_hash = str(f.attrs.get("config_hash", ""))
            self.meta = {k: f.attrs[k].item() if hasattr(f.attrs[k], "item") else str(f.attrs[k])
                         for k in ("law", "n", "dim") if k in f.attrs}
        self.data_path = data_path
        self.weak = weak_window(data_path) is not None  # weak-form targets: fitted through phi
        if self.weak:  # every frame of each system; x, y flat for the probe and the scales
            self.train_set = WeakBatches(read_windows(data_path, "train"), self.device)
            self.val_set = WeakBatches(read_windows(data_path, "validation", self._val_systems(data_path)), self.device)
            self.x, self.y = self.train_set.x.flatten(0, 1), self.train_set.targets.flatten(0, 1)
            self.vx, self.vy = self.val_set.x, self.val_set.targets
        else:
            self.x, self.y = (t.to(self.device) for t in load_graphs(data_path, "train", s.sample_every))
            self.vx, self.vy = (t.to(self.device) for t in
                                load_graphs(data_path, "validation", s.sample_every, s.val_graphs))
        _, self.n, self.dim = self.y.shape
        self.variant = get_variant(s.variant)
        softening = law_from_file(data_path).softening  # the edge features' r = |dx| + softening
        self.model = GraphNetwork(s.model_settings(self.dim, softening)).to(self.device)
        geometry = read_geometry(data_path)
        if geometry.periodic and self.model.cfg.edge_inputs == "nodes" and self.variant.edge_model != "eql":
            raise ValueError(f"{data_path} is periodic: an edge model that sees absolute positions "
                             "(train.edge_inputs: nodes) cannot learn a law of separations; set train.edge_inputs: relative")
        self.graph = GraphEdges(geometry, self.n, self.dim, self.device)
        if self.model.cfg.msg_dim != s.msg_dim:
            print(f"{s.variant}: messages are {self.model.cfg.msg_dim} wide (train.msg_dim = {s.msg_dim} "
                  "does not apply to this variant)", file=sys.stderr)
        self.step = 0
        self.variant.prepare(self.state())
        self.net = torch.compile(self.model) if s.compile else self.model  # the forward pass used
        self.opt = torch.optim.Adam(self.model.parameters(), lr=s.lr, weight_decay=s.weight_decay, fused=True)
        self.sched = make_schedule(self.opt, s)
        self.gen = torch.Generator(self.device).manual_seed(s.seed)
        self.rotations: list[torch.Tensor] = []  # drawn, not yet used (augment_rotate)
        self.best_val, self.best_state = math.inf, None
        # the scales a diverged run is judged against: the loss and MAE of predicting zero
        self.node_weight = self._node_weight()
        self.zero_loss = float(self.graph_error(self.y.abs()).mean())  # the loss of predicting zero
        self.zero_val = float(self.vy.abs().mean())
        self.best_running = math.inf
        self.history: dict[str, list[float]] = {"loss": [], "mae": [], "lr": [], "val_step": [], "val_mae": []}
        self.pending: list[torch.Tensor] = []  # per-step (loss, MAE) not yet read back
        self.digest = config_hash({"train": s.hashed(), "data": self.data_hash})
        self.ckpt = self.out / "checkpoint.pt"
        self.elapsed = 0.0
        if self.ckpt.exists():
            self._resume()

    def _val_systems(self, data_path) -> int:
        """Validation systems of a weak-form data set: val_graphs frames' worth, at least 8."""
        with DATA_SET.open(data_path) as f:
            return max(8, self.s.val_graphs // f["positions"].shape[1])

    def state(self) -> TrainingState:
        """What the variant's hooks see of this run."""
        return TrainingState(self.s, self.step, self.model, self.n, self.dim, self.x,
                             self.mask_components, self.forget_best, self.graph)

    def _forward(self, x: torch.Tensor, edges: tuple | None = None):
        """Predictions [b, n, d] and raw edge outputs on ``edges`` (default: the batch's own graph)."""
        b = x.shape[0]
        edge_index, shift = edges if edges is not None else self.graph(x)
        with torch.autocast(self.device.type, torch.bfloat16, enabled=self.s.amp and self.device.type == "cuda"):
            pred, raw = self.net(x.reshape(b * self.n, -1), edge_index, self.gen, shift)
        return pred.float().view(b, self.n, self.dim), raw.float()

    def _node_weight(self) -> torch.Tensor:
        """Weight of each node index's |error| in the loss: 1 (mae), or the mean over nodes of
        the RMS target norm divided by the node's own (relative; mean weight 1 on equal nodes)."""
        if self.s.loss == "mae":
            return torch.ones(self.y.shape[1], device=self.device)
        scale = self.y.norm(dim=-1).pow(2).mean(0).sqrt().clamp_min(1e-300)
        return scale.mean() / scale

    def _rotate(self, x, y, shift=None):
        """x, y rotated by one random proper rotation (positions, velocities and targets), and
        the periodic shifts with them (the graph is built before the rotation, in the cell).
        Rotations are drawn ROTATIONS at a time (one batched QR instead of one per step)."""
        d = self.dim
        if not self.rotations:
            q, r = torch.linalg.qr(torch.randn(ROTATIONS, d, d, device=self.device, generator=self.gen, dtype=x.dtype))
            q = q * torch.sign(torch.diagonal(r, dim1=-2, dim2=-1)).unsqueeze(-2)  # uniform over O(d)
            q[:, :, 0] *= torch.det(q).sign().unsqueeze(-1)  # flip one axis where improper
            self.rotations = list(q.transpose(-1, -2).unbind(0))
        qt = self.rotations.pop()
        moved = (x[..., : 2 * d].unflatten(-1, (2, d)) @ qt).flatten(-2)  # positions and velocities
        return torch.cat([moved, x[..., 2 * d :]], dim=-1), y @ qt, None if shift is None else shift @ qt

    def graph_error(self, err: torch.Tensor) -> torch.Tensor:
        """Per-graph error from |error| [graphs, n, dim]: summed (mae) or node-weighted (relative)."""
        if self.s.loss == "mae":
            return err.sum(dim=(1, 2))
        return (err.sum(-1) * self.node_weight).sum(1)

    def loss(self, x, y, edges: tuple | None = None):
        """Per-graph sum of |error| plus weighted message penalty / n, averaged over graphs.
        Weak form: x holds stretches of frames and y their targets [stretches, K, n, d]; the
        error is that of the phi-averaged predictions, the penalty that of every frame."""
        b, s = x.shape[0], self.s
        pred, raw = self._forward(x, edges)
        if self.weak:
            pred = self.train_set.averaged(pred, len(y)).flatten(0, 1)
            y = y.flatten(0, 1)
        err = (pred - y).abs()
        per_graph = self.graph_error(err)
        weight = self.variant.penalty_weight(s)
        penalty = weight * self.model.regulariser(raw).view(b, -1).sum(1) / self.n if weight else None
        if penalty is not None and not self.weak:
            per_graph = per_graph + penalty
        loss = per_graph.mean()
        if penalty is not None and self.weak:  # over the stretches' frames, not the targets
            loss = loss + penalty.mean()
        extra = self.variant.extra_loss(self.state())
        if extra is not None:
            loss = loss + extra
        return loss, err.mean()

    @torch.no_grad()
    def predictions(self, x) -> torch.Tensor:
        """The model's accelerations for node features x [G, n, F] (eval mode), in batches; of a
        weak-form split x [S, T, n, F], their phi-averages [S, T - K + 1, n, d]."""
        batch = min(1024, max(1, 16384 // self.n))
        self.model.eval()
        if self.weak:
            out = torch.stack([self.train_set.averaged(torch.cat([self._forward(xs[a : a + batch])[0]
                                                                  for a in range(0, xs.shape[0], batch)]), 1)[0]
                               for xs in x])
        else:
            out = torch.cat([self._forward(x[a : a + batch])[0] for a in range(0, len(x), batch)])
        self.model.train()
        return out

    def median_relative_error(self, x, y) -> tuple[float, float]:
        """The median over nodes of |prediction - target| / |target| (predicting zero scores 1;
        robust to the few close encounters that dominate a mean error), and the floor the
        targets' own noise puts under it: the same median for a perfect model, with the data
        set's stated target noise drawn once (seeded; 0 for exact accelerations)."""
        size = y.norm(dim=-1).clamp_min(1e-30)
        err = (self.predictions(x) - y).norm(dim=-1) / size
        noise = self.train_set.noise if self.weak else 0.0
        draw = torch.randn(y.shape, generator=torch.Generator().manual_seed(0)).to(y) * noise
        return float(err.median()), float((draw.norm(dim=-1) / size).median())

    @torch.no_grad()
    def evaluate(self, x, y) -> float:
        """Mean absolute error of the predicted accelerations (eval mode, no augmentation), in
        batches of up to 1024 graphs and 16384 nodes. Weak form: x [S, T, n, F] and y the weak
        targets [S, T - K + 1, n, d], against the phi-averaged predictions, a system at a time."""
        batch = min(1024, max(1, 16384 // self.n))
        self.model.eval()
        total = 0.0
        if self.weak:
            for system in range(len(x)):
                pred = torch.cat([self._forward(x[system, a : a + batch])[0] for a in range(0, x.shape[1], batch)])
                total += (self.train_set.averaged(pred, 1)[0] - y[system]).abs().sum().item()
        else:
            for a in range(0, len(x), batch):
                pred, _ = self._forward(x[a : a + batch])
                total += (pred - y[a : a + batch]).abs().sum().item()
        self.model.train()
        return total / y.numel()

    @torch.no_grad()
    def mask_components(self, keep: int) -> None:
        """Keep the ``keep`` unmasked components with the largest message std on the probe graphs."""
        if keep >= int(self.model.mask.sum().item()):
            return
        self.model.eval()
        _, raw = self._forward(self.probe)
        self.model.train()
        std = (self.model.messages(raw)).std(dim=0)
        mask = torch.zeros_like(self.model.mask)
        mask[torch.topk(std, keep).indices] = 1.0
        self.model.mask.copy_(mask * self.model.mask)

    def forget_best(self) -> None:
        """Drop the best-so-far model (after a change such as pruning, only later models count)."""
        self.best_val, self.best_state = math.inf, None

    def train_step(self) -> None:
        """One optimiser step on a random augmented batch. Its loss and MAE stay on the device
        (no host sync per step) until ``flush`` reads them back."""
        s = self.s
        if self.weak:
            x, y = self.train_set.sample(s.batch_size, self.gen)
        else:
            idx = torch.randint(len(self.x), (s.batch_size,), device=self.device, generator=self.gen)
            x, y = self.x[idx], self.y[idx]
        if s.augment_std:  # the same random translation for every position in the batch
            shift = torch.randn(1, 1, self.dim, device=self.device, generator=self.gen) * s.augment_std
            x = torch.cat([x[..., : self.dim] + shift, x[..., self.dim :]], dim=-1)
        edge_index, shift = self.graph(x)  # in the data's cell, before any rotation
        if s.augment_rotate:
            x, y, shift = self._rotate(x, y, shift)
        loss, mae = self.loss(x, y, (edge_index, shift))
        self.pending.append(torch.stack([loss.detach(), mae.detach()]))
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        if s.grad_clip:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), s.grad_clip)
        self.opt.step()
        self.history["lr"].append(self.sched.get_last_lr()[0])
        self.sched.step()

    def flush(self, check: deque | None = None) -> float:
        """Read the pending losses back in one host sync, add them to the history and return
        the last. ``check`` holds the last WINDOW losses: a NaN/inf loss, or a running median far
        above its best so far or above the loss of predicting zero, stops training, naming its
        step (the weights past it are never checkpointed)."""
        if not self.pending:
            return self.history["loss"][-1] if self.history["loss"] else math.nan
        values = torch.stack(self.pending).tolist()
        self.pending.clear()
        s = self.s
        for i, (value, mae) in enumerate(values):
            if check is not None:
                step = self.step - len(values) + i
                check.append(value)
                running = float(np.median(check)) if len(check) == check.maxlen else math.nan
                if running < self.best_running:
                    self.best_running = running
                limit = s.explode_factor * min(self.best_running, self.zero_loss)
                if not math.isfinite(value) or running > limit:
                    raise TrainingDiverged(
                        f"training diverged at step {step}: loss {value:.4g}, running median "
                        f"{running:.4g} (best {self.best_running:.4g}, predicting zero {self.zero_loss:.4g}, "
                        f"limit {limit:.4g}); last good checkpoint kept at {self.ckpt} "
                        f"({'present' if self.ckpt.exists() else 'none yet'}); lower train.lr?"
                    )
            self.history["loss"].append(value)
            self.history["mae"].append(mae)
        return values[-1][0]

    def fit(self) -> dict:
        s = self.s
        self.probe = self.x[torch.linspace(0, len(self.x) - 1, min(1024, 16384 // self.n, len(self.x))).long()]
        early: deque = deque(maxlen=WINDOW)
        start = time.perf_counter() - self.elapsed
        self.model.train()
        progress = tqdm(total=s.steps, initial=self.step, desc=f"train {self.meta.get('law', '')} {s.variant}",
                        disable=self.quiet, file=sys.stderr, mininterval=2.0)
        with flushed_subnormals(), progress as bar:
            while self.step < s.steps:
                self.variant.before_step(self.state())
                self.train_step()
                self.step += 1
                validate = self.step % s.val_every == 0 or self.step == s.steps
                save = self.step % s.checkpoint_every == 0 or self.step == s.steps
                if validate or save or self.step % SYNC_EVERY == 0:
                    value = self.flush(check=early)
                if validate:
                    val = self.evaluate(self.vx, self.vy)
                    self.history["val_step"].append(self.step)
                    self.history["val_mae"].append(val)
                    if val < self.best_val:
                        self.best_val = val
                        self.best_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
                    bar.set_postfix(loss=f"{value:.3g}", val_mae=f"{val:.3g}")
                if save:
                    self.elapsed = time.perf_counter() - start
                    self._checkpoint()
                bar.update()
        self.elapsed = time.perf_counter() - start
        return self._finish()

    def _checkpoint(self) -> None:
        """Save the full training state, only if the model is not blown up (so the kept
        checkpoint is always a good one to resume from)."""
        val = self.history["val_mae"][-1] if self.history["val_step"][-1:] == [self.step] else \
            self.evaluate(self.vx[:256], self.vy[:256]) if not self.weak else self.evaluate(self.vx[:1], self.vy[:1])
        if not math.isfinite(val) or val > self.s.explode_factor * self.zero_val:
            raise TrainingDiverged(
                f"training diverged by step {self.step}: validation MAE {val:.4g} against "
                f"{self.zero_val:.4g} for predicting zero; checkpoint not overwritten, last good one "
                f"kept at {self.ckpt} ({'present' if self.ckpt.exists() else 'none yet'}); lower train.lr?")
        blob = {
            "digest": self.digest, "step": self.step, "elapsed": self.elapsed,
            "model_settings": asdict(self.model.cfg), "state_dict": self.model.state_dict(),
            "optimizer": self.opt.state_dict(), "scheduler": self.sched.state_dict(),
            "generator": self.gen.get_state(), "torch_rng": torch.get_rng_state(), "rotations": self.rotations,
            "best_val": self.best_val, "best_state": self.best_state, "history": self.history,
        }
        with atomic_path(self.ckpt) as tmp:
            torch.save(blob, tmp)

    def _resume(self) -> None:
        blob = torch.load(self.ckpt, map_location=self.device, weights_only=False)
        if blob.get("digest") != self.digest:
            print(f"{self.ckpt}: settings or data changed; starting over", file=sys.stderr)
            return
        self.model.load_state_dict(blob["state_dict"])
        self.opt.load_state_dict(blob["optimizer"])
        self.sched.load_state_dict(blob["scheduler"])
        self.gen.set_state(blob["generator"])
        self.rotations = blob.get("rotations", [])
        torch.set_rng_state(blob["torch_rng"])
        self.step, self.best_val, self.best_state = blob["step"], blob["best_val"], blob["best_state"]
        self.history, self.elapsed = blob["history"], blob["elapsed"]
        print(f"resuming from {self.ckpt} at step {self.step}", file=sys.stderr)

    def _finish(self) -> dict:
        s = self.s
        if not math.isfinite(self.best_val):
            raise TrainingDiverged(f"training ended without a finite validation MAE; no model written to {self.out}")
        converged = self.best_val < self.zero_val
        info = {"train_settings": asdict(s), "data": str(self.data_path), **self.meta}
        inputs = lineage(self.out / "metrics.json", data=self.data_path)
        save_model(self.out / "last.pt", self.model, step=self.step, **info)
        if self.best_state is not None:
            self.model.load_state_dict(self.best_state)
        save_model(self.out / "best.pt", self.model, step=self.step, val_mae=self.best_val, **info)
        relative, floor = self.median_relative_error(self.vx, self.vy)
        learned = relative < floor + LEARNED * (1.0 - floor)
        if not learned:
            print(f"failed: the network learned nothing: its median relative error on the validation nodes is "
                  f"{relative:.2f} (predicting zero: 1, a perfect model on these noisy targets: {floor:.2f}; "
                  f"learning needs below {floor + LEARNED * (1.0 - floor):.2f}); metrics.json: learned false",
                  file=sys.stderr)
        if self.weak:
            test = WeakBatches(read_windows(self.data_path, "test"), self.device)
            tx, ty = test.x, test.targets
        else:
            tx, ty = load_graphs(self.data_path, "test", s.sample_every)
        test_mae = self.evaluate(tx.to(self.device), ty.to(self.device))
        metrics = {
            **self.meta,
            "variant": s.variant, "seed": s.seed, "steps": self.step, "test_mae": test_mae,
            "best_val_mae": self.best_val, "zero_val_mae": self.zero_val, "converged": converged,
            "val_median_relative_error": relative, "val_noise_floor": floor, "learned": learned,
            "learned_below": floor + LEARNED * (1.0 - floor),
            "train_seconds": self.elapsed,
            "steps_per_second": self.step / max(self.elapsed, 1e-9), "device": str(self.device),
            "unmasked_components": int(self.model.mask.sum().item()),
        }
        with atomic_path(self.out / "history.h5") as tmp, h5py.File(tmp, "w") as f:
            stamp(f, {"train": asdict(s), "data": self.data_hash}, inputs=json.dumps(inputs),
                  **{k: str(v) for k, v in metrics.items()})
            for k, v in self.history.items():
                f[k] = np.asarray(v)
        with atomic_path(self.out / "metrics.json") as tmp:
            tmp.write_text(json.dumps({**metrics, "inputs": inputs}, indent=2))
        return metrics


def train(data_path, out_dir, settings: TrainSettings, quiet: bool = False) -> dict:
    """Train (or resume) and write best.pt, last.pt, history.h5 and metrics.json into out_dir."""
    return Trainer(data_path, out_dir, settings, quiet).fit()


def main(argv: list[str] | None = None) -> None:
    p = parser("symdistill-train", __doc__)
    p.add_argument("--data", required=True, help="simulation HDF5 file (symdistill-simulate)")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--variant", required=True, choices=list(VARIANTS), help="GNN variant")
    p.add_argument("--seed", type=int, default=0, help="model seed (initial weights, batches, augmentation)")
    p.add_argument("--settings", default="{}", help="JSON object of TrainSettings fields (schema section 'train')")
    p.add_argument("--threads", type=int, default=None, help="torch threads (overrides the settings)")
    p.add_argument("--device", default=None, help="auto, cpu, cuda or cuda:N (overrides the settings)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    a = p.parse_args(argv)
    with errors("symdistill-train", a.debug):
        extra = settings_json(a.settings, "train", TrainSettings, nested={"eql": ("eql", EQLTraining)})
        extra.update(variant=a.variant, seed=a.seed)
        if a.threads:
            extra["threads"] = a.threads
        if a.device:
            extra["device"] = a.device
        settings = TrainSettings(**extra)
        if not os.path.exists(a.data):
            raise ValueError(f"data file {a.data!r} does not exist")
        metrics = train(a.data, a.out, settings, a.quiet)
    print(json.dumps(metrics, indent=2))


if __name__ == "__main__":
    main()
