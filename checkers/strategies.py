"""Structured symbolic strategies: checked case splits, lemmas applied term by term, linearity, moments, induction.

These prove what plain simplification cannot: identities with Min, Max and Abs (split the domain into
cases whose sympy assumptions make them evaluate; the cases come from generators whose coverage of the
domain sympy checks), identities between sums for a general number of terms (rewrite each term with a
proved lemma, then distribute), identities for probability vectors and densities (linearity plus the
normalisation sum p = 1 or integral f = 1), expectations under given first and second moments, and
closed forms of recursions by induction. Every strategy reads the claim's own sides; every rewrite is
exact; a strategy that cannot finish reports `failed` with what sympy left.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import sympy as sp
from sympy.calculus.util import continuous_domain

from checkers.symbolic import (Strategy, Substitution, SymbolicResult, SymbolicStatus, expands_to_zero, scope_of,
                               simplifies_to_zero, zero_leaving_sums_unevaluated)

PROVED, SUPPORTED, FAILED, NOT_ATTEMPTED = (SymbolicStatus.PROVED, SymbolicStatus.SUPPORTED, SymbolicStatus.FAILED,
                                            SymbolicStatus.NOT_ATTEMPTED)


def is_nonnegative(e: sp.Basic) -> bool:
    """sympy knows e >= 0 from its symbols' assumptions, as is or after a rewrite (tried cheapest first)."""
    rewrites = (lambda z: z, sp.expand, sp.simplify, lambda z: sp.factor(sp.simplify(z)))
    return any(rewrite(e).is_nonnegative is True for rewrite in rewrites)


def distribute_sums(e: sp.Basic) -> sp.Basic:
    """Distribute every sum over its summand's terms and pull out the factors free of the summation indices."""

    def pull(s):
        body, limits = s.args[0], s.args[1:]
        out = sp.Integer(0)
        for term in sp.Add.make_args(sp.expand(body)):
            const, rest = term.as_independent(*[lim[0] for lim in limits], as_Add=False)
            out += const * sp.Sum(rest, *limits)
        return out

    return sp.expand(e.replace(lambda z: isinstance(z, sp.Sum), pull))


def normalised_linear(e: sp.Basic, normalised: Mapping[sp.Basic, sp.Basic]) -> sp.Basic:
    """`e` with every Sum/Integral distributed over +, index-free factors pulled out, normalised pieces replaced."""
    if isinstance(e, (sp.Sum, sp.Integral)):
        first, rest = e.limits[:1], e.limits[1:]
        var = first[0][0]
        out = sp.S.Zero
        for term in sp.Add.make_args(sp.expand(normalised_linear(e.function, normalised))):
            factors = sp.Mul.make_args(term)
            inner = type(e)(sp.Mul(*[f for f in factors if f.has(var)]), *first)
            out += sp.Mul(*[f for f in factors if not f.has(var)]) * normalised.get(inner, inner)
        return normalised_linear(type(e)(out, *rest), normalised) if rest else out
    if e.args:
        return e.func(*[normalised_linear(a, normalised) for a in e.args])
    return e


# ---------------------------------------------------------------------------------------------------------------
# Case splits whose coverage is checked


@dataclass(frozen=True)
class Case:
    """One part of a split of the real expression `expr`: `variable` solved from expr = `value`.

    `value` is a constant or an expression in one parameter symbol whose sympy assumptions (nonnegative,
    positive) say which values it takes; the substitution {variable: solution} is computed, not typed.
    """

    description: str
    variable: sp.Symbol
    value: sp.Basic

    def substitution(self, expr: sp.Basic) -> dict[sp.Basic, sp.Basic]:
        (solution,) = sp.solve(sp.Eq(expr, self.value), self.variable)
        return {self.variable: solution}


@dataclass(frozen=True)
class Split:
    """A real expression and cases meant to cover every value it takes; `coverage_problem` checks it."""

    expr: sp.Basic
    cases: tuple[Case, ...]


def _image(value: sp.Basic) -> sp.Set | str:
    """The set of values `value` takes as its one parameter ranges over its assumptions' domain (monotone maps)."""
    params = sorted(value.free_symbols, key=str)
    if not params:
        return sp.FiniteSet(value)
    if len(params) != 1:
        return f"{value} has more than one parameter"
    (t,) = params
    if t.is_positive:
        lower_open = True
    elif t.is_nonnegative:
        lower_open = False
    else:
        return f"parameter {t} is neither nonnegative nor positive"
    domain = sp.Interval(0, sp.oo, left_open=lower_open)
    if not domain.is_subset(continuous_domain(value, t, domain)):
        return f"{value} is not continuous for {t} in {domain}"
    slope = sp.factor(sp.simplify(sp.diff(value, t)))
    if not (slope.is_positive or slope.is_negative):
        return f"{value} is not monotone in {t} (sympy cannot sign {slope})"
    at_zero, at_infinity = sp.simplify(value.subs(t, 0)), sp.limit(value, t, sp.oo)
    if slope.is_positive:
        return sp.Interval(at_zero, at_infinity, left_open=lower_open, right_open=True)
    return sp.Interval(at_infinity, at_zero, left_open=True, right_open=lower_open)


