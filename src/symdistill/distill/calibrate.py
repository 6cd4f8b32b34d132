"""Calibrate a symbolic model on the data: fit its constants to the data set's accelerations.

A law distilled from the messages carries constants fitted to the network: the read-out W, v
and the constants inside each expression. Those inherit the network's errors, heavy-tailed at
close encounters. Here they are fitted to the data set's own accelerations instead:

    a_i = m_i^p (W sum_j phi(e_ij; theta) + (n - 1) v),   p in {0, -1}

phi's constants theta (every floating-point number of the expressions; exact integers and halves,
such as exponents, stay) by nonlinear least squares, W and v solved exactly for each theta
(variable projection), and the mass power p, the node model's division by the receiver's mass,
chosen by the data (the read-out family includes 1/m rather than assuming it). Each node's
residual is divided by sqrt(|a_i|^2 + s^2), s^2 the median |a|^2 (a relative error, floored at
the typical size, so a close encounter counts no more than a typical node), and the
fit minimises a soft-L1 loss at the starting residuals' robust scale. A wrong law cannot be made
right: its form stays, only its numbers move, and its held-out error says so.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np
import sympy as sp
from scipy.optimize import least_squares as nonlinear_least_squares
from scipy.sparse import csr_matrix, identity, kron

from symdistill.core.edges import edge_columns, spatial_columns
from symdistill.core.expr import ExpressionError, parse_expression
from symdistill.core.frames import phi_average, read_frames, read_geometry, read_weak_targets, split_nodes, weak_window
from symdistill.core.geometry import Geometry, Pairs
from symdistill.distill.model import SymbolicModel, edge_feature_columns

MAX_CONSTANTS = 12  # expressions with more free constants keep them (only W, v, p are fitted)


@dataclass
class Frames:
    """Nodes of some graphs of a data set, the edge features of all their ordered pairs, and the
    observed accelerations. Of a weak-form data set the graphs are R windows of K consecutive
    frames and ``acc`` holds each window's weak target: a law's per-node values at the frames
    are compared with it through the phi-average ``average`` (``targets``)."""

    pos: np.ndarray  # [G, n, d]
    vel: np.ndarray
    charges: np.ndarray  # [G, n]
    masses: np.ndarray
    acc: np.ndarray  # [G, n, d], or [R, n, d] weak targets (G = R K)
    softening: float
    geometry: Geometry = field(default_factory=Geometry)  # which pairs interact (the data set's)
    average: np.ndarray | None = None  # [K] a weak window's phi-average weights (None: per frame)
    noise: float = 0.0  # the std of each component of ``acc`` that is noise (stated by the data set)
    pairs: Pairs = field(init=False, repr=False)
    columns: list[np.ndarray] = field(init=False, repr=False)  # edge_columns order, [G, E] each

    def __post_init__(self):
        self.pairs = Pairs.build(self.pos, self.geometry)
        self.columns = edge_feature_columns(self.pos, self.masses, self.charges, self.pairs, self.softening)
        self.degree = self.targets(self.pairs.degree(len(self.pos))).reshape(-1)  # incoming edges per node
        self.node_masses = self.targets(self.masses).reshape(-1)  # per row of acc's nodes

    @property
    def dim(self) -> int:
        return self.pos.shape[-1]

    def targets(self, values: np.ndarray) -> np.ndarray:
        """Per-frame values [G, ...] as ``acc`` holds them: themselves, or each weak window's
        phi-average [R, ...]."""
        return phi_average(values, self.average)

    def averaging(self, n: int) -> csr_matrix:
        """The sparse map from per-frame node rows [G n] to the weak targets' node rows [R n]."""
        return kron(kron(identity(len(self.acc)), self.average[None, :]), identity(n), format="csr")

    @classmethod
    def read(cls, path, split: str, graphs: int, softening: float, sample_every: int = 5) -> Frames:
        """Up to ``graphs`` evenly spaced graphs of one split of a data set (of a weak-form
        data set: ``graphs`` weak targets, each with its window's frames)."""
        if weak_window(path) is not None:
            x, y, average, noise = read_weak_targets(path, split, graphs)
            pos, vel, q, m = split_nodes(x.reshape(-1, *x.shape[2:]), y.shape[-1])
            return cls(pos, vel, q, m, y, softening, read_geometry(path), average, noise)
        x, y = read_frames(path, split, sample_every, graphs)
        pos, vel, q, m = split_nodes(x, y.shape[-1])
        return cls(pos, vel, q, m, y, softening, read_geometry(path))


