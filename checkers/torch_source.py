"""Reading torch's own source with `ast`: the default nn.Linear initialisation as sympy, and a strategy that proves from it.

Nothing about the init is assumed: `read_default_init` parses `nn.Linear.reset_parameters`,
`init.kaiming_uniform_` and `init.calculate_gain` of the installed torch, translates the bound formulas
into sympy (exact constants; only arithmetic and `math.sqrt` are read) and cross-checks them with the
runtime functions. If a future torch changes the default init, `TorchSourceChanged` names what changed
and `FromTorchSource` records a failed proof.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from dataclasses import dataclass, field

import sympy as sp
import torch

from checkers.errors import TorchSourceChanged
from checkers.symbolic import Strategy, SymbolicResult, SymbolicStatus

fan_in = sp.Symbol("fan_in", positive=True)


def _source_tree(fn) -> ast.FunctionDef:
    tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    return next(node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef))


def _to_sympy(node: ast.AST, names: dict[str, sp.Basic]) -> sp.Basic:
    """A Python arithmetic expression from torch's source as sympy (exact constants; only math.sqrt calls)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return sp.Rational(repr(node.value))
    if isinstance(node, ast.Name) and node.id in names:
        return names[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_to_sympy(node.operand, names)
    if isinstance(node, ast.BinOp):
        ops = {ast.Add: sp.Add, ast.Sub: lambda x, y: x - y, ast.Mult: sp.Mul, ast.Div: lambda x, y: x / y,
               ast.Pow: sp.Pow}
        for cls, op in ops.items():
            if isinstance(node.op, cls):
                return op(_to_sympy(node.left, names), _to_sympy(node.right, names))
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "sqrt"
            and isinstance(node.func.value, ast.Name) and node.func.value.id == "math" and len(node.args) == 1):
        return sp.sqrt(_to_sympy(node.args[0], names))
    raise TorchSourceChanged(f"cannot read the expression `{ast.unparse(node)}` (names known: {sorted(names)})")


def _assignments(fn: ast.FunctionDef) -> dict[str, ast.AST]:
    """name -> assigned expression, for the simple `name = expr` statements of a function body."""
    out = {}
    for node in ast.walk(fn):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            out[node.targets[0].id] = node.value
    return out


def _calls(fn: ast.FunctionDef, name: str) -> list[ast.Call]:
    return [node for node in ast.walk(fn) if isinstance(node, ast.Call)
            and isinstance(node.func, (ast.Attribute, ast.Name))
            and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id) == name]


@dataclass(frozen=True)
class DefaultInit:
    """What the installed torch's nn.Linear default init is, in sympy, with the evidence read."""

    a: sp.Basic  # kaiming_uniform_'s negative slope as passed by reset_parameters
    gain: sp.Basic
    weight_bound: sp.Basic  # in terms of fan_in
    bias_bound: sp.Basic
    evidence: tuple[str, ...] = field(default=())

    def variance(self, bound: sp.Basic) -> sp.Basic:
        """Var of U(-bound, bound), integrated by sympy."""
        w, c = sp.Symbol("w", real=True), sp.Symbol("c", positive=True)
        density = 1 / (2 * c)
        mean = sp.integrate(w * density, (w, -c, c))
        second = sp.integrate(w ** 2 * density, (w, -c, c))
        return sp.simplify((second - mean ** 2).subs(c, bound))