def split_problem(split: Split) -> str | None:
    """None when the cases of `split` cover every real value of its expression, else what is wrong.

    Checked by sympy: each case's substitution solves expr = value for a variable in which expr is
    linear with a nonzero constant coefficient (so every point with that value of expr is reached),
    and the union of the cases' value sets is all of ℝ.
    """
    images = []
    for case in split.cases:
        coefficient = sp.diff(split.expr, case.variable)
        if coefficient.free_symbols or coefficient == 0 or sp.diff(split.expr, case.variable, 2) != 0:
            return f"case {case.description}: {split.expr} is not linear in {case.variable} with a constant coefficient"
        subs = case.substitution(split.expr)
        if sp.simplify(split.expr.xreplace(subs) - case.value) != 0:
            return f"case {case.description}: the substitution {subs} does not give {split.expr} = {case.value}"
        image = _image(case.value)
        if isinstance(image, str):
            return f"case {case.description}: {image}"
        images.append(image)
    covered = sp.Union(*images)
    if covered != sp.S.Reals:
        return f"the cases cover only {covered} of the values of {split.expr}, not ℝ (missing {sp.S.Reals - covered})"
    return None


@dataclass(frozen=True)
class Cases:
    """The product of independent splits: one case per combination; built by the generators below."""

    splits: tuple[Split, ...]

    @property
    def cases(self) -> tuple[tuple[str, dict[sp.Basic, sp.Basic]], ...]:
        out = []
        for combo in itertools.product(*(s.cases for s in self.splits)):
            subs: dict[sp.Basic, sp.Basic] = {}
            for split, case in zip(self.splits, combo):
                subs.update(case.substitution(split.expr))
            out.append((", ".join(c.description for c in combo), subs))
        return tuple(out)


def parameters(cases: Cases) -> set[sp.Symbol]:
    """The parameter symbols of every case (c, s, t of the generators)."""
    return {p for split in cases.splits for case in split.cases for p in sp.sympify(case.value).free_symbols}


def coverage_problem(cases: Cases, claim: sp.Basic | None = None) -> str | None:
    """None when the cases cover the domain: each split covers ℝ, and the splits are independent.

    Independent: no split solves for a variable that another split's expression uses or solves for,
    and no two splits share a parameter. The parameters must also be fresh for `claim` (the claim's
    sides), or a case would tie a parameter to a variable of the claim.
    """
    solved = [case.variable for split in cases.splits for case in split.cases]
    params_of = [{p for case in split.cases for p in sp.sympify(case.value).free_symbols} for split in cases.splits]
    for i, j in itertools.combinations(range(len(params_of)), 2):
        if params_of[i] & params_of[j]:
            return f"splits of {cases.splits[i].expr} and {cases.splits[j].expr} share the parameter(s) {params_of[i] & params_of[j]}"
    if claim is not None and parameters(cases) & claim.free_symbols:
        return f"the case parameter(s) {parameters(cases) & claim.free_symbols} also occur in the claim"
    for i, split in enumerate(cases.splits):
        problem = split_problem(split)
        if problem is not None:
            return problem
        own = {case.variable for case in split.cases}
        for j, other in enumerate(cases.splits):
            if j != i and (own & other.expr.free_symbols or own & {c.variable for c in other.cases}):
                return f"splits of {split.expr} and {other.expr} are not independent (both involve {own})"
    if not solved:
        return "no cases"
    return None


def le_total(a: sp.Basic, b: sp.Basic, parameter: sp.Symbol | None = None) -> Cases:
    """a ≤ b or b ≤ a (le_total): b = a + c or a = b + c with c ≥ 0 (the larger one is solved for)."""
    c = parameter or sp.Dummy("c", nonnegative=True)
    return Cases((Split(a - b, (Case(f"{a} ≤ {b}: {b} = {a} + c", b, -c), Case(f"{a} ≥ {b}: {a} = {b} + c", a, c))),))


def trichotomy(a: sp.Basic, b: sp.Basic, parameter: sp.Symbol | None = None) -> Cases:
    """a > b, a < b or a = b: a = b + c, b = a + c with c > 0, or a = b."""
    c = parameter or sp.Dummy("c", positive=True)
    return Cases((Split(a - b, (Case(f"{a} > {b}: {a} = {b} + c, c > 0", a, c),
                                Case(f"{a} < {b}: {b} = {a} + c, c > 0", b, -c),
                                Case(f"{a} = {b}", a, sp.S.Zero))),))