def free_constants(expr: sp.Expr, prefix: str = "c") -> tuple[sp.Expr, list[sp.Symbol], np.ndarray]:
    """``expr`` with each floating-point number replaced by a parameter symbol, the symbols and
    their values (integers and rationals, such as snapped exponents, are not parameters)."""
    floats = sorted(expr.atoms(sp.Float), key=lambda f: (float(f), str(f)))
    params = [sp.Symbol(f"{prefix}{k}", real=True) for k in range(len(floats))]
    return expr.xreplace(dict(zip(floats, params))), params, np.array([float(f) for f in floats])


@dataclass
class Calibration:
    """A symbolic model fitted to data, and how well it reproduces held-out accelerations."""

    model: SymbolicModel
    constants: np.ndarray  # the fitted theta, in ``free_constants`` order
    loss: float  # mean normalised squared error on the held-out graphs
    node_losses: np.ndarray = field(repr=False)  # per held-out node (for paired comparisons)
    r2: float  # R^2 of the held-out accelerations
    median_relative_error: float  # median |a_pred - a| / |a| on the held-out nodes
    converged: bool = True

    def summary(self) -> dict:
        return {"loss": self.loss, "r2": self.r2, "median_relative_error": self.median_relative_error,
                "constants": self.constants.tolist(), "converged": self.converged,
                "model": self.model.describe()}


def noise_floor(train: Frames, held_out: Frames) -> float:
    """The held-out data loss that the targets' own noise accounts for: the mean over nodes of
    d sigma^2 / (|a|^2 + s^2), sigma the stated noise std of each component (0 for exact data)."""
    if not held_out.noise:
        return 0.0
    y = held_out.acc.reshape(-1, held_out.dim)
    return float(np.mean(held_out.dim * held_out.noise**2 / ((y**2).sum(-1) + _scale(train.acc))))


def _scale(acc: np.ndarray) -> float:
    """s^2: the median squared size of the accelerations (the floor of the relative error)."""
    s2 = float(np.median((acc**2).sum(-1)))
    return s2 if s2 > 0 else 1.0


class _Problem:
    """The fit of one set of component expressions to one data set's frames, for one mass power."""

    def __init__(self, fns: list, frames: Frames, divide: bool, s2: float):
        self.fns, self.frames, self.divide = fns, frames, divide
        self.n = frames.pos.shape[1]
        self.y = frames.acc.reshape(-1, frames.dim)
        self.w = 1.0 / np.sqrt((self.y**2).sum(-1) + s2)

    def design(self, theta: np.ndarray) -> np.ndarray:
        """Per-node design [G * n, k + 1]: summed messages and the per-edge constant's n - 1."""
        cols = self.frames.columns
        with np.errstate(all="ignore"):
            phi = np.stack([np.broadcast_to(np.asarray(f(*cols, *theta), dtype=float), cols[0].shape)
                            for f in self.fns], axis=-1)
        summed = self.frames.targets(self.frames.pairs.sum(phi)).reshape(-1, len(self.fns))
        D = np.column_stack([summed, self.frames.degree])
        return D / self.frames.node_masses.reshape(-1, 1) if self.divide else D

    def solve(self, theta: np.ndarray) -> tuple[np.ndarray | None, np.ndarray]:
        """Read-out coefficients [k + 1, d] by weighted least squares, and the weighted residuals."""
        D = self.design(theta)
        ok = np.isfinite(D).all(axis=1)
        if ok.mean() < 0.99:
            return None, np.full(self.y.size, 1e6)
        coef, *_ = np.linalg.lstsq(D[ok] * self.w[ok, None], self.y[ok] * self.w[ok, None], rcond=None)
        resid = np.full(self.y.shape, 1e3)
        resid[ok] = (D[ok] @ coef - self.y[ok]) * self.w[ok, None]
        return coef, np.nan_to_num(resid, nan=1e3, posinf=1e3, neginf=-1e3).ravel()


