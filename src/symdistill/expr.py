"""Restricted parser: turn untrusted expression text into a sympy expression without executing it.

Used for custom potentials in the config and for expressions returned by symbolic-regression
engines. The text is parsed with :mod:`ast` (which never runs code) and only a whitelist of
node types, symbols and functions is translated into sympy objects; everything else is
rejected with an :class:`ExpressionError` that names the offending part.
"""

from __future__ import annotations

import ast
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
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as err:
        raise ExpressionError(f"{what}: cannot parse {text!r}: {err.msg}") from None

    def build(node: ast.AST) -> sp.Expr:
        if isinstance(node, ast.Expression):
            return build(node.body)
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool):
                return sp.true if node.value else sp.false
            if not isinstance(node.value, (int, float)):
                raise ExpressionError(f"{what}: constant {node.value!r} is not a number in {text!r}")
            return sp.Integer(node.value) if isinstance(node.value, int) else sp.Float(node.value)
        if isinstance(node, ast.Name):
            if node.id in allowed:
                return allowed[node.id]
            if node.id in CONSTANTS:
                return CONSTANTS[node.id]
            raise ExpressionError(
                f"{what}: unknown name {node.id!r} in {text!r}; allowed symbols are "
                f"{sorted(allowed)} and constants {sorted(CONSTANTS)}"
            )
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            left, right = build(node.left), build(node.right)
            if isinstance(node.op, ast.Pow) and right.is_number and abs(float(right)) > _MAX_POWER:
                raise ExpressionError(f"{what}: exponent {right} too large in {text!r}")
            return _BINOPS[type(node.op)](left, right)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            inner = build(node.operand)
            return -inner if isinstance(node.op, ast.USub) else inner
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
                name = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
                raise ExpressionError(
                    f"{what}: call to {name!r} is not allowed in {text!r}; allowed functions are "
                    f"{sorted(FUNCTIONS)}"
                )
            if node.keywords:
                raise ExpressionError(f"{what}: keyword arguments are not allowed in {text!r}")
            return FUNCTIONS[node.func.id](*[build(arg) for arg in node.args])
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _COMPARE:
            return _COMPARE[type(node.ops[0])](build(node.left), build(node.comparators[0]))
        if isinstance(node, ast.Tuple):  # only meaningful as a Piecewise (value, condition) pair
            return tuple(build(e) for e in node.elts)
        if isinstance(node, ast.Attribute):
            raise ExpressionError(f"{what}: attribute access {ast.unparse(node)!r} is not allowed")
        raise ExpressionError(
            f"{what}: {type(node).__name__} {ast.unparse(node)!r} is not allowed in {text!r}"
        )

    try:
        expr = build(tree)
    except (TypeError, ValueError, ZeroDivisionError) as err:
        if isinstance(err, ExpressionError):
            raise
        raise ExpressionError(f"{what}: invalid expression {text!r}: {err}") from None
    return sp.sympify(expr)
