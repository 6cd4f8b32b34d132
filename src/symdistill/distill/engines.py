"""Search engines behind one interface: (X, y, variable names, settings, context) -> candidate
laws (complexity, loss on y, expression text). Engines are registered by name in ``ENGINES``;
adding one means writing a class with ``check`` and ``search`` methods and decorating it with
``@register``. Whatever text an engine returns goes through the restricted parser before use.
(The EQL read-out, which searches nothing, is ``symdistill.distill.readout``.)"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from symdistill.core.expr import ExpressionError, parse_expression
from symdistill.core.laws import SOFTENING
from symdistill.distill.availability import check_operon, check_pysr
from symdistill.distill.candidates import Candidate
from symdistill.distill.settings import OPERON_SYMBOLS, PYSR_BINARY, PYSR_UNARY, SRSettings

ENGINES: dict[str, type] = {}


def register(cls):
    """Class decorator: make an engine selectable by its ``name``."""
    ENGINES[cls.name] = cls
    return cls


@dataclass(frozen=True)
class SearchContext:
    """What a search may need besides the samples: the message component searched (None: the
    radial scalar), the trained model's path, and the edge features' softening of r."""

    component: int | None = None
    model: str | None = None
    softening: float = SOFTENING


def to_sympy_string(text: str, names) -> str:
    """Parse an engine's expression text safely and return it as a sympy string."""
    return str(parse_expression(text, names, what="engine output"))


@register
class OperonEngine:
    """C++ Operon (pyoperon): multi-objective GP over (R^2, length) with local constant tuning."""

    name = "operon"
    check = staticmethod(check_operon)

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
                out.append(Candidate(int(p["complexity"]), to_sympy_string(text, names),
                                     search_loss=float(p["mean_squared_error"])))
            except ExpressionError:
                continue  # a formula outside our grammar is not a usable law
        return out


@register
class PySREngine:
    """PySR (Julia SymbolicRegression.jl). Needs a working Julia; never downloads in tests."""

    name = "pysr"
    check = staticmethod(check_pysr)

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
        return [Candidate(int(row["complexity"]), to_sympy_string(str(row["sympy_format"]), names),
                          search_loss=float(row["loss"]))
                for _, row in reg.equations_.iterrows()]


def get_engine(name: str):
    """A search engine by name (the EQL read-out is not one: ``symdistill.distill.readout``)."""
    if name not in ENGINES:
        raise ValueError(f"unknown symbolic.engine {name!r}; choose from {sorted(ENGINES)}")
    return ENGINES[name]()

