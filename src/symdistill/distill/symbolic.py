"""Symbolic regression on message components, behind one engine interface.

An engine turns (X, y, variable names, settings, context) into a Pareto front of candidates
(complexity, loss, expression text). Engines are registered by name in ``ENGINES``; adding one
means writing a class with ``check`` and ``search`` methods and decorating it with ``@register``.
``SearchContext`` holds what some engines need besides data: the component index and the trained
model's path (an engine with ``reads_model``, such as EQL, reads its formula out of the model,
one component at a time, so the central structure's single radial search does not apply to it).
Whatever text an engine returns goes through the restricted parser before it is used.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import os
import shutil
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import sympy as sp

from symdistill.core.cli import errors, parser
from symdistill.core.edges import edge_columns, spatial_columns
from symdistill.core.expr import ExpressionError, parse_expression
from symdistill.core.fit import least_squares
from symdistill.core.laws import SOFTENING
from symdistill.core.provenance import MESSAGES, SELECTION, atomic_path, record_inputs, source_fingerprint, versions
from symdistill.core.schema import enum, settings_json, stage_settings
from symdistill.distill import calibrate, central, exhaustive, separable, simplify

#: Engine-neutral operator names -> Operon symbol names.
OPERON_SYMBOLS = {"add": "add", "sub": "sub", "mul": "mul", "div": "div", "exp": "exp",
                  "log": "log", "sqrt": "sqrt", "square": "square", "sin": "sin", "cos": "cos",
                  "tanh": "tanh", "abs": "abs", "pow": "pow",
                  "inv": "div"}  # Operon has no 1/x node; c / x with a fitted constant covers it
#: Engine-neutral operator names -> PySR operators (binary, unary).
PYSR_BINARY = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "^"}
PYSR_UNARY = {"exp": "exp", "log": "log", "sqrt": "sqrt", "square": "square", "sin": "sin",
              "cos": "cos", "tanh": "tanh", "abs": "abs", "inv": "inv"}


@stage_settings("symbolic")
class SRSettings:
    """Search budget, grammar and how a law is chosen (defaults and their meaning: the schema's
    ``symbolic`` section; published: PySR with + * inv exp log, 5,000 samples)."""

    engine: str
    objectives: list[str]
    snr: float
    samples: int
    trim: float
    time_limit: float
    operators: list[str]
    max_length: int
    population_size: int
    optimizer_iterations: int
    generations: int
    eql_term_tol: float
    iterations: int
    structure: str
    choice: str
    loss_tolerance: float
    data_tolerance: float
    calibration_graphs: int
    envelope: bool
    separable: bool
    potential: bool
    log_r: bool
    exhaustive: int
    data_search: bool
    align_keep: float
    simplify: bool
    restarts: int
    seed: int
    threads: int


@dataclass
class Candidate:
    """One law on a front: its complexity, its loss and its expression (sympy text)."""

    complexity: int
    loss: float  # the front's loss: squared error on the messages, or held-out data loss (choice: data)
    expression: str  # sympy string in the edge variables
    message_loss: float | None = None  # mean squared error on the messages, where loss is another
    node_losses: np.ndarray | None = field(default=None, repr=False)  # per held-out node (choice: data)
    origin: str = ""  # which search found it (raw or envelope target)
    info: dict = field(default_factory=dict)  # calibration results, written with the member

    @property
    def sympy(self) -> sp.Expr:
        return sp.sympify(self.expression, locals={})


ENGINES: dict[str, type] = {}


def register(cls):
    """Class decorator: make an engine selectable by its ``name``."""
    ENGINES[cls.name] = cls
    return cls


class EngineUnavailable(RuntimeError):
    """The engine cannot run on this machine; the message says what is missing."""


@dataclass(frozen=True)
class SearchContext:
    """What an engine may need besides the samples: the message component searched (None: the
    radial scalar), the trained model's path, and the edge features' softening of r."""

    component: int | None = None
    model: str | None = None
    softening: float = SOFTENING


def check_engines(names) -> None:
    """Raise EngineUnavailable, saying what to install, unless every named engine can run here
    (the workflow calls this before any job, so a missing engine never costs a training run)."""
    for name in dict.fromkeys(names):
        ENGINES[name].check()


def to_sympy_string(text: str, names) -> str:
    """Parse an engine's expression text safely and return it as a sympy string."""
    return str(parse_expression(text, names, what="engine output"))


@register
class OperonEngine:
    """C++ Operon (pyoperon): multi-objective GP over (R^2, length) with local constant tuning."""

    name = "operon"
    reads_model = False

    @staticmethod
    def check() -> None:
        if importlib.util.find_spec("pyoperon") is None:
            raise EngineUnavailable("Operon is not installed: pip install 'pyoperon==0.6.2' (a pyproject dependency)")

    def search(self, X: np.ndarray, y: np.ndarray, names: list[str], s: SRSettings,
               context: SearchContext = SearchContext()) -> list[Candidate]:
        from pyoperon.sklearn import SymbolicRegressor

        unknown = sorted(set(s.operators) - set(OPERON_SYMBOLS))
        if unknown:
            raise ValueError(f"symbolic.operators {unknown} not available in Operon; use {sorted(OPERON_SYMBOLS)}")
        symbols = ",".join(dict.fromkeys([OPERON_SYMBOLS[o] for o in s.operators] + ["constant", "variable"]))
        reg = SymbolicRegressor(
            allowed_symbols=symbols, objectives=[s.objectives[0], "length"], max_length=s.max_length,
            population_size=s.population_size, optimizer_iterations=s.optimizer_iterations,
            generations=s.generations or 10**7, max_evaluations=10**12,
            max_time=max(1, int(round(s.time_limit))),
            n_threads=s.threads, random_state=s.seed,
        )
        reg.fit(np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64))
        out = []
        for p in reg.pareto_front_:
            text = reg.get_model_string(p["tree"], 6, names)
            try:
                out.append(Candidate(int(p["complexity"]), float(p["mean_squared_error"]),
                                     to_sympy_string(text, names)))
            except ExpressionError:
                continue  # a formula outside our grammar is not a usable law
        return out


@register
class PySREngine:
    """PySR (Julia SymbolicRegression.jl). Needs a working Julia; never downloads in tests."""

    name = "pysr"
    reads_model = False

    @staticmethod
    def check() -> None:
        """Raise EngineUnavailable unless PySR can run without downloading anything."""
        try:
            if importlib.util.find_spec("pysr") is None:
                raise EngineUnavailable("PySR is not installed: pip install 'symdistill[pysr]'")
        except ImportError as err:
            raise EngineUnavailable(f"PySR cannot be imported: {err}") from None
        julia = os.environ.get("PYTHON_JULIAPKG_EXE") or shutil.which("julia")
        if not julia:
            raise EngineUnavailable(
                "PySR needs Julia, and no Julia is installed here (PySR would try to download it "
                "at first import). Install Julia >= 1.10 and put `julia` on PATH, or point PySR at "
                "an existing one with PYTHON_JULIAPKG_EXE=/path/to/julia (and "
                "PYTHON_JULIAPKG_OFFLINE=yes if its packages are already installed)."
            )

    def search(self, X, y, names, s: SRSettings, context: SearchContext = SearchContext()) -> list[Candidate]:
        self.check()
        from pysr import PySRRegressor

        binary = [PYSR_BINARY[o] for o in s.operators if o in PYSR_BINARY]
        unary = [PYSR_UNARY[o] for o in s.operators if o in PYSR_UNARY]
        reg = PySRRegressor(
            binary_operators=binary, unary_operators=unary, niterations=s.iterations,
            timeout_in_seconds=s.time_limit, maxsize=s.max_length, random_state=s.seed,
            deterministic=True, parallelism="serial", progress=False, verbosity=0,
        )
        reg.fit(X, y, variable_names=names)
        return [Candidate(int(row["complexity"]), float(row["loss"]),
                          to_sympy_string(str(row["sympy_format"]), names))
                for _, row in reg.equations_.iterrows()]


