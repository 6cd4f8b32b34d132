"""The search that builds one front (the method's second step): a search engine's runs, or in
one variable an exhaustive search of every short expression, each member's simpler variants
refitted (symdistill.distill.simplify), all on one engine-neutral complexity."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import sympy as sp

from symdistill.core.expr import ExpressionError, parse_expression
from symdistill.distill import exhaustive, simplify
from symdistill.distill.candidates import Candidate, pareto
from symdistill.distill.engines import SearchContext, to_sympy_string
from symdistill.distill.settings import SRSettings

#: the extra search variable log r (``symbolic.log_r``), replaced by log(r) in every member
LOG_R = "log_r"
TIES = 3  # members off an exhaustive front passed on to the data choice (the lowest losses)


def trimmed(y: np.ndarray, keep: float) -> np.ndarray:
    """Mask keeping the ``keep`` fraction of y closest to its median (drops heavy-tail outliers)."""
    if keep >= 1:
        return np.ones(len(y), dtype=bool)
    dev = np.abs(y - np.median(y))
    return dev <= np.quantile(dev, keep)


def evaluate(text: str, names: list[str], X: np.ndarray) -> np.ndarray:
    """An expression's values on the rows of X (columns named ``names``)."""
    fn = sp.lambdify([sp.Symbol(n, real=True) for n in names], parse_expression(text, names), "numpy")
    with np.errstate(all="ignore"):
        return np.broadcast_to(np.asarray(fn(*X.T), dtype=float), (len(X),)).astype(float)


def is_exhaustive(names: list[str], s: SRSettings) -> bool:
    """Is a search on these variables exhaustive (``s.exhaustive``: one variable) rather than the engine's?"""
    return bool(s.exhaustive) and len(names) == 1


def with_potential(force: sp.Expr, potential: sp.Expr, names: list[str], loss: float = np.nan,
                   origin: str = "") -> Candidate:
    """A radial law g = -dU/dr that carries its pair potential U (calibrated as a potential, its
    constants tied as U has them), scored with the smaller of its force's complexity and U's plus
    one (the derivative). Raises ExpressionError outside the grammar."""
    text, u = to_sympy_string(str(force), names), to_sympy_string(str(potential), names)
    return Candidate(min(simplify.complexity(parse_expression(text, names)),
                         simplify.complexity(parse_expression(u, names)) + 1),
                     text, search_loss=loss, origin=origin, potential=u)


def exhaustive_candidates(x: np.ndarray, y: np.ndarray, name: str, s: SRSettings,
                          weights: np.ndarray | None = None,
                          derivative: bool = False) -> tuple[list[Candidate], list[Candidate]]:
    """An exhaustive search in one variable (``symdistill.distill.exhaustive``) as candidates:
    the laws a f(x) + b and (``derivative``: y is a force) the forces a f'(x) + b of the
    potentials -(a f(x) + b x), each carrying its potential. Returns the front over both, and
    off it the best tree of each size and kind whose loss is within ``s.loss_tolerance`` x the
    lowest: the messages' errors are the network's, not independent noise, and on them a
    look-alike can fit a little better than the law itself (the screened law in 2-D: 0.0443
    against 0.0448); the data choice, not the messages, tells such members apart."""
    variable = sp.Symbol(name, real=True)
    usable: list[tuple[Candidate, tuple[bool, int]]] = []  # and its kind: (a potential's force?, tree size)
    for is_potential in (False, True) if derivative else (False,):
        # a potential's derivative is one node more: U of size - 1 nodes is a law of size nodes
        for m in exhaustive.search(x, y, s.operators, s.exhaustive - is_potential, seed=s.seed, weights=weights,
                                   derivative=is_potential):
            try:  # a fitted exponent may leave the grammar (r^-150): not a usable law
                f = parse_expression(exhaustive.text(m.tree, m.theta, name), [name])
                if is_potential:
                    c = with_potential(m.a * sp.diff(f, variable) + m.b, -(m.a * f + m.b * variable), [name], m.loss)
                else:
                    c = Candidate(simplify.complexity(m.a * f + m.b),
                                  to_sympy_string(f"{m.a!r}*({exhaustive.text(m.tree, m.theta, name)}) + {m.b!r}", [name]),
                                  search_loss=m.loss)
            except (ExpressionError, ValueError, TypeError):
                continue
            usable.append((replace(c, loss=c.search_loss), (is_potential, m.size)))
    if not usable:
        return [], []
    on_front = [m[2] for m in exhaustive.front([(c.complexity, c.loss, c) for c, _ in usable])]
    lowest = min(c.loss for c, _ in usable)
    ties: dict[tuple, Candidate] = {}
    for c, kind in usable:
        if c.loss <= s.loss_tolerance * lowest and not any(c is k for k in on_front):
            if kind not in ties or c.loss < ties[kind].loss:
                ties[kind] = c
    best = sorted(ties.values(), key=lambda c: c.loss)[:TIES]
    return on_front, [replace(c, tied=True) for c in best]


