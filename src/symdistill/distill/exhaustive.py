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

The shorthand nodes are compositions of the grammar's operators, so every result stays inside
it: square t = t t (mul), inv t = 1 / t (div), t^c = exp(c log t) (exp and log, or pow).
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import numpy as np
from scipy.optimize import least_squares

#: Values a free constant takes on the screening grid (an exponent: ``EXPONENTS``).
GRID = np.array([-4.0, -2.0, -1.0, -0.5, -0.25, 0.25, 0.5, 1.0, 2.0, 4.0])
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


def scaled_loss(F: np.ndarray, y: np.ndarray, w: np.ndarray | None = None) -> np.ndarray:
    """Mean (``w``-weighted, weights of mean 1) squared error of the best a f + b for each row f
    of F (inf where f is not finite or constant)."""
    w = np.ones(len(y)) if w is None else w
    with np.errstate(all="ignore"):
        ym = np.average(y, weights=w)
        fm = (F @ w / w.sum())[..., None]
        fc = F - fm
        vf = (fc * fc) @ w / w.sum()
        cov = fc @ (w * (y - ym)) / w.sum()
        loss = np.average((y - ym) ** 2, weights=w) - cov * cov / vf
    vy = max(np.average((y - ym) ** 2, weights=w), 1e-300)
    return np.where(np.isfinite(loss) & (vf > 1e-12 * vy), np.maximum(loss, 0.0), np.inf)


def _screen(t: Tree, x: np.ndarray, y: np.ndarray, w: np.ndarray, derivative: bool) -> tuple[float, np.ndarray]:
    """The tree's best loss on the constants' grid and the constants that give it."""
    slots = _exponent_slots(t)
    if not slots:
        return float(scaled_loss(evaluate(t, x, (), derivative)[None, :], y, w)[0]), np.zeros(0)
    axes = np.meshgrid(*[EXPONENTS if e else GRID for e in slots], indexing="ij")
    theta = np.stack([a.ravel() for a in axes], axis=1)
    F = np.broadcast_to(evaluate(t, x[None, :], [theta[:, [k]] for k in range(len(slots))], derivative),
                        (len(theta), len(x)))
    losses = scaled_loss(F, y, w)
    best = int(np.argmin(losses))
    return float(losses[best]), theta[best]


def _linear(f: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[float, float, np.ndarray]:
    """The weighted least-squares a, b of y ~ a f + b and the weighted residuals."""
    root = np.sqrt(w)
    A = np.column_stack([f, np.ones_like(f)]) * root[:, None]
    (a, b), *_ = np.linalg.lstsq(A, y * root, rcond=None)
    return float(a), float(b), root * (y - a * f - b)


def _refine(t: Tree, x: np.ndarray, y: np.ndarray, w: np.ndarray, start: np.ndarray,
            derivative: bool) -> tuple[float, np.ndarray]:
    """Levenberg-Marquardt on the constants, the scale and offset solved linearly at each step."""

    def resid(theta):
        f = evaluate(t, x, theta, derivative)
        if not np.all(np.isfinite(f)):
            return np.full_like(y, 1e6 * (np.std(y) + 1.0))
        return _linear(f, y, w)[2]

    if len(start) == 0:
        return float(scaled_loss(evaluate(t, x, (), derivative)[None, :], y, w)[0]), start
    try:
        fit = least_squares(resid, start, method="lm", max_nfev=200 * (len(start) + 1))
        theta = fit.x
    except (ValueError, np.linalg.LinAlgError):
        theta = start
    return float(scaled_loss(evaluate(t, x, theta, derivative)[None, :], y, w)[0]), theta


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


def search(x: np.ndarray, y: np.ndarray, operators: list[str], size: int = 7, constants: int = 2,
           refine: int = 6, seed: int = 0, weights: np.ndarray | None = None,
           derivative: bool = False) -> list[Member]:
    """The best ``refine`` trees of each size up to ``size`` nodes as a f(x) + b (``derivative``:
    a f'(x) + b), refined, by size then loss (the caller keeps its front, after dropping members
    it cannot use). ``weights`` weight each sample's squared error."""
    unary, binary = grammar(operators)
    w = np.ones(len(x)) if weights is None else np.asarray(weights, float)
    ok = np.isfinite(x) & np.isfinite(y) & np.isfinite(w) & (w > 0)
    x, y, w = np.asarray(x, float)[ok], np.asarray(y, float)[ok], w[ok] / w[ok].mean()
    rng = np.random.default_rng(seed)
    sub = rng.choice(len(x), min(SCREEN, len(x)), replace=False)
    xs, ys, ws = x[sub], y[sub], w[sub]
    out = []
    for n, level in enumerate(trees(size, constants, unary, binary), start=1):
        # a scale or offset at the top is the linear a and b
        top = [t for t in level if t[0] != "c" and not (t[0] in ("add", "mul") and t[1][0] == "c")]
        screened = sorted(((*_screen(t, xs, ys, ws, derivative), i) for i, t in enumerate(top)), key=lambda s: s[0])
        found = []
        for loss, start, i in screened[:refine]:
            if not np.isfinite(loss):
                continue
            full, theta = _refine(top[i], x, y, w, start, derivative)
            if not np.isfinite(full):
                continue
            a, b, _ = _linear(evaluate(top[i], x, theta, derivative), y, w)
            found.append(Member(n, full, top[i], theta, a, b))
        out += sorted(found, key=lambda m: m.loss)
    return out


def front(members: list[tuple]) -> list[tuple]:
    """The members that lower the loss of every smaller one (size, loss first in each)."""
    out = []
    for m in sorted(members, key=lambda m: (m[0], m[1])):
        if not out or m[1] < out[-1][1]:
            out.append(m)
    return out
