"""Equation Learner (EQL) layers and their symbolic read-out.

An EQL layer maps its inputs linearly into unit inputs, then applies simple units column-wise:
constant, identity, product of two inputs, and optionally square, sin, exp and a division-safe
quotient. Stacked layers and a linear output give a network that is a formula; after small
weights are zeroed the formula is read out exactly with sympy (``to_sympy``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace

import sympy as sp
import torch
from torch import Tensor, nn

from symdistill.core.edges import SPATIAL, node_edge_features
from symdistill.core.laws import SOFTENING
from symdistill.core.schema import stage_settings

#: Edge input names an EQL edge model may use, as sympy expressions of the edge variables.
_r, _dx, _dy, _dz, _m1, _m2, _q1, _q2 = sp.symbols("r dx dy dz m1 m2 q1 q2", real=True)
INPUTS: dict[str, sp.Expr] = {
    "dx": _dx, "dy": _dy, "dz": _dz, "r": _r, "inv_r": 1 / _r, "inv_r2": _r**-2, "inv_r3": _r**-3,
    "log_r": sp.log(_r), "m1": _m1, "m2": _m2, "q1": _q1, "q2": _q2,
    "log_m1": sp.log(_m1), "log_m2": sp.log(_m2),  # masses are positive; exp units turn sums into products
}


def _unsoftened(softening: float) -> dict[str, sp.Expr]:
    """Inputs in |dx| = r - softening, the distance before softening: log_d = log |dx| and the unit
    direction ux, uy, uz = dx / |dx| (a central force is ux g(r) exactly, where dx g(r) / |dx|
    would need |dx| beside the softened r)."""
    d = _r - softening
    return {"log_d": sp.log(d), "ux": _dx / d, "uy": _dy / d, "uz": _dz / d}


INPUTS.update(_unsoftened(SOFTENING))
DIV_THRESHOLD = 1e-3
INPUT_CLIP = 100.0


@stage_settings("eql")
class EQLSettings:
    """Architecture of an EQL network: units per layer (defaults: the schema's ``eql`` section;
    published: 8 constant, 16 identity, 8 product per layer)."""

    layers: int
    constant: int
    identity: int
    product: int
    square: int
    sin: int
    exp: int
    division: int
    skip: bool  # each layer also passes its inputs through


@stage_settings("eql")
class EQLTraining(EQLSettings):
    """An EQL edge model as trained in a GNN: its architecture, its named edge inputs, the L1 on
    its messages and its train -> sparsify -> prune (-> snap exponents) schedule."""

    inputs: list[str]
    message_l1: float
    sparsity: float  # weight of the sparsity penalty on EQL weights
    sparsity_kind: str  # l05 (smoothed L0.5) or l1
    sparsity_start: float  # fraction of training before the penalty switches on
    prune_at: float  # fraction of training at which small weights are frozen at 0
    threshold: float
    snap: float  # at prune_at, monomial exponents near a multiple of this are frozen there (0: off)
    snap_tol: float

    def architecture(self) -> EQLSettings:
        return EQLSettings(**{f.name: getattr(self, f.name) for f in fields(EQLSettings)})


@dataclass
class _Units:
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def n_in(self) -> int:  # linear outputs consumed by the units
        c = self.counts
        return c["constant"] + c["identity"] + 2 * c["product"] + c["square"] + c["sin"] + c["exp"] + 2 * c["division"]

    @property
    def n_out(self) -> int:
        return sum(self.counts.values())


class EQLLayer(nn.Module):
    """One EQL layer: z = W h + b, then units applied to slices of z."""

    def __init__(self, n_in: int, s: EQLSettings, exp_inputs: Sequence[int] = ()):
        super().__init__()
        self.units = _Units({k: getattr(s, k) for k in ("constant", "identity", "product", "square", "sin", "exp", "division")})
        self.linear = nn.Linear(n_in, self.units.n_in)
        self.register_buffer("mask", torch.ones_like(self.linear.weight))
        self.register_buffer("bias_mask", torch.ones_like(self.linear.bias))
        # weights frozen at a value (snapped exponents): masked out of the trainable weight
        self.register_buffer("fixed", torch.zeros_like(self.linear.weight))
        self.skip = s.skip
        with torch.no_grad():  # constant units take no input: they are their bias alone
            self.mask[: s.constant] = 0.0
            if exp_inputs:  # log-space inputs feed the exp units only, and exp units read only them:
                # exp of a sum of logs is a monomial, a log anywhere else is not physics we want
                logs = torch.zeros(n_in, dtype=torch.bool)
                logs[list(exp_inputs)] = True
                exp_rows = torch.zeros(self.units.n_in, dtype=torch.bool)
                exp_rows[list(self.exp_rows())] = True
                self.mask[exp_rows[:, None] & ~logs[None, :]] = 0.0
                self.mask[~exp_rows[:, None] & logs[None, :]] = 0.0

    def weight(self) -> Tensor:
        return self.linear.weight * self.mask + self.fixed

    def exp_rows(self) -> range:
        c = self.units.counts
        start = c["constant"] + c["identity"] + 2 * c["product"] + c["square"] + c["sin"]
        return range(start, start + c["exp"])

    def forward(self, h: Tensor) -> Tensor:
        z = h @ self.weight().T + self.linear.bias * self.bias_mask
        c, outs, i = self.units.counts, [], 0
        # each kind of unit on its slice of z; a kind the layer has none of costs nothing (the
        # default has no square, sine or division units, and a training step is many small ops)
        if c["constant"] + c["identity"]:
            outs.append(z[:, : c["constant"] + c["identity"]])
        i += c["constant"] + c["identity"]
        if k := c["product"]:
            outs.append(z[:, i : i + k] * z[:, i + k : i + 2 * k])
        i += 2 * c["product"]
        if k := c["square"]:
            outs.append(z[:, i : i + k] ** 2)
        i += c["square"]
        if k := c["sin"]:
            outs.append(torch.sin(z[:, i : i + k]))
        i += c["sin"]
        if k := c["exp"]:
            outs.append(torch.exp(torch.clamp(z[:, i : i + k], max=10.0)))
        i += c["exp"]
        if k := c["division"]:
            num, den = z[:, i : i + k], z[:, i + k : i + 2 * k]
            big = den.abs() > DIV_THRESHOLD
            outs.append(torch.where(big, num / torch.where(big, den, torch.ones_like(den)), torch.zeros_like(num)))
        out = torch.cat(outs, dim=-1) if outs else z[:, :0]
        return torch.cat([h, out], dim=-1) if self.skip else out

    def to_sympy(self, h: list[sp.Expr]) -> list[sp.Expr]:
        W = self.weight().detach().double().numpy()
        b = (self.linear.bias * self.bias_mask).detach().double().numpy()
        z = [sp.Add(*[sp.Float(W[o, j]) * h[j] for j in range(len(h)) if W[o, j] != 0.0], sp.Float(b[o]) if b[o] != 0 else 0)
             for o in range(W.shape[0])]
        c, outs, i = self.units.counts, [], 0
        outs += z[i : i + c["constant"] + c["identity"]]
        i += c["constant"] + c["identity"]
        k = c["product"]
        outs += [z[i + a] * z[i + k + a] for a in range(k)]
        i += 2 * k
        outs += [e**2 for e in z[i : i + c["square"]]]
        i += c["square"]
        outs += [sp.sin(e) for e in z[i : i + c["sin"]]]
        i += c["sin"]
        outs += [sp.exp(e) for e in z[i : i + c["exp"]]]
        i += c["exp"]
        k = c["division"]
        outs += [z[i + a] / z[i + k + a] for a in range(k)]
        return list(h) + outs if self.skip else outs


class EQL(nn.Module):
    """Stacked EQL layers and a linear output layer.

    Exp units exist in the first layer only. Given ``exp_inputs`` (the indices of log-space
    inputs such as log_r, log_m1), exp units read only those and the other units never do, so
    each exp unit is a monomial r^a m1^b m2^c that a second-layer product unit can multiply by
    dx: a power law with learnable exponents.
    """

    def __init__(self, n_in: int, n_out: int, s: EQLSettings, exp_inputs: Sequence[int] = ()):
        super().__init__()
        self.layers = nn.ModuleList()
        self.exp_inputs = list(exp_inputs)
        width = n_in
        for i in range(s.layers):
            # with skip connections the raw inputs stay the first columns of every layer's input
            layer = EQLLayer(width, s if i == 0 else replace(s, exp=0), exp_inputs if i == 0 or s.skip else ())
            self.layers.append(layer)
            width = layer.units.n_out + (width if s.skip else 0)
        self.out = nn.Linear(width, n_out)
        self.register_buffer("mask", torch.ones_like(self.out.weight))
        self.register_buffer("bias_mask", torch.ones_like(self.out.bias))
        # inputs are divided by these fixed scales (set from data before training) so that
        # heavy-tailed inputs such as 1/r^3 start at unit size; the read-out folds them back in
        self.register_buffer("in_scale", torch.ones(n_in))

    @torch.no_grad()
    def set_input_scale(self, inputs: Tensor) -> None:
        """Scale each input by its median absolute value on representative data."""
        self.in_scale.copy_(inputs.abs().median(dim=0).values.clamp_min(1e-6))

    def forward(self, h: Tensor) -> Tensor:
        # scaled inputs are clamped at +-INPUT_CLIP: the few close-encounter edges with 1/r^k
        # values far in the tail would otherwise swamp the first steps (the read-out is exact
        # everywhere inside the clip)
        h = torch.clamp(h / self.in_scale, -INPUT_CLIP, INPUT_CLIP)
        for layer in self.layers:
            h = layer(h)
        return h @ (self.out.weight * self.mask).T + self.out.bias * self.bias_mask

    def linears(self):
        """(linear, weight mask, bias mask) of every layer, output last."""
        return [(l.linear, l.mask, l.bias_mask) for l in self.layers] + [(self.out, self.mask, self.bias_mask)]

    def sparsity_penalty(self, kind: str = "l05", eps: float = 1e-2) -> Tensor:
        """Smoothed L0.5 (piecewise polynomial near 0, as in Kim et al. 2019) or L1 of all weights."""
        total = 0.0
        for lin, m, bm in self.linears():
            for w in (lin.weight * m, lin.bias * bm):
                a = w.abs()
                if kind == "l1":
                    total = total + a.sum()
                else:
                    smooth = -a**4 / (8 * eps**3) + 3 * a**2 / (4 * eps) + 3 * eps / 8
                    total = total + torch.sqrt(torch.where(a < eps, smooth, a)).sum()
        return total

    @torch.no_grad()
    def prune(self, threshold: float) -> int:
        """Freeze weights below ``threshold`` at zero (masks); returns how many remain."""
        kept = 0
        for lin, m, bm in self.linears():
            m.mul_((lin.weight.abs() >= threshold).float())
            bm.mul_((lin.bias.abs() >= threshold).float())
            lin.weight.mul_(m)
            lin.bias.mul_(bm)
            kept += int(m.sum().item() + bm.sum().item())
        return kept

    @torch.no_grad()
    def snap_exponents(self, grid: float = 0.5, tol: float = 0.15) -> int:
        """Freeze each monomial exponent (an exp unit's weight on a log input, in input units)
        at the nearest multiple of ``grid`` when it lies within ``tol`` of it; returns how many.

        The rest of the network then fine-tunes around exact powers such as m1 m2 / r^3, the
        classic EQL round-and-retrain step applied to exponents only.
        """
        if not self.exp_inputs or grid <= 0:
            return 0
        layer, count = self.layers[0], 0
        for row in layer.exp_rows():
            for col in self.exp_inputs:
                if layer.mask[row, col] == 0:
                    continue
                scale = float(self.in_scale[col])
                e = float(layer.linear.weight[row, col]) / scale
                snapped = round(e / grid) * grid
                if abs(e - snapped) <= tol:
                    layer.fixed[row, col] = snapped * scale
                    layer.mask[row, col] = 0.0
                    layer.linear.weight[row, col] = 0.0
                    count += 1
        return count

    def to_sympy(self, inputs: list[sp.Expr], outputs: list[int] | None = None, digits: int = 3,
                 drop: float = 1e-3, readout=None) -> list[sp.Expr]:
        """The network as one expanded, rounded sympy expression per (selected) output; with
        ``readout`` (a matrix R), per output of R times the network's outputs instead."""
        h = [x / sp.Float(float(sc)) for x, sc in zip(inputs, self.in_scale)]
        for layer in self.layers:
            h = layer.to_sympy(h)
        W = (self.out.weight * self.mask).detach().double().numpy()
        b = (self.out.bias * self.bias_mask).detach().double().numpy()
        if readout is not None:
            W, b = readout @ W, readout @ b
        rows = outputs if outputs is not None else range(W.shape[0])
        exprs = []
        for o in rows:
            e = sp.Add(*[sp.Float(W[o, j]) * h[j] for j in range(len(h)) if W[o, j] != 0.0], sp.Float(b[o]))
            exprs.append(round_expr(e, digits, drop))
        return exprs


def round_expr(expr: sp.Expr, digits: int = 3, drop: float = 1e-3) -> sp.Expr:
    """Round floats to ``digits`` significant digits; drop terms whose coefficient is below
    ``drop`` times the largest (products of small surviving weights)."""
    def rnd(f):
        v = float(f)
        return sp.Float(float(f"{v:.{digits}g}")) if v != 0 else sp.Integer(0)

    terms = sp.Add.make_args(sp.expand(expr))
    biggest = max((abs(float(t.as_coeff_Mul()[0])) for t in terms), default=0.0)
    kept = [t for t in terms if abs(float(t.as_coeff_Mul()[0])) >= drop * biggest]
    expr = sp.Add(*kept)
    return sp.expand(expr.xreplace({f: rnd(f) for f in expr.atoms(sp.Float)}))


def log_space(names: list[str]) -> list[int]:
    """Indices of the log-space inputs (log_r, log_m1, ...) among ``names``."""
    return [i for i, n in enumerate(names) if n.startswith("log_")]


def input_exprs(names: list[str], softening: float = SOFTENING) -> list[sp.Expr]:
    """Sympy expressions of named EQL inputs (r = |dx| + ``softening``); unknown names are an
    error naming them."""
    unknown = [n for n in names if n not in INPUTS]
    if unknown:
        raise ValueError(f"unknown EQL input(s) {unknown}; choose from {sorted(INPUTS)}")
    table = {**INPUTS, **_unsoftened(softening)}
    return [table[n] for n in names]


def edge_inputs(names: list[str], x_i: Tensor, x_j: Tensor, dim: int, softening: float = SOFTENING) -> Tensor:
    """Compute the named inputs on edges from receiver/sender node features (pos, vel, q, m)."""
    cols = node_edge_features(x_i, x_j, dim, softening)
    r, d = cols["r"], torch.clamp(cols["dist"], min=1e-6)
    cols.update({"inv_r": 1 / r, "inv_r2": r**-2, "inv_r3": r**-3, "log_r": torch.log(r), "log_d": torch.log(d),
                 **{"u" + x[1:]: cols[x] / d for x in SPATIAL[:dim]},
                 "log_m1": torch.log(cols["m1"]), "log_m2": torch.log(cols["m2"])})
    missing = [n for n in names if n not in cols or n == "dist"]
    if missing:
        raise ValueError(f"EQL inputs {missing} are not available in {dim} dimensions")
    return torch.stack([cols[n] for n in names], dim=-1)