@register
class EQLEngine:
    """Read the law out of a trained GNN+EQL model: its EQL edge network multiplied out."""

    name = "eql"
    reads_model = True

    @staticmethod
    def check() -> None:
        """Always available: it needs only torch, a core dependency."""

    def search(self, X, y, names, s: SRSettings, context: SearchContext = SearchContext()) -> list[Candidate]:
        from symdistill.gnn.eql import INPUT_CLIP, input_exprs
        from symdistill.gnn.models import load_model

        if not context.model or context.component is None:
            raise ValueError("the eql engine needs the trained eql model (--model) and a component")
        model = load_model(context.model)
        if model.variant.edge_model != "eql":
            raise ValueError(f"{context.model} is a {model.cfg.variant!r} model, without an EQL edge model")
        # 6 significant digits, as Operon prints: rollouts of near-equilibrium laws need them
        inputs = input_exprs(model.cfg.eql["inputs"], model.cfg.softening)
        # messages dumped through the node model's read-out W (read_through): component c is row c of W m
        (expr,) = model.edge_model.to_sympy(inputs, [context.component], digits=6,
                                            readout=model.message_readout())
        expr = parse_expression(str(expr), names, what="eql read-out")
        symbols = [sp.Symbol(n, real=True) for n in names]
        # judge terms only where the network was trained to be exact: inside its input clamp
        scale = model.edge_model.in_scale.double().numpy()
        with np.errstate(all="ignore"):
            inputs = np.column_stack([np.broadcast_to(sp.lambdify(symbols, e)(*X.T), len(X)) for e in inputs])
        inside = (np.abs(inputs / scale) <= INPUT_CLIP).all(axis=1)
        X, y = X[inside], y[inside]

        def evaluate(e):
            with np.errstate(all="ignore"):
                return np.broadcast_to(np.asarray(sp.lambdify(symbols, e)(*X.T), dtype=float), y.shape)

        # drop terms that contribute less than s.eql_term_tol of the expression's RMS on the data:
        # products of small surviving weights that the pruning threshold alone leaves behind
        terms = sp.Add.make_args(sp.expand(expr))
        total = np.sqrt(np.mean(evaluate(expr) ** 2))
        kept = [t for t in terms if np.sqrt(np.mean(evaluate(t) ** 2)) >= s.eql_term_tol * total]
        # EQL's round-and-retrain step: monomial exponents to the nearest 1/2; the coefficients
        # are refitted with the term eliminations in search_front
        expr = simplify.snap_exponents(sp.Add(*kept))
        pred = evaluate(expr)
        return [Candidate(int(sp.count_ops(expr)) + len(expr.free_symbols),
                          float(np.mean((pred - y) ** 2)), str(expr))]


def get_engine(name: str):
    if name not in ENGINES:
        raise ValueError(f"unknown symbolic.engine {name!r}; choose from {sorted(ENGINES)}")
    return ENGINES[name]()


def pareto(cands: list[Candidate]) -> list[Candidate]:
    """Non-dominated candidates by (complexity, loss), sorted by complexity."""
    front: list[Candidate] = []
    for c in sorted(cands, key=lambda c: (c.complexity, c.loss)):
        if not front or c.loss < front[-1].loss:
            front.append(c)
    return front


CHOICES = tuple(enum("choice"))
#: a held-out data loss (normalised squared error) below this is the data's own precision: every
#: such law reproduces the data exactly (relative error < 1e-7), so the simplest of them is chosen
EXACT = 1e-14
STRUCTURES = tuple(enum("structure"))


def scores(front: list[Candidate]) -> list[float]:
    """PySR's score per front member: -d log(loss) / d complexity from its simpler neighbour."""
    out, prev = [], None
    for c in front:
        if prev is None:
            out.append(0.0)
        else:
            drop = np.log(max(prev.loss, 1e-300)) - np.log(max(c.loss, 1e-300))
            out.append(float(drop / max(1, c.complexity - prev.complexity)))
        prev = c
    return out


def as_good(losses: np.ndarray | None, best: np.ndarray | None, z: float = 2.0) -> bool:
    """Does a law explain held-out nodes as well as the best one (per-node losses, paired)? Its
    mean loss is not above the best's by more than ``z`` standard errors of the difference, and
    it is not worse on significantly more nodes than it is better (a sign test at ``z``). The
    sign test matters for exact data: a law that misses a few close encounters badly and fits the
    rest exactly has a large mean but also a large spread of the difference, yet it loses on
    almost every node to the law that is exact everywhere."""
    if losses is None or best is None:
        return False
    diff = losses - best
    if not np.isfinite(diff).all():
        return False
    if float(diff.mean()) > z * float(diff.std() / np.sqrt(len(diff))):
        return False
    scale = np.maximum(np.abs(losses), np.abs(best))
    worse, better = int((diff > 1e-9 * scale).sum()), int((diff < -1e-9 * scale).sum())
    return worse - better <= z * np.sqrt(max(worse + better, 1))


def choose(front: list[Candidate], rule: str = "data", tolerance: float = 1.5) -> tuple[Candidate, str]:
    """The chosen member of a front (sorted by complexity) and the reason, by ``rule``:

    "score": the top score over the whole front (Cranmer et al. 2020, no loss threshold);
    "best": the top score among members within ``tolerance`` x the lowest loss (PySR's default);
    "data": on a front of laws calibrated on the data (``loss`` = held-out data loss), the
    simplest member within ``tolerance`` x the lowest loss, or indistinguishable from the
    lowest on the held-out nodes (``as_good``: it explains the held-out data as well).
    """
    if rule not in CHOICES:
        raise ValueError(f"unknown symbolic.choice {rule!r}; choose from {CHOICES}")
    best_loss = min(c.loss for c in front)
    if rule == "data":
        best = min(front, key=lambda c: c.loss)
        for c in front:
            if c.loss <= tolerance * best_loss + EXACT or as_good(c.node_losses, best.node_losses):
                return c, (f"data: simplest with held-out data loss {c.loss:.3g} within {tolerance} x "
                           f"the lowest {best_loss:.3g} or indistinguishable from it node by node")
    sc = scores(front)
    eligible = list(range(len(front)))
    if rule == "best":
        eligible = [i for i, c in enumerate(front) if c.loss <= tolerance * best_loss]
    i = max(eligible, key=lambda i: (sc[i], -i))
    why = (f"{rule}: score {sc[i]:.3g} (largest{' over the whole front' if rule == 'score' else ''}"
           f"{f' among losses <= {tolerance} x {best_loss:.3g}' if rule == 'best' else ''})")
    return front[i], why


def trimmed(y: np.ndarray, keep: float) -> np.ndarray:
    """Mask keeping the ``keep`` fraction of y closest to its median (drops heavy-tail outliers)."""
    if keep >= 1:
        return np.ones(len(y), dtype=bool)
    dev = np.abs(y - np.median(y))
    return dev <= np.quantile(dev, keep)


def describe(c: Candidate) -> dict:
    e = c.sympy
    out = {"complexity": c.complexity, "loss": c.loss, "expression": c.expression, "latex": sp.latex(e)}
    if c.message_loss is not None and np.isfinite(c.message_loss):
        out["message_loss"] = c.message_loss
    return {**out, **({"origin": c.origin} if c.origin else {}), **c.info}


#: the extra search variable log r (``symbolic.log_r``), replaced by log(r) in every member
LOG_R = "log_r"
TIES = 3  # members off an exhaustive front passed on to the data choice (the lowest losses)


