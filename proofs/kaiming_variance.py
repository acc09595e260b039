r"""Mean and variance of a linear MLP's output under PyTorch's default `nn.Linear` initialisation.

# Main statements

* `init-bound`: the default init of `nn.Linear(fan_in, fan_out)` draws every weight and every bias
  from $\mathcal U(-1/\sqrt{\text{fan\_in}}, 1/\sqrt{\text{fan\_in}})$, so $|w|, |b| \le 1/\sqrt{\text{fan\_in}}$.
* `init-variance`: hence $\operatorname{Var} w = \operatorname{Var} b = 1/(3\,\text{fan\_in})$.
* `layer-variance`: if $y \in \mathbb R^{n_{\ell-1}}$ has zero-mean entries with $\mathbb E y_k^2 = v_{\ell-1}$
  (correlated or not) and is independent of the layer, then $z = A y + b$ has $\mathbb E z_i = 0$ and
  $\mathbb E z_i^2 = v_{\ell-1}/3 + 1/(3 n_{\ell-1})$: the recursion $v_\ell = v_{\ell-1}/3 + 1/(3n_{\ell-1})$, $v_0 = 1$.
* `closed-form`: the recursion unrolled, $\frac{1}{3n_{L-1}} + \frac{1}{3^2 n_{L-2}} + \dots + \frac{1}{3^L n_0}
  + 3^{-L}$, equals `VARIANCE_CLOSED_FORM` $= 3^{-L} + \sum_{\ell=1}^{L} \frac{1}{3^{L-\ell+1} n_{\ell-1}}$.
* `network-moments`: for $y_L = A_L(\cdots(A_1 x + b_1)\cdots) + b_L$ ($\sigma(z) = z$, $n_L = 1$) with
  default-initialised layers and $x$ iid zero-mean unit-variance, $\mathbb E y_L = 0$ and
  $\operatorname{Var} y_L$ is the closed form, checked on real `nn.Linear` layers.

# Notation

$n_0, \dots, n_{L-1}$ are the widths (`n[0] .. n[L-1]`, a (B, L) tensor per batch), $n_L = 1$;
$v_\ell = \operatorname{Var}(y_\ell)_i$ is the variance of any entry of layer $\ell$'s output.

# Implementation notes

* Nothing about the init is assumed: `init-bound` and `init-variance` are proved by a strategy
  that reads the installed torch's source at check time (`ast` of `nn.Linear.reset_parameters`,
  `init.kaiming_uniform_`, `init.calculate_gain`), translates the bound formulas into sympy
  (`a = math.sqrt(5)` → $\sqrt5$, gain $\sqrt{2/(1+a^2)}$, bound $\sqrt3\cdot\text{gain}/\sqrt{\text{fan}}$,
  bias bound $1/\sqrt{\text{fan\_in}}$) and integrates the uniform law's variance. If a future torch
  changes the default init, these proofs fail (naming the line that changed) and the Monte Carlo
  checks on real modules fail with them.
* `layer-variance` is proved symbolically for $n_{\ell-1} \in \{1, 2, 3, 4\}$ by expanding
  $\mathbb E[(\sum_k A_k y_k + b)^2]$ with independent zero-mean $A_k$, $b$ and an arbitrary
  covariance $C$ of $y$ (diagonal $v$); the general-$n$ sum has the same form termwise.
* `closed-form` is proved for general $L$ by induction: both sides satisfy $v_1 = \tfrac13 + \tfrac1{3n_0}$
  and $v_{L+1} = v_L/3 + 1/(3 n_L)$ (sympy checks the base case and the step after splitting off one
  term of the sum), so they are equal.
* Monte Carlo: `init-*` use one freshly constructed `nn.Linear(fan_in, fan_out)` per instance, with
  torch's default dtype and init (constructing the module is what is under test). `layer-variance` and
  `network-moments` draw R re-initialisations of a layer for all instances that share its shape
  $(n_{\ell-1}, n_\ell)$ as the row blocks of one real `nn.Linear(n_{ℓ-1}, count·R·n_ℓ)`: rows of the
  default init are iid with a law that depends on fan_in only (read from the source above; checked on
  exact shapes by `init-*`). Activations are zero-padded to the largest width, so each layer is one
  batched matmul per distinct shape, never a loop over instances. Inputs are uniform on
  $[-\sqrt3, \sqrt3]$ (mean 0, variance 1). Estimates are checked within 5 standard errors (the
  standard error of a variance estimate from the fourth central moment); draws are seeded from the
  batch seed (torch's global generator, forked and restored), and a batch's draws are computed once
  and reused by the oracle and the mutants.

# References

* hw6-2021 Problem 2 (default weight initialisation), and student-hw6 Problem 2 (a correct
  submission; the mutants are the slips one makes on the way: exponent off by one, the bias
  forgotten, $n_\ell$ for $n_{\ell-1}$, $b^2$ for the variance of $\mathcal U(-b, b)$).
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import math
import textwrap
from collections import OrderedDict
from dataclasses import dataclass, field

import sympy as sp
import torch

from checkers import (Answer, Claim, Derivation, Estimate, Figure, Integer, Mutant, Part, Reference, Tolerance,
                      Variable, not_attempted)
from checkers.kinds import Kind, Positive, Real
from checkers.symbolic import Strategy, SymbolicResult
from checkers.strategies import distribute_sums
from checkers.grading import Problem, Symbol
from checkers.kinds import append_value

# ---------------------------------------------------------------------------------------------------------------
# Symbols (fixed names: the grader imports them)

L = sp.Symbol("L", integer=True, positive=True)
ell = sp.Symbol("ell", integer=True, positive=True)
n = sp.IndexedBase("n")
k = sp.Symbol("k", integer=True, nonnegative=True)

VARIANCE_CLOSED_FORM = 3 ** (-L) + sp.Sum(1 / (3 ** (L - ell + 1) * n[ell - 1]), (ell, 1, L))
# The recursion unrolled from the top layer down, as the submitted solution writes it:
# 1/(3 n_{L-1}) + 1/(3^2 n_{L-2}) + ... + 1/(3^L n_0) + 3^{-L}.
VARIANCE_UNROLLED = sp.Sum(1 / (3 ** (k + 1) * n[L - 1 - k]), (k, 0, L - 1)) + 3 ** (-L)

fan_in, fan_out = sp.symbols("fan_in fan_out", positive=True)
v, n_prev = sp.symbols("v n_prev", positive=True)
rho = sp.Symbol("rho", nonnegative=True)
third = sp.Rational(1, 3)


# ---------------------------------------------------------------------------------------------------------------
# Instance kinds: integer widths


@dataclass(frozen=True)
class Widths(Kind):
    """The widths n_0, ..., n_{depth-1} of one network per instance: integers in [low, high], shape (B, depth)."""

    depth: str = "L"
    low: int = 1
    high: int = 64

    @property
    def description(self) -> str:
        return f"{self.depth} integer widths n_0..n_{{{self.depth}-1}} in [{self.low}, {self.high}] (n_{self.depth} = 1)"

    def draw(self, batch, dims, gen):
        return torch.randint(self.low, self.high + 1, (batch, dims[self.depth]), generator=gen).to(torch.float64)


# ---------------------------------------------------------------------------------------------------------------
# Reading the default init from the installed torch


class InitSourceChanged(Exception):
    """torch's default-init source no longer has the shape this derivation reads; the message names what changed."""


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
    raise InitSourceChanged(f"cannot read the expression `{ast.unparse(node)}` (names known: {sorted(names)})")


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
    """Derive the default nn.Linear init from the installed torch's source (raises InitSourceChanged)."""
    init = torch.nn.init
    evidence = []
    reset = _source_tree(torch.nn.Linear.reset_parameters)

    # 1. reset_parameters: kaiming_uniform_(self.weight, a=...) with the default mode and nonlinearity.
    calls = [c for c in _calls(reset, "kaiming_uniform_") if c.args and ast.unparse(c.args[0]) == "self.weight"]
    if len(calls) != 1:
        raise InitSourceChanged("nn.Linear.reset_parameters no longer calls init.kaiming_uniform_(self.weight, ...)")
    signature = inspect.signature(init.kaiming_uniform_)
    params = list(signature.parameters)
    passed = {params[i]: arg for i, arg in enumerate(calls[0].args)}
    passed.update({kw.arg: kw.value for kw in calls[0].keywords})
    mode = ast.literal_eval(passed["mode"]) if "mode" in passed else signature.parameters["mode"].default
    nonlinearity = (ast.literal_eval(passed["nonlinearity"]) if "nonlinearity" in passed
                    else signature.parameters["nonlinearity"].default)
    if "a" not in passed:
        raise InitSourceChanged("reset_parameters no longer passes a= to kaiming_uniform_")
    a = _to_sympy(passed["a"], {})
    evidence.append(f"reset_parameters: {ast.unparse(calls[0])} (mode={mode!r}, nonlinearity={nonlinearity!r})")
    if mode != "fan_in" or nonlinearity != "leaky_relu":
        raise InitSourceChanged(f"kaiming_uniform_ now runs with mode={mode!r}, nonlinearity={nonlinearity!r}")

    # 2. kaiming_uniform_: std = gain / sqrt(fan), bound = sqrt(3) * std, tensor.uniform_(-bound, bound).
    kaiming = _source_tree(init.kaiming_uniform_)
    assigned = _assignments(kaiming)
    gain_s, fan_s, std_s = sp.symbols("gain fan std", positive=True)
    try:
        std = _to_sympy(assigned["std"], {"gain": gain_s, "fan": fan_s})
        bound = _to_sympy(assigned["bound"], {"std": std_s}).subs(std_s, std)
    except KeyError as exc:
        raise InitSourceChanged(f"kaiming_uniform_ no longer assigns {exc.args[0]!r}") from None
    uniform = [c for c in _calls(kaiming, "uniform_") if [ast.unparse(x) for x in c.args[:2]] == ["-bound", "bound"]]
    if not uniform:
        raise InitSourceChanged("kaiming_uniform_ no longer fills the tensor with uniform_(-bound, bound)")
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
        except InitSourceChanged:
            continue
    if len(formulas) != 1:
        raise InitSourceChanged("calculate_gain's leaky_relu branch no longer returns one arithmetic formula")
    gain = sp.simplify(formulas[0].subs(slope, a))
    runtime_gain = init.calculate_gain("leaky_relu", float(a))
    if abs(runtime_gain - float(gain)) > 1e-12:
        raise InitSourceChanged(f"calculate_gain('leaky_relu', {float(a)}) = {runtime_gain}, but its source reads {gain}")
    evidence.append(f"calculate_gain('leaky_relu', a) = {ast.unparse(returns[0].value)} = {gain}")
    weight_bound = sp.simplify(bound.subs({gain_s: gain, fan_s: fan_in}))

    # 4. the bias: bound = 1 / sqrt(fan_in) (fan_in from _calculate_fan_in_and_fan_out), uniform_(bias, -bound, bound).
    reset_assigned = _assignments(reset)
    if "bound" not in reset_assigned:
        raise InitSourceChanged("reset_parameters no longer assigns the bias bound")
    expr = reset_assigned["bound"]
    if isinstance(expr, ast.IfExp):  # `1 / math.sqrt(fan_in) if fan_in > 0 else 0`: fan_in >= 1 here
        expr = expr.body
    bias_bound = _to_sympy(expr, {"fan_in": fan_in})
    bias_calls = [c for c in _calls(reset, "uniform_")
                  if [ast.unparse(x) for x in c.args[:3]] == ["self.bias", "-bound", "bound"]]
    if not bias_calls:
        raise InitSourceChanged("reset_parameters no longer fills the bias with uniform_(self.bias, -bound, bound)")
    probe = torch.empty(7, 5)
    if init._calculate_fan_in_and_fan_out(probe) != (5, 7):
        raise InitSourceChanged("init._calculate_fan_in_and_fan_out no longer returns (in_features, out_features)")
    evidence.append(f"reset_parameters: bias bound = {ast.unparse(expr)}")
    return DefaultInit(a=a, gain=gain, weight_bound=weight_bound, bias_bound=sp.simplify(bias_bound),
                       evidence=tuple(evidence))


