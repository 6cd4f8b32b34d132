"""Restricted parser: turn untrusted expression text into a sympy expression without executing it.

Used for custom potentials in the config and for expressions returned by symbolic-regression
engines. The text is parsed with :mod:`ast` (which never runs code) and only a whitelist of
node types, symbols and functions is translated into sympy objects; everything else is
rejected with an :class:`ExpressionError` that names the offending part.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Iterable

import sympy as sp

#: Ordinary math functions an expression may call, by the names accepted in text.
FUNCTIONS: dict[str, object] = {
    "exp": sp.exp,
    "log": sp.log,
    "sqrt": sp.sqrt,
    "sin": sp.sin,
    "cos": sp.cos,
    "tan": sp.tan,
    "sinh": sp.sinh,
    "cosh": sp.cosh,
    "tanh": sp.tanh,
    "asin": sp.asin,
    "acos": sp.acos,
    "atan": sp.atan,
    "abs": sp.Abs,
    "Abs": sp.Abs,
    "sign": sp.sign,
    "Heaviside": sp.Heaviside,
    "Min": sp.Min,
    "Max": sp.Max,
    "inv": lambda x: 1 / x,
    "square": lambda x: x**2,
    "cube": lambda x: x**3,
    "Piecewise": sp.Piecewise,  # arguments are (value, condition) tuples
}
#: Named constants.
CONSTANTS: dict[str, sp.Expr] = {"pi": sp.pi, "E": sp.E}

_BINOPS = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.Pow: lambda a, b: a**b,
}
_COMPARE = {ast.Lt: sp.Lt, ast.LtE: sp.Le, ast.Gt: sp.Gt, ast.GtE: sp.Ge}
_MAX_LENGTH = 10_000
_MAX_POWER = 100
_MAX_NODES = 5_000  # syntax-tree nodes
_MAX_DEPTH = 200  # nesting depth of the syntax tree
_MAX_LOG10 = 300  # numeric constants beyond 1e300 in magnitude are refused


class ExpressionError(ValueError):
    """An expression string is malformed or uses something outside the allowed grammar."""


def parse_expression(text: str, symbols: Iterable[str], *, what: str = "expression") -> sp.Expr:
    """Parse ``text`` into a sympy expression over the given symbol names, executing nothing.

    ``what`` names the source in error messages (e.g. the config key the text came from).
    """
    if not isinstance(text, str):
        raise ExpressionError(f"{what}: expected a string, got {type(text).__name__} {text!r}")
    if len(text) > _MAX_LENGTH:
        raise ExpressionError(f"{what}: expression longer than {_MAX_LENGTH} characters")
    allowed = {name: sp.Symbol(name, real=True) for name in symbols}
    source = text.strip().replace("^", "**")
    short = text if len(text) <= 60 else text[:57] + "..."
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as err:
        raise ExpressionError(f"{what}: cannot parse {short!r}: {err.msg}") from None
    except (RecursionError, MemoryError):
        raise ExpressionError(f"{what}: expression {short!r} is nested too deeply to parse") from None
    _check_size(tree, what, short)

    def build(node: ast.AST) -> sp.Expr:
        if isinstance(node, ast.Expression):
            return build(node.body)
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool):
                return sp.true if node.value else sp.false
            if not isinstance(node.value, (int, float)):
                raise ExpressionError(f"{what}: constant {node.value!r} is not a number in {short!r}")
            return sp.Integer(node.value) if isinstance(node.value, int) else sp.Float(node.value)
        if isinstance(node, ast.Name):
            if node.id in allowed:
                return allowed[node.id]
            if node.id in CONSTANTS:
                return CONSTANTS[node.id]
            raise ExpressionError(
                f"{what}: unknown name {node.id!r} in {short!r}; allowed symbols are "
                f"{sorted(allowed)} and constants {sorted(CONSTANTS)}"
            )
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            left, right = build(node.left), build(node.right)
            if isinstance(node.op, ast.Pow) and right.is_number:
                if abs(float(right)) > _MAX_POWER:
                    raise ExpressionError(f"{what}: exponent {right} too large in {short!r}")
                if left.is_number and left != 0 and abs(float(right)) * abs(_log10(left)) > _MAX_LOG10:
                    raise ExpressionError(f"{what}: constant {ast.unparse(node)!r} is beyond 1e{_MAX_LOG10}")
            return _BINOPS[type(node.op)](left, right)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            inner = build(node.operand)
            return -inner if isinstance(node.op, ast.USub) else inner
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
                name = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
                raise ExpressionError(
                    f"{what}: call to {name!r} is not allowed in {short!r}; allowed functions are "
                    f"{sorted(FUNCTIONS)}"
                )
            if node.keywords:
                raise ExpressionError(f"{what}: keyword arguments are not allowed in {short!r}")
            return FUNCTIONS[node.func.id](*[build(arg) for arg in node.args])
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _COMPARE:
            return _COMPARE[type(node.ops[0])](build(node.left), build(node.comparators[0]))
        if isinstance(node, ast.Tuple):  # only meaningful as a Piecewise (value, condition) pair
            return tuple(build(e) for e in node.elts)
        if isinstance(node, ast.Attribute):
            raise ExpressionError(f"{what}: attribute access {ast.unparse(node)!r} is not allowed")
        raise ExpressionError(
            f"{what}: {type(node).__name__} {ast.unparse(node)!r} is not allowed in {short!r}"
        )

    try:
        expr = build(tree)
    except RecursionError:
        raise ExpressionError(f"{what}: expression {short!r} is nested too deeply") from None
    except (TypeError, ValueError, ZeroDivisionError, OverflowError) as err:
        if isinstance(err, ExpressionError):
            raise
        raise ExpressionError(f"{what}: invalid expression {short!r}: {err}") from None
    if isinstance(expr, tuple):  # a (value, condition) pair belongs inside a Piecewise only
        raise ExpressionError(f"{what}: {short!r} is a tuple, not one expression")
    expr = sp.sympify(expr)
    if expr.has(sp.zoo, sp.oo, -sp.oo, sp.nan):
        raise ExpressionError(f"{what}: {short!r} is infinite or undefined (e.g. a division by zero)")
    return expr


def _log10(x: sp.Expr) -> float:
    """log10 |x| of a sympy number, without overflowing a float."""
    try:
        return math.log10(abs(float(x)))
    except OverflowError:
        return _MAX_LOG10 + 1.0


def _check_size(tree: ast.AST, what: str, short: str) -> None:
    """Refuse trees with too many nodes or too deep a nesting, in time linear in the tree."""
    count, stack = 0, [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > _MAX_NODES:
            raise ExpressionError(f"{what}: expression {short!r} has more than {_MAX_NODES} parts")
        if depth > _MAX_DEPTH:
            raise ExpressionError(f"{what}: expression {short!r} is nested deeper than {_MAX_DEPTH} levels")
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
