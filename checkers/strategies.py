"""Structured symbolic strategies: case splits, lemmas applied term by term, and linearity of sums and integrals.

These prove what plain simplification cannot: identities with Min, Max and Abs (split the domain into
cases whose sympy assumptions make them evaluate), identities between sums for a general number of
terms (rewrite each term with a proved lemma, then distribute), and identities for probability
vectors and densities (linearity plus the normalisation sum p = 1 or integral f = 1). Every rewrite is
exact; a strategy that cannot finish reports `failed` with what sympy left.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import sympy as sp

from checkers.symbolic import Strategy, SymbolicResult


def is_zero(e: sp.Basic) -> bool:
    """`e` expands, or simplifies, to 0 (symbolic sums are not simplified: that would try to evaluate them)."""
    e = sp.expand(e)
    return e == 0 or (not e.has(sp.Sum) and sp.simplify(e) == 0)


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


@dataclass(frozen=True)
class CaseSplit(Strategy):
    """Prove `lhs relation rhs` in each case: a substitution that parametrises one part of the domain.

    The cases are written so that together they cover the whole domain (e.g. a = b + c or b = a + c with
    c >= 0 covers all real a, b); the new symbols' sympy assumptions (nonnegative, positive) carry the
    case's constraint, so Min, Max, Abs and sign evaluate. "=" needs the difference to simplify to 0;
    "<=" / ">=" need sympy to know the difference is nonnegative.
    """

    cases: tuple[tuple[str, Mapping[sp.Basic, sp.Basic]], ...] = ()
    scope: str = "general"

    def _attempt(self, lhs, rhs, relation):
        for description, subs in self.cases:
            diff = (rhs - lhs) if relation == "<=" else (lhs - rhs)
            diff = sp.sympify(diff).xreplace(dict(subs))
            ok = is_zero(diff) if relation == "=" else is_nonnegative(diff)
            if not ok:
                return SymbolicResult("failed", detail=f"case {description}: sympy left {sp.expand(diff)}")
        return SymbolicResult("proved", self.scope, "case split: " + "; ".join(d for d, _ in self.cases))


@dataclass(frozen=True)
class Lemma:
    """A pointwise identity lhs = rhs in generic symbols, with the strategy that proves it."""

    name: str
    lhs: sp.Basic
    rhs: sp.Basic
    proof: Strategy


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
            return SymbolicResult("not attempted", detail=f"Termwise proves equalities, not {relation!r}")
        diff = sp.sympify(lhs - rhs)
        used = []
        for lemma, instances in self.lemmas:
            verdict = lemma.proof.prove(lemma.lhs, lemma.rhs, "=")
            if verdict.status != "proved":
                return SymbolicResult("failed", detail=f"lemma {lemma.name} not proved: {verdict.detail}")
            for inst in instances:
                diff = diff.xreplace({lemma.lhs.xreplace(dict(inst)): lemma.rhs.xreplace(dict(inst))})
            used.append(f"{lemma.name} ({verdict.detail})")
        diff = distribute_sums(diff).xreplace(dict(self.normalisation))
        if is_zero(distribute_sums(diff)):
            return SymbolicResult("proved", self.scope,
                                  "termwise: " + "; ".join(used) + "; linearity of Σ; " +
                                  ", ".join(f"{k} = {v}" for k, v in self.normalisation.items()))
        return SymbolicResult("failed", detail=f"after the lemmas, linearity and normalisation sympy left "
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
            return SymbolicResult("not attempted", detail=f"NormalisedLinearity proves equalities, not {relation!r}")
        return self.check(lhs, rhs)

    def check(self, lhs, rhs) -> SymbolicResult:
        """The proof itself, without a time limit of its own (for use inside another strategy's limit)."""
        diff = sp.expand(normalised_linear(sp.expand_log(lhs - rhs), self.normalised))
        if diff == 0:
            return SymbolicResult("proved", "general", self.description or "linearity and normalisation")
        return SymbolicResult("failed", detail=f"after linearity and normalisation sympy left {diff}")


def normalised_linearity(normalised: Mapping[sp.Basic, sp.Basic], description: str = "",
                         time_limit: float = 10.0) -> NormalisedLinearity:
    """Strategy: linearity of sums/integrals plus the normalisations given (sum p = 1, integral f = 1, ...)."""
    return NormalisedLinearity(time_limit=time_limit, normalised=dict(normalised), description=description)


def proved(strategy: NormalisedLinearity, lhs: sp.Basic, rhs: sp.Basic) -> sp.Basic:
    """For facts(): true when `strategy` proves lhs = rhs, else the symbolic result's detail as an unproved fact."""
    result = strategy.check(lhs, rhs)
    return sp.true if result.status == "proved" else sp.Symbol(f"unproved: {result.detail}")