def _solve(problem: _Problem, theta0: np.ndarray, max_nfev: int) -> tuple[np.ndarray, np.ndarray | None, bool]:
    if len(theta0) == 0:
        return theta0, problem.solve(theta0)[0], True
    start = problem.solve(theta0)[1]
    f_scale = max(1.4826 * float(np.median(np.abs(start))), 1e-12)
    try:
        with np.errstate(all="ignore"):
            fit = nonlinear_least_squares(lambda t: problem.solve(t)[1], theta0, method="trf", loss="soft_l1",
                                          f_scale=f_scale, x_scale="jac", max_nfev=max_nfev)
        theta, ok = fit.x, bool(fit.status > 0)
    except (ValueError, np.linalg.LinAlgError, FloatingPointError):
        theta, ok = theta0, False
    coef = problem.solve(theta)[0]
    if coef is None:  # the fit wandered where the law is not finite: keep the start
        theta, coef, ok = theta0, problem.solve(theta0)[0], False
    return theta, coef, ok


def rounded(value: float) -> sp.Float:
    """A fitted constant as it is written into a law: 10 significant digits."""
    return sp.Float(float(f"{value:.10g}"))


def calibrate(components: list[sp.Expr], params: list[sp.Symbol], theta0: np.ndarray, train: Frames,
              held_out: Frames, fit_constants: bool = True, max_nfev: int = 40,
              divide: bool | None = None) -> Calibration | None:
    """Fit the components' constants ``params`` (from ``theta0``), the read-out and the mass power
    to ``train``; judge the result on ``held_out``. The mass power is the one (division by the
    receiver's mass or none) whose held-out loss is lower, unless ``divide`` fixes it. None if
    the law is not finite on the data."""
    theta0 = np.asarray(theta0, dtype=float)
    given = theta0
    if not fit_constants or len(params) > MAX_CONSTANTS:
        reps = dict(zip(params, map(sp.Float, theta0)))
        components, params, theta0 = [c.xreplace(reps) for c in components], [], np.zeros(0)
    s2 = _scale(train.acc)
    symbols = [sp.Symbol(c, real=True) for c in edge_columns(train.dim)]
    fns = [sp.lambdify([*symbols, *params], e, "numpy") for e in components]
    best = None
    for divide in (True, False) if divide is None else (divide,):
        theta, coef, ok = _solve(_Problem(fns, train, divide, s2), theta0, max_nfev)
        if coef is None:
            continue
        test = _Problem(fns, held_out, divide, s2)
        D = test.design(theta)
        pred = D @ coef
        err2 = ((pred - test.y) ** 2).sum(-1)
        node = err2 / ((test.y**2).sum(-1) + s2)
        node = np.where(np.isfinite(node), node, np.inf)
        loss = float(node.mean())
        if best is not None and not loss < best[0]:
            continue
        finite = np.isfinite(pred).all(axis=1)
        resid = pred[finite] - test.y[finite]
        ss = float(((test.y[finite] - test.y[finite].mean(0)) ** 2).sum())
        r2 = 1 - float((resid**2).sum()) / ss if ss > 0 else 0.0
        rel = np.sqrt(err2[finite]) / np.maximum(np.linalg.norm(test.y[finite], axis=1), 1e-300)
        best = (loss, theta, coef, divide, node, r2, float(np.median(rel)) if rel.size else np.inf, ok)
    if best is None:
        return None
    loss, theta, coef, divide, node, r2, rel, ok = best
    reps = dict(zip(params, map(rounded, theta)))
    exprs = [str(c.xreplace(reps)) for c in components]
    try:
        model = SymbolicModel(exprs, train.dim, coef[:-1].T.copy(), coef[-1].copy(), divide, r2, train.softening,
                              train.geometry)
    except ExpressionError:  # a fitted constant left the grammar (an exponent beyond its limit): no usable law
        return None
    return Calibration(model, theta if len(params) else given, loss, node, r2, rel, ok)


def potential_force(potential: sp.Expr) -> sp.Expr:
    """The radial force g = -dU/dr of a pair potential U(r, m1, m2, q1, q2) (force g dx/|dx|)."""
    return -sp.diff(potential, sp.Symbol("r", real=True))