def sign_split(expr: sp.Basic, variable: sp.Symbol, strict: bool = False) -> Cases:
    """expr ≥ 0 or expr ≤ 0 (strict: > 0, = 0, < 0), each case solving expr = ±c for `variable` (expr linear in it)."""
    if strict:
        c = sp.Dummy("c", positive=True)
        cases = (Case(f"{expr} > 0", variable, c), Case(f"{expr} = 0", variable, sp.S.Zero),
                 Case(f"{expr} < 0", variable, -c))
    else:
        c = sp.Dummy("c", nonnegative=True)
        cases = (Case(f"{expr} ≥ 0", variable, c), Case(f"{expr} ≤ 0", variable, -c))
    return Cases((Split(expr, cases),))


def intervals(var: sp.Symbol, points: Sequence[sp.Basic]) -> Cases:
    """var ≤ p_1, p_1 < var ≤ p_2, ..., var ≥ p_k (increasing points), each parametrised by a nonnegative symbol.

    Below: var = p_1 − t; between p_i and p_{i+1}: var = (p_{i+1} + p_i s)/(1 + s), s ≥ 0; above: var = p_k + t.
    """
    t, s = sp.Dummy("t", nonnegative=True), sp.Dummy("s", nonnegative=True)
    pts = [sp.sympify(x) for x in points]
    cases = [Case(f"{var} ≤ {pts[0]}: {var} = {pts[0]} − t", var, pts[0] - t)]
    for lo, hi in zip(pts, pts[1:]):
        shown = (hi + lo * sp.Symbol("s")) / (1 + sp.Symbol("s"))
        cases.append(Case(f"{lo} < {var} ≤ {hi}: {var} = {shown}, s ≥ 0", var, (hi + lo * s) / (1 + s)))
    cases.append(Case(f"{var} ≥ {pts[-1]}: {var} = {pts[-1]} + t", var, pts[-1] + t))
    return Cases((Split(var, tuple(cases)),))


def product(*families: Cases) -> Cases:
    """Every combination of the cases of independent splits (checked: no variable solved twice)."""
    return Cases(tuple(split for family in families for split in family.splits))


@dataclass(frozen=True)
class CaseSplit(Strategy):
    """Prove `lhs relation rhs` in each case of `cases`, a family whose coverage of the domain is checked first.

    The new symbols' sympy assumptions (nonnegative, positive) carry each case's constraint, so Min,
    Max, Abs and sign evaluate. "=" needs the difference to simplify to 0; "<=" / ">=" need sympy to
    know the difference is nonnegative.
    """

    cases: Cases = field(default_factory=lambda: Cases(()))
    scope: str = "general"

    def _attempt(self, lhs, rhs, relation):
        problem = coverage_problem(self.cases, sp.Tuple(lhs, rhs))
        if problem is not None:
            return SymbolicResult(FAILED, detail=f"the case split does not cover the domain: {problem}")
        cases = self.cases.cases
        for description, subs in cases:
            diff = (rhs - lhs) if relation == "<=" else (lhs - rhs)
            diff = sp.sympify(diff).xreplace(dict(subs))
            ok = zero_leaving_sums_unevaluated(diff) if relation == "=" else is_nonnegative(diff)
            if not ok:
                return SymbolicResult(FAILED, detail=f"case {description}: sympy left {sp.expand(diff)}")
        return SymbolicResult(PROVED, self.scope, "case split (coverage checked): " + "; ".join(d for d, _ in cases))