def exhaustive_search(engine, names: list[str], s: SRSettings) -> bool:
    """Is a search on these variables exhaustive (``s.exhaustive``: one variable) rather than the engine's?"""
    return bool(s.exhaustive) and len(names) == 1 and not engine.reads_model


def with_potential(force: sp.Expr, potential: sp.Expr, names: list[str], loss: float = np.nan,
                   origin: str = "") -> Candidate:
    """A radial law g = -dU/dr that carries its pair potential U (``info["potential"]``: it is
    calibrated as a potential, its constants tied as U has them), scored with the smaller of
    its force's complexity and U's plus one (the derivative). Raises ExpressionError outside
    the grammar."""
    text, u = to_sympy_string(str(force), names), to_sympy_string(str(potential), names)
    return Candidate(min(simplify.complexity(parse_expression(text, names)),
                         simplify.complexity(parse_expression(u, names)) + 1),
                     loss, text, origin=origin, info={"potential": u})


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
                    c = Candidate(simplify.complexity(m.a * f + m.b), m.loss,
                                  to_sympy_string(f"{m.a!r}*({exhaustive.text(m.tree, m.theta, name)}) + {m.b!r}", [name]))
            except (ExpressionError, ValueError, TypeError):
                continue
            usable.append((c, (is_potential, m.size)))
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
    return on_front, [replace(c, info={**c.info, "tied": True}) for c in best]


def search_front(engine, X: np.ndarray, y: np.ndarray, names: list[str], s: SRSettings,
                 context: SearchContext = SearchContext(), weights: np.ndarray | None = None,
                 derivative: bool = False) -> list[Candidate]:
    """The Pareto front of ``s.restarts`` searches (seeds s.seed, s.seed + 1, ...) merged, with
    (``s.simplify``) every member's backward eliminations and rounded exponents refitted on all
    samples (symdistill.distill.simplify), all scored with one engine-neutral complexity. The constant
    model heads the front, so the first real member's score says how much it explains.

    With ``s.log_r`` (and a distance column r) the searches also see log r as a variable
    (``LOG_R``): a power r^p is then exp(p log r), two nodes like an exponential e^(-k r) =
    exp(-k r), where it otherwise needs a chain of products or exp(p log(c r)). Members are
    read back with log r in place of the variable (sympy writes exp(p log r) as r^p).

    With ``s.exhaustive`` a search in one variable (a separable term g_k(r)) is exhaustive
    instead (``exhaustive_candidates``): every expression up to that many nodes, its constants
    fitted, so a short law is on the front whether or not a population found it; its losses
    are ``weights``-weighted, ``derivative`` adds the forces of short potentials, and the
    members that tie with the best follow the front (marked ``info["tied"]``)."""
    found: list[Candidate] = []
    direct: list[Candidate] = []  # members that keep their form (a potential's force)
    ties: list[Candidate] = []
    logged = s.log_r and "r" in names and not engine.reads_model
    Xs, search_names = (np.column_stack([X, np.log(X[:, names.index("r")])]), [*names, LOG_R]) if logged else (X, names)
    if exhaustive_search(engine, names, s):  # every short law, not a sample
        front, ties = exhaustive_candidates(X[:, 0], y, names[0], s, weights, derivative)
        found += [c for c in front if "potential" not in c.info]
        direct += [c for c in front if "potential" in c.info]
    else:
        for k in range(max(1, s.restarts)):
            found += engine.search(Xs, y, search_names, replace(s, seed=s.seed + k), context)
    if not found and not direct:
        return []
    w = np.ones(len(y)) if weights is None else weights / np.mean(weights)
    pool = [Candidate(1, float(np.average((y - np.average(y, weights=w)) ** 2, weights=w)),
                      f"{float(np.average(y, weights=w)):.6g}")] + direct
    symbols = [sp.Symbol(n, real=True) for n in names]
    back = {sp.Symbol(LOG_R, real=True): sp.log(sp.Symbol("r", real=True))} if logged else {}
    for c in found:
        expr = c.sympy.xreplace({sym: sp.Symbol(sym.name, real=True) for sym in c.sympy.free_symbols}).xreplace(back)
        for e, mse in simplify.variants(expr, symbols, X, y) if s.simplify else [(expr, c.loss)]:
            try:  # read back, a member may leave the grammar (r^121 from exp(121 log r)): not a usable law
                text = to_sympy_string(str(e), names)
            except ExpressionError:
                continue
            if weights is not None:  # the losses the front compares are weighted alike
                mse = float(np.average((y - _evaluate(text, names, X)) ** 2, weights=w))
                if not np.isfinite(mse):
                    continue
            pool.append(Candidate(simplify.complexity(e), mse, text))
    front = pareto(pool)
    seen = {c.expression for c in front}
    return front + [c for c in ties if c.expression not in seen]


def _evaluate(text: str, names: list[str], X: np.ndarray) -> np.ndarray:
    """An expression's values on the rows of X (columns named ``names``)."""
    fn = sp.lambdify([sp.Symbol(n, real=True) for n in names], parse_expression(text, names), "numpy")
    with np.errstate(all="ignore"):
        return np.broadcast_to(np.asarray(fn(*X.T), dtype=float), (len(X),)).astype(float)


def envelope_power(r: np.ndarray, y: np.ndarray, closest: float = 0.2, grid: float = 0.5) -> float:
    """The power k of the short-range envelope |y| ~ r^k, rounded to ``grid``: the slope of
    median log|y| against median log r over five bins of the ``closest`` fraction of edges.

    A law singular at short range (1/r^2, e^-r/r) spans orders of magnitude there, so a
    squared-error search sees only its closest edges; divided by r^k it is of order one
    everywhere. Read from the data alone (the leading power, as dimensional analysis would give)."""
    ok = np.isfinite(y) & (y != 0) & (r > 0)
    r, y = r[ok], np.abs(y[ok])
    if len(r) < 50:
        return 0.0
    near = r <= np.quantile(r, closest)
    edges = np.quantile(r[near], np.linspace(0, 1, 6))
    bins = np.clip(np.searchsorted(edges, r[near], side="right") - 1, 0, 4)
    lr = np.array([np.median(np.log(r[near][bins == b])) for b in range(5) if (bins == b).any()])
    ly = np.array([np.median(np.log(y[near][bins == b])) for b in range(5) if (bins == b).any()])
    if len(lr) < 3 or np.ptp(lr) <= 0:
        return 0.0
    k = float(np.polyfit(lr, ly, 1)[0])
    return float(np.round(k / grid) * grid) if np.isfinite(k) else 0.0


def _times_power(c: Candidate, k: float, r: sp.Symbol) -> Candidate:
    """A member found for y / r^k, as a law for y."""
    power = sp.Integer(int(k)) if float(k).is_integer() else sp.Rational(int(round(2 * k)), 2)
    e = sp.Mul(r**power, c.sympy)
    return Candidate(simplify.complexity(e), c.loss, str(e), origin=c.origin, info=c.info)


def _signal(radial: np.ndarray, noise: np.ndarray, snr: float) -> np.ndarray:
    """Edges whose radial part exceeds ``snr`` x the network's error across dx (all edges when
    fewer than 50 or 5% do)."""
    signal = np.abs(radial) > snr * noise if snr else np.ones(len(radial), dtype=bool)
    if signal.sum() < max(50, 0.05 * len(radial)):
        signal = np.ones(len(radial), dtype=bool)
    return signal


def _message_loss(c: Candidate, names: list[str], S: np.ndarray, radial: np.ndarray,
                  weights: np.ndarray | None = None) -> float | None:
    """Mean (``weights``-weighted) squared error of the best multiple of a law on radial values
    (None if not finite on 99%)."""
    g = _evaluate(c.expression, names, S)
    ok = np.isfinite(g)
    if ok.mean() < 0.99:
        return None
    w = None if weights is None else (weights / np.mean(weights))[ok]
    _, _, resid = least_squares(g[ok, None], radial[ok], weights=w)
    return float(np.mean(resid**2))


