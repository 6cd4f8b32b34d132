"""Exhaustive symbolic regression in one variable: every short expression tried, its constants fitted.

A genetic search in one variable still settles on look-alikes (chains of exponentials) for laws
that are short rational or algebraic functions of r, such as r / (1 + r^2) or (1 + r^2)^(-1/2):
its population never holds them. In one variable every short expression can simply be tried, as
AI Feynman's brute force and exhaustive symbolic regression (Bartlett, Desmond & Ferreira 2023)
do. Every tree over the variable x and free constants c, built from the grammar's operators, up
to ``size`` nodes and ``constants`` free constants, is written once (``trees``: constants only
where they are not a scale or offset a neighbour already has) and scored as a f(x; c) + b, the
scale a and offset b fitted linearly: first on a grid of its constants over a subsample
(``GRID``), then the best ``refine`` of each size by Levenberg-Marquardt on every sample.

Two variants serve the pipeline's uses. With ``weights`` the squared errors are weighted (a
separable term g_k is searched on y / phi_k, whose errors are the messages' errors over phi_k:
weights phi_k^2 measure them in the messages' own scale). With ``derivative`` each tree is a
pair potential and is scored by its derivative, a f'(x) + b (central differences): a screened
law e^(-2r)/r is six nodes as a potential and eleven as its force e^(-2r)(1 + 2r)/r^2, and
fitting the force with a potential's derivative needs no integration of noisy forces.

A tree is scored against a ``Target``: the best linear use of its values. ``Values`` is a
sampled function y(x) (a f + b, as above); ``symdistill.distill.calibrate.TermData`` is a data
set's accelerations, where the tree is one term phi f(r) of a pairwise central law summed over
each particle's neighbours, so that a law can be searched on the data themselves.

The shorthand nodes are compositions of the grammar's operators, so every result stays inside
it: square t = t t (mul), inv t = 1 / t (div), t^c = exp(c log t) (exp and log, or pow).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import NamedTuple, Protocol

import numpy as np
from scipy.optimize import least_squares

#: Values a free constant takes on the screening grid (an exponent: ``EXPONENTS``).
GRID = np.array([-4.0, -2.0, -1.0, -0.5, -0.25, 0.25, 0.5, 1.0, 2.0, 4.0])
#: A finer grid (ratios of 1.5 and 4/3 between neighbours), for targets that are cheap to screen
#: and exact enough that a constant between the coarse grid's values ranks a law below look-alikes.
FINE_GRID = np.array([-4.0, -3.0, -2.0, -1.5, -1.0, -0.75, -0.5, -0.25, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0])
EXPONENTS = np.array([-3.0, -2.5, -2.0, -1.5, -1.0, -0.5, 0.5, 1.5, 2.5, 3.0])
SCREEN = 256  # samples each tree is screened on (all are used to refine)
STEP = 1e-4  # relative step of the central differences of a potential's derivative

Tree = tuple  # ("x",), ("c",), (unary, t) or (binary, t1, t2): unary exp log sqrt square inv, binary add sub mul div pow
SCALES = ("sqrt", "square", "inv", "pow")  # c t inside these moves outside at no cost


def grammar(operators: list[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The unary and binary nodes that the search grammar's operators can write."""
    ops = set(operators)
    unary = [u for u in ("exp", "log", "sqrt") if u in ops]
    if "mul" in ops:
        unary.append("square")
    if "div" in ops or "inv" in ops:
        unary.append("inv")
    binary = [b for b in ("add", "sub", "mul", "div") if b in ops]
    if "pow" in ops or {"exp", "log"} <= ops:
        binary.append("pow")
    return tuple(unary), tuple(binary)


def _consts(t: Tree) -> int:
    return 1 if t[0] == "c" else sum(_consts(a) for a in t[1:])