@dataclass(frozen=True)
class TermwiseNonnegative(Strategy):
    """Prove Σ_i f_i ≥ Σ_i g_i (same limits) by showing every term of Σ_i (f_i − g_i) is nonnegative.

    The combined summand is rewritten in generic symbols (`generic`: p[i] -> a, ...) and proved
    nonnegative in every case of `cases` (a family whose coverage of the domain is checked first).
    """

    generic: Mapping[sp.Basic, sp.Basic] = field(default_factory=dict)
    cases: Cases = field(default_factory=lambda: Cases(()))
    scope: str = "general m (any grid)"

    def _attempt(self, lhs, rhs, relation):
        if relation not in ("<=", ">="):
            return SymbolicResult(NOT_ATTEMPTED, detail="proves inequalities between sums")
        diff = distribute_sums(lhs - rhs if relation == ">=" else rhs - lhs)
        problem = coverage_problem(self.cases, sp.Tuple(lhs, rhs, diff.xreplace(dict(self.generic))))
        if problem is not None:
            return SymbolicResult(FAILED, detail=f"the case split does not cover the domain: {problem}")
        terms = sp.Add.make_args(diff)
        limits = {term.atoms(sp.Sum).pop().args[1:] for term in terms if term.has(sp.Sum)}
        if len(limits) != 1 or any(len(term.atoms(sp.Sum)) != 1 for term in terms):
            return SymbolicResult(FAILED, detail=f"not a single sum of terms: {diff}")
        # c_k Sum(f_k) -> Sum(Σ c_k f_k): every term is a constant times one sum over the same limits.
        summand = sp.Integer(0)
        for term in terms:
            (inner,) = term.atoms(sp.Sum)
            summand += (term / inner) * inner.args[0]
        generic = sp.expand(summand).xreplace(dict(self.generic))
        cases = self.cases.cases
        for description, subs in cases:
            if not is_nonnegative(generic.xreplace(dict(subs))):
                return SymbolicResult(FAILED, detail=f"term {generic} not shown ≥ 0 in case {description}")
        return SymbolicResult(PROVED, self.scope,
                              f"every term {generic} ≥ 0: case split (coverage checked) " + "; ".join(d for d, _ in cases))


@dataclass(frozen=True)
class Lemma:
    """A pointwise statement `lhs relation rhs` in generic symbols, with the strategy that proves it."""

    name: str
    lhs: sp.Basic
    rhs: sp.Basic
    proof: Strategy
    relation: str = "="


@dataclass(frozen=True)
class Termwise(Strategy):
    """Prove an identity between sums: rewrite each term with proved lemmas, then linearity and normalisation.

    `lemmas` lists, per lemma, the substitutions of its generic symbols that occur in the claim
    (e.g. a -> p[i], b -> q[i]); `normalisation` replaces sums known from the hypotheses (Σ p_i = 1).
    The lemmas are proved first (by their own strategies); a lemma that is not proved fails the claim.
    """

    lemmas: tuple[tuple[Lemma, tuple[Mapping[sp.Basic, sp.Basic], ...]], ...] = ()
    normalisation: Mapping[sp.Basic, sp.Basic] = field(default_factory=dict)
    scope: str = "general n"

    def _attempt(self, lhs, rhs, relation):
        if relation != "=":
            return SymbolicResult(NOT_ATTEMPTED, detail=f"Termwise proves equalities, not {relation!r}")
        diff = sp.sympify(lhs - rhs)
        used = []
        for lemma, instances in self.lemmas:
            verdict = lemma.proof.prove(lemma.lhs, lemma.rhs, "=")
            if verdict.status != PROVED:
                return SymbolicResult(FAILED, detail=f"lemma {lemma.name} not proved: {verdict.detail}")
            for inst in instances:
                diff = diff.xreplace({lemma.lhs.xreplace(dict(inst)): lemma.rhs.xreplace(dict(inst))})
            used.append(f"{lemma.name} ({verdict.detail})")
        diff = distribute_sums(diff).xreplace(dict(self.normalisation))
        if zero_leaving_sums_unevaluated(distribute_sums(diff)):
            return SymbolicResult(PROVED, self.scope,
                                  "termwise: " + "; ".join(used) + "; linearity of Σ; " +
                                  ", ".join(f"{k} = {v}" for k, v in self.normalisation.items()))
        return SymbolicResult(FAILED, detail=f"after the lemmas, linearity and normalisation sympy left "
                                               f"{distribute_sums(diff)}")


@dataclass(frozen=True)
class NormalisedLinearity(Strategy):
    """Prove lhs = rhs for sums/integrals of probability vectors or densities, for general length.

    Rewrites (all exact): log of a product of positive factors -> sum of logs; a sum or integral of a
    sum -> the sum of the sums; factors free of the summation variable move outside; each entry of
    `normalised` (e.g. Sum(p[i], (i, 0, n-1)) -> 1) is substituted. Proved when lhs - rhs expands to 0.
    """

    normalised: Mapping[sp.Basic, sp.Basic] = field(default_factory=dict)
    description: str = ""

    def _attempt(self, lhs, rhs, relation):
        if relation != "=":
            return SymbolicResult(NOT_ATTEMPTED, detail=f"NormalisedLinearity proves equalities, not {relation!r}")
        return self.check(lhs, rhs)

    def check(self, lhs, rhs) -> SymbolicResult:
        """The proof itself, without a time limit of its own (for use inside another strategy's limit)."""
        diff = sp.expand(normalised_linear(sp.expand_log(lhs - rhs), self.normalised))
        if diff == 0:
            return SymbolicResult(PROVED, "general", self.description or "linearity and normalisation")
        return SymbolicResult(FAILED, detail=f"after linearity and normalisation sympy left {diff}")