@dataclass(frozen=True)
class FromTorchSource(Strategy):
    """Prove a claim about the default init from torch's own source: `quantity` is "bound" or "variance".

    The right-hand side must equal the quantity derived for the weights and for the biases.
    """

    quantity: str = "bound"

    def _attempt(self, lhs, rhs, relation):
        try:
            found = read_default_init()
        except InitSourceChanged as exc:
            return SymbolicResult("failed", detail=f"torch {torch.__version__}: {exc}")
        derived = {"weights": found.weight_bound, "biases": found.bias_bound}
        if self.quantity == "variance":
            derived = {name: found.variance(b) for name, b in derived.items()}
        for name, value in derived.items():
            if sp.simplify(value - rhs) != 0:
                return SymbolicResult("failed", detail=f"torch {torch.__version__} gives {name} a {self.quantity} of "
                                                       f"{value}, not {rhs}")
        what = "U(-B, B) never exceeds B" if self.quantity == "bound" else "Var U(-B, B) = B²/3 (sympy integral)"
        return SymbolicResult("proved", f"torch {torch.__version__} source",
                              "; ".join(found.evidence) + f"; a = {found.a}, gain = {found.gain}, "
                              f"B = {found.weight_bound}; {what}")


# ---------------------------------------------------------------------------------------------------------------
# The one-layer second moment, by expanding the expectation