def _allowed_unary(u: str, t: Tree) -> bool:
    """False where u(t) is another tree of the same size or less (or a constant)."""
    if t[0] == "c":
        return False
    inner = t[0]
    inverse = {("exp", "log"), ("log", "exp"), ("sqrt", "square"), ("square", "sqrt"), ("inv", "inv")}
    if (u, inner) in inverse or (u == "log" and inner in SCALES) or (u in SCALES and inner == "pow"):
        return False
    if (u, inner) in {("square", "inv"), ("sqrt", "inv")}:  # written inv(square t), inv(sqrt t)
        return False
    if inner == "mul" and t[1][0] == "c" and (u in SCALES or u == "log"):
        return False  # u(c t) = c' u(t)
    if inner == "add" and t[1][0] == "c" and u == "exp":
        return False  # exp(c + t) = c' exp(t)
    return True


def _allowed_binary(b: str, l: Tree, r: Tree) -> bool:
    """False where b(l, r) is another tree of the same size or less, or two constants meet."""
    if b == "pow":
        return l[0] not in ("c", "pow", "inv", "sqrt", "square") and r[0] == "c" and not (
            l[0] == "mul" and l[1][0] == "c")
    if r[0] == "c" or (l[0] == "c" and b not in ("add", "mul")):
        return False  # a constant operand is written first, and only in c + t and c t
    if l[0] == "c":
        return r[0] != b or r[1][0] != "c"  # c + (c + t), c (c t)
    if b in ("add", "mul") and repr(l) > repr(r):
        return False  # commutative: one order
    if l == r:
        return b not in ("sub", "div", "mul")  # 0, 1 and square t
    if b == "div" and (r[0] == "inv" or l[0] == "inv"):
        return False
    return True


@lru_cache(maxsize=8)
def trees(size: int, constants: int, unary: tuple[str, ...], binary: tuple[str, ...]) -> tuple[tuple[Tree, ...], ...]:
    """Every tree of each size 1..``size`` (index size - 1) with at most ``constants`` constants."""
    by_size: list[list[Tree]] = [[("x",), ("c",)] if constants else [("x",)]]
    for n in range(2, size + 1):
        out = []
        for t in by_size[n - 2]:
            out += [(u, t) for u in unary if _allowed_unary(u, t)]
        for i in range(1, n - 1):
            for l in by_size[i - 1]:
                for r in by_size[n - 2 - i]:
                    if _consts(l) + _consts(r) > constants:
                        continue
                    out += [(b, l, r) for b in binary if _allowed_binary(b, l, r)]
        by_size.append(out)
    return tuple(tuple(level) for level in by_size)