def potential_constants(text: str, names: list[str]) -> tuple[sp.Expr, list[sp.Symbol], np.ndarray, list[int]]:
    """A potential's text as a template U with its constants as parameters, their values, and
    the indices of those its force -dU/dr still holds (the others sit in terms free of r, which
    no force sees, so no calibration can fit them)."""
    template, params, theta = free_constants(parse_expression(text, names, what="potential"))
    force = potential_force(template)
    return template, params, theta, [k for k, p in enumerate(params) if p in force.free_symbols]


def law_parts(law: dict, dim: int, softening: float) -> tuple[list[sp.Expr], list[sp.Symbol], np.ndarray]:
    """The per-edge components of a law with its constants as parameters: ``{"radial": g}`` (a
    central force g(r, m1, m2, q1, q2) dx/|dx|, one set of constants for every direction),
    ``{"potential": U}`` (the central force -dU/dr dx/|dx| of a pair potential, with U's
    constants; those no force sees, in terms free of r, are held) or ``{"components": [phi_1,
    ...]}`` (each message component with constants of its own)."""
    names = edge_columns(dim)
    dist = sp.Symbol("r", real=True) - sp.Float(softening)  # |dx|, the distance before softening
    if "radial" in law or "potential" in law:
        if "radial" in law:
            template, params, theta = free_constants(parse_expression(law["radial"], names, what="radial law"))
        else:
            potential, params, theta, seen = potential_constants(law["potential"], names)
            template, params, theta = potential_force(potential), [params[k] for k in seen], theta[seen]
        return [template * sp.Symbol(x, real=True) / dist for x in spatial_columns(dim)], params, theta
    # |dx| (in a direction dx / |dx|) is the data's geometry, not a constant of the law: it is held
    # while the law's own constants are fitted
    held = sp.Dummy("dist", positive=True)
    comps, params, theta = [], [], []
    for k, text in enumerate(law["components"]):
        expr = parse_expression(text, names, what="message law").xreplace({dist: held})
        t, p, v = free_constants(expr, prefix=f"c{k}_")
        t = t.xreplace({held: dist})
        comps.append(t)
        params += p
        theta += list(v)
    return comps, params, np.array(theta)


def calibrate_law(law: dict, train: Frames, held_out: Frames, divide: bool | None = None,
                  fit_constants: bool = True) -> Calibration | None:
    """``calibrate`` for a law given as text (``law_parts``). A potential's force acts on the
    receiver's mass (a = F / m: Hamilton's equations), so its mass power is not searched unless
    ``divide`` is given (a potential read from messages that are accelerations, U / m1)."""
    comps, params, theta = law_parts(law, train.dim, train.softening)
    if "potential" in law and divide is None:
        divide = True
    return calibrate(comps, params, theta, train, held_out, fit_constants, divide=divide)


SCREEN_EDGES = 512  # edges a tree is screened on in a search on the data (whole graphs where they fit)
SEARCH_EDGES = 20_000  # edges a search on the data refines on (its nodes drawn where the data have more)