@dataclass(frozen=True)
class SecondMoment(Strategy):
    """Prove E[z] = 0 and E[z²] = rhs for z = Σ_k A_k y_k + b, for each width in `widths`.

    A_1..A_n, b and the vector y are mutually independent; E A_k = E b = 0, E A_k² = s_w, E b² = s_b,
    E y = 0 and E[y_j y_k] = C_jk with C_kk = v (off-diagonal C arbitrary). The expectation of each
    monomial factors over the independent groups; s_w = s_b = 1/(3 n) as `init-variance` proves.
    """

    widths: tuple[int, ...] = (1, 2, 3, 4)

    def _attempt(self, lhs, rhs, relation):
        s_w, s_b = sp.symbols("s_w s_b", positive=True)
        for width in self.widths:
            a = sp.symbols(f"A1:{width + 1}", real=True)
            y = sp.symbols(f"y1:{width + 1}", real=True)
            b = sp.Symbol("b", real=True)
            cov = {(i, j): (v if i == j else sp.Symbol(f"C_{min(i, j)}{max(i, j)}", real=True))
                   for i in range(width) for j in range(width)}
            z = sum(ai * yi for ai, yi in zip(a, y)) + b

            def expect(poly):
                # E of a monomial factors over the independent groups A_1, ..., A_n, b and y.
                total = sp.Integer(0)
                for powers, coeff in sp.Poly(sp.expand(poly), *a, b, *y).terms():
                    factor = coeff
                    for power, second_moment in zip(powers[:width + 1], [s_w] * width + [s_b]):
                        factor *= {0: 1, 1: 0, 2: second_moment}[power]  # E X^0 = 1, E X = 0, E X² = s
                    idx = [i for i, e in enumerate(powers[width + 1:]) for _ in range(e)]
                    factor *= {0: 1, 1: 0, 2: cov[tuple(idx)] if len(idx) == 2 else None}[len(idx)]
                    total += factor
                return total

            mean, second = expect(z), expect(z ** 2)
            second = second.subs({s_w: 1 / (3 * n_prev), s_b: 1 / (3 * n_prev)}).subs(n_prev, width)
            target = sp.sympify(rhs).subs(n_prev, width)
            if mean != 0 or sp.simplify(second - target) != 0:
                return SymbolicResult("failed", detail=f"for n = {width}: E z = {mean}, E z² = {sp.simplify(second)}, "
                                                       f"claimed {target}")
        return SymbolicResult("proved", f"n ∈ {{{', '.join(map(str, self.widths))}}}",
                              "E z² = Σ_jk E[A_j A_k] C_jk + E b² = n s_w v + s_b: cross terms vanish by independence")