def read_default_init() -> DefaultInit:
    """Derive the default nn.Linear init from the installed torch's source (raises TorchSourceChanged)."""
    init = torch.nn.init
    evidence = []
    reset = _source_tree(torch.nn.Linear.reset_parameters)

    # 1. reset_parameters: kaiming_uniform_(self.weight, a=...) with the default mode and nonlinearity.
    calls = [c for c in _calls(reset, "kaiming_uniform_") if c.args and ast.unparse(c.args[0]) == "self.weight"]
    if len(calls) != 1:
        raise TorchSourceChanged("nn.Linear.reset_parameters no longer calls init.kaiming_uniform_(self.weight, ...)")
    signature = inspect.signature(init.kaiming_uniform_)
    params = list(signature.parameters)
    passed = {params[i]: arg for i, arg in enumerate(calls[0].args)}
    passed.update({kw.arg: kw.value for kw in calls[0].keywords})
    mode = ast.literal_eval(passed["mode"]) if "mode" in passed else signature.parameters["mode"].default
    nonlinearity = (ast.literal_eval(passed["nonlinearity"]) if "nonlinearity" in passed
                    else signature.parameters["nonlinearity"].default)
    if "a" not in passed:
        raise TorchSourceChanged("reset_parameters no longer passes a= to kaiming_uniform_")
    a = _to_sympy(passed["a"], {})
    evidence.append(f"reset_parameters: {ast.unparse(calls[0])} (mode={mode!r}, nonlinearity={nonlinearity!r})")
    if mode != "fan_in" or nonlinearity != "leaky_relu":
        raise TorchSourceChanged(f"kaiming_uniform_ now runs with mode={mode!r}, nonlinearity={nonlinearity!r}")

    # 2. kaiming_uniform_: std = gain / sqrt(fan), bound = sqrt(3) * std, tensor.uniform_(-bound, bound).
    kaiming = _source_tree(init.kaiming_uniform_)
    assigned = _assignments(kaiming)
    gain_s, fan_s, std_s = sp.symbols("gain fan std", positive=True)
    try:
        std = _to_sympy(assigned["std"], {"gain": gain_s, "fan": fan_s})
        bound = _to_sympy(assigned["bound"], {"std": std_s}).subs(std_s, std)
    except KeyError as exc:
        raise TorchSourceChanged(f"kaiming_uniform_ no longer assigns {exc.args[0]!r}") from None
    uniform = [c for c in _calls(kaiming, "uniform_") if [ast.unparse(x) for x in c.args[:2]] == ["-bound", "bound"]]
    if not uniform:
        raise TorchSourceChanged("kaiming_uniform_ no longer fills the tensor with uniform_(-bound, bound)")
    evidence.append(f"kaiming_uniform_: std = {ast.unparse(assigned['std'])}, bound = {ast.unparse(assigned['bound'])}")

    # 3. calculate_gain('leaky_relu', a) = sqrt(2 / (1 + a^2)): the return of the leaky_relu branch.
    gain_tree = _source_tree(init.calculate_gain)
    branch = [node for node in ast.walk(gain_tree) if isinstance(node, ast.If) and "'leaky_relu'" in ast.unparse(node.test)]
    # only the branch's own body (its elif/else chain holds the other nonlinearities)
    returns = [r for stmt in branch[0].body for r in ast.walk(stmt) if isinstance(r, ast.Return)] if branch else []
    slope = sp.Symbol("negative_slope", real=True)
    formulas = []
    for r in returns:
        try:
            formulas.append(_to_sympy(r.value, {"negative_slope": slope}))
        except TorchSourceChanged:
            continue
    if len(formulas) != 1:
        raise TorchSourceChanged("calculate_gain's leaky_relu branch no longer returns one arithmetic formula")
    gain = sp.simplify(formulas[0].subs(slope, a))
    runtime_gain = init.calculate_gain("leaky_relu", float(a))
    if abs(runtime_gain - float(gain)) > 1e-12:
        raise TorchSourceChanged(f"calculate_gain('leaky_relu', {float(a)}) = {runtime_gain}, but its source reads {gain}")
    evidence.append(f"calculate_gain('leaky_relu', a) = {ast.unparse(returns[0].value)} = {gain}")
    weight_bound = sp.simplify(bound.subs({gain_s: gain, fan_s: fan_in}))

    # 4. the bias: bound = 1 / sqrt(fan_in) (fan_in from _calculate_fan_in_and_fan_out), uniform_(bias, -bound, bound).
    reset_assigned = _assignments(reset)
    if "bound" not in reset_assigned:
        raise TorchSourceChanged("reset_parameters no longer assigns the bias bound")
    expr = reset_assigned["bound"]
    if isinstance(expr, ast.IfExp):  # `1 / math.sqrt(fan_in) if fan_in > 0 else 0`: fan_in >= 1 here
        expr = expr.body
    bias_bound = _to_sympy(expr, {"fan_in": fan_in})
    bias_calls = [c for c in _calls(reset, "uniform_")
                  if [ast.unparse(x) for x in c.args[:3]] == ["self.bias", "-bound", "bound"]]
    if not bias_calls:
        raise TorchSourceChanged("reset_parameters no longer fills the bias with uniform_(self.bias, -bound, bound)")
    probe = torch.empty(7, 5)
    if init._calculate_fan_in_and_fan_out(probe) != (5, 7):
        raise TorchSourceChanged("init._calculate_fan_in_and_fan_out no longer returns (in_features, out_features)")
    evidence.append(f"reset_parameters: bias bound = {ast.unparse(expr)}")
    return DefaultInit(a=a, gain=gain, weight_bound=weight_bound, bias_bound=sp.simplify(bias_bound),
                       evidence=tuple(evidence))


@dataclass(frozen=True)
class FromTorchSource(Strategy):
    """Prove a claim about the default init from torch's own source: `quantity` is "bound" or "variance".

    The right-hand side must equal the quantity derived for the weights and for the biases.
    """

    quantity: str = "bound"
    fan_in: sp.Symbol = fan_in  # the claim's own fan-in symbol

    def _attempt(self, lhs, rhs, relation):
        try:
            found = read_default_init()
        except TorchSourceChanged as exc:
            return SymbolicResult(SymbolicStatus.FAILED, detail=f"torch {torch.__version__}: {exc}")
        derived = {"weights": found.weight_bound.subs(fan_in, self.fan_in),
                   "biases": found.bias_bound.subs(fan_in, self.fan_in)}
        if self.quantity == "variance":
            derived = {name: found.variance(b) for name, b in derived.items()}
        for name, value in derived.items():
            if sp.simplify(value - rhs) != 0:
                return SymbolicResult(SymbolicStatus.FAILED, detail=f"torch {torch.__version__} gives {name} a {self.quantity} of "
                                                       f"{value}, not {rhs}")
        what = "U(-B, B) never exceeds B" if self.quantity == "bound" else "Var U(-B, B) = B²/3 (sympy integral)"
        return SymbolicResult(SymbolicStatus.PROVED, f"torch {torch.__version__} source",
                              "; ".join(found.evidence) + f"; a = {found.a}, gain = {found.gain}, "
                              f"B = {found.weight_bound}; {what}")