#: Each node as a numpy function and as text (sympy-readable).
NUMPY = {"exp": np.exp, "log": np.log, "sqrt": np.sqrt, "square": np.square, "inv": np.reciprocal,
         "add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide, "pow": np.power}
WRITTEN = {"exp": "exp({})", "log": "log({})", "sqrt": "sqrt({})", "square": "({})**2", "inv": "1/({})",
           "add": "({})+({})", "sub": "({})-({})", "mul": "({})*({})", "div": "({})/({})", "pow": "({})**({})"}


def _fold(t: Tree, variable, constants, node):
    """t with the variable and its constants (in order) put in and each node applied by ``node``."""
    it = iter(constants)

    def walk(t):
        if t[0] == "x":
            return variable
        if t[0] == "c":
            return next(it)
        return node(t[0], *[walk(a) for a in t[1:]])

    return walk(t)


def evaluate(t: Tree, x: np.ndarray, theta, derivative: bool = False) -> np.ndarray:
    """The tree's values at x, or (``derivative``) its derivative by central differences;
    ``theta`` holds its constants in order (arrays broadcast)."""
    with np.errstate(all="ignore"):
        if derivative:
            up, down = (_fold(t, x * (1 + h), theta, lambda op, *args: NUMPY[op](*args)) for h in (STEP, -STEP))
            return (up - down) / (2 * STEP * x)
        return _fold(t, x, theta, lambda op, *args: NUMPY[op](*args))


def _exponent_slots(t: Tree) -> list[bool]:
    """For each constant in order: is it an exponent (t^c)?"""
    if t[0] == "c":
        return [False]
    if t[0] == "pow":
        return _exponent_slots(t[1]) + [True]
    return [s for a in t[1:] for s in _exponent_slots(a)]


def moments(y: np.ndarray, w: np.ndarray) -> tuple[float, np.ndarray, float]:
    """What ``scaled_loss`` needs of the samples y and their weights w, whatever the trees: the
    weights' sum, the weighted residuals w (y - mean) and the weighted variance (computed once
    per target, not once per tree)."""
    with np.errstate(all="ignore"):
        ym = np.average(y, weights=w)
        return w.sum(), w * (y - ym), np.average((y - ym) ** 2, weights=w)


def scaled_loss(F: np.ndarray, w: np.ndarray, target: tuple[float, np.ndarray, float]) -> np.ndarray:
    """Mean (``w``-weighted, weights of mean 1) squared error of the best a f + b for each row f
    of F against the samples whose ``moments`` are ``target`` (inf where f is not finite or
    constant)."""
    total, centred, var = target
    with np.errstate(all="ignore"):
        fm = (F @ w / total)[..., None]
        fc = F - fm
        vf = (fc * fc) @ w / total
        cov = fc @ centred / total
        loss = var - cov * cov / vf
    return np.where(np.isfinite(loss) & (vf > 1e-12 * max(var, 1e-300)), np.maximum(loss, 0.0), np.inf)


class Target(Protocol):
    """What a tree is scored against: ``x`` the variable at each sample; ``losses`` the loss of
    the best linear use of each row of values F [T, len(x)]; ``fit`` the coefficients of the
    best linear use of one tree's values (its scale first, then its offset) and the weighted
    residuals; ``failed`` the residuals that stand for a tree not finite at some sample;
    ``screen`` the subset a tree is first screened on."""

    x: np.ndarray

    def losses(self, F: np.ndarray) -> np.ndarray: ...

    def fit(self, f: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...

    def failed(self) -> np.ndarray: ...

    def screen(self, rng: np.random.Generator) -> Target: ...


@dataclass
class Values:
    """Samples y(x) of a function, squared errors weighted by w (mean 1): a tree f is a f + b."""

    x: np.ndarray
    y: np.ndarray
    w: np.ndarray

    @cached_property
    def _moments(self) -> tuple[float, np.ndarray, float]:
        return moments(self.y, self.w)

    def losses(self, F: np.ndarray) -> np.ndarray:
        return scaled_loss(F, self.w, self._moments)

    def fit(self, f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        a, b, resid = _linear(f, self.y, self.w)
        return np.array([a, b]), resid

    def failed(self) -> np.ndarray:
        return np.full_like(self.y, 1e6 * (np.std(self.y) + 1.0))

    def screen(self, rng: np.random.Generator) -> Values:
        sub = rng.choice(len(self.x), min(SCREEN, len(self.x)), replace=False)
        return Values(self.x[sub], self.y[sub], self.w[sub])


def _linear_top(t: Tree) -> bool:
    """Is t a constant, or a scale or offset on top of a tree (the linear fit's a and b)?"""
    return t[0] == "c" or (t[0] in ("add", "mul") and t[1][0] == "c")


def _on_grid(t: Tree, x: np.ndarray, derivative: bool, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The tree's values at x [T, len(x)] for every point of its constants' grid [T, constants]
    (one row, no constants, for a tree without them)."""
    slots = _exponent_slots(t)
    if not slots:
        return np.zeros((1, 0)), evaluate(t, x, (), derivative)[None, :]
    axes = np.meshgrid(*[EXPONENTS if e else grid for e in slots], indexing="ij")
    theta = np.stack([a.ravel() for a in axes], axis=1)
    return theta, np.broadcast_to(evaluate(t, x[None, :], [theta[:, [k]] for k in range(len(slots))], derivative),
                                  (len(theta), len(x)))


def _screen(t: Tree, target: Target, derivative: bool, grid: np.ndarray = GRID) -> tuple[float, np.ndarray]:
    """The tree's best loss on the constants' grid and the constants that give it."""
    theta, F = _on_grid(t, target.x, derivative, grid)
    losses = target.losses(F)
    best = int(np.argmin(losses))
    return float(losses[best]), theta[best]


def _linear(f: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[float, float, np.ndarray]:
    """The weighted least-squares a, b of y ~ a f + b and the weighted residuals."""
    root = np.sqrt(w)
    A = np.column_stack([f, np.ones_like(f)]) * root[:, None]
    (a, b), *_ = np.linalg.lstsq(A, y * root, rcond=None)
    return float(a), float(b), root * (y - a * f - b)


def _refine(t: Tree, target: Target, start: np.ndarray, derivative: bool) -> tuple[float, np.ndarray]:
    """Levenberg-Marquardt on the constants, the linear coefficients solved at each step."""
    x = target.x

    def resid(theta):
        f = evaluate(t, x, theta, derivative)
        if not np.all(np.isfinite(f)):
            return target.failed()
        return target.fit(f)[1]

    if len(start) == 0:
        return float(target.losses(evaluate(t, x, (), derivative)[None, :])[0]), start
    try:
        fit = least_squares(resid, start, method="lm", max_nfev=200 * (len(start) + 1))
        theta = fit.x
    except (ValueError, np.linalg.LinAlgError):
        theta = start
    return float(target.losses(evaluate(t, x, theta, derivative)[None, :])[0]), theta


def text(t: Tree, theta, name: str) -> str:
    """The tree as sympy-readable text, its constants written in."""
    return _fold(t, name, [repr(float(c)) for c in theta], lambda op, *args: WRITTEN[op].format(*args))


class Member(NamedTuple):
    """One refined tree: a f(x; theta) + b (a f'(x; theta) + b for a potential's derivative)."""

    size: int
    loss: float  # mean (weighted) squared error
    tree: Tree
    theta: np.ndarray
    a: float
    b: float
    rest: tuple = ()  # the target's further linear coefficients (``Target.fit`` after a and b)


def search(x: np.ndarray, y: np.ndarray, operators: list[str], size: int = 7, constants: int = 2,
           refine: int = 6, seed: int = 0, weights: np.ndarray | None = None,
           derivative: bool = False) -> list[Member]:
    """The best ``refine`` trees of each size up to ``size`` nodes as a f(x) + b (``derivative``:
    a f'(x) + b), refined, by size then loss (the caller keeps its front, after dropping members
    it cannot use). ``weights`` weight each sample's squared error."""
    w = np.ones(len(x)) if weights is None else np.asarray(weights, float)
    ok = np.isfinite(x) & np.isfinite(y) & np.isfinite(w) & (w > 0)
    target = Values(np.asarray(x, float)[ok], np.asarray(y, float)[ok], w[ok] / w[ok].mean())
    return search_target(target, operators, size, constants, refine, seed, derivative)


def search_target(target: Target, operators: list[str], size: int = 7, constants: int = 2,
                  refine: int = 6, seed: int = 0, derivative: bool = False,
                  grid: np.ndarray = GRID) -> list[Member]:
    """``search`` against any ``Target``: every tree screened on ``target.screen`` (its constants
    on ``grid``), the best ``refine`` of each size refined on the whole target."""
    unary, binary = grammar(operators)
    screen = target.screen(np.random.default_rng(seed))
    out = []
    for n, level in enumerate(trees(size, constants, unary, binary), start=1):
        # a scale or offset at the top is the linear a and b
        top = [t for t in level if not _linear_top(t)]
        screened = sorted(((*_screen(t, screen, derivative, grid), i) for i, t in enumerate(top)), key=lambda s: s[0])
        found = []
        for loss, start, i in screened[:refine]:
            if not np.isfinite(loss):
                continue
            full, theta = _refine(top[i], target, start, derivative)
            if not np.isfinite(full):
                continue
            coef, _ = target.fit(evaluate(top[i], target.x, theta, derivative))
            found.append(Member(n, full, top[i], theta, float(coef[0]), float(coef[1]), tuple(map(float, coef[2:]))))
        out += sorted(found, key=lambda m: m.loss)
    return out


class Pair(NamedTuple):
    """Two refined trees as one law: a f(x; theta_f) + c h(x; theta_h) + b."""

    size: int  # both trees' nodes and the sum's
    loss: float
    trees: tuple[Tree, Tree]
    thetas: tuple[np.ndarray, np.ndarray]
    coef: np.ndarray  # a, c, then the target's further coefficients (the offset b first)


def pair_search(target, operators: list[str], size: int = 4, constants: int = 1, keep: int = 3,
                seed: int = 0, derivative: bool = False, grid: np.ndarray = GRID) -> list[Pair]:
    """Every sum of two trees of up to ``size`` nodes (at most ``constants`` constants each, on
    ``grid``), their two scales solved linearly: a law of two terms of different shape whose
    relative strength no grid holds (r - 2.5 e^-r, r + r^3 / 2) is seven or more nodes with a
    constant between two terms, which a grid screen ranks below look-alikes. Each tree-and-grid
    point is a library column; a pair's loss is the data's squared norm minus what two unit
    columns explain (from their overlap, all pairs at once); the best ``keep`` pairs of each
    size are refined (Levenberg-Marquardt on their constants, the scales solved at each step).
    ``target`` must also ``project`` values (the fixed columns projected out; ``py``) and say
    its loss divisor (``count``), as ``calibrate.TermData`` does."""
    unary, binary = grammar(operators)
    screen = target.screen(np.random.default_rng(seed))
    library: list[tuple[Tree, np.ndarray, int]] = []
    columns = []
    for n, level in enumerate(trees(size, constants, unary, binary), start=1):
        for t in level:
            if _linear_top(t):
                continue
            theta, F = _on_grid(t, screen.x, derivative, grid)
            ok = np.isfinite(F).all(axis=1)
            library += [(t, th, n) for th in theta[ok]]
            columns.append(F[ok])
    if len(library) < 2:
        return []
    with np.errstate(all="ignore"):
        P = screen.project(np.concatenate(columns))
        norm = np.sqrt((P * P).sum(axis=1))
        usable = np.isfinite(norm) & (norm > 1e-9 * (np.sqrt(screen.py @ screen.py) + 1e-300))
        idx = np.flatnonzero(usable)
        U = P[idx] / norm[idx, None]
        b = U @ screen.py
        G = np.clip(U @ U.T, -1.0, 1.0)
        explained = (b[:, None] ** 2 + b[None, :] ** 2 - 2 * b[:, None] * b[None, :] * G) / (1 - G * G)
    loss = (float(screen.py @ screen.py) - explained) / screen.count
    loss[np.tril_indices(len(idx))] = np.inf  # each unordered pair once
    loss[~np.isfinite(loss) | (1 - G * G < 1e-6)] = np.inf  # (nearly) one column twice
    sizes = np.array([library[i][2] for i in idx])
    total = sizes[:, None] + sizes[None, :] + 1
    out = []
    for n in np.unique(total):
        flat = np.where(total == n, loss, np.inf).ravel()
        for k in np.argsort(flat, kind="stable")[:keep]:
            if not np.isfinite(flat[k]):
                break
            i, j = (idx[q] for q in np.unravel_index(k, loss.shape))
            refined = _refine_pair(library[i][:2], library[j][:2], target, derivative)
            if refined is not None:
                out.append(Pair(int(n), *refined))
    return sorted(out, key=lambda p: (p.size, p.loss))


def _refine_pair(first, second, target, derivative: bool):
    """Both trees' constants by Levenberg-Marquardt (the scales solved at each step): (loss,
    trees, thetas, coefficients), or None where the pair is not finite on the target."""
    (t1, th1), (t2, th2) = first, second
    cut = len(th1)

    def values(theta):
        with np.errstate(all="ignore"):
            return np.column_stack([evaluate(t1, target.x, theta[:cut], derivative),
                                    evaluate(t2, target.x, theta[cut:], derivative)])

    def resid(theta):
        f = values(theta)
        return target.fit(f)[1] if np.isfinite(f).all() else target.failed()

    theta = np.concatenate([th1, th2])
    if len(theta):
        try:
            theta = least_squares(resid, theta, method="lm", max_nfev=100 * (len(theta) + 1)).x
        except (ValueError, np.linalg.LinAlgError):
            pass
    f = values(theta)
    if not np.isfinite(f).all():
        return None
    coef, r = target.fit(f)
    if not np.isfinite(coef).all():
        return None
    return float(r @ r) / target.count, (t1, t2), (theta[:cut], theta[cut:]), coef


def front(members: list[tuple]) -> list[tuple]:
    """The members that lower the loss of every smaller one (size, loss first in each)."""
    out = []
    for m in sorted(members, key=lambda m: (m[0], m[1])):
        if not out or m[1] < out[-1][1]:
            out.append(m)
    return out