# ---------------------------------------------------------------------------------------------------------------
# The closed form, by induction on L


def _split_last(s: sp.Sum) -> sp.Basic:
    f, (var, lo, hi) = s.args[0], s.args[1]
    return sp.Sum(f, (var, lo, hi - 1)) + f.subs(var, hi)


def _split_first(s: sp.Sum) -> sp.Basic:
    f, (var, lo, hi) = s.args[0], s.args[1]
    return f.subs(var, lo) + sp.Sum(f.subs(var, var + 1), (var, lo, hi - 1))


def _solves_recursion(expr: sp.Basic) -> str | None:
    """None if expr(L) satisfies v_1 = 1/3 + 1/(3 n_0) and v_{L+1} = v_L/3 + 1/(3 n_L); else what fails."""
    base = sp.simplify(expr.subs(L, 1).doit() - (third + 1 / (3 * n[0])))
    if base != 0:
        return f"base case L = 1 leaves {base}"
    shifted = expr.subs(L, L + 1)
    for splitter in (_split_last, _split_first):
        step = shifted.replace(lambda z: isinstance(z, sp.Sum), splitter) - expr / 3 - 1 / (3 * n[L])
        if distribute_sums(step) == 0:
            return None
    return f"step L → L+1 leaves {sp.simplify(distribute_sums(shifted.replace(lambda z: isinstance(z, sp.Sum), _split_last) - expr / 3 - 1 / (3 * n[L])))}"


@dataclass(frozen=True)
class RecursionInduction(Strategy):
    """Prove lhs = rhs for all L >= 1: both satisfy v_1 = 1/3 + 1/(3n_0), v_{L+1} = v_L/3 + 1/(3n_L).

    The step splits one term off a sum whose upper limit moved with L (the last or the first term,
    re-indexed), distributes the sums and checks that the difference expands to 0.
    """

    def _attempt(self, lhs, rhs, relation):
        if relation != "=":
            return SymbolicResult("not attempted", detail="induction proves equalities")
        for side, expr in (("lhs", lhs), ("rhs", rhs)):
            problem = _solves_recursion(expr)
            if problem is not None:
                return SymbolicResult("failed", detail=f"{side} does not solve the recursion: {problem}")
        return SymbolicResult("proved", "general L (induction)",
                              "both sides: base case L = 1 and step L → L+1 of v_L = v_{L-1}/3 + 1/(3 n_{L-1})")


# ---------------------------------------------------------------------------------------------------------------
# Monte Carlo on real nn.Linear modules


def _memo(fn):
    """Cache a numeric function's result per batch (seed, dims, values, dtype, device).

    The engine evaluates a claim's numeric function on the same float64 batch for the float64 run, as
    the oracle of each lower-precision run, and for every mutant; the Monte Carlo draws depend only on
    the batch, so they are computed once.
    """
    cache: OrderedDict = OrderedDict()

    def key(sample, dtype_too: bool):
        digest = hashlib.sha1()
        for name in sorted(sample.values):
            digest.update(name.encode())
            digest.update(sample.values[name].detach().to("cpu", torch.float64).contiguous().numpy().tobytes())
        # the functions the draws run: a patched or changed init must not be answered from the cache
        init = (torch.nn.Linear.reset_parameters, torch.nn.init.kaiming_uniform_, torch.nn.init.uniform_,
                torch.nn.init.calculate_gain)
        parts = (sample.seed, sample.size, tuple(sorted(sample.dims.items())), digest.hexdigest(), init)
        return parts + ((str(sample.dtype), str(sample.device)) if dtype_too else ())

    def wrapper(sample, *args):
        k_ = key(sample, wrapper.per_dtype) + args
        if k_ not in cache:
            cache[k_] = fn(sample, *args)
            while len(cache) > 16:
                cache.popitem(last=False)
        cache.move_to_end(k_)
        return cache[k_]

    wrapper.per_dtype = True
    wrapper.__name__, wrapper.__doc__ = fn.__name__, fn.__doc__
    return wrapper


def _drawn_once(fn):
    """Like _memo, but the result does not depend on the batch's dtype or device (float64 CPU draws)."""
    wrapper = _memo(fn)
    wrapper.per_dtype = False
    return wrapper


@_drawn_once
def _fresh_linear_parameters(sample) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """One freshly constructed nn.Linear(fan_in, fan_out) per instance (float64, CPU).

    Returns the weights and the biases, each zero-padded to one row per instance, and their counts.
    Constructing the module is what is under test, so each instance gets its own.
    """
    weights, biases = [], []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(sample.seed)
        for fi, fo in zip(sample["fan_in"].tolist(), sample["fan_out"].tolist()):
            layer = torch.nn.Linear(int(round(fi)), int(round(fo)))
            weights.append(layer.weight.detach().reshape(-1))
            biases.append(layer.bias.detach())
    pad = torch.nn.utils.rnn.pad_sequence
    return (pad(weights, batch_first=True), torch.tensor([len(w) for w in weights]),
            pad(biases, batch_first=True), torch.tensor([len(b) for b in biases]))