def radial_candidates(engine, S: np.ndarray, radial: np.ndarray, noise: np.ndarray, names: list[str],
                      s: SRSettings, context: SearchContext, weights: np.ndarray | None = None,
                      derivative: bool = False) -> list[Candidate]:
    """Fronts for the radial law, merged: searches on it as it is and (``s.envelope``) divided
    by its short-range envelope r^k (``envelope_power``), each with every objective of
    ``s.objectives``, on the edges whose radial part exceeds ``s.snr`` x ``noise`` (the part
    across dx), then trimmed (``s.trim``) in the target's own scale; members are mapped back.
    Every member carries its mean squared error on the raw radial values of those edges
    (``message_loss``, ``weights``-weighted as the exhaustive searches are); duplicates are
    dropped. ``derivative`` (the radial values are a force) adds, in the exhaustive search on
    the raw values, the forces of short potentials (``search_front``)."""
    r_col = S[:, names.index("r")]
    signal = _signal(radial, noise, s.snr)
    targets = {"raw": 0.0}
    k = envelope_power(r_col[signal], radial[signal]) if s.envelope else 0.0
    if k:
        targets[f"r^{k:g} envelope"] = k
    raw_keep = signal & trimmed(radial, s.trim)
    r_sym = sp.Symbol("r", real=True)
    out: dict[str, Candidate] = {}
    exhaustive_only = exhaustive_search(engine, names, s)  # least squares: one objective serves
    objectives = s.objectives[:1] if exhaustive_only else s.objectives
    for label, k in targets.items():
        y = radial * r_col ** -k
        keep = signal & trimmed(y, s.trim) & np.isfinite(y)
        for objective in objectives:
            # y / r^k has errors r^-k times the messages': weighted back by r^2k
            for c in search_front(engine, S[keep], y[keep], names, replace(s, objectives=[objective]), context,
                                  None if weights is None else weights[keep] * r_col[keep] ** (2 * k),
                                  derivative and not k):
                c.origin = f"{label}, {'exhaustive' if exhaustive_only else objective}"
                c = _times_power(c, k, r_sym) if k else c
                c.message_loss = _message_loss(c, names, S[raw_keep], radial[raw_keep],
                                               None if weights is None else weights[raw_keep])
                if c.message_loss is None:
                    continue
                if c.expression not in out or c.complexity < out[c.expression].complexity:
                    out[c.expression] = c
    return sorted(out.values(), key=lambda c: (c.complexity, c.message_loss))


def separable_candidates(engine, S: np.ndarray, radial: np.ndarray, noise: np.ndarray, names: list[str],
                         s: SRSettings, context: SearchContext,
                         derivative: bool = False) -> tuple[list[Candidate], list[dict]]:
    """Laws of the form sum_k phi_k(m, q) g_k(r) (``symdistill.distill.separable``): the factors
    phi_k found numerically, each g_k searched in r alone (``radial_candidates`` on its partial
    residual over phi_k, its errors weighted by phi_k^2, i.e. measured in the messages' scale;
    ``derivative``: also as the force of a short potential), and the terms combined: each
    member of one term's front, and each that ties with its best, with the other terms at their
    front's knee (``choose(..., "best")``); a law whose terms all carry potentials carries their
    sum. Every structure of the forward selection whose terms can all be read on 50 edges is
    searched (a last term may be the network's error, which the data then tell). Returns the
    laws (message losses on the raw radial values) and the structures found, the searched ones
    marked."""
    r_at = names.index("r")
    signal = _signal(radial, noise, s.snr)
    keep = signal & trimmed(radial, s.trim)
    Sk, yk, nk = S[keep], radial[keep], noise[keep]
    found = separable.structures(Sk, yk, names, seed=s.seed)
    tried = [{**st.describe(), "searched": False} for st in found]
    out: dict[str, Candidate] = {}
    for i, st in enumerate(found):
        readable = separable.partial_targets(st, yk)
        if min(m.sum() for m, _ in readable) < 50:
            continue
        tried[i]["searched"] = True
        fronts, members = [], []
        for term, (mask, target) in zip(st.terms, readable):
            own = radial_candidates(engine, Sk[mask][:, [r_at]], target[mask], nk[mask] / np.abs(term.values[mask]),
                                    ["r"], s, context, term.values[mask] ** 2, derivative)
            fronts.append(pareto([replace(c, loss=c.message_loss) for c in own if not c.info.get("tied")]))
            members.append(fronts[-1] + [c for c in own if c.info.get("tied")])
        if not all(fronts):
            continue
        knees = [choose(f, "best", s.loss_tolerance)[0] for f in fronts]
        tried[i]["knees"] = [k.expression for k in knees]
        for t, front in enumerate(members):
            for c in front:
                parts = [c if j == t else knee for j, knee in enumerate(knees)]
                law = sp.Add(*[term.factor * parse_expression(p.expression, ["r"]) for term, p in zip(st.terms, parts)])
                text = to_sympy_string(str(law), names)
                if text in out:
                    continue
                origin = f"separable {' + '.join(str(x.factor) for x in st.terms)}, {c.origin}"
                cand = Candidate(simplify.complexity(parse_expression(text, names)), np.nan, text, origin=origin)
                if all("potential" in p.info for p in parts):
                    try:
                        cand = with_potential(law, sp.Add(*[term.factor * parse_expression(p.info["potential"], ["r"])
                                                            for term, p in zip(st.terms, parts)]), names, origin=origin)
                    except ExpressionError:
                        pass
                cand.message_loss = _message_loss(cand, names, Sk, yk)
                if cand.message_loss is not None:
                    out[text] = cand
    return sorted(out.values(), key=lambda c: (c.complexity, c.message_loss)), tried