def normalised_linearity(normalised: Mapping[sp.Basic, sp.Basic], description: str = "",
                         time_limit: float = 10.0) -> NormalisedLinearity:
    """Strategy: linearity of sums/integrals plus the normalisations given (sum p = 1, integral f = 1, ...)."""
    return NormalisedLinearity(time_limit=time_limit, normalised=dict(normalised), description=description)


def proved(strategy: NormalisedLinearity, lhs: sp.Basic, rhs: sp.Basic) -> sp.Basic:
    """For facts(): true when `strategy` proves lhs = rhs, else the symbolic result's detail as an unproved fact."""
    result = strategy.check(lhs, rhs)
    return sp.true if result.status == PROVED else sp.Symbol(f"unproved: {result.detail}")


# ---------------------------------------------------------------------------------------------------------------
# Derivations of a claim's own formula from lemmas (for facts(..., derive=...))


def nonnegative_by_convexity(var: sp.Symbol, at: sp.Basic):
    """derive= for an inequality in one variable: the gap g (rhs − lhs for "<=", lhs − rhs for ">=") is ≥ 0.

    Reads the claim's own sides: g(at) = 0, g'(at) = 0 and g'' > 0 under `var`'s sympy assumptions,
    whose domain must be an interval (real, positive, nonnegative) containing `at` on which the sides
    are smooth; then `at` is g's global minimum, so g ≥ g(at) = 0.
    """

    def derive(lhs, rhs, relation):
        if relation not in ("<=", ">="):
            return sp.false
        g = rhs - lhs if relation == "<=" else lhs - rhs
        return sp.And(sp.Eq(sp.simplify(g.subs(var, at)), 0), sp.Eq(sp.simplify(sp.diff(g, var).subs(var, at)), 0),
                      sp.simplify(sp.diff(g, var, 2)) > 0)

    return derive


def nonnegative_termwise(rewrite: NormalisedLinearity, lemma: Lemma, variable: sp.Symbol, weight: sp.Basic,
                         argument: sp.Basic, limits: tuple, over: type = sp.Sum):
    """derive= for "a sum (or integral) is ≥ 0": the claim's own gap equals Σ weight·G(argument) with G ≥ 0 by a lemma.

    `lemma` is an inequality lhs(t) <= rhs(t) in `variable` t (e.g. log t ≤ t − 1, another claim's own
    sides and proof), so G = rhs − lhs ≥ 0 wherever t's sympy assumptions hold. The derivation checks,
    all with sympy: the lemma is proved; the claim's gap (lhs − rhs for ">=", rhs − lhs for "<=")
    equals Σ_limits weight·G(argument) by `rewrite` (linearity and normalisation); `weight` is
    nonnegative and `argument` satisfies t's assumptions, so every term is ≥ 0; and the limits run
    upwards (a sum from lo to hi with hi ≥ lo − 1, an integral from a lower to a higher bound, or over
    the whole space), so the sum or integral of nonnegative terms is ≥ 0. `over` is sp.Sum or sp.Integral.
    """

    def derive(lhs, rhs, relation):
        if relation not in ("<=", ">=") or lemma.relation != "<=":
            return sp.Symbol("not an inequality")
        verdict = lemma.proof.prove(lemma.lhs, lemma.rhs, lemma.relation)
        if verdict.status != PROVED:
            return sp.Symbol(f"lemma {lemma.name} not proved: {verdict.status}")
        term = weight * (lemma.rhs - lemma.lhs).xreplace({variable: argument})
        target = over(term, *limits)
        gap = lhs - rhs if relation == ">=" else rhs - lhs
        rewritten = rewrite.check(gap, target)
        if rewritten.status != PROVED:
            return sp.Symbol(f"the claim's gap is not Σ weight·G(argument): {rewritten.detail}")
        if not (weight.is_nonnegative and _satisfies(argument, variable)):
            return sp.Symbol(f"sympy cannot show {weight} ≥ 0 and {argument} in the domain of {variable}")
        for limit in limits:
            if len(limit) == 3 and not (sp.simplify(limit[2] - limit[1] + (1 if isinstance(target, sp.Sum) else 0))
                                        .is_nonnegative or (limit[1] == -sp.oo and limit[2] == sp.oo)):
                return sp.Symbol(f"the limits {limit} do not run upwards")
        return sp.true

    return derive


def _satisfies(value: sp.Basic, variable: sp.Symbol) -> bool:
    """`value` has every sign assumption of `variable` (positive, nonnegative, real) by sympy's assumptions."""
    for name in ("positive", "nonnegative", "real"):
        if getattr(variable, f"is_{name}") and getattr(value, f"is_{name}") is not True:
            return False
    return True


