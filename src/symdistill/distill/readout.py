"""The law of a GNN+EQL model, read out of its EQL edge network (no search): the network
multiplied out, its negligible terms dropped and its exponents rounded (EQL's round-and-retrain
step). A route of its own: it gives each message component its raw candidate."""

from __future__ import annotations

import numpy as np
import sympy as sp

from symdistill.core.expr import parse_expression
from symdistill.distill import simplify
from symdistill.distill.candidates import Candidate
from symdistill.distill.engines import SearchContext
from symdistill.distill.settings import SRSettings

#: the engine name a config gives GNN+EQL models (symbolic.engines); their laws are read out
READOUT = "eql"


def read_out(X: np.ndarray, y: np.ndarray, names: list[str], s: SRSettings, context: SearchContext) -> list[Candidate]:
    """The read-out of message component ``context.component`` of the model at
    ``context.model``, with its mean squared error against ``y`` on the edges ``X``."""
    from symdistill.gnn.eql import INPUT_CLIP, input_exprs
    from symdistill.gnn.models import load_model

    if not context.model or context.component is None:
        raise ValueError("the eql read-out needs the trained eql model (--model) and a component")
    model = load_model(context.model)
    if model.variant.edge_model != "eql":
        raise ValueError(f"{context.model} is a {model.cfg.variant!r} model, without an EQL edge model")
    # 6 significant digits, as Operon prints: rollouts of near-equilibrium laws need them
    inputs = input_exprs(model.cfg.eql["inputs"], model.cfg.softening)
    # messages dumped through the node model's read-out W (read_through): component c is row c of W m
    (expr,) = model.edge_model.to_sympy(inputs, [context.component], digits=6, readout=model.message_readout())
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
    # are refitted with the term eliminations of the front (symdistill.distill.search)
    expr = simplify.snap_exponents(sp.Add(*kept))
    pred = evaluate(expr)
    return [Candidate(int(sp.count_ops(expr)) + len(expr.free_symbols), str(expr),
                      search_loss=float(np.mean((pred - y) ** 2)))]