def data_candidates(structures: list[dict], names: list[str], dim: int, data: dict, s: SRSettings,
                    S: np.ndarray | None = None, radial: np.ndarray | None = None,
                    potentials: bool = False) -> list[tuple[Candidate, bool]]:
    """Laws whose radial function is searched on the data set's accelerations rather than on the
    messages: for each term phi_k g_k(r) of each separable structure that was searched (its
    factors phi found on the messages), every short g_k (``s.exhaustive`` nodes, as a force and
    as a short potential's derivative) and every sum of two short trees with both scales fitted
    (``exhaustive.pair_search``) is scored by the loss of the law on the accelerations, the
    other terms held at their knees (``calibrate.TermData``). The network gives the structure
    (pairwise, central, which factors); the data tell its radial form among short expressions,
    which messages distorted by a network's errors can hide (a look-alike that fits the
    messages better than the law). Both read-out families are searched (a = sum F / m_i, or the
    summed terms: a factor read on messages that are accelerations lacks the receiver's mass).

    ``potentials``: the structures are a pair energy's, U = sum_k phi_k u_k(r) (knees u_k are
    potentials, held as their forces -phi_k u_k'); each term is searched as a short potential,
    in the family a = F / m_i of Hamilton's equations, and every law carries its U.
    Returns each search's front as laws (message losses on ``S``, ``radial`` where given), each
    with its family (divided by the receiver's mass?)."""
    searched = [st for st in structures if st.get("searched") and "knees" in st]
    if not searched:
        return []
    frames = data["train"]
    symbols = [sp.Symbol(c, real=True) for c in edge_columns(dim)]
    r = sp.Symbol("r", real=True)
    families = (True,) if potentials else (True, False)
    kinds = (True,) if potentials else (False, True)

    def per_edge(expr: sp.Expr) -> np.ndarray:
        with np.errstate(all="ignore"):
            values = sp.lambdify(symbols, expr, "numpy")(*frames.columns)
        return np.array(np.broadcast_to(np.asarray(values, dtype=float), frames.columns[0].shape))

    out: dict[tuple[str, bool], tuple[Candidate, bool]] = {}
    for st in searched:
        factors = [parse_expression(f, names) for f in st["factors"]]
        knees = [parse_expression(k, ["r"]) for k in st["knees"]]
        label = f"data, separable {' + '.join(st['factors'])}"
        for t, factor in enumerate(factors):
            held_terms = [factors[j] * knees[j] for j in range(len(factors)) if j != t]  # as U has them
            others = [calibrate.potential_force(h) for h in held_terms] if potentials else held_terms
            phi, held = per_edge(factor), [per_edge(h) for h in others]
            targets = {divide: calibrate.TermData(frames, phi, held, divide).sample(
                calibrate.SEARCH_EDGES, np.random.default_rng(s.seed)) for divide in families}
            for divide, is_potential in itertools.product(families, kinds):
                target = targets[divide]
                found = [(m.size, m.loss, [(m.tree, m.theta)], [m.a], m.b, m.rest) for m in exhaustive.search_target(
                    target, s.operators, s.exhaustive - is_potential, seed=s.seed, derivative=is_potential,
                    grid=exhaustive.FINE_GRID)]
                found += [(m.size, m.loss, list(zip(m.trees, m.thetas)), m.coef[:2], m.coef[2], m.coef[3:])
                          for m in exhaustive.pair_search(target, s.operators, seed=s.seed, derivative=is_potential,
                                                          grid=exhaustive.FINE_GRID)]
                for _, _, parts, scales, offset, rest in exhaustive.front(found):
                    try:
                        f = sp.Add(*[float(a) * parse_expression(exhaustive.text(t, theta, "r"), ["r"])
                                     for a, (t, theta) in zip(scales, parts)])
                        g = sp.diff(f, r) + offset if is_potential else f + offset
                        law = factor * g + sp.Add(*[sp.Float(c) * h for c, h in zip(rest, others)])
                        if potentials:
                            u = -factor * (f + offset * r) + sp.Add(*[sp.Float(c) * h for c, h in zip(rest, held_terms)])
                            cand = with_potential(law, u, names, origin=label)
                        elif is_potential and not others:
                            cand = with_potential(law, -factor * (f + offset * r), names, origin=label)
                        else:
                            text = to_sympy_string(str(law), names)
                            cand = Candidate(simplify.complexity(parse_expression(text, names)), np.nan, text,
                                             origin=label)
                    except (ExpressionError, ValueError, TypeError):
                        continue
                    if radial is not None:
                        cand.message_loss = _message_loss(cand, names, S, radial)
                        if cand.message_loss is None:
                            continue
                    if (cand.expression, divide) not in out:
                        out[cand.expression, divide] = (cand, divide)
    return sorted(out.values(), key=lambda c: (c[0].complexity, c[0].message_loss or 0.0))


def _calibrate_radial(c: Candidate, names: list[str], dim: int, data: dict,
                      divide: bool | None = None) -> Candidate | None:
    """A radial law calibrated on the data (``calibrate.calibrate_law``): its constants, the
    read-out B (force = g B dx/|dx|) and (unless ``divide`` fixes it) the mass power fitted to
    the training accelerations. Returned as the physical radial law beta g (beta = trace(B) / d)
    with the held-out loss."""
    potential = c.info.get("potential")
    law_text = {"potential": potential} if potential else {"radial": c.expression}
    cal = calibrate.calibrate_law(law_text, data["train"], data["held_out"], divide)
    if cal is None or not np.isfinite(cal.loss):
        return None
    B = cal.model.W
    beta = float(np.trace(B) / dim)
    info = {"data_r2": cal.r2, "data_median_relative_error": cal.median_relative_error,
            "divide_by_mass": cal.model.divide_by_mass,
            "anisotropy": float(np.linalg.norm(B - beta * np.eye(dim)) / max(np.linalg.norm(B), 1e-300)),
            "model": cal.model.describe()}
    if potential:  # the force of the calibrated potential, its constants tied as U has them
        u_cal = _calibrated_potential(potential, cal.constants, beta, names)
        try:
            law = to_sympy_string(str(calibrate.potential_force(u_cal)), names)
            info["potential"] = to_sympy_string(str(simplify.integral_exponents(u_cal)), names)
        except ExpressionError:  # the calibration moved an exponent beyond the grammar's limit
            return None
        complexity = min(simplify.complexity(parse_expression(law, names)),
                         simplify.complexity(parse_expression(info["potential"], names)) + 1)
        return Candidate(complexity, cal.loss, law, c.message_loss, cal.node_losses, c.origin, info)
    template, params, _ = calibrate.free_constants(parse_expression(c.expression, names))
    g_cal = template.xreplace({p: calibrate.rounded(t) for p, t in zip(params, cal.constants)})
    try:
        law = to_sympy_string(str(calibrate.rounded(beta) * g_cal), names) if beta else str(g_cal)
    except ExpressionError:  # the calibration moved an exponent beyond the grammar's limit
        return None
    return Candidate(simplify.complexity(parse_expression(law, names)), cal.loss, law, c.message_loss,
                     cal.node_losses, c.origin, info)


def _mass_power(pool: list[Candidate], names: list[str], dim: int, data: dict, tolerance: float) -> bool:
    """The read-out family of the model (is the acceleration the summed forces over the
    receiver's mass, or the summed terms themselves?), from the data: of the eight laws that fit
    the messages best, that of the one whose read-out alone (its own constants kept) fits the
    held-out data best; among laws that fit it
    equally well (a force law g with division and g / m1 without are the same physics), that of
    the one that fits the messages best."""
    fits = []
    for c in sorted(pool, key=lambda c: c.message_loss)[:8]:  # the laws that fit the messages best
        cal = calibrate.calibrate_law({"radial": c.expression}, data["train"], data["held_out"], fit_constants=False)
        if cal is not None and np.isfinite(cal.loss):
            fits.append((c, cal))
    if not fits:
        return True
    lowest = min(cal.loss for _, cal in fits)
    tied = [(c, cal) for c, cal in fits if cal.loss <= tolerance * lowest + EXACT]
    return bool(min(tied, key=lambda t: t[0].message_loss)[1].model.divide_by_mass)


def _data_eliminations(front: list[Candidate], names: list[str], dim: int, data: dict,
                       divide: bool | None = None, support: np.ndarray | None = None) -> list[Candidate]:
    """Each calibrated member's backward eliminations on the data (``calibrate.eliminations``:
    terms dropped while the training fit misses them least), each calibrated again. A term the
    network's errors put into a law, and the data does not need, goes. A law found as a
    potential U loses terms of U (each term's force -dU_k/dr in the fit) and stays a potential.
    Each result is reduced on the data's ``support`` (samples of the ``names`` variables;
    ``simplify.on_support``: a variable with one value everywhere is that value). Each member
    keeps its read-out family (``info["divide_by_mass"]``) unless ``divide`` fixes one."""
    out: dict[str, Candidate] = {}
    spatial = [sp.Symbol(n, real=True) for n in spatial_columns(dim)]
    r = sp.Symbol("r", real=True)
    dist = r - sp.Float(data["train"].softening)
    symbols = [sp.Symbol(n, real=True) for n in names]
    seen = {c.expression for c in front}
    for c in front:
        potential = c.info.get("potential")
        terms = sp.Add.make_args(sp.expand(parse_expression(potential or c.expression, names)))
        if not 2 <= len(terms) <= simplify.MAX_TERMS:
            continue
        forces = [-sp.diff(t, r) for t in terms] if potential else list(terms)
        own = c.info.get("divide_by_mass", True) if divide is None else divide
        chain = calibrate.eliminations(forces, [x / dist for x in spatial], data["train"], own)
        for step, (keep, beta) in enumerate(chain):
            kept = sp.Add(*[calibrate.rounded(b) * terms[i] for i, b in zip(keep, beta)])
            reduced = kept if support is None else simplify.on_support(kept, symbols, support)
            if step == 0 and reduced == kept:  # all terms kept and nothing reduced: the member itself
                continue
            kept = reduced
            u = to_sympy_string(str(kept), names) if potential else None
            text = to_sympy_string(str(calibrate.potential_force(kept) if potential else kept), names)
            if text in seen:
                continue
            seen.add(text)
            cal = _calibrate_radial(Candidate(0, np.nan, text, origin=f"{c.origin}, data elimination",
                                              info={"potential": u} if u else {}), names, dim, data, own)
            if cal is not None:
                out[cal.expression] = cal
    return list(out.values())