# ---------------------------------------------------------------------------------------------------------------
# Expectations from first and second moments


def _split_log(e: sp.Basic) -> sp.Basic:
    """log of a product of factors, each exp(g) (-> g, real g) or positive by sympy (-> log of it); else unchanged."""

    def split(z):
        out = sp.S.Zero
        for factor in sp.Mul.make_args(sp.powsimp(z.args[0], combine="exp")):
            if isinstance(factor, sp.exp) and factor.args[0].is_real:
                out += factor.args[0]
            elif isinstance(factor, sp.Pow) and factor.base.is_positive is not False and sp.factor(factor.base).is_positive:
                out += factor.exp * sp.log(sp.factor(factor.base))
            elif factor.is_positive:
                out += sp.log(factor)
            else:
                return z
        return out

    return e.replace(lambda z: isinstance(z, sp.log), split)


def second_moment_expectation(integrand: sp.Basic, xs: Sequence[sp.Symbol], mean: Sequence[sp.Basic],
                              cov: sp.MatrixBase) -> sp.Basic | None:
    """E[integrand] for a random vector with E x_i = mean_i and E[(x - mean)(x - mean)^T] = cov (linearity).

    `integrand` must be a polynomial of degree <= 2 in `xs` once logarithms of products of positive
    factors are split; None otherwise. Each monomial is replaced by its moment: 1, μ_i, Σ_ij + μ_i μ_j.
    """
    integrand = _split_log(sp.sympify(integrand))
    try:
        poly = sp.Poly(sp.expand(integrand), *xs)
    except sp.PolynomialError:
        return None
    if poly.total_degree() > 2:
        return None
    total = sp.S.Zero
    for powers, coefficient in poly.terms():
        idx = [i for i, p in enumerate(powers) for _ in range(p)]
        moment = {0: lambda: sp.S.One, 1: lambda: mean[idx[0]],
                  2: lambda: cov[idx[0], idx[1]] + mean[idx[0]] * mean[idx[1]]}[len(idx)]()
        total += coefficient * moment
    return total


def _scalar(e: sp.Basic) -> sp.Basic:
    e = e.doit()
    if isinstance(e, sp.MatrixExpr) and not isinstance(e, sp.MatrixBase):
        e = e.as_explicit()
    if isinstance(e, sp.MatrixBase):
        return e[0, 0]
    return e


_EXPECTATIONS: dict[tuple, sp.Basic | None] = {}


@dataclass(frozen=True)
class MomentExpectation(Strategy):
    """Prove E[integrand(X)] = rhs (the claim's own right side) when E X = mean and Cov X = cov, for each dimension.

    `integrand` is the definition of the left side (what the expectation is of, e.g. log p₀(x) − log p₁(x)
    built from the densities), a sympy expression in the column MatrixSymbol `variable`. For each value
    of `dim` the matrices are made explicit (`substitution`, e.g. Σ = LLᵀ), the integrand expanded as a
    polynomial of degree ≤ 2 in the entries of X, each monomial replaced by its moment (linearity of
    expectation), and the difference with the claim's rhs simplified to 0. The scope printed is the list
    of dimensions proved. The claim's lhs, when it has one, is not used: the integrand defines it.
    """

    integrand: sp.Basic = sp.S.Zero
    variable: sp.MatrixSymbol | None = None
    mean: sp.MatrixSymbol | None = None
    cov: sp.MatrixSymbol | None = None
    dim: sp.Symbol = sp.Symbol("n")
    values: tuple[int, ...] = (1, 2, 3)
    substitution: Substitution | None = None
    what: str = ""  # the integrand in words, for the report

    def _attempt(self, lhs, rhs, relation):
        if relation not in ("=", "≈"):
            return SymbolicResult(NOT_ATTEMPTED, detail=f"MomentExpectation proves equalities, not {relation!r}")
        proved: list[int] = []
        for n in self.values:
            subs = self.substitution(n) if self.substitution else {}
            xs = sp.symbols(f"{self.variable.name}_0:{n}", real=True)
            point = {sp.MatrixSymbol(self.variable.name, n, 1): sp.ImmutableMatrix(xs)}

            subs = {k: v for k, v in subs.items() if k not in point}  # X's entries are the polynomial's variables

            def explicit(e, subs=subs, point=point, n=n):
                return _scalar(e.subs(self.dim, n).subs(point).subs(subs))

            key = (self.integrand, self.variable, self.mean, self.cov, self.dim, n, self.substitution)
            if key not in _EXPECTATIONS:  # the claim and each of its mutants share the left side
                mean = sp.ImmutableMatrix(sp.MatrixSymbol(self.mean.name, n, 1).subs(subs)).as_explicit()
                cov = sp.ImmutableMatrix(sp.MatrixSymbol(self.cov.name, n, n).subs(subs)).as_explicit()
                _EXPECTATIONS[key] = second_moment_expectation(explicit(self.integrand), xs, list(mean), cov)
            expectation = _EXPECTATIONS[key]
            if expectation is None:
                return SymbolicResult(FAILED, detail=f"for {self.dim} = {n} the integrand is not a polynomial of "
                                                     f"degree ≤ 2 in {self.variable} after splitting its logarithms")
            if not simplifies_to_zero(expectation - explicit(rhs)):
                done = f"; proved for {scope_of(self.dim, proved)}" if proved else ""
                return SymbolicResult(FAILED, detail=f"E[integrand] − rhs did not reach 0 for {self.dim} = {n}{done}")
            proved.append(n)
        return SymbolicResult(PROVED, scope_of(self.dim, proved),
                              f"E[{self.what or self.integrand}] by the moments E X = {self.mean}, Cov X = {self.cov} "
                              "(monomials of degree ≤ 2 replaced by their moments), equal to the claim's rhs")


