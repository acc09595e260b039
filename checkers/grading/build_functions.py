"""The formula builder's functions and brackets: log, exp, det, tr, declared functions, fractions, roots, norms."""

from __future__ import annotations

import sympy as sp
from lark import Tree

from checkers.functions import SIGMOID
from checkers.grading.build_values import (
    MAX_EXPONENT, CommutingScalar, apply, describe, is_function, is_matrix, is_square, sqrt, transpose,
)
from checkers.reductions import IndexedMax, IndexedMin

# Functions the grammar knows by name; any other FUNC token is a function the problem declares.
_SCALAR_FUNCTIONS = {"tanh": "tanh", "sin": "sin", "cos": "cos", "sigmoid": "the sigmoid", "relu": "ReLU"}
_BUILTIN_FUNCTIONS = frozenset({"log", "exp", "sqrt", "det", "logdet", "tr", "inv", "max", "min", *_SCALAR_FUNCTIONS})


class FunctionMixin:
    """Builder methods for function applications and bracketed forms."""

    # -- functions and brackets ----------------------------------------------------------------
    def function(self, name: str, arg, arg_tree):
        if name in ("max", "min"):
            return self.extremum_of(name, arg, arg_tree)
        if name not in _BUILTIN_FUNCTIONS and not name.startswith("log_"):
            return self.declared_function(name, [arg], [arg_tree])
        if name in _SCALAR_FUNCTIONS or name.startswith("log_"):
            if is_matrix(arg):
                raise self.fail(f"{_SCALAR_FUNCTIONS.get(name, name)} of {describe(arg)} (`{self.snippet(arg_tree)}`) is not "
                                f"defined here; it applies to scalars")
            if name.startswith("log_"):
                base = sp.Integer(int(name[4:]))
                if base < 2:
                    raise self.fail(f"a logarithm to base {base} is not defined")
                if arg is sp.S.Zero:
                    raise self.fail("log of zero")
                return apply(sp.log, arg) / sp.log(base)
            if name == "sigmoid":
                return SIGMOID(arg)
            if name == "relu":
                return apply(sp.Max, sp.S.Zero, arg)
            return apply({"tanh": sp.tanh, "sin": sp.sin, "cos": sp.cos}[name], arg)
        if name in ("log", "exp", "sqrt") and is_matrix(arg):
            if name == "sqrt" and is_square(arg):
                self.matrix_roots = True
                return sp.MatPow(arg, sp.Rational(1, 2))
            hint = " (did you mean \\log\\det?)" if name == "log" and is_square(arg) else ""
            raise self.fail(f"\\{name} of {describe(arg)} (`{self.snippet(arg_tree)}`) is not defined here{hint}")
        if name == "log":
            if arg is sp.S.Zero:
                raise self.fail("log of zero")
            return apply(sp.log, arg)
        if name == "exp":
            return apply(sp.exp, arg)
        if name == "sqrt":
            return sqrt(arg)
        if name in ("det", "logdet"):
            if not is_matrix(arg):
                d = arg
            elif not is_square(arg):
                raise self.fail(f"det of {describe(arg)} (`{self.snippet(arg_tree)}`): only square matrices have determinants")
            elif isinstance(arg, sp.MatPow) and not arg.exp.is_Integer:
                d = sp.Determinant(arg.base) ** arg.exp  # det(Σ^{1/2}) = det(Σ)^{1/2} for the principal root
            else:
                d = sp.Determinant(arg)
            return apply(sp.log, d) if name == "logdet" else d
        if name == "tr":
            if not is_matrix(arg):
                return arg
            if not is_square(arg):
                raise self.fail(f"trace of {describe(arg)} (`{self.snippet(arg_tree)}`): only square matrices have traces")
            return sp.Trace(arg)
        if name == "inv":
            return self.inverse(arg, arg_tree) if is_matrix(arg) else self.power_scalar(arg, sp.Integer(-1))
        raise self.fail(f"unknown function {name}")

    def extremum_of(self, name: str, arg, arg_tree):
        r"""`\max(v)` of a vector is the largest entry; of a scalar, the scalar itself."""
        if not is_matrix(arg):
            return arg
        if arg.cols != 1 and arg.rows != 1:
            raise self.fail(f"\\{name} of {describe(arg)} (`{self.snippet(arg_tree)}`): only the entries of a "
                            f"vector, or a list \\{name}(a, b), have a {name}imum")
        j = sp.Dummy("j", integer=True)
        entry = arg[j, 0] if arg.cols == 1 else arg[0, j]
        length = arg.rows if arg.cols == 1 else arg.cols
        return (IndexedMax if name == "max" else IndexedMin)(entry, (j, 0, length - 1))

    def declared_function(self, name: str, args: list, arg_trees: list):
        """A function the problem declares (e.g. σ as the sigmoid), applied to scalar arguments."""
        func = self.table.lookup(name)
        if not is_function(func):
            raise self.fail(f"unknown function {name}")
        for a, t in zip(args, arg_trees):
            if is_matrix(a):
                raise self.fail(f"{name} of {describe(a)} (`{self.snippet(t)}`) is not defined here; it applies "
                                f"to scalars")
        expected = getattr(func, "nargs", None)
        if expected is not None and len(args) not in expected:
            raise self.fail(f"{name} takes {', '.join(str(n) for n in sorted(expected))} argument(s), "
                            f"not {len(args)}")
        return func(*args)

    def n_apply(self, tree):
        func, arg_tree = self._children(tree)
        return self.function(str(func.value), self.value(arg_tree), arg_tree)

    def n_call(self, tree):
        kids = self._children(tree)
        func, arg_tree = kids[0], kids[1]
        name = str(func.value)
        if isinstance(arg_tree, Tree) and arg_tree.data == "arguments":
            arg_trees = self._children(arg_tree)
            args = [self.value(t) for t in arg_trees]
            if name in ("max", "min"):
                for a, t in zip(args, arg_trees):
                    if is_matrix(a):
                        raise self.fail(f"\\{name} of a list takes scalars; `{self.snippet(t)}` is {describe(a)}")
                value = apply(sp.Max if name == "max" else sp.Min, *args)
            elif name in _BUILTIN_FUNCTIONS:
                raise self.fail(f"{name} takes one argument, not {len(args)}")
            else:
                value = self.declared_function(name, args, arg_trees)
        else:
            value = self.function(name, self.value(arg_tree), arg_tree)
        if len(kids) > 2:
            value = self.apply_scripts(value, self._children(kids[2]), tree)
        return value

    def n_frac(self, tree):
        num_tree, den_tree = self._children(tree)
        if self.looks_like_derivative(num_tree, den_tree):
            raise self.fail(f"`{self.snippet(tree)}` reads as a derivative d/dx, which this grader does not take; write "
                            f"the derivative out (if a quotient is meant, write it with brackets, d/(d \\cdot x))")
        return self.divide(self.value(num_tree), self.value(den_tree), den_tree)

    def looks_like_derivative(self, num_tree, den_tree) -> bool:
        r"""`\frac{d}{dt}`, `\frac{d f(x)}{dx}`, `\frac{d^2 y}{dx^2}`: a `d` on top and `d` juxtaposed with a name below."""
        def factors(t):
            while isinstance(t, Tree) and t.data == "group":
                t = self._children(t)[0]
            if isinstance(t, Tree) and t.data == "imul":
                return [f for kid in self._children(t) for f in factors(kid)]
            return [t]

        def name(t):
            while isinstance(t, Tree) and t.data == "scripted":
                t = self._children(t)[0]
            return str(self._children(t)[0].value) if isinstance(t, Tree) and t.data == "name" else None

        def d_word(word):  # `dx` typed as one undeclared word (d not a letter of this problem)
            return word is not None and len(word) > 1 and word[0] == "d" and word.isalnum() and \
                self.table.lookup(word) is None

        def is_d(t):  # d or d^2, not d_0 (another name)
            if isinstance(t, Tree) and t.data == "scripted":
                if any(s.data == "subscript" for s in self._children(self._children(t)[1])):
                    return False
            return name(t) == "d"

        top, bottom = factors(num_tree), factors(den_tree)
        return (is_d(top[0]) or d_word(name(top[0]))) and (
            (len(bottom) >= 2 and is_d(bottom[0]) and name(bottom[1]) is not None) or d_word(name(bottom[0])))

    def n_sqrt(self, tree):
        (arg_tree,) = self._children(tree)
        return self.function("sqrt", self.value(arg_tree), arg_tree)

    def n_root(self, tree):
        index_tree, arg_tree = self._children(tree)
        k = self.value(index_tree)
        if not (k.is_Integer and 1 <= k <= MAX_EXPONENT):
            raise self.fail(f"the root index `{self.snippet(index_tree)}` must be a small whole number")
        arg = self.value(arg_tree)
        if is_matrix(arg):
            raise self.fail(f"a root of {describe(arg)} (`{self.snippet(arg_tree)}`) is not supported")
        return apply(sp.Pow, arg, sp.Rational(1, int(k)))

    def n_abs(self, tree):
        (inner,) = self._children(tree)
        v = self.value(inner)
        if not is_matrix(v):
            return apply(sp.Abs, v)
        if is_square(v):
            return sp.Determinant(v)  # |Σ| is the determinant
        raise self.fail(f"|…| of {describe(v)} (`{self.snippet(inner)}`): write \\|v\\| for the norm of a vector")

    def n_indicator(self, tree):
        r"""`\mathbb{1}[a = b]`: 1 where the condition holds, else 0, as Heaviside steps with H(0) = 0.

        a = b is 1 − H(|a − b|), a ≤ b is 1 − H(a − b), a < b is H(b − a); exact equality is what is meant
        (x_k = \max_j x_j holds exactly at the largest entry, which is one of the entries).
        """
        (condition,) = self._children(tree)
        left, op, right = condition.children
        a, b = self.value(left), self.value(right)
        for v, t in ((a, left), (b, right)):
            if is_matrix(v):
                raise self.fail(f"an indicator compares scalars, not {describe(v)} (`{self.snippet(t)}`)")
        kind = op.type
        if kind in ("GE", "GT"):
            a, b, kind = b, a, {"GE": "LE", "GT": "LT"}[kind]

        def step(v):
            return apply(sp.Heaviside, v, sp.S.Zero)

        if kind == "EQ":
            return 1 - step(apply(sp.Abs, a - b))
        if kind == "NE":
            return step(apply(sp.Abs, a - b))
        if kind == "LE":
            return 1 - step(a - b)
        return step(b - a)  # LT

    def n_norm(self, tree):
        (inner,) = self._children(tree)
        v = self.value(inner)
        if not is_matrix(v):
            return apply(sp.Abs, v)
        if v.cols == 1:
            return sqrt(CommutingScalar(sp.MatMul(transpose(v), v)))
        if v.rows == 1:
            return sqrt(CommutingScalar(sp.MatMul(v, transpose(v))))
        raise self.fail(f"\\|…\\| of {describe(v)} (`{self.snippet(inner)}`) is ambiguous; only vector norms are supported")