def force_candidates(engine, S: np.ndarray, work: np.ndarray, radial: np.ndarray, noise: np.ndarray,
                     names: list[str], s: SRSettings, context: SearchContext) -> list[Candidate]:
    """Radial laws g = -dU/dr from a search for the pair potential U on ``work`` (the radial law
    integrated along each edge from a reference distance: U(r) - U(r_ref) up to scale and sign),
    each carrying U (``info["potential"]``, calibrated as a potential) and its message loss on
    the radial values ``radial`` of the edges above the noise (as ``radial_candidates``)."""
    keep = _signal(radial, noise, s.snr) & trimmed(radial, s.trim)
    pots, _ = potential_pool(engine, S, work, names, s, context, s.separable)
    out: dict[str, Candidate] = {}
    for c in pots:
        u = parse_expression(c.expression, names)
        try:
            cand = with_potential(calibrate.potential_force(u), u, names, origin=f"potential, {c.origin}")
        except ExpressionError:  # a force outside the grammar (an exponent beyond its limit)
            continue
        text = cand.expression
        cand.message_loss = _message_loss(cand, names, S[keep], radial[keep])
        if cand.message_loss is not None and text not in out:
            out[text] = cand
    return sorted(out.values(), key=lambda c: (c.complexity, c.message_loss))


def central_components(engine, X: np.ndarray, msgs: np.ndarray, names: list[str], dim: int, s: SRSettings,
                       components: list[int], context: SearchContext,
                       data: dict | None = None, work: tuple[np.ndarray, float] | None = None) -> tuple[list[dict], dict]:
    """One search (or two: ``radial_candidates``) for the radial scalar of a central force, and
    (``s.potential``, given ``work``: the messages integrated along each edge from a reference
    distance, ``GraphNetwork.message_integrals``) one for its pair potential, whose forces join
    the candidates; with ``choice: data`` every candidate is calibrated on the data set's
    accelerations and the front is held-out data loss against complexity (the potential's
    search, half of the stage's time, runs only when no candidate reproduces the data exactly,
    held-out loss <= ``EXACT``: exact data with the law already found need not pay for it);
    every component is rebuilt from each front member with its direction and offset refitted
    on the messages (symdistill.distill.central)."""
    spatial, scalars = central.spatial_names(names, dim), central.scalar_names(names, dim)
    dx, S = X[:, :dim], X[:, dim:]
    dec = central.decompose(msgs, dx, keep=s.align_keep)
    keep = trimmed(dec.radial, s.trim)
    pool = radial_candidates(engine, S, dec.radial, dec.perpendicular, scalars, s, context)
    tried = []
    if s.separable:
        extra, tried = separable_candidates(engine, S, dec.radial, dec.perpendicular, scalars, s, context,
                                            derivative=True)
        seen = {c.expression for c in pool}
        pool += [c for c in extra if c.expression not in seen]

    def potential_route() -> list[Candidate]:  # the work's potentials, as radial laws
        if not (s.potential and work is not None):
            return []
        integrals, reference = work
        dist = np.linalg.norm(dx, axis=1)
        u = dx / np.maximum(dist, 1e-300)[:, None]
        radial_work = ((integrals @ dec.C.T - np.outer(dist - reference, dec.c)) * u).sum(axis=1)
        seen = {c.expression for c in pool}
        return [c for c in force_candidates(engine, S, -radial_work, dec.radial, dec.perpendicular, scalars, s,
                                            context) if c.expression not in seen]

    if s.choice == "data":
        if data is None:
            raise ValueError("symbolic.choice 'data' needs the data set (--data)")
        divide = _mass_power(pool, scalars, dim, data, s.data_tolerance)
        calibrated = [c for c in (_calibrate_radial(c, scalars, dim, data, divide) for c in pool) if c is not None]
        if s.data_search and s.exhaustive and not any(c.loss <= EXACT for c in calibrated):
            seen = {(c.expression, divide) for c in pool}
            extra = [(c, own) for c, own in data_candidates(tried, scalars, dim, data, s, S[keep], dec.radial[keep])
                     if (c.expression, own) not in seen]
            calibrated += [c for c in (_calibrate_radial(c, scalars, dim, data, own) for c, own in extra)
                           if c is not None]
        if not any(c.loss <= EXACT for c in calibrated):  # the costlier route only where no law is exact yet
            calibrated += [c for c in (_calibrate_radial(c, scalars, dim, data, divide) for c in potential_route())
                           if c is not None]
        front = pareto(calibrated)
        front = pareto(front + _data_eliminations(front, scalars, dim, data, support=S))
    else:
        pool += potential_route()
        front = pareto([replace(c, loss=c.message_loss) for c in pool])
    if not front:
        raise RuntimeError(f"{s.engine} returned no usable expression for the radial law")
    chosen, why = choose(front, s.choice, s.data_tolerance if s.choice == "data" else s.loss_tolerance)
    comps = []
    for k, c in enumerate(components):
        members = []
        for member in front:
            g = _evaluate(member.expression, scalars, S[keep])
            a, b, mse = central.refit_component(g, dx[keep], msgs[keep, k])
            text = central.component_text(member.expression, a, b, spatial, context.softening)
            members.append(Candidate(member.complexity, mse, to_sympy_string(text, names)))
        pick = members[front.index(chosen)]
        comps.append({"component": int(c), "pareto": [describe(m) for m in members],
                      "chosen": {**describe(pick), "reason": why}})
    radial = {"alignment": dec.alignment, "C": dec.C.tolist(), "c": dec.c.tolist(),
              "variables": scalars, "separable": tried, "pareto": [describe(m) for m in front],
              "chosen": {**describe(chosen), "reason": why}}
    return comps, radial


def force_free_terms_dropped(expr: sp.Expr) -> sp.Expr:
    """A potential without its terms free of r (functions of masses and charges alone, which no
    force sees, such as the offset of E(r) - E(r_ref)), read from its top-level sum as it is or
    multiplied out, whichever is simpler; 0 if nothing depends on r."""
    r = sp.Symbol("r", real=True)
    forms = [sp.Add(*[t for t in sp.Add.make_args(e) if t.has(r)]) for e in (expr, sp.expand(expr, deep=False))]
    return min(forms, key=lambda e: (simplify.complexity(e), sp.default_sort_key(e)))


def _calibrated_potential(potential: str, constants: np.ndarray, beta: float, names: list[str]) -> sp.Expr:
    """beta U for a potential calibrated on the data: U's fitted constants (tied as U has them,
    ``calibrate.potential_constants``) and the read-out's scale beta written in, terms free of r
    dropped."""
    template, params, theta, seen = calibrate.potential_constants(potential, names)
    theta[seen] = constants
    written = template.xreplace(dict(zip(params, map(calibrate.rounded, theta))))
    return force_free_terms_dropped(calibrate.rounded(beta) * written)


