"""Safe expression parser: formula text from files becomes a sympy expression without
`eval`, `sympify` or `parse_expr` (all three call `eval`).

The text is parsed by Python's `ast` and every node is checked against a whitelist, then
built into sympy by hand. Allowed: integer literals, declared names, `+ - * / **` (the
exponent a small integer literal), unary minus, parentheses, and the functions in
`FUNCTIONS`. `Piecewise((value, condition), ..., (value, True))` takes comparisons.
Floats are refused: counts are exact, so write `1/2`, not `0.5`.
"""

import ast
import contextlib
import difflib
import warnings

import sympy

from .errors import FormulaError

MAX_LENGTH = 2000  # characters of formula text
MAX_DEPTH = 40  # nesting of the syntax tree
MAX_EXPONENT = 4  # |n| in x**n: enough for S**2 and d**3, too small for a bomb
MAX_INTEGER_DIGITS = 30
MAX_DEGREE = 16  # total degree of a power: seq_len**2 * d**3 is 5; a tower of powers is refused

ARITY = {"floor": 1, "ceiling": 1}  # Min and Max take one or more
FUNCTIONS = {
    "Min": sympy.Min,
    "Max": sympy.Max,
    "floor": sympy.floor,
    "ceiling": sympy.ceiling,
    "Piecewise": sympy.Piecewise,
}

_BINARY = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
}

_COMPARE = {
    ast.Lt: sympy.Lt,
    ast.LtE: sympy.Le,
    ast.Gt: sympy.Gt,
    ast.GtE: sympy.Ge,
}


_MEMO = None  # the cache.ParseMemo of the innermost `memoized` block, or None


@contextlib.contextmanager
def memoized(memo):
    """Parses inside the block answer from `memo` (a cache.ParseMemo, or None for none) the
    texts it holds for the same names, and add the others to it; it is saved when the
    block ends without an error."""
    global _MEMO
    outer, _MEMO = _MEMO, memo
    try:
        yield
    finally:
        _MEMO = outer
    if memo is not None:
        memo.save()


def parse(text, names, *, source=None, field=None):
    """Parse `text` into a sympy expression; `names` maps each allowed name to its value
    (a sympy Symbol or expression). Any other construct raises FormulaError."""
    def fail(message):
        raise FormulaError(source, field, message)

    if isinstance(text, bool) or not isinstance(text, (str, int)):
        fail(f"expected a formula as text or an integer, got {type(text).__name__}")
    if isinstance(text, int):
        text = str(text)
    if not text.strip():
        fail("empty formula (expected an expression such as 2 * d_model * d_ff)")
    if len(text) > MAX_LENGTH:
        fail(f"formula is {len(text)} characters long (at most {MAX_LENGTH})")
    memo = _MEMO
    if memo is not None:
        kept = memo.get(text, names)
        if kept is not None:
            return kept
    try:
        with warnings.catch_warnings():  # compiler warnings about the text (escapes) are ours to judge
            warnings.simplefilter("ignore")
            tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        detail = getattr(exc, "msg", None) or type(exc).__name__
        fail(f"cannot parse {text.strip()!r}: {detail} (expected an arithmetic expression)")
    builder = _Builder(names, fail)
    try:
        result = builder.build(tree.body, depth=0)
    except FormulaError:
        raise
    except (TypeError, ValueError, ZeroDivisionError, RecursionError, MemoryError) as exc:
        fail(f"cannot evaluate {text.strip()!r}: {type(exc).__name__} (expected an arithmetic expression)")
    if result.has(sympy.zoo, sympy.oo, -sympy.oo, sympy.nan):
        fail(f"{text.strip()!r} is not finite (a division by zero?)")
    if memo is not None:
        memo.add(text, builder.used, result)
    return result