def _variance_estimate(values: torch.Tensor, counts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Unbiased variance of each row's first counts[i] entries (the rest zero-padded) and its standard error.

    stderr² = (m4 - s⁴)/N: the delta-method variance of the sample variance from the fourth central moment.
    """
    counts = counts.to(values.device)
    mask = torch.arange(values.shape[-1], device=values.device) < counts.unsqueeze(-1)
    n_ = counts.to(values.dtype)
    mean = (values * mask).sum(-1) / n_
    centred = (values - mean.unsqueeze(-1)) * mask
    m2 = (centred ** 2).sum(-1) / n_
    m4 = (centred ** 4).sum(-1) / n_
    var = m2 * n_ / (n_ - 1)
    return var, torch.sqrt((m4 - m2 ** 2).clamp_min(0) / n_)


@_memo
def init_max_abs(sample) -> tuple[torch.Tensor, torch.Tensor]:
    """Largest |w| and |b| of each instance's fresh module, against the bound 1/sqrt(fan_in)."""
    w, _, b, _ = _fresh_linear_parameters(sample)
    dt, dev = sample.dtype, sample.device
    top = torch.maximum(w.to(dev, dt).abs().amax(-1), b.to(dev, dt).abs().amax(-1))
    return top, 1 / torch.sqrt(sample["fan_in"])


@_memo
def init_moments(sample) -> tuple[Estimate, torch.Tensor]:
    """(Var w, Var b) of each instance's fresh nn.Linear, as estimates, against 1/(3 fan_in) for both."""
    w, w_count, b, b_count = _fresh_linear_parameters(sample)
    dt, dev = sample.dtype, sample.device
    var_w, se_w = _variance_estimate(w.to(dev, dt), w_count)
    var_b, se_b = _variance_estimate(b.to(dev, dt), b_count)
    target = 1 / (3 * sample["fan_in"])
    return Estimate(torch.stack([var_w, var_b], -1), torch.stack([se_w, se_b], -1)), torch.stack([target, target], -1)


def _layer_copies(fan_ins: torch.Tensor, fan_outs: torch.Tensor, copies: int, seed: int):
    """Default inits of each instance's layer, `copies` times: yields (instance indices, weights, biases).

    All instances with the same (fan_in, fan_out) share one freshly constructed real
    nn.Linear(fan_in, count * copies * fan_out) (default dtype, default init) whose row blocks are
    the copies: weights (count, copies, fan_out, fan_in), biases (count, copies, fan_out).
    """
    pairs = torch.stack([fan_ins, fan_outs], -1).to("cpu", torch.float64)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for fi, fo in torch.unique(pairs, dim=0).long().tolist():
            idx = torch.nonzero((pairs == torch.tensor([fi, fo], dtype=pairs.dtype)).all(-1)).squeeze(-1)
            layer = torch.nn.Linear(fi, len(idx) * copies * fo)
            yield (idx, layer.weight.detach().reshape(len(idx), copies, fo, fi),
                   layer.bias.detach().reshape(len(idx), copies, fo))


LAYER_COPIES = 512


@_memo
def layer_moments(sample) -> tuple[Estimate, torch.Tensor]:
    """One default-initialised layer applied to correlated inputs with E y_k² = v: (E z, E z²) estimates."""
    gen = sample.generator(7)
    fan = sample["n_prev"].to("cpu", torch.float64)
    batch, width, r = fan.shape[0], int(fan.max()), LAYER_COPIES
    # y_k = sqrt(v) (sqrt(rho) g_0 + sqrt(1 - rho) g_k), g uniform on [-sqrt 3, sqrt 3]: E y_k = 0,
    # E y_k² = v, corr(y_j, y_k) = rho.
    g0 = (2 * torch.rand(batch, r, 1, generator=gen, dtype=torch.float64) - 1) * math.sqrt(3)
    g = (2 * torch.rand(batch, r, width, generator=gen, dtype=torch.float64) - 1) * math.sqrt(3)
    rho_, v_ = sample["rho"].to("cpu", torch.float64), sample["v"].to("cpu", torch.float64)
    y = v_.sqrt()[:, None, None] * (rho_.sqrt()[:, None, None] * g0 + (1 - rho_).sqrt()[:, None, None] * g)
    dt, dev = sample.dtype, sample.device
    y, z = y.to(dev, dt), torch.zeros(batch, r, dtype=dt, device=dev)
    for idx, weight, bias in _layer_copies(fan, torch.ones_like(fan), r, sample.seed + 11):
        fi = weight.shape[-1]
        z[idx] = torch.einsum("brj,brj->br", weight[:, :, 0].to(dev, dt), y[idx, :, :fi]) + bias[..., 0].to(dev, dt)
    mean, second = z.mean(-1), (z ** 2).mean(-1)
    se_mean = z.std(-1) / math.sqrt(r)
    se_second = (z ** 2).std(-1) / math.sqrt(r)
    target = sample.evaluate(LAYER_RHS)
    return (Estimate(torch.stack([mean, second], -1), torch.stack([se_mean, se_second], -1)),
            torch.stack([torch.zeros_like(target), target], -1))


NETWORK_COPIES = 384


def network_outputs(sample, copies: int = NETWORK_COPIES) -> torch.Tensor:
    """y_L of `copies` independently initialised networks per instance, each on its own input x: (B, copies)."""
    widths = sample["n"].to("cpu", torch.float64)
    batch, depth = widths.shape
    wmax = int(widths.max())
    gen = sample.generator(3)
    dt, dev = sample.dtype, sample.device
    # x with iid entries of mean 0 and variance 1 (uniform on [-sqrt 3, sqrt 3]); zero beyond n_0.
    x = (torch.rand(batch, copies, wmax, generator=gen, dtype=torch.float64) * 2 - 1) * math.sqrt(3)
    y = (x * (torch.arange(wmax) < widths[:, :1]).unsqueeze(1)).to(dev, dt)
    for layer in range(depth):
        fan_out = widths[:, layer + 1] if layer + 1 < depth else torch.ones(batch, dtype=torch.float64)
        out = torch.zeros(batch, copies, wmax, dtype=dt, device=dev)
        for idx, weight, bias in _layer_copies(widths[:, layer], fan_out, copies, sample.seed + 101 * (layer + 1)):
            fo, fi = weight.shape[-2:]
            out[idx, :, :fo] = torch.einsum("brij,brj->bri", weight.to(dev, dt), y[idx, :, :fi]) + bias.to(dev, dt)
        y = out
    return y[..., 0]


@_memo
def network_moments(sample) -> tuple[Estimate, torch.Tensor]:
    """(E y_L, Var y_L) over re-initialisations and inputs, against (0, closed form)."""
    y = network_outputs(sample)
    r = y.shape[-1]
    mean = y.mean(-1)
    var, se_var = _variance_estimate(y, torch.full((y.shape[0],), r, device=y.device))
    target = sample.evaluate(VARIANCE_CLOSED_FORM)
    return (Estimate(torch.stack([mean, var], -1), torch.stack([y.std(-1) / math.sqrt(r), se_var], -1)),
            torch.stack([torch.zeros_like(target), target], -1))


def recursion(sample) -> torch.Tensor:
    """v_L by running v_ℓ = v_{ℓ-1}/3 + 1/(3 n_{ℓ-1}) from v_0 = 1, one layer at a time over the batch."""
    widths = sample["n"].to(torch.float64)
    value = torch.ones(widths.shape[0], dtype=torch.float64, device=widths.device)
    for layer in range(widths.shape[1]):
        value = value / 3 + 1 / (3 * widths[:, layer])
    return value


def _wrong_target(fn, position: int, wrong):
    """A mutant numeric function: the claim's estimate against a wrong formula at `position` of the target."""

    def mutant(sample):
        estimate, target = fn(sample)
        target = target.clone()
        target[..., position] = sample.evaluate(wrong) if isinstance(wrong, sp.Basic) else wrong(sample)
        return estimate, target

    return mutant


# ---------------------------------------------------------------------------------------------------------------
# Claims

INIT_VARIABLES = (Variable("fan_in", Integer(1, 32), r"\text{fan\_in}"), Variable("fan_out", Integer(128, 256), r"\text{fan\_out}"))

init_bound = Claim(
    id="init-bound",
    statement="nn.Linear(fan_in, fan_out)'s default weights and biases lie in [-1/√fan_in, 1/√fan_in]",
    lhs=None, rhs=1 / sp.sqrt(fan_in), relation="<=",
    variables=INIT_VARIABLES,
    assumptions=("the installed torch's nn.Linear.reset_parameters",),
    symbolic=FromTorchSource(quantity="bound"),
    numeric=init_max_abs,
    references=(
        Reference("observed-bound", "the largest |w| or |b| of the fresh module (order statistic of ≥ 128 draws)",
                  lambda s: init_max_abs(s)[0], side="rhs",
                  tolerance=Tolerance(0.2, 0.0, "the largest of N >= 128 iid |U(-B, B)| falls short of B by B·E/N, "
                                                "E ~ Exp(1); a shortfall over 0.2 B has probability e^{-25.6}")),
    ),
    mutants=(
        Mutant("std-for-bound", "1/√(3 fan_in): the standard deviation taken as the bound",
               numeric=lambda s: (init_max_abs(s)[0], 1 / torch.sqrt(3 * s["fan_in"]))),
        Mutant("fan-out", "1/√fan_out: fan_out in place of fan_in",
               numeric=lambda s: (init_max_abs(s)[0], 1 / torch.sqrt(s["fan_out"]))),
    ),
    dtypes=(torch.float64, torch.float32),
)

init_variance = Claim(
    id="init-variance",
    statement="default weights and biases of nn.Linear(fan_in, fan_out) have mean 0 and variance 1/(3 fan_in)",
    lhs=None, rhs=1 / (3 * fan_in), relation="≈",
    variables=INIT_VARIABLES,
    assumptions=("the installed torch's nn.Linear.reset_parameters",),
    symbolic=FromTorchSource(quantity="variance"),
    numeric=init_moments,
    mutants=(
        Mutant("bound-squared", "1/fan_in: Var U(-B, B) taken as B²", numeric=_wrong_target(init_moments, 0, 1 / fan_in)),
        Mutant("he-normal", "2/fan_in: the He (kaiming normal, ReLU gain) variance",
               numeric=_wrong_target(init_moments, 0, 2 / fan_in)),
        Mutant("bias-fan-out", "bias variance 1/(3 fan_out)", numeric=_wrong_target(init_moments, 1, 1 / (3 * fan_out))),
    ),
    dtypes=(torch.float64, torch.float32),
)

LAYER_RHS = v / 3 + 1 / (3 * n_prev)

layer_variance = Claim(
    id="layer-variance",
    statement="z = Ay + b with default-initialised A, b and zero-mean y, E y_k² = v: E z_i = 0, E z_i² = v/3 + 1/(3 n_{ℓ-1})",
    lhs=None, rhs=LAYER_RHS, relation="≈",
    variables=(Variable("n_prev", Integer(1, 12), r"n_{\ell-1}"), Variable("v", Positive(0.1, 10.0), "v"),
               Variable("rho", Real(0.0, 0.9), r"\rho")),
    assumptions=("y independent of (A, b)", "E y = 0, E y_k² = v; the y_k may be correlated (ρ)",
                 "A_ij, b_i iid, mean 0, variance 1/(3 n_{ℓ-1})"),
    symbolic=SecondMoment(),
    numeric=layer_moments,
    mutants=(
        Mutant("no-bias", "v/3: the bias forgotten", numeric=_wrong_target(layer_moments, 1, v / 3)),
        Mutant("n-out", "v + 1/(3n): Var A_ij taken as 1/n", numeric=_wrong_target(layer_moments, 1, v + 1 / (3 * n_prev))),
        Mutant("cross-terms", "v(1 + (n-1)ρ)/3 + 1/(3n): correlations of y counted as if A were shared",
               numeric=_wrong_target(layer_moments, 1, v * (1 + (n_prev - 1) * rho) / 3 + 1 / (3 * n_prev))),
    ),
    dtypes=(torch.float64, torch.float32),
)

closed_form = Claim(
    id="closed-form",
    statement="v_0 = 1, v_ℓ = v_{ℓ-1}/3 + 1/(3 n_{ℓ-1}) gives 1/(3n_{L-1}) + ... + 1/(3^L n_0) + 3^{-L} "
              "= 3^{-L} + Σ_{ℓ=1}^{L} 1/(3^{L-ℓ+1} n_{ℓ-1})",
    lhs=VARIANCE_UNROLLED, rhs=VARIANCE_CLOSED_FORM,
    variables=(Variable("n", Widths("L", 1, 64), r"n_{\ell}"),),
    dims={"L": (1, 8)},
    assumptions=("n_L = 1",),
    symbolic=RecursionInduction(),
    references=(Reference("recursion", "v_L by running the recursion layer by layer", recursion),),
    mutants=(
        Mutant("exponent-off-by-one", "1/(3^{L-ℓ} n_{ℓ-1}): one factor 1/3 short in every term",
               rhs=3 ** (-L) + sp.Sum(1 / (3 ** (L - ell) * n[ell - 1]), (ell, 1, L))),
        Mutant("no-bias", "3^{-L}: the bias terms forgotten", rhs=3 ** (-L)),
        Mutant("no-input", "the input's 3^{-L} forgotten", rhs=sp.Sum(1 / (3 ** (L - ell + 1) * n[ell - 1]), (ell, 1, L))),
        Mutant("n-ell", "1/(3^{L-ℓ+1} n_ℓ): the layer's output width for its input width (n_L = 1)",
               rhs=3 ** (-L) + sp.Sum(1 / (3 ** (L - ell + 1) * n[ell]), (ell, 1, L - 1)) + third),
    ),
    dtypes=(torch.float64, torch.float32, torch.float16, torch.bfloat16),
)


GRADEABLE_CLOSED_FORM = Problem(
    id="kaiming-variance", title="Output variance of a linear MLP under PyTorch's default initialisation",
    source="hw6-2021 P2", claim=closed_form,
    statement=r"Give $\operatorname{Var} y_L$ for the depth-$L$ network with $\sigma(z) = z$, widths "
              r"$n_0, \dots, n_{L-1}$, $n_L = 1$, and PyTorch's default nn.Linear initialisation.",
    symbols=(Symbol(L, "L"), Symbol(n, "n_k", ("n",))),
    variables=(Variable("n", append_value(Widths("L", 1, 64), 1.0)),),  # n_L = 1 is part of the answer's domain
    dims={"L": (1, 2, 3, 4, 5, 6)},
    mutant_feedback={
        "exponent-off-by-one": "each layer multiplies the variance by 1/3, so layer ℓ contributes "
                               "1/(3^{L−ℓ+1} n_{ℓ−1}): one factor 1/3 is missing in every term",
        "no-bias": "the bias terms are missing: layer ℓ's bias adds variance 1/(3 n_{ℓ−1})",
        "no-input": "the input's contribution 3^{−L} is missing",
        "n-ell": "the weights of layer ℓ have fan-in n_{ℓ−1}: the term is 1/(3^{L−ℓ+1} n_{ℓ−1}), not n_ℓ",
    },
)
GRADEABLE = (GRADEABLE_CLOSED_FORM,)

network_moments_claim = Claim(
    id="network-moments",
    statement="real nn.Linear networks of depth L, widths n_0..n_{L-1}, σ(z) = z, iid x: E y_L = 0 and "
              "Var y_L = 3^{-L} + Σ_ℓ 1/(3^{L-ℓ+1} n_{ℓ-1})",
    lhs=None, rhs=VARIANCE_CLOSED_FORM, relation="≈",
    variables=(Variable("n", Widths("L", 1, 6), r"n_{\ell}"),),
    dims={"L": (1, 5)},
    assumptions=("PyTorch's default nn.Linear init", "x_i iid, mean 0, variance 1"),
    symbolic=not_attempted("an empirical check on real networks: its mathematics is layer-variance (each layer, "
                           "proved) composed by closed-form (proved by induction)"),
    numeric=network_moments,
    mutants=(
        Mutant("exponent-off-by-one", "3^{-L} + Σ 1/(3^{L-ℓ} n_{ℓ-1})", numeric=_wrong_target(
            network_moments, 1, 3 ** (-L) + sp.Sum(1 / (3 ** (L - ell) * n[ell - 1]), (ell, 1, L)))),
        Mutant("bound-squared", "Var U(-B, B) taken as B²: v_ℓ = v_{ℓ-1} + 1/n_{ℓ-1}",
               numeric=_wrong_target(network_moments, 1, 1 + sp.Sum(1 / n[ell - 1], (ell, 1, L)))),
        Mutant("no-bias", "3^{-L}: the biases forgotten", numeric=_wrong_target(network_moments, 1, 3 ** (-L))),
    ),
    dtypes=(torch.float64, torch.float32),
)


# ---------------------------------------------------------------------------------------------------------------
# Figure


def draw_variance_over_depth(ax) -> None:
    """Empirical Var(y_L) of real nn.Linear networks against the closed form, for depths 1..8."""
    from checkers.model import Sample

    profile = [4, 2, 5, 3, 6, 2, 4, 3]
    depths = list(range(1, len(profile) + 1))
    predicted, empirical, errors = [], [], []
    for depth in depths:
        widths = torch.tensor([profile[:depth]], dtype=torch.float64)
        sample = Sample(values={"n": widths}, dims={"L": depth}, seed=depth, size=1)
        y = network_outputs(sample, copies=20000)
        var, se = _variance_estimate(y, torch.tensor([y.shape[-1]]))
        predicted.append(float(sample.evaluate(VARIANCE_CLOSED_FORM)[0]))
        empirical.append(float(var[0]))
        errors.append(5 * float(se[0]))
    ax.semilogy(depths, predicted, "-", label=r"$3^{-L} + \sum_\ell 1/(3^{L-\ell+1} n_{\ell-1})$")
    ax.errorbar(depths, empirical, yerr=errors, fmt="o", capsize=3, label="nn.Linear networks (±5 s.e.)")
    ax.set_xlabel("depth L (widths 4, 2, 5, 3, 6, 2, 4, 3)")
    ax.set_ylabel(r"Var $y_L$")
    ax.legend()


STATEMENT = (r"For $y_L = A_L y_{L-1} + b_L$, $y_\ell = \sigma(A_\ell y_{\ell-1} + b_\ell)$, $y_0 = x$, "
                  r"$A_\ell \in \mathbb R^{n_\ell \times n_{\ell-1}}$, $n_L = 1$, $\sigma(z) = z$ and $x$ with iid "
                  r"zero-mean unit-variance entries: with PyTorch's default initialisation, what are the mean and "
                  r"variance of $y_L$? (Read the source of nn.Linear.)")

DERIVATIONS = (
    Derivation(
        id="kaiming-variance",
        title="Output variance of a linear MLP under PyTorch's default initialisation",
        source="hw6-2021 P2, student-hw6 P2",
        statement=STATEMENT,
        claims=(init_bound, init_variance, layer_variance, closed_form, network_moments_claim),
        parts=(
            Part(label="", question=STATEMENT,
                 answer=Answer(
                     formula=VARIANCE_CLOSED_FORM, lhs=sp.Function("Var")(sp.Symbol("y_L")),
                     text=r"PyTorch's default initialisation of \texttt{nn.Linear}$(n_{\ell-1}, n_\ell)$ draws every "
                          r"weight and bias from $\mathcal{U}(-1/\sqrt{n_{\ell-1}}, 1/\sqrt{n_{\ell-1}})$, of mean 0 "
                          r"and variance $1/(3n_{\ell-1})$. Hence $\mathbb{E}[y_L] = 0$, each layer maps the variance "
                          r"$v$ of its input entries to $v/3 + 1/(3n_{\ell-1})$, and starting from $v_0 = 1$,",
                     scope=r"The layer step $v \mapsto v/3 + 1/(3n_{\ell-1})$ is proved by sympy for "
                           r"$n_{\ell-1} \in \{1, 2, 3, 4\}$ (the general sum has the same terms) and checked by Monte "
                           r"Carlo on real nn.Linear layers; the unrolled formula is proved for every depth $L$ by "
                           r"induction."),
                 claims=("init-bound", "init-variance", "layer-variance", "closed-form", "network-moments")),
        ),
        figures=(Figure("variance-over-depth", "Var(y_L) of real default-initialised networks against the closed "
                        "form, as the depth grows", draw_variance_over_depth),),
    ),
)