def _calibrate_potential(c: Candidate, names: list[str], dim: int, data: dict) -> Candidate | None:
    """A pair potential calibrated on the data: its force -dU/dr dx/|dx| with U's constants and
    the read-out B fitted to the training accelerations over the receiver's mass
    (``calibrate.calibrate_law``); returned as the physical potential beta U (beta = trace(B) / d,
    terms free of r dropped) with the held-out loss."""
    cal = calibrate.calibrate_law({"potential": c.expression}, data["train"], data["held_out"])
    if cal is None or not np.isfinite(cal.loss):
        return None
    beta = float(np.trace(cal.model.W) / dim)
    law = to_sympy_string(str(simplify.integral_exponents(
        _calibrated_potential(c.expression, cal.constants, beta, names))), names)
    info = {"data_r2": cal.r2, "data_median_relative_error": cal.median_relative_error, "divide_by_mass": True,
            "anisotropy": float(np.linalg.norm(cal.model.W - beta * np.eye(dim)) / max(np.linalg.norm(cal.model.W), 1e-300)),
            "model": cal.model.describe()}
    return Candidate(simplify.complexity(parse_expression(law, names)), cal.loss, law, c.message_loss,
                     cal.node_losses, c.origin, info)


def potential_pool(engine, S: np.ndarray, energy: np.ndarray, names: list[str], s: SRSettings,
                   context: SearchContext, with_separable: bool) -> tuple[list[Candidate], list[dict]]:
    """Candidate pair potentials for pair energies E(r) - E(r_ref) on edges S (r, m1, m2, q1,
    q2): ``radial_candidates`` (no part across dx, so no noise floor) and, ``with_separable``,
    ``separable_candidates`` (each g_k in r alone, where the reference's offset phi(m, q)
    g(r_ref) costs nothing); each without its terms free of r, exponents written as integers
    where they are. Returns them and the separable structures tried."""
    noise = np.zeros_like(energy)
    pool = radial_candidates(engine, S, energy, noise, names, s, context)
    tried = []
    if with_separable:
        extra, tried = separable_candidates(engine, S, energy, noise, names, s, context)
        pool += extra
    stripped: dict[str, Candidate] = {}
    for c in pool:
        u = simplify.integral_exponents(force_free_terms_dropped(parse_expression(c.expression, names)))
        if u != 0:
            try:
                text = to_sympy_string(str(u), names)
            except ExpressionError:
                continue
            stripped.setdefault(text, replace(c, complexity=simplify.complexity(u), expression=text))
    return list(stripped.values()), tried


def _potential_eliminations(front: list[Candidate], names: list[str], dim: int, data: dict,
                            support: np.ndarray) -> list[Candidate]:
    """Each calibrated potential's backward eliminations on the data (``_data_eliminations`` of
    its force, U carried; Hamilton's read-out a = F / m_i), as calibrated potentials."""
    as_forces = []
    for c in front:
        try:
            force = with_potential(calibrate.potential_force(parse_expression(c.expression, names)),
                                   parse_expression(c.expression, names), names, c.loss, c.origin)
        except ExpressionError:
            continue
        as_forces.append(replace(force, info={**force.info, "divide_by_mass": True}))
    out = []
    for c in _data_eliminations(as_forces, names, dim, data, divide=True, support=support):
        info = {k: v for k, v in c.info.items() if k != "potential"}
        u = c.info["potential"]
        out.append(Candidate(simplify.complexity(parse_expression(u, names)), c.loss, u, c.message_loss,
                             c.node_losses, c.origin, info))
    return out


def potential_components(engine, X: np.ndarray, energy: np.ndarray, names: list[str], dim: int, s: SRSettings,
                         context: SearchContext, data: dict | None = None) -> tuple[list[dict], dict]:
    """An energy variant's law: a search for the pair potential U(r, m1, m2, q1, q2) on its pair
    energies E(r) - E(r_ref) (``radial_candidates``: no part across dx, so no noise floor), and
    always the separable search (``separable_candidates``: each g_k in r alone, where the
    reference's offset phi(m, q) g(r_ref) costs nothing), each member without its terms free of
    r; with ``choice: data`` every member is calibrated on the data through its force
    (``_calibrate_potential``), each term is also searched as a short potential on the data where
    no member is exact (``data_candidates``, ``s.data_search``), and every member's terms are
    eliminated on the data (``_potential_eliminations``), as on the force route. The force
    components -dU/dr dx_k/|dx| of every front member are the model's components, judged as
    every other route's are."""
    spatial, scalars = central.spatial_names(names, dim), central.scalar_names(names, dim)
    pool, tried = potential_pool(engine, X[:, dim:], energy, scalars, s, context, True)
    if s.choice == "data":
        if data is None:
            raise ValueError("symbolic.choice 'data' needs the data set (--data)")
        calibrated = [c for c in (_calibrate_potential(c, scalars, dim, data) for c in pool) if c is not None]
        if s.data_search and s.exhaustive and not any(c.loss <= EXACT for c in calibrated):
            found = [replace(c, expression=c.info["potential"], info={}) for c, _ in
                     data_candidates(tried, scalars, dim, data, s, potentials=True)]
            calibrated += [c for c in (_calibrate_potential(c, scalars, dim, data) for c in found) if c is not None]
        front = pareto(calibrated)
        front = pareto(front + _potential_eliminations(front, scalars, dim, data, X[:, dim:]))
    else:
        front = pareto([replace(c, loss=c.message_loss) for c in pool])
    if not front:
        raise RuntimeError(f"{s.engine} returned no usable expression for the pair potential")
    chosen, why = choose(front, s.choice, s.data_tolerance if s.choice == "data" else s.loss_tolerance)
    dist = sp.Symbol("r", real=True) - sp.Float(context.softening)
    comps = []
    for k, x in enumerate(spatial):
        members = []
        for member in front:
            force = calibrate.potential_force(parse_expression(member.expression, scalars))
            members.append(Candidate(member.complexity, member.loss,
                                     to_sympy_string(str(force * sp.Symbol(x, real=True) / dist), names)))
        comps.append({"component": k, "pareto": [describe(m) for m in members],
                      "chosen": {**describe(members[front.index(chosen)]), "reason": why}})
    potential = {"variables": scalars, "separable": tried, "pareto": [describe(m) for m in front],
                 "chosen": {**describe(chosen), "reason": why}}
    return comps, potential


def _calibrate_components(texts: list[str], names: list[str], dim: int, data: dict) -> calibrate.Calibration | None:
    """Per-component laws calibrated together on the data (shared read-out; each keeps its constants)."""
    return calibrate.calibrate_law({"components": texts}, data["train"], data["held_out"])