@dataclass(frozen=True)
class IndependentSecondMoment(Strategy):
    """Prove E z = 0 and E z² = rhs for z = Σ_k A_k y_k + b, for each width in `widths`.

    A_1..A_n, b and the vector y are mutually independent; E A_k = E b = 0, E A_k² = `weight_variance`,
    E b² = `bias_variance` (expressions in `width`), E y = 0 and E[y_j y_k] = C_jk with C_kk = `variance`
    (off-diagonal C arbitrary). The expectation of each monomial factors over the independent groups;
    the claim's rhs (in `width` and `variance`) is what E z² is compared with.
    """

    width: sp.Symbol = sp.Symbol("n")
    variance: sp.Symbol = sp.Symbol("v")
    weight_variance: sp.Basic = sp.S.One
    bias_variance: sp.Basic = sp.S.One
    widths: tuple[int, ...] = (1, 2, 3, 4)

    def _attempt(self, lhs, rhs, relation):
        s_w, s_b = sp.symbols("s_w s_b", positive=True)
        for width in self.widths:
            a = sp.symbols(f"A1:{width + 1}", real=True)
            y = sp.symbols(f"y1:{width + 1}", real=True)
            b = sp.Symbol("b", real=True)
            cov = {(i, j): (self.variance if i == j else sp.Symbol(f"C_{min(i, j)}{max(i, j)}", real=True))
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
            second = second.subs({s_w: self.weight_variance, s_b: self.bias_variance}).subs(self.width, width)
            target = sp.sympify(rhs).subs(self.width, width)
            if mean != 0 or sp.simplify(second - target) != 0:
                return SymbolicResult(FAILED, detail=f"for {self.width} = {width}: E z = {mean}, "
                                                     f"E z² = {sp.simplify(second)}, claimed {target}")
        return SymbolicResult(PROVED, scope_of(self.width, self.widths),
                              f"E z² = Σ_jk E[A_j A_k] C_jk + E b² = n·({self.weight_variance})·{self.variance} + "
                              f"{self.bias_variance}: cross terms vanish by independence")


# ---------------------------------------------------------------------------------------------------------------
# Induction on a recursion


@dataclass(frozen=True)
class Recursion:
    """u_{origin} = initial and u_{k+1} = step, where `state` stands for u_k in `step` (an expression in k = index)."""

    index: sp.Symbol
    state: sp.Symbol
    step: sp.Basic
    initial: sp.Basic
    origin: int = 0

    def value(self, at: int) -> sp.Basic:
        """u_at, by running the recursion from the origin."""
        u = sp.sympify(self.initial)
        for k in range(self.origin, at):
            u = self.step.subs({self.state: u, self.index: k})
        return u

    def __str__(self) -> str:
        k = self.index
        return f"u_{self.origin} = {self.initial}, u_({k}+1) = {self.step.subs(self.state, sp.Symbol(f'u_{k}'))}"


def _split_last(s: sp.Sum) -> sp.Basic:
    f, (var, lo, hi) = s.args[0], s.args[1]
    return sp.Sum(f, (var, lo, hi - 1)) + f.subs(var, hi)


def _split_first(s: sp.Sum) -> sp.Basic:
    f, (var, lo, hi) = s.args[0], s.args[1]
    return f.subs(var, lo) + sp.Sum(f.subs(var, var + 1), (var, lo, hi - 1))


def solves_recursion(expr: sp.Basic, recursion: Recursion, first: int) -> str | None:
    """None if expr(index) equals u_first at index = first and expr(index + 1) = step(expr(index)); else what fails.

    The step splits one term off each sum whose upper limit moved with the index (the last term, or
    the first one re-indexed), distributes the sums and checks that the difference expands to 0.
    """
    k = recursion.index
    base = sp.simplify(expr.subs(k, first).doit() - recursion.value(first))
    if base != 0:
        return f"base case {k} = {first} leaves {base}"
    shifted = expr.subs(k, k + 1)
    following = recursion.step.subs(recursion.state, expr)
    for splitter in (_split_last, _split_first):
        step = shifted.replace(lambda z: isinstance(z, sp.Sum), splitter) - following
        if distribute_sums(step) == 0:
            return None
    left = sp.simplify(distribute_sums(shifted.replace(lambda z: isinstance(z, sp.Sum), _split_last) - following))
    return f"step {k} → {k}+1 leaves {left}"


@dataclass(frozen=True)
class RecursionInduction(Strategy):
    """Prove lhs = rhs for every index >= `first`: both sides solve `recursion` (base case and step).

    The recursion is a declaration of the proof module (e.g. built from another claim's proved
    right-hand side), never retyped here.
    """

    recursion: Recursion | None = None
    first: int = 1

    def _attempt(self, lhs, rhs, relation):
        if relation != "=":
            return SymbolicResult(NOT_ATTEMPTED, detail="induction proves equalities")
        for side, expr in (("lhs", lhs), ("rhs", rhs)):
            problem = solves_recursion(expr, self.recursion, self.first)
            if problem is not None:
                return SymbolicResult(FAILED, detail=f"{side} does not solve the recursion {self.recursion}: {problem}")
        return SymbolicResult(PROVED, f"general {self.recursion.index} ≥ {self.first} (induction)",
                              f"both sides: base case and step of {self.recursion}")


# ---------------------------------------------------------------------------------------------------------------
# Derivatives of indexed sums; identities for listed sizes


@dataclass(frozen=True)
class IndexedDerivative(Strategy):
    """Prove ∂f/∂x_k = rhs for 1 <= k <= n (the claim's own sides; `index` is k, `size` is n).

    Differentiate the sums (sympy gives Kronecker deltas), evaluate them, and write k = 1 + r,
    n = k + s with r, s >= 0 so the range condition of the result holds; then lhs − rhs must expand to 0.
    """

    size: sp.Symbol = sp.Symbol("n", integer=True, positive=True)
    index: sp.Symbol = sp.Symbol("k", integer=True)

    def _attempt(self, lhs, rhs, relation):
        if relation != "=":
            return SymbolicResult(NOT_ATTEMPTED, detail=f"IndexedDerivative proves equalities, not {relation!r}")
        r, s = sp.symbols("r s", integer=True, nonnegative=True)
        # doit twice: the derivative first, then the sum of Kronecker deltas it produces
        diff = (lhs.doit().doit() - rhs).subs(self.size, self.index + s).subs(self.index, 1 + r)
        if zero_leaving_sums_unevaluated(diff):
            return SymbolicResult(PROVED, f"general {self.size}",
                                  f"d/dx_{self.index} Σⱼ g(xⱼ) = g'(x_{self.index}) for 1 ≤ {self.index} ≤ {self.size}; "
                                  "the rest simplifies")
        return SymbolicResult(FAILED, detail=f"sympy left {sp.expand(diff)}")


@dataclass(frozen=True)
class ForSizes(Strategy):
    """Prove an identity with explicit symbolic entries for each assignment of the size symbols in `sizes`.

    `substitution(size)` may replace entries after the sums are expanded (e.g. a normalised
    parametrisation). The scope printed lists the sizes proved.
    """

    sizes: tuple[dict[sp.Symbol, int], ...] = ()
    substitution: Callable[[dict[sp.Symbol, int]], dict[sp.Basic, sp.Basic]] | None = None

    def _attempt(self, lhs, rhs, relation):
        if relation != "=":
            return SymbolicResult(NOT_ATTEMPTED, detail=f"ForSizes proves equalities, not {relation!r}")
        return self.check(lhs, rhs)

    def check(self, lhs, rhs) -> SymbolicResult:
        """The proof itself, without a time limit of its own (for use inside another strategy's limit)."""
        done = []
        for size in self.sizes:
            diff = (lhs - rhs).subs(size).doit()
            if self.substitution is not None:
                diff = diff.subs(self.substitution(size))
            label = ", ".join(f"{s} = {v}" for s, v in size.items())
            if not expands_to_zero(diff):
                return SymbolicResult(FAILED, detail=f"sympy did not reach 0 for {label}; proved for {done}")
            done.append(f"({label})")
        return SymbolicResult(PROVED, "; ".join(done), "explicit symbolic positive entries")