@dataclass
class TermData:
    """A data set's accelerations as the target of a one-variable search (``exhaustive.Target``):
    a tree f(r) is one term of a pairwise central law,

        a_i = m_i^p (sum_j [phi_ij (a f(r_ij) + b) + sum_k c_k h_k(e_ij)] u_ij + deg_i v),

    ``factor`` phi (per edge, [G, E]) the term's monomial in the masses and charges, ``others``
    h_k the law's other terms held in form, u_ij = dx / |dx|; a, b, c_k and v (the per-edge
    constant) are solved by weighted least squares (variable projection: the fixed columns are
    projected out once), the mass power p (``divide``: p = -1) given. The weights and the loss
    are ``calibrate``'s: each node's squared error over |a_i|^2 + s^2, averaged over nodes. A
    subset of the nodes (``sample``, ``screen``) keeps every edge into them, so its loss is the
    same law's on fewer nodes."""

    frames: Frames
    factor: np.ndarray
    others: list[np.ndarray]
    divide: bool
    s2: float | None = None  # the floor of the relative error (default: this data's ``_scale``)

    def __post_init__(self):
        f, d = self.frames, self.frames.dim
        G, n = f.pos.shape[:2]
        E = self.factor.shape[1]
        receiver = np.broadcast_to(f.pairs.receiver, (G, E))
        real = np.ones((G, E), dtype=bool) if f.pairs.valid is None else f.pairs.valid
        rows = (np.arange(G)[:, None] * n + receiver)[real]
        # sums edges onto their receivers [G n, G E] (padding left out, so its values never count)
        self.gather = csr_matrix((np.ones(len(rows)), (rows, np.flatnonzero(real.ravel()))), shape=(G * n, G * E))
        if f.average is not None:  # onto the weak targets' nodes: each the phi-average of its window's
            self.gather = f.averaging(n) @ self.gather
        cols = f.columns
        dist = cols[d] - f.softening
        unit = np.stack([cols[k] / dist for k in range(d)], axis=-1).reshape(G * E, d)
        self.phiu = self.factor.reshape(-1, 1) * unit  # phi u per edge
        self.x = np.broadcast_to(cols[d], self.factor.shape).reshape(-1)
        y = f.acc.reshape(-1, d)
        self.s2 = _scale(f.acc) if self.s2 is None else self.s2
        w = 1.0 / np.sqrt((y**2).sum(-1) + self.s2)
        self.scale = np.repeat(w / (f.node_masses if self.divide else 1.0), d)  # per row: weight and 1/m
        self.yw = y.reshape(-1) * np.repeat(w, d)
        fixed = [self._columns(np.ones((1, len(self.x))))[0]]  # phi b
        fixed += [self._summed(h.reshape(-1, 1) * unit) for h in self.others]
        fixed += [np.tile(np.eye(d)[k], len(y)) * np.repeat(f.degree, d) * self.scale for k in range(d)]
        self._fixed(np.column_stack(fixed))

    def _fixed(self, fixed: np.ndarray) -> None:
        """Hold the fixed columns (non-finite rows zeroed) and project them out of the data."""
        self.fixed = np.where(np.isfinite(fixed).all(axis=1, keepdims=True), fixed, 0.0)
        self.Q, _ = np.linalg.qr(self.fixed)
        self.py = self.yw - self.Q @ (self.Q.T @ self.yw)
        self.nodes = len(self.yw) // self.frames.dim

    def _summed(self, values: np.ndarray) -> np.ndarray:
        """Per-edge vectors [edges, d] summed onto their receivers, weighted: [nodes d]."""
        with np.errstate(all="ignore"):
            return (self.gather @ values).reshape(-1) * self.scale

    def _columns(self, F: np.ndarray) -> np.ndarray:
        """Rows F [T, edges] of per-edge values of f as weighted per-node columns [T, nodes d]."""
        d = self.frames.dim
        T = len(F)
        with np.errstate(all="ignore"):
            per_edge = F.reshape(T, -1, 1) * self.phiu[None]  # [T, edges, d]
            summed = self.gather @ per_edge.transpose(1, 0, 2).reshape(-1, T * d)  # [nodes, T d]
            return summed.reshape(-1, T, d).transpose(1, 0, 2).reshape(T, -1) * self.scale

    def losses(self, F: np.ndarray) -> np.ndarray:
        P = self.project(F)
        with np.errstate(all="ignore"):
            den = (P * P).sum(axis=1)
            num = P @ self.py
            loss = (float(self.py @ self.py) - num * num / den) / self.nodes
        ok = np.isfinite(P).all(axis=1) & np.isfinite(loss) & (den > 1e-12 * float(self.yw @ self.yw))
        return np.where(ok, np.maximum(loss, 0.0), np.inf)

    @property
    def count(self) -> int:
        """The loss's divisor: a loss is the weighted residuals' squared norm over the nodes."""
        return self.nodes

    def project(self, F: np.ndarray) -> np.ndarray:
        """Rows F [T, edges] of per-edge values as weighted per-node columns with the fixed
        columns projected out (``py`` is the data so projected)."""
        C = self._columns(np.asarray(F, float))
        with np.errstate(all="ignore"):
            return C - (C @ self.Q) @ self.Q.T

    def fit(self, f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        f = np.asarray(f, float)
        D = np.column_stack([self._columns(f.reshape(len(f), -1).T).T, self.fixed])
        if not np.isfinite(D).all():
            return np.full(D.shape[1], np.nan), self.failed()
        coef, *_ = np.linalg.lstsq(D, self.yw, rcond=None)
        return coef, D @ coef - self.yw

    def failed(self) -> np.ndarray:
        return np.full_like(self.yw, 1e3)

    def sample(self, edges: int, rng: np.random.Generator) -> TermData:
        """The target on a subset of its nodes with about ``edges`` incoming edges (itself if it
        has no more): whole graphs where a graph has fewer, else receivers drawn from all graphs."""
        G, E = self.factor.shape
        if self.frames.average is not None:  # a weak target's graph: the K frames of its window
            G, E = len(self.frames.acc), E * len(self.frames.average)
        if self.gather.nnz <= edges:
            return self
        if E <= edges:
            n = self.nodes // G
            graphs = np.sort(rng.choice(G, max(1, min(G, edges // max(E, 1))), replace=False))
            nodes = (graphs[:, None] * n + np.arange(n)).ravel()
        else:
            order = rng.permutation(self.nodes)
            within = np.cumsum(np.diff(self.gather.indptr)[order])
            nodes = np.sort(order[: int(np.searchsorted(within, edges)) + 1])
        return self._restricted(nodes)

    def screen(self, rng: np.random.Generator) -> TermData:
        return self.sample(SCREEN_EDGES, rng)

    def _restricted(self, nodes: np.ndarray) -> TermData:
        """This target on the receivers ``nodes`` and every edge into them."""
        d = self.frames.dim
        sub = copy.copy(self)
        rows = self.gather[nodes]
        edges = np.unique(rows.indices)
        sub.gather = rows[:, edges]
        sub.x, sub.phiu = self.x[edges], self.phiu[edges]
        r = (nodes[:, None] * d + np.arange(d)).ravel()
        sub.scale, sub.yw = self.scale[r], self.yw[r]
        sub._fixed(self.fixed[r])
        return sub


def eliminations(terms: list[sp.Expr], direction: list[sp.Expr], frames: Frames, divide: bool) -> list[tuple[list[int], np.ndarray]]:
    """Backward elimination of a law's terms on the data: the law is sum_t beta_t term_t times
    ``direction`` (per-edge vector, e.g. dx/|dx|), the beta_t and the per-edge constant fitted by
    weighted least squares; the term whose removal the fit misses least is dropped, repeatedly.
    Returns (kept term indices, their beta) from all terms down to one."""
    symbols = [sp.Symbol(c, real=True) for c in edge_columns(frames.dim)]
    cols = frames.columns
    with np.errstate(all="ignore"):
        unit = np.stack([np.broadcast_to(np.asarray(sp.lambdify(symbols, d, "numpy")(*cols), dtype=float), cols[0].shape)
                         for d in direction], axis=-1)  # [G, E, d]
        per_term = [np.broadcast_to(np.asarray(sp.lambdify(symbols, t, "numpy")(*cols), dtype=float), cols[0].shape)
                    for t in terms]
    y = frames.acc.reshape(-1, frames.dim)
    w = np.repeat(1.0 / np.sqrt((y**2).sum(-1) + _scale(frames.acc)), frames.dim)
    scale = np.repeat(1.0 / frames.node_masses, frames.dim) if divide else np.ones(y.size)
    columns = [frames.targets(frames.pairs.sum(t[..., None] * unit)).reshape(-1) * scale for t in per_term]
    offsets = [np.tile(np.eye(frames.dim)[k], len(y)) * np.repeat(frames.degree, frames.dim) * scale
               for k in range(frames.dim)]
    target = y.reshape(-1)

    def fit(keep):
        D = np.column_stack([columns[i] for i in keep] + offsets)
        ok = np.isfinite(D).all(axis=1)
        coef, *_ = np.linalg.lstsq(D[ok] * w[ok, None], target[ok] * w[ok], rcond=None)
        return float((((D[ok] @ coef - target[ok]) * w[ok]) ** 2).sum()), coef[: len(keep)]

    keep, out = list(range(len(terms))), []
    while keep:
        out.append((list(keep), fit(keep)[1]))
        if len(keep) == 1:
            break
        drop = min(keep, key=lambda i: fit([k for k in keep if k != i])[0])
        keep = [k for k in keep if k != drop]
    return out
