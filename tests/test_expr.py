"""The restricted expression parser accepts math and rejects everything else without running it."""

import pytest
import sympy as sp

from symdistill.core.expr import ExpressionError, parse_expression

SYMS = ("r", "m1", "m2", "q1", "q2")


def test_parses_ordinary_math():
    e = parse_expression("m1*m2*r**2 - exp(-r)/sqrt(q1^2 + 1) + pi", SYMS)
    r, m1, m2, q1 = sp.symbols("r m1 m2 q1", real=True)
    assert sp.simplify(e - (m1 * m2 * r**2 - sp.exp(-r) / sp.sqrt(q1**2 + 1) + sp.pi)) == 0


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("__import__('os').system('touch /tmp/symdistill_pwned')", "not allowed"),
        ("r.__class__", "attribute access"),
        ("foo(r)", "'foo' is not allowed"),
        ("x + r", "unknown name 'x'"),
        ("lambda: 1", "Lambda"),
        ("r[0]", "Subscript"),
        ("'abc'", "not a number"),
        ("r ** 1000000", "exponent"),
        ("r +", "cannot parse"),
        ("exp(r, base=2)", "keyword"),
        ("[r for r in m1]", "ListComp"),
        ("m1,", "a tuple"),
    ],
)
def test_rejects_everything_else(text, fragment, tmp_path):
    with pytest.raises(ExpressionError, match=fragment.replace("(", r"\(").replace("[", r"\[")):
        parse_expression(text, SYMS, what="custom_laws.bad.potential")


def test_nothing_is_executed(tmp_path):
    target = tmp_path / "pwned"
    with pytest.raises(ExpressionError):
        parse_expression(f"__import__('pathlib').Path('{target}').touch()", SYMS)
    assert not target.exists()


def test_error_names_the_source():
    with pytest.raises(ExpressionError, match="custom_laws.mine.potential"):
        parse_expression("os.system('ls')", SYMS, what="custom_laws.mine.potential")


def test_round_trips_builtin_potentials():
    """Every built-in potential survives str() -> restricted parser (how data files store it)."""
    from symdistill.core.laws import BUILTIN_LAWS

    for law in BUILTIN_LAWS.values():
        back = parse_expression(str(law.potential), SYMS)
        assert sp.simplify(back - law.potential) == 0, law.name