class _Builder:
    def __init__(self, names, fail):
        self.names = names
        self.fail = fail
        self.used = {}  # name -> the value it gave (what a memo entry depends on)

    def build(self, node, depth):
        if depth > MAX_DEPTH:
            self.fail(f"formula nested deeper than {MAX_DEPTH} levels")
        method = getattr(self, "_" + type(node).__name__, None)
        if method is None:
            self.fail(f"{_describe(node)} is not allowed in a formula "
                      "(allowed: integers, names, + - * / **, Min, Max, floor, ceiling, Piecewise)")
        return method(node, depth + 1)

    def _Constant(self, node, depth):
        value = node.value
        if isinstance(value, bool) or not isinstance(value, int):
            hint = " (write a fraction such as 1/2: counts are exact)" if isinstance(value, float) else ""
            self.fail(f"literal {value!r} is not allowed{hint}")
        if len(str(abs(value))) > MAX_INTEGER_DIGITS:
            self.fail(f"integer literal longer than {MAX_INTEGER_DIGITS} digits")
        return sympy.Integer(value)

    def _Name(self, node, depth):
        if node.id in self.names:
            value = self.used[node.id] = self.names[node.id]
            return value
        close = difflib.get_close_matches(node.id, list(self.names), n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else " (not a declared symbol)"
        self.fail(f"unknown name {node.id!r}{hint}")

    def _UnaryOp(self, node, depth):
        operand = self.build(node.operand, depth)
        if isinstance(node.op, ast.USub):
            return -operand
        if isinstance(node.op, ast.UAdd):
            return operand
        self.fail(f"operator {type(node.op).__name__} is not allowed (expected + - * / **)")

    def _BinOp(self, node, depth):
        if isinstance(node.op, ast.Pow):
            return self._power(node, depth)
        op = _BINARY.get(type(node.op))
        if op is None:
            self.fail(f"operator {type(node.op).__name__} is not allowed (expected + - * / **)")
        return op(self.build(node.left, depth), self.build(node.right, depth))

    def _power(self, node, depth):
        exponent = node.right
        negative = isinstance(exponent, ast.UnaryOp) and isinstance(exponent.op, ast.USub)
        literal = exponent.operand if negative else exponent
        if not (isinstance(literal, ast.Constant) and type(literal.value) is int):
            self.fail("an exponent must be an integer literal (such as seq_len**2)")
        if literal.value > MAX_EXPONENT:
            self.fail(f"exponent {literal.value} is too large (at most {MAX_EXPONENT})")
        value = -literal.value if negative else literal.value
        result = self.build(node.left, depth) ** value
        if degree(result) > MAX_DEGREE:
            self.fail(f"a power of degree {degree(result)} (at most {MAX_DEGREE}): nested powers multiply")
        return result

    def _Call(self, node, depth):
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            name = node.func.id if isinstance(node.func, ast.Name) else _describe(node.func)
            self.fail(f"function {name!r} is not allowed (allowed: {', '.join(FUNCTIONS)})")
        if node.keywords:
            self.fail("keyword arguments are not allowed in a formula")
        if node.func.id == "Piecewise":
            return self._piecewise(node, depth)
        args = [self.build(arg, depth) for arg in node.args]
        if not args:
            self.fail(f"{node.func.id}() needs at least one argument")
        if node.func.id in ARITY and len(args) != ARITY[node.func.id]:
            self.fail(f"{node.func.id}() takes {ARITY[node.func.id]} argument, not {len(args)}")
        return FUNCTIONS[node.func.id](*args)

    def _piecewise(self, node, depth):
        pieces = []
        for arg in node.args:
            if not (isinstance(arg, ast.Tuple) and len(arg.elts) == 2):
                self.fail("Piecewise takes (value, condition) pairs")
            value_node, cond_node = arg.elts
            pieces.append((self.build(value_node, depth), self._condition(cond_node, depth)))
        if not pieces or pieces[-1][1] is not sympy.true:
            self.fail("Piecewise must end with a (value, True) pair so it is defined everywhere")
        return sympy.Piecewise(*pieces)

    def _condition(self, node, depth):
        if isinstance(node, ast.Constant) and node.value is True:
            return sympy.true
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _COMPARE:
            left = self.build(node.left, depth)
            right = self.build(node.comparators[0], depth)
            return _COMPARE[type(node.ops[0])](left, right)
        self.fail("a Piecewise condition must be one comparison (<, <=, >, >=) or True")


def degree(expression):
    """An upper bound of the total degree of `expression` in its symbols, read from its
    structure (Min, Max, Piecewise and the rounding functions take their arguments' most)."""
    if expression.is_Symbol:
        return 1
    if expression.is_Number or not expression.args:
        return 0
    if expression.is_Pow:
        exponent = expression.exp
        return degree(expression.base) * (abs(int(exponent)) if exponent.is_Integer else MAX_DEGREE + 1)
    if expression.is_Mul:
        return sum(degree(a) for a in expression.args)
    return max(degree(a) for a in expression.args)


def _describe(node):
    kinds = {
        "Attribute": "attribute access", "Subscript": "subscripting", "Lambda": "a lambda",
        "Call": "a call", "Compare": "a comparison outside Piecewise", "BoolOp": "and/or",
        "IfExp": "a conditional expression", "Tuple": "a tuple", "List": "a list",
        "Dict": "a dict", "Set": "a set", "JoinedStr": "an f-string", "NamedExpr": ":=",
        "ListComp": "a comprehension", "GeneratorExp": "a generator", "Starred": "unpacking",
    }
    return kinds.get(type(node).__name__, type(node).__name__)


def to_sympy(value, field="expression"):
    """A sympy object from what the library passes around: a sympy expression, an int or a
    Fraction. Never text: `sympy.sympify` would `eval` it (use `parse` for formula text)."""
    from fractions import Fraction
    from .errors import UsageError

    if isinstance(value, sympy.Basic):
        return value
    if isinstance(value, bool) or value is None:
        raise UsageError(None, field, f"{value!r} is not a number or a sympy expression")
    if isinstance(value, int):
        return sympy.Integer(value)
    if isinstance(value, Fraction):
        return sympy.Rational(value.numerator, value.denominator)
    raise UsageError(None, field, f"expected a sympy expression or an exact number, got {type(value).__name__}")