def refined_front(found: list[Candidate], X: np.ndarray, y: np.ndarray, names: list[str], s: SRSettings,
                  weights: np.ndarray | None = None, direct: list[Candidate] = (),
                  back: dict | None = None) -> list[Candidate]:
    """The front (by search loss) over the constant model, ``direct`` members kept as they are,
    and every ``found`` member with (``s.simplify``) its backward eliminations and rounded
    exponents refitted on all samples (symdistill.distill.simplify), all scored with one
    engine-neutral complexity; ``back`` maps extra search variables back (log r). The constant
    model heads the front, so the first real member's score says how much it explains."""
    w = np.ones(len(y)) if weights is None else weights / np.mean(weights)
    pool = [Candidate(1, f"{float(np.average(y, weights=w)):.6g}",
                      search_loss=float(np.average((y - np.average(y, weights=w)) ** 2, weights=w))), *direct]
    symbols = [sp.Symbol(n, real=True) for n in names]
    for c in found:
        expr = c.sympy.xreplace({sym: sp.Symbol(sym.name, real=True) for sym in c.sympy.free_symbols}).xreplace(back or {})
        for e, mse in simplify.variants(expr, symbols, X, y) if s.simplify else [(expr, c.search_loss)]:
            try:  # read back, a member may leave the grammar (r^121 from exp(121 log r)): not a usable law
                text = to_sympy_string(str(e), names)
            except ExpressionError:
                continue
            if weights is not None:  # the losses the front compares are weighted alike
                mse = float(np.average((y - evaluate(text, names, X)) ** 2, weights=w))
                if not np.isfinite(mse):
                    continue
            pool.append(Candidate(simplify.complexity(e), text, search_loss=mse))
    return pareto(pool, by="search")


def search_front(engine, X: np.ndarray, y: np.ndarray, names: list[str], s: SRSettings,
                 context: SearchContext = SearchContext(), weights: np.ndarray | None = None,
                 derivative: bool = False) -> list[Candidate]:
    """The Pareto front of ``s.restarts`` searches (seeds s.seed, s.seed + 1, ...) merged and
    refined (``refined_front``).

    With ``s.log_r`` (and a distance column r) the searches also see log r as a variable
    (``LOG_R``): a power r^p is then exp(p log r), two nodes like an exponential e^(-k r) =
    exp(-k r), where it otherwise needs a chain of products or exp(p log(c r)). Members are
    read back with log r in place of the variable (sympy writes exp(p log r) as r^p).

    With ``s.exhaustive`` a search in one variable (a separable term g_k(r)) is exhaustive
    instead (``exhaustive_candidates``): every expression up to that many nodes, its constants
    fitted, so a short law is on the front whether or not a population found it; its losses
    are ``weights``-weighted, ``derivative`` adds the forces of short potentials, and the
    members that tie with the best follow the front (marked ``tied``)."""
    found: list[Candidate] = []
    direct: list[Candidate] = []  # members that keep their form (a potential's force)
    ties: list[Candidate] = []
    logged = s.log_r and "r" in names
    Xs, search_names = (np.column_stack([X, np.log(X[:, names.index("r")])]), [*names, LOG_R]) if logged else (X, names)
    if is_exhaustive(names, s):  # every short law, not a sample
        front, ties = exhaustive_candidates(X[:, 0], y, names[0], s, weights, derivative)
        found += [c for c in front if c.potential is None]
        direct += [c for c in front if c.potential is not None]
    else:
        for k in range(max(1, s.restarts)):
            found += engine.search(Xs, y, search_names, replace(s, seed=s.seed + k), context)
    if not found and not direct:
        return []
    back = {sp.Symbol(LOG_R, real=True): sp.log(sp.Symbol("r", real=True))} if logged else None
    front = refined_front(found, X, y, names, s, weights, direct, back)
    seen = {c.expression for c in front}
    return front + [c for c in ties if c.expression not in seen]