def distil(engine, X: np.ndarray, msgs: np.ndarray, names: list[str], dim: int, s: SRSettings,
           components: list[int], model: str | None = None,
           softening: float = SOFTENING, data: dict | None = None,
           work: tuple[np.ndarray, float] | None = None) -> tuple[list[dict], dict | None]:
    """Laws for the message columns ``msgs`` [E, k] (components ``components`` of the model) on
    edges X (r = |dx| + ``softening``): by the central structure (one radial search) or one
    search per component. ``data`` (train and held-out ``calibrate.Frames``) is needed by
    ``choice: data``, which calibrates the candidates on the data set's accelerations. (An
    energy variant's pair energy is distilled by ``potential_components``.) ``work`` (the
    columns' integrals along each edge and the reference distance they start from) lets the
    central structure search the pair potential too."""
    if s.structure not in STRUCTURES:
        raise ValueError(f"unknown symbolic.structure {s.structure!r}; choose from {STRUCTURES}")
    if s.structure == "central" and not engine.reads_model:
        return central_components(engine, X, msgs, names, dim, s, components,
                                  SearchContext(model=model, softening=softening), data, work)
    fronts = []
    for k, c in enumerate(components):
        y = msgs[:, k]
        keep = trimmed(y, s.trim)
        front = search_front(engine, X[keep], y[keep], names, s,
                             SearchContext(component=int(c), model=model, softening=softening))
        if not front:
            raise RuntimeError(f"{s.engine} returned no usable expression for component {c}")
        fronts.append(front)
    # each component by the message score; with choice: data, then each in turn by the data
    # with the others held at their current choice (one pass of coordinate descent)
    rule = "score" if s.choice == "data" else s.choice
    picks, whys = (list(x) for x in zip(*(choose(front, rule, s.loss_tolerance) for front in fronts)))
    if s.choice == "data":
        if data is None:
            raise ValueError("symbolic.choice 'data' needs the data set (--data)")
        for k, front in enumerate(fronts):
            calibrated = []
            for member in front:
                texts = [m.expression for m in picks[:k]] + [member.expression] + [m.expression for m in picks[k + 1 :]]
                cal = _calibrate_components(texts, names, dim, data)
                if cal is not None and np.isfinite(cal.loss):
                    calibrated.append(replace(member, loss=cal.loss, message_loss=member.loss,
                                              node_losses=cal.node_losses,
                                              info={"data_r2": cal.r2, "model": cal.model.describe()}))
            if calibrated:
                fronts[k] = pareto(calibrated)
                picks[k], whys[k] = choose(fronts[k], "data", s.data_tolerance)
    comps = [{"component": int(c), "pareto": [describe(x) for x in front],
              "chosen": {**describe(pick), "reason": why}}
             for c, front, pick, why in zip(components, fronts, picks, whys)]
    if data is not None:  # the chosen set, calibrated together (the symbolic model of this law)
        cal = _calibrate_components([p.expression for p in picks], names, dim, data)
        if cal is not None:
            comps[0]["calibration"] = {**cal.summary(), "divide_by_mass": cal.model.divide_by_mass}
    return comps, None


def calibration_data(data_path, s: SRSettings, softening: float) -> dict:
    """The frames a candidate law is calibrated on (training split) and judged on (validation)."""
    return {"train": calibrate.Frames.read(data_path, "train", s.calibration_graphs, softening),
            "held_out": calibrate.Frames.read(data_path, "validation", s.calibration_graphs, softening)}


#: what the search reads of a message dump: the features, the messages and how they were made;
#: never the true law (its potential, forces or energies), so no search can see the answer
SEARCH_DATASETS = ("edge_features", "messages", "message_integrals")
SEARCH_ATTRS = ("dim", "energy", "reference_distance", "softening")
#: labels copied into the output for the tables (which data set and model), not read by the search
LABELS = ("law", "dim", "n", "variant", "seed")


def search_fingerprint() -> str:
    """The search's version: a hash of the distil package's sources but the verdict's (which is
    versioned on its own, ``verdict.fingerprint``); recorded in every sr file, so that a frozen
    measurement names the search it ran."""
    here = Path(__file__).parent
    return source_fingerprint(p for p in here.glob("*.py") if p.name not in ("verdict.py", "judge.py"))


def search_inputs(messages_path) -> dict:
    """The arrays and attributes of a message dump that the search may read (``SEARCH_DATASETS``,
    ``SEARCH_ATTRS``; columns of the edge features) and the output's ``LABELS``."""
    with MESSAGES.open(messages_path) as h:
        out = {k: h[k][:] for k in SEARCH_DATASETS if k in h}
        out["names"] = [str(c) for c in h["edge_features"].attrs["columns"]]
        out.update({k: h.attrs[k].item() if hasattr(h.attrs[k], "item") else h.attrs[k]
                    for k in SEARCH_ATTRS if k in h.attrs})
        out["labels"] = {k: (h.attrs[k].item() if hasattr(h.attrs[k], "item") else str(h.attrs[k]))
                         for k in LABELS if k in h.attrs}
    return out


def regress_messages(messages_path, selected_path, s: SRSettings, model_path=None, data_path=None) -> dict:
    """Search a law for the selected message components of a message dump (``data_path``, the
    model's data set, is needed by ``choice: data``). Reads only ``search_inputs``."""
    sel = SELECTION.read(selected_path)
    engine = get_engine(s.engine)
    inputs = search_inputs(messages_path)
    X, names, msgs = inputs["edge_features"], inputs["names"], inputs["messages"]
    info = inputs["labels"]
    energy = bool(inputs.get("energy", False))
    integrals = inputs.get("message_integrals")
    reference = float(inputs.get("reference_distance", np.nan))
    rng = np.random.default_rng(s.seed)
    rows = rng.choice(len(X), min(s.samples, len(X)), replace=False)
    softening = float(inputs.get("softening", SOFTENING))
    if s.choice == "data" and data_path is None:
        raise ValueError("symbolic.choice 'data' calibrates the laws on the data set: give --data")
    data = calibration_data(data_path, s, softening) if s.choice == "data" else None
    out = {**info, "engine": s.engine, "settings": asdict(s), "variables": names, "versions": versions(),
           "search_version": search_fingerprint()}
    if energy:  # a pair energy: the law is a potential
        comps, pot = potential_components(engine, X[rows], msgs[rows][:, sel["components"][0]], names,
                                          int(info["dim"]), s, SearchContext(softening=softening), data)
        out["pair_potential"] = pot
        out["chosen_law"] = {"potential": pot["chosen"]["expression"]}
        if "model" in pot["chosen"]:
            out["calibration"] = {k: pot["chosen"][k] for k in
                                  ("loss", "data_r2", "data_median_relative_error", "divide_by_mass", "model")}
        return {**out, "components": comps}
    work = (integrals[rows][:, sel["components"]], reference) if integrals is not None and np.isfinite(reference) else None
    comps, radial = distil(engine, X[rows], msgs[rows][:, sel["components"]], names, int(info["dim"]), s,
                           sel["components"], str(model_path) if model_path else None, softening, data, work)
    if radial is not None:
        out["radial"] = radial
        out["chosen_law"] = {"radial": radial["chosen"]["expression"]}
        if "model" in radial["chosen"]:
            out["calibration"] = {k: radial["chosen"][k] for k in
                                  ("loss", "data_r2", "data_median_relative_error", "divide_by_mass", "model")}
    else:
        out["chosen_law"] = {"components": [c["chosen"]["expression"] for c in comps]}
        if "calibration" in comps[0]:
            out["calibration"] = comps[0].pop("calibration")
    return {**out, "components": comps}


def main(argv: list[str] | None = None) -> None:
    p = parser("symdistill-sr", __doc__)
    p.add_argument("--messages", required=True, help="messages.h5 of a model (symdistill-messages dump)")
    p.add_argument("--selected", required=True, help="selected.json of the same model")
    p.add_argument("--model", help="trained model (needed by the eql engine)")
    p.add_argument("--data", help="the model's data set (needed by choice: data, which calibrates laws on it)")
    p.add_argument("--settings", default="{}", help="JSON object of SRSettings fields (schema section 'symbolic')")
    p.add_argument("--threads", type=int, default=None, help="search threads (overrides the settings)")
    p.add_argument("--out", required=True, help="sr_<engine>.json to write: fronts and chosen laws")
    a = p.parse_args(argv)
    with errors("symdistill-sr", a.debug):
        extra = settings_json(a.settings, "symbolic", SRSettings)
        s = SRSettings(**extra)
        if a.threads:
            s.threads = a.threads
        get_engine(s.engine).check()
        inputs = record_inputs(a.out, messages=a.messages, selected=a.selected,
                               **({"model": a.model} if a.model else {}), **({"data": a.data} if a.data else {}))
        result = {**regress_messages(a.messages, a.selected, s, a.model, a.data), "inputs": inputs}
        with atomic_path(a.out) as tmp:
            tmp.write_text(json.dumps(result, indent=2))
    for comp in result["components"]:
        print(f"component {comp['component']}: {comp['chosen']['expression']}")


if __name__ == "__main__":
    main()
